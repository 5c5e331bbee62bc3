/**
 * Security review of `keyceremony deploy`:
 * 1. a T before the chain's last manifest was issued is refused (DEPLOY_AT_BEFORE_TIP), and a
 *    version any manifest compromises is never surfaced (DEPLOY_VERSION_WITHDRAWN), while a
 *    rotation the chain schedules for later still deploys "now";
 * 2. --force replaces only a folder deploy wrote: its marker file and the chain's variables only;
 * 3. beside the output folder, only deploy's own leftovers (exact names) are removed.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { isLeftover, MARKER_FILE } from '../../src/deploy/output.js';
import { ERROR_LINE } from '../support/cli.js';
import { tempDir } from '../age/support.js';
import { AT_DUAL, AT_REVOKED, baseArgs, day, deployCli, IDENTITY_VAR, parseEnvFile, scenario, secretEntry, storySteps } from './support.js';
import type { Result, Scenario } from './support.js';

const envOf = (s: Scenario): NodeJS.ProcessEnv => ({ ...process.env, [IDENTITY_VAR]: s.identity.text });
const codeOf = (r: Result): string | undefined => ERROR_LINE.exec(r.stderr)?.[1];

describe('1. a past T does not bring back what the chain withdrew', () => {
  // the reproduction's chain: the story, then manifest 8 (issued day 8) compromises webhook-v2
  let sc: Scenario;
  beforeAll(() => {
    sc = scenario((s) => [...storySteps(s), { keys: [secretEntry('compromise', 'webhook-v2', s, false)] }]);
  });

  test('--at before the tip was issued: DEPLOY_AT_BEFORE_TIP, exit 1, nothing written (webhook-v2 is current then, but compromised since)', async () => {
    for (const at of [day(7), AT_DUAL, '2026-11-08T23:59:59Z']) {
      const parent = tempDir('kc-deploy-out-');
      for (const format of ['env', 'files', 'k8s']) {
        const r = await deployCli([...baseArgs(sc, at, { manifestFiles: sc.manifestFiles }), '--format', format, '--name', 'app', '--out', join(parent, format)].filter((a, i, all) => format === 'k8s' || (a !== '--name' && all[i - 1] !== '--name')), envOf(sc));
        expect(codeOf(r)).toBe('DEPLOY_AT_BEFORE_TIP');
        expect(r.status).toBe(1);
        expect(r.stdout).toBe('');
        expect(r.stderr).not.toContain(sc.secrets['webhook-v2'].toString('hex'));
      }
      expect(readdirSync(parent)).toEqual([]);
    }
  });

  test('at or after the tip: the compromised version is not surfaced', async () => {
    const parent = tempDir('kc-deploy-out-');
    const r = await deployCli([...baseArgs(sc, day(8), { manifestFiles: sc.manifestFiles }), '--format', 'env', '--out', join(parent, 'app.env'), '--json'], envOf(sc));
    expect(r.status).toBe(0);
    const vars = parseEnvFile(readFileSync(join(parent, 'app.env'), 'utf8'));
    expect(Object.keys(vars).filter((k) => k.startsWith('WEBHOOK'))).toEqual([]);
    expect(JSON.stringify(vars)).not.toContain(sc.secrets['webhook-v2'].toString('hex'));
  });

  test('a compromise whose notBefore is after T still withholds the version: DEPLOY_VERSION_WITHDRAWN', async () => {
    const late = scenario((s) => [...storySteps(s), { keys: [{ ...secretEntry('compromise', 'webhook-v2', s, false), notBefore: day(12) }] }]);
    const parent = tempDir('kc-deploy-out-');
    const r = await deployCli([...baseArgs(late, day(9)), '--format', 'env', '--out', join(parent, 'app.env')], envOf(late));
    expect(codeOf(r)).toBe('DEPLOY_VERSION_WITHDRAWN');
    expect(r.status).toBe(1);
    expect(readdirSync(parent)).toEqual([]);
    // the other names are not to blame, but deploy writes all or nothing; without the name, it deploys
    const apart = await deployCli([...baseArgs(late, day(9)), '--format', 'env', '--out', join(parent, 'app.env'), '--key', 'JWT_SIGNING_SECRET'], envOf(late));
    expect(apart.status).toBe(0);
  });

  test('"now" with a rotation scheduled for later (cutover and revoke signed together): deploys the current version, then the next one', async () => {
    // manifest 6 (day 6) schedules the cutover for day 8, manifest 7 (day 7) the revoke of webhook-v1 for day 9
    const planned = scenario((s) => [...storySteps(s).slice(0, 5),
      { keys: [{ ...secretEntry('cutover', 'webhook-v2', s), notBefore: day(8) }] },
      { keys: [{ ...secretEntry('revoke', 'webhook-v2', s), notBefore: day(9) }] }]);
    const parent = tempDir('kc-deploy-out-');
    // refusing every version some manifest revokes would refuse webhook-v1 here, though it is current until day 8
    const now = await deployCli([...baseArgs(planned, day(7)), '--format', 'env', '--out', join(parent, 'now.env')], envOf(planned));
    expect(now.status).toBe(0);
    const vars = parseEnvFile(readFileSync(join(parent, 'now.env'), 'utf8'));
    expect([vars.WEBHOOK_SIGNING_SECRET_ID, vars.WEBHOOK_SIGNING_SECRET_NEXT_ID]).toEqual(['webhook-v1', 'webhook-v2']);
    const later = await deployCli([...baseArgs(planned, day(10)), '--format', 'env', '--out', join(parent, 'later.env')], envOf(planned));
    expect(later.status).toBe(0);
    expect(parseEnvFile(readFileSync(join(parent, 'later.env'), 'utf8')).WEBHOOK_SIGNING_SECRET_ID).toBe('webhook-v2');
  });
});

describe('2 and 3. the files format replaces only what deploy wrote', () => {
  let sc: Scenario;
  beforeAll(() => {
    sc = scenario();
  });
  const files = (out: string, more: string[] = []) => [...baseArgs(sc, AT_REVOKED), '--format', 'files', '--out', out, ...more];

  test('a folder of LICENSE and README: --force refuses it (DEPLOY_OUTPUT_FOREIGN), the files untouched', async () => {
    const parent = tempDir('kc-deploy-out-');
    const proj = join(parent, 'proj');
    mkdirSync(proj);
    writeFileSync(join(proj, 'LICENSE'), 'x');
    writeFileSync(join(proj, 'README'), 'y');
    const r = await deployCli(files(proj, ['--force']), envOf(sc));
    expect(codeOf(r)).toBe('DEPLOY_OUTPUT_FOREIGN');
    expect(r.status).toBe(1);
    expect(readdirSync(parent)).toEqual(['proj']);
    expect(readdirSync(proj)).toEqual(['LICENSE', 'README']);
    expect(readFileSync(join(proj, 'LICENSE'), 'utf8')).toBe('x');
  });

  test('the chain\'s variable names without the marker, or the marker beside another name or a folder: refused', async () => {
    const cases: [string, (d: string) => void][] = [
      ['variables, no marker', (d) => writeFileSync(join(d, 'WEBHOOK_SIGNING_SECRET'), 'old')],
      ['marker and LICENSE', (d) => { writeFileSync(join(d, MARKER_FILE), ''); writeFileSync(join(d, 'LICENSE'), 'x'); }],
      ['marker and a variable-like name the chain does not have', (d) => { writeFileSync(join(d, MARKER_FILE), ''); writeFileSync(join(d, 'OTHER_SECRET'), 'x'); }],
      ['marker and a folder named as a variable', (d) => { writeFileSync(join(d, MARKER_FILE), ''); mkdirSync(join(d, 'REDIS_AUTH_TOKEN')); }],
      ['the marker a folder', (d) => { mkdirSync(join(d, MARKER_FILE)); writeFileSync(join(d, 'REDIS_AUTH_TOKEN'), 'x'); }],
    ];
    for (const [what, make] of cases) {
      const parent = tempDir('kc-deploy-out-');
      const out = join(parent, 'secrets');
      mkdirSync(out);
      make(out);
      const before = readdirSync(out);
      const r = await deployCli(files(out, ['--force']), envOf(sc));
      expect(codeOf(r), what).toBe('DEPLOY_OUTPUT_FOREIGN');
      expect(readdirSync(out), what).toEqual(before);
      expect(readdirSync(parent), what).toEqual(['secrets']);
    }
  });

  test('a folder deploy wrote (even for fewer keys, --key) is replaced whole with --force', async () => {
    const parent = tempDir('kc-deploy-out-');
    const out = join(parent, 'secrets');
    expect((await deployCli([...baseArgs(sc, AT_DUAL), '--format', 'files', '--out', out, '--key', 'REDIS_AUTH_TOKEN'], envOf(sc))).status).toBe(0);
    expect(readdirSync(out)).toEqual([MARKER_FILE, 'REDIS_AUTH_TOKEN', 'REDIS_AUTH_TOKEN_ID']);
    const r = await deployCli(files(out, ['--force']), envOf(sc));
    expect(r.status).toBe(0);
    expect(readdirSync(out)).toEqual([MARKER_FILE, 'JWT_SIGNING_SECRET', 'JWT_SIGNING_SECRET_ID', 'REDIS_AUTH_TOKEN', 'REDIS_AUTH_TOKEN_ID', 'WEBHOOK_SIGNING_SECRET', 'WEBHOOK_SIGNING_SECRET_ID']);
    expect(readdirSync(parent)).toEqual(['secrets']);
  });

  test('beside the folder, only deploy\'s own leftovers of this folder are removed; a user\'s .app.old-archive stays', async () => {
    const parent = tempDir('kc-deploy-out-');
    const app = join(parent, 'app');
    expect((await deployCli(files(app), envOf(sc))).status).toBe(0);
    const tag = '0123456789ab';
    const ours = [`.app.old-${tag}`, `.app.new-${tag}`, `..app.new-${tag}.staging-${tag}`];
    const theirs = ['.app.old-archive', '.app.new-mine', '.app.staging-mine', `.app.old-${tag.toUpperCase()}`, `.app.old-${tag}0`, `.app.old-${tag}.bak`, `.other.old-${tag}`, `.app.old-${tag.slice(1)}`, `..app.new-${tag}.staging-x`];
    for (const n of [...ours, ...theirs]) {
      mkdirSync(join(parent, n));
      writeFileSync(join(parent, n, 'keep'), 'keep');
    }
    writeFileSync(join(parent, `.app.old-${'f'.repeat(12)}`), 'a file, not a folder: kept');
    const r = await deployCli(files(app, ['--force']), envOf(sc));
    expect(r.status).toBe(0);
    for (const n of ours) expect(existsSync(join(parent, n)), n).toBe(false);
    for (const n of theirs) expect(readFileSync(join(parent, n, 'keep'), 'utf8'), n).toBe('keep');
    expect(existsSync(join(parent, `.app.old-${'f'.repeat(12)}`))).toBe(true);
    expect(readdirSync(parent).sort()).toEqual(['app', `.app.old-${'f'.repeat(12)}`, ...theirs].sort());
  });

  test('isLeftover: exactly .NAME.new-<12 hex>, .NAME.old-<12 hex> and ..NAME.new-<12 hex>.staging-<12 hex>', () => {
    const t = 'abcdef012345';
    for (const n of [`.app.new-${t}`, `.app.old-${t}`, `..app.new-${t}.staging-${t}`]) expect(isLeftover(n, 'app'), n).toBe(true);
    for (const n of ['.app.old-archive', `.app.old-${t}x`, `.app.old-${t.toUpperCase()}`, `.app.staging-${t}`, `.app.x.old-${t}`, `..app.new-${t}.staging-${t}x`, `..app.old-${t}.staging-${t}`, `.ap.old-${t}`, 'app', `.app.old-`]) {
      expect(isLeftover(n, 'app'), n).toBe(false);
    }
    expect(isLeftover(`.a.b.old-${t}`, 'a')).toBe(false);
    expect(isLeftover(`.a.b.old-${t}`, 'a.b')).toBe(true);
  });
});
