/**
 * `keyceremony ceremony`: templates validate; an invalid script is refused with every bad field
 * listed; a rehearsal on throw-away tokens records the script's digest; a real run (SoftHSM2
 * tokens standing in for the room's, in a network namespace with no interface up, witnesses
 * answering on a real terminal) needs that rehearsal, and refuses the script once it changed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { networkInterfacesUp } from '../../src/ceremony/airgap.js';
import { DEMO_TEMPLATE } from '../../src/ceremony/demo.js';
import { TEMPLATES } from '../../src/ceremony/templates.js';
import { BIN, ERROR_LINE, runCli } from '../support/cli.js';
import { createSoftHsm, softHsmModule } from '../support/softhsm.js';
import type { SoftHsm } from '../support/softhsm.js';

let work: string;
let hsm: SoftHsm;
const PTY = fileURLToPath(new URL('../support/pty-run.py', import.meta.url));
/** A fingerprint confirmed at the terminal: the reader presses Enter once the words are read, the witness types each word heard (src/cli/witness.ts). */
const HEARD = ['', ...Array<string>(12).fill('{heard}')];
const tokens = [['hsm', 'Ceremony HSM', '11112222'], ['card-alice', 'custodian-alice', '1111'], ['card-bob', 'custodian-bob', '2222'], ['card-carol', 'custodian-carol', '3333']] as const;
const pinEnv = Object.fromEntries(tokens.map(([n, , pin]) => [`PIN_${n.replace('-', '_').toUpperCase()}`, pin]));

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'kc-ceremony-cli-'));
  hsm = createSoftHsm(tokens.map(([, label, pin]) => ({ label, pin, soPin: '12345678' })), { setProcessEnv: false });
});
afterAll(() => { rmSync(work, { recursive: true, force: true }); hsm.cleanup(); });

/**
 * New, empty tokens for a real run that makes its own custodian keys: a ceremony does not adopt a
 * key it finds where it would make one unless its own journal began that step (issue 13), so two
 * unrelated real runs never share a card's key.
 */
function freshTokens(): void {
  hsm.cleanup();
  hsm = createSoftHsm(tokens.map(([, label, pin]) => ({ label, pin, soPin: '12345678' })), { setProcessEnv: false });
}

describe('scripts', () => {
  test.each(Object.keys(TEMPLATES))('template %s is printed and validates', (name) => {
    const file = join(work, `${name}.json`);
    expect(runCli(['ceremony', 'template', name, '--out', file], process.env).status).toBe(0);
    const v = runCli(['ceremony', 'validate', file, '--json'], process.env);
    expect(v.status).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({ valid: true, digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) });
  });
  test('an invalid script exits 1 listing every bad field by its path', () => {
    const t = JSON.parse(JSON.stringify(TEMPLATES[DEMO_TEMPLATE])) as { participants: { role: string }[]; tokens: { holder: string | null }[]; steps: Record<string, unknown>[]; extra?: number };
    // one bad field in a step of each kind (found by action, so the template may grow)
    const at = (action: string): number => t.steps.findIndex((x) => x.action === action);
    const [set, key, split, manifest, exp, drill] = ['custodian-set', 'generate-key', 'split-backup', 'manifest', 'export', 'drill'].map(at) as [number, number, number, number, number, number];
    t.participants[1]!.role = 'bystander';
    t.tokens[1]!.holder = 'mallory';
    t.steps[set]!.threshold = 5;
    t.steps[key]!.label = 'Master Key';
    t.steps[split]!.signers = ['alice'];
    t.steps[manifest]!.phase = 'launch';
    t.steps[exp]!.token = 'usb';
    t.steps[drill]!.unknown = true;
    t.extra = 1;
    const file = join(work, 'bad.json');
    writeFileSync(file, JSON.stringify(t));
    const v = runCli(['ceremony', 'validate', file, '--json'], process.env);
    expect(v.status).toBe(1);
    const paths = (JSON.parse(v.stdout) as { problems: { code: string; path: string }[] }).problems.map((p) => `${p.code} ${p.path}`);
    expect(paths).toEqual(expect.arrayContaining([
      'DOCUMENT_UNKNOWN_MEMBER $.extra', 'DOCUMENT_BAD_VALUE participants[1].role', 'SCRIPT_UNKNOWN_PARTICIPANT tokens[1].holder',
      `SCRIPT_QUORUM_INVALID steps[${set}].threshold`, `DOCUMENT_BAD_VALUE steps[${key}].label`, `DOCUMENT_BAD_VALUE steps[${manifest}].phase`,
      `SCRIPT_UNKNOWN_TOKEN steps[${exp}].token`, `DOCUMENT_UNKNOWN_MEMBER steps[${drill}].unknown`,
    ]));
    // and the plain output lists them one per line
    const plain = runCli(['ceremony', 'validate', file], process.env);
    expect(plain.stdout.split('\n').filter((l) => l.startsWith('  - ')).length).toBe(paths.length);
  });
  test('truncated, oversized and non-JSON scripts are refused', () => {
    const file = join(work, 'trunc.json');
    writeFileSync(file, JSON.stringify(TEMPLATES['monthly-jwt-rotation']).slice(0, 300));
    expect(runCli(['ceremony', 'validate', file], process.env).status).toBe(1);
    writeFileSync(file, `{"spec":"${'x'.repeat(300 * 1024)}"}`);
    const big = runCli(['ceremony', 'validate', file], process.env);
    expect([big.status, big.stdout]).toEqual([1, expect.stringContaining('DOCUMENT_TOO_LARGE')]);
    writeFileSync(file, '\u0000not json');
    expect(runCli(['ceremony', 'validate', file], process.env).stdout).toContain('DOCUMENT_NOT_JSON');
    expect(runCli(['ceremony', 'validate', join(work, 'missing.json')], process.env).stderr).toMatch(ERROR_LINE);
  });
});

/**
 * The real runs below: a first ceremony that needs no inputs, short enough to run several times
 * (the custodians' keys, each fingerprint confirmed by its witness, the set, three manifests).
 */
const STANDALONE = 'keys-in-use';

describe('rehearsal, then the real run', () => {
  const script = () => join(work, `${STANDALONE}.json`);
  let profile: string;
  beforeAll(() => {
    profile = join(work, 'profile.json');
    writeFileSync(script(), `${JSON.stringify(TEMPLATES[STANDALONE], null, 2)}\n`);
    writeFileSync(profile, JSON.stringify({ spec: 'keyceremony/ceremony-profile@1', module: softHsmModule(), tokens: Object.fromEntries(tokens.map(([n]) => [n, { pinEnv: `PIN_${n.replace('-', '_').toUpperCase()}` }])) }));
  });
  test('with the network up, a rehearsal needs --allow-network (logged); it records the digest when it passes', () => {
    const dir = join(work, 'rehearsal');
    const up = networkInterfacesUp().length > 0;
    const refused = runCli(['ceremony', 'run', script(), '--rehearse', '--yes', '--dir', join(work, 'r0')], process.env);
    if (up) expect(refused.stderr).toContain('CEREMONY_NETWORK_UP');
    else expect(refused.status).toBe(0);
    const r = runCli(['ceremony', 'run', script(), '--rehearse', '--yes', '--allow-network', '--dir', dir], process.env);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const rec = readFileSync(join(work, 'rehearsals.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { digest: string; result: string });
    const digest = (JSON.parse(runCli(['ceremony', 'validate', script(), '--json'], process.env).stdout) as { digest: string }).digest;
    expect(rec.some((x) => x.digest === digest && x.result === 'pass')).toBe(true);
    expect(runCli(['audit', 'verify', join(dir, 'audit.jsonl'), '--custodians', join(dir, 'custodians.v1.json')], process.env).status).toBe(0);
    if (up) expect(readFileSync(join(dir, 'audit.jsonl'), 'utf8')).toContain('"action":"airgap.override"');
  }, 60_000);
  test('a real run refuses --yes and the network; air-gapped, with witnesses answering on a terminal, it runs on the profile\'s tokens', () => {
    const env = { ...process.env, ...hsm.env, ...pinEnv };
    expect(runCli(['ceremony', 'run', script(), '--profile', profile, '--yes', '--dir', join(work, 'x')], env).stderr).toContain('USAGE');
    if (networkInterfacesUp().length > 0) expect(runCli(['ceremony', 'run', script(), '--profile', profile, '--dir', join(work, 'x')], env).stderr).toContain('CEREMONY_NETWORK_UP');
    const dir = join(work, 'real');
    const out = spawnSync('unshare', ['-n', 'python3', PTY, JSON.stringify({ answers: ['yes', ...HEARD, ...HEARD, ...HEARD, 'yes'] }), process.execPath, BIN, 'ceremony', 'run', script(), '--profile', profile, '--dir', dir], { env, encoding: 'utf8', timeout: 90_000 });
    const report = JSON.parse(out.stdout) as { status: number; output: string };
    expect(report.output).toContain('word 12 of 12: ');
    expect(report.output.match(/confirmed the fingerprint of [a-z]+'s key, read aloud: all 12 words match/g)).toHaveLength(3);
    expect(report.output).toMatch(/confirm the checkpoint they sign covers the audit log [0-9a-f]{32}: \d+ entries, head sha256:[0-9a-f]{64}, run without interruption/);
    expect(report.status).toBe(0);
    // the keys are on the profile's tokens, which a rehearsal never touches
    const listed = execFileSync('pkcs11-tool', ['--module', softHsmModule(), '--token-label', 'custodian-bob', '--login', '--pin', '2222', '--list-objects'], { env: hsm.env, encoding: 'latin1' });
    expect(listed).toContain('bob-sign-v1');
    const log = readFileSync(join(dir, 'audit.jsonl'), 'utf8');
    expect(log).toContain('"simulation":false');
    expect(log).not.toContain('rehearsal.skipped');
  }, 90_000);
  test('a script changed after its rehearsal is refused; --no-rehearsal runs it and says so in the log', () => {
    const env = { ...process.env, ...hsm.env, ...pinEnv };
    const changed = JSON.parse(readFileSync(script(), 'utf8')) as { title: string; id: string };
    changed.title = `${changed.title} (edited)`;
    changed.id = `${changed.id}-b`;
    writeFileSync(script(), JSON.stringify(changed, null, 2));
    const r = spawnSync('unshare', ['-n', process.execPath, BIN, 'ceremony', 'run', script(), '--profile', profile, '--dir', join(work, 'refused')], { env, encoding: 'utf8' });
    freshTokens();
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(ERROR_LINE);
    expect(r.stderr).toContain('CEREMONY_NOT_REHEARSED');
    const dir = join(work, 'unrehearsed');
    const out = spawnSync('unshare', ['-n', 'python3', PTY, JSON.stringify({ answers: ['yes', ...HEARD, ...HEARD, ...HEARD, 'yes'] }), process.execPath, BIN, 'ceremony', 'run', script(), '--profile', profile, '--no-rehearsal', '--dir', dir], { env: { ...env, ...hsm.env }, encoding: 'utf8', timeout: 90_000 });
    expect((JSON.parse(out.stdout) as { status: number }).status).toBe(0);
    expect(readFileSync(join(dir, 'audit.jsonl'), 'utf8')).toContain('"action":"rehearsal.skipped"');
    expect(readFileSync(join(dir, 'transcript.md'), 'utf8')).toContain('rehearsal.skipped');
  }, 90_000);
  test('PINs typed at the terminal are asked when each card is first needed, never echoed; a PIN from the environment is read at the start', () => {
    const file = join(work, `${STANDALONE}-pins.json`);
    writeFileSync(file, `${JSON.stringify(TEMPLATES[STANDALONE], null, 2)}\n`);
    const lazy = join(work, 'profile-typed.json');
    writeFileSync(lazy, JSON.stringify({ spec: 'keyceremony/ceremony-profile@1', module: softHsmModule(), tokens: { hsm: { pinEnv: 'PIN_HSM' }, 'card-alice': { pinEnv: null }, 'card-bob': { pinEnv: null }, 'card-carol': { pinEnv: null } } }));
    freshTokens();
    const env = { ...process.env, ...hsm.env, PIN_HSM: tokens[0][2] };
    const dir = join(work, 'typed-pins');
    const out = spawnSync('unshare', ['-n', 'python3', PTY, JSON.stringify({ answers: ['yes', '1111', ...HEARD, '2222', ...HEARD, '3333', ...HEARD, 'yes'] }), process.execPath, BIN, 'ceremony', 'run', file, '--profile', lazy, '--no-rehearsal', '--dir', dir],
      { env, encoding: 'utf8', timeout: 90_000 });
    const report = JSON.parse(out.stdout) as { status: number; output: string };
    expect(report.status).toBe(0);
    const o = report.output;
    const at = (s: string): number => { const i = o.indexOf(s); expect(i, s).toBeGreaterThanOrEqual(0); return i; };
    // after the clock, at the step that first needs each card, in the order the cards are needed
    expect(at('the ceremony clock reads')).toBeLessThan(at('Step 1 (custodian-keys)'));
    expect(at('Step 1 (custodian-keys)')).toBeLessThan(at('PIN for token "custodian-alice"'));
    expect(at('PIN for token "custodian-alice"')).toBeLessThan(at('alice: fingerprint'));
    expect(at('alice: fingerprint')).toBeLessThan(at('PIN for token "custodian-bob"'));
    expect(at('PIN for token "custodian-bob"')).toBeLessThan(at('PIN for token "custodian-carol"'));
    expect(o.match(/PIN for token/g)).toHaveLength(3); // each asked once, kept for the run's later signatures
    for (const [, label, pin] of tokens.slice(1)) expect(o.split('\n').filter((l) => l.includes(`PIN for token "${label}"`) && l.includes(pin))).toEqual([]);
    const log = readFileSync(join(dir, 'audit.jsonl'), 'utf8');
    for (const [, , pin] of tokens) expect(log).not.toContain(`"${pin}"`); // hashes may hold any 4 digits; a PIN as a value, never
  }, 90_000);
  test('a later ceremony whose inputs are missing exits 2 with one error line before any token store is made; inputs that read but do not check out exit 1', () => {
    const dir = join(work, 'later');
    mkdirSync(dir);
    const file = join(dir, 'dual.json');
    writeFileSync(file, `${JSON.stringify(TEMPLATES['quarterly-master-dual-publish'], null, 2)}\n`);
    const missing = runCli(['ceremony', 'run', file, '--rehearse', '--yes', '--allow-network', '--dir', join(work, 'later-r')], process.env);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(ERROR_LINE);
    expect(missing.stderr).toContain('CEREMONY_INPUTS_INVALID: 2 input file(s)');
    expect(existsSync(join(work, 'later-r'))).toBe(false);
    writeFileSync(join(dir, 'custodians.v1.json'), '{"payloadType":"x","payload":"","signatures":[]}');
    writeFileSync(join(dir, 'rotation.4.json'), 'not json'); // the chain's manifest the dual-publish follows: the quarterly rotation's prepare
    const bad = runCli(['ceremony', 'run', file, '--rehearse', '--yes', '--allow-network', '--dir', join(work, 'later-r'), '--inputs', dir], process.env);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(ERROR_LINE);
    expect(bad.stderr).toContain('DOCUMENT_NOT_JSON');
    expect(existsSync(join(work, 'later-r'))).toBe(false);
  });
});
