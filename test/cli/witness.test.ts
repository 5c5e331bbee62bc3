/**
 * The witness check of the command line (src/cli/witness.ts, issue 15). On a real pseudo-terminal
 * (test/support/pty-run.py) through test/cli/witness-entry.ts, which asks hand-built questions with
 * real words, as the engine would: yes is refused for a fingerprint; the right words typed slot by
 * slot are accepted, and the words are off the screen at every prompt; a wrong word is named by its
 * slot; a record's words are never printed; yes/no questions still take yes or no. In process, with
 * a stand-in terminal: what a real one makes slow to show (rounds run out, input ends, no terminal,
 * hostile text, a kind without words).
 */
import { spawnSync } from 'node:child_process';
import { PassThrough, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { fromHex } from '../../src/bytes.js';
import type { Question } from '../../src/ceremony/context.js';
import { digestWords } from '../../src/ceremony/witness.js';
import { fingerprint } from '../../src/crypto/fingerprint.js';
import type { Io } from '../../src/cli/io.js';
import { CLEAR_SCREEN, MAX_ROUNDS, askWitness } from '../../src/cli/witness.js';
import { withoutValue } from '../../src/ceremony/witness.js';
import { expectCodeAsync } from '../support/expect-code.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DRIVER = fileURLToPath(new URL('../support/pty-run.py', import.meta.url));
const ENTRY = fileURLToPath(new URL('./witness-entry.ts', import.meta.url));

/** RFC 8032 §7.1 test 1's public key, and its fingerprint's 12 words. */
const FP = fingerprint(fromHex('public key', 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a'));
const WORDS = [...FP.words];
const fingerprintQ: Question = { who: 'carol', what: "the fingerprint of alice's key, read aloud", kind: 'fingerprint', words: FP.words, source: 'this-run' };
const KCV = '7024de';
const kcvQ: Question = { who: 'carol', what: `the check value of master-v7: ecb:${KCV}`, kind: 'check-value', value: KCV, source: 'this-run' };
const ROOT_DIGEST = 'sha256:4e07408562bedb8b60ce05c1decfe3ad16b72230967de01f640b7e4729b49fce';
const rootQ: Question = { who: 'dave', what: `the root set's digest ${ROOT_DIGEST}, against the record of the ceremony that made it`, kind: 'digest', value: ROOT_DIGEST.slice(7), source: 'record' };
const clockQ: Question = { who: 'erin', what: 'the ceremony clock reads 2026-03-01T10:00:00Z UTC', kind: 'clock' };
const resumeQ: Question = { who: 'erin', what: 'resuming this ceremony with 2 step(s) done', kind: 'resume' };

interface Report { readonly status: number; readonly output: string; readonly heard: Record<string, string>; readonly answers: readonly (boolean | string)[] | null }

/** The questions asked on a real terminal, `answers` typed at its prompts (test/support/pty-run.py). */
function onTerminal(questions: readonly Question[], answers: readonly string[]): Report {
  const r = spawnSync('python3', [DRIVER, JSON.stringify({ answers, timeout: 30 }), process.execPath, '--import', 'tsx', ENTRY, JSON.stringify(questions)], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  expect(r.stderr).toBe('');
  const report = JSON.parse(r.stdout) as Omit<Report, 'answers'>;
  const said = /answers: (\[[^\r\n]*\])/.exec(report.output)?.[1];
  return { ...report, answers: said === undefined ? null : JSON.parse(said) as (boolean | string)[] };
}

const PROMPT = /word (\d+) of (\d+): /g;
/** What the screen holds at each `word N of M: ` prompt: the output since the last clear, without the words the witness typed (the terminal's echo). */
function screensAtPrompts(output: string): string[] {
  return [...output.matchAll(PROMPT)].map((m) => output.slice(Math.max(0, output.lastIndexOf(CLEAR_SCREEN, m.index)), m.index).replace(/word \d+ of \d+: [^\r\n]*\r?\n/g, ''));
}
const shows = (text: string, word: string): boolean => new RegExp(`\\b${word}\\b`, 'i').test(text);

describe('on a real terminal', () => {
  test('yes is refused for a fingerprint: each slot wants its word', () => {
    const r = onTerminal([fingerprintQ], ['', 'yes', 'no']);
    expect(r.output).toContain('yes does not confirm words: type word 1 as you heard it');
    expect(r.output).toContain("carol did not confirm the fingerprint of alice's key");
    expect(r.answers).toEqual([false]);
    expect(r.status).toBe(0);
  }, 60_000);

  test('the words shown to the reader, then cleared; typed slot by slot they confirm, and no prompt has them on the screen', () => {
    const r = onTerminal([fingerprintQ], ['', ...WORDS.map(() => '{heard}')]);
    expect(r.answers).toEqual([true]);
    // what the reader was shown is the fingerprint's words, slot by slot
    expect(WORDS.map((_, i) => r.heard[String(i + 1)])).toEqual(WORDS);
    const readerAt = r.output.indexOf('Reader: say these 12 words');
    expect(readerAt).toBeGreaterThanOrEqual(0);
    expect(r.output.indexOf(CLEAR_SCREEN, readerAt)).toBeGreaterThan(readerAt);
    const screens = screensAtPrompts(r.output);
    expect(screens).toHaveLength(12);
    for (const screen of screens) for (const w of WORDS) expect(shows(screen, w), `${w} on the screen at a prompt`).toBe(false);
    expect(r.output).toContain('carol confirmed the fingerprint of alice');
  }, 60_000);

  test('a wrong word is named by its slot; the reader reads that slot again and the witness retypes it alone', () => {
    const r = onTerminal([fingerprintQ], ['', '{heard}', '{heard}', '{misheard}', ...WORDS.slice(3).map(() => '{heard}'), '', '{heard}']);
    expect(r.answers).toEqual([true]);
    expect(r.output).toContain('slot 3 differs');
    const again = r.output.slice(r.output.indexOf('slot 3 differs'));
    expect(again).toContain(`Reader: say slot 3 of the fingerprint of alice's key, read aloud again to carol`);
    // only slot 3 is shown again, and only slot 3 is asked again
    expect(again.slice(0, again.indexOf('Press Enter'))).toMatch(new RegExp(`\\b3 ${WORDS[2] as string}\\b`));
    for (const w of WORDS.filter((_, i) => i !== 2)) expect(shows(again.slice(0, again.indexOf('Press Enter')), w)).toBe(false);
    expect([...again.matchAll(PROMPT)].map((m) => m[1])).toEqual(['3']);
    for (const screen of screensAtPrompts(r.output)) for (const w of WORDS) expect(shows(screen, w)).toBe(false);
  }, 60_000);

  test('a check value made in this run: its hex never shown, a slot may be typed as its byte in hex', () => {
    const r = onTerminal([kcvQ], ['', KCV.slice(0, 2), '{heard}', '{heard}']);
    expect(r.answers).toEqual([true]);
    expect(r.output).toContain('the check value of master-v7');
    expect(r.output).not.toContain('ecb:');
    expect(r.output).not.toContain(KCV);
  }, 60_000);

  test("a record's words are never printed: the witness types them from the transcript", () => {
    const words = digestWords(ROOT_DIGEST);
    expect(words).toHaveLength(12);
    const r = onTerminal([rootQ], words);
    expect(r.answers).toEqual([true]);
    expect(r.output).not.toContain('Reader:');
    expect(r.output).toContain('from the printed transcript of the ceremony that made it');
    expect(r.output).not.toContain(ROOT_DIGEST.slice(7, 31)); // no part of the hex either (the first 12 bytes are the slots)
    // a word appears only where the witness typed it
    const untyped = r.output.replace(/word \d+ of \d+: [^\r\n]*\r?\n/g, '');
    for (const w of words) expect(shows(untyped, w), w).toBe(false);
  }, 60_000);

  test('yes/no questions take yes or no, and ask again otherwise', () => {
    const r = onTerminal([clockQ, resumeQ], ['maybe', 'yes', 'no']);
    expect(r.answers).toEqual([true, false]);
    expect(r.output.match(/type yes or no: /g)).toHaveLength(3);
    expect(r.output).toContain('erin: confirm the ceremony clock reads 2026-03-01T10:00:00Z UTC');
  }, 60_000);
});

/** A stand-in terminal: stdin a stream that says it is a TTY, with `typed` lines already in it; stderr collected. */
function fakeTerminal(typed: readonly string[], opts: { tty?: boolean; end?: boolean } = {}): { io: Io; shown: () => string } {
  const stdin = Object.assign(new PassThrough(), { isTTY: opts.tty ?? true }) as unknown as NodeJS.ReadStream & PassThrough;
  let shown = '';
  const stderr = Object.assign(new Writable({ write(chunk: Buffer, _enc, done) { shown += chunk.toString('utf8'); done(); } }), { isTTY: opts.tty ?? true });
  for (const line of typed) stdin.write(`${line}\n`);
  if (opts.end === true) stdin.end();
  return { io: { stdin, stderr, stdout: new PassThrough(), env: {} }, shown: () => shown };
}

describe('in process, on a stand-in terminal', () => {
  test(`after ${MAX_ROUNDS} rounds with a slot still wrong, the check is not confirmed`, async () => {
    const wrongThird = [...WORDS.slice(0, 2), WORDS[2] === 'aardvark' ? 'absurd' : 'aardvark', ...WORDS.slice(3)];
    const t = fakeTerminal(['', ...wrongThird, '', 'aardvark', '', 'aardvark', '', 'aardvark']);
    expect(await askWitness(t.io, fingerprintQ)).toBe(false);
    expect(t.shown().match(/slot 3 differs/g)).toHaveLength(MAX_ROUNDS);
    expect(t.shown()).toContain(`still differ after ${MAX_ROUNDS} rounds`);
  });

  test('no at a slot refuses: the check ends there, not confirmed', async () => {
    const t = fakeTerminal([...digestWords(ROOT_DIGEST).slice(0, 5), 'no']);
    expect(await askWitness(t.io, rootQ)).toBe(false);
    expect(t.shown()).toContain('dave did not confirm the root set');
  });

  test('input that ends is a refusal, for words and for yes/no', async () => {
    expect(await askWitness(fakeTerminal(['', 'x'], { end: true }).io, fingerprintQ)).toBe(false);
    expect(await askWitness(fakeTerminal([], { end: true }).io, clockQ)).toBe(false);
  });

  test('no terminal: CEREMONY_NO_TERMINAL, before anything is shown', async () => {
    const t = fakeTerminal(['yes'], { tty: false });
    await expectCodeAsync(askWitness(t.io, clockQ), 'CEREMONY_NO_TERMINAL');
    await expectCodeAsync(askWitness(t.io, fingerprintQ), 'CEREMONY_NO_TERMINAL');
    expect(t.shown()).toBe('');
  });

  test('a fingerprint, check value or digest without words is a bug (exit 3), never a yes/no', async () => {
    const e = await expectCodeAsync(askWitness(fakeTerminal(['yes']).io, { who: 'carol', what: 'a fingerprint', kind: 'fingerprint' }), 'CEREMONY_WITNESS_NO_WORDS');
    expect(e.exit).toBe(3);
  });

  test('control and bidi characters in the question are escaped, in the reader screen and the prompts', async () => {
    const hostile: Question = { ...fingerprintQ, who: 'carol\x1b]0;owned\x07', what: 'the fingerprint of \u202eecila\u202c, read aloud' };
    const t = fakeTerminal(['', ...WORDS]);
    expect(await askWitness(t.io, hostile)).toBe(true);
    const shown = t.shown().split(CLEAR_SCREEN).join(''); // the tool's own control sequence, the only one
    expect(shown).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u202a-\u202e]/u);
    expect(shown).toContain('carol\\u001b]0;owned\\u0007');
    expect(shown).toContain('\\u202eecila\\u202c');
  });

  test('the value is taken out of the question text wherever it appears', () => {
    expect(withoutValue(kcvQ)).toBe('the check value of master-v7');
    expect(withoutValue(rootQ)).toBe("the root set's digest, against the record of the ceremony that made it");
    expect(withoutValue(fingerprintQ)).toBe(fingerprintQ.what);
  });
});
