/** Custodian-set rotation from the CLI: the next version, who must sign, and verification of the chain. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { runCli } from '../support/cli.js';
import { keyNamed } from '../support/independent.js';

let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'kc-set-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const people = ['alice', 'bob', 'carol', 'dave'] as const;
const keys = Object.fromEntries(people.map((p) => [p, keyNamed(p)]));
const seedFile = (p: string) => {
  const f = join(dir, `${p}.seed`);
  writeFileSync(f, keys[p]!.seed.toString('hex'));
  return f;
};
const sign = (file: string, who: string, out: string, chain?: string[]) =>
  runCli(['sign', file, '--software-key', seedFile(who), '--out', out, ...(chain ?? []).flatMap((c) => ['--custodians', c])], process.env);

test('rotate 2-of-3 to 3-of-3 replacing carol with dave: both thresholds must sign', () => {
  const v1u = join(dir, 'v1.unsigned.json');
  const r = runCli(['custodians', 'new', '--out', v1u, '--threshold', '2', ...['alice', 'bob', 'carol'].flatMap((p) => ['--member', `${p},${p} Example,${keys[p]!.pub.toString('hex')}`]), '--json'], process.env);
  expect(r.status).toBe(0);
  expect(JSON.parse(r.stdout)).toMatchObject({ version: 1, threshold: 2 });
  expect(sign(v1u, 'alice', join(dir, 'v1.a.json')).status).toBe(0);
  expect(sign(join(dir, 'v1.a.json'), 'bob', join(dir, 'v1.json')).status).toBe(0);
  const v1 = join(dir, 'v1.json');

  const v2u = join(dir, 'v2.unsigned.json');
  const n = runCli(['custodians', 'next', '--custodians', v1, '--out', v2u, '--remove', 'carol', '--add', `dave,Dave Example,${keys.dave!.pub.toString('hex')}`, '--threshold', '3'], process.env);
  expect(n.stderr).toBe('');
  expect(n.status).toBe(0);
  expect(n.stdout).toContain('still to sign: 2 of set version 1 (alice, bob, carol) and 3 of the new set (alice, bob, dave)');

  // dave and alice and bob sign: new threshold met (3) and old threshold met (alice, bob)
  expect(sign(v2u, 'dave', join(dir, 'v2.d.json'), [v1]).status).toBe(0);
  const st = runCli(['status', join(dir, 'v2.d.json'), '--custodians', v1, '--json'], process.env);
  expect(JSON.parse(st.stdout).approvals).toEqual([
    { set: 1, role: 'current set (rotation)', threshold: 2, signed: [], unsigned: ['alice', 'bob', 'carol'], needed: 2 },
    { set: 2, role: 'new set', threshold: 3, signed: ['dave'], unsigned: ['alice', 'bob'], needed: 2 },
  ]);
  expect(sign(join(dir, 'v2.d.json'), 'alice', join(dir, 'v2.da.json'), [v1]).status).toBe(0);
  const early = runCli(['verify', join(dir, 'v2.da.json'), '--custodians', v1, '--json'], process.env);
  expect(early.status).toBe(1);
  expect(JSON.parse(early.stdout).reasons.join()).toMatch(/THRESHOLD_PREVIOUS_NOT_MET.*THRESHOLD_NOT_MET|THRESHOLD_NOT_MET.*THRESHOLD_PREVIOUS_NOT_MET/);
  expect(sign(join(dir, 'v2.da.json'), 'bob', join(dir, 'v2.json'), [v1]).status).toBe(0);
  const ok = runCli(['verify', join(dir, 'v2.json'), '--custodians', v1, '--json'], process.env);
  expect(JSON.parse(ok.stdout)).toMatchObject({ valid: true, type: 'custodians', custodianSet: 2, threshold: 3, signers: ['dave', 'alice', 'bob'] });

  // carol, no longer a custodian, cannot sign for set 2; the chain v1 → v2 serves manifests
  const man = join(dir, 'm.json');
  expect(runCli(['manifest', 'new', '--out', man, '--custodians', v1, '--custodians', join(dir, 'v2.json'), '--ceremony', 'rot', '--actor', 'dave',
    '--key', 'name=JWT_SIGNING_SECRET,id=jwt-v5,algorithm=JWT-HS256,phase=cutover'], process.env).status).toBe(0);
  const refused = sign(man, 'carol', join(dir, 'm.c.json'), [v1, join(dir, 'v2.json')]);
  expect(refused.status).toBe(1);
  expect(refused.stderr).toContain('SIGNER_NOT_CUSTODIAN');
  const bad = runCli(['custodians', 'next', '--custodians', v1, '--out', join(dir, 'bad.json'), '--threshold', '0'], process.env);
  expect(bad.status).toBe(2);
  const over = runCli(['custodians', 'next', '--custodians', v1, '--out', join(dir, 'over.json'), '--threshold', '4'], process.env);
  expect(over.status).toBe(1);
  expect(over.stderr).toContain('CUSTODIANS_THRESHOLD_INVALID');
});
