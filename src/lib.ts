/**
 * The library entry for Node applications (`import { keyState } from 'keyceremony'`, built to
 * dist/lib/keyceremony.mjs with declarations in dist/lib/types): verify a signed document, a
 * custodian-set chain, and the key state of a manifest chain, and check at start that the secrets
 * a service loaded are the versions the custodians approved.
 *
 * Bytes in, results out, the same functions the command line runs (`verify`, `state`). Nothing
 * imported from here loads pkcs11js or touches a token (the build refuses a bundle that names it).
 */
import { parseEnvelope } from './dsse/envelope.js';
import { PAYLOAD_TYPES } from './docs/types.js';
import { bindingMatches, parseManifest } from './manifest/manifest.js';
import { keyState } from './state/state.js';
import type { KeyStateOptions, KeyStateResult } from './state/state.js';

export { verifyChain, verifyDocument, verifyWithChain } from './verify/verify.js';
export type { ChainResult, NewestRule, TrustedChain, VerifyOptions, VerifyResult } from './verify/verify.js';
export { keyState } from './state/state.js';
export type { KeyStateOptions, KeyStateResult, NameState } from './state/state.js';
export { payloadDigest } from './custodians/set.js';
export { keyBinding } from './manifest/manifest.js';

/** What checkSecrets found for one secret. */
export interface SecretCheck {
  /** The version whose `binding` the secret matches (FORMATS.md §4), or null. */
  readonly id: string | null;
  /** True when that version is accepted now (the current version or an `accepted` one). */
  readonly approved: boolean;
  /** True when it is the current version: the one that signs. */
  readonly current: boolean;
  /** `CODE: what` when not approved, else null. */
  readonly reason: string | null;
}

export interface SecretsResult {
  /** The manifest chain is valid and every secret given is approved. */
  readonly valid: boolean;
  /** keyState of the same files: the chain's reasons are here when it is not valid. */
  readonly state: KeyStateResult;
  /** Key name (the secret's environment-variable name) → what was found. */
  readonly secrets: Readonly<Record<string, SecretCheck>>;
}

const refused = (reason: string): SecretCheck => Object.freeze({ id: null, approved: false, current: false, reason });

/** id → every `binding` the manifests give it (a valid chain has parsed every file already). */
function bindingsOf(manifestFiles: readonly Uint8Array[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const file of manifestFiles) {
    const env = parseEnvelope(file);
    if (env.payloadType !== PAYLOAD_TYPES.rotation) continue;
    for (const k of parseManifest(env.payload).keys) {
      if (k.binding === null) continue;
      const set = out.get(k.id) ?? new Set<string>();
      set.add(k.binding);
      out.set(k.id, set);
    }
  }
  return out;
}

/**
 * For each secret a service loaded (key name → its bytes; the caller owns and zeroes them): is it
 * a version the custodians approved and that is accepted at `o.at`? The manifest chain is
 * verified first (keyState, FORMATS.md §8); then each secret is matched, in constant time,
 * against the signed `binding` of the name's accepted versions (§4). A name with no accepted
 * version, no binding to compare with, two different bindings for one id, or no match is refused
 * with its code.
 */
export function checkSecrets(chainFiles: readonly Uint8Array[], manifestFiles: readonly Uint8Array[], secrets: Readonly<Record<string, Uint8Array>>, o: KeyStateOptions): SecretsResult {
  if (secrets === null || typeof secrets !== 'object' || Array.isArray(secrets)) throw new TypeError('"secrets" expected an object of key name → Uint8Array');
  for (const [name, s] of Object.entries(secrets)) {
    if (!(s instanceof Uint8Array)) throw new TypeError(`"secrets.${name}" expected Uint8Array, got ${s === null ? 'null' : typeof s}`);
    if (s.length === 0) throw new RangeError(`"secrets.${name}" expected at least 1 byte, got 0`);
  }
  const state = keyState(chainFiles, manifestFiles, o);
  const out: Record<string, SecretCheck> = {};
  if (!state.valid) {
    for (const name of Object.keys(secrets)) out[name] = refused('CHAIN_INVALID: the manifest chain is not valid (see state.reasons)');
    return Object.freeze({ valid: false, state, secrets: Object.freeze(out) });
  }
  const bindings = bindingsOf(manifestFiles);
  for (const [name, secret] of Object.entries(secrets)) {
    const s = Object.hasOwn(state.keys, name) ? state.keys[name] : undefined;
    if (s === undefined || s.accept.length === 0) { out[name] = refused(`SECRET_NOT_ACCEPTED: ${name} has no accepted version at ${state.at}`); continue; }
    const conflict = s.accept.find((id) => (bindings.get(id)?.size ?? 0) > 1);
    if (conflict !== undefined) { out[name] = refused(`SECRET_BINDING_CONFLICT: the manifests give ${conflict} two different bindings`); continue; }
    const bound = s.accept.filter((id) => bindings.has(id));
    if (bound.length === 0) { out[name] = refused(`SECRET_NO_BINDING: no accepted version of ${name} (${s.accept.join(', ')}) has a binding to compare with`); continue; }
    const id = bound.find((v) => bindingMatches(secret, v, [...(bindings.get(v) as Set<string>)][0] as string)) ?? null;
    out[name] = id === null
      ? refused(`SECRET_NOT_APPROVED: the secret loaded for ${name} matches the binding of no accepted version (${bound.join(', ')})`)
      : Object.freeze({ id, approved: true, current: id === s.current, reason: null });
  }
  return Object.freeze({ valid: Object.values(out).every((c) => c.approved), state, secrets: Object.freeze(out) });
}
