/**
 * The ceremony channels as the run sheet uses them (issue 15), over real SoftHSM2 tokens: the status
 * says the step number, who acts and where every step is; a fingerprint is confirmed only by its
 * words typed one per slot (yes refused at the boundary, a wrong slot named, the byte in hex
 * accepted for its word); a run stopped by the witness reports the step it resumes from, and a new
 * start on the same folder resumes there. Each card's PIN is asked on its hand-over when the run
 * first needs the card, in order and never before, only of that card (a wrong PIN refused by the
 * card and asked again; a card without its holder's registered key given no PIN at all), and never
 * appears in what the run shows. The question classifier is tested on the engine's own question
 * texts, without tokens.
 */
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { classify, stepViews, wrongSlots } from '../../src/api/ceremony-handlers.js';
import type { CeremonyPinRequestView, CeremonyStatusView } from '../../src/api/contract.js';
import { fingerprint, fromWords, toWords } from '../../src/crypto/fingerprint.js';
import { parseScript } from '../../src/ceremony/script.js';
import { templateText } from '../../src/ceremony/templates.js';
import { apiRoomFor, waiting } from '../support/ceremony-api.js';
import { ok } from '../support/result.js';

/** Two rooms of custodians, each with their own cards: keys are made once on a card, so the hand-over run below has its own. */
const cards = ['alice', 'bob', 'carol', 'dora', 'emil', 'fay'].map((id, i) => ({ id, label: `card-${id}`, pin: `77${i}7654`, soPin: '12345678' }));
const HSM = { label: 'Ceremony HSM', pin: '55556666', soPin: '12345678' };
const api = apiRoomFor('kc-api-run-', [HSM, ...cards]);
const { h, pinOf, until, folder } = api;

/** The next time the run waits for a person: each hand-over on the way is answered by its card's holder (`asked` keeps what each showed), then the question or the end. */
async function past(runId: string, asked: CeremonyPinRequestView[] = []): Promise<CeremonyStatusView> {
  for (;;) {
    const s = await until(runId, waiting);
    if (s.pinRequest === null) return s;
    asked.push(s.pinRequest);
    expect(ok(await h['ceremony.pin']({ runId, token: s.pinRequest.token, pin: pinOf(s.pinRequest.label) }))).toEqual({ token: s.pinRequest.token, accepted: true });
    await until(runId, (x) => x.pinRequest?.token !== s.pinRequest!.token);
  }
}

/**
 * The scripts of this file, written out here rather than taken from the templates (which follow the
 * seed's procedures and change with them): a first ceremony (custodian keys, the 2-of-3 set, a
 * manifest), and a later one that loads that set from the media. Each card is labelled by its name.
 */
const TRIO = ['alice', 'bob', 'carol'] as const;
const people = (trio: readonly string[]) => [{ id: 'admin', name: 'Ceremony administrator', role: 'administrator' }, { id: 'wendy', name: 'Internal witness', role: 'witness' },
  ...trio.map((id) => ({ id, name: `${id[0]!.toUpperCase()}${id.slice(1)}, custodian`, role: 'custodian' }))];
const cardsOf = (trio: readonly string[]) => trio.map((id) => ({ name: `card-${id}`, label: `card-${id}`, serial: null, holder: id }));
const manifestStep = (trio: readonly string[]) => ({ id: 'jwt-manifest', action: 'manifest', actor: trio[0], keyVersion: 2, phase: 'prepare', keys: ['JWT_SIGNING_SECRET', 'JWT_REFRESH_SALT'], previous: null,
  signers: trio.slice(0, 2), out: 'rotation.jwt.json' });
function jwtScript(id: string, trio: readonly string[] = TRIO): string {
  return JSON.stringify({ spec: 'keyceremony/ceremony-script@1', id, title: 'A first ceremony', participants: people(trio),
    tokens: [{ name: 'hsm', label: HSM.label, serial: null, holder: null }, ...cardsOf(trio)],
    steps: [{ id: 'custodian-keys', action: 'custodian-keys', actor: 'admin', witness: 'wendy', custodians: trio },
      { id: 'custodian-set', action: 'custodian-set', actor: trio[0], threshold: 2, members: trio, signers: trio, out: 'custodians.v1.json' }, manifestStep(trio)] });
}
/** The later ceremony of alice, bob and carol, with the cards' labels changed where `labels` says. */
function laterScript(id: string, labels: Record<string, string>): string {
  return JSON.stringify({ spec: 'keyceremony/ceremony-script@1', id, title: 'A later ceremony', participants: people(TRIO),
    tokens: cardsOf(TRIO).map((c) => ({ ...c, label: labels[c.name] ?? c.label })),
    steps: [{ id: 'custodian-set', action: 'load-custodian-set', actor: 'admin', witness: 'wendy', chain: ['custodians.v1.json'], rootDigest: null }, { ...manifestStep(TRIO), keyVersion: 3 }] });
}

describe('a live run through the ceremony channels', () => {
  const script = jwtScript('api-run-first');

  test('step numbers and actors, the words checked per slot, a stop, and the resume from its step', async () => {
    const plan = ok(await h['ceremony.validate']({ script }));
    expect(plan.steps.map((s) => [s.number, s.id, s.actor])).toEqual([[1, 'custodian-keys', 'admin'], [2, 'custodian-set', 'alice'], [3, 'jwt-manifest', 'alice']]);
    expect(plan.steps[1]).toMatchObject({ threshold: 2, members: ['alice', 'bob', 'carol'], signers: ['alice', 'bob', 'carol'], tokens: [{ label: 'card-alice' }, { label: 'card-bob' }, { label: 'card-carol' }] });
    expect(plan.digestWords).toHaveLength(12);
    const jwt = await folder('jwt');
    const { runId } = ok(await h['ceremony.start']({ script, ceremonyFolder: jwt, noRehearsal: true }));

    let s = await past(runId);
    expect(s).toMatchObject({ state: 'waiting', mode: 'live', stage: 'opening', now: null, resumeFrom: null, script: { digestWords: plan.digestWords } });
    expect(s.question).toMatchObject({ kind: 'clock', slots: 0, words: null, reading: false });
    expect(s.steps.map((x) => x.state)).toEqual(['pending', 'pending', 'pending']);
    // the clock has no words to read aloud: the reading phase is refused for it
    expect(await h['ceremony.reading']({ runId, reading: false })).toMatchObject({ ok: false, error: { code: 'CEREMONY_NO_QUESTION' } });
    ok(await h['ceremony.answer']({ runId, confirmed: true }));

    s = await past(runId);
    expect(s).toMatchObject({ stage: 'steps', now: 1, question: { kind: 'fingerprint', who: 'wendy', slots: 12, source: 'this-run' } });
    expect(s.steps.map((x) => x.state)).toEqual(['now', 'pending', 'pending']);
    const words = s.question!.words!;
    expect(words).toHaveLength(12);
    // the reader's phase, which the room's window follows: read aloud, then typed by the witness
    expect(s.question!.reading).toBe(true);
    expect(ok(await h['ceremony.reading']({ runId, reading: false }))).toEqual({ reading: false });
    expect(ok(await h['ceremony.status']({ runId })).question).toMatchObject({ reading: false, words });
    expect(await h['ceremony.reading']({ runId, reading: 'no' } as never)).toMatchObject({ ok: false, error: { code: 'IPC_BAD_REQUEST' } });
    // yes is not an answer to a fingerprint, at the boundary
    expect(await h['ceremony.answer']({ runId, confirmed: true })).toMatchObject({ ok: false, error: { code: 'CEREMONY_WORDS_REQUIRED' } });
    expect(ok(await h['ceremony.answer']({ runId, confirmed: true, words: ['yes'] }))).toEqual({ answered: false, wrong: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] });
    const wrong = [...words];
    wrong[2] = words[3]!;
    expect(ok(await h['ceremony.answer']({ runId, confirmed: true, words: wrong }))).toEqual({ answered: false, wrong: [3] });
    expect(ok(await h['ceremony.status']({ runId }))).toMatchObject({ state: 'waiting', question: { kind: 'fingerprint' } });
    // typed in capitals with spaces around: accepted
    expect(ok(await h['ceremony.answer']({ runId, confirmed: true, words: words.map((w) => ` ${w.toUpperCase()} `) }))).toEqual({ answered: true, wrong: [] });

    // bob's fingerprint: refused (the words do not match on his card): the run stops at step 1
    s = await past(runId);
    expect(s.question?.what).toContain("bob's");
    ok(await h['ceremony.answer']({ runId, confirmed: false }));
    s = await until(runId, (x) => x.state === 'failed');
    expect(s).toMatchObject({ state: 'failed', error: { code: 'CEREMONY_WITNESS_REFUSED' }, resumeFrom: 1, question: null, now: null });
    // the wrong attempt is in the run's log, named by its slot
    expect(s.lines.join('\n')).toContain('wendy typed words that differ from the fingerprint of alice\'s key, read aloud in slot 3');

    // a new start on the same folder resumes: the resume is confirmed (yes/no), then step 1 again
    const again = ok(await h['ceremony.start']({ script, ceremonyFolder: jwt, noRehearsal: true })).runId;
    s = await past(again);
    expect(s).toMatchObject({ stage: 'resuming', question: { kind: 'resume', slots: 0 } });
    ok(await h['ceremony.answer']({ runId: again, confirmed: true }));
    for (const who of ['alice', 'bob', 'carol']) {
      s = await past(again);
      expect(s.question).toMatchObject({ kind: 'fingerprint', what: `the fingerprint of ${who}'s key, read aloud` });
      // each word's byte in hex stands for the word (a reader reading the hex from the card's record)
      const bytes = fromWords(s.question!.words!)!;
      const typed = s.question!.words!.map((w, i) => (i % 2 === 0 ? w : Buffer.from(bytes.subarray(i, i + 1)).toString('hex')));
      expect(ok(await h['ceremony.answer']({ runId: again, confirmed: true, words: typed }))).toEqual({ answered: true, wrong: [] });
    }
    s = await past(again);
    expect(s).toMatchObject({ stage: 'checkpoint', question: { kind: 'checkpoint', slots: 0 } });
    expect(s.steps.map((x) => x.state)).toEqual(['done', 'done', 'done']);
    ok(await h['ceremony.answer']({ runId: again, confirmed: true }));
    s = await until(again, (x) => x.state === 'done' || x.state === 'failed');
    expect(s).toMatchObject({ state: 'done', stage: 'finished', now: null, resumeFrom: null });
  }, 60_000);
});

describe('hand-overs: each card\'s PIN asked of its holder when the run first needs the card', () => {
  // dora, emil and fay, whose cards hold no key yet
  const room = ['dora', 'emil', 'fay'] as const;
  const script = jwtScript('api-run-handover', room);
  const question = (x: CeremonyStatusView) => x.state === 'waiting' && x.question !== null;

  test('in order and never before: the administrator\'s token to open the journal, then each card as step 1 makes its key; only the card asked, a wrong PIN asked again; no PIN in what the run shows', async () => {
    const runId = ok(await h['ceremony.start']({ script, ceremonyFolder: await folder('jwt-handover'), noRehearsal: true })).runId;
    const seen: CeremonyStatusView[] = [];
    const watch = async (done: (s: CeremonyStatusView) => boolean): Promise<CeremonyStatusView> => { const s = await until(runId, done); seen.push(s); return s; };

    // opening: the token that keeps the journal (no custodian holds it), before the clock is even asked
    let s = await watch(waiting);
    expect(s).toMatchObject({ state: 'waiting', stage: 'opening', now: null, question: null,
      pinRequest: { token: 'hsm', label: HSM.label, holder: null, person: 'admin', card: 'script-token', set: null, step: null, serialPinned: false } });
    expect(s.pinRequest!.serial).toMatch(/^\S+$/);
    // the PIN of a card not asked, of a name the script does not have, and requests that are not one: refused at the boundary
    expect(await h['ceremony.pin']({ runId, token: 'card-alice', pin: pinOf('card-alice') })).toMatchObject({ ok: false, error: { code: 'CEREMONY_PIN_NOT_ASKED' } });
    expect(await h['ceremony.pin']({ runId, token: 'nobody', pin: '1234' })).toMatchObject({ ok: false, error: { code: 'CEREMONY_PIN_NOT_ASKED' } });
    expect(await h['ceremony.pin']({ runId, token: 'hsm' })).toMatchObject({ ok: false, error: { code: 'IPC_BAD_REQUEST' } });
    expect(await h['ceremony.pin']({ runId, token: 'Ceremony HSM', pin: HSM.pin })).toMatchObject({ ok: false, error: { code: 'IPC_BAD_REQUEST' } });
    expect(await h['ceremony.pin']({ runId, token: 'hsm', pin: '' })).toMatchObject({ ok: false, error: { code: 'IPC_BAD_REQUEST' } });
    // a wrong PIN: the card refuses it (one try used, as the token's flags say), and the same hand-over waits
    expect(await h['ceremony.pin']({ runId, token: 'hsm', pin: 'not-31415926' })).toMatchObject({ ok: false, error: { code: 'HSM_PIN_INCORRECT' } });
    expect(ok(await h['tokens.list']({})).tokens.find((t) => t.label === HSM.label)).toMatchObject({ pinCountLow: true });
    s = await watch(waiting);
    expect(s).toMatchObject({ state: 'waiting', pinRequest: { token: 'hsm' }, question: null });
    expect(ok(await h['ceremony.pin']({ runId, token: 'hsm', pin: HSM.pin }))).toEqual({ token: 'hsm', accepted: true });

    // the clock next: no card has been asked for
    s = await watch(question);
    expect(s).toMatchObject({ pinRequest: null, question: { kind: 'clock' } });
    expect(await h['ceremony.pin']({ runId, token: 'hsm', pin: HSM.pin })).toMatchObject({ ok: false, error: { code: 'CEREMONY_PIN_NOT_ASKED' } });
    ok(await h['ceremony.answer']({ runId, confirmed: true }));

    // step 1 makes each custodian's key on their card: each card asked for just before its key, each key's fingerprint before the next card
    for (const who of room) {
      s = await watch(waiting);
      expect(s).toMatchObject({ now: 1, question: null, pinRequest: { token: `card-${who}`, label: `card-${who}`, holder: who, person: who, card: 'script-token', set: null, step: 1 } });
      expect(s.pinRequest!.why).toContain(`no custodian set is loaded in this run to register a key for ${who}`);
      // the next card's holder cannot type ahead
      const next = room[room.indexOf(who) + 1];
      if (next !== undefined) expect(await h['ceremony.pin']({ runId, token: `card-${next}`, pin: pinOf(`card-${next}`) })).toMatchObject({ ok: false, error: { code: 'CEREMONY_PIN_NOT_ASKED' } });
      ok(await h['ceremony.pin']({ runId, token: `card-${who}`, pin: pinOf(`card-${who}`) }));
      s = await watch(question);
      expect(s).toMatchObject({ pinRequest: null, question: { kind: 'fingerprint', what: `the fingerprint of ${who}'s key, read aloud` } });
      ok(await h['ceremony.answer']({ runId, confirmed: true, words: [...s.question!.words!] }));
    }
    // steps 2 and 3 and the checkpoint sign with the cards given: no hand-over again
    s = await watch(waiting);
    expect(s).toMatchObject({ stage: 'checkpoint', pinRequest: null, question: { kind: 'checkpoint' } });
    ok(await h['ceremony.answer']({ runId, confirmed: true }));
    s = await watch((x) => x.state === 'done' || x.state === 'failed');
    expect(s).toMatchObject({ state: 'done', pinRequest: null, error: null });
    expect(await h['ceremony.pin']({ runId, token: 'hsm', pin: HSM.pin })).toMatchObject({ ok: false, error: { code: 'CEREMONY_PIN_NOT_ASKED' } });
    expect(await h['ceremony.stop']({ runId })).toMatchObject({ ok: false, error: { code: 'CEREMONY_NOT_WAITING' } });

    // the log names each hand-over, in order, once; no PIN (nor the wrong one) in any status, line, transcript or audit entry
    expect(s.lines.filter((l) => l.startsWith('  Hand-over: ')).map((l) => /"([^"]+)"/.exec(l)![1])).toEqual([HSM.label, ...room.map((c) => `card-${c}`)]);
    expect(s.lines.join('\n')).toContain(`the card "${HSM.label}" refused the PIN typed for it (HSM_PIN_INCORRECT); its hand-over waits`);
    const t = ok(await h['transcript.read']({ runId }));
    const shown = JSON.stringify([seen, s, t]);
    for (const pin of [HSM.pin, 'not-31415926', ...cards.map((c) => c.pin)]) expect(shown).not.toContain(pin);
  }, 60_000);

  test('a run stopped at a hand-over: the waiting PIN is given up, the run fails at its step with CEREMONY_STOPPED, and no PIN is taken after', async () => {
    const runId = ok(await h['ceremony.start']({ script, ceremonyFolder: await folder('jwt-stopped'), noRehearsal: true })).runId;
    expect((await until(runId, waiting)).pinRequest?.token).toBe('hsm');
    expect(ok(await h['ceremony.stop']({ runId }))).toEqual({ stopped: true });
    const s = await until(runId, (x) => x.state === 'failed');
    expect(s).toMatchObject({ state: 'failed', pinRequest: null, question: null, resumeFrom: 1, error: { code: 'CEREMONY_STOPPED' } });
    expect(await h['ceremony.pin']({ runId, token: 'hsm', pin: HSM.pin })).toMatchObject({ ok: false, error: { code: 'CEREMONY_PIN_NOT_ASKED' } });
    expect(await h['ceremony.stop']({ runId: 'f'.repeat(32) })).toMatchObject({ ok: false, error: { code: 'CEREMONY_RUN_UNKNOWN' } });
  }, 30_000);

  // a later ceremony: the set of the first (the 'jwt' run above) on the ceremony media
  const later = async (name: string, labels: Record<string, string>): Promise<string> => {
    const handle = await folder(name);
    copyFileSync(join(api.work, 'jwt', 'custodians.v1.json'), join(api.work, name, 'custodians.v1.json'));
    return ok(await h['ceremony.start']({ script: laterScript(`api-run-${name}`, labels), ceremonyFolder: handle, noRehearsal: true })).runId;
  };

  test('with a set loaded from the media, the card is found by the key the set registers for its holder; a card without it gets no PIN, so none of its tries is used', async () => {
    // the journal's token here is alice's card, asked first: the set the script loads registers her key, and the card holds it
    let runId = await later('dual-right', {});
    let s = await until(runId, waiting);
    expect(s).toMatchObject({ stage: 'opening', pinRequest: { token: 'card-alice', label: 'card-alice', holder: 'alice', person: 'alice', card: 'registered-key', set: 1, rootPinned: false, step: null } });
    expect(s.pinRequest!.why).toBe('"card-alice" holds the key set version 1 registers for alice');
    ok(await h['ceremony.stop']({ runId }));
    await until(runId, (x) => x.state === 'failed');

    // bob's card where the script says alice's: refused before any PIN reaches it
    runId = await later('dual-swapped', { 'card-alice': 'card-bob', 'card-bob': 'card-alice' });
    s = await until(runId, waiting);
    expect(s).toMatchObject({ pinRequest: { token: 'card-alice', label: 'card-bob', holder: 'alice', card: 'not-registered-key', set: 1 } });
    expect(s.pinRequest!.why).toBe('"card-bob" does not hold the key set version 1 registers for alice');
    for (const pin of ['0000', pinOf('card-bob'), pinOf('card-alice')]) {
      expect(await h['ceremony.pin']({ runId, token: 'card-alice', pin })).toMatchObject({ ok: false, error: { code: 'CEREMONY_CARD_KEY_MISMATCH' } });
    }
    expect(ok(await h['tokens.list']({})).tokens.find((t) => t.label === 'card-bob')).toMatchObject({ pinCountLow: false, pinFinalTry: false });
    expect(ok(await h['ceremony.status']({ runId }))).toMatchObject({ state: 'waiting', pinRequest: { token: 'card-alice' } });
    ok(await h['ceremony.stop']({ runId }));
    expect(await until(runId, (x) => x.state === 'failed')).toMatchObject({ error: { code: 'CEREMONY_STOPPED' } });
  }, 30_000);
});

describe('what the witness is asked (the engine\'s questions, with their kind, value and source)', () => {
  const steps = stepViews(parseScript(new TextEncoder().encode(templateText('quarterly-master-dual-publish')!)));
  const load = steps[0]!;
  test('a check value made in this run: its bytes as words, shown to the reader; the value is not in what', () => {
    const { view, expected } = classify({ who: 'wendy', what: 'the check value of master-v1: ecb:8ec23b', kind: 'check-value', value: '8ec23b', source: 'this-run' }, null);
    expect(view).toEqual({ who: 'wendy', what: 'the check value of master-v1', kind: 'check-value', words: toWords(Uint8Array.of(0x8e, 0xc2, 0x3b)), slots: 3, source: 'this-run', reading: true });
    expect(wrongSlots(expected, ['8e', view.words![1]!, 'yes'])).toEqual([3]);
  });
  test('the root digest comes from the earlier ceremony: 12 slots, the words withheld, the digest not in what', () => {
    const d = `sha256:${'ab'.repeat(32)}`;
    const { view, expected } = classify({ who: 'wendy', what: `the root set's digest ${d}, against the record of the ceremony that made it`, kind: 'digest', value: d.slice('sha256:'.length), source: 'record' }, load);
    expect(view).toMatchObject({ kind: 'digest', words: null, slots: 12, source: 'record', what: "the root set's digest, against the record of the ceremony that made it" });
    expect(JSON.stringify(view)).not.toContain('abab');
    expect(wrongSlots(expected, Array(12).fill('ab'))).toEqual([]);
    expect(wrongSlots(expected, ['yes'])).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  });
  test('a registered key checked while a set is loaded is read from the earlier transcript: words withheld', () => {
    const fp = fingerprint(new Uint8Array(32).fill(7));
    const { view } = classify({ who: 'wendy', what: "the fingerprint of bob's key, read aloud", kind: 'fingerprint', words: fp.words, source: 'record' }, load);
    expect(view).toMatchObject({ kind: 'fingerprint', source: 'record', words: null, slots: 12 });
    const made = classify({ who: 'wendy', what: "the fingerprint of bob's key, read aloud", kind: 'fingerprint', words: fp.words, source: 'this-run' }, null).view;
    expect(made).toMatchObject({ source: 'this-run', words: fp.words });
  });
  test('the clock, a resume and the checkpoint stay yes/no', () => {
    expect(classify({ who: 'admin', what: 'the ceremony clock reads 2026-01-01T00:00:00Z UTC', kind: 'clock' }, null).view).toMatchObject({ kind: 'clock', slots: 0 });
    expect(classify({ who: 'admin', what: 'resuming this ceremony with 1 step(s) done (a), each checked against its tokens and files', kind: 'resume' }, null).view).toMatchObject({ kind: 'resume', slots: 0 });
    expect(classify({ who: 'alice, bob', what: `the checkpoint they sign covers the audit log x: 3 entries, head sha256:${'0'.repeat(64)}, run without interruption`, kind: 'checkpoint' }, null).view)
      .toMatchObject({ kind: 'checkpoint', slots: 0 });
  });
  test('wrong slots: empty, extra and wrong words are each named', () => {
    const e = [{ word: 'aardvark', hex: '00' }, { word: 'adroitness', hex: '00' }];
    expect(wrongSlots(e, ['aardvark', 'adroitness'])).toEqual([]);
    expect(wrongSlots(e, ['aardvark'])).toEqual([2]);
    expect(wrongSlots(e, ['', 'adroitness', 'extra'])).toEqual([1, 3]);
  });
});
