/**
 * Issue 14, item 3: document content never reaches a terminal as control or bidi characters. An
 * envelope member named `x ESC[2J ESC[H CR valid rotation manifest: …` used to clear the screen and
 * print a forged "valid" line (exit 1 all the same); `status` printed it on stderr. One sanitiser
 * (src/docs/sanitize.ts) escapes such characters as \uXXXX wherever problems and names become
 * text; custodian names holding them are refused when a set is made; `--json` holds them only as
 * \u escapes. A fast-check property throws arbitrary strings at custodian names, envelope member
 * names and the values quoted in reasons, in-process through the CLI's main() and in a real process,
 * for every command that prints document text: verify, status, audit verify, custodians new and
 * next, manifest new, ceremony validate. Text from devices (a token's label, a drive's mount point)
 * is printed the same way: tokens and media are tried with such a label and such a folder.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { beforeAll, describe, expect, test } from 'vitest';
import { buildCustodianSet } from '../../src/custodians/set.js';
import { formatProblem, problem } from '../../src/docs/problems.js';
import { safeJson, sanitizeText, unsafeCharacter } from '../../src/docs/sanitize.js';
import { main } from '../../src/cli/main.js';
import { TEMPLATES } from '../../src/ceremony/templates.js';
import { CHECKPOINT_SPEC, CHECKPOINT_TYPE } from '../../src/audit/checkpoint.js';
import { createSoftHsm } from '../support/softhsm.js';
import { expectCode } from '../support/expect-code.js';
import { manifestPayload } from '../support/independent.js';
import { auditLogText, envelope, expectErrorLine, K, members, put, runCli, runUnchanged, setDoc, setPayload, tempDir, TYPES, UNSAFE_OUTPUT } from './support.js';
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

async function runInProcess(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ status: number; stdout: string; stderr: string }> {
  const out = collector();
  const err = collector();
  const status = await main(args, { stdout: out.stream, stderr: err.stream, stdin: process.stdin, env });
  return { status, stdout: out.text(), stderr: err.text() };
}

interface Expected {
  /** What each text line on stdout starts with. */
  readonly lines?: RegExp;
  /** The exits allowed (never 3). */
  readonly exits?: readonly number[];
  /** Whether the command may refuse with an error line and nothing on stdout (verify always prints its result). */
  readonly refusable?: boolean;
}

/**
 * Clean output: no C0 control but the tool's own line ends, no DEL, C1, bidi or separator
 * character, lone surrogate, on either stream; an allowed exit, never 3; `--json` is one line of
 * JSON on stdout, or nothing when the command was refused with its error line; every text line
 * on stdout starts as the command's own lines do, so none is a line a document wrote; every
 * stderr line is the tool's.
 */
function checkOutput(r: { status: number | null; stdout: string; stderr: string }, json: boolean, { lines = VERIFY_LINE, exits = [0, 1], refusable = false }: Expected = {}): void {
  expect(exits).toContain(r.status);
  expect(r.stdout + r.stderr).not.toMatch(UNSAFE_OUTPUT);
  if (json && refusable && r.stdout === '') {
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/^keyceremony: [A-Z0-9_]+: /m);
  } else if (json) {
    expect(r.stdout.endsWith('\n') && r.stdout.indexOf('\n') === r.stdout.length - 1).toBe(true);
    JSON.parse(r.stdout);
  } else {
    for (const line of r.stdout.split('\n').slice(0, -1)) expect(line).toMatch(lines);
  }
  for (const line of r.stderr.split('\n').slice(0, -1)) expect(line).toMatch(/^keyceremony: /);
}

const BOTH = [false, true] as const;
const withJson = (args: string[], json: boolean): string[] => (json ? [...args, '--json'] : args);

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

/** What each command's own text lines start with (continuation lines are indented by the tool). */
const LINES = {
  status: /^(?:custodian set version |rotation manifest |drill report |  )/,
  audit: /^(?:valid audit log |unsigned |INVALID audit log|  )/,
  custodians: /^(?:wrote custodian set version |  |still to sign: )/,
  manifest: /^(?:wrote rotation manifest |  digest |still to sign: )/,
  ceremony: /^(?:valid ceremony script |INVALID ceremony script |  - )/,
};
const HEX = K.alice.pub.toString('hex');
const DAVE = K.dave.pub.toString('hex');

/**
 * The other commands that print document text, each given the four hostile strings where that
 * command reads text: the named set and hostile documents for status; a log entry's actor and
 * details, a checkpoint file's member names and values, and the named set, for audit verify;
 * member names and ids typed for custodians new and next, and the named set next copies; the
 * named set and the ceremony, actor and key name of manifest new; a script's member names, id,
 * title and participant names for ceremony validate. Each entry: the command's line pattern, the
 * exits it may end with, and its argument lists (the first of each is also run in a real process).
 */
function otherCommands(d: string, strings: [string, string, string, string]): [keyof typeof LINES, readonly number[], string[][]][] {
  const [name, member, value] = strings;
  const files = hostileFiles(d, strings);
  const set = files[0]![1] as string;
  const namedSet = files[3]![1] as string;
  const withActor = put(d, 'actor.jsonl', auditLogText(4, { over: (i) => (i === 3 ? { actor: value } : {}) }));
  const withDetails = put(d, 'details.jsonl', auditLogText(4, { over: (i) => (i === 3 ? { details: { note: value, [`x${i}`]: name } } : {}) }));
  const good = auditLogText(4);
  const kept = (JSON.parse(good.trimEnd().split('\n').pop() as string) as { details: { envelope: string } }).details.envelope;
  const goodLog = put(d, 'good.jsonl', good);
  const cpMember = put(d, 'cp-member.json', JSON.stringify({ ...(JSON.parse(kept) as object), [member]: 1 }));
  const cpValues = put(d, 'cp-values.json', envelope(CHECKPOINT_TYPE, Buffer.from(JSON.stringify({ spec: CHECKPOINT_SPEC, log: value, seq: 1, head: value, custodianSet: 1, time: value })), [K.alice, K.bob]));
  const template = TEMPLATES['monthly-jwt-rotation'] as { participants: { name: string }[] };
  const script = put(d, 'script.json', JSON.stringify({ ...template, id: value, title: name, participants: template.participants.map((p) => ({ ...p, name })), [member]: 1 }));
  const plainScript = put(d, 'plain-script.json', JSON.stringify({ ...template, participants: template.participants.map((p) => ({ ...p, name })) }));
  const out = join(d, 'out.json');
  const key = 'name=WEBHOOK_SIGNING_SECRET,id=webhook-v4,algorithm=HMAC-SHA256,phase=prepare';
  return [
    ['status', [0, 1], files.map(([doc, s]) => ['status', doc as string, '--custodians', s as string, '--at', AT])],
    ['audit', [0, 1], [['audit', 'verify', withActor, '--custodians', set, '--at', AT], ['audit', 'verify', withDetails, '--custodians', set, '--at', AT, '--checkpoint', cpMember],
      ['audit', 'verify', goodLog, '--custodians', set, '--at', AT, '--checkpoint', cpValues], ['audit', 'verify', goodLog, '--custodians', namedSet, '--at', AT]]],
    ['custodians', [0, 1, 2], [['custodians', 'new', '--out', out, '--force', '--threshold', '1', '--member', `alice,${name},${HEX}`], ['custodians', 'new', '--out', out, '--force', '--threshold', '1', '--member', `${member},Alice,${HEX}`],
      ['custodians', 'next', '--custodians', set, '--out', out, '--force', '--add', `dave,${value},${DAVE}`], ['custodians', 'next', '--custodians', namedSet, '--out', out, '--force', '--remove', 'alice']]],
    ['manifest', [0, 1, 2], [['manifest', 'new', '--out', out, '--force', '--custodians', namedSet, '--at', AT, '--ceremony', 'q4', '--actor', 'alice', '--key', key],
      ['manifest', 'new', '--out', out, '--force', '--custodians', set, '--at', AT, '--ceremony', value, '--actor', member, '--key', key],
      ['manifest', 'new', '--out', out, '--force', '--custodians', set, '--at', AT, '--ceremony', 'q4', '--actor', 'alice', '--key', `name=${value},id=${member},algorithm=HMAC-SHA256,phase=prepare`]]],
    ['ceremony', [0, 1], [['ceremony', 'validate', script], ['ceremony', 'validate', plainScript]]],
  ];
}

describe('property: the same for status, audit verify, custodians new and next, manifest new and ceremony validate', () => {
  test('in-process, through the CLI main()', async () => {
    const d = tempDir('terminal-others');
    await fc.assert(fc.asyncProperty(fc.tuple(hostile, hostile, hostile, hostile), async (strings) => {
      for (const [command, exits, runs] of otherCommands(d, strings)) {
        for (const args of runs) for (const json of BOTH) checkOutput(await runInProcess(withJson(args, json)), json, { lines: LINES[command], exits, refusable: true });
      }
    }), { numRuns: 40 });
  });
  test('in a real process', () => {
    const d = tempDir('terminal-others-proc');
    fc.assert(fc.property(fc.tuple(hostile, hostile, hostile, hostile), (strings) => {
      for (const [command, exits, runs] of otherCommands(d, strings)) {
        // An operating system's argv cannot carry NUL (the files can, and the in-process test passes it in argv too).
        const argv = (runs[0] as string[]).map((a) => a.replaceAll('\u0000', '\u0001'));
        for (const json of BOTH) checkOutput(runCli(withJson(argv, json), process.env), json, { lines: LINES[command], exits, refusable: true });
      }
    }), { numRuns: 2 });
  });
});

/** What a device says about itself is as hostile as a document. */
const DEVICE_TEXT = 'ev\u001b[2J\u202ex\u009by';

describe('text from devices: a token label and a drive folder with escape, bidi and C1 characters', () => {
  test('tokens: the label is escaped on each line and in --json, and read back exactly from the JSON', () => {
    const hsm = createSoftHsm([{ label: DEVICE_TEXT, pin: '12345678', soPin: '87654321' }], { setProcessEnv: false });
    try {
      const env = { ...hsm.env, KEYCEREMONY_PKCS11_MODULE: hsm.module };
      const text = runCli(['tokens'], env);
      checkOutput(text, false, { lines: /^(?:module |no token|token "|  |$)/, exits: [0] });
      expect(text.stdout).toContain('token "ev\\u001b[2J\\u202ex\\u009by"');
      const json = runCli(['tokens', '--json'], env); // one object, indented over several lines
      expect([json.status, json.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('keyceremony: '))]).toEqual([0, []]);
      expect(json.stdout + json.stderr).not.toMatch(UNSAFE_OUTPUT);
      expect((JSON.parse(json.stdout) as { tokens: { label: string }[] }).tokens.map((t) => t.label)).toContain(DEVICE_TEXT);
      // pkcs11-tool, an independent reader, sees the same label on the token
      expect(execFileSync('pkcs11-tool', ['--module', hsm.module, '--list-token-slots'], { env: hsm.env, encoding: 'utf8' })).toContain('ev\u001b[2J');
    } finally {
      hsm.cleanup();
    }
  });
  test('media: a mount point of that name is escaped on its line and in --json, and read back exactly', async () => {
    const root = join(tempDir('terminal-media'), `usb${DEVICE_TEXT}`);
    mkdirSync(root);
    const env = { ...process.env, KEYCEREMONY_REMOVABLE_ROOTS: root };
    const text = await runInProcess(['media'], env);
    checkOutput(text, false, { lines: /^\/.*  KEYCEREMONY_REMOVABLE_ROOTS  \d+ MB free of \d+ MB$/, exits: [0] });
    expect(text.stdout).toContain('usbev\\u001b[2J\\u202ex\\u009by');
    const json = await runInProcess(['media', '--json'], env);
    checkOutput(json, true, { exits: [0] });
    expect((JSON.parse(json.stdout) as { media: { mountPoint: string }[] }).media.map((m) => m.mountPoint)).toContain(realpathSync(root));
  });
});
