/**
 * Issues 7 and 17: one deployment's chain of rotation manifests across ceremonies, run from the
 * templates on SoftHSM2 tokens standing for the HSM and the cards. The keys-in-use ceremony forms
 * the custodian set and brings the keys in use into a new chain (rotation.1 to 3: prepare,
 * dual-publish and cutover of their current versions, one notBefore); every later ceremony loads
 * that set from the ceremony media (its root confirmed by the witness, each custodian's card checked
 * against it) and signs manifests whose first follows the last manifest of the ceremony before
 * (sequence + 1, its digest): the quarterly rotation makes master-v2 beside master-v1 (4), then
 * dual-publishes it (5), cuts over no earlier than the overlap (6) and revokes master-v1 (7); the
 * monthly JWT rotation (8 to 11) and the webhook rotation (12 to 15) make their secrets and sign
 * their schedules; incident response (16 to 19, ten days later) marks the versions in use
 * compromised and brings in new ones. `keyceremony state` on the whole chain then gives, at four
 * times, exactly the lists written out by hand below, and no two manifests move a version the same
 * way. A later ceremony rotates the set to 3-of-4 (dave joins), signed by the thresholds of the old
 * and the new set; a rehearsal of a later ceremony uses a stand-in set on throw-away cards; and a
 * wrong card, a wrong pinned root, a root the witness does not confirm are each refused with
 * nothing written.
 */
import { execFileSync } from 'node:child_process';
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
import { placeMedia } from '../support/ceremony-media.js';

const people = ['alice', 'bob', 'carol', 'dave'];
const cardTokens = people.map((id, i) => ({ name: `card-${id}`, label: `custodian-${id}`, pin: `${i + 1}`.repeat(4), soPin: '12345678' }));
const hsmToken = { name: 'hsm', label: 'Ceremony HSM', pin: '99998888', soPin: '12345678' };
const DAY = 86400_000;
let hsm: SoftHsm;
let mod: Pkcs11Module;
let work: string;
let rootDigest: string;
let recipients: string;

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
const manifestIn = (dir: string, f: string) => parseManifest(parseEnvelope(read(dir, f)).payload);

/** The ceremony media a later ceremony reads: the set, the chain's last manifest (from the folder of the ceremony before), the deployment's recipients. */
function media(name: string, previous: { dir: string; file: string }): string {
  return placeMedia(join(work, `inputs-${name}`), { set: join(work, 'c0', 'custodians.v1.json'), previous: join(previous.dir, previous.file), recipients });
}

/** Where each manifest of the deployment's chain was written: rotation.N.json in the folder of the ceremony that made it. */
const chain = new Map<number, string>();
const file = (n: number): string => join(chain.get(n)!, `rotation.${n}.json`);
const notBefore = (n: number): string => {
  const nb = [...new Set(manifestIn(chain.get(n)!, `rotation.${n}.json`).keys.map((k) => k.notBefore))];
  expect(nb).toHaveLength(1);
  return new Date(nb[0]!).toISOString().replace('.000Z', 'Z');
};

beforeAll(async () => {
  hsm = createSoftHsm([hsmToken, ...cardTokens]);
  mod = Pkcs11Module.open(hsm.module);
  work = mkdtempSync(join(tmpdir(), 'kc-across-'));
  recipients = execFileSync('age-keygen', ['-y'], { input: execFileSync('age-keygen', [], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }), encoding: 'utf8' }).trim();
  // the deployment's first ceremony: the set formed, the keys in use brought into a new chain
  const c0 = join(work, 'c0');
  await run(script(TEMPLATES['keys-in-use']!), c0, c0);
  for (const n of [1, 2, 3]) chain.set(n, c0);
  rootDigest = parseCustodianSet(parseEnvelope(read(c0, 'custodians.v1.json')).payload).digest;
}, 120_000);
afterAll(() => {
  mod.close();
  hsm.cleanup();
  rmSync(work, { recursive: true, force: true });
});

describe('keys already in use begin the chain', () => {
  test('prepare, dual-publish and cutover of their current versions, one manifest each, one notBefore, superseding nothing', () => {
    const ms = [1, 2, 3].map((n) => manifestIn(chain.get(n)!, `rotation.${n}.json`));
    expect(ms.map((m) => [m.sequence, m.keys.map((k) => k.phase)[0]])).toEqual([[1, 'prepare'], [2, 'dual-publish'], [3, 'cutover']]);
    expect(ms.map((m) => m.previous)).toEqual([null, ms[0]!.digest, ms[1]!.digest]);
    expect(new Set(ms.flatMap((m) => m.keys.map((k) => k.notBefore))).size).toBe(1);
    expect(ms[0]!.keys[0]!.notBefore - ms[0]!.issued).toBe(3600_000); // an hour after the first is signed
    for (const m of ms) {
      expect(m.keys.map((k) => k.id)).toEqual(['secret-key-v1', 'webhook-v1', 'redis-auth-v1', 'celery-broker-v1', 'jwt-v1', 'jwt-refresh-salt-v1', 'master-v1']);
      // nothing was made: no check value, no binding
      expect(m.keys.every((k) => k.supersedes === null && k.kcv === null && k.binding === null)).toBe(true);
    }
  });
});

describe('the quarterly rotation across four ceremonies', () => {
  test('prepare: master-v2 made beside master-v1, its backup custody, a manifest that follows the chain\'s last', async () => {
    const dir = join(work, 'c4');
    // the first ceremony of the quarter, adapted: without its export and drill
    const s = script(TEMPLATES['quarterly-master-rotation']!, (x) => {
      x.steps = x.steps.filter((st) => st.action !== 'export' && st.action !== 'drill');
      x.tokens = x.tokens.filter((t) => t.name !== 'drill');
    });
    const r = await run(s, dir, media('c4', { dir: join(work, 'c0'), file: 'rotation.3.json' }));
    chain.set(4, dir);
    expect(r.steps.map((x) => x.id)).toEqual(['custodian-set', 'master-key', 'backup-custody', 'prepare-manifest']);
    const m = manifestIn(dir, 'rotation.4.json');
    expect([m.sequence, m.previous]).toEqual([4, manifestIn(join(work, 'c0'), 'rotation.3.json').digest]);
    expect(m.keys).toEqual([expect.objectContaining({ name: 'MASTER_KEY', id: 'master-v2', supersedes: 'master-v1', phase: 'prepare', kcv: expect.stringMatching(/^[0-9a-f]{6}$/), notBefore: m.issued })]);
    // the custody folder is a record of its own, outside the key chain
    const custody = manifestIn(dir, 'custody/rotation.json');
    expect([custody.sequence, custody.previous, custody.keys.map((k) => k.id)]).toEqual([1, null, ['backup-v2', 'master-v2']]);
  }, 60_000);

  test.each([['dual-publish', 5], ['cutover', 6], ['revoke', 7]] as const)('%s: the set loaded from the media, the manifest follows the one before', async (phase, n) => {
    const prev = chain.get(n - 1)!;
    const dir = join(work, `c${n}`);
    answered.length = 0;
    const r = await run(script(TEMPLATES[`quarterly-master-${phase}`]!), dir, media(`c${n}`, { dir: prev, file: `rotation.${n - 1}.json` }));
    chain.set(n, dir);
    // the witness confirmed the root digest and each present custodian's fingerprint from their card
    expect(answered).toContain(`the root set's digest ${rootDigest}, against the record of the ceremony that made it`);
    expect(answered.filter((a) => a.startsWith('the fingerprint of'))).toEqual(["the fingerprint of alice's key, read aloud", "the fingerprint of bob's key, read aloud", "the fingerprint of carol's key, read aloud"]);
    expect(read(dir, 'custodians.v1.json')).toEqual(read(join(work, 'c0'), 'custodians.v1.json')); // copied as is
    const m = manifestIn(dir, `rotation.${n}.json`);
    const before = manifestIn(prev, `rotation.${n - 1}.json`);
    expect([m.sequence, m.previous, m.custodianSet]).toEqual([n, before.digest, 1]);
    // master-v2 moved one phase further, superseding master-v1
    expect(m.keys.map((k) => [k.id, k.supersedes, k.phase])).toEqual([['master-v2', 'master-v1', phase]]);
    // the cutover no earlier than the dual-publish plus the 24 h overlap; the revoke not before the cutover
    if (phase === 'cutover') expect(m.keys[0]!.notBefore - before.keys[0]!.notBefore).toBe(24 * 3600_000);
    if (phase === 'revoke') expect(m.keys[0]!.notBefore).toBe(before.keys[0]!.notBefore);
    // the pipeline's check, through the CLI: pinned root, the previous manifest
    const v = runCli(['verify', join(dir, `rotation.${n}.json`), '--custodians', join(dir, 'custodians.v1.json'), '--root-digest', rootDigest, '--previous', join(prev, `rotation.${n - 1}.json`), '--json'], process.env);
    expect(v.status).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({ valid: true, signers: ['alice', 'bob'] });
    // against a manifest that is not the one before, the same file is refused
    expect(runCli(['verify', join(dir, `rotation.${n}.json`), '--custodians', join(dir, 'custodians.v1.json'), '--previous', join(work, 'c0', 'rotation.1.json')], process.env).status).toBe(1);
    // the log is checkpointed by the set's custodians present
    expect(verifyAuditLog(read(dir, 'audit.jsonl'), { chain: verifyChain([read(dir, 'custodians.v1.json')], { at: Date.now() }).chain!, requireCheckpointAtEnd: true }).valid).toBe(true);
    expect(r.steps.map((x) => x.id)).toEqual(['custodian-set', `${phase}-manifest`]);
  }, 60_000);
});

describe('the secrets rotations and incident response, on the same chain', () => {
  test('monthly JWT: jwt-v2 and its refresh salt made and sealed to the deployment; prepared, dual-published in an hour, cut over a day later, v1 revoked a day after', async () => {
    const dir = join(work, 'c8');
    const r = await run(script(TEMPLATES['monthly-jwt-rotation']!), dir, media('c8', { dir: chain.get(7)!, file: 'rotation.7.json' }));
    for (const n of [8, 9, 10, 11]) chain.set(n, dir);
    expect(r.steps.map((x) => x.id)).toEqual(['custodian-set', 'make-jwt', 'make-jwt-refresh-salt', 'prepare-manifest', 'dual-publish-manifest', 'cutover-manifest', 'revoke-manifest']);
    const ms = [8, 9, 10, 11].map((n) => manifestIn(dir, `rotation.${n}.json`));
    expect(ms[0]!.previous).toBe(manifestIn(chain.get(7)!, 'rotation.7.json').digest);
    expect(ms.map((m) => m.keys.map((k) => [k.id, k.supersedes, k.phase]))).toEqual(['prepare', 'dual-publish', 'cutover', 'revoke'].map((p) => [['jwt-v2', 'jwt-v1', p], ['jwt-refresh-salt-v2', 'jwt-refresh-salt-v1', p]]));
    expect(ms.map((m) => (m.keys[0]!.notBefore - ms[0]!.issued) / 3600_000)).toEqual([0, 1, 25, 49]);
    // every entry binds the sealed secret: the same binding in each phase
    expect(ms.every((m) => m.keys.every((k) => k.binding === ms[0]!.keys.find((x) => x.id === k.id)!.binding && k.binding !== null))).toBe(true);
    expect(existsSync(join(dir, 'sealed', 'jwt-v2.age')) && existsSync(join(dir, 'sealed', 'jwt-refresh-salt-v2.age'))).toBe(true);
  }, 60_000);

  test('webhook: webhook-v2 made and sealed; dual-published in an hour, cut over a week later, webhook-v1 revoked a day after', async () => {
    const dir = join(work, 'c12');
    await run(script(TEMPLATES['webhook-rotation']!), dir, media('c12', { dir: chain.get(11)!, file: 'rotation.11.json' }));
    for (const n of [12, 13, 14, 15]) chain.set(n, dir);
    const ms = [12, 13, 14, 15].map((n) => manifestIn(dir, `rotation.${n}.json`));
    expect(ms.map((m) => [m.actor, m.keys.map((k) => [k.id, k.supersedes, k.phase])])).toEqual(['prepare', 'dual-publish', 'cutover', 'revoke'].map((p) => ['bob', [['webhook-v2', 'webhook-v1', p]]]));
    expect(ms.map((m) => (m.keys[0]!.notBefore - ms[0]!.issued) / 3600_000)).toEqual([0, 1, 1 + 7 * 24, 1 + 8 * 24]);
  }, 60_000);

  test('incident response, ten days later: the versions in use compromised at once, v3 made, sealed and brought in ten minutes later, superseding nothing', async () => {
    const dir = join(work, 'c16');
    const later = (): number => Date.now() + 10 * DAY;
    const r = await run(script(TEMPLATES['incident-response']!), dir, media('c16', { dir: chain.get(15)!, file: 'rotation.15.json' }), { now: later });
    for (const n of [16, 17, 18, 19]) chain.set(n, dir);
    expect(r.steps.map((x) => x.id)).toEqual(['custodian-set', 'compromise', 'make-webhook', 'make-jwt', 'make-jwt-refresh-salt', 'prepare-manifest', 'dual-publish-manifest', 'cutover-manifest']);
    const ms = [16, 17, 18, 19].map((n) => manifestIn(dir, `rotation.${n}.json`));
    expect(ms[0]!.keys.map((k) => [k.id, k.phase, k.notBefore])).toEqual([['webhook-v2', 'compromise', ms[0]!.issued], ['jwt-v2', 'compromise', ms[0]!.issued], ['jwt-refresh-salt-v2', 'compromise', ms[0]!.issued]]);
    expect(ms.slice(1).map((m) => m.keys.map((k) => [k.id, k.supersedes, k.phase]))).toEqual(['prepare', 'dual-publish', 'cutover'].map((p) => [['webhook-v3', null, p], ['jwt-v3', null, p], ['jwt-refresh-salt-v3', null, p]]));
    expect(new Set(ms.slice(1).flatMap((m) => m.keys.map((k) => k.notBefore)))).toEqual(new Set([ms[0]!.issued + 10 * 60_000]));
  }, 60_000);
});

describe('the deployment\'s chain, 1 to 19, with keyceremony state', () => {
  const V1 = (id: string) => ({ current: id, accept: [id], pending: [], retired: [], revoked: [], compromised: [], scheduled: [] });
  const state = (at: string): { valid: boolean; sequence: number; keys: unknown; reasons: string[] } => {
    const files = [...chain.keys()].sort((a, b) => a - b).map(file);
    const r = runCli(['state', '--custodians', join(work, 'c0', 'custodians.v1.json'), '--root-digest', rootDigest, '--manifests', ...files.reverse(), '--at', at, '--json'], process.env);
    return JSON.parse(r.stdout) as never;
  };

  test('one sequence across the ceremonies, each first manifest following the last of the ceremony before; no version moved the same way twice', () => {
    expect([...chain.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 19 }, (_, i) => i + 1));
    const ms = [...chain.keys()].sort((a, b) => a - b).map((n) => manifestIn(chain.get(n)!, `rotation.${n}.json`));
    ms.forEach((m, i) => expect([m.sequence, m.previous]).toEqual([i + 1, i === 0 ? null : ms[i - 1]!.digest]));
    const moves = ms.flatMap((m) => m.keys.map((k) => `${k.id} ${k.phase}`));
    expect(new Set(moves).size).toBe(moves.length);
  });

  test('the keys in use current: master-v2 accepted beside master-v1, the secrets\' v2 prepared', () => {
    const s = state(notBefore(3));
    expect(s).toMatchObject({ valid: true, sequence: 19, reasons: [] });
    expect(s.keys).toEqual({
      SECRET_KEY: V1('secret-key-v1'), REDIS_AUTH_TOKEN: V1('redis-auth-v1'), CELERY_BROKER_TOKEN: V1('celery-broker-v1'),
      MASTER_KEY: { current: 'master-v1', accept: ['master-v1', 'master-v2'], pending: [], retired: [], revoked: [], compromised: [], scheduled: ['master-v2'] },
      JWT_SIGNING_SECRET: { current: 'jwt-v1', accept: ['jwt-v1'], pending: ['jwt-v2'], retired: [], revoked: [], compromised: [], scheduled: ['jwt-v2', 'jwt-v3'] },
      JWT_REFRESH_SALT: { current: 'jwt-refresh-salt-v1', accept: ['jwt-refresh-salt-v1'], pending: ['jwt-refresh-salt-v2'], retired: [], revoked: [], compromised: [], scheduled: ['jwt-refresh-salt-v2', 'jwt-refresh-salt-v3'] },
      WEBHOOK_SIGNING_SECRET: { current: 'webhook-v1', accept: ['webhook-v1'], pending: ['webhook-v2'], retired: [], revoked: [], compromised: [], scheduled: ['webhook-v2', 'webhook-v3'] },
    });
  });

  test('when jwt-v1 is revoked: master-v2 and jwt-v2 current, their v1 revoked; webhook-v2 accepted beside webhook-v1', () => {
    const s = state(notBefore(11));
    expect(s).toMatchObject({ valid: true, reasons: [] });
    expect(s.keys).toEqual({
      SECRET_KEY: V1('secret-key-v1'), REDIS_AUTH_TOKEN: V1('redis-auth-v1'), CELERY_BROKER_TOKEN: V1('celery-broker-v1'),
      MASTER_KEY: { current: 'master-v2', accept: ['master-v2'], pending: [], retired: [], revoked: ['master-v1'], compromised: [], scheduled: [] },
      // the incident's compromise of v2, ten days on, is already signed: scheduled
      JWT_SIGNING_SECRET: { current: 'jwt-v2', accept: ['jwt-v2'], pending: [], retired: [], revoked: ['jwt-v1'], compromised: [], scheduled: ['jwt-v2', 'jwt-v3'] },
      JWT_REFRESH_SALT: { current: 'jwt-refresh-salt-v2', accept: ['jwt-refresh-salt-v2'], pending: [], retired: [], revoked: ['jwt-refresh-salt-v1'], compromised: [], scheduled: ['jwt-refresh-salt-v2', 'jwt-refresh-salt-v3'] },
      WEBHOOK_SIGNING_SECRET: { current: 'webhook-v1', accept: ['webhook-v1', 'webhook-v2'], pending: [], retired: [], revoked: [], compromised: [], scheduled: ['webhook-v2', 'webhook-v3'] },
    });
  });

  test('during the incident: the compromised versions never accepted, the names without a current version until v3 takes effect', () => {
    const s = state(notBefore(16));
    expect(s).toMatchObject({ valid: true, reasons: [] });
    expect(s.keys).toEqual({
      SECRET_KEY: V1('secret-key-v1'), REDIS_AUTH_TOKEN: V1('redis-auth-v1'), CELERY_BROKER_TOKEN: V1('celery-broker-v1'),
      MASTER_KEY: { current: 'master-v2', accept: ['master-v2'], pending: [], retired: [], revoked: ['master-v1'], compromised: [], scheduled: [] },
      JWT_SIGNING_SECRET: { current: null, accept: [], pending: [], retired: [], revoked: ['jwt-v1'], compromised: ['jwt-v2'], scheduled: ['jwt-v3'] },
      JWT_REFRESH_SALT: { current: null, accept: [], pending: [], retired: [], revoked: ['jwt-refresh-salt-v1'], compromised: ['jwt-refresh-salt-v2'], scheduled: ['jwt-refresh-salt-v3'] },
      WEBHOOK_SIGNING_SECRET: { current: null, accept: [], pending: [], retired: [], revoked: ['webhook-v1'], compromised: ['webhook-v2'], scheduled: ['webhook-v3'] },
    });
  });

  test('after the incident: v3 current, nothing scheduled', () => {
    const s = state(notBefore(19));
    expect(s).toMatchObject({ valid: true, reasons: [] });
    expect(s.keys).toEqual({
      SECRET_KEY: V1('secret-key-v1'), REDIS_AUTH_TOKEN: V1('redis-auth-v1'), CELERY_BROKER_TOKEN: V1('celery-broker-v1'),
      MASTER_KEY: { current: 'master-v2', accept: ['master-v2'], pending: [], retired: [], revoked: ['master-v1'], compromised: [], scheduled: [] },
      JWT_SIGNING_SECRET: { current: 'jwt-v3', accept: ['jwt-v3'], pending: [], retired: [], revoked: ['jwt-v1'], compromised: ['jwt-v2'], scheduled: [] },
      JWT_REFRESH_SALT: { current: 'jwt-refresh-salt-v3', accept: ['jwt-refresh-salt-v3'], pending: [], retired: [], revoked: ['jwt-refresh-salt-v1'], compromised: ['jwt-refresh-salt-v2'], scheduled: [] },
      WEBHOOK_SIGNING_SECRET: { current: 'webhook-v3', accept: ['webhook-v3'], pending: [], retired: [], revoked: ['webhook-v1'], compromised: ['webhook-v2'], scheduled: [] },
    });
  });

  test('the custody record kept apart: given with the key chain it is a second manifest 1, and the chain is refused', () => {
    const r = runCli(['state', '--custodians', join(work, 'c0', 'custodians.v1.json'), '--manifests', file(1), file(2), file(3), join(chain.get(4)!, 'custody', 'rotation.json'), file(4), '--json'], process.env);
    expect(r.status).toBe(1);
    expect((JSON.parse(r.stdout) as { reasons: string[] }).reasons.join(' ')).toMatch(/seq 1/);
  });
});

/** The media of a dual-publish ceremony of the quarter: the set and the prepare manifest, rotation.4. */
const prepared = (): string => media('dual-publish-again', { dir: chain.get(4)!, file: 'rotation.4.json' });

describe('the custodian set across ceremonies', () => {
  test('the custodian set rotates to 3-of-4: dave\'s key made on his card, signed by the 2-of-3 in force and the new 3-of-4', async () => {
    const dir = join(work, 'set-v2');
    await run(script(TEMPLATES['custodian-set-rotation']!), dir, join(work, 'c0'));
    const sets = verifyChain([read(dir, 'custodians.v1.json'), read(dir, 'custodians.v2.json')], { at: Date.now(), rootDigest }).chain!;
    expect(sets.newest).toMatchObject({ version: 2, threshold: 3 });
    expect(sets.newest.custodians.map((c) => c.id)).toEqual(people);
    const cp = parseCheckpoint(parseEnvelope(read(dir, 'audit.checkpoint.json')).payload);
    expect(cp.custodianSet).toBe(2);
    // the next manifest is approved by the new set, and a manifest under set 1 is now superseded
    const old = verifyDocument(read(chain.get(5)!, 'rotation.5.json'), [read(dir, 'custodians.v1.json'), read(dir, 'custodians.v2.json')], { at: Date.now() });
    expect(old.reasons.join(' ')).toContain('MANIFEST_SET_SUPERSEDED');
  }, 60_000);

  test('after the rotation, a later ceremony loads the two-version chain: signers below the new threshold are refused before anything is made; three of the four sign', async () => {
    const inputs = join(work, 'inputs-v2');
    mkdirSync(inputs);
    for (const f of ['custodians.v1.json', 'custodians.v2.json']) cpSync(join(work, 'set-v2', f), join(inputs, f));
    cpSync(file(4), join(inputs, 'rotation.4.json'));
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
    const v = runCli(['verify', join(three, 'rotation.5.json'), '--custodians', join(three, 'custodians.v1.json'), '--custodians', join(three, 'custodians.v2.json'), '--root-digest', rootDigest,
      '--previous', join(inputs, 'rotation.4.json'), '--json'], process.env);
    expect(JSON.parse(v.stdout)).toMatchObject({ valid: true, custodianSet: 2, threshold: 3, signers: ['alice', 'bob', 'dave'] });
  }, 60_000);

  test('refused with nothing written: a pinned root that is not the set\'s, a root the witness does not confirm, a card whose key is not the set\'s', async () => {
    const pinned = script(TEMPLATES['quarterly-master-dual-publish']!, (x) => { (x.steps[0] as { rootDigest?: string }).rootDigest = `sha256:${'0'.repeat(64)}`; });
    const d1 = join(work, 'bad-root');
    // checked with every other input before the first token operation: the ceremony does not even begin its log
    await expect(run(pinned, d1, prepared())).rejects.toMatchObject({ code: 'CEREMONY_INPUTS_INVALID', exit: 1, message: expect.stringContaining('CHAIN_ROOT_DIGEST_MISMATCH') });
    expect(existsSync(d1)).toBe(false);
    // every missing input is listed at once
    const d0 = join(work, 'no-inputs');
    const empty = mkdtempSync(join(tmpdir(), 'kc-empty-'));
    const missing = await run(script(TEMPLATES['quarterly-master-dual-publish']!), d0, empty).catch((e: unknown) => e as KeyceremonyError);
    expect(missing).toMatchObject({ code: 'CEREMONY_INPUTS_INVALID', exit: 2, message: expect.stringMatching(/2 input file\(s\).*custodians\.v1\.json.*rotation\.4\.json/) });
    expect(existsSync(d0)).toBe(false);
    // and the quarter's first ceremony, whose KMS wrapping keys are not there either, stops before its first key is made, naming each
    const full = parseScript(new TextEncoder().encode(JSON.stringify(TEMPLATES['quarterly-master-rotation'])));
    const exportStep = full.steps.find((x) => x.action === 'export');
    const noKeks = await runCeremony({ script: full, dir: d0, inputs: empty, tokens: new Map(), simulation: false, say: () => undefined, confirm: async () => true }).catch((e: unknown) => e as KeyceremonyError);
    expect(noKeks).toMatchObject({ code: 'CEREMONY_INPUTS_INVALID', message: expect.stringContaining(`${exportStep?.action === 'export' ? exportStep.targets.length + 2 : -1} input file(s)`) });
    expect(existsSync(d0)).toBe(false);
    rmSync(empty, { recursive: true });

    const d2 = join(work, 'unconfirmed');
    await expect(run(script(TEMPLATES['quarterly-master-dual-publish']!), d2, prepared(), { confirm: async (q) => !q.what.startsWith("the root set's digest") })).rejects.toMatchObject({ code: 'CEREMONY_WITNESS_REFUSED' });
    expect(existsSync(join(d2, 'rotation.5.json'))).toBe(false);

    // a folder that already holds another custodians.v1.json (say, from a different rotation) is refused before anything is done, and not overwritten
    const d4 = join(work, 'conflict');
    mkdirSync(d4);
    const other = join(work, 'other-inputs');
    mkdirSync(other);
    cpSync(file(4), join(other, 'rotation.4.json'));
    cpSync(join(work, 'c0', 'custodians.v1.json'), join(other, 'custodians.v1.json'));
    writeFileSync(join(d4, 'custodians.v1.json'), '{"not":"the set"}');
    await expect(run(script(TEMPLATES['quarterly-master-dual-publish']!), d4, other)).rejects.toMatchObject({ code: 'CEREMONY_FOLDER_UNEXPECTED' });
    expect(readFileSync(join(d4, 'custodians.v1.json'), 'utf8')).toBe('{"not":"the set"}');
    expect(existsSync(join(d4, 'rotation.5.json'))).toBe(false);

    // bob brings a card with another key on it
    const bob = cardTokens[1]!;
    await withSession(findToken(mod, { label: bob.label }), pinBytes(bob.pin), async (s) => {
      for (const h of s.findObjects([], 16)) s.api.C_DestroyObject(s.handle, h);
      await generateEd25519(s, { label: 'bob-sign-v1' });
    });
    const d3 = join(work, 'wrong-card');
    const err = await run(script(TEMPLATES['quarterly-master-dual-publish']!), d3, prepared()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KeyceremonyError);
    expect(err).toMatchObject({ code: 'CEREMONY_CARD_KEY_MISMATCH', message: expect.stringContaining('"custodian-bob"') });
    expect(existsSync(join(d3, 'custodians.v1.json')) || existsSync(join(d3, 'rotation.5.json'))).toBe(false);
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
      await runCeremony({ script: s, dir, inputs: prepared(), tokens: rehearsal.tokens, simulation: true, say: () => undefined, confirm: async () => true });
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
    const v = verifyDocument(read(dir, 'rotation.5.json'), [standIn], { at: Date.now(), previous: read(chain.get(4)!, 'rotation.4.json') });
    expect(v.reasons).toEqual([]);
    expect(readFileSync(join(dir, 'transcript.md'), 'utf8')).toContain('rehearsal stand-in');
  }, 60_000);
});
