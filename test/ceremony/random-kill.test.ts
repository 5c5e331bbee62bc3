/**
 * Issue 8: kill -9 at seeded random points of the whole scripted ceremony (the demo), 50 runs.
 * A traced run counts every crash point the ceremony passes (audit appends, file writes and
 * renames, folder staging, export steps, step boundaries); each run is killed at a point drawn
 * from that range with a fixed seed, then `keyceremony demo --dir` resumes it. The test KMS keys
 * (inputs, not outputs of the ceremony) are made once and placed in each folder beforehand. Every resume must
 * reach the uninterrupted run's end state (the same files, signatures and token objects) and an
 * audit log that verifies. The seed is printed so a failure can be replayed.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { parseScript } from '../../src/ceremony/script.js';
import { templateText } from '../../src/ceremony/templates.js';
import { seedKeks, stateOf } from '../support/ceremony-state.js';
import type { State } from '../support/ceremony-state.js';
import { BIN, runCli } from '../support/cli.js';

const SEED = 20261128;
const RUNS = 50;
const PARALLEL = 2;
const script = parseScript(new TextEncoder().encode(templateText('quarterly-master-rotation')!));
let root: string;
let reference: State;
let points = 0;

/** mulberry32: a small seeded generator, so the runs are the same on every machine. */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function demo(dir: string, env: NodeJS.ProcessEnv): Promise<{ status: number | null; signal: string | null; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, 'demo', '--dir', dir], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (c: Buffer) => { stderr += c.toString('utf8'); });
    p.on('close', (status, signal) => resolve({ status, signal, stderr }));
  });
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'kc-random-kill-'));
  const dir = join(root, 'reference');
  const trace = join(root, 'trace');
  seedKeks(dir);
  const r = runCli(['demo', '--dir', dir], { ...process.env, KEYCEREMONY_CRASH_TRACE: trace });
  expect(r.status).toBe(0);
  points = readFileSync(trace, 'utf8').trim().split('\n').length;
  reference = stateOf(dir, script);
}, 120_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

test(`${RUNS} kills at seeded random points (seed ${SEED}), each resumed to the same end state`, async () => {
  expect(points).toBeGreaterThan(100);
  const random = generator(SEED);
  const at = Array.from({ length: RUNS }, () => 1 + Math.floor(random() * points));
  const failures: string[] = [];
  let killed = 0;
  const one = async (i: number): Promise<void> => {
    const dir = join(root, `run-${i}-at-${at[i]}`);
    seedKeks(dir);
    const first = await demo(dir, { ...process.env, KEYCEREMONY_CRASH_AT: String(at[i]) });
    if (first.signal === 'SIGKILL') killed++;
    else if (first.status !== 0) { failures.push(`run ${i} (point ${at[i]}): the first run failed: ${first.stderr.trim()}`); return; }
    const again = await demo(dir, process.env);
    if (again.status !== 0) { failures.push(`run ${i} (point ${at[i]}): the resume failed: ${again.stderr.trim()}`); return; }
    const s = stateOf(dir, script);
    for (const k of ['files', 'signatures', 'objects'] as const) {
      if (JSON.stringify(s[k]) !== JSON.stringify(reference[k])) failures.push(`run ${i} (point ${at[i]}): ${k} differ: ${JSON.stringify(s[k])}`);
    }
    if (!s.audit.valid || s.audit.status !== 0) failures.push(`run ${i} (point ${at[i]}): the audit log does not verify`);
    rmSync(dir, { recursive: true, force: true });
  };
  let next = 0;
  await Promise.all(Array.from({ length: PARALLEL }, async () => { while (next < RUNS) await one(next++); }));
  expect(failures).toEqual([]);
  expect(killed).toBeGreaterThanOrEqual(RUNS * 0.9); // the points drawn are reached: the kills did happen
}, 600_000);
