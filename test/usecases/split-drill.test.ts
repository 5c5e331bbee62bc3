/**
 * The split's and the drill's shared rules (src/usecases/split.ts, drill.ts): holders are
 * custodians of the newest set, named once, M ≤ N; a share counts only when it is the presenter's
 * own, a presenter must hold a share of this split, and a refused share leaves the drill as it was.
 */
import { describe, expect, test } from 'vitest';
import type { CustodyPlan } from '../../src/backup/plan.js';
import { ShareCollector, splitSecret } from '../../src/backup/shares.js';
import type { ExpectedShares } from '../../src/backup/shares.js';
import { verifiedChain } from '../../src/usecases/chain.js';
import { drillId, presentShare, requireEnoughShares, splitHolders } from '../../src/usecases/drill.js';
import { checkSplitHolders } from '../../src/usecases/split.js';
import { expectCode } from '../support/expect-code.js';
import { bytes, envelope, keyNamed, setPayload, TYPES } from '../support/independent.js';

const keys = ['alice', 'bob', 'carol', 'dave'].map((id) => [id, keyNamed(id)] as [string, ReturnType<typeof keyNamed>]);
const AT = Date.parse('2026-11-28T10:00:00Z');
const chain = verifiedChain([bytes(envelope(TYPES.custodians, setPayload(1, 2, keys), keys.slice(0, 2).map(([, k]) => k)))], { at: AT });

describe('the holders of a split', () => {
  test('custodians of the newest set, each once, M ≤ N; refused before any token', () => {
    expect(() => checkSplitHolders(chain, ['alice', 'bob', 'carol'], 2)).not.toThrow();
    expect(expectCode(() => checkSplitHolders(chain, ['alice', 'mallory'], 2), 'CUSTODIAN_NOT_MEMBER').exit).toBe(1);
    expect(expectCode(() => checkSplitHolders(chain, ['alice', 'bob', 'alice'], 2), 'SHARES_PARAMETERS_INVALID').exit).toBe(2);
    expect(expectCode(() => checkSplitHolders(chain, ['alice', 'bob'], 3), 'SHARES_PARAMETERS_INVALID').exit).toBe(2);
  });
});

async function plan(): Promise<{ plan: CustodyPlan; shares: Map<string, Uint8Array> }> {
  const holders = ['alice', 'bob', 'carol'];
  const split = await splitSecret(new Uint8Array(32).fill(7), { ceremony: 'q4-custody', backupKey: 'backup-v2', custodians: holders, threshold: 2 });
  const expected: ExpectedShares = { ceremony: 'q4-custody', backupKey: 'backup-v2', threshold: 2, total: 3, commitments: new Map(split.map((s) => [s.custodian, s.commitment])) };
  // only what the drill's rules read of a plan: the real one comes from a signed custody manifest (test/backup)
  return { plan: { backupKey: 'backup-v2', expected } as unknown as CustodyPlan, shares: new Map(split.map((s) => [s.custodian, s.bytes])) };
}

describe('presenting a share', () => {
  test('the presenter\'s own share counts; another\'s is refused and counts nothing; a non-holder is refused before the share is read', async () => {
    const { plan: p, shares } = await plan();
    const collector = new ShareCollector(p.expected);
    expect(splitHolders(p)).toEqual({ ids: ['alice', 'bob', 'carol'], of: 'the split of backup-v2' });
    expect(expectCode(() => presentShare(p, collector, shares.get('bob')!, 'alice', 'the card "card-bob"'), 'SHARE_WRONG_CUSTODIAN').message).toContain('the card "card-bob" holds the share of bob, not of alice');
    expect(collector.count).toBe(0);
    // dave is a custodian of the set, but the key was not split to him
    expectCode(() => presentShare(p, collector, shares.get('bob')!, 'dave', 'the card "card-dave"'), 'CUSTODIAN_NOT_MEMBER');
    expectCode(() => requireEnoughShares(p, collector), 'SHARE_THRESHOLD_NOT_MET');
    expect(presentShare(p, collector, shares.get('alice')!, 'alice', 'the card "card-alice"')).toEqual({ custodian: 'alice', index: 1 });
    expectCode(() => presentShare(p, collector, shares.get('alice')!, 'alice', 'the card "card-alice"'), 'SHARE_DUPLICATE');
    expectCode(() => presentShare(p, collector, shares.get('alice')!, 'bob', 'the card "card-alice"'), 'SHARE_DUPLICATE'); // counted already, whoever presents it
    expect(presentShare(p, collector, shares.get('carol')!, 'carol', 'carol.paper-share.json').custodian).toBe('carol');
    expect(() => requireEnoughShares(p, collector)).not.toThrow();
    expect(collector.custodians).toEqual(['alice', 'carol']);
    collector.dispose();
  });
  test('a drill\'s id names what it was, the key and the day', async () => {
    const { plan: p } = await plan();
    expect(drillId(p, false, AT)).toBe('drill-backup-v2-2026-11-28');
    expect(drillId(p, true, AT)).toBe('restore-backup-v2-2026-11-28');
  });
});
