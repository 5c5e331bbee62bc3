/**
 * Key state at a time T (FORMATS.md §8, CLI.md `keyceremony state`): which version of each key
 * signs, which must still be accepted, and which are pending, retired, revoked or compromised.
 * The answer comes only from a verified chain of rotation manifests: when any rule of §8 fails,
 * the result is invalid with every reason found, and no key state is given at all (an invalid
 * history is never partially trusted, §7).
 *
 * Pure and total: bytes in, a result out, whatever the bytes hold (hostile input gives reasons,
 * never an exception). For the CLI, the app and pipelines alike.
 */
import { formatTime } from '../docs/fields.js';
import { formatProblem } from '../docs/problems.js';
import { applyEntries, stateChanges, statesAt } from './machine.js';
import type { NameState } from './machine.js';
import { readHistory } from './history.js';
import type { Manifest } from '../manifest/manifest.js';

export type { NameState } from './machine.js';

export interface KeyStateOptions {
  /** T, ms since the epoch (CLI `--at`, else now). */
  readonly at: number;
  /** `sha256:<hex>` that the root custodian set's payload digest must equal (CLI `--root-digest`). */
  readonly rootDigest?: string | undefined;
}

/** Exactly the members of CLI.md `state --json`, in its order. */
export interface KeyStateResult {
  readonly valid: boolean;
  /** T, RFC 3339. */
  readonly at: string;
  /** n, the last sequence number of the chain; null when not valid. */
  readonly sequence: number | null;
  /** `sha256:` digest of manifest n's payload; null when not valid. */
  readonly tip: string | null;
  /** Key name → state; `{}` when not valid. */
  readonly keys: Readonly<Record<string, NameState>>;
  /** `CODE: path: what`, every reason the chain is invalid. */
  readonly reasons: readonly string[];
  readonly warnings: readonly string[];
}

/**
 * FORMATS.md §8 over custodian-set files (the chain from the trusted root, in order) and
 * rotation-manifest files (any order; the same payload given twice counts once).
 */
export function keyState(chainFiles: readonly Uint8Array[], manifestFiles: readonly Uint8Array[], o: KeyStateOptions): KeyStateResult {
  return keyStatesAt(chainFiles, manifestFiles, o, []).result;
}

/** keyState at T, and the keys of the same chain at other times. */
export interface KeyStates {
  readonly result: KeyStateResult;
  /** Key name → state at each of the times asked, in their order; [] when the chain is not valid at T. */
  readonly at: readonly Readonly<Record<string, NameState>>[];
}

/** keyState at T, with the chain's manifests when it is valid (none otherwise). */
function evaluate(chainFiles: readonly Uint8Array[], manifestFiles: readonly Uint8Array[], o: KeyStateOptions, times: readonly number[]): { result: KeyStateResult; manifests: readonly Manifest[] } {
  if (!Array.isArray(chainFiles)) throw new TypeError('"chainFiles" expected an array of Uint8Array');
  if (!Array.isArray(manifestFiles)) throw new TypeError('"manifestFiles" expected an array of Uint8Array');
  if (typeof o?.at !== 'number' || !Number.isSafeInteger(o.at)) throw new TypeError('"at" expected ms since the epoch, a whole number');
  if (!Array.isArray(times) || !times.every((t) => Number.isSafeInteger(t))) throw new TypeError('"times" expected an array of ms since the epoch, whole numbers');
  const history = readHistory(chainFiles, manifestFiles, o);
  const applied = applyEntries(history.manifests, o.at);
  const reasons = [...history.reasons, ...applied.reasons].map(formatProblem);
  const warnings = history.warnings.map(formatProblem);
  const valid = reasons.length === 0;
  const tip = valid ? history.manifests.at(-1) : undefined;
  const result: KeyStateResult = Object.freeze({
    valid,
    at: formatTime(o.at),
    sequence: tip?.sequence ?? null,
    tip: tip?.digest ?? null,
    keys: valid ? applied.keys : Object.freeze({}),
    reasons: Object.freeze(reasons),
    warnings: Object.freeze(warnings),
  });
  return { result, manifests: valid ? history.manifests : [] };
}

/**
 * keyState at `o.at`, and, when the chain is valid then, its keys at each of `times` (the app's
 * time line asks at every `notBefore` of the chain). One reading of the history serves all: a
 * chain's validity depends on T only through §3.5, so the state at another time is the entries in
 * effect then, applied by the same machine. No second reading of §8, and no signature checked twice;
 * the entries are applied once for all the times (statesAt).
 */
export function keyStatesAt(chainFiles: readonly Uint8Array[], manifestFiles: readonly Uint8Array[], o: KeyStateOptions, times: readonly number[]): KeyStates {
  const { result, manifests } = evaluate(chainFiles, manifestFiles, o, times);
  return Object.freeze({ result, at: Object.freeze(result.valid ? statesAt(manifests, times) : []) });
}

/** keyState at T, and the states of the same chain at other times as they change (see StateChanges). */
export interface KeyStateChanges {
  readonly result: KeyStateResult;
  /** Every key name of the chain, as keyState lists them; [] when the chain is not valid at T. */
  readonly names: readonly string[];
  /** For each of the times asked: the names whose state there may differ from the time before, with it; [] when not valid at T. */
  readonly changes: readonly ReadonlyMap<string, NameState>[];
}

/** keyStatesAt, for `times` in ascending order, as the changes from one time to the next rather than every name at every time. */
export function keyStateChanges(chainFiles: readonly Uint8Array[], manifestFiles: readonly Uint8Array[], o: KeyStateOptions, times: readonly number[]): KeyStateChanges {
  const { result, manifests } = evaluate(chainFiles, manifestFiles, o, times);
  if (!result.valid) return Object.freeze({ result, names: [], changes: [] });
  const { names, changes } = stateChanges(manifests, times);
  return Object.freeze({ result, names, changes });
}
