/**
 * Property tests of FORMATS.md §8's state machine:
 * - random valid phase sequences (built step by step from what the table allows) are valid, and at
 *   every T the state equals a model's: at most one current version per name, accept = current +
 *   accepted, nothing revoked or compromised ever accepted again;
 * - random arbitrary entries: applyEntries says valid exactly when a plain reading of the table
 *   does, and whenever it says valid the invariants above hold at every T;
 * - end to end: the same chains signed, shuffled and given to keyState.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { Algorithm, Manifest, ManifestKey, Phase } from '../../src/manifest/manifest.js';
import { applyEntries, stateChanges, statesAt } from '../../src/state/machine.js';
import type { NameState } from '../../src/state/machine.js';
import { chain, day, entry, ms, run } from './support.js';
import type { Step } from './support.js';

type State = 'pending' | 'accepted' | 'current' | 'retired' | 'revoked' | 'compromised';
const NAMES = [['WEBHOOK_SIGNING_SECRET', 'webhook'], ['MASTER_KEY', 'master']] as const;
const DAY = 24 * 3600 * 1000;

interface Move { name: string; id: string; supersedes: string | null; phase: Phase; day: number }

/** The model: each name's versions and their states, moved only as the §8 table allows. */
class Model {
  readonly versions = new Map<string, Map<number, State>>(NAMES.map(([n]) => [n, new Map()]));
  readonly next = new Map<string, number>(NAMES.map(([n]) => [n, 1]));

  /** The moves the table allows now for `name`. */
  allowed(name: string, prefix: string): Omit<Move, 'day'>[] {
    const vs = this.versions.get(name) as Map<number, State>;
    const id = (v: number) => `${prefix}-v${v}`;
    const sup = (v: number) => (v > 1 ? id(v - 1) : null);
    const current = [...vs].find(([, s]) => s === 'current')?.[0];
    const n = this.next.get(name) as number;
    const out: Omit<Move, 'day'>[] = [{ name, id: id(n), supersedes: sup(n), phase: 'prepare' }, { name, id: id(n), supersedes: null, phase: 'compromise' }];
    for (const [v, s] of vs) {
      if (s === 'pending') out.push({ name, id: id(v), supersedes: sup(v), phase: 'dual-publish' });
      if (s === 'accepted' && current === undefined) out.push({ name, id: id(v), supersedes: null, phase: 'cutover' });
      if (s === 'accepted' && current === v - 1) out.push({ name, id: id(v), supersedes: id(v - 1), phase: 'cutover' });
      if (s === 'current' && vs.get(v - 1) === 'retired') out.push({ name, id: id(v), supersedes: id(v - 1), phase: 'revoke' });
      out.push({ name, id: id(v), supersedes: sup(v), phase: 'compromise' });
    }
    return out;
  }

  apply(m: Omit<Move, 'day'>): void {
    const vs = this.versions.get(m.name) as Map<number, State>;
    const v = Number(m.id.slice(m.id.lastIndexOf('-v') + 2));
    const old = m.supersedes === null ? undefined : Number(m.supersedes.slice(m.supersedes.lastIndexOf('-v') + 2));
    if (v >= (this.next.get(m.name) as number)) this.next.set(m.name, v + 1);
    if (m.phase === 'prepare') vs.set(v, 'pending');
    if (m.phase === 'dual-publish') vs.set(v, 'accepted');
    if (m.phase === 'cutover') {
      if (old !== undefined) vs.set(old, 'retired');
      vs.set(v, 'current');
    }
    if (m.phase === 'revoke') vs.set(old as number, 'revoked');
    if (m.phase === 'compromise') vs.set(v, 'compromised');
  }

  /** What the state output must be for `name` (scheduled left to the caller). */
  expected(name: string, prefix: string): Omit<NameState, 'scheduled'> {
    const vs = [...(this.versions.get(name) as Map<number, State>)].sort((a, b) => a[0] - b[0]);
    const ids = (f: (s: State) => boolean) => vs.filter(([, s]) => f(s)).map(([v]) => `${prefix}-v${v}`);
    const current = ids((s) => s === 'current');
    expect(current.length).toBeLessThanOrEqual(1); // at most one current version, in the model too
    return { current: current[0] ?? null, accept: ids((s) => s === 'current' || s === 'accepted'), pending: ids((s) => s === 'pending'), retired: ids((s) => s === 'retired'), revoked: ids((s) => s === 'revoked'), compromised: ids((s) => s === 'compromised') };
  }
}

/** A step of the generator: which name, which allowed move, how many days later, whether a new manifest starts. */
const stepArb = fc.record({ name: fc.nat(NAMES.length - 1), pick: fc.nat(1000), advance: fc.constantFrom(0, 0, 1, 2), split: fc.boolean() });

/** Valid moves by construction, with a model snapshot after each. */
function validMoves(steps: readonly { name: number; pick: number; advance: number }[]): { moves: Move[]; snapshots: Map<string, Omit<NameState, 'scheduled'>>[] } {
  const model = new Model();
  const moves: Move[] = [];
  const snapshots: Map<string, Omit<NameState, 'scheduled'>>[] = [];
  let d = 1;
  for (const s of steps) {
    const [name, prefix] = NAMES[s.name] as (typeof NAMES)[number];
    const options = model.allowed(name, prefix);
    const m = options[s.pick % options.length] as Omit<Move, 'day'>;
    model.apply(m);
    d += s.advance;
    moves.push({ ...m, day: d });
    snapshots.push(new Map(NAMES.filter(([n]) => moves.some((x) => x.name === n)).map(([n, p]) => [n, model.expected(n, p)])));
  }
  return { moves, snapshots };
}

/** Moves grouped into manifests: a new one when asked, or when the id is already in the current one (ids are unique per manifest). */
function group(moves: readonly Move[], splits: readonly boolean[]): Move[][] {
  const out: Move[][] = [];
  moves.forEach((m, i) => {
    const last = out.at(-1);
    if (last === undefined || splits[i] === true || last.some((x) => x.id === m.id)) out.push([m]);
    else last.push(m);
  });
  return out;
}

function manifestsOf(groups: readonly Move[][]): Manifest[] {
  return groups.map((g, i) => {
    const issued = ms(day((g[0] as Move).day));
    const keys: ManifestKey[] = g.map((m) => ({ name: m.name, id: m.id, supersedes: m.supersedes, algorithm: 'HMAC-SHA256' as Algorithm, phase: m.phase, kcv: null, notBefore: ms(day(m.day)), binding: null }));
    return { ceremony: `c${i}`, sequence: i + 1, previous: null, custodianSet: 1, issued, expires: issued + 1000 * DAY, actor: 'alice', keys, artifacts: [], digest: `sha256:${String(i).padStart(64, '0')}` };
  });
}

/** Every name's lists are disjoint, the current version is accepted, nothing but current and accepted versions are. */
function checkShape(s: NameState): void {
  const lists = [s.accept, s.pending, s.retired, s.revoked, s.compromised];
  const all = lists.flat();
  expect(new Set(all).size).toBe(all.length);
  if (s.current !== null) expect(s.accept).toContain(s.current);
}

describe('random valid phase sequences', () => {
  test('are valid, and at every T the state is the model\'s: one current at most, nothing revoked or compromised accepted again', () => {
    fc.assert(fc.property(fc.array(stepArb, { minLength: 1, maxLength: 40 }), (steps) => {
      const { moves, snapshots } = validMoves(steps);
      const manifests = manifestsOf(group(moves, steps.map((s) => s.split)));
      const lastDay = (moves.at(-1) as Move).day;
      const gone = new Set<string>();
      for (let d = 0; d <= lastDay + 1; d++) {
        const r = applyEntries(manifests, ms(day(d)));
        expect(r.reasons).toEqual([]);
        const upTo = moves.map((m) => m.day <= d).lastIndexOf(true);
        for (const [name, prefix] of NAMES) {
          const s = r.keys[name];
          if (!moves.some((m) => m.name === name)) { expect(s).toBeUndefined(); continue; }
          const want = upTo < 0 ? { current: null, accept: [], pending: [], retired: [], revoked: [], compromised: [] } : (snapshots[upTo] as Map<string, Omit<NameState, 'scheduled'>>).get(name) ?? { current: null, accept: [], pending: [], retired: [], revoked: [], compromised: [] };
          const scheduled = [...new Set(moves.filter((m) => m.name === name && m.day > d).map((m) => m.id))].sort((a, b) => Number(a.slice(prefix.length + 2)) - Number(b.slice(prefix.length + 2)));
          expect(s).toEqual({ ...want, scheduled });
          checkShape(s as NameState);
          for (const id of gone) expect([...(s as NameState).accept, ...(s as NameState).pending]).not.toContain(id);
          for (const id of [...(s as NameState).revoked, ...(s as NameState).compromised]) gone.add(id);
        }
      }
    }), { numRuns: 300 });
  });
});

/** A plain reading of the §8 table, stopping at the first impossible step: valid or not. */
function tableSaysValid(manifests: readonly Manifest[]): boolean {
  const entries = manifests.flatMap((m) => m.keys.map((k, i) => ({ k, seq: m.sequence, i }))).sort((a, b) => a.k.notBefore - b.k.notBefore || a.seq - b.seq || a.i - b.i);
  const st = new Map<string, State>();
  const owner = new Map<string, string>();
  for (const { k } of entries) {
    for (const id of [k.id, k.supersedes]) {
      if (id === null) continue;
      if ((owner.get(id) ?? k.name) !== k.name) return false;
      owner.set(id, k.name);
    }
    const s = st.get(k.id);
    const currentOfName = [...st].filter(([id, x]) => x === 'current' && owner.get(id) === k.name && id !== k.id);
    switch (k.phase) {
      case 'prepare': if (s !== undefined) return false; st.set(k.id, 'pending'); break;
      case 'dual-publish': if (s !== 'pending') return false; st.set(k.id, 'accepted'); break;
      case 'cutover':
        if (s !== 'accepted') return false;
        if (k.supersedes === null ? currentOfName.length > 0 : st.get(k.supersedes) !== 'current') return false;
        if (k.supersedes !== null) st.set(k.supersedes, 'retired');
        st.set(k.id, 'current');
        break;
      case 'revoke':
        if (k.supersedes === null || s !== 'current' || st.get(k.supersedes) !== 'retired') return false;
        st.set(k.supersedes, 'revoked');
        break;
      default: st.set(k.id, 'compromised');
    }
  }
  return true;
}

describe('random arbitrary entries', () => {
  const moveArb = fc.record({
    name: fc.constantFrom('WEBHOOK_SIGNING_SECRET', 'MASTER_KEY'),
    version: fc.integer({ min: 1, max: 4 }),
    phase: fc.constantFrom<Phase>('prepare', 'dual-publish', 'cutover', 'revoke', 'compromise'),
    nullOld: fc.boolean(),
    day: fc.integer({ min: 1, max: 6 }),
  }).map(({ name, version, phase, nullOld, day: d }): Move => {
    const prefix = name === 'MASTER_KEY' ? 'master' : 'webhook';
    return { name, id: `${prefix}-v${version}`, supersedes: nullOld || version === 1 ? null : `${prefix}-v${version - 1}`, phase, day: d };
  });
  /** One change to a sequence: a random move inserted, a move dropped, its old version dropped, or its day moved. */
  const changeArb = fc.record({ at: fc.nat(60), kind: fc.constantFrom('insert', 'drop', 'null-old', 'day'), move: moveArb, shift: fc.integer({ min: -2, max: 2 }) });
  type Change = { at: number; kind: string; move: Move; shift: number };
  const changed = (moves: readonly Move[], changes: readonly Change[]): Move[] => {
    const out = [...moves];
    for (const c of changes) {
      const i = out.length === 0 ? 0 : c.at % out.length;
      const m = out[i];
      if (c.kind === 'insert' || m === undefined) out.splice(i, 0, { ...c.move, day: m?.day ?? c.move.day });
      else if (c.kind === 'drop') out.splice(i, 1);
      else if (c.kind === 'null-old') out[i] = { ...m, supersedes: null };
      else out[i] = { ...m, day: Math.max(1, m.day + c.shift) };
    }
    return out;
  };
  /** Random entries (a few) or valid sequences with one to three changes (most): near-valid chains probe each precondition alone. */
  const movesArb = fc.oneof(
    { weight: 1, arbitrary: fc.array(moveArb, { minLength: 1, maxLength: 14 }) },
    { weight: 4, arbitrary: fc.tuple(fc.array(stepArb, { minLength: 1, maxLength: 25 }), fc.array(changeArb, { minLength: 1, maxLength: 3 })).map(([steps, changes]) => changed(validMoves(steps).moves, changes)) },
  ).filter((moves) => moves.length > 0);

  test('valid exactly when the table allows every step; when valid, the invariants hold at every T', () => {
    let valid = 0;
    let invalid = 0;
    fc.assert(fc.property(movesArb, fc.array(fc.boolean(), { maxLength: 30 }), (moves, splits) => {
      const manifests = manifestsOf(group(moves, splits));
      const r = applyEntries(manifests, ms(day(100)));
      expect(r.reasons.length === 0).toBe(tableSaysValid(manifests));
      if (r.reasons.length > 0) { invalid++; return; }
      valid++;
      const gone = new Set<string>();
      const days = [...new Set(moves.map((m) => m.day))].sort((a, b) => a - b);
      for (const d of [0, ...days]) {
        for (const s of Object.values(applyEntries(manifests, ms(day(d))).keys)) {
          checkShape(s);
          for (const id of gone) expect([...s.accept, ...s.pending, ...s.retired]).not.toContain(id);
          for (const id of [...s.revoked, ...s.compromised]) gone.add(id);
        }
      }
    }), { numRuns: 2000 });
    // the property is not vacuous: both outcomes are common
    expect(valid).toBeGreaterThan(200);
    expect(invalid).toBeGreaterThan(200);
  });

  // one pass for many times (statesAt, stateChanges, under keyStatesAt and the time line) is applyEntries at each time
  test('one pass for many times: on valid and invalid chains (an id given to two names too), at times in any order, repeated, between and on the change points', () => {
    const other = (n: string) => (n === 'MASTER_KEY' ? 'WEBHOOK_SIGNING_SECRET' : 'MASTER_KEY');
    fc.assert(fc.property(movesArb, fc.array(fc.boolean(), { maxLength: 30 }), fc.array(fc.integer({ min: -1, max: 8 }), { maxLength: 12 }), fc.array(fc.nat(3), { maxLength: 12 }), fc.array(fc.nat(9), { maxLength: 30 }), (moves, splits, days, hours, swaps) => {
      // now and then an entry names the other key: one id then moves under two names
      const manifests = manifestsOf(group(moves.map((m, i) => (swaps[i] === 0 ? { ...m, name: other(m.name) } : m)), splits));
      const times = days.map((d, i) => ms(day(d)) + (hours[i] ?? 0) * 3600_000);
      const at = statesAt(manifests, times);
      expect(at).toHaveLength(times.length);
      times.forEach((t, i) => expect(at[i]).toEqual(applyEntries(manifests, t).keys));
      // the changes, applied one time after the other, are the same states
      const sorted = [...times].sort((a, b) => a - b);
      const { names, changes } = stateChanges(manifests, sorted);
      const now = new Map<string, NameState>();
      sorted.forEach((t, i) => {
        const want = applyEntries(manifests, t).keys;
        for (const [n, st] of changes[i] as ReadonlyMap<string, NameState>) now.set(n, st);
        expect(Object.fromEntries(names.map((n) => [n, now.get(n)]))).toEqual(want);
      });
    }), { numRuns: 1000 });
  });
  test('times out of order are refused by stateChanges', () => {
    expect(() => stateChanges([], [2, 1])).toThrow(RangeError);
  });
});

describe('end to end', () => {
  test('signed chains of valid steps, given in any order, verify and give applyEntries\' state', () => {
    fc.assert(fc.property(fc.array(stepArb, { minLength: 1, maxLength: 12 }), fc.nat(20), fc.func(fc.integer()), (steps, atDay, order) => {
      const { moves } = validMoves(steps);
      const groups = group(moves, steps.map((s) => s.split));
      const chainSteps: Step[] = groups.map((g) => ({ day: (g[0] as Move).day, over: { expires: day((g[0] as Move).day + 1000) }, keys: g.map((m) => entry(m.phase, m.id, { name: m.name, supersedes: m.supersedes, notBefore: day(m.day) })) }));
      const files = chain(chainSteps);
      const shuffled = files.map((f, i) => ({ f, k: order(i) })).sort((a, b) => a.k - b.k).map((x) => x.f);
      const r = run(shuffled, { at: day(atDay) });
      expect(r.reasons).toEqual([]);
      expect(r.sequence).toBe(files.length);
      expect(r.keys).toEqual(applyEntries(manifestsOf(groups), ms(day(atDay))).keys);
    }), { numRuns: 25 });
  });
});
