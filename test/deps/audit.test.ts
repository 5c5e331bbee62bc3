/**
 * Issue 8: `npm audit --omit=dev` runs in every test run. Where the advisory endpoint answers,
 * every advisory it reports against the production tree must be named (by its GHSA id) in the
 * README's dependency review, with its justification. Where it cannot be reached (on these
 * machines the registry mirror answers the bulk advisory endpoint with 405), the README's review
 * by hand must still cover every package of the production tree at the version installed, so it
 * goes stale the moment a dependency is added or bumped, and this test says so.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const npm = (args: string[]) => spawnSync('npm', args, { encoding: 'utf8', timeout: 60_000, cwd: new URL('../..', import.meta.url).pathname });

/** name → version of every installed package of the production tree (`npm ls --omit=dev --all`). */
function productionTree(): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (deps: Record<string, { version?: string; dependencies?: Record<string, unknown> }> | undefined): void => {
    for (const [name, d] of Object.entries(deps ?? {})) {
      if (d.version === undefined) continue; // an optional dependency for another platform
      out.set(name, d.version);
      walk(d.dependencies as Record<string, { version?: string }> | undefined);
    }
  };
  walk((JSON.parse(npm(['ls', '--omit=dev', '--all', '--json']).stdout) as { dependencies?: Record<string, { version?: string }> }).dependencies);
  return out;
}

/** The review table of the README: each backticked package with the version written after it. */
function reviewed(): Map<string, string> {
  const lines = readme.split('\n');
  const start = lines.findIndex((l) => l.includes('| package (exact pin) |'));
  expect(start).toBeGreaterThan(0);
  const out = new Map<string, string>();
  for (const row of lines.slice(start + 2)) {
    if (!row.trimStart().startsWith('|')) break;
    const cell = row.split('|')[1] ?? '';
    const names = [...cell.matchAll(/`([^`]+)`/g)];
    names.forEach((m) => {
      const version = /\d+\.\d+\.\d+/.exec(cell.slice((m.index ?? 0) + m[0].length))?.[0];
      if (version !== undefined) out.set(m[1] as string, version);
    });
  }
  return out;
}

describe('npm audit --omit=dev', () => {
  test('clean, or every finding justified in the README; unreachable, the README reviews every production package as installed', () => {
    const audit = npm(['audit', '--omit=dev', '--json', '--fetch-timeout=15000', '--fetch-retries=0']);
    const report = JSON.parse(audit.stdout || '{}') as { vulnerabilities?: Record<string, { via: (string | { url?: string })[] }>; statusCode?: number };
    if (report.vulnerabilities !== undefined) {
      const findings = Object.entries(report.vulnerabilities).flatMap(([name, v]) => v.via.filter((x) => typeof x === 'object').map((x) => ({ name, id: /GHSA-[\w-]+/.exec((x as { url?: string }).url ?? '')?.[0] ?? '?' })));
      expect(findings.filter((f) => !readme.includes(f.id))).toEqual([]);
      return;
    }
    // the advisory endpoint did not answer: the hand review must be complete and current
    expect(audit.status).not.toBe(0);
    expect(readme).toContain('`npm audit --omit=dev`** cannot run on these machines');
    const review = reviewed();
    const tree = productionTree();
    expect(tree.size).toBeGreaterThan(5);
    const missing = [...tree].filter(([name, version]) => review.get(name) !== version && !(name.startsWith('@esbuild/') && review.get('@esbuild/<platform>') === version));
    expect(missing).toEqual([]);
  }, 120_000);
});
