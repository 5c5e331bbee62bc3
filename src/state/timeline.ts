/**
 * Key state over time (issue 17 item 5): for each key name, each version's states on a time line,
 * from a chain that FORMATS.md §8 finds valid. Nothing of §8 is read here a second time: the states
 * are keyStatesAt's (./state.ts, as keyStateChanges gives them) at each change point of the chain, the distinct `notBefore` of its
 * key entries (the state at T changes only when an entry takes effect). What this module adds is
 * the reading: runs of one state become segments, and each segment names the entries that took
 * effect at its start and moved the version (as their `id`, or as the `supersedes` of a cutover or
 * a revoke), with their manifest: sequence, digest, and who signed it, counted against the custodian
 * set it names (§6).
 *
 * Pure: bytes in, a time line out; a chain that is not valid at T gives keyStatesAt's reasons and
 * no time line.
 */
import { parseCustodianSet } from '../custodians/set.js';
import type { CustodianSet } from '../custodians/set.js';
import { DocumentError } from '../docs/problems.js';
import { PAYLOAD_TYPES } from '../docs/types.js';
import { parseEnvelope, signedBytesOf } from '../dsse/envelope.js';
import type { Envelope } from '../dsse/envelope.js';
import { KeyceremonyError } from '../errors.js';
import { parseManifest } from '../manifest/manifest.js';
import type { Manifest, ManifestKey } from '../manifest/manifest.js';
import { countSignatures } from '../verify/threshold.js';
import { versionOrder } from './machine.js';
import type { NameState, VersionState } from './machine.js';
import { keyStateChanges } from './state.js';
import type { KeyStateOptions, KeyStateResult } from './state.js';

/**
 * At most this many change points, and at most MAX_ENTRIES key entries: a time line wider or longer
 * than a person reads. The entries are applied once for all change points (keyStateChanges), and
 * each change point costs only the names that change there, so both bounds at once (510 change
 * points, 8160 entries, all of one name) draw in well under a second; no bound on their product is
 * needed (it was 2^20 while every entry was applied again at each change point: 20 s for both bounds).
 */
export const MAX_CHANGES = 512;
/** At most this many key entries across the manifests. */
export const MAX_ENTRIES = 8192;

/**
 * The phases whose entry acts on its `supersedes` as well (§8 table: cutover retires old, revoke
 * revokes it); a prepare or dual-publish names the version it will replace without moving it. Only
 * for saying which entries moved a version: the states themselves are keyStatesAt's.
 */
const MOVES_SUPERSEDED: ReadonlySet<ManifestKey['phase']> = new Set(['cutover', 'revoke']);

/** An entry of the chain that took effect at a segment's start and moved its version. */
export interface Move {
  readonly sequence: number;
  /** Its position in the manifest's `keys`. */
  readonly index: number;
  readonly phase: ManifestKey['phase'];
  /** ms since the epoch. */
  readonly notBefore: number;
  /** How it names the version: as its `id`, or as the version it `supersedes`. */
  readonly as: 'id' | 'supersedes';
}

export interface Segment {
  readonly state: VersionState;
  /** Index into `changes` where the state begins. */
  readonly from: number;
  /** Index into `changes` where the next state begins; `changes.length` when it lasts. */
  readonly to: number;
  /** It begins after T: signed, but not yet in effect (§8: "reported as scheduled"). */
  readonly scheduled: boolean;
  /** The entries that took effect at `changes[from]` and moved this version, in effect order. */
  readonly moves: readonly Move[];
}

export interface VersionLine {
  readonly id: string;
  readonly segments: readonly Segment[];
}

export interface NameLine {
  readonly name: string;
  /** The name's state at T, exactly keyState's. */
  readonly now: NameState;
  /** Its versions in version order (v9 before v10). */
  readonly versions: readonly VersionLine[];
}

export interface ManifestInfo {
  readonly sequence: number;
  /** `sha256:` digest of its payload. */
  readonly digest: string;
  readonly ceremony: string;
  readonly actor: string;
  readonly issued: number;
  readonly expires: number;
  readonly custodianSet: number;
  readonly threshold: number;
  /** Custodian ids whose signatures counted against set `custodianSet`, in signature order. */
  readonly signers: readonly string[];
  /** The first of the manifest files given that holds it (its index). */
  readonly file: number;
}

export interface Timeline {
  /** keyState at T: whether the chain is valid, its reasons and warnings. */
  readonly result: KeyStateResult;
  /**
   * ms since the epoch, ascending: every distinct `notBefore` of the chain before its newest
   * custodian set expires, then that expiry when an entry takes effect at or after it (no state
   * from there on, as keyState gives none); [] when not valid.
   */
  readonly changes: readonly number[];
  /** Names in code-unit order, as keyState lists them. */
  readonly names: readonly NameLine[];
  /** The chain's manifests in sequence order. */
  readonly manifests: readonly ManifestInfo[];
}

interface Read { readonly env: Envelope; readonly manifest: Manifest; readonly file: number }

/** The manifests of a valid chain, once each (by digest), in sequence order. */
function manifestsOf(files: readonly Uint8Array[]): Read[] {
  const byDigest = new Map<string, Read>();
  files.forEach((bytes, file) => {
    const env = parseEnvelope(bytes);
    const manifest = parseManifest(env.payload);
    if (!byDigest.has(manifest.digest)) byDigest.set(manifest.digest, { env, manifest, file });
  });
  return [...byDigest.values()].sort((a, b) => a.manifest.sequence - b.manifest.sequence);
}

/** Each version's state in a name's state at one time (keyState's lists read back); a version the chain has not named yet is absent. */
function statesIn(n: NameState | undefined): Map<string, VersionState> {
  const out = new Map<string, VersionState>();
  if (n === undefined) return out;
  for (const s of ['pending', 'retired', 'revoked', 'compromised'] as const) for (const id of n[s]) out.set(id, s);
  for (const id of n.accept) out.set(id, 'accepted');
  if (n.current !== null) out.set(n.current, 'current');
  return out;
}

/**
 * The time line of a chain: keyState at `o.at` (T), and when it is valid, each version's states
 * between the chain's change points. KeyceremonyError STATE_TIMELINE_TOO_LONG when the chain has
 * more than MAX_CHANGES distinct `notBefore`.
 */
export function keyTimeline(chainFiles: readonly Uint8Array[], manifestFiles: readonly Uint8Array[], o: KeyStateOptions): Timeline {
  const notBefores = changePoints(manifestFiles);
  const states = keyStateChanges(chainFiles, manifestFiles, o, notBefores);
  const { result } = states;
  if (!result.valid) return Object.freeze({ result, changes: [], names: [], manifests: [] });
  const sets = new Map(chainFiles.map((bytes) => parseCustodianSet(parseEnvelope(bytes).payload)).map((set) => [set.version, set]));
  // §3.5: from the newest set's expiry on, the chain is valid at no time, and keyState gives no state
  // then; entries scheduled from then on are no state either. That expiry ends every segment.
  const expires = (sets.get(Math.max(...sets.keys())) as CustodianSet).expires;
  const cut = notBefores.findIndex((c) => c >= expires);
  const changes = cut < 0 ? notBefores : [...notBefores.slice(0, cut), expires];
  // per name, its state at each change point where it may have changed (keyStateChanges), up to the cut; from the cut on, none
  const runs = new Map<string, { i: number; state: NameState | undefined }[]>(states.names.map((n) => [n, []]));
  states.changes.slice(0, cut < 0 ? undefined : cut).forEach((changed, i) => {
    for (const [n, state] of changed) runs.get(n)?.push({ i, state });
  });
  if (cut >= 0) for (const list of runs.values()) list.push({ i: cut, state: undefined });
  const read = manifestsOf(manifestFiles);
  // the entries taking effect at each change point, in effect order (§8: `notBefore`, then `sequence`, then position in `keys`)
  const atTime = new Map<number, { key: ManifestKey; sequence: number; index: number }[]>();
  for (const { manifest: m } of read) {
    m.keys.forEach((key, index) => {
      const here = atTime.get(key.notBefore) ?? [];
      here.push({ key, sequence: m.sequence, index });
      atTime.set(key.notBefore, here);
    });
  }
  const movesOf = (id: string, t: number): Move[] => (atTime.get(t) ?? []).filter((e) => e.key.id === id || (e.key.supersedes === id && MOVES_SUPERSEDED.has(e.key.phase)))
    .map((e) => ({ sequence: e.sequence, index: e.index, phase: e.key.phase, notBefore: t, as: e.key.id === id ? 'id' : 'supersedes' }));
  const names = Object.entries(result.keys).map(([name, now]): NameLine => {
    // a version once named keeps a state (it only moves forward) while the chain is valid, so the last change point before the cut lists them all
    const list = runs.get(name) ?? [];
    const ids = [...statesIn(list.findLast((r) => r.state !== undefined)?.state).keys()].sort(versionOrder);
    const segments = new Map<string, Segment[]>(ids.map((id) => [id, []]));
    const open = new Map<string, { state: VersionState; from: number }>();
    const close = (id: string, to: number) => {
      const run = open.get(id);
      if (run === undefined) return;
      const t = changes[run.from] as number;
      segments.get(id)?.push(Object.freeze({ state: run.state, from: run.from, to, scheduled: t > o.at, moves: Object.freeze(movesOf(id, t)) }));
      open.delete(id);
    };
    for (const { i, state } of list) {
      const states = statesIn(state);
      for (const id of ids) {
        const s = states.get(id);
        if (s === open.get(id)?.state) continue;
        close(id, i);
        if (s !== undefined) open.set(id, { state: s, from: i });
      }
    }
    for (const id of ids) close(id, changes.length);
    return Object.freeze({ name, now, versions: Object.freeze(ids.map((id) => Object.freeze({ id, segments: Object.freeze(segments.get(id) ?? []) }))) });
  });
  return Object.freeze({ result, changes: Object.freeze(changes), names: Object.freeze(names), manifests: Object.freeze(read.map((r) => manifestInfo(r, sets))) });
}

/**
 * The distinct `notBefore` of the manifests that parse, ascending (a file that does not parse makes
 * the chain invalid, which keyStatesAt reports). Refused beyond MAX_CHANGES before any state is
 * evaluated.
 */
function changePoints(files: readonly Uint8Array[]): number[] {
  const times = new Set<number>();
  let entries = 0;
  for (const bytes of files) {
    try {
      const env = parseEnvelope(bytes);
      if (env.payloadType !== PAYLOAD_TYPES.rotation) continue;
      const { keys } = parseManifest(env.payload);
      entries += keys.length;
      for (const k of keys) times.add(k.notBefore);
    } catch (err) {
      if (!(err instanceof DocumentError)) throw err;
    }
    if (times.size > MAX_CHANGES || entries > MAX_ENTRIES) {
      const what = times.size > MAX_CHANGES ? `more than ${MAX_CHANGES} different times` : `more than ${MAX_ENTRIES} key entries`;
      throw new KeyceremonyError('STATE_TIMELINE_TOO_LONG', `the manifests hold ${what}, more than one time line shows`,
        'load the manifests of one deployment\'s chain; keyceremony state on the command line answers for any single time');
    }
  }
  return [...times].sort((a, b) => a - b);
}

/** A manifest of the valid chain, with who signed it: §6 counting against the set it names (which the chain holds, or it would not be valid). */
function manifestInfo(r: Read, sets: ReadonlyMap<number, CustodianSet>): ManifestInfo {
  const m = r.manifest;
  const set = sets.get(m.custodianSet);
  // keyState found the chain valid, so every manifest's set is in it (MANIFEST_SET_UNKNOWN otherwise)
  if (set === undefined) throw new KeyceremonyError('INTERNAL_ERROR', `set version ${m.custodianSet} is not in a chain found valid`, 'this is a bug: report it', { exit: 3 });
  const count = countSignatures(r.env, signedBytesOf(r.env), set);
  return Object.freeze({ sequence: m.sequence, digest: m.digest, ceremony: m.ceremony, actor: m.actor, issued: m.issued, expires: m.expires, custodianSet: m.custodianSet,
    threshold: set.threshold, signers: Object.freeze([...count.signers]), file: r.file });
}
