/**
 * The hand-over's guarantees under attack, over real SoftHSM2 tokens (issue 15): a PIN reaches only
 * the card that proves itself, and "the card accepted it" is said only when the card checked it.
 *
 * - The card-key check compares a card with the set the run loaded when it began (the bytes the
 *   engine pinned), not with whatever is on the media when the card is asked: a set file changed
 *   or removed after the start must not turn the check off (a colleague's card would take a PIN
 *   and lose a try).
 * - A trial login proves nothing while this process is logged in to the token already (PKCS#11
 *   2.40 §5.6: login state is per application): a second run of the window on the token another
 *   run holds must not take any PIN as accepted.
 */
import { copyFileSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import type { CeremonyStatusView } from '../../src/api/contract.js';
import { fingerprint } from '../../src/crypto/fingerprint.js';
import { expectedWords } from '../../src/ceremony/witness.js';
import { verifiedChain } from '../../src/usecases/chain.js';
import { apiRoomFor, waiting } from '../support/ceremony-api.js';
import { ok } from '../support/result.js';

const TRIO = ['alice', 'bob', 'carol'] as const;
/** Each custodian's card, and a spare for a second first ceremony (a key is made once on a card). */
const cards = TRIO.flatMap((id, i) => [{ id, label: `card-${id}`, pin: `88${i}8765`, soPin: '12345678' }, { id, label: `spare-${id}`, pin: `66${i}5432`, soPin: '12345678' }]);
const HSM = { label: 'Hostile HSM', pin: '44443333', soPin: '12345678' };
const api = apiRoomFor('kc-api-hostile-', [HSM, ...cards]);
const { h, pinOf, until, folder } = api;
const tokenFlags = async (label: string) => ok(await h['tokens.list']({})).tokens.find((t) => t.label === label)!;

const people = [{ id: 'admin', name: 'Ceremony administrator', role: 'administrator' }, { id: 'wendy', name: 'Internal witness', role: 'witness' },
  ...TRIO.map((id) => ({ id, name: `${id} (custodian)`, role: 'custodian' }))];
const cardsOf = (labels: Record<string, string> = {}) => TRIO.map((id) => ({ name: `card-${id}`, label: labels[`card-${id}`] ?? `card-${id}`, serial: null, holder: id }));
const manifest = (v: number) => ({ id: 'jwt-manifest', action: 'manifest', actor: 'alice', keyVersion: v, phase: 'prepare', keys: ['JWT_SIGNING_SECRET'], previous: null, signers: ['alice', 'bob'], out: 'rotation.jwt.json' });
const first = (id: string, labels: Record<string, string> = {}) => JSON.stringify({ spec: 'keyceremony/ceremony-script@1', id, title: 'First', participants: people,
  tokens: [{ name: 'hsm', label: HSM.label, serial: null, holder: null }, ...cardsOf(labels)],
  steps: [{ id: 'custodian-keys', action: 'custodian-keys', actor: 'admin', witness: 'wendy', custodians: TRIO },
    { id: 'custodian-set', action: 'custodian-set', actor: 'alice', threshold: 2, members: TRIO, signers: TRIO, out: 'custodians.v1.json' }, manifest(2)] });
const later = (id: string, labels: Record<string, string>) => JSON.stringify({ spec: 'keyceremony/ceremony-script@1', id, title: 'Later', participants: people,
  tokens: cardsOf(labels),
  steps: [{ id: 'custodian-set', action: 'load-custodian-set', actor: 'admin', witness: 'wendy', chain: ['custodians.v1.json'], rootDigest: null }, manifest(3)] });

/** Every hand-over and question answered as the room would, until the run ends. */
async function through(runId: string): Promise<CeremonyStatusView> {
  for (;;) {
    const s = await until(runId, waiting);
    if (s.state === 'done' || s.state === 'failed') return s;
    if (s.pinRequest !== null) { ok(await h['ceremony.pin']({ runId, token: s.pinRequest.token, pin: pinOf(s.pinRequest.label) })); continue; }
    ok(await h['ceremony.answer']({ runId, confirmed: true, ...(s.question!.words === null ? {} : { words: [...s.question!.words] }) }));
    await until(runId, (x) => x.question?.what !== s.question!.what || x.state !== 'waiting');
  }
}

let setFile: string;
beforeAll(async () => {
  // a first ceremony makes the trio's keys and their set: the later ceremonies load it from the media
  const runId = ok(await h['ceremony.start']({ script: first('hostile-first'), ceremonyFolder: await folder('first'), noRehearsal: true })).runId;
  expect(await through(runId)).toMatchObject({ state: 'done' });
  setFile = join(api.work, 'first', 'custodians.v1.json');
}, 120_000);

describe('the card-key check is made against the set the run began with', () => {
  test('a set file removed or corrupted after the start does not let a colleague\'s card take a PIN', async () => {
    // bob's and carol's cards swapped in the script; alice's card (the journal's token) is right
    const name = 'later-swapped';
    const handle = await folder(name);
    copyFileSync(setFile, join(api.work, name, 'custodians.v1.json'));
    const runId = ok(await h['ceremony.start']({ script: later('hostile-later', { 'card-bob': 'card-carol', 'card-carol': 'card-bob' }), ceremonyFolder: handle, noRehearsal: true })).runId;
    let s = await until(runId, waiting);
    expect(s.pinRequest).toMatchObject({ token: 'card-alice', card: 'registered-key' });
    ok(await h['ceremony.pin']({ runId, token: 'card-alice', pin: pinOf('card-alice') }));
    s = await until(runId, (x) => x.question !== null);
    expect(s.question).toMatchObject({ kind: 'clock' });

    // the set on the media is damaged after the run read it (a hostile drive, a second process)
    writeFileSync(join(api.work, name, 'custodians.v1.json'), '{"not":"a set"}');
    ok(await h['ceremony.answer']({ runId, confirmed: true }));

    // the witness checks the root the run read when it began, and alice's key against it
    const chain = verifiedChain([readFileSync(setFile)], { at: Date.now() });
    s = await until(runId, (x) => x.question?.kind === 'digest');
    ok(await h['ceremony.answer']({ runId, confirmed: true, words: expectedWords({ who: 'wendy', what: '', kind: 'digest', value: chain.sets[0]!.digest.slice('sha256:'.length) }).map((e) => e.word) }));
    s = await until(runId, (x) => x.question?.kind === 'fingerprint');
    ok(await h['ceremony.answer']({ runId, confirmed: true, words: fingerprint(chain.newest.custodians.find((c) => c.id === 'alice')!.publicKey.bytes).words }));

    // bob's hand-over: the card named for him is carol's, which does not hold his registered key
    s = await until(runId, (x) => x.pinRequest?.token === 'card-bob' || x.state === 'failed');
    expect(s.pinRequest).toMatchObject({ token: 'card-bob', label: 'card-carol', holder: 'bob', card: 'not-registered-key', set: 1 });
    expect(await h['ceremony.pin']({ runId, token: 'card-bob', pin: pinOf('card-bob') })).toMatchObject({ ok: false, error: { code: 'CEREMONY_CARD_KEY_MISMATCH' } });
    // none of carol's tries was used by bob's PIN
    expect(await tokenFlags('card-carol')).toMatchObject({ pinCountLow: false, pinFinalTry: false, pinLocked: false });
    ok(await h['ceremony.stop']({ runId }));
    expect(await until(runId, (x) => x.state === 'failed')).toMatchObject({ error: { code: 'CEREMONY_STOPPED' } });
  }, 60_000);
});

describe('a trial login proves a PIN only when the token is not logged in already', () => {
  test('a second run on the token another run of the window holds takes no PIN as the card\'s, and the first run is not disturbed', async () => {
    const spares = Object.fromEntries(TRIO.map((id) => [`card-${id}`, `spare-${id}`]));
    const one = ok(await h['ceremony.start']({ script: first('hostile-one', spares), ceremonyFolder: await folder('one'), noRehearsal: true })).runId;
    expect((await until(one, waiting)).pinRequest).toMatchObject({ token: 'hsm' });
    ok(await h['ceremony.pin']({ runId: one, token: 'hsm', pin: HSM.pin }));
    // run one holds the HSM's journal session, logged in, for the rest of its run
    expect((await until(one, (x) => x.question !== null)).question).toMatchObject({ kind: 'clock' });

    const two = ok(await h['ceremony.start']({ script: first('hostile-two', spares), ceremonyFolder: await folder('two'), noRehearsal: true })).runId;
    expect((await until(two, waiting)).pinRequest).toMatchObject({ token: 'hsm' });
    const r = await h['ceremony.pin']({ runId: two, token: 'hsm', pin: 'wrong-0000' });
    expect(r).toMatchObject({ ok: false, error: { code: 'CEREMONY_TOKEN_IN_USE' } });
    // no try of the HSM was used, and the hand-over still waits
    expect(await tokenFlags(HSM.label)).toMatchObject({ pinCountLow: false, pinLocked: false });
    expect(ok(await h['ceremony.status']({ runId: two }))).toMatchObject({ state: 'waiting', pinRequest: { token: 'hsm' } });
    ok(await h['ceremony.stop']({ runId: two }));
    expect(await until(two, (x) => x.state === 'failed')).toMatchObject({ error: { code: 'CEREMONY_STOPPED' } });
    // stopped at its first hand-over, the second run's folder is as it was chosen
    expect(readdirSync(join(api.work, 'two'))).toEqual([]);

    // the first run goes on, its session still logged in
    expect(await through(one)).toMatchObject({ state: 'done', error: null });
  }, 120_000);
});
