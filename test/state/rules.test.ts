/**
 * FORMATS.md §8, rule by rule: a valid chain, then for each rule a chain that breaks it and the
 * code it must produce. Every failure below changes one thing of a valid baseline.
 */
import { describe, expect, test } from 'vitest';
import { chain, codes, day, digest, entry, envelope, K, lifecycle, members, nextSet, run, SET1, setPayload, TYPES, where } from './support.js';
import type { RawEnvelope, Step } from './support.js';

const invalid = (r: ReturnType<typeof run>, ...want: string[]) => {
  expect(r.valid).toBe(false);
  expect(r).toMatchObject({ keys: {}, sequence: null, tip: null });
  expect(codes(r.reasons)).toEqual(expect.arrayContaining(want));
};

describe('a valid chain', () => {
  test('the whole lifecycle: v2 current, v1 revoked; sequence and tip are the last manifest', () => {
    const ms = chain(lifecycle());
    const r = run(ms);
    expect(r.reasons).toEqual([]);
    expect(r).toEqual({
      valid: true, at: day(100), sequence: 7, tip: digest(ms[6] as RawEnvelope), reasons: [], warnings: expect.any(Array),
      keys: { WEBHOOK_SIGNING_SECRET: { current: 'webhook-v2', accept: ['webhook-v2'], pending: [], retired: [], revoked: ['webhook-v1'], compromised: [], scheduled: [] } },
    });
    expect(codes(r.warnings)).toEqual(['CHAIN_ROOT_NOT_PINNED']);
  });

  test('at each day the state of the entries in effect then; later ones are scheduled, once per id', () => {
    const ms = chain(lifecycle());
    const at = (d: number) => run(ms, { at: day(d) }).keys.WEBHOOK_SIGNING_SECRET;
    expect(at(1)).toEqual({ current: null, accept: [], pending: ['webhook-v1'], retired: [], revoked: [], compromised: [], scheduled: ['webhook-v1', 'webhook-v2'] });
    expect(at(3)).toMatchObject({ current: 'webhook-v1', accept: ['webhook-v1'], scheduled: ['webhook-v2'] });
    expect(at(5)).toMatchObject({ current: 'webhook-v1', accept: ['webhook-v1', 'webhook-v2'], pending: [], scheduled: ['webhook-v2'] });
    expect(at(6)).toMatchObject({ current: 'webhook-v2', accept: ['webhook-v2'], retired: ['webhook-v1'], scheduled: ['webhook-v2'] });
    expect(at(7)).toMatchObject({ current: 'webhook-v2', retired: [], revoked: ['webhook-v1'], scheduled: [] });
  });

  test('an entry takes effect at its notBefore exactly; one second before it is scheduled', () => {
    const ms = chain(lifecycle());
    expect(run(ms, { at: day(6) }).keys.WEBHOOK_SIGNING_SECRET?.current).toBe('webhook-v2');
    expect(run(ms, { at: '2026-11-06T23:59:59Z' }).keys.WEBHOOK_SIGNING_SECRET).toMatchObject({ current: 'webhook-v1', scheduled: ['webhook-v2'] });
  });

  test('before the first entry every name is listed with only scheduled ids', () => {
    const r = run(chain(lifecycle()), { at: day(0) });
    expect(r.valid).toBe(true);
    expect(r.keys.WEBHOOK_SIGNING_SECRET).toEqual({ current: null, accept: [], pending: [], retired: [], revoked: [], compromised: [], scheduled: ['webhook-v1', 'webhook-v2'] });
  });

  test('the files in any order give the same answer', () => {
    const ms = chain(lifecycle());
    const want = run(ms);
    expect(run([...ms].reverse())).toEqual(want);
    expect(run([ms[3], ms[0], ms[6], ms[2], ms[5], ms[1], ms[4]] as RawEnvelope[])).toEqual(want);
  });

  test('a pinned root: right digest valid, another digest invalid', () => {
    const ms = chain(lifecycle());
    expect(run(ms, { rootDigest: digest(SET1) }).warnings).toEqual([]);
    invalid(run(ms, { rootDigest: `sha256:${'0'.repeat(64)}` }), 'CHAIN_ROOT_DIGEST_MISMATCH');
  });

  test('lists are in numeric version order: v9 before v10', () => {
    const r = run(chain([{ keys: ['k-v10', 'k-v2', 'k-v9', 'k-v1'].map((id) => entry('compromise', id)) }]));
    expect(r.keys.K?.compromised).toEqual(['k-v1', 'k-v2', 'k-v9', 'k-v10']);
    const p = run(chain([{ keys: ['k-v10', 'k-v9'].map((id) => entry('prepare', id)) }]), { at: day(0) });
    expect(p.keys.K?.scheduled).toEqual(['k-v9', 'k-v10']);
  });

  test('a key in use when the chain begins enters by three manifests with one notBefore, applied in sequence order', () => {
    const nb = day(5);
    const r = run(chain([
      { keys: [entry('prepare', 'jwt-v4', { notBefore: nb, supersedes: null })] },
      { keys: [entry('dual-publish', 'jwt-v4', { notBefore: nb, supersedes: null })] },
      { keys: [entry('cutover', 'jwt-v4', { notBefore: nb, supersedes: null })] },
    ]), { at: nb });
    expect(r.reasons).toEqual([]);
    expect(r.keys.JWT_SIGNING_SECRET).toMatchObject({ current: 'jwt-v4', accept: ['jwt-v4'] });
  });

  test('several names are reported apart, names sorted', () => {
    const r = run(chain([
      { keys: [entry('prepare', 'webhook-v1'), entry('prepare', 'master-v7', { supersedes: null })] },
      { keys: [entry('dual-publish', 'master-v7', { supersedes: null })] },
    ]));
    expect(Object.keys(r.keys)).toEqual(['MASTER_KEY', 'WEBHOOK_SIGNING_SECRET']);
    expect(r.keys.MASTER_KEY).toMatchObject({ current: null, accept: ['master-v7'] });
    expect(r.keys.WEBHOOK_SIGNING_SECRET).toMatchObject({ pending: ['webhook-v1'] });
  });
});

describe('rule 1: one sequence 1..n, each previous the digest of the one before', () => {
  test('no manifest at all', () => invalid(run([]), 'STATE_NO_MANIFESTS'));
  test('a gap', () => {
    const ms = chain(lifecycle());
    const r = run([ms[0], ms[1], ms[3], ms[4], ms[5], ms[6]] as RawEnvelope[]);
    invalid(r, 'STATE_SEQUENCE_GAP');
    expect(where(r.reasons)).toContain('STATE_SEQUENCE_GAP: manifests[seq 3]');
  });
  test('a chain that does not start at 1', () => {
    const ms = chain(lifecycle());
    invalid(run(ms.slice(1)), 'STATE_SEQUENCE_GAP');
  });
  test('a fork: two different manifests with one sequence number', () => {
    const ms = chain(lifecycle());
    const other = chain([lifecycle()[0] as Step, { keys: [entry('compromise', 'webhook-v1')] }])[1] as RawEnvelope;
    const r = run([...ms, other]);
    invalid(r, 'STATE_SEQUENCE_FORK');
    expect(where(r.reasons)).toContain('STATE_SEQUENCE_FORK: manifests[seq 2]');
  });
  test('a wrong previous', () => {
    const steps = lifecycle();
    (steps[3] as Step).over = { previous: `sha256:${'ab'.repeat(32)}` };
    const r = run(chain(steps));
    invalid(r, 'STATE_PREVIOUS_MISMATCH');
    expect(where(r.reasons)).toEqual(['STATE_PREVIOUS_MISMATCH: manifests[seq 4].previous']);
  });
  test('a previous that names a manifest of another chain', () => {
    const a = chain(lifecycle());
    const b = chain(lifecycle().map((s) => ({ ...s, actor: 'bob' })));
    invalid(run([...a.slice(0, 3), ...b.slice(3)]), 'STATE_PREVIOUS_MISMATCH');
  });
  test('a sequence number near 2^53 is a gap found at once, not counted up to', () => {
    const ms = chain(lifecycle());
    const far = chain([...lifecycle().slice(0, 1), { keys: [entry('compromise', 'webhook-v1')], over: { sequence: Number.MAX_SAFE_INTEGER } }])[1] as RawEnvelope;
    const started = Date.now();
    invalid(run([...ms, far]), 'STATE_SEQUENCE_GAP');
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe('duplicates count once', () => {
  test('the same file twice', () => {
    const ms = chain(lifecycle());
    const r = run([...ms, ms[2] as RawEnvelope, ms[2] as RawEnvelope]);
    expect(r.reasons).toEqual([]);
    expect({ ...r, warnings: [] }).toEqual({ ...run(ms), warnings: [] });
    expect(codes(r.warnings).filter((c) => c === 'STATE_MANIFEST_DUPLICATE')).toHaveLength(2);
  });
  test('one payload signed by two different quorums is one manifest, not a fork', () => {
    const ms = chain(lifecycle());
    const body = Buffer.from((ms[1] as RawEnvelope).payload, 'base64');
    const again = envelope(TYPES.rotation, body, [K.carol, K.alice]);
    const r = run([...ms, again]);
    expect(r.reasons).toEqual([]);
    expect(r.sequence).toBe(7);
  });
  test('a copy that is not approved is a reason: every file given must verify', () => {
    const ms = chain(lifecycle());
    const body = Buffer.from((ms[1] as RawEnvelope).payload, 'base64');
    const r = run([...ms, envelope(TYPES.rotation, body, [K.carol])]);
    invalid(r, 'THRESHOLD_NOT_MET');
    expect(where(r.reasons)).toContain('THRESHOLD_NOT_MET: manifests[7]');
  });
});

describe('rule 2: each manifest verifies against the set chain up to its set, at its own issued', () => {
  // set 2 (alice, bob, dave) replaces set 1 on day 4: manifests 1–3 are set 1's, 4–7 set 2's
  const set2 = nextSet(2, members('alice', 'bob', 'dave'), [K.alice, K.bob], day(4));
  const rotated = (): Step[] => lifecycle().map((s, i) => (i >= 3 ? { ...s, custodianSet: 2, signers: [K.alice, K.dave] } : s));

  test('manifests of a replaced set stay valid history (§4\'s "invalid once a newer set exists" is for acting now)', () => {
    const r = run(chain(rotated()), { sets: [SET1, set2] });
    expect(r.reasons).toEqual([]);
    expect(r.keys.WEBHOOK_SIGNING_SECRET?.current).toBe('webhook-v2');
  });
  test('a manifest approved by set v issued when set v+1 already exists (the removed carol extends the history)', () => {
    const steps = rotated();
    steps[4] = { ...(steps[4] as Step), custodianSet: 1, signers: [K.alice, K.carol] };
    const r = run(chain(steps), { sets: [SET1, set2] });
    invalid(r, 'STATE_SET_REPLACED', 'STATE_SET_DECREASES');
    expect(where(r.reasons)).toEqual(expect.arrayContaining(['STATE_SET_REPLACED: manifests[seq 5].issued']));
  });
  test('issued at the very second set v+1 is issued: not strictly before, so invalid', () => {
    const steps = rotated();
    steps[3] = { ...(steps[3] as Step), custodianSet: 1, signers: [K.alice, K.carol] };
    invalid(run(chain(steps), { sets: [SET1, set2] }), 'STATE_SET_REPLACED');
  });
  test('custodianSet goes backwards along the sequence', () => {
    const steps = rotated();
    // set 2 from day 0, so manifest 4 under set 1 is also issued after set 2: both rules fire, each with its own code
    const early = nextSet(2, members('alice', 'bob', 'dave'), [K.alice, K.bob], day(0));
    steps[0] = { ...(steps[0] as Step), custodianSet: 2, signers: [K.alice, K.dave] };
    const r = run(chain(steps.map((s, i) => (i === 1 ? { ...s, custodianSet: 1 } : s))), { sets: [SET1, early] });
    invalid(r, 'STATE_SET_DECREASES');
    expect(where(r.reasons)).toContain('STATE_SET_DECREASES: manifests[seq 2].custodianSet');
  });
  test('issued goes backwards along the sequence', () => {
    const steps = lifecycle();
    steps[2] = { ...(steps[2] as Step), day: 1 };
    steps[1] = { ...(steps[1] as Step), day: 2 };
    steps[3] = { ...(steps[3] as Step), day: 1 };
    const r = run(chain(steps));
    invalid(r, 'STATE_ISSUED_DECREASES');
    expect(where(r.reasons)).toContain('STATE_ISSUED_DECREASES: manifests[seq 3].issued');
  });
  test('a manifest issued before the set it names', () => {
    const steps = rotated();
    steps[2] = { ...(steps[2] as Step), custodianSet: 2, signers: [K.alice, K.dave] }; // day 3, set 2 from day 4
    invalid(run(chain(steps), { sets: [SET1, set2] }), 'STATE_SET_NOT_YET_VALID');
  });
  test('a manifest issued after its set expired (the set expired, the next one came later)', () => {
    // set 1 expires on day 4 (the manifest of day(3)); set 2 comes on day 10
    const set1Short = envelope(TYPES.custodians, { ...JSON.parse(Buffer.from(SET1.payload, 'base64').toString()), expires: day(4) }, [K.alice, K.bob, K.carol]);
    const set2Late = nextSet(2, members('alice', 'bob', 'dave'), [K.alice, K.bob], day(10));
    const steps = lifecycle().map((s, i) => (i >= 3 ? { ...s, day: i + 10, custodianSet: 2, signers: [K.alice, K.dave] } : s));
    expect(run(chain(steps), { sets: [set1Short, set2Late] }).reasons).toEqual([]);
    steps[2] = { ...(steps[2] as Step), day: 4 }; // expires is exclusive: set v is valid while issued(m) < expires(v)
    invalid(run(chain(steps), { sets: [set1Short, set2Late] }), 'STATE_SET_EXPIRED');
  });
  test('a set version the chain does not hold', () => {
    const steps = lifecycle();
    steps[6] = { ...(steps[6] as Step), custodianSet: 3 };
    const r = run(chain(steps));
    invalid(r, 'MANIFEST_SET_UNKNOWN');
  });
  test('too few signatures of the set it names (§6: unknown signers count zero)', () => {
    const steps = lifecycle();
    steps[2] = { ...(steps[2] as Step), signers: [K.alice, K.mallory] };
    const r = run(chain(steps));
    invalid(r, 'THRESHOLD_NOT_MET', 'SIGNATURE_UNKNOWN_KEY');
    expect(where(r.reasons)).toContain('THRESHOLD_NOT_MET: manifests[2]');
  });
  test('signed by the next set\'s custodians only, not by the set it names', () => {
    const steps = rotated();
    steps[3] = { ...(steps[3] as Step), custodianSet: 2, signers: [K.dave, K.carol] }; // carol is not in set 2
    invalid(run(chain(steps), { sets: [SET1, set2] }), 'THRESHOLD_NOT_MET');
  });
  test('an actor who is not a custodian of that set', () => {
    const steps = lifecycle();
    steps[1] = { ...(steps[1] as Step), actor: 'dave' };
    invalid(run(chain(steps)), 'MANIFEST_ACTOR_UNKNOWN');
  });
  test('a notBefore outside its manifest (§4: issued ≤ notBefore ≤ expires)', () => {
    const before = lifecycle();
    before[2] = { keys: [entry('cutover', 'webhook-v1', { notBefore: day(2) })] }; // issued day 3
    invalid(run(chain(before)), 'MANIFEST_NOT_BEFORE_OUTSIDE');
    const after = lifecycle();
    after[2] = { keys: [entry('cutover', 'webhook-v1', { notBefore: day(64) })] }; // expires day 63
    invalid(run(chain(after)), 'MANIFEST_NOT_BEFORE_OUTSIDE');
    const edge = lifecycle();
    edge[6] = { keys: [entry('revoke', 'webhook-v2', { notBefore: day(67) })] }; // issued day 7, expires day 67: both ends allowed
    expect(run(chain(edge)).reasons).toEqual([]);
    edge[6] = { keys: [entry('revoke', 'webhook-v2', { notBefore: day(7) })] };
    expect(run(chain(edge)).reasons).toEqual([]);
  });
  test('a file that is no manifest: malformed, truncated, another payload type', () => {
    const ms = chain(lifecycle());
    invalid(run([...ms, '{"payloadType":']), 'DOCUMENT_NOT_JSON');
    invalid(run([...ms.slice(0, 6), JSON.stringify(ms[6]).slice(0, 100)]), 'DOCUMENT_NOT_JSON');
    invalid(run([...ms, SET1]), 'DOCUMENT_UNEXPECTED_TYPE');
  });
});

describe('rule 3: the newest custodian set is unexpired at T; nothing else depends on T', () => {
  const set2 = nextSet(2, members('alice', 'bob', 'dave'), [K.alice, K.bob], day(0), day(200));
  const steps = (): Step[] => lifecycle().map((s) => ({ ...s, custodianSet: 2, signers: [K.alice, K.dave] }));
  test('the newest set expired at T', () => {
    expect(run(chain(steps()), { sets: [SET1, set2], at: day(199) }).valid).toBe(true);
    invalid(run(chain(steps()), { sets: [SET1, set2], at: day(200) }), 'CHAIN_EXPIRED');
  });
  test('an older set expired and every manifest expired long ago: still valid', () => {
    const set1 = envelope(TYPES.custodians, { ...JSON.parse(Buffer.from(SET1.payload, 'base64').toString()), expires: day(-1) }, [K.alice, K.bob, K.carol]);
    const r = run(chain(steps()), { sets: [set1, set2], at: day(150) });
    expect(r.reasons).toEqual([]);
  });
  test('T before the newest set was issued: the history up to T, with a warning', () => {
    const later = nextSet(2, members('alice', 'bob', 'dave'), [K.alice, K.bob], day(50));
    const r = run(chain(lifecycle()), { sets: [SET1, later], at: day(4) });
    expect(r.reasons).toEqual([]);
    expect(r.keys.WEBHOOK_SIGNING_SECRET).toMatchObject({ current: 'webhook-v1', pending: ['webhook-v2'] });
    expect(codes(r.warnings)).toContain('STATE_BEFORE_NEWEST_SET');
  });
  test('the set chain itself must verify', () => {
    const bad = envelope(TYPES.custodians, setPayload(2, 2, members('alice', 'dave', 'erin'), day(0)), [K.dave, K.erin]); // alice of set 1 alone does not sign
    invalid(run(chain(steps()), { sets: [SET1, bad] }), 'THRESHOLD_PREVIOUS_NOT_MET');
    invalid(run(chain(lifecycle()), { sets: [] }), 'CHAIN_EMPTY');
  });
});

describe('the state machine: every precondition, in effect order', () => {
  const path = (r: ReturnType<typeof run>, code: string) => where(r.reasons).filter((w) => w.startsWith(code));

  test('dual-publish without prepare', () => {
    const r = run(chain([{ keys: [entry('dual-publish', 'webhook-v1')] }, { keys: [entry('cutover', 'webhook-v1')] }]));
    invalid(r, 'STATE_DUAL_PUBLISH_NOT_PENDING');
    expect(path(r, 'STATE_DUAL_PUBLISH_NOT_PENDING')).toEqual(['STATE_DUAL_PUBLISH_NOT_PENDING: manifests[seq 1].keys[0].id']);
    expect(codes(r.reasons)).toEqual(['STATE_DUAL_PUBLISH_NOT_PENDING']); // reported once, not again at the cutover
  });
  test('cutover without dual-publish', () => {
    const r = run(chain([{ keys: [entry('prepare', 'webhook-v1')] }, { keys: [entry('cutover', 'webhook-v1')] }]));
    invalid(r, 'STATE_CUTOVER_NOT_ACCEPTED');
    expect(path(r, 'STATE_CUTOVER_NOT_ACCEPTED')).toEqual(['STATE_CUTOVER_NOT_ACCEPTED: manifests[seq 2].keys[0].id']);
  });
  test('two current versions: a cutover that supersedes nothing while a version is current', () => {
    const steps = lifecycle().slice(0, 5);
    steps.push({ keys: [entry('prepare', 'redis-v1'), entry('cutover', 'webhook-v2', { supersedes: null })] });
    const r = run(chain(steps));
    invalid(r, 'STATE_CUTOVER_SECOND_CURRENT');
    expect(path(r, 'STATE_CUTOVER_SECOND_CURRENT')).toEqual(['STATE_CUTOVER_SECOND_CURRENT: manifests[seq 6].keys[1].supersedes']);
  });
  test('a cutover whose old version is not current', () => {
    const steps = lifecycle().slice(0, 2); // v1 accepted, never current
    steps.push({ keys: [entry('prepare', 'webhook-v2')] }, { keys: [entry('dual-publish', 'webhook-v2')] }, { keys: [entry('cutover', 'webhook-v2')] });
    invalid(run(chain(steps)), 'STATE_CUTOVER_OLD_NOT_CURRENT');
  });
  test('revoke of a current version', () => {
    const steps = lifecycle().slice(0, 5); // v1 current, v2 accepted
    steps.push({ keys: [entry('revoke', 'webhook-v2')] });
    const r = run(chain(steps));
    invalid(r, 'STATE_REVOKE_OLD_NOT_RETIRED', 'STATE_REVOKE_NOT_CURRENT');
    expect(where(r.reasons)).toEqual(['STATE_REVOKE_NOT_CURRENT: manifests[seq 6].keys[0].id', 'STATE_REVOKE_OLD_NOT_RETIRED: manifests[seq 6].keys[0].supersedes']);
  });
  test('revoke with supersedes null', () => {
    const steps = lifecycle().slice(0, 3);
    steps.push({ keys: [entry('revoke', 'webhook-v1')] });
    invalid(run(chain(steps)), 'STATE_REVOKE_WITHOUT_OLD');
  });
  test('prepare of a version seen before, and of a compromised one', () => {
    const again = lifecycle().slice(0, 3);
    again.push({ keys: [entry('prepare', 'webhook-v1')] });
    invalid(run(chain(again)), 'STATE_PREPARE_SEEN');
    const comp = [{ keys: [entry('compromise', 'webhook-v1')] }, { keys: [entry('prepare', 'webhook-v1')] }];
    invalid(run(chain(comp)), 'STATE_PREPARE_SEEN');
  });
  test('no step back: dual-publish of a current version, cutover of a retired one', () => {
    const dual = lifecycle();
    dual.push({ keys: [entry('dual-publish', 'webhook-v2')] });
    invalid(run(chain(dual)), 'STATE_DUAL_PUBLISH_NOT_PENDING');
    const cut = lifecycle().slice(0, 6);
    cut.push({ keys: [entry('cutover', 'webhook-v1')] });
    invalid(run(chain(cut)), 'STATE_CUTOVER_NOT_ACCEPTED');
  });
  test('an id belongs to one key name', () => {
    const steps = lifecycle().slice(0, 3);
    steps.push({ keys: [entry('prepare', 'webhook-v2', { name: 'OTHER_SECRET' })] });
    const r = run(chain(steps));
    invalid(r, 'STATE_ID_NAME_CONFLICT');
    expect(where(r.reasons)).toEqual(['STATE_ID_NAME_CONFLICT: manifests[seq 4].keys[0].supersedes']);
    const direct = chain([{ keys: [entry('prepare', 'webhook-v1')] }, { keys: [entry('dual-publish', 'webhook-v1', { name: 'OTHER_SECRET' })] }]);
    expect(where(run(direct).reasons)).toContain('STATE_ID_NAME_CONFLICT: manifests[seq 2].keys[0].id');
  });

  test('effect order is notBefore first: a later manifest\'s earlier entry applies before', () => {
    // manifest 3 (issued day 3) cuts v1 over on day 3, but its dual-publish (manifest 2) takes effect only on day 10
    const r = run(chain([
      { keys: [entry('prepare', 'webhook-v1')] },
      { keys: [entry('dual-publish', 'webhook-v1', { notBefore: day(10) })] },
      { keys: [entry('cutover', 'webhook-v1')] },
    ]));
    invalid(r, 'STATE_CUTOVER_NOT_ACCEPTED');
    // the same entries with notBefore in order are fine
    expect(run(chain([
      { keys: [entry('prepare', 'webhook-v1')] },
      { keys: [entry('dual-publish', 'webhook-v1')] },
      { keys: [entry('cutover', 'webhook-v1', { notBefore: day(10) })] },
    ])).valid).toBe(true);
  });
  test('within one manifest, position in keys breaks ties', () => {
    const start = lifecycle().slice(0, 6); // v2 current, v1 retired
    start.push({ keys: [entry('prepare', 'webhook-v3')] }, { keys: [entry('dual-publish', 'webhook-v3')] });
    const ok = run(chain([...start, { keys: [entry('revoke', 'webhook-v2'), entry('cutover', 'webhook-v3')] }]));
    expect(ok.reasons).toEqual([]);
    expect(ok.keys.WEBHOOK_SIGNING_SECRET).toMatchObject({ current: 'webhook-v3', retired: ['webhook-v2'], revoked: ['webhook-v1'] });
    invalid(run(chain([...start, { keys: [entry('cutover', 'webhook-v3'), entry('revoke', 'webhook-v2')] }])), 'STATE_REVOKE_NOT_CURRENT');
  });
  test('scheduled entries are checked too: an impossible step after T makes the chain invalid whatever T is', () => {
    const steps = lifecycle().slice(0, 3);
    steps.push({ keys: [entry('revoke', 'webhook-v1', { notBefore: day(50) })] });
    for (const at of [day(0), day(3), day(49), day(60)]) invalid(run(chain(steps), { at }), 'STATE_REVOKE_WITHOUT_OLD');
  });
  test('scheduled entries are reported, not applied', () => {
    const steps = lifecycle();
    steps[5] = { keys: [entry('cutover', 'webhook-v2', { notBefore: day(30) })] };
    steps[6] = { keys: [entry('revoke', 'webhook-v2', { notBefore: day(40) })], day: 7 };
    const r = run(chain(steps), { at: day(20) });
    expect(r.reasons).toEqual([]);
    expect(r.keys.WEBHOOK_SIGNING_SECRET).toEqual({ current: 'webhook-v1', accept: ['webhook-v1', 'webhook-v2'], pending: [], retired: [], revoked: [], compromised: [], scheduled: ['webhook-v2'] });
  });
});

describe('compromise', () => {
  test('of the current version: the name has no current version until a later cutover, which supersedes nothing', () => {
    const steps = lifecycle().slice(0, 3);
    steps.push({ keys: [entry('compromise', 'webhook-v1')] });
    const r = run(chain(steps));
    expect(r.keys.WEBHOOK_SIGNING_SECRET).toMatchObject({ current: null, accept: [], compromised: ['webhook-v1'] });
    steps.push({ keys: [entry('prepare', 'webhook-v2')] }, { keys: [entry('dual-publish', 'webhook-v2')] }, { keys: [entry('cutover', 'webhook-v2', { supersedes: null })] });
    const after = run(chain(steps));
    expect(after.reasons).toEqual([]);
    expect(after.keys.WEBHOOK_SIGNING_SECRET).toMatchObject({ current: 'webhook-v2', accept: ['webhook-v2'], compromised: ['webhook-v1'], retired: [] });
    // "old is current": a compromised old version is not
    steps[steps.length - 1] = { keys: [entry('cutover', 'webhook-v2')] };
    invalid(run(chain(steps)), 'STATE_CUTOVER_OLD_NOT_CURRENT');
  });
  test('from every state, and of an id never seen', () => {
    const steps = lifecycle().slice(0, 5); // v1 current, v2 accepted
    steps.push({ keys: [entry('compromise', 'webhook-v2'), entry('compromise', 'webhook-v9'), entry('prepare', 'master-v1')] }, { keys: [entry('compromise', 'master-v1')] });
    const r = run(chain(steps));
    expect(r.reasons).toEqual([]);
    expect(r.keys.WEBHOOK_SIGNING_SECRET).toMatchObject({ current: 'webhook-v1', accept: ['webhook-v1'], compromised: ['webhook-v2', 'webhook-v9'] });
    expect(r.keys.MASTER_KEY).toMatchObject({ pending: [], compromised: ['master-v1'] });
  });
  test('a compromised version is never accepted again', () => {
    const steps = lifecycle().slice(0, 4); // v2 pending
    steps.push({ keys: [entry('compromise', 'webhook-v2')] }, { keys: [entry('dual-publish', 'webhook-v2')] });
    invalid(run(chain(steps)), 'STATE_DUAL_PUBLISH_NOT_PENDING');
  });
  test('of a retired version, and twice', () => {
    const steps = lifecycle().slice(0, 6);
    steps.push({ keys: [entry('compromise', 'webhook-v1')] }, { keys: [entry('compromise', 'webhook-v1')] });
    const r = run(chain(steps));
    expect(r.reasons).toEqual([]);
    expect(r.keys.WEBHOOK_SIGNING_SECRET).toMatchObject({ current: 'webhook-v2', retired: [], compromised: ['webhook-v1'] });
    // and it is not revoked afterwards: revoke needs a retired old version
    steps.push({ keys: [entry('revoke', 'webhook-v2')] });
    invalid(run(chain(steps)), 'STATE_REVOKE_OLD_NOT_RETIRED');
  });
});
