/**
 * Rotation manifests (FORMATS.md §4): the custodians' signed approval of one step of the
 * rotation policy for one or more keys. Never contains key material: a key entry may carry a
 * `binding`, an HMAC under the secret that proves which secret was approved and reveals nothing
 * of it (keyBinding below).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ensureBytes } from '../bytes.js';
import { Fields, DIGEST, formatTime, HEX64, parseTime } from '../docs/fields.js';
import type { JsonObject } from '../docs/fields.js';
import { DocumentError, problem } from '../docs/problems.js';
import { PAYLOAD_TYPES, SPECS } from '../docs/types.js';
import { MAX_PAYLOAD_BYTES, parseEnvelope, readJson } from '../dsse/envelope.js';
import { CUSTODIAN_ID } from '../custodians/set.js';
import { payloadDigest } from '../custodians/set.js';

export const PHASES = ['prepare', 'dual-publish', 'cutover', 'revoke', 'compromise'] as const;
export type Phase = (typeof PHASES)[number];
export const ALGORITHMS = ['AES-256-GCM', 'HMAC-SHA256', 'Ed25519', 'JWT-HS256', 'JWT-EdDSA', 'RSA-3072', 'RSA-4096', 'TOKEN'] as const;
export type Algorithm = (typeof ALGORITHMS)[number];

export const CEREMONY_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const KEY_NAME = /^[A-Z][A-Z0-9_]{0,63}$/;
export const KEY_ID = /^[a-z0-9][a-z0-9_-]*-v[1-9][0-9]*$/;
const KCV = /^[0-9a-f]{6}$/;
/** FORMATS.md §4 `binding`: `hmac-sha256:<64 hex>`, lowercase as all hex is (§1). */
export const BINDING = /^hmac-sha256:[0-9a-f]{64}$/;
const BINDING_PREFIX = 'hmac-sha256:';
/** The algorithms whose entries may carry a binding, and whose KCV is then the binding's first 3 bytes (FORMATS.md §4). */
export const BINDING_ALGORITHMS: readonly Algorithm[] = Object.freeze(['HMAC-SHA256', 'JWT-HS256', 'TOKEN']);
const MAX_KEYS = 256;
const MAX_ARTIFACTS = 4096;

export interface ManifestKey {
  readonly name: string;
  readonly id: string;
  readonly supersedes: string | null;
  readonly algorithm: Algorithm;
  readonly phase: Phase;
  readonly kcv: string | null;
  readonly notBefore: number;
  /** `hmac-sha256:<hex>`, or null when the entry has no `binding` member. */
  readonly binding: string | null;
}

export interface Artifact {
  readonly path: string;
  readonly sha256: string;
  readonly bytes: number;
}

export interface Manifest {
  readonly ceremony: string;
  readonly sequence: number;
  readonly previous: string | null;
  readonly custodianSet: number;
  readonly issued: number;
  readonly expires: number;
  readonly actor: string;
  readonly keys: readonly ManifestKey[];
  readonly artifacts: readonly Artifact[];
  readonly digest: string;
}

/** `webhook-v4` → { prefix: 'webhook', version: 4 }. */
export function splitKeyId(id: string): { prefix: string; version: number } | null {
  const at = versionAt(id);
  return at < 0 ? null : { prefix: id.slice(0, at), version: Number(id.slice(at + 2)) };
}

/** Index of the "-v" before the version digits ([1-9][0-9]{0,14}, to the end), or -1. */
function versionAt(id: string): number {
  const at = id.lastIndexOf('-v');
  // at most 15 digits, so that the version is an exact integer (Number() rounds beyond 2^53)
  if (at <= 0 || at + 2 >= id.length || id.length - at - 2 > 15) return -1;
  const first = id.charCodeAt(at + 2);
  if (first < 0x31 || first > 0x39) return -1;
  for (let i = at + 3; i < id.length; i++) {
    const c = id.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
  }
  return at;
}

/** True when `older` is the version directly before `id` of the same key (`webhook-v3` before `webhook-v4`). */
function directlyPrecedes(older: string, id: string): boolean {
  const a = versionAt(id);
  const b = versionAt(older);
  return a >= 0 && b === a && id.startsWith(older.slice(0, b)) && Number(older.slice(b + 2)) === Number(id.slice(a + 2)) - 1;
}

/** Forward slashes, no `..` or `.` segment, no leading `/`, no empty segment, no backslash or control characters. */
export function artifactPathProblem(p: string): string | null {
  if (p.length === 0 || p.length > 1024) return 'empty or longer than 1024 characters';
  if (p.startsWith('/')) return 'absolute (leading /)';
  if (/[\\\u0000-\u001f\u007f]/.test(p)) return 'has a backslash or a control character';
  if (/^[A-Za-z]:/.test(p)) return 'has a drive letter';
  for (const seg of p.split('/')) {
    if (seg === '..') return 'climbs out of the folder (..)';
    if (seg === '' || seg === '.') return 'has an empty or "." segment';
  }
  return null;
}

const NAME_RULE = { pattern: KEY_NAME, what: 'an environment-variable name (MASTER_KEY)' };
const ID_RULE = { pattern: KEY_ID, max: 128, what: 'a versioned key id (webhook-v4)' };
const SUPERSEDES_RULE = { pattern: KEY_ID, max: 128, what: 'a versioned key id or null' };
const KCV_RULE = { pattern: KCV, what: '6 lowercase hex digits or null' };
const BINDING_RULE = { pattern: BINDING, what: 'hmac-sha256:<64 lowercase hex>', code: 'MANIFEST_BINDING_INVALID' };

const KEY_MEMBERS = ['name', 'id', 'supersedes', 'algorithm', 'phase', 'kcv', 'notBefore'] as const;
/** With the optional `binding` (FORMATS.md §4): an entry has exactly these members when it has one. */
const KEY_MEMBERS_BOUND = [...KEY_MEMBERS, 'binding'] as const;
type KeyPaths = { readonly $: string } & { readonly [m in (typeof KEY_MEMBERS_BOUND)[number]]: string };
/** The paths of keys[i] and its members, built once per index instead of once per document. */
const keyPathCache: KeyPaths[] = [];

function keyPaths(i: number): KeyPaths {
  let p = keyPathCache[i];
  if (p === undefined) {
    const base = `keys[${i}]`;
    p = Object.freeze(Object.fromEntries([['$', base], ...KEY_MEMBERS_BOUND.map((m) => [m, `${base}.${m}`])])) as KeyPaths;
    keyPathCache[i] = p;
  }
  return p;
}

/**
 * What FORMATS.md §4 says of `kcv` and `binding` together, or null when they agree:
 * - `binding` only for HMAC-SHA256, JWT-HS256 and TOKEN;
 * - for those algorithms the KCV is "the first 3 bytes of the binding, so null when there is no
 *   binding". `kcv` stays "null or the key check value" for every algorithm, so an entry with a
 *   binding may still leave `kcv` null; one that gives a KCV must give exactly those 3 bytes.
 */
export function bindingProblem(algorithm: Algorithm, kcv: string | null, binding: string | null): { code: string; member: 'kcv' | 'binding'; message: string } | null {
  const bound = BINDING_ALGORITHMS.includes(algorithm);
  if (binding !== null && !bound) return { code: 'MANIFEST_BINDING_NOT_ALLOWED', member: 'binding', message: `a binding is allowed only for ${BINDING_ALGORITHMS.join(', ')}, not ${algorithm}` };
  if (!bound || kcv === null) return null;
  if (binding === null) return { code: 'MANIFEST_KCV_WITHOUT_BINDING', member: 'kcv', message: `the KCV of a ${algorithm} secret is the first 3 bytes of its binding, so null when there is no binding` };
  const want = binding.slice(BINDING_PREFIX.length, BINDING_PREFIX.length + 6);
  return kcv === want ? null : { code: 'MANIFEST_KCV_MISMATCH', member: 'kcv', message: `${kcv} is not the first 3 bytes of the binding (${want})` };
}

/** True when the entry object has its own `binding` member (then it is read, and required to be valid). */
function hasBinding(v: JsonObject[string] | undefined): boolean {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && Object.hasOwn(v, 'binding');
}

/**
 * The common case, accepted without building any problem: a key entry for which every check of
 * readKey passes (the same predicates, joined by "and"). Anything else returns undefined and goes
 * through readKey, which reports every problem by path; a property test holds the two together.
 */
export function acceptKey(v: JsonObject[string] | undefined): ManifestKey | undefined {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const o = v as JsonObject;
  const bound = Object.hasOwn(o, 'binding');
  if (Object.keys(o).length !== (bound ? KEY_MEMBERS_BOUND : KEY_MEMBERS).length) return undefined;
  const { name, id, supersedes, algorithm, phase, kcv, notBefore } = o;
  // a binding member is a binding string: `"binding": null` is refused (readKeyReporting says why), not read as none
  const binding = bound ? o.binding : null;
  if (bound && typeof binding !== 'string') return undefined;
  if (typeof name !== 'string' || !KEY_NAME.test(name)) return undefined;
  if (typeof id !== 'string' || id.length > 128 || !KEY_ID.test(id)) return undefined;
  if (supersedes !== null && (typeof supersedes !== 'string' || supersedes.length > 128 || !KEY_ID.test(supersedes) || !directlyPrecedes(supersedes, id))) return undefined;
  if (typeof algorithm !== 'string' || !(ALGORITHMS as readonly string[]).includes(algorithm)) return undefined;
  if (typeof phase !== 'string' || !(PHASES as readonly string[]).includes(phase)) return undefined;
  if (kcv !== null && (typeof kcv !== 'string' || !KCV.test(kcv))) return undefined;
  if (binding !== null && (typeof binding !== 'string' || !BINDING.test(binding))) return undefined;
  if (bindingProblem(algorithm as Algorithm, kcv, binding) !== null) return undefined;
  if (typeof notBefore !== 'string') return undefined;
  const t = parseTime(notBefore);
  if (t === null || !Object.hasOwn(o, 'name') || !Object.hasOwn(o, 'id') || !Object.hasOwn(o, 'supersedes') || !Object.hasOwn(o, 'algorithm')
    || !Object.hasOwn(o, 'phase') || !Object.hasOwn(o, 'kcv') || !Object.hasOwn(o, 'notBefore')) return undefined;
  return Object.freeze({ name, id, supersedes, algorithm: algorithm as Algorithm, phase: phase as Phase, kcv, notBefore: t, binding });
}

function readKey(f: Fields, v: JsonObject[string] | undefined, i: number): ManifestKey | undefined {
  return acceptKey(v) ?? readKeyReporting(f, v, i);
}

/** keys[i] read with every problem recorded in f by path. */
export function readKeyReporting(f: Fields, v: JsonObject[string] | undefined, i: number): ManifestKey | undefined {
  const path = keyPaths(i);
  const o = f.object(v, path.$, hasBinding(v) ? KEY_MEMBERS_BOUND : KEY_MEMBERS);
  if (o === undefined) return undefined;
  const name = f.string(o.name, path.name, NAME_RULE);
  const id = f.string(o.id, path.id, ID_RULE);
  const supersedes = f.nullableString(o.supersedes, path.supersedes, SUPERSEDES_RULE);
  const algorithm = f.oneOf(o.algorithm, path.algorithm, ALGORITHMS);
  const phase = f.oneOf(o.phase, path.phase, PHASES);
  const kcv = f.nullableString(o.kcv, path.kcv, KCV_RULE);
  const notBefore = f.time(o.notBefore, path.notBefore);
  // optional (FORMATS.md §4); when present it must be a binding: `null` is no way to write "none"
  const binding = Object.hasOwn(o, 'binding') ? f.string(o.binding, path.binding, BINDING_RULE) : null;
  if (algorithm !== undefined && kcv !== undefined && binding !== undefined) {
    const why = bindingProblem(algorithm, kcv, binding);
    if (why !== null) f.add(why.code, path[why.member], why.message);
  }
  if (id !== undefined && supersedes !== undefined && supersedes !== null && !directlyPrecedes(supersedes, id)) {
    const a = splitKeyId(id);
    f.add('MANIFEST_SUPERSEDES_INVALID', path.supersedes, `${id} can only supersede ${a === null || a.version < 2 ? 'nothing (null)' : `${a.prefix}-v${a.version - 1}`}`);
    return undefined;
  }
  if (name === undefined || id === undefined || supersedes === undefined || algorithm === undefined || phase === undefined || kcv === undefined || notBefore === undefined
    || binding === undefined || bindingProblem(algorithm, kcv, binding) !== null) return undefined;
  return Object.freeze({ name, id, supersedes, algorithm, phase, kcv, notBefore, binding });
}

export function parseManifest(payload: Uint8Array): Manifest {
  const json = readJson(payload, MAX_PAYLOAD_BYTES, 'the rotation manifest');
  const f = new Fields();
  const o = f.object(json, '$', ['spec', 'ceremony', 'sequence', 'previous', 'custodianSet', 'issued', 'expires', 'actor', 'keys', 'artifacts']);
  if (o === undefined) throw new DocumentError(f.problems, 'the rotation manifest');
  const spec = f.string(o.spec, 'spec');
  if (spec !== undefined && spec !== SPECS.rotation) f.add('DOCUMENT_WRONG_SPEC', 'spec', `expected "${SPECS.rotation}"`);
  const ceremony = f.string(o.ceremony, 'ceremony', { pattern: CEREMONY_ID, what: 'a ceremony id (letters, digits, . _ -; up to 128)' });
  const sequence = f.integer(o.sequence, 'sequence', 1);
  const previous = f.nullableString(o.previous, 'previous', { pattern: DIGEST, what: 'sha256:<64 hex> or null' });
  if (sequence !== undefined && previous !== undefined) {
    if (sequence === 1 && previous !== null) f.add('MANIFEST_PREVIOUS_INVALID', 'previous', 'must be null on sequence 1');
    if (sequence > 1 && previous === null) f.add('MANIFEST_PREVIOUS_INVALID', 'previous', `must be the digest of manifest ${sequence - 1}`);
  }
  const custodianSet = f.integer(o.custodianSet, 'custodianSet', 1);
  const issued = f.time(o.issued, 'issued');
  const expires = f.time(o.expires, 'expires');
  if (issued !== undefined && expires !== undefined && issued > expires) f.add('MANIFEST_VALIDITY_INVALID', 'expires', 'expires before it is issued');
  const actor = f.string(o.actor, 'actor', { pattern: CUSTODIAN_ID, what: 'a custodian id' });
  const keyList = f.array(o.keys, 'keys', { min: 1, max: MAX_KEYS });
  const keys: ManifestKey[] = [];
  const seen = new Set<string>();
  keyList?.forEach((k, i) => {
    const key = readKey(f, k, i);
    if (key === undefined) return;
    if (seen.has(key.id)) f.add('MANIFEST_KEY_DUPLICATE', `keys[${i}].id`, `key id ${key.id} appears twice`);
    seen.add(key.id);
    // §4: "notBefore is a time, with issued ≤ notBefore ≤ expires"
    if (issued !== undefined && expires !== undefined && (key.notBefore < issued || key.notBefore > expires)) {
      f.add('MANIFEST_NOT_BEFORE_OUTSIDE', `keys[${i}].notBefore`, `${formatTime(key.notBefore)} is outside the manifest's validity, ${formatTime(issued)} to ${formatTime(expires)}`);
    }
    keys.push(key);
  });
  const artList = f.array(o.artifacts, 'artifacts', { max: MAX_ARTIFACTS });
  const artifacts: Artifact[] = [];
  const paths = new Set<string>();
  artList?.forEach((a, i) => {
    const path = `artifacts[${i}]`;
    const ao = f.object(a, path, ['path', 'sha256', 'bytes']);
    if (ao === undefined) return;
    const p = f.string(ao.path, `${path}.path`);
    const why = p === undefined ? null : artifactPathProblem(p);
    if (why !== null) f.add('MANIFEST_ARTIFACT_PATH_INVALID', `${path}.path`, `${JSON.stringify(p?.slice(0, 80))} ${why}`);
    else if (p !== undefined && paths.has(p)) f.add('MANIFEST_ARTIFACT_DUPLICATE', `${path}.path`, `${p} is listed twice`);
    const sha = f.string(ao.sha256, `${path}.sha256`, { pattern: HEX64, what: 'a lowercase hex SHA-256' });
    const bytes = f.integer(ao.bytes, `${path}.bytes`, 0);
    if (p !== undefined && why === null && sha !== undefined && bytes !== undefined) {
      paths.add(p);
      artifacts.push(Object.freeze({ path: p, sha256: sha, bytes }));
    }
  });
  if (f.problems.length > 0 || ceremony === undefined || sequence === undefined || previous === undefined || custodianSet === undefined
    || issued === undefined || expires === undefined || actor === undefined) {
    throw new DocumentError(f.problems, 'the rotation manifest');
  }
  // The digest is needed only to chain manifests (--previous); hashing every parsed payload up
  // front cost ~1% of verification, so it is computed on first use.
  let digest: string | undefined;
  return Object.freeze({ ceremony, sequence, previous, custodianSet, issued, expires, actor, keys: Object.freeze(keys), artifacts: Object.freeze(artifacts),
    get digest(): string { digest ??= payloadDigest(payload); return digest; } });
}

/**
 * Where a manifest that follows `prior` (a rotation manifest envelope) stands in the chain of
 * manifests (FORMATS.md §4): its sequence is one more, and `previous` is the digest of the prior
 * payload. Without a prior manifest it is the first: sequence 1, previous null.
 */
export function followOn(prior: Uint8Array | undefined): { sequence: number; previous: string | null } {
  if (prior === undefined) return { sequence: 1, previous: null };
  const env = parseEnvelope(prior);
  if (env.payloadType !== PAYLOAD_TYPES.rotation) throw new DocumentError([problem('DOCUMENT_UNEXPECTED_TYPE', 'payloadType', `the previous document is ${env.payloadType}, not a rotation manifest`)], 'the previous manifest');
  const prev = parseManifest(env.payload);
  return { sequence: prev.sequence + 1, previous: prev.digest };
}

export interface ManifestDraft {
  readonly ceremony: string;
  readonly sequence: number;
  readonly previous: string | null;
  readonly custodianSet: number;
  readonly issued: string;
  readonly expires: string;
  readonly actor: string;
  /** `binding` (FORMATS.md §4): keyBinding of the secret; absent or null when the entry has none. */
  readonly keys: readonly { name: string; id: string; supersedes: string | null; algorithm: string; phase: string; kcv: string | null; notBefore: string; binding?: string | null | undefined }[];
  readonly artifacts: readonly Artifact[];
}

/** Payload bytes of a manifest; parsed back at once so nothing invalid is ever written. */
export function buildManifest(d: ManifestDraft): Uint8Array {
  const payload = { spec: SPECS.rotation, ceremony: d.ceremony, sequence: d.sequence, previous: d.previous, custodianSet: d.custodianSet, issued: d.issued,
    expires: d.expires, actor: d.actor, keys: d.keys.map((k) => ({ name: k.name, id: k.id, supersedes: k.supersedes, algorithm: k.algorithm, phase: k.phase, kcv: k.kcv,
      // written only when there is one: a document with "binding": null does not parse (§4 gives no null)
      ...(k.binding === undefined || k.binding === null ? {} : { binding: k.binding }), notBefore: k.notBefore })),
    artifacts: d.artifacts.map((a) => ({ path: a.path, sha256: a.sha256, bytes: a.bytes })) };
  const bytes = new TextEncoder().encode(`${JSON.stringify(payload, null, 2)}\n`);
  parseManifest(bytes);
  return bytes;
}

/** FORMATS.md §4: the ASCII message `keyceremony/binding@1`, one 0x00 byte, then the entry's id. */
const BINDING_LABEL = 'keyceremony/binding@1';

/**
 * The `binding` of a key entry (FORMATS.md §4): `hmac-sha256:` and the HMAC-SHA256, keyed by the
 * secret's bytes, of `keyceremony/binding@1` 0x00 `id`. Whoever holds the secret recomputes it to
 * prove that it is the one the custodians approved; it reveals nothing of the secret.
 *
 * The caller owns `secret` and zeroes it. node:crypto copies the key into OpenSSL's own memory,
 * which JavaScript can neither reach nor clear: that copy lives until the garbage collector frees
 * the HMAC object.
 */
export function keyBinding(secret: Uint8Array, id: string): string {
  ensureBytes('secret', secret);
  if (secret.length === 0) throw new RangeError('"secret" expected at least 1 byte, got 0');
  if (typeof id !== 'string') throw new TypeError(`"id" expected string, got ${id === null ? 'null' : typeof id}`);
  if (id.length > 128 || !KEY_ID.test(id)) throw new RangeError('"id" expected a versioned key id (webhook-v4)');
  const message = Buffer.concat([Buffer.from(BINDING_LABEL, 'ascii'), Buffer.of(0), Buffer.from(id, 'ascii')]);
  return `${BINDING_PREFIX}${createHmac('sha256', secret).update(message).digest('hex')}`;
}

/** True when `secret` is the secret that `binding` (of the entry `id`) was made from; compared in constant time. */
export function bindingMatches(secret: Uint8Array, id: string, binding: string): boolean {
  if (typeof binding !== 'string') throw new TypeError(`"binding" expected string, got ${binding === null ? 'null' : typeof binding}`);
  if (!BINDING.test(binding)) return false;
  const mine = Buffer.from(keyBinding(secret, id), 'ascii');
  return timingSafeEqual(mine, Buffer.from(binding, 'ascii'));
}

export { parseTime };
