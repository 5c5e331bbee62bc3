/**
 * Issue 14, item 3: document content never reaches a terminal as control or bidi characters. An
 * envelope member named `x ESC[2J ESC[H CR valid rotation manifest: …` used to clear the screen and
 * print a forged "valid" line (exit 1 all the same); `status` printed it on stderr. One sanitiser
 * (src/docs/sanitize.ts) escapes such characters as \uXXXX wherever problems and names become
 * text; custodian names holding them are refused when a set is made; `--json` holds them only as
 * \u escapes. A fast-check property throws arbitrary strings at custodian names, envelope member
 * names and the values quoted in reasons, in-process through the CLI's main() and in a real process.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { beforeAll, describe, expect, test } from 'vitest';
import { buildCustodianSet } from '../../src/custodians/set.js';
import { formatProblem, problem } from '../../src/docs/problems.js';
import { safeJson, sanitizeText, unsafeCharacter } from '../../src/docs/sanitize.js';
import { main } from '../../src/cli/main.js';
import { expectCode } from '../support/expect-code.js';
import { manifestPayload } from '../support/independent.js';
import { envelope, expectErrorLine, K, members, put, runCli, runUnchanged, setDoc, setPayload, tempDir, TYPES, UNSAFE_OUTPUT } from './support.js';
import type { RawEnvelope } from './support.js';

const FORGED_LINE = 'valid rotation manifest: signed by alice, bob (2 of threshold 2, custodian set version 1)';
const HOSTILE_NAME = `x\u001b[2J\u001b[H\r${FORGED_LINE}`;
const set1 = setDoc(1, 2, members('alice', 'bob', 'carol'), [K.alice, K.bob, K.carol]);
const manifest = (over: Record<string, unknown> = {}): RawEnvelope => envelope(TYPES.rotation, manifestPayload(over), [K.alice, K.bob]);
const AT = '2026-12-01T00:00:00Z';
/** What every line of `verify`'s text output starts with: anything else is a line a document wrote. */
const VERIFY_LINE = /^(?:valid |INVALID |  - |  warning: )/;

let dir: string;
let setFile: string;
beforeAll(() => {
  dir = tempDir('terminal');
  setFile = put(dir, 'custodians.v1.json', set1);
});

function expectCleanText(stdout: string, stderr: string): void {
  expect(stdout + stderr).not.toMatch(UNSAFE_OUTPUT);
  for (const line of stdout.split('\n').slice(0, -1)) expect(line).toMatch(VERIFY_LINE);
}

describe('the forged "valid" line of issue 14', () => {
  test('verify: exit 1, the member name shown escaped, no line of it starts a line of its own', () => {
    const file = put(dir, 'forged.json', JSON.stringify({ ...manifest(), [HOSTILE_NAME]: 1 }));
    const r = runUnchanged(dir, ['verify', file, '--custodians', setFile, '--at', AT]);
    expect(r.status).toBe(1);
    expectCleanText(r.stdout, r.stderr);
    expect(r.stdout).toContain('DOCUMENT_UNKNOWN_MEMBER: $.x\\u001b[2J\\u001b[H\\u000dvalid rotation manifest');
    expect(r.stdout.split('\n').filter((l) => l.startsWith('valid'))).toEqual([]);
    const j = runUnchanged(dir, ['verify', file, '--custodians', setFile, '--at', AT, '--json']);
    expect(j.status).toBe(1);
    expect(j.stdout).not.toMatch(UNSAFE_OUTPUT);
    expect(j.stdout.trimEnd().split('\n')).toHaveLength(1);
    expect((JSON.parse(j.stdout) as { reasons: string[] }).reasons[0]).toContain('\\u001b[2J');
  });
  test('status: the one error line on stderr, escaped, exit 1', () => {
    const file = put(dir, 'forged-status.json', JSON.stringify({ ...manifest(), [HOSTILE_NAME]: 1, 'bidi\u202etxt.exe\u009b2J': 2 }));
    const r = runUnchanged(dir, ['status', file, '--custodians', setFile, '--at', AT]);
    expectErrorLine(r, 'DOCUMENT_UNKNOWN_MEMBER');
    expect(r.stdout + r.stderr).not.toMatch(UNSAFE_OUTPUT);
  });
  test('C1 (U+009B CSI, U+0085 NEL), DEL, bidi overrides and isolates, U+2028 in member names and quoted values', () => {
    const names = ['a\u009b2Jb', 'a\u0085b', 'a\u007fb', 'invoice\u202efdp.exe', 'a\u2066b\u2069', 'a\u200fb\u200e\u061c', 'a\u2028b\u2029'];
    const file = put(dir, 'c1.json', JSON.stringify({ ...envelope(TYPES.rotation, manifestPayload({ ceremony: names.join('|'), actor: 'x\u202ey' }), [K.alice, K.bob]), ...Object.fromEntries(names.map((n) => [n, 0])) }));
    for (const json of [false, true]) {
      const r = runUnchanged(dir, ['verify', file, '--custodians', setFile, '--at', AT, ...(json ? ['--json'] : [])]);
      expect(r.status).toBe(1);
      if (json) expect(r.stdout).not.toMatch(UNSAFE_OUTPUT);
      else expectCleanText(r.stdout, r.stderr);
    }
    const payload = put(dir, 'c1-payload.json', manifest({ ceremony: 'q4\u009b2J', actor: 'al\u202eice' }));
    const r = runUnchanged(dir, ['verify', payload, '--custodians', setFile, '--at', AT]);
    expect(r.status).toBe(1);
    expectCleanText(r.stdout, r.stderr);
    expect(r.stdout).toContain('\\u009b2J');
  });
});

describe('the sanitiser', () => {
  test('escapes each class, leaves printable text of any script alone, and is idempotent', () => {
    expect(sanitizeText('a\u001b[2J\r\n\tb')).toBe('a\\u001b[2J\\u000d\\u000a\\u0009b');
    expect(sanitizeText('\u0000\u007f\u0080\u009b\u009f')).toBe('\\u0000\\u007f\\u0080\\u009b\\u009f');
    expect(sanitizeText('\u202a\u202e\u2066\u2069\u200e\u200f\u061c\u2028\u2029')).toBe('\\u202a\\u202e\\u2066\\u2069\\u200e\\u200f\\u061c\\u2028\\u2029');
    expect(sanitizeText('x\ud800y\udc00')).toBe('x\\ud800y\\udc00');
    const plain = 'Zoë Ångström · 山田 · محمد · 😀 · C:\\keys\\a.json';
    expect(sanitizeText(plain)).toBe(plain);
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (s) => {
      const once = sanitizeText(s);
      expect(once).not.toMatch(UNSAFE_OUTPUT);
      expect(sanitizeText(once)).toBe(once);
      expect(unsafeCharacter(s) === null).toBe(once === s);
    }), { numRuns: 2000 });
  });
  test('safeJson: the same value to a JSON reader, with no raw C1, DEL, bidi or separator character', () => {
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 3, stringUnit: 'binary' }), (v) => {
      const text = safeJson(v);
      expect(text).not.toMatch(UNSAFE_OUTPUT);
      expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(v)));
    }), { numRuns: 1000 });
    expect(safeJson({ 'a\u009b': '\u202e' }, 2)).toBe('{\n  "a\\u009b": "\\u202e"\n}');
  });
  test('a problem is sanitised where it is made, and again where it becomes a line', () => {
    const p = problem('DOCUMENT_UNKNOWN_MEMBER', `$.${HOSTILE_NAME}`, 'member \u009b not allowed');
    expect(p.path + p.message).not.toMatch(UNSAFE_OUTPUT);
    expect(formatProblem({ code: 'X', path: 'a\u001bb', message: 'c\u202ed' })).toBe('X: a\\u001bb: c\\u202ed');
  });
});

describe('custodian names and ids with such characters are refused when a set is made', () => {
  const pk = K.alice.pub;
  const base = { version: 1, issued: '2026-01-01T00:00:00Z', expires: '2027-01-01T00:00:00Z', threshold: 1 };
  test.each([['U+202E', 'Al\u202eice'], ['ESC', 'Alice\u001b[2J'], ['a newline', 'Alice\nBob'], ['U+009B', 'Al\u009bice'], ['U+2028', 'Alice\u2028'], ['U+200F', 'Alice\u200f'], ['DEL', 'A\u007f']])('a name with %s: CUSTODIANS_NAME_INVALID, exit 2', (_what, name) => {
    const e = expectCode(() => buildCustodianSet({ ...base, custodians: [{ id: 'alice', name, publicKey: pk }] }), 'CUSTODIANS_NAME_INVALID');
    expect(e.exit).toBe(2);
    expect(e.message).not.toMatch(UNSAFE_OUTPUT);
  });
  test('ids: CUSTODIANS_ID_INVALID, exit 2; plain names of any script are kept', () => {
    for (const id of ['ali\u202ece', 'alice\u001b', 'Alice', '']) expect(expectCode(() => buildCustodianSet({ ...base, custodians: [{ id, name: 'A', publicKey: pk }] }), 'CUSTODIANS_ID_INVALID').exit).toBe(2);
    expect(buildCustodianSet({ ...base, custodians: [{ id: 'alice', name: 'Zoë محمد 山田', publicKey: pk }] }).length).toBeGreaterThan(0);
  });
  test('custodians new from the CLI: exit 2 with the code, no file written', () => {
    const out = join(dir, 'set-with-bidi.json');
    const r = runUnchanged(dir, ['custodians', 'new', '--out', out, '--threshold', '1', '--member', `alice,Al\u202eice\u001b[2J,${pk.toString('hex')}`]);
    expectErrorLine(r, 'CUSTODIANS_NAME_INVALID', 2);
    expect(r.stderr).not.toMatch(UNSAFE_OUTPUT);
    expect(existsSync(out)).toBe(false);
  });
});

/** Strings built to hurt: escapes, C1, bidi, separators, lone surrogates, and arbitrary code points between them. */
const hostile = fc.array(fc.oneof(
  fc.constantFrom('\u001b', '\r', '\n', '\t', '\u0000', '\u0007', '\u007f', '\u009b', '\u0085', '\u202e', '\u202a', '\u2066', '\u2069', '\u200e', '\u200f', '\u061c', '\u2028', '\u2029',
    '[2J', '[H', 'valid ', '\ud800', '\udc00', '"', '\\', ':', '.'),
  fc.string({ unit: 'binary', maxLength: 4 }),
), { minLength: 1, maxLength: 8 }).map((a) => a.join(''));

/** The four places a string can come from: a custodian's name, an envelope member's name, quoted payload values, the payload type. */
function hostileFiles(d: string, [name, member, value, type]: [string, string, string, string]): string[][] {
  const set = put(d, 'set.json', set1);
  const payload = setPayload(1, 2, members('alice', 'bob', 'carol')) as { custodians: { name: string }[] };
  payload.custodians[2]!.name = name;
  const namedSet = put(d, 'named-set.json', envelope(TYPES.custodians, payload, [K.alice, K.bob, K.carol]));
  const withMember = put(d, 'member.json', JSON.stringify({ ...manifest(), [member]: 1 }));
  const withValues = put(d, 'values.json', manifest({ ceremony: value, actor: value, keys: [{ name: value, id: value, supersedes: null, algorithm: value, phase: value, kcv: null, notBefore: '2026-11-28T10:00:00Z' }] }));
  const withType = put(d, 'type.json', { ...manifest(), payloadType: type });
  return [[withMember, set], [withValues, set], [withType, set], [put(d, 'plain.json', manifest()), namedSet], [namedSet, set]];
}

function collector(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  return { stream: new Writable({ write(chunk: Buffer | string, _enc, cb) { chunks.push(chunk.toString()); cb(); } }), text: () => chunks.join('') };
}

async function runInProcess(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const out = collector();
  const err = collector();
  const status = await main(args, { stdout: out.stream, stderr: err.stream, stdin: process.stdin, env: process.env });
  return { status, stdout: out.text(), stderr: err.text() };
}

function checkOutput(r: { status: number | null; stdout: string; stderr: string }, json: boolean): void {
  expect([0, 1]).toContain(r.status);
  expect(r.stdout + r.stderr).not.toMatch(UNSAFE_OUTPUT);
  if (json) {
    expect(r.stdout.endsWith('\n') && r.stdout.indexOf('\n') === r.stdout.length - 1).toBe(true);
    JSON.parse(r.stdout);
  } else {
    for (const line of r.stdout.split('\n').slice(0, -1)) expect(line).toMatch(VERIFY_LINE);
  }
  for (const line of r.stderr.split('\n').slice(0, -1)) expect(line).toMatch(/^keyceremony: /);
}

describe('property: arbitrary names and values never put a control, C1 or bidi character on stdout or stderr of keyceremony verify', () => {
  test('in-process, through the CLI main()', async () => {
    const d = tempDir('terminal-prop');
    await fc.assert(fc.asyncProperty(fc.tuple(hostile, hostile, hostile, hostile), async (strings) => {
      for (const [doc, set] of hostileFiles(d, strings)) {
        for (const json of [false, true]) checkOutput(await runInProcess(['verify', doc as string, '--custodians', set as string, '--at', AT, ...(json ? ['--json'] : [])]), json);
      }
    }), { numRuns: 60 });
  });
  test('in a real process', () => {
    const d = tempDir('terminal-proc');
    fc.assert(fc.property(fc.tuple(hostile, hostile, hostile, hostile), (strings) => {
      const files = hostileFiles(d, strings);
      for (const [doc, set] of [files[0], files[1]] as string[][]) {
        for (const json of [false, true]) checkOutput(runCli(['verify', doc as string, '--custodians', set as string, '--at', AT, ...(json ? ['--json'] : [])], process.env), json);
      }
    }), { numRuns: 4 });
  });
});
