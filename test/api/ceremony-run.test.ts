/**
 * The ceremony channels as the run sheet uses them (issue 15), over real SoftHSM2 tokens: the status
 * says the step number, who acts and where every step is; a fingerprint is confirmed only by its
 * words typed one per slot (yes refused at the boundary, a wrong slot named, the byte in hex
 * accepted for its word); a run stopped by the witness reports the step it resumes from, and a new
 * start on the same folder resumes there. The question classifier is tested on the engine's own
 * question texts, without tokens.
 */
import { mkdirSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { classify, stepViews, wrongSlots } from '../../src/api/ceremony-handlers.js';
import type { CeremonyStatusView, Result } from '../../src/api/contract.js';
import { createHandlers } from '../../src/api/handlers.js';
import type { Handlers } from '../../src/api/handlers.js';
import { fingerprint, fromWords, toWords } from '../../src/crypto/fingerprint.js';
import { parseScript } from '../../src/ceremony/script.js';
import { templateText } from '../../src/ceremony/templates.js';
import { createSoftHsm } from '../support/softhsm.js';
import type { SoftHsm } from '../support/softhsm.js';

const cards = ['alice', 'bob', 'carol'].map((id, i) => ({ id, label: `card-${id}`, pin: `77${i}7654`, soPin: '12345678' }));
const HSM = { label: 'Ceremony HSM', pin: '55556666', soPin: '12345678' };
let hsm: SoftHsm;
let work: string;
let h: Handlers;
let chosen: string | null = null;

beforeAll(() => {
  hsm = createSoftHsm([HSM, ...cards]);
  work = realpathSync(mkdtempSync(join(tmpdir(), 'kc-api-run-')));
  h = createHandlers({ env: { KEYCEREMONY_PKCS11_MODULE: hsm.module }, version: 'test', interfaces: () => [], chooseFolder: async () => chosen });
});
afterAll(() => { hsm.cleanup(); rmSync(work, { recursive: true, force: true }); });

function ok<T>(r: Result<T>): T {
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  return r.value;
}

async function until(runId: string, done: (s: CeremonyStatusView) => boolean): Promise<CeremonyStatusView> {
  let s = ok(await h['ceremony.status']({ runId }));
  for (let i = 0; i < 400 && !done(s); i++) { await new Promise((r) => setTimeout(r, 25)); s = ok(await h['ceremony.status']({ runId })); }
  return s;
}
const waiting = (s: CeremonyStatusView) => s.state !== 'running';

describe('a live run through the ceremony channels', () => {
  const t = JSON.parse(templateText('monthly-jwt-rotation')!) as { tokens: { name: string; label: string }[] };
  for (const tk of t.tokens) if (tk.name.startsWith('card-')) tk.label = tk.name;
  const script = JSON.stringify(t);
  const pins = t.tokens.map((tk) => ({ token: tk.name, pin: tk.name === 'hsm' ? HSM.pin : cards.find((c) => c.label === tk.label)!.pin }));

  test('step numbers and actors, the words checked per slot, a stop, and the resume from its step', async () => {
    const plan = ok(await h['ceremony.validate']({ script }));
    expect(plan.steps.map((s) => [s.number, s.id, s.actor])).toEqual([[1, 'custodian-keys', 'admin'], [2, 'custodian-set', 'alice'], [3, 'jwt-manifest', 'alice']]);
    expect(plan.steps[1]).toMatchObject({ threshold: 2, members: ['alice', 'bob', 'carol'], signers: ['alice', 'bob', 'carol'], tokens: [{ label: 'card-alice' }, { label: 'card-bob' }, { label: 'card-carol' }] });
    expect(plan.digestWords).toHaveLength(12);
    mkdirSync(join(work, 'jwt'));
    chosen = join(work, 'jwt');
    const folder = ok(await h['folders.choose']({ purpose: 'ceremony' })).folder!.handle;
    const { runId } = ok(await h['ceremony.start']({ script, ceremonyFolder: folder, pins, noRehearsal: true }));

    let s = await until(runId, waiting);
    expect(s).toMatchObject({ state: 'waiting', mode: 'live', stage: 'opening', now: null, resumeFrom: null, script: { digestWords: plan.digestWords } });
    expect(s.question).toMatchObject({ kind: 'clock', slots: 0, words: null });
    expect(s.steps.map((x) => x.state)).toEqual(['pending', 'pending', 'pending']);
    ok(await h['ceremony.answer']({ runId, confirmed: true }));

    s = await until(runId, waiting);
    expect(s).toMatchObject({ stage: 'steps', now: 1, question: { kind: 'fingerprint', who: 'wendy', slots: 12, source: 'this-run' } });
    expect(s.steps.map((x) => x.state)).toEqual(['now', 'pending', 'pending']);
    const words = s.question!.words!;
    expect(words).toHaveLength(12);
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
    s = await until(runId, (x) => x.state === 'waiting' && x.question?.what.includes("bob's") === true);
    ok(await h['ceremony.answer']({ runId, confirmed: false }));
    s = await until(runId, (x) => x.state === 'failed');
    expect(s).toMatchObject({ state: 'failed', error: { code: 'CEREMONY_WITNESS_REFUSED' }, resumeFrom: 1, question: null, now: null });
    // the wrong attempt is in the run's log, named by its slot
    expect(s.lines.join('\n')).toContain('wendy typed words that differ from the fingerprint of alice\'s key, read aloud in slot 3');

    // a new start on the same folder resumes: the resume is confirmed (yes/no), then step 1 again
    const again = ok(await h['ceremony.start']({ script, ceremonyFolder: folder, pins, noRehearsal: true })).runId;
    s = await until(again, waiting);
    expect(s).toMatchObject({ stage: 'resuming', question: { kind: 'resume', slots: 0 } });
    ok(await h['ceremony.answer']({ runId: again, confirmed: true }));
    for (const who of ['alice', 'bob', 'carol']) {
      s = await until(again, waiting);
      expect(s.question).toMatchObject({ kind: 'fingerprint', what: `the fingerprint of ${who}'s key, read aloud` });
      // each word's byte in hex stands for the word (a reader reading the hex from the card's record)
      const bytes = fromWords(s.question!.words!)!;
      const typed = s.question!.words!.map((w, i) => (i % 2 === 0 ? w : Buffer.from(bytes.subarray(i, i + 1)).toString('hex')));
      expect(ok(await h['ceremony.answer']({ runId: again, confirmed: true, words: typed }))).toEqual({ answered: true, wrong: [] });
    }
    s = await until(again, waiting);
    expect(s).toMatchObject({ stage: 'checkpoint', question: { kind: 'checkpoint', slots: 0 } });
    expect(s.steps.map((x) => x.state)).toEqual(['done', 'done', 'done']);
    ok(await h['ceremony.answer']({ runId: again, confirmed: true }));
    s = await until(again, (x) => x.state === 'done' || x.state === 'failed');
    expect(s).toMatchObject({ state: 'done', stage: 'finished', now: null, resumeFrom: null });
  }, 60_000);
});

describe('what the witness is asked (the engine\'s questions, with their kind, value and source)', () => {
  const steps = stepViews(parseScript(new TextEncoder().encode(templateText('quarterly-master-dual-publish')!)));
  const load = steps[0]!;
  test('a check value made in this run: its bytes as words, shown to the reader; the value is not in what', () => {
    const { view, expected } = classify({ who: 'wendy', what: 'the check value of master-v1: ecb:8ec23b', kind: 'check-value', value: '8ec23b', source: 'this-run' }, null);
    expect(view).toEqual({ who: 'wendy', what: 'the check value of master-v1', kind: 'check-value', words: toWords(Uint8Array.of(0x8e, 0xc2, 0x3b)), slots: 3, source: 'this-run' });
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
