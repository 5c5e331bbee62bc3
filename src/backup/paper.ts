/**
 * Paper shares (issue 6): for a custodian whose card cannot hold data objects, the share record
 * sealed under a passphrase (scrypt, then AES-256-GCM) and printed with a QR code. The passphrase
 * is the 8 words keyceremony generated (passphrase.ts, 88 bits; issue 14, item 11), and this
 * module takes it as the KDF input its PaperPassphrase gives: the words normalised and joined by
 * single spaces. Version 2 of the format says so; version 1, sealed under a passphrase a person
 * chose, is refused (SHARE_PAPER_OUTDATED: only tests ever made one). The header
 * (who, which key, M and N, the KDF parameters) is the AEAD's additional data, so it cannot be
 * swapped onto another share; the `checksum` (SHA-256 of everything else) tells a damaged or
 * mistyped paper share apart from a wrong passphrase before any decryption is tried.
 *
 * node:crypto does both steps, so Electron's BoringSSL serves them too (scrypt and AES-GCM are
 * in BoringSSL); tests cross-check with @noble/hashes' scrypt and @noble/ciphers' GCM.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, scryptSync } from 'node:crypto';
import { zero } from '../bytes.js';
import { Fields } from '../docs/fields.js';
import { DocumentError } from '../docs/problems.js';
import { decodeBase64Strict, encodeBase64, readJson } from '../dsse/envelope.js';
import { KeyceremonyError } from '../errors.js';
import { readShareHeader, SHARE_HEADER_MEMBERS } from './shares.js';
import type { ShareHeader } from './shares.js';

export const PAPER_SPEC = 'keyceremony/paper-share@2';
/** Sealed under a passphrase a person chose, checked by length only: refused since issue 14. */
export const PAPER_SPEC_V1 = 'keyceremony/paper-share@1';
/** scrypt cost: 2^17 × 8 × 128 bytes = 128 MiB and about half a second here, per guess. */
export const PAPER_KDF = Object.freeze({ name: 'scrypt' as const, N: 1 << 17, r: 8, p: 1 });
/**
 * A floor for the raw KDF input only: every paper share keyceremony makes is sealed under its own
 * 8 generated words (at least 31 characters, 88 bits), which BackupSplit.sealOnPaper requires.
 */
export const MIN_PASSPHRASE_CHARACTERS = 16;
const MAX_PAPER_BYTES = 8192;

export type PaperHeader = ShareHeader;

export interface PaperShare extends PaperHeader {
  readonly kdf: { readonly name: 'scrypt'; readonly N: number; readonly r: number; readonly p: number; readonly salt: Uint8Array };
  readonly iv: Uint8Array;
  readonly ciphertext: Uint8Array;
  readonly checksum: string;
}

function aad(p: Omit<PaperShare, 'iv' | 'ciphertext' | 'checksum'>): Buffer {
  return Buffer.from(JSON.stringify([PAPER_SPEC, p.ceremony, p.backupKey, p.custodian, p.index, p.threshold, p.total, p.kdf.name, p.kdf.N, p.kdf.r, p.kdf.p, encodeBase64(p.kdf.salt)]), 'utf8');
}

function checksumOf(p: Omit<PaperShare, 'checksum'>): string {
  return createHash('sha256').update(aad(p)).update(p.iv).update(p.ciphertext).digest('hex').slice(0, 16);
}

/** The most memory scrypt may take here: PAPER_KDF needs 128 MiB; a share asking for more is refused. */
export const MAX_KDF_MEMORY = 256 * 1024 * 1024;

/**
 * What OpenSSL's scrypt allocates (crypto/evp/pbe_scrypt.c): B = 128·r·p bytes and
 * V = 128·r·(N + 2) bytes, both checked against `maxmem` before any work.
 */
export function scryptMemory(N: number, r: number, p: number): number {
  return 128 * r * p + 128 * r * (N + 2);
}

/**
 * Why these scrypt parameters are not used, or null: each bounded on its own (N a power of two
 * from 2^14 to 2^20, r from 8 to 16, p from 1 to 4, a salt of 16 to 64 bytes: a reader's floor and
 * ceiling) and together (the memory above at most MAX_KDF_MEMORY), so a share that a hostile or
 * careless writer made can neither weaken the passphrase nor exhaust memory and crash scrypt
 * (ERR_CRYPTO_INVALID_SCRYPT_PARAMS).
 */
export function kdfProblem(kdf: { readonly N: number; readonly r: number; readonly p: number; readonly salt?: Uint8Array }): { path: string; message: string } | null {
  const whole = (v: number, lo: number, hi: number): boolean => Number.isSafeInteger(v) && v >= lo && v <= hi;
  if (!whole(kdf.N, 1 << 14, 1 << 20) || (kdf.N & (kdf.N - 1)) !== 0) return { path: 'kdf.N', message: 'a power of two from 2^14 to 2^20' };
  if (!whole(kdf.r, 8, 16)) return { path: 'kdf.r', message: 'from 8 to 16' };
  if (!whole(kdf.p, 1, 4)) return { path: 'kdf.p', message: 'from 1 to 4' };
  if (kdf.salt !== undefined && (kdf.salt.length < 16 || kdf.salt.length > 64)) return { path: 'kdf.salt', message: 'expected 16–64 bytes' };
  const need = scryptMemory(kdf.N, kdf.r, kdf.p);
  if (need > MAX_KDF_MEMORY) return { path: 'kdf', message: `N = ${kdf.N}, r = ${kdf.r} and p = ${kdf.p} need ${Math.ceil(need / 1048576)} MiB, over the ${MAX_KDF_MEMORY / 1048576} MiB allowed` };
  return null;
}

function derive(passphrase: Uint8Array, kdf: PaperShare['kdf']): Buffer {
  // bounded here too: a PaperShare may be built in code, not only parsed
  const why = kdfProblem(kdf);
  if (why !== null) {
    throw new KeyceremonyError('SHARE_KDF_UNSUPPORTED', `the paper share's scrypt parameters are refused: ${why.path}: ${why.message}`, 'seal paper shares with the default parameters (N 2^17, r 8, p 1); a share asking for more was not made by keyceremony', { exit: 1 });
  }
  try {
    return scryptSync(passphrase, kdf.salt, 32, { N: kdf.N, r: kdf.r, p: kdf.p, maxmem: MAX_KDF_MEMORY });
  } catch (err) {
    // within the bounds, only the machine can fail (memory it cannot allocate): not a bug of ours
    if ((err as { code?: unknown }).code !== undefined && String((err as { code: unknown }).code).startsWith('ERR_CRYPTO_')) {
      throw new KeyceremonyError('SHARE_KDF_FAILED', `scrypt failed on this machine: ${(err as Error).message}`, `close other programs to free ${MAX_KDF_MEMORY / 1048576} MiB of memory, then try again`, { exit: 1, cause: err });
    }
    throw err;
  }
}

export function checkPassphrase(passphrase: Uint8Array): void {
  const chars = new TextDecoder().decode(passphrase).length;
  if (chars < MIN_PASSPHRASE_CHARACTERS) {
    throw new KeyceremonyError('SHARE_PASSPHRASE_WEAK', `a paper share's passphrase needs at least ${MIN_PASSPHRASE_CHARACTERS} characters, this one has ${chars}`, 'choose a longer passphrase: four or more random words');
  }
}

/**
 * Seal a share record under `passphrase`, the KDF input (PaperPassphrase.withKdfInput); the caller
 * zeroes both afterwards. Who may choose the passphrase is BackupSplit.sealOnPaper's rule: nobody.
 */
export function sealPaperShare(record: Uint8Array, passphrase: Uint8Array, header: PaperHeader, kdf: Omit<PaperShare['kdf'], 'salt'> = PAPER_KDF): PaperShare {
  checkPassphrase(passphrase);
  const base = { ...header, kdf: { ...kdf, salt: new Uint8Array(randomBytes(16)) } };
  const key = derive(passphrase, base.kdf);
  const iv = new Uint8Array(randomBytes(12));
  try {
    const c = createCipheriv('aes-256-gcm', key, iv);
    c.setAAD(aad(base));
    const ciphertext = new Uint8Array(Buffer.concat([c.update(record), c.final(), c.getAuthTag()]));
    const sealed = { ...base, iv, ciphertext };
    return { ...sealed, checksum: checksumOf(sealed) };
  } finally {
    zero(key);
  }
}

/**
 * The share record inside, or SHARE_KDF_UNSUPPORTED / SHARE_PAPER_DAMAGED / SHARE_PASSPHRASE_INCORRECT.
 * `passphrase` is the KDF input (PaperPassphrase.withKdfInput). The record is returned in a buffer of
 * its own (not Node's shared pool) for the caller to zero; what the decipher handed back is zeroed here.
 */
export function openPaperShare(p: PaperShare, passphrase: Uint8Array): Uint8Array {
  const why = kdfProblem(p.kdf); // before anything else: a share built in code is bounded too (derive says it again)
  if (why === null && checksumOf(p) !== p.checksum) {
    throw new KeyceremonyError('SHARE_PAPER_DAMAGED', `the paper share of ${p.custodian} does not match its own checksum ${p.checksum}`, 'it was mistyped or damaged: scan the QR code again, or type the text again with care');
  }
  const key = derive(passphrase, p.kdf);
  const parts: Buffer[] = [];
  try {
    const d = createDecipheriv('aes-256-gcm', key, p.iv);
    d.setAAD(aad(p));
    d.setAuthTag(p.ciphertext.subarray(p.ciphertext.length - 16));
    parts.push(d.update(p.ciphertext.subarray(0, p.ciphertext.length - 16)));
    parts.push(d.final());
  } catch {
    zero(...parts);
    throw new KeyceremonyError('SHARE_PASSPHRASE_INCORRECT', `the passphrase does not open the paper share of ${p.custodian}`, `${p.custodian} types the words again; nothing was combined`);
  } finally {
    zero(key);
  }
  const record = new Uint8Array(parts.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of parts) {
    record.set(b, at);
    at += b.length;
  }
  zero(...parts);
  return record;
}

export function encodePaperShare(p: PaperShare): string {
  return JSON.stringify({ spec: PAPER_SPEC, ceremony: p.ceremony, backupKey: p.backupKey, custodian: p.custodian, index: p.index, threshold: p.threshold, total: p.total,
    kdf: { name: p.kdf.name, N: p.kdf.N, r: p.kdf.r, p: p.kdf.p, salt: encodeBase64(p.kdf.salt) }, iv: encodeBase64(p.iv), ciphertext: encodeBase64(p.ciphertext), checksum: p.checksum });
}

export function parsePaperShare(bytes: Uint8Array): PaperShare {
  const json = readJson(bytes, MAX_PAPER_BYTES, 'the paper share');
  const f = new Fields();
  const o = f.object(json, '$', ['spec', ...SHARE_HEADER_MEMBERS, 'kdf', 'iv', 'ciphertext', 'checksum']);
  if (o === undefined) throw new DocumentError(f.problems, 'the paper share');
  const spec = f.string(o.spec, 'spec');
  if (spec === PAPER_SPEC_V1) {
    throw new KeyceremonyError('SHARE_PAPER_OUTDATED', `this paper share was sealed under a passphrase a person chose (${PAPER_SPEC_V1}); this version opens only ${PAPER_SPEC}, sealed under generated words`,
      'restore from the other custodians\' shares, then split the backup key again: new paper shares are sealed under 8 generated words');
  }
  if (spec !== PAPER_SPEC) f.add('DOCUMENT_WRONG_SPEC', 'spec', `expected "${PAPER_SPEC}"`);
  const header = readShareHeader(f, o);
  const b64 = (v: unknown, path: string, len?: [number, number]): Uint8Array | undefined => {
    const s = f.string(v as never, path, { max: 2048 });
    const b = s === undefined ? undefined : decodeBase64Strict(s) ?? f.add('DOCUMENT_BAD_BASE64', path, 'not standard base64');
    if (b !== undefined && len !== undefined && (b.length < len[0] || b.length > len[1])) return f.add('DOCUMENT_BAD_VALUE', path, `expected ${len[0]}–${len[1]} bytes`);
    return b;
  };
  const k = f.object(o.kdf, 'kdf', ['name', 'N', 'r', 'p', 'salt']);
  let kdf: PaperShare['kdf'] | undefined;
  if (k !== undefined) {
    if (k.name !== 'scrypt') f.add('DOCUMENT_BAD_VALUE', 'kdf.name', 'expected "scrypt"');
    // a reader's floor and ceiling: never weaker than 2^14, never a cost that exhausts memory (kdfProblem)
    const N = f.integer(k.N, 'kdf.N', 1 << 14);
    if (N !== undefined && (N > 1 << 20 || (N & (N - 1)) !== 0)) f.add('DOCUMENT_BAD_VALUE', 'kdf.N', 'a power of two from 2^14 to 2^20');
    const r = f.integer(k.r, 'kdf.r', 8);
    if (r !== undefined && r > 16) f.add('DOCUMENT_BAD_VALUE', 'kdf.r', 'from 8 to 16');
    const p = f.integer(k.p, 'kdf.p', 1);
    if (p !== undefined && p > 4) f.add('DOCUMENT_BAD_VALUE', 'kdf.p', 'from 1 to 4');
    const salt = b64(k.salt, 'kdf.salt', [16, 64]);
    if (k.name === 'scrypt' && N !== undefined && r !== undefined && p !== undefined && salt !== undefined && f.problems.length === 0) {
      const why = kdfProblem({ N, r, p, salt });
      if (why !== null) f.add('SHARE_KDF_UNSUPPORTED', why.path, why.message);
      else kdf = { name: 'scrypt', N, r, p, salt };
    }
  }
  const iv = b64(o.iv, 'iv', [12, 12]);
  const ciphertext = b64(o.ciphertext, 'ciphertext', [17, 1024]);
  const checksum = f.string(o.checksum, 'checksum', { pattern: /^[0-9a-f]{16}$/, what: '16 lowercase hex digits' });
  if (f.problems.length > 0 || header === undefined || kdf === undefined || iv === undefined || ciphertext === undefined || checksum === undefined) throw new DocumentError(f.problems, 'the paper share');
  return { ...header, kdf, iv, ciphertext, checksum };
}
