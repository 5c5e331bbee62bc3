/**
 * Issue 8, token faults at the level of a whole ceremony: the demo (the new-deployment template on
 * throw-away SoftHSM2 tokens) is run in one folder again and again, each run with one token fault
 * injected into the real binding at a different step: a card pulled while its key pair is made,
 * a device error mid-signature, a session lost while the master key is generated, a card gone
 * while a share is stored, the HSM pulled while a delivered secret is drawn, a PIN locked, a device
 * error while a later manifest of the chain is signed, the HSM pulled mid-export, a device error
 * mid-drill and a card pulled while the checkpoint is signed. After each fault:
 *  - the run fails with the fault's code and a message that names the token;
 *  - the journal (the audit log) verifies, ends with that step begun and not done, and every
 *    step before it done exactly once;
 *  - nothing half made is taken for whole: no file of the step claims to be complete.
 * The next run resumes after the fault; the last one, without a fault, ends in the same state
 * as an uninterrupted ceremony: one of each key and share, the same signatures, nothing left on
 * the drill token, every sealed secret the one its manifests bind, and a checkpointed log that
 * verifies.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseLine } from '../../src/audit/log.js';
import type { AuditEntry } from '../../src/audit/log.js';
import { verifyAuditLog } from '../../src/audit/verify.js';
import { DEMO_TEMPLATE, runDemo } from '../../src/ceremony/demo.js';
import { parseScript } from '../../src/ceremony/script.js';
import { templateText } from '../../src/ceremony/templates.js';
import { KeyceremonyError } from '../../src/errors.js';
import { CKR, injectOnOpen } from '../support/faults.js';
import { journalKeys, stateOf, tokenObjects } from '../support/ceremony-state.js';

const script = parseScript(new TextEncoder().encode(templateText(DEMO_TEMPLATE)!));
const STEPS = script.steps.map((s) => s.id);
let dir: string;
let pending: { fn: string; nth: number; ckr: number; when: () => boolean } | null = null;
let hook: ReturnType<typeof injectOnOpen>;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kc-ceremony-faults-'));
  hook = injectOnOpen(() => pending);
});
afterAll(() => {
  hook.restore();
  rmSync(dir, { recursive: true, force: true });
});

function journal(): AuditEntry[] {
  return readFileSync(join(dir, 'audit.jsonl'), 'utf8').split('\n').filter((l) => l !== '').map((l) => parseLine(l) as AuditEntry);
}

/** Steps done, in log order (each must appear once). */
const doneSteps = (): string[] => journal().filter((e) => e.action === 'step.done').map((e) => String(e.details.step));

/** True while the journal's last entry says `step` is under way (for the checkpoint: after the last step is done). */
function during(step: string): () => boolean {
  return () => {
    const last = journal().at(-1);
    return step === 'checkpoint' ? last?.action === 'step.done' && last.details.step === STEPS.at(-1) : last?.action === 'step.begin' && last.details.step === step;
  };
}

/** A run with `fault` made to happen in the nth such call during `step` (a resumed run first finishes the step the last fault stopped). */
async function runWithFault(step: string, fault: { fn: string; nth: number; ckr: number }): Promise<KeyceremonyError> {
  pending = { ...fault, when: during(step) };
  try {
    await runDemo({ dir, say: () => undefined });
  } catch (err) {
    expect(hook.fired()).toBe(true);
    expect(err).toBeInstanceOf(KeyceremonyError);
    return err as KeyceremonyError;
  } finally {
    pending = null;
  }
  throw new Error(`the run went through although ${fault.fn} was made to fail`);
}


// In order: each case resumes the folder the case before it left.
const CASES = [
  { step: 'custodian-keys', what: "bob's card pulled while his key pair is made", fault: { fn: 'C_GenerateKeyPairAsync', nth: 2, ckr: CKR.DEVICE_REMOVED }, code: 'HSM_DEVICE_REMOVED', token: 'custodian-bob',
    after: () => {
      const o = tokenObjects(dir, script);
      expect(o['card-alice']).toEqual(['Private:alice-sign-v1', 'Public:alice-sign-v1']);
      expect(o['card-bob']).toEqual([]);
    } },
  { step: 'custodian-set', what: 'a device error while bob signs the set', fault: { fn: 'C_SignAsync', nth: 2, ckr: CKR.DEVICE_ERROR }, code: 'HSM_DEVICE_ERROR', token: 'custodian-bob',
    after: () => expect(existsSync(join(dir, 'custodians.v1.json'))).toBe(false) },
  { step: 'master-key', what: 'the session lost while the master key is generated', fault: { fn: 'C_GenerateKeyAsync', nth: 1, ckr: CKR.SESSION_HANDLE_INVALID }, code: 'HSM_SESSION_CLOSED', token: 'Ceremony HSM',
    after: () => {
      expect(tokenObjects(dir, script).hsm).toEqual([]);
      expect(journalKeys(dir, script)).toEqual([`Secret:journal-${script.id}`]); // the unfinished run's journal key, kept for the resume
    } },
  { step: 'backup-custody', what: "bob's card gone while his share is stored", fault: { fn: 'C_CreateObject', nth: 5, ckr: CKR.TOKEN_NOT_PRESENT }, code: 'HSM_TOKEN_NOT_PRESENT', token: 'custodian-bob',
    after: () => expect(existsSync(join(dir, 'custody', 'rotation.json'))).toBe(false) },
  { step: 'make-jwt', what: 'the HSM pulled while the JWT signing secret is drawn', fault: { fn: 'C_GenerateRandom', nth: 1, ckr: CKR.DEVICE_REMOVED }, code: 'HSM_DEVICE_REMOVED', token: 'Ceremony HSM',
    after: () => {
      expect(existsSync(join(dir, 'sealed', 'jwt-v1.age'))).toBe(false);
      expect(existsSync(join(dir, 'sealed', 'celery-broker-v1.age'))).toBe(true); // the secrets made before it stay sealed
    } },
  { step: 'prepare-manifest', what: "alice's PIN locked when she signs the manifest", fault: { fn: 'C_Login', nth: 1, ckr: CKR.PIN_LOCKED }, code: 'HSM_PIN_LOCKED', token: 'custodian-alice',
    after: () => expect(existsSync(join(dir, 'rotation.1.json'))).toBe(false) },
  { step: 'cutover-manifest', what: 'a device error while bob signs the cutover, the chain\'s third manifest', fault: { fn: 'C_SignAsync', nth: 2, ckr: CKR.DEVICE_ERROR }, code: 'HSM_DEVICE_ERROR', token: 'custodian-bob',
    after: () => {
      expect(existsSync(join(dir, 'rotation.2.json'))).toBe(true);
      expect(existsSync(join(dir, 'rotation.3.json'))).toBe(false);
    } },
  { step: 'export', what: 'the HSM pulled while the master key is wrapped', fault: { fn: 'C_WrapKeyAsync', nth: 1, ckr: CKR.DEVICE_REMOVED }, code: 'HSM_DEVICE_REMOVED', token: 'Ceremony HSM',
    after: () => expect(existsSync(join(dir, 'export'))).toBe(false) },
  { step: 'restore-drill', what: 'a device error while the drill token unwraps the backup', fault: { fn: 'C_UnwrapKeyAsync', nth: 1, ckr: CKR.DEVICE_ERROR }, code: 'HSM_DEVICE_ERROR', token: 'Drill token',
    after: () => {
      expect(existsSync(join(dir, 'drill.json'))).toBe(false);
      expect(tokenObjects(dir, script).drill).toEqual([]);
    } },
  { step: 'checkpoint', what: "alice's card pulled while she signs the checkpoint", fault: { fn: 'C_SignAsync', nth: 1, ckr: CKR.DEVICE_REMOVED }, code: 'HSM_DEVICE_REMOVED', token: 'custodian-alice',
    after: () => expect(existsSync(join(dir, 'audit.checkpoint.json'))).toBe(false) },
] as const;

describe('a token fault at each step of a whole ceremony, then resume', () => {
  test.each(CASES)('$step: $what', async (c) => {
    const before = existsSync(join(dir, 'audit.jsonl')) ? doneSteps() : [];
    const err = await runWithFault(c.step, c.fault);
    expect(err.code).toBe(c.code);
    expect(err.message).toContain(`"${c.token}"`);
    // the journal: valid, every earlier step done once, this step begun and not done
    const log = verifyAuditLog(new Uint8Array(readFileSync(join(dir, 'audit.jsonl'))));
    expect(log.valid).toBe(true);
    const done = doneSteps();
    const upTo = c.step === 'checkpoint' ? STEPS : STEPS.slice(0, STEPS.indexOf(c.step));
    expect(done).toEqual(upTo);
    expect(done.slice(0, before.length)).toEqual(before);
    const last = journal().at(-1)!;
    if (c.step === 'checkpoint') expect(last).toMatchObject({ action: 'step.done', details: { step: STEPS.at(-1) } });
    else expect(last).toMatchObject({ action: 'step.begin', details: { step: c.step } });
    c.after();
  }, 60_000);

  test('the run after the last fault completes: the same end state as an uninterrupted ceremony', async () => {
    const r = await runDemo({ dir, say: () => undefined });
    expect(r.resumed).toBe(true);
    expect(hook.fired()).toBe(false);
    const state = stateOf(dir, script);
    expect(state.objects.hsm).toEqual(['Secret:backup-v1', 'Secret:master-v1']);
    for (const c of ['alice', 'bob', 'carol']) expect(state.objects[`card-${c}`]).toEqual(['Data:share:backup-v1', `Private:${c}-sign-v1`, `Public:${c}-sign-v1`]);
    expect(state.objects.drill).toEqual([]);
    expect(journalKeys(dir, script)).toEqual([]); // the finished run destroyed its journal key
    expect(state.signatures).toEqual({ 'custodians.v1.json': 3, 'rotation.1.json': 2, 'rotation.2.json': 2, 'rotation.3.json': 2, 'custody/rotation.json': 2, 'drill.json': 2, 'audit.checkpoint.json': 2 });
    expect(state.sealed).toEqual({ 'celery-broker-v1': true, 'jwt-refresh-salt-v1': true, 'jwt-v1': true, 'redis-auth-v1': true, 'secret-key-v1': true, 'webhook-v1': true });
    expect(state.audit).toMatchObject({ status: 0, valid: true });
    expect(doneSteps()).toEqual(STEPS); // each step done exactly once over eleven runs
    expect(journal().filter((e) => e.action === 'ceremony.resume')).toHaveLength(CASES.length);
  }, 120_000);
});
