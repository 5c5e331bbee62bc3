/**
 * A deployment's chain in which every key state of FORMATS.md §8 occurs, for the Keys over time
 * tests (test/api/state-handlers.test.ts writes its time line out by hand; the E2E test draws it):
 * ten manifests signed with the independent implementation (test/state/support.ts), one a day from
 * 2026-11-02, over two custodian sets. webhook-v1 is entered, replaced by webhook-v2 and revoked;
 * master-v1 is entered and compromised, master-v2 prepared and dual-published, and on day 20 cut
 * over, with webhook-v3 prepared, by a manifest signed on day 10.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chain, day, entry, K, members, nextSet, SET1 } from '../state/support.js';
import type { RawEnvelope, Step } from '../state/support.js';

/** Set 2: dave joins, issued half a day after manifest 7; manifests 8 to 10 are approved by it (bob and dave sign). */
export const SET2 = nextSet(2, members('alice', 'bob', 'dave'), [K.alice, K.bob], '2026-11-08T12:00:00Z');
export const bySet2 = { custodianSet: 2, signers: [K.bob, K.dave], actor: 'dave' };

export const STORY: Step[] = [
  { keys: [entry('prepare', 'webhook-v1'), entry('prepare', 'master-v1')] },
  { keys: [entry('dual-publish', 'webhook-v1'), entry('dual-publish', 'master-v1')] },
  { keys: [entry('cutover', 'webhook-v1'), entry('cutover', 'master-v1')] },
  { keys: [entry('prepare', 'webhook-v2')] },
  { keys: [entry('dual-publish', 'webhook-v2')] },
  { keys: [entry('cutover', 'webhook-v2')] },
  { keys: [entry('revoke', 'webhook-v2')] },
  { ...bySet2, keys: [entry('compromise', 'master-v1'), entry('prepare', 'master-v2')] },
  { ...bySet2, keys: [entry('dual-publish', 'master-v2')] },
  // signed on day 10, in effect on day 20: master-v2 is cut over (master-v1 is compromised, so nothing is current to supersede) and webhook-v3 prepared
  { ...bySet2, keys: [entry('cutover', 'master-v2', { supersedes: null, notBefore: day(20) }), entry('prepare', 'webhook-v3', { notBefore: day(20) })] },
];

/**
 * Writes both sets and `manifests` (the story's by default) into `dir`, under names that say nothing
 * of their order: the sets as z-root.json (version 1) and a-set.json (version 2), manifest k as
 * m<letter>.json from mj (1) back to ma (10). The app classifies by payloadType, and orders sets by version.
 */
export function writeChain(dir: string, manifests: readonly RawEnvelope[] = chain(STORY)): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'z-root.json'), JSON.stringify(SET1));
  writeFileSync(join(dir, 'a-set.json'), JSON.stringify(SET2));
  manifests.forEach((m, i) => writeFileSync(join(dir, `m${String.fromCharCode(106 - i)}.json`), JSON.stringify(m)));
}
