/**
 * Issue 7: a rotation across ceremonies. The first ceremony forms the custodian set and signs
 * the prepare manifest; the dual-publish, cutover and revoke ceremonies each load that set from
 * the ceremony media (its root confirmed by the witness, each custodian's card checked against
 * it), sign a manifest that follows the one before (sequence + 1, its digest), and verify with
 * `keyceremony verify --previous`. A later ceremony rotates the set to 3-of-4 (dave joins),
 * signed by the thresholds of the old and the new set. Real runs on SoftHSM2 tokens standing for
 * the cards; a rehearsal of a later ceremony uses a stand-in set on throw-away cards; and a wrong
 * card, a wrong pinned root, a root the witness does not confirm are each refused with nothing
 * written.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { verifyAuditLog } from '../../src/audit/verify.js';
import { parseCheckpoint } from '../../src/audit/checkpoint.js';
import { runCeremony } from '../../src/ceremony/engine.js';
import type { ResolvedToken, RunOptions } from '../../src/ceremony/engine.js';
import { openRehearsalTokens } from '../../src/ceremony/rehearsal.js';
import { parseScript } from '../../src/ceremony/script.js';
import type { CeremonyScript } from '../../src/ceremony/script.js';
import { TEMPLATES } from '../../src/ceremony/templates.js';
import { parseCustodianSet } from '../../src/custodians/set.js';
import { parseEnvelope } from '../../src/dsse/envelope.js';
import { KeyceremonyError } from '../../src/errors.js';
import { parseManifest } from '../../src/manifest/manifest.js';
import { generateEd25519 } from '../../src/pkcs11/keys.js';
import { Pkcs11Module } from '../../src/pkcs11/module.js';
import { withSession } from '../../src/pkcs11/session.js';
import { findToken } from '../../src/pkcs11/tokens.js';
import { verifyChain, verifyDocument } from '../../src/verify/verify.js';
import { runCli } from '../support/cli.js';
import { createSoftHsm, pinBytes } from '../support/softhsm.js';
import type { SoftHsm } from '../support/softhsm.js';

const people = ['alice', 'bob', 'carol', 'dave'];
const cardTokens = people.map((id, i) => ({ name: `card-${id}`, label: `custodian-${id}`, pin: `${i + 1}`.repeat(4), soPin: '12345678' }));
const hsmToken = { name: 'hsm', label: 'Ceremony HSM', pin: '99998888', soPin: '12345678' };
let hsm: SoftHsm;
let mod: Pkcs11Module;
let work: string;
let rootDigest: string;

type Editable = { steps: { action: string }[]; tokens: { name: string }[] };
const script = (t: object, edit: (x: Editable) => void = () => undefined): CeremonyScript => {
  const copy = JSON.parse(JSON.stringify(t)) as Editable;
  edit(copy);
  return parseScript(new TextEncoder().encode(JSON.stringify(copy, null, 2)));
};

function tokens(s: CeremonyScript): Map<string, ResolvedToken> {
  return new Map(s.tokens.map((t) => {
    const def = [...cardTokens, hsmToken].find((x) => x.label === t.label)!;
    return [t.name, { token: findToken(mod, { label: t.label }), pin: pinBytes(def.pin) }];
  }));
}

const answered: string[] = [];
const run = (s: CeremonyScript, dir: string, inputs: string, extra: Partial<RunOptions> = {}) => runCeremony({
  script: s, dir, inputs, tokens: tokens(s), simulation: false, say: () => undefined,
  // a real run writes custody, exports and drills only on removable media: the test folder stands in for the drive
  env: { ...process.env, KEYCEREMONY_REMOVABLE_ROOTS: work },
  confirm: async (q) => { answered.push(q.what); return true; }, ...extra,
});
const read = (dir: string, f: string): Uint8Array => new Uint8Array(readFileSync(join(dir, f)));

beforeAll(async () => {
  hsm = createSoftHsm([hsmToken, ...cardTokens]);
  mod = Pkcs11Module.open(hsm.module);
  work = mkdtempSync(join(tmpdir(), 'kc-across-'));
  // the first ceremony, adapted: the quarterly template without its export and drill
  const first = script(TEMPLATES['quarterly-master-rotation']!, (x) => {
    x.steps = x.steps.filter((s) => s.action !== 'export' && s.action !== 'drill');
    x.tokens = x.tokens.filter((t) => t.name !== 'drill');
  });
  await run(first, join(work, 'c1'), join(work, 'c1'));
  rootDigest = parseCustodianSet(parseEnvelope(read(join(work, 'c1'), 'custodians.v1.json')).payload).digest;
}, 120_000);
afterAll(() => {
  mod.close();
  hsm.cleanup();
  rmSync(work, { recursive: true, force: true });
});

describe('the quarterly rotation across four ceremonies', () => {
  test.each([['dual-publish', 2], ['cutover', 3], ['revoke', 4]] as const)('%s: the set loaded from the media, the manifest follows the one before', async (phase, n) => {
    const prev = join(work, `c${n - 1}`);
    const dir = join(work, `c${n}`);
    answered.length = 0;
    const r = await run(script(TEMPLATES[`quarterly-master-${phase}`]!), dir, prev);
    // the witness confirmed the root digest and each present custodian's fingerprint from their card
    expect(answered).toContain(`the root set's digest ${rootDigest}, against the record of the ceremony that made it`);
    expect(answered.filter((a) => a.startsWith('the fingerprint of'))).toEqual(["the fingerprint of alice's key, read aloud", "the fingerprint of bob's key, read aloud", "the fingerprint of carol's key, read aloud"]);
    expect(read(dir, 'custodians.v1.json')).toEqual(read(join(work, 'c1'), 'custodians.v1.json')); // copied as is
    const m = parseManifest(parseEnvelope(read(dir, `rotation.${n}.json`)).payload);
    const before = parseManifest(parseEnvelope(read(prev, `rotation.${n - 1}.json`)).payload);
    expect([m.sequence, m.previous, m.custodianSet]).toEqual([n, before.digest, 1]);
    expect(m.keys.every((k) => k.phase === phase)).toBe(true);
    // the pipeline's check, through the CLI: pinned root, the previous manifest
    const v = runCli(['verify', join(dir, `rotation.${n}.json`), '--custodians', join(dir, 'custodians.v1.json'), '--root-digest', rootDigest, '--previous', join(prev, `rotation.${n - 1}.json`), '--json'], process.env);
    expect(v.status).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({ valid: true, signers: ['alice', 'bob'] });
    // against a manifest that is not the one before, the same file is refused
    if (n > 2) expect(runCli(['verify', join(dir, `rotation.${n}.json`), '--custodians', join(dir, 'custodians.v1.json'), '--previous', join(work, 'c1', 'rotation.1.json')], process.env).status).toBe(1);
    // the log is checkpointed by the set's custodians present
    expect(verifyAuditLog(read(dir, 'audit.jsonl'), { chain: verifyChain([read(dir, 'custodians.v1.json')], { at: Date.now() }).chain!, requireCheckpointAtEnd: true }).valid).toBe(true);
    expect(r.steps.map((s) => s.id)).toEqual(['custodian-set', `${phase}-manifest`]);
  }, 60_000);

  test('the custodian set rotates to 3-of-4: dave\'s key made on his card, signed by the 2-of-3 in force and the new 3-of-4', async () => {
    const dir = join(work, 'set-v2');
    await run(script(TEMPLATES['custodian-set-rotation']!), dir, join(work, 'c1'));
    const chain = verifyChain([read(dir, 'custodians.v1.json'), read(dir, 'custodians.v2.json')], { at: Date.now(), rootDigest }).chain!;
    expect(chain.newest).toMatchObject({ version: 2, threshold: 3 });
    expect(chain.newest.custodians.map((c) => c.id)).toEqual(people);
    const cp = parseCheckpoint(parseEnvelope(read(dir, 'audit.checkpoint.json')).payload);
    expect(cp.custodianSet).toBe(2);
    // the next manifest is approved by the new set, and a manifest under set 1 is now superseded
    const old = verifyDocument(read(join(work, 'c2'), 'rotation.2.json'), [read(dir, 'custodians.v1.json'), read(dir, 'custodians.v2.json')], { at: Date.now() });
    expect(old.reasons.join(' ')).toContain('MANIFEST_SET_SUPERSEDED');
  }, 60_000);

  test('after the rotation, a later ceremony loads the two-version chain: signers below the new threshold are refused before anything is made; three of the four sign', async () => {
    const inputs = join(work, 'inputs-v2');
    mkdirSync(inputs);
    for (const f of ['custodians.v1.json', 'custodians.v2.json']) cpSync(join(work, 'set-v2', f), join(inputs, f));
    cpSync(join(work, 'c1', 'rotation.1.json'), join(inputs, 'rotation.1.json'));
    const withDave = (signers: string[]) => script(TEMPLATES['quarterly-master-dual-publish']!, (x) => {
      const y = x as unknown as { participants: object[]; tokens: object[]; steps: { chain?: string[]; signers?: string[] }[] };
      y.participants.push({ id: 'dave', name: 'Dave, custodian', role: 'custodian' });
      y.tokens.push({ name: 'card-dave', label: 'custodian-dave', serial: null, holder: 'dave' });
      y.steps[0]!.chain = ['custodians.v1.json', 'custodians.v2.json'];
      y.steps[1]!.signers = signers;
    });
    const two = join(work, 'v2-two-signers');
    await expect(run(withDave(['alice', 'bob']), two, inputs)).rejects.toMatchObject({ code: 'CEREMONY_INPUTS_INVALID', message: expect.stringContaining('CEREMONY_QUORUM_INVALID') });
    expect(existsSync(two)).toBe(false);
    const three = join(work, 'v2-three-signers');
    await run(withDave(['alice', 'bob', 'dave']), three, inputs);
    const v = runCli(['verify', join(three, 'rotation.2.json'), '--custodians', join(three, 'custodians.v1.json'), '--custodians', join(three, 'custodians.v2.json'), '--root-digest', rootDigest,
      '--previous', join(inputs, 'rotation.1.json'), '--json'], process.env);
    expect(JSON.parse(v.stdout)).toMatchObject({ valid: true, custodianSet: 2, threshold: 3, signers: ['alice', 'bob', 'dave'] });
  }, 60_000);

  test('refused with nothing written: a pinned root that is not the set\'s, a root the witness does not confirm, a card whose key is not the set\'s', async () => {
    const pinned = script(TEMPLATES['quarterly-master-dual-publish']!, (x) => { (x.steps[0] as { rootDigest?: string }).rootDigest = `sha256:${'0'.repeat(64)}`; });
    const d1 = join(work, 'bad-root');
    // checked with every other input before the first token operation: the ceremony does not even begin its log
    await expect(run(pinned, d1, join(work, 'c1'))).rejects.toMatchObject({ code: 'CEREMONY_INPUTS_INVALID', exit: 1, message: expect.stringContaining('CHAIN_ROOT_DIGEST_MISMATCH') });
    expect(existsSync(d1)).toBe(false);
    // every missing input is listed at once
    const d0 = join(work, 'no-inputs');
    const empty = mkdtempSync(join(tmpdir(), 'kc-empty-'));
    const missing = await run(script(TEMPLATES['quarterly-master-dual-publish']!), d0, empty).catch((e: unknown) => e as KeyceremonyError);
    expect(missing).toMatchObject({ code: 'CEREMONY_INPUTS_INVALID', exit: 2, message: expect.stringMatching(/2 input file\(s\).*custodians\.v1\.json.*rotation\.1\.json/) });
    expect(existsSync(d0)).toBe(false);
    // and a first ceremony whose KMS wrapping keys are not there stops before its first key is made
    const full = parseScript(new TextEncoder().encode(JSON.stringify(TEMPLATES['quarterly-master-rotation'])));
    const exportStep = full.steps.find((x) => x.action === 'export');
    const noKeks = await runCeremony({ script: full, dir: d0, inputs: empty, tokens: new Map(), simulation: false, say: () => undefined, confirm: async () => true }).catch((e: unknown) => e as KeyceremonyError);
    expect(noKeks).toMatchObject({ code: 'CEREMONY_INPUTS_INVALID', message: expect.stringContaining(`${exportStep?.action === 'export' ? exportStep.targets.length : -1} input file(s)`) });
    expect(existsSync(d0)).toBe(false);
    rmSync(empty, { recursive: true });

    const d2 = join(work, 'unconfirmed');
    await expect(run(script(TEMPLATES['quarterly-master-dual-publish']!), d2, join(work, 'c1'), { confirm: async (q) => !q.what.startsWith("the root set's digest") })).rejects.toMatchObject({ code: 'CEREMONY_WITNESS_REFUSED' });
    expect(existsSync(join(d2, 'rotation.2.json'))).toBe(false);

    // a folder that already holds another custodians.v1.json (say, from a different rotation) is refused before anything is done, and not overwritten
    const d4 = join(work, 'conflict');
    mkdirSync(d4);
    const other = join(work, 'other-inputs');
    mkdirSync(other);
    cpSync(join(work, 'c1', 'rotation.1.json'), join(other, 'rotation.1.json'));
    cpSync(join(work, 'c1', 'custodians.v1.json'), join(other, 'custodians.v1.json'));
    writeFileSync(join(d4, 'custodians.v1.json'), '{"not":"the set"}');
    await expect(run(script(TEMPLATES['quarterly-master-dual-publish']!), d4, other)).rejects.toMatchObject({ code: 'CEREMONY_FOLDER_UNEXPECTED' });
    expect(readFileSync(join(d4, 'custodians.v1.json'), 'utf8')).toBe('{"not":"the set"}');
    expect(existsSync(join(d4, 'rotation.2.json'))).toBe(false);

    // bob brings a card with another key on it
    const bob = cardTokens[1]!;
    await withSession(findToken(mod, { label: bob.label }), pinBytes(bob.pin), async (s) => {
      for (const h of s.findObjects([], 16)) s.api.C_DestroyObject(s.handle, h);
      await generateEd25519(s, { label: 'bob-sign-v1' });
    });
    const d3 = join(work, 'wrong-card');
    const err = await run(script(TEMPLATES['quarterly-master-dual-publish']!), d3, join(work, 'c1')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KeyceremonyError);
    expect(err).toMatchObject({ code: 'CEREMONY_CARD_KEY_MISMATCH', message: expect.stringContaining('"custodian-bob"') });
    expect(existsSync(join(d3, 'custodians.v1.json')) || existsSync(join(d3, 'rotation.2.json'))).toBe(false);
  }, 60_000);
});

describe('a later ceremony rehearsed', () => {
  test('on throw-away cards with a stand-in set of the same version and threshold; the manifest still follows the real one before', async () => {
    const dir = join(work, 'rehearsal');
    mkdirSync(dir);
    const s = script(TEMPLATES['quarterly-master-dual-publish']!);
    const conf = process.env.SOFTHSM2_CONF;
    // the rehearsal opens its own SoftHSM2 store: the test's module is closed first (one library per process)
    mod.close();
    const rehearsal = openRehearsalTokens(s, dir);
    try {
      await runCeremony({ script: s, dir, inputs: join(work, 'c1'), tokens: rehearsal.tokens, simulation: true, say: () => undefined, confirm: async () => true });
    } finally {
      rehearsal.close();
      process.env.SOFTHSM2_CONF = conf;
      mod = Pkcs11Module.open(hsm.module);
    }
    expect(existsSync(join(dir, 'custodians.v1.json'))).toBe(false); // the real set is not claimed
    const standIn = read(dir, 'rehearsal-custodians.v1.json');
    const set = parseCustodianSet(parseEnvelope(standIn).payload);
    expect([set.version, set.threshold, set.custodians.map((c) => c.id)]).toEqual([1, 2, ['alice', 'bob', 'carol']]);
    expect(set.digest).not.toBe(rootDigest);
    const v = verifyDocument(read(dir, 'rotation.2.json'), [standIn], { at: Date.now(), previous: read(join(work, 'c1'), 'rotation.1.json') });
    expect(v.reasons).toEqual([]);
    expect(readFileSync(join(dir, 'transcript.md'), 'utf8')).toContain('rehearsal stand-in');
  }, 60_000);
});
