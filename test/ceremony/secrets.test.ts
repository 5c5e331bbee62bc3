/**
 * Issue 17, secrets made in the ceremony: a webhook secret drawn from the token's RNG and sealed at
 * once to the deployment's age recipient, and an application secret kept in the HSM, both bound in
 * the signed manifest (FORMATS.md §4 `binding`). The sealed file opens with the Debian age CLI and
 * an identity the ceremony never saw, and the binding recomputed with node:crypto over its bytes
 * equals the signed one; an interrupted delivery is made again, never adopted.
 */
import { createHmac } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { recipientText } from '../../src/age/age.js';
import { TEMPLATES } from '../../src/ceremony/templates.js';
import { ERROR_LINE, runCli } from '../support/cli.js';
import { softHsmModule } from '../support/softhsm.js';

let root: string;
let identity: string;
let recipient: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'kc-secrets-'));
  identity = join(root, 'deploy.key'); // the deployment's: never in a ceremony folder
  execFileSync('age-keygen', ['-o', identity], { stdio: 'ignore' });
  recipient = execFileSync('age-keygen', ['-y', identity], { encoding: 'utf8' }).trim();
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The keys-in-use template's people, tokens and opening (custodian keys, the set), with secrets made before a manifest. */
function script(): object {
  const t = JSON.parse(JSON.stringify(TEMPLATES['keys-in-use'])) as { id: string; title: string; steps: Record<string, unknown>[] };
  const [keys, set] = t.steps as [Record<string, unknown>, Record<string, unknown>];
  return {
    ...t, id: '2026-12-secrets', title: 'Webhook and application secrets made in the ceremony',
    steps: [keys, set,
      { id: 'webhook-secret', action: 'make-secret', actor: 'admin', witness: 'wendy', token: 'hsm', name: 'WEBHOOK_SIGNING_SECRET', keyVersion: 1, keep: 'deliver', recipients: 'deploy/recipients.txt', out: 'sealed' },
      { id: 'app-secret', action: 'make-secret', actor: 'admin', witness: 'wendy', token: 'hsm', name: 'SECRET_KEY', keyVersion: 1, keep: 'token', recipients: null, out: null },
      { id: 'manifest', action: 'manifest', actor: 'alice', keyVersion: 1, phase: 'prepare', keys: ['WEBHOOK_SIGNING_SECRET', 'SECRET_KEY'], previous: null, signers: ['alice', 'bob'], out: 'rotation.1.json' }],
  };
}

/** A ceremony's inputs beside its script: the recipients file. */
function prepared(name: string, recipients = `# the deployment\n${recipient}\n`): { inputs: string; file: string; dir: string } {
  const inputs = join(root, `${name}-inputs`);
  mkdirSync(join(inputs, 'deploy'), { recursive: true });
  writeFileSync(join(inputs, 'deploy', 'recipients.txt'), recipients);
  const file = join(inputs, 'ceremony.json');
  writeFileSync(file, JSON.stringify(script(), null, 2));
  return { inputs, file, dir: join(root, name) };
}

const rehearse = (p: { inputs: string; file: string; dir: string }, env: NodeJS.ProcessEnv = {}) =>
  runCli(['ceremony', 'run', p.file, '--rehearse', '--yes', '--allow-network', '--dir', p.dir, '--inputs', p.inputs], { ...process.env, ...env });

const payload = (file: string): { keys: { id: string; kcv: string | null; binding?: string }[] } =>
  JSON.parse(Buffer.from((JSON.parse(readFileSync(file, 'utf8')) as { payload: string }).payload, 'base64').toString('utf8')) as never;

const binding = (secret: Buffer, id: string): string => `hmac-sha256:${createHmac('sha256', secret).update(Buffer.concat([Buffer.from('keyceremony/binding@1'), Buffer.from([0]), Buffer.from(id)])).digest('hex')}`;

function openSealed(dir: string): Buffer {
  return execFileSync('age', ['-d', '-i', identity, join(dir, 'sealed', 'webhook-v1.age')]);
}

describe('secrets made in the ceremony', () => {
  test('delivered: sealed to the recipient, the signed binding is over exactly its bytes; kept: bound in the token', () => {
    const p = prepared('run');
    const r = rehearse(p);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const secret = openSealed(p.dir);
    expect(secret.length).toBe(32);
    const keys = payload(join(p.dir, 'rotation.1.json')).keys;
    const webhook = keys.find((k) => k.id === 'webhook-v1')!;
    expect(webhook.binding).toBe(binding(secret, 'webhook-v1'));
    expect(webhook.kcv).toBe(webhook.binding!.slice('hmac-sha256:'.length, 'hmac-sha256:'.length + 6));
    const app = keys.find((k) => k.id === 'secret-key-v1')!;
    expect(app.binding).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
    expect(app.binding).not.toBe(webhook.binding);
    // the kept secret is on the HSM, never in a file of the folder
    const pins = JSON.parse(readFileSync(join(p.dir, 'softhsm', 'rehearsal-pins.json'), 'utf8')) as Record<string, { user: string }>;
    const listed = execFileSync('pkcs11-tool', ['--module', softHsmModule(), '--token-label', 'Ceremony HSM', '--login', '--pin', pins.hsm!.user, '--list-objects'],
      { env: { ...process.env, SOFTHSM2_CONF: join(p.dir, 'softhsm', 'softhsm2.conf') }, encoding: 'latin1' });
    expect(listed).toContain('secret-key-v1');
    expect(listed).toMatch(/sensitive/);
    expect(runCli(['verify', join(p.dir, 'rotation.1.json'), '--custodians', join(p.dir, 'custodians.v1.json')], process.env).status).toBe(0);
    // no secret in the log or the transcript
    for (const f of ['audit.jsonl', 'transcript.md']) expect(readFileSync(join(p.dir, f)).includes(secret)).toBe(false);
    expect(readFileSync(join(p.dir, 'audit.jsonl'), 'utf8')).toContain('"hostMemory":"drawn from the token RNG, sealed, zeroed"');
  }, 90_000);

  test('a delivery interrupted after its secret was sealed is made again: the new sealed secret matches the signed binding', () => {
    const p = prepared('killed');
    expect(rehearse(p, { KEYCEREMONY_CRASHPOINT: 'step:webhook-secret:performed' }).status).toBeNull();
    const first = openSealed(p.dir);
    const again = rehearse(p);
    expect(again.stderr).toBe('');
    expect(again.status).toBe(0);
    const secret = openSealed(p.dir);
    expect(secret.equals(first)).toBe(false);
    expect(payload(join(p.dir, 'rotation.1.json')).keys.find((k) => k.id === 'webhook-v1')!.binding).toBe(binding(secret, 'webhook-v1'));
  }, 90_000);

  test('a sealed file swapped after the step is done (another secret, the same recipient) is refused at resume', () => {
    const p = prepared('swapped');
    expect(rehearse(p, { KEYCEREMONY_CRASHPOINT: 'step:manifest:begin' }).status).toBeNull();
    execFileSync('sh', ['-c', `head -c 32 /dev/urandom | age -r ${recipient} -o ${join(p.dir, 'sealed', 'webhook-v1.age')}.new && mv ${join(p.dir, 'sealed', 'webhook-v1.age')}.new ${join(p.dir, 'sealed', 'webhook-v1.age')}`]);
    const r = rehearse(p);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(ERROR_LINE);
    expect(r.stderr).toContain('CEREMONY_RESUME_MISMATCH');
    expect(existsSync(join(p.dir, 'rotation.1.json'))).toBe(false);
  }, 90_000);

  test('recipients that are not age X25519 recipients are refused before anything is made', () => {
    const p = prepared('bad-recipients', 'ssh-ed25519 AAAA… someone@example\n');
    const r = rehearse(p);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('CEREMONY_INPUTS_INVALID');
    expect(r.stderr).toContain('CEREMONY_RECIPIENTS_INVALID');
    expect(existsSync(p.dir)).toBe(false);
  });

  test('recipients that look like age1… but are not usable (a bad checksum, a low-order point, one listed twice) are refused before anything is made', () => {
    const last = recipient.at(-1) === 'q' ? 'p' : 'q';
    const cases = {
      checksum: `${recipient.slice(0, -1)}${last}\n`,
      'low-order': `${recipientText(new Uint8Array(32))}\n`,
      twice: `${recipient}\n# again\n${recipient}\n`,
    };
    for (const [name, text] of Object.entries(cases)) {
      const p = prepared(`recipients-${name}`, text);
      const r = rehearse(p);
      expect([name, r.status, r.stderr.includes('CEREMONY_RECIPIENTS_INVALID'), existsSync(p.dir)]).toEqual([name, 1, true, false]);
    }
  }, 90_000);

  test('a script that delivers a secret without recipients, or keeps one with them, is invalid', () => {
    const s = script() as { steps: Record<string, unknown>[] };
    (s.steps[2] as Record<string, unknown>).recipients = null;
    (s.steps[3] as Record<string, unknown>).out = 'sealed';
    const file = join(root, 'invalid.json');
    writeFileSync(file, JSON.stringify(s));
    const v = runCli(['ceremony', 'validate', file, '--json'], process.env);
    expect(v.status).toBe(1);
    expect((JSON.parse(v.stdout) as { problems: { code: string; path: string }[] }).problems.filter((x) => x.code === 'SCRIPT_SECRET_DELIVERY')).toHaveLength(2);
  });
});
