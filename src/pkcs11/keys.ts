/**
 * Keys generated inside the token, with explicit templates (defaults: token, private,
 * sensitive, not extractable, not modifiable), a CKA_ID from the token's RNG, and a label that
 * must not exist yet. Secret key material never leaves the token here.
 */
import { equalBytes, toHex } from '../bytes.js';
import { keyIdOf, publicKeyProblem, verifyStrict } from '../crypto/ed25519.js';
import { fingerprint } from '../crypto/fingerprint.js';
import type { Fingerprint } from '../crypto/fingerprint.js';
import { KeyceremonyError } from '../errors.js';
import { CKK_EC_EDWARDS, CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_EDDSA, ED25519_EC_PARAMS, pkcs11js } from './binding.js';
import type { Handle, Template } from './binding.js';
import { can } from './capabilities.js';
import { hsmError } from './errors.js';
import type { Session } from './session.js';
import { formatPkcs11Uri } from './uri.js';
import type { ObjectType } from './uri.js';

export const ID_BYTES = 16;
const MAX_LABEL_BYTES = 64;

export interface KeyRef {
  readonly token: string;
  readonly serial: string;
  readonly label: string;
  /** CKA_ID as lowercase hex. */
  readonly id: string;
  readonly uri: string;
}

/** Key check value with its method (KMS-NOTES: AES CKA_CHECK_VALUE = AES-ECB(0^16)[0:3]). */
export interface Kcv {
  readonly method: 'ecb';
  readonly value: string;
}

export function formatKcv(kcv: Kcv): string {
  return `${kcv.method}:${kcv.value}`;
}

export function validateLabel(label: unknown): string {
  if (typeof label !== 'string' || label.length === 0) {
    throw new KeyceremonyError('KEY_LABEL_INVALID', 'a key needs a label', 'name the key in the URI with object=LABEL', { exit: 2 });
  }
  if (/[\u0000-\u001f\u007f]/.test(label) || Buffer.byteLength(label, 'utf8') > MAX_LABEL_BYTES || label !== label.trim()) {
    throw new KeyceremonyError('KEY_LABEL_INVALID', `the label ${JSON.stringify(label)} has control characters, surrounding spaces or more than ${MAX_LABEL_BYTES} bytes`,
      'choose a short printable label such as master-v7', { exit: 2 });
  }
  return label;
}

function keyRef(s: Session, label: string, id: Buffer, type: ObjectType): KeyRef {
  const { label: token, serial } = s.token.info;
  return Object.freeze({ token, serial, label, id: id.toString('hex'), uri: formatPkcs11Uri({ token, serial, object: label, type, id: id.toString('hex') }) });
}

/** Refuse a label that any object on the token already carries (PKCS#11 allows duplicates; we do not). */
export function assertLabelFree(s: Session, label: string): void {
  const B = pkcs11js();
  if (s.findObjects([{ type: B.CKA_LABEL, value: label }], 1).length > 0) {
    throw hsmError('HSM_OBJECT_EXISTS', `an object labelled "${label}" already exists on token "${s.token.label}"; nothing was created`,
      'choose another label (for example the next version, master-v8) or remove the old object deliberately');
  }
}

/** A fresh CKA_ID from the token's RNG, unused on the token. */
function freshId(s: Session): Buffer {
  const B = pkcs11js();
  for (let i = 0; i < 4; i++) {
    const id = s.random(ID_BYTES);
    if (s.findObjects([{ type: B.CKA_ID, value: id }], 1).length === 0) return id;
  }
  throw hsmError('HSM_RNG_UNAVAILABLE', `the random generator of token "${s.token.label}" repeats itself`, 'stop: do not use this token for key generation');
}

export type AesRole = 'master' | 'backup' | 'wrapping';

export interface AesKeyOptions {
  readonly label: string;
  readonly role: AesRole;
  /** Only when the ceremony says the key will be exported (wrapped) later. */
  readonly extractable?: boolean;
  /**
   * CKA_WRAP_WITH_TRUSTED (PKCS#11 2.40 §4.9): the extractable key may be wrapped only under a
   * wrapping key whose CKA_TRUSTED the security officer set (src/pkcs11/trusted.ts). A master key
   * only, and only one that is extractable: on a key that never leaves the token it says nothing.
   */
  readonly wrapWithTrusted?: boolean;
}

export interface AesKey extends KeyRef {
  readonly role: AesRole;
  readonly extractable: boolean;
  /** Set only when asked for, and read back from the token as set. */
  readonly wrapWithTrusted: boolean;
  readonly kcv: Kcv;
}

/**
 * Usage per role. The master key encrypts data (AES-256-GCM). The backup key only wraps and
 * unwraps: giving it CKA_ENCRYPT would let anyone with a session forge wrapped blobs by raw
 * encryption, so its KCV comes from the token's CKA_CHECK_VALUE instead.
 */
const ROLE_USAGE: Readonly<Record<AesRole, { encrypt: boolean; wrap: boolean }>> = {
  master: { encrypt: true, wrap: false },
  backup: { encrypt: false, wrap: true },
  wrapping: { encrypt: false, wrap: true },
};

export async function generateAesKey(s: Session, opts: AesKeyOptions): Promise<AesKey> {
  const B = pkcs11js();
  const label = validateLabel(opts.label);
  const usage = ROLE_USAGE[opts.role];
  if (usage === undefined) throw new KeyceremonyError('KEY_ROLE_INVALID', `unknown AES key role ${String(opts.role)}`, 'use master or backup', { exit: 2 });
  assertLabelFree(s, label);
  const id = freshId(s);
  const extractable = opts.extractable === true;
  const wrapWithTrusted = opts.wrapWithTrusted === true;
  if (wrapWithTrusted && (opts.role !== 'master' || !extractable)) {
    throw new KeyceremonyError('KEY_OPTIONS_INVALID', 'only an extractable master key is made wrap-with-trusted', 'ask for wrap-with-trusted on a master key that will be exported', { exit: 2 });
  }
  const template: Template = [
    { type: B.CKA_CLASS, value: B.CKO_SECRET_KEY },
    { type: B.CKA_KEY_TYPE, value: B.CKK_AES },
    { type: B.CKA_VALUE_LEN, value: 32 },
    { type: B.CKA_TOKEN, value: true },
    { type: B.CKA_PRIVATE, value: true },
    { type: B.CKA_SENSITIVE, value: true },
    { type: B.CKA_EXTRACTABLE, value: extractable },
    { type: B.CKA_MODIFIABLE, value: false },
    { type: B.CKA_ENCRYPT, value: usage.encrypt },
    { type: B.CKA_DECRYPT, value: usage.encrypt },
    { type: B.CKA_WRAP, value: usage.wrap },
    { type: B.CKA_UNWRAP, value: usage.wrap },
    { type: B.CKA_SIGN, value: false },
    { type: B.CKA_VERIFY, value: false },
    { type: B.CKA_DERIVE, value: false },
    { type: B.CKA_LABEL, value: label },
    { type: B.CKA_ID, value: id },
    ...(wrapWithTrusted ? [{ type: B.CKA_WRAP_WITH_TRUSTED, value: true }] : []),
  ];
  const handle = await s.callAsync('generating an AES-256 key', () => s.api.C_GenerateKeyAsync(s.handle, { mechanism: B.CKM_AES_KEY_GEN }, template));
  const kcv = await orDestroy(s, [handle], label, async () => {
    // a token that takes the attribute and does not keep it (NSS reads back what it ignores: trusted.ts) is caught by the probe; one that drops it, here
    if (wrapWithTrusted && s.attribute(handle, B.CKA_WRAP_WITH_TRUSTED)?.[0] !== 1) {
      throw hsmError('HSM_TEMPLATE_REJECTED', `token "${s.token.label}" did not keep CKA_WRAP_WITH_TRUSTED on the new key`, 'use a token whose trusted-wrap probe passes (src/pkcs11/trusted.ts), or make the key without it');
    }
    return keyCheckValue(s, handle);
  });
  return Object.freeze({ ...keyRef(s, label, id, 'secret-key'), role: opts.role, extractable, wrapWithTrusted, kcv });
}

/**
 * AES key check value: AES-ECB of a zero block, first 3 bytes, computed in the token when the key
 * may encrypt, and compared with CKA_CHECK_VALUE when the token offers it (PKCS#11 3.0 §4.10).
 */
export async function keyCheckValue(s: Session, key: Handle): Promise<Kcv> {
  const B = pkcs11js();
  const fromToken = s.attribute(key, B.CKA_CHECK_VALUE);
  const canEncrypt = s.attribute(key, B.CKA_ENCRYPT)?.[0] === 1;
  let computed: Buffer | null = null;
  if (canEncrypt) {
    s.call('starting AES-ECB for the key check value', () => s.api.C_EncryptInit(s.handle, { mechanism: B.CKM_AES_ECB }, key));
    const block = await s.callAsync('computing the key check value', () => s.api.C_EncryptAsync(s.handle, Buffer.alloc(16), Buffer.alloc(16)));
    computed = block.subarray(0, 3);
  }
  if (computed !== null && fromToken !== null && fromToken.length >= 3 && !equalBytes(computed, fromToken.subarray(0, 3))) {
    throw hsmError('HSM_KCV_MISMATCH', `token "${s.token.label}" reports a check value that differs from the one it computes`, 'stop: the token is faulty; do not use this key');
  }
  let value = computed ?? (fromToken !== null && fromToken.length >= 3 ? fromToken.subarray(0, 3) : null);
  if (value === null) value = await wrapOnlyCheckValue(s, key);
  if (value === null) {
    throw hsmError('HSM_KCV_UNAVAILABLE', `token "${s.token.label}" offers no check value for this key: it may not encrypt, CKA_CHECK_VALUE is unreadable, and the token offers no CKM_AES_ECB key wrap`,
      'use a token that offers CKA_CHECK_VALUE or CKM_AES_ECB wrapping for wrap-only keys');
  }
  return Object.freeze({ method: 'ecb', value: toHex(value) });
}

/**
 * The check value of a wrap-only AES key on a token that will not read out CKA_CHECK_VALUE (NSS
 * softokn: CKR_ATTRIBUTE_TYPE_INVALID, KMS-NOTES.md): C_WrapKey with CKM_AES_ECB of a throw-away
 * session AES-128 key whose value is the zero block gives AES-ECB(key, 0^16), the same bytes as
 * PKCS#11 3.0's CKA_CHECK_VALUE. The key keeps CKA_ENCRYPT false: only the wrap it already has is
 * used, on a public value. Null when the key may not wrap or the token offers no AES-ECB wrap.
 */
async function wrapOnlyCheckValue(s: Session, key: Handle): Promise<Buffer | null> {
  const B = pkcs11js();
  if (s.attribute(key, B.CKA_WRAP)?.[0] !== 1 || !can(s.token, B.CKM_AES_ECB, 'wrap')) return null;
  const zeroKey = s.call('creating the zero block for the key check value', () => s.api.C_CreateObject(s.handle, [
    { type: B.CKA_CLASS, value: B.CKO_SECRET_KEY }, { type: B.CKA_KEY_TYPE, value: B.CKK_AES }, { type: B.CKA_TOKEN, value: false }, { type: B.CKA_VALUE, value: Buffer.alloc(16) },
    { type: B.CKA_SENSITIVE, value: false }, { type: B.CKA_EXTRACTABLE, value: true }, { type: B.CKA_ENCRYPT, value: false }, { type: B.CKA_DECRYPT, value: false },
    { type: B.CKA_WRAP, value: false }, { type: B.CKA_UNWRAP, value: false }, { type: B.CKA_SIGN, value: false }, { type: B.CKA_VERIFY, value: false },
  ]));
  try {
    const block = await s.callAsync('computing the key check value by AES-ECB key wrap', () => s.api.C_WrapKeyAsync(s.handle, { mechanism: B.CKM_AES_ECB }, key, zeroKey, Buffer.alloc(64)));
    return block.length === 16 ? block.subarray(0, 3) : null;
  } finally {
    try { s.api.C_DestroyObject(s.handle, zeroKey); } catch { /* a session object dies with the session */ }
  }
}

export interface Ed25519Key extends KeyRef {
  readonly publicKey: Uint8Array;
  readonly keyid: string;
  readonly fingerprint: Fingerprint;
}

/** CKA_EC_POINT of an Ed25519 key: raw 32 bytes (PKCS#11 3.0) or DER OCTET STRING 04 20 ‖ key (SoftHSM2, older cards). */
export function parseEd25519Point(point: Uint8Array): Uint8Array {
  let raw: Uint8Array;
  if (point.length === 32) raw = point;
  else if (point.length === 34 && point[0] === 0x04 && point[1] === 0x20) raw = point.subarray(2);
  else {
    throw hsmError('HSM_PUBLIC_KEY_INVALID', `the token returned an Ed25519 public key of ${point.length} bytes in an unknown encoding`, 'use a token that stores Ed25519 keys as PKCS#11 3.0 describes');
  }
  const problem = publicKeyProblem(raw);
  if (problem !== null) throw hsmError('HSM_PUBLIC_KEY_INVALID', `the token returned an Ed25519 public key that is ${problem}`, 'stop: do not use this token');
  return new Uint8Array(raw);
}

/**
 * A key is made in two steps (generate, then check); if the check fails (the card is pulled, the
 * token errs), the half-made objects are destroyed, or, when the token cannot be reached, named in
 * the error for clean-up, so that a half-made key is never taken for a whole one.
 */
async function orDestroy<T>(s: Session, handles: readonly Handle[], label: string, check: () => Promise<T>): Promise<T> {
  try {
    return await check();
  } catch (err) {
    const left: Handle[] = [];
    for (const h of handles) {
      try { s.api.C_DestroyObject(s.handle, h); } catch { left.push(h); }
    }
    if (left.length === 0 || !(err instanceof KeyceremonyError)) throw err;
    throw new KeyceremonyError(err.code, `${err.message}; the half-made key "${label}" is left on token "${s.token.label}"`,
      `${err.fix}; then delete the objects labelled "${label}" on that token before generating it again`, { exit: err.exit, cause: err });
  }
}

export async function generateEd25519(s: Session, opts: { readonly label: string }): Promise<Ed25519Key> {
  const B = pkcs11js();
  const label = validateLabel(opts.label);
  assertLabelFree(s, label);
  const id = freshId(s);
  const common: Template = [{ type: B.CKA_TOKEN, value: true }, { type: B.CKA_LABEL, value: label }, { type: B.CKA_ID, value: id }, { type: B.CKA_KEY_TYPE, value: CKK_EC_EDWARDS }];
  // every usage flag stated (SoftHSM2 and NSS otherwise let the pair encrypt/decrypt and wrap/unwrap); CKA_MODIFIABLE last (templates.ts)
  const pub: Template = [...common, { type: B.CKA_CLASS, value: B.CKO_PUBLIC_KEY }, { type: B.CKA_EC_PARAMS, value: ED25519_EC_PARAMS }, { type: B.CKA_PRIVATE, value: false },
    { type: B.CKA_VERIFY, value: true }, { type: B.CKA_ENCRYPT, value: false }, { type: B.CKA_WRAP, value: false }, { type: B.CKA_DERIVE, value: false }, { type: B.CKA_MODIFIABLE, value: false }];
  const priv: Template = [...common, { type: B.CKA_CLASS, value: B.CKO_PRIVATE_KEY }, { type: B.CKA_PRIVATE, value: true }, { type: B.CKA_SENSITIVE, value: true },
    { type: B.CKA_EXTRACTABLE, value: false }, { type: B.CKA_SIGN, value: true }, { type: B.CKA_DECRYPT, value: false }, { type: B.CKA_UNWRAP, value: false }, { type: B.CKA_DERIVE, value: false },
    { type: B.CKA_MODIFIABLE, value: false }];
  const pair = await s.callAsync('generating an Ed25519 key pair', () => s.api.C_GenerateKeyPairAsync(s.handle, { mechanism: CKM_EC_EDWARDS_KEY_PAIR_GEN }, pub, priv));
  const publicKey = await orDestroy(s, [pair.publicKey, pair.privateKey], label, async () => readEd25519PublicKey(s, pair.publicKey));
  return Object.freeze({ ...keyRef(s, label, id, 'private'), publicKey, keyid: keyIdOf(publicKey), fingerprint: fingerprint(publicKey) });
}

export function readEd25519PublicKey(s: Session, publicKeyHandle: Handle): Uint8Array {
  const point = s.attribute(publicKeyHandle, pkcs11js().CKA_EC_POINT);
  if (point === null) throw hsmError('HSM_PUBLIC_KEY_INVALID', `token "${s.token.label}" has no CKA_EC_POINT for the public key`, 'use a token that stores the Ed25519 public key');
  return parseEd25519Point(point);
}

export interface ObjectQuery {
  readonly label?: string | undefined;
  /** CKA_ID as hex. */
  readonly id?: string | undefined;
}

/** Exactly one object of the class matching label and/or id, else a clear error. */
export function findOne(s: Session, klass: number, q: ObjectQuery, what: string): Handle {
  const B = pkcs11js();
  const t: Template = [{ type: B.CKA_CLASS, value: klass }];
  if (q.label !== undefined) t.push({ type: B.CKA_LABEL, value: q.label });
  if (q.id !== undefined) t.push({ type: B.CKA_ID, value: Buffer.from(q.id, 'hex') });
  const hits = s.findObjects(t, 2);
  const name = q.label !== undefined ? `"${q.label}"` : `with id ${q.id ?? '?'}`;
  if (hits.length === 0) throw hsmError('HSM_OBJECT_NOT_FOUND', `no ${what} ${name} on token "${s.token.label}"`, 'check the object= label in the URI against the one the key was made with (its keygen output or the ceremony transcript), and the token');
  if (hits.length > 1) throw new KeyceremonyError('HSM_OBJECT_AMBIGUOUS', `several ${what}s ${name} on token "${s.token.label}"`, 'name the key by id as well (id=%..)');
  return hits[0] as Handle;
}

export interface Ed25519Signature {
  readonly signature: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly keyid: string;
}

/**
 * Sign with CKM_EDDSA (PKCS#11 3.0 §6.3.14, pure Ed25519: no parameters), then verify the
 * signature at once against the public key read from the same token. With `expectedPublicKey`
 * (the custodian's registered key) a different card is refused: the wrong card inserted.
 */
/** The private key named by `key` and the public key stored beside it (same CKA_ID, else same label). */
export function findEd25519Pair(s: Session, key: ObjectQuery): { readonly priv: Handle; readonly publicKey: Uint8Array } {
  const B = pkcs11js();
  const priv = findOne(s, B.CKO_PRIVATE_KEY, key, 'private key');
  const id = s.attribute(priv, B.CKA_ID);
  const pub = findOne(s, B.CKO_PUBLIC_KEY, id !== null && id.length > 0 ? { id: id.toString('hex') } : key, 'public key');
  return { priv, publicKey: readEd25519PublicKey(s, pub) };
}

export async function signEd25519(s: Session, key: ObjectQuery, message: Uint8Array, expectedPublicKey?: Uint8Array): Promise<Ed25519Signature> {
  const { priv, publicKey } = findEd25519Pair(s, key);
  if (expectedPublicKey !== undefined && !equalBytes(publicKey, expectedPublicKey)) {
    throw hsmError('HSM_WRONG_KEY', `the key on token "${s.token.label}" is not the expected custodian key (fingerprint ${fingerprint(publicKey).words.slice(0, 4).join(' ')} …)`,
      'insert the card of the custodian who is signing, then sign again');
  }
  s.call('starting an Ed25519 signature', () => s.api.C_SignInit(s.handle, { mechanism: CKM_EDDSA }, priv));
  const sig = await s.callAsync('signing', () => s.api.C_SignAsync(s.handle, Buffer.from(message), Buffer.alloc(64)));
  const signature = new Uint8Array(sig);
  if (!verifyStrict(signature, message, publicKey)) {
    throw hsmError('HSM_SIGNATURE_CHECK_FAILED', `the signature made by token "${s.token.label}" does not verify under its own public key`, 'stop: the token is faulty or its public key object belongs to another key');
  }
  return Object.freeze({ signature, publicKey, keyid: keyIdOf(publicKey) });
}

export interface RsaKeyPair extends KeyRef {
  readonly bits: number;
  /** DER SubjectPublicKeyInfo built from CKA_MODULUS and CKA_PUBLIC_EXPONENT. */
  readonly spki: Uint8Array;
}

/** RSA key pairs (test KEKs, and tokens that hold an RSA wrapping key). */
export async function generateRsa(s: Session, opts: { readonly label: string; readonly bits: 2048 | 3072 | 4096 }): Promise<RsaKeyPair> {
  const B = pkcs11js();
  const label = validateLabel(opts.label);
  if (![2048, 3072, 4096].includes(opts.bits)) throw new KeyceremonyError('KEY_SIZE_INVALID', `RSA keys are 2048, 3072 or 4096 bits, not ${String(opts.bits)}`, 'choose one of those sizes', { exit: 2 });
  assertLabelFree(s, label);
  const id = freshId(s);
  const common: Template = [{ type: B.CKA_TOKEN, value: true }, { type: B.CKA_LABEL, value: label }, { type: B.CKA_ID, value: id }];
  const pub: Template = [...common, { type: B.CKA_MODULUS_BITS, value: opts.bits }, { type: B.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) },
    { type: B.CKA_ENCRYPT, value: true }, { type: B.CKA_WRAP, value: true }, { type: B.CKA_VERIFY, value: true }];
  const priv: Template = [...common, { type: B.CKA_PRIVATE, value: true }, { type: B.CKA_SENSITIVE, value: true }, { type: B.CKA_EXTRACTABLE, value: false },
    { type: B.CKA_DECRYPT, value: true }, { type: B.CKA_UNWRAP, value: true }, { type: B.CKA_SIGN, value: true }];
  const pair = await s.callAsync('generating an RSA key pair', () => s.api.C_GenerateKeyPairAsync(s.handle, { mechanism: B.CKM_RSA_PKCS_KEY_PAIR_GEN }, pub, priv));
  const n = s.attribute(pair.publicKey, B.CKA_MODULUS);
  const e = s.attribute(pair.publicKey, B.CKA_PUBLIC_EXPONENT);
  if (n === null || e === null) throw hsmError('HSM_PUBLIC_KEY_INVALID', `token "${s.token.label}" did not return the RSA public key`, 'use a token that exposes RSA public keys');
  return Object.freeze({ ...keyRef(s, label, id, 'private'), bits: opts.bits, spki: rsaSpki(n, e) });
}

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function der(tag: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}

function derInteger(unsigned: Buffer): Buffer {
  let i = 0;
  while (i < unsigned.length - 1 && unsigned[i] === 0) i++;
  const v = unsigned.subarray(i);
  return der(0x02, (v[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), v]) : v);
}

/** RFC 8017 A.1.1 RSAPublicKey inside RFC 5280 SubjectPublicKeyInfo with rsaEncryption. */
export function rsaSpki(modulus: Buffer, exponent: Buffer): Uint8Array {
  const algo = Buffer.from('300d06092a864886f70d0101010500', 'hex');
  const rsaPublicKey = der(0x30, Buffer.concat([derInteger(modulus), derInteger(exponent)]));
  return new Uint8Array(der(0x30, Buffer.concat([algo, der(0x03, Buffer.concat([Buffer.from([0]), rsaPublicKey]))])));
}
