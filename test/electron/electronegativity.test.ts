/**
 * Issue 8: Doyensec's Electron security scanner over electron/, as CI runs it: no HIGH finding.
 * (It cannot see through function calls, so the window's security settings are spelled out at the
 * call site as well; the MEDIUM findings left are listed and justified in the README.)
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';

test('electronegativity finds nothing of high severity in electron/', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kc-eneg-'));
  try {
    const out = join(dir, 'findings.csv');
    const r = spawnSync(process.execPath, [join('node_modules', '@doyensec', 'electronegativity', 'dist', 'index.js'), '-i', 'electron', '-o', out, '-e', '45.5.0'], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status).toBe(0);
    const rows = readFileSync(out, 'utf8').trim().split('\n');
    expect(rows[0]).toMatch(/^issue, severity, confidence, filename/);
    const findings = rows.slice(1).map((l) => { const [issue, severity] = l.split(','); return { issue, severity: severity?.replace(/"/g, '') }; });
    expect(findings.filter((f) => f.severity === 'HIGH' || f.severity === 'CRITICAL')).toEqual([]);
    // the scanner did look at the windows: it reports the (accepted) middle-click check on each (the app window, the print window, the room's window)
    expect(findings.filter((f) => f.issue === 'AUXCLICK_JS_CHECK')).toHaveLength(3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 150_000);
