/**
 * Custodian sets, the trust root (FORMATS.md §3): who the custodians are, their Ed25519 keys,
 * and how many must sign. Parsed into a readonly model with every problem reported by path;
 * each public key is checked once here (canonical, not small order) and kept ready to verify.
 */
import { createHash } from 'node:crypto';
import { sha256 } from '@noble/hashes/sha2.js';
import { toHex } from '../bytes.js';
import { Ed25519PublicKey, publicKeyProblem } from '../crypto/ed25519.js';
import { fingerprint } from '../crypto/fingerprint.js';
import type { Fingerprint } from '../crypto/fingerprint.js';
import { Fields, HEX64 } from '../docs/fields.js';
import { DocumentError } from '../docs/problems.js';
import { sanitizeText, unsafeCharacter } from '../docs/sanitize.js';
import { SPECS } from '../docs/types.js';
import { MAX_PAYLOAD_BYTES, readJson } from '../dsse/envelope.js';
import { KeyceremonyError } from '../errors.js';

export const CUSTODIAN_ID = /^[a-z0-9][a-z0-9._-]{0,63}$/;
export const MAX_CUSTODIANS = 64;

export interface Custodian {
  readonly id: string;
  readonly name: string;
  readonly publicKey: Ed25519PublicKey;
  readonly keyid: string;
  readonly fingerprint: Fingerprint;
}

export interface CustodianSet {
  readonly spec: string;
  readonly version: number;
  readonly issued: number;
  readonly expires: number;
  readonly threshold: number;
  readonly custodians: readonly Custodian[];
  /** `sha256:<hex>` of the payload bytes (FORMATS.md §2: digests over raw payload bytes). */
  readonly digest: string;
  /** keyid → custodian, for counting. */
  readonly byKeyid: ReadonlyMap<string, Custodian>;
}

export function payloadDigest(payload: Uint8Array): string {
  return `sha256:${createHash('sha256').update(payload).digest('hex')}`;
}

export function parseCustodianSet(payload: Uint8Array): CustodianSet {
  const json = readJson(payload, MAX_PAYLOAD_BYTES, 'the custodian set');
  const f = new Fields();
  const o = f.object(json, '$', ['spec', 'version', 'issued', 'expires', 'threshold', 'custodians']);
  if (o === undefined) throw new DocumentError(f.problems, 'the custodian set');
  const spec = f.string(o.spec, 'spec');
  if (spec !== undefined && spec !== SPECS.custodians) f.add('DOCUMENT_WRONG_SPEC', 'spec', `expected "${SPECS.custodians}"`);
  const version = f.integer(o.version, 'version', 1);
  const issued = f.time(o.issued, 'issued');
  const expires = f.time(o.expires, 'expires');
  if (issued !== undefined && expires !== undefined && !(issued < expires)) f.add('CUSTODIANS_VALIDITY_INVALID', 'expires', 'a set must expire after it is issued');
  const threshold = f.integer(o.threshold, 'threshold', 1, 'CUSTODIANS_THRESHOLD_INVALID');
  const list = f.array(o.custodians, 'custodians', { min: 1, max: MAX_CUSTODIANS });
  const custodians: Custodian[] = [];
  const ids = new Set<string>();
  const keys = new Set<string>();
  list?.forEach((c, i) => {
    const path = `custodians[${i}]`;
    const co = f.object(c, path, ['id', 'name', 'publicKey', 'keyid']);
    if (co === undefined) return;
    const id = f.string(co.id, `${path}.id`, { pattern: CUSTODIAN_ID, what: 'a custodian id (lowercase letters, digits, . _ -; up to 64)' });
    const name = f.string(co.name, `${path}.name`, { pattern: /^[^\u0000-\u001f\u007f]{1,128}$/u, what: 'a name of 1 to 128 printable characters' });
    const pkHex = f.string(co.publicKey, `${path}.publicKey`, { pattern: HEX64, what: 'a 32-byte Ed25519 public key in lowercase hex' });
    const keyid = f.string(co.keyid, `${path}.keyid`, { pattern: HEX64, what: 'a lowercase hex SHA-256 key id' });
    if (id !== undefined) {
      if (ids.has(id)) f.add('CUSTODIANS_DUPLICATE_ID', `${path}.id`, `custodian id "${id}" appears twice`);
      ids.add(id);
    }
    if (pkHex === undefined) return;
    if (keys.has(pkHex)) f.add('CUSTODIANS_DUPLICATE_KEY', `${path}.publicKey`, 'this public key is listed twice: one key would count as two custodians');
    keys.add(pkHex);
    const bytes = new Uint8Array(Buffer.from(pkHex, 'hex'));
    const why = publicKeyProblem(bytes);
    if (why !== null) {
      f.add('CUSTODIANS_KEY_INVALID', `${path}.publicKey`, why === 'small-order' ? 'a key of small order is refused (it verifies forged signatures)' : 'not a canonical Ed25519 point encoding');
      return;
    }
    const publicKey = Ed25519PublicKey.from(bytes) as Ed25519PublicKey;
    if (keyid !== undefined && keyid !== publicKey.keyid) f.add('CUSTODIANS_KEYID_MISMATCH', `${path}.keyid`, 'is not the SHA-256 of the public key');
    if (id !== undefined && name !== undefined && keyid !== undefined) {
      custodians.push(Object.freeze({ id, name, publicKey, keyid, fingerprint: fingerprint(bytes) }));
    }
  });
  if (threshold !== undefined && list !== undefined && threshold > list.length) {
    f.add('CUSTODIANS_THRESHOLD_INVALID', 'threshold', `threshold ${threshold} is more than the ${list.length} custodians`);
  }
  if (f.problems.length > 0 || spec === undefined || version === undefined || issued === undefined || expires === undefined || threshold === undefined) {
    throw new DocumentError(f.problems, 'the custodian set');
  }
  return Object.freeze({
    spec, version, issued, expires, threshold,
    custodians: Object.freeze(custodians),
    digest: payloadDigest(payload),
    byKeyid: new Map(custodians.map((c) => [c.keyid, c])),
  });
}

export interface CustodianInput {
  readonly id: string;
  readonly name: string;
  readonly publicKey: Uint8Array;
}

/**
 * Why a custodian's id or name may not go into a new set, or null. Names are shown to every
 * custodian who verifies or signs, so a name that holds a control character, a bidi override or
 * a line separator (src/docs/sanitize.ts) is refused when a set is made: it could rewrite or
 * reorder what a terminal or the app shows around it. (A set made elsewhere with such a name
 * still parses; wherever its names are shown they are escaped.)
 */
function memberProblem(c: CustodianInput): KeyceremonyError | null {
  if (typeof c.id !== 'string' || !CUSTODIAN_ID.test(c.id)) {
    return new KeyceremonyError('CUSTODIANS_ID_INVALID', `${JSON.stringify(sanitizeText(String(c.id).slice(0, 80)))} is not a custodian id`, 'use lowercase letters, digits, . _ - (up to 64, starting with a letter or digit)', { exit: 2 });
  }
  const bad = typeof c.name === 'string' ? unsafeCharacter(c.name) : 'no text';
  if (bad !== null) {
    return new KeyceremonyError('CUSTODIANS_NAME_INVALID', `the name of ${c.id}, ${JSON.stringify(sanitizeText(String(c.name).slice(0, 80)))}, holds ${bad}: a control, bidi or line-separator character`,
      'type the name as plain printable text', { exit: 2 });
  }
  return null; // the name's length is checked by parseCustodianSet below
}

/** The payload bytes of a set; parsed back at once so nothing invalid is ever written. */
export function buildCustodianSet(input: { version: number; issued: string; expires: string; threshold: number; custodians: readonly CustodianInput[] }): Uint8Array {
  for (const c of input.custodians) {
    const why = memberProblem(c);
    if (why !== null) throw why;
  }
  const payload = {
    spec: SPECS.custodians,
    version: input.version,
    issued: input.issued,
    expires: input.expires,
    threshold: input.threshold,
    custodians: input.custodians.map((c) => ({ id: c.id, name: c.name, publicKey: toHex(c.publicKey), keyid: toHex(sha256(c.publicKey)) })),
  };
  const bytes = new TextEncoder().encode(`${JSON.stringify(payload, null, 2)}\n`);
  parseCustodianSet(bytes);
  return bytes;
}
