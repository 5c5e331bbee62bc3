/**
 * Issue 7: the demo (the new-deployment template as a rehearsal) killed with SIGKILL at every step,
 * before and after each step's token work, in the middle of the backup split and after the
 * checkpoint is signed; re-running `keyceremony demo --dir` on the folder resumes it. Every resumed
 * run must reach the same end state as an uninterrupted one: the same files, the same number of
 * signatures on each document, exactly one of each key and share on each token (OpenSC's
 * pkcs11-tool as witness), nothing left on the drill token, every sealed secret the one its
 * manifests bind (a delivery killed half-way is made again, never adopted), and an audit log that
 * verifies.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DEMO_TEMPLATE } from '../../src/ceremony/demo.js';
import { parseScript } from '../../src/ceremony/script.js';
import { templateText } from '../../src/ceremony/templates.js';
import { runCli } from '../support/cli.js';
import { scratchFolder, seedKeks, stateOf } from '../support/ceremony-state.js';
import type { State } from '../support/ceremony-state.js';

const script = parseScript(new TextEncoder().encode(templateText(DEMO_TEMPLATE)!));
const POINTS = [
  ...script.steps.flatMap((s) => [`step:${s.id}:begin`, `step:${s.id}:performed`]),
  'step:backup-custody:split',
  'checkpoint:signed',
];
let root: string;
let reference: State;

beforeAll(() => {
  root = scratchFolder('kc-resume-');
  const dir = join(root, 'reference');
  seedKeks(dir); // the test KMS keys, made once (inputs of the ceremony, not what is tested here)
  const r = runCli(['demo', '--dir', dir], process.env);
  expect(r.status).toBe(0);
  reference = stateOf(dir, script);
}, 120_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('kill -9 at every step, then resume', () => {
  test('the uninterrupted run: one key per label, one share per card, nothing on the drill token', () => {
    expect(reference.objects.hsm).toEqual(['Secret:backup-v1', 'Secret:master-v1']);
    for (const c of ['alice', 'bob', 'carol']) expect(reference.objects[`card-${c}`]).toEqual(['Data:share:backup-v1', `Private:${c}-sign-v1`, `Public:${c}-sign-v1`]);
    expect(reference.objects.drill).toEqual([]);
    expect(reference.signatures).toEqual({ 'custodians.v1.json': 3, 'rotation.1.json': 2, 'rotation.2.json': 2, 'rotation.3.json': 2, 'custody/rotation.json': 2, 'drill.json': 2, 'audit.checkpoint.json': 2 });
    expect(reference.sealed).toEqual({ 'celery-broker-v1': true, 'jwt-refresh-salt-v1': true, 'jwt-v1': true, 'redis-auth-v1': true, 'secret-key-v1': true, 'webhook-v1': true });
    expect(reference.audit).toMatchObject({ status: 0, valid: true });
  });

  test.each(POINTS)('killed at %s: the re-run resumes to the same end state', (point) => {
    const dir = join(root, point.replace(/[^a-z0-9]+/gi, '-'));
    seedKeks(dir);
    const killed = runCli(['demo', '--dir', dir], { ...process.env, KEYCEREMONY_CRASHPOINT: point });
    expect(killed.status).toBeNull(); // SIGKILL, as a power cut
    const again = runCli(['demo', '--dir', dir], process.env);
    expect(again.stderr).toBe('');
    expect(again.status).toBe(0);
    const state = stateOf(dir, script);
    expect(state.files).toEqual(reference.files);
    expect(state.signatures).toEqual(reference.signatures);
    expect(state.objects).toEqual(reference.objects);
    expect(state.sealed).toEqual(reference.sealed);
    expect(state.audit).toMatchObject({ status: 0, valid: true });
    // the interruption is on the record: the log shows the resume
    expect(readFileSync(join(dir, 'audit.jsonl'), 'utf8')).toContain('"action":"ceremony.resume"');
  }, 60_000);
});
