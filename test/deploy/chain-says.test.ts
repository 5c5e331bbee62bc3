/**
 * What the signed entries of a valid chain must say of a version before deploy surfaces it: one
 * algorithm, one binding, a key name that is wholly a delivered secret or wholly an HSM key, and
 * variables that no other name writes too. Each refusal comes before any sealed file is read.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { encrypt } from '../../src/age/age.js';
import { hexBytes, renderEnv, renderK8s } from '../../src/deploy/render.js';
import { ERROR_LINE } from '../support/cli.js';
import { tempDir } from '../age/support.js';
import { AT_DUAL, AT_PENDING, baseArgs, binding, day, deployCli, entry, IDENTITY_VAR, parseEnvFile, parseSecretYaml, scenario, secretEntry, storySteps } from './support.js';
import type { Scenario } from './support.js';

async function run(sc: Scenario, at: string, extra: string[] = []): Promise<{ status: number; code: string | undefined; parent: string; out: string; stdout: string }> {
  const parent = tempDir('kc-deploy-out-');
  const out = join(parent, 'app.env');
  const r = await deployCli([...baseArgs(sc, at), '--format', 'env', '--out', out, ...extra], { ...process.env, [IDENTITY_VAR]: sc.identity.text });
  if (r.status !== 0) {
    expect(r.stderr).toMatch(ERROR_LINE);
    expect(readdirSync(parent)).toEqual([]);
  }
  return { status: r.status, code: ERROR_LINE.exec(r.stderr)?.[1], parent, out, stdout: r.stdout };
}

describe('refused before any file is read', () => {
  test('two different bindings signed for one version: DEPLOY_BINDING_CONFLICT', async () => {
    const sc = scenario((s) => storySteps(s).map((st, i) => (i === 4 ? { keys: [{ ...secretEntry('dual-publish', 'webhook-v2', s), binding: binding(randomBytes(32), 'webhook-v2') }] } : st)));
    expect(await run(sc, AT_DUAL)).toMatchObject({ status: 1, code: 'DEPLOY_BINDING_CONFLICT' });
    expect(await run(sc, AT_PENDING)).toMatchObject({ status: 0 });
  });

  test('one version given two algorithms by its entries: DEPLOY_ENTRY_CONFLICT', async () => {
    const sc = scenario((s) => storySteps(s).map((st, i) => (i === 4 ? { keys: [{ ...secretEntry('dual-publish', 'webhook-v2', s), algorithm: 'TOKEN' }] } : st)));
    expect(await run(sc, AT_DUAL)).toMatchObject({ status: 1, code: 'DEPLOY_ENTRY_CONFLICT' });
  });

  test('a name surfacing a delivered secret beside an HSM key: DEPLOY_ALGORITHM_MIXED', async () => {
    const sc = scenario((s) => [...storySteps(s).slice(0, 3), { keys: [entry('prepare', 'jwt-v2', { algorithm: 'JWT-EdDSA' })] }, { keys: [entry('dual-publish', 'jwt-v2', { algorithm: 'JWT-EdDSA' })] }]);
    expect(await run(sc, day(5))).toMatchObject({ status: 1, code: 'DEPLOY_ALGORITHM_MIXED' });
    expect(await run(sc, day(4))).toMatchObject({ status: 0 });
  });

  test('a key whose variables another key writes (WEBHOOK_SIGNING_SECRET_ID as a key name): DEPLOY_NAME_COLLISION, unless deployed apart', async () => {
    const sc = scenario((s) => {
      const steps = storySteps(s);
      const extra = (phase: 'prepare' | 'dual-publish' | 'cutover') => entry(phase, 'clash-v1', { name: 'WEBHOOK_SIGNING_SECRET_ID', algorithm: 'TOKEN', ...(phase === 'prepare' ? { binding: binding(Buffer.alloc(8, 1), 'clash-v1') } : {}) });
      return steps.map((st, i) => (i === 0 ? { keys: [...st.keys, extra('prepare')] } : i === 1 ? { keys: [...st.keys, extra('dual-publish')] } : st));
    });
    expect(await run(sc, AT_DUAL)).toMatchObject({ status: 1, code: 'DEPLOY_NAME_COLLISION' });
    const apart = await run(sc, AT_DUAL, ['--key', 'WEBHOOK_SIGNING_SECRET']);
    expect(apart.status).toBe(0);
    expect(parseEnvFile(readFileSync(apart.out, 'utf8')).WEBHOOK_SIGNING_SECRET_ID).toBe('webhook-v1');
  });
});

describe('rendering', () => {
  test('a key named like a YAML 1.1 boolean stays a string: every scalar is quoted', async () => {
    const secret = randomBytes(16);
    const sc = scenario((s) => {
      const on = (phase: 'prepare' | 'dual-publish' | 'cutover') => entry(phase, 'on-v1', { name: 'ON', algorithm: 'TOKEN', ...(phase === 'prepare' ? { binding: binding(secret, 'on-v1') } : {}) });
      return storySteps(s).map((st, i) => (i < 3 ? { keys: [...st.keys, on(['prepare', 'dual-publish', 'cutover'][i] as 'prepare')] } : st));
    });
    writeFileSync(join(sc.secretsDir, 'on-v1.age'), encrypt(secret, [sc.identity.recipient]));
    const parent = tempDir('kc-deploy-out-');
    const out = join(parent, 'secret.yaml');
    const r = await deployCli([...baseArgs(sc, AT_DUAL), '--format', 'k8s', '--name', 'app', '--out', out], { ...process.env, [IDENTITY_VAR]: sc.identity.text });
    expect(r.status).toBe(0);
    const text = readFileSync(out, 'utf8');
    expect(text).toContain(`  "ON": "${Buffer.from(secret.toString('hex')).toString('base64')}"\n`);
    expect(parseSecretYaml(text).data.ON_ID?.toString()).toBe('on-v1');
  });

  test('hex is lowercase, two digits a byte; an empty deployment is a valid file of comments and an empty Secret', () => {
    expect(Buffer.from(hexBytes(Uint8Array.of(0, 1, 0xab, 0xff))).toString()).toBe('0001abff');
    const origin = { at: AT_DUAL, sequence: 1, tip: `sha256:${'a'.repeat(64)}` };
    expect(Buffer.from(renderEnv([], origin)).toString().split('\n').filter((l) => l !== '' && !l.startsWith('#'))).toEqual([]);
    expect(Buffer.from(renderK8s([], { name: 'app' }, origin)).toString()).toMatch(/\ntype: Opaque\ndata: \{\}\n$/);
    expect(() => renderK8s([], { name: 'App' }, origin)).toThrow(RangeError);
  });
});
