/**
 * Issue 19: the release workflow builds each OS on its own runner (pkcs11js has no prebuilt
 * binaries and is not cross-compiled), with a Node that can launch Electron 45, and publishes
 * the installers' hashes. Parsed, not grepped.
 */
import { readFileSync } from 'node:fs';
import { load } from 'js-yaml';
import { expect, test } from 'vitest';

interface Step { readonly uses?: string; readonly run?: string; readonly with?: Record<string, unknown>; readonly if?: string }
interface Workflow { readonly on: Record<string, unknown>; readonly permissions: Record<string, string>; readonly jobs: Record<string, { 'runs-on': string; strategy: { matrix: { include: { os: string; dist: string }[] } }; steps: Step[] }> }

const wf = load(readFileSync(new URL('../../.github/workflows/release.yml', import.meta.url), 'utf8')) as Workflow;
const job = wf.jobs.build!;

test('one runner per OS, each building its own installers', () => {
  expect(job['runs-on']).toBe('${{ matrix.os }}');
  const include = job.strategy.matrix.include;
  expect(include.map((x) => x.os.split('-')[0])).toEqual(['ubuntu', 'macos', 'windows']);
  expect(include.map((x) => x.dist.split(' ')[0])).toEqual(['--linux', '--mac', '--win']);
});

test('Node able to launch Electron 45, npm ci building pkcs11js on the runner, tests before the installers, hashes published', () => {
  const node = job.steps.find((s) => s.uses?.startsWith('actions/setup-node'));
  expect(String(node?.with?.['node-version'])).toBe('22.12');
  const runs = job.steps.map((s) => s.run ?? '');
  const at = (p: RegExp): number => runs.findIndex((r) => p.test(r));
  expect(at(/^npm ci$/)).toBeGreaterThan(-1);
  expect(at(/^npm test$/)).toBeGreaterThan(at(/^npm ci$/));
  expect(at(/electron-builder/)).toBeGreaterThan(at(/^npm test$/));
  expect(runs.some((r) => r.includes('--publish never'))).toBe(true);
  expect(runs.some((r) => r.includes('SHA256SUMS'))).toBe(true);
  expect(wf.permissions).toEqual({ contents: 'read' });
});
