/**
 * Issue 7: the set-rotation ceremony (load the set in force, a key made on dave's card, the set
 * rotated to 3-of-4), rehearsed and killed with SIGKILL before and after each step and after the
 * checkpoint is signed; the re-run resumes it. Every resume reaches the uninterrupted run's files
 * and token objects (one key pair on dave's card, never two) with a version-2 set that verifies
 * against the stand-in chain with all four signatures, and an audit log that verifies.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseScript } from '../../src/ceremony/script.js';
import { templateText } from '../../src/ceremony/templates.js';
import { buildCustodianSet } from '../../src/custodians/set.js';
import { formatTime } from '../../src/docs/fields.js';
import { PAYLOAD_TYPES } from '../../src/docs/types.js';
import { serializeEnvelope } from '../../src/dsse/envelope.js';
import type { Envelope } from '../../src/dsse/envelope.js';
import { addSignature, SoftwareSigner } from '../../src/dsse/sign.js';
import { verifyChain } from '../../src/verify/verify.js';
import { filesUnder, tokenObjects } from '../support/ceremony-state.js';
import { runCli } from '../support/cli.js';

const text = templateText('custodian-set-rotation')!;
const script = parseScript(new TextEncoder().encode(text));
const POINTS = [...script.steps.flatMap((s) => [`step:${s.id}:begin`, `step:${s.id}:performed`]), 'checkpoint:signed'];
let root: string;
let scriptFile: string;
let reference: { files: string[]; objects: Record<string, string[]> };

const rehearse = (dir: string, env: NodeJS.ProcessEnv = process.env) => runCli(['ceremony', 'run', scriptFile, '--rehearse', '--yes', '--allow-network', '--dir', dir], env);

function endState(dir: string): { files: string[]; objects: Record<string, string[]> } {
  const read = (f: string) => new Uint8Array(readFileSync(join(dir, f)));
  const chain = verifyChain([read('rehearsal-custodians.v1.json'), read('custodians.v2.json')], { at: Date.now() });
  expect(chain.reasons).toEqual([]);
  expect(chain.chain?.newest).toMatchObject({ version: 2, threshold: 3 });
  expect((JSON.parse(readFileSync(join(dir, 'custodians.v2.json'), 'utf8')) as { signatures: unknown[] }).signatures).toHaveLength(4);
  const audit = runCli(['audit', 'verify', join(dir, 'audit.jsonl'), '--custodians', join(dir, 'rehearsal-custodians.v1.json'), '--custodians', join(dir, 'custodians.v2.json')], process.env);
  expect(audit.status).toBe(0);
  return { files: filesUnder(dir), objects: tokenObjects(dir, script) };
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'kc-resume-rotation-'));
  // the set in force, as a first ceremony would have left it (software keys stand in for the cards here)
  const signers = [1, 2, 3].map((i) => new SoftwareSigner(new Uint8Array(32).fill(i)));
  const now = Date.now();
  const payload = buildCustodianSet({ version: 1, issued: formatTime(now - 60_000), expires: formatTime(now + 86400_000), threshold: 2,
    custodians: ['alice', 'bob', 'carol'].map((id, i) => ({ id, name: id, publicKey: signers[i]!.publicKey })) });
  let env: Envelope = { payloadType: PAYLOAD_TYPES.custodians, payload, signatures: [] };
  for (const s of signers) env = await addSignature(env, s);
  writeFileSync(join(root, 'custodians.v1.json'), serializeEnvelope(env));
  scriptFile = join(root, 'rotation.json');
  writeFileSync(scriptFile, text);
  const dir = join(root, 'reference');
  const r = rehearse(dir);
  expect(r.stderr).toBe('');
  reference = endState(dir);
}, 60_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('the set rotation killed at every step, then resumed', () => {
  test('the uninterrupted run: one key pair on each card, dave\'s made in this ceremony', () => {
    expect(reference.objects['card-dave']).toEqual(['Private:dave-sign-v1', 'Public:dave-sign-v1']);
    for (const c of ['alice', 'bob', 'carol']) expect(reference.objects[`card-${c}`]).toEqual([`Private:${c}-sign-v1`, `Public:${c}-sign-v1`]);
    expect(reference.files).toEqual(['audit.checkpoint.json', 'audit.jsonl', 'custodians.v2.json', 'rehearsal-custodians.v1.json', 'transcript.html', 'transcript.md']);
  });
  test.each(POINTS)('killed at %s: the re-run resumes to the same end state', (point) => {
    const dir = join(root, point.replace(/[^a-z0-9]+/gi, '-'));
    expect(rehearse(dir, { ...process.env, KEYCEREMONY_CRASHPOINT: point }).status).toBeNull(); // SIGKILL, as a power cut
    const again = rehearse(dir);
    expect(again.stderr).toBe('');
    expect(again.status).toBe(0);
    expect(endState(dir)).toEqual(reference);
    expect(readFileSync(join(dir, 'audit.jsonl'), 'utf8')).toContain('"action":"ceremony.resume"');
  }, 60_000);
});
