/**
 * Adversarial review of issue 17's manifest step: a manifest that follows the chain's last one must
 * be one that `keyceremony state` (FORMATS.md §8) accepts with it. Run on SoftHSM2 tokens from the
 * templates: the chain begun by keys-in-use, then later ceremonies that load its set from the media.
 * Refused before anything is signed: a manifest issued before the one it follows (a ceremony laptop
 * whose clock is behind: §8 rule 2, `issued` never decreases), and a version the previous manifest
 * binds to one secret approved again with another (a secret made again in a later ceremony:
 * `deploy` would meet two bindings for one version).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCeremony } from '../../src/ceremony/engine.js';
import type { ResolvedToken } from '../../src/ceremony/engine.js';
import { parseScript } from '../../src/ceremony/script.js';
import type { CeremonyScript } from '../../src/ceremony/script.js';
import { checkFollows } from '../../src/ceremony/steps/manifest.js';
import { TEMPLATES } from '../../src/ceremony/templates.js';
import { parseCustodianSet } from '../../src/custodians/set.js';
import { parseEnvelope } from '../../src/dsse/envelope.js';
import { KeyceremonyError } from '../../src/errors.js';
import { parseManifest } from '../../src/manifest/manifest.js';
import { Pkcs11Module } from '../../src/pkcs11/module.js';
import { findToken } from '../../src/pkcs11/tokens.js';
import { runCli } from '../support/cli.js';
import { createSoftHsm, pinBytes } from '../support/softhsm.js';
import type { SoftHsm } from '../support/softhsm.js';
import { placeMedia } from '../support/ceremony-media.js';

const cardTokens = ['alice', 'bob', 'carol'].map((id, i) => ({ name: `card-${id}`, label: `custodian-${id}`, pin: `${i + 1}`.repeat(4), soPin: '12345678' }));
const hsmToken = { name: 'hsm', label: 'Ceremony HSM', pin: '99998888', soPin: '12345678' };
const H = 3600_000;
let hsm: SoftHsm;
let mod: Pkcs11Module;
let work: string;
let rootDigest: string;
let recipients: string;
let t0: number;

const script = (o: object): CeremonyScript => parseScript(new TextEncoder().encode(JSON.stringify(o, null, 2)));
const tokens = (s: CeremonyScript): Map<string, ResolvedToken> => new Map(s.tokens.map((t) => {
  const def = [...cardTokens, hsmToken].find((x) => x.label === t.label)!;
  return [t.name, { token: findToken(mod, { label: t.label }), pin: pinBytes(def.pin) }];
}));
const run = (s: CeremonyScript, dir: string, inputs: string, now: () => number) => runCeremony({
  script: s, dir, inputs, tokens: tokens(s), simulation: false, say: () => undefined, now,
  env: { ...process.env, KEYCEREMONY_REMOVABLE_ROOTS: work }, confirm: async () => true,
});
const manifestIn = (dir: string, f: string) => parseManifest(parseEnvelope(new Uint8Array(readFileSync(join(dir, f)))).payload);

/** The ceremony media: the set, the chain's last manifest, the deployment's recipients. */
function media(name: string, previous: { dir: string; file: string }): string {
  return placeMedia(join(work, `inputs-${name}`), { set: join(work, 'c0', 'custodians.v1.json'), previous: join(previous.dir, previous.file), recipients });
}

/** A later ceremony of the deployment: the set loaded, webhook-v2 made and sealed (when `make`), one manifest of it following rotation.(n-1). */
function webhookCeremony(id: string, phase: string, n: number, make: boolean, notBefore?: string): CeremonyScript {
  const t = JSON.parse(JSON.stringify(TEMPLATES['webhook-rotation'])) as { id: string; steps: { action: string }[] };
  const [load, secret] = t.steps as [object, object];
  return script({ ...t, id, steps: [load, ...(make ? [secret] : []),
    { id: `${phase}-manifest`, action: 'manifest', actor: 'bob', keyVersion: 2, phase, keys: ['WEBHOOK_SIGNING_SECRET'], previous: `rotation.${n - 1}.json`, signers: ['alice', 'bob'], out: `rotation.${n}.json`, ...(notBefore === undefined ? {} : { notBefore }) }] });
}

beforeAll(async () => {
  hsm = createSoftHsm([hsmToken, ...cardTokens]);
  mod = Pkcs11Module.open(hsm.module);
  work = mkdtempSync(join(tmpdir(), 'kc-follows-'));
  recipients = execFileSync('age-keygen', ['-y'], { input: execFileSync('age-keygen', [], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }), encoding: 'utf8' }).trim();
  t0 = Math.floor(Date.now() / 1000) * 1000;
  const c0 = join(work, 'c0');
  await run(script(TEMPLATES['keys-in-use']!), c0, c0, () => t0);
  rootDigest = parseCustodianSet(parseEnvelope(new Uint8Array(readFileSync(join(c0, 'custodians.v1.json')))).payload).digest;
}, 120_000);
afterAll(() => {
  mod.close();
  hsm.cleanup();
  rmSync(work, { recursive: true, force: true });
});

const refusal = async (p: Promise<unknown>): Promise<string | undefined> => {
  try { await p; } catch (e) { if (e instanceof KeyceremonyError) return e.code; throw e; }
  return undefined;
};

describe('a manifest follows the chain\'s last one only as FORMATS.md §8 allows', () => {
  test('a ceremony whose clock is behind the previous manifest\'s issue time signs nothing (§8: issued never decreases)', async () => {
    const c4 = join(work, 'c4-early');
    await run(webhookCeremony('2026-webhook-prepare-early', 'prepare', 4, false), c4, media('c4-early', { dir: join(work, 'c0'), file: 'rotation.3.json' }), () => t0 + 2 * H);
    const dir = join(work, 'behind');
    // the next ceremony's laptop is an hour behind: after the set was issued, before rotation.4 was
    const code = await refusal(run(webhookCeremony('2026-behind', 'dual-publish', 5, false, 'PT0S'), dir, media('behind', { dir: c4, file: 'rotation.4.json' }), () => t0 + H));
    const signed = existsSync(join(dir, 'rotation.5.json'));
    if (signed) {
      // what the deployment then meets: the chain refused whatever the time
      const s = runCli(['state', '--custodians', join(work, 'c0', 'custodians.v1.json'), '--root-digest', rootDigest, '--manifests', ...[1, 2, 3].map((n) => join(work, 'c0', `rotation.${n}.json`)),
        join(c4, 'rotation.4.json'), join(dir, 'rotation.5.json'), '--json'], process.env);
      expect(JSON.parse(s.stdout)).toMatchObject({ valid: true });
    }
    expect([code, signed]).toEqual(['CEREMONY_ISSUED_BACKWARDS', false]);
  }, 60_000);

  test('a version the previous manifest binds is never approved with another secret (made again in a later ceremony)', async () => {
    const c4 = join(work, 'c4');
    await run(webhookCeremony('2026-webhook-prepare', 'prepare', 4, true), c4, media('c4', { dir: join(work, 'c0'), file: 'rotation.3.json' }), () => t0 + H);
    const bound = manifestIn(c4, 'rotation.4.json').keys[0]!.binding;
    expect(bound).toMatch(/^hmac-sha256:/);
    const c5 = join(work, 'c5');
    const code = await refusal(run(webhookCeremony('2026-webhook-dual', 'dual-publish', 5, true, 'PT0S'), c5, media('c5', { dir: c4, file: 'rotation.4.json' }), () => t0 + 2 * H));
    const signed = existsSync(join(c5, 'rotation.5.json'));
    if (signed) expect(manifestIn(c5, 'rotation.5.json').keys[0]!.binding).toBe(bound);
    expect([code, signed]).toEqual(['CEREMONY_VERSION_REMADE', false]);
    // the same ceremony without making it again: the dual-publish follows, and the chain is valid
    const c5b = join(work, 'c5b');
    await run(webhookCeremony('2026-webhook-dual-b', 'dual-publish', 5, false, 'PT0S'), c5b, media('c5b', { dir: c4, file: 'rotation.4.json' }), () => t0 + 2 * H);
    const s = runCli(['state', '--custodians', join(work, 'c0', 'custodians.v1.json'), '--root-digest', rootDigest, '--manifests', ...[1, 2, 3].map((n) => join(work, 'c0', `rotation.${n}.json`)),
      join(c4, 'rotation.4.json'), join(c5b, 'rotation.5.json'), '--at', new Date(t0 + 3 * H).toISOString(), '--json'], process.env);
    expect(JSON.parse(s.stdout)).toMatchObject({ valid: true, sequence: 5, keys: { WEBHOOK_SIGNING_SECRET: { current: 'webhook-v1', accept: ['webhook-v1', 'webhook-v2'] } } });
  }, 90_000);
});

describe('checkFollows, the rules of §8 rule 2 the step checks against the previous manifest', () => {
  const step = { id: 'm', previous: 'rotation.4.json' } as Parameters<typeof checkFollows>[0];
  const prior = { issued: 1_000_000, custodianSet: 2, keys: [{ id: 'webhook-v2', kcv: 'abcdef', binding: `hmac-sha256:${'ab'.repeat(32)}` }] } as unknown as Parameters<typeof checkFollows>[4];
  const code = (f: () => void): string | undefined => { try { f(); } catch (e) { return (e as KeyceremonyError).code; } return undefined; };
  test('a set older than the one the previous manifest names is refused; the same set, a newer one, the same second, a later version\'s entry without binding pass', () => {
    expect(code(() => checkFollows(step, [], 1_000_000, 1, prior))).toBe('CEREMONY_SET_BACKWARDS');
    expect(code(() => checkFollows(step, [], 999_000, 2, prior))).toBe('CEREMONY_ISSUED_BACKWARDS');
    expect(code(() => checkFollows(step, [{ id: 'webhook-v2', kcv: null }], 1_000_000, 2, prior))).toBeUndefined();
    expect(code(() => checkFollows(step, [{ id: 'webhook-v2', kcv: 'abcdef', binding: `hmac-sha256:${'ab'.repeat(32)}` }], 1_000_000, 3, prior))).toBeUndefined();
    expect(code(() => checkFollows(step, [{ id: 'webhook-v2', kcv: '000000' }], 1_000_000, 2, prior))).toBe('CEREMONY_VERSION_REMADE');
  });
});
