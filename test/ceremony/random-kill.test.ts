/**
 * Issue 8: kill -9 at seeded random points of the whole scripted ceremony (the demo), 50 runs.
 * A traced run lists every crash point the ceremony passes (audit appends, file writes and
 * renames, folder staging, export steps, step boundaries); each run is killed at a point drawn
 * with a fixed seed, then `keyceremony demo --dir` resumes it. The draws are stratified: one at
 * random inside each step of the script (and inside the opening before the first and the closing
 * after the last), so that no step kind goes uncut however long the script grows, then the rest at
 * random over the whole run. The test KMS keys (inputs, not outputs of the ceremony) are made once
 * and placed in each folder beforehand. Every resume must reach the uninterrupted run's end state
 * (the same files, signatures, token objects and sealed secrets) and an audit log that verifies.
 * The seed is printed so a failure can be replayed.
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { DEMO_TEMPLATE } from '../../src/ceremony/demo.js';
import { parseScript } from '../../src/ceremony/script.js';
import { templateText } from '../../src/ceremony/templates.js';
import { scratchFolder, seedKeks, stateOf } from '../support/ceremony-state.js';
import type { State } from '../support/ceremony-state.js';
import { BIN, runCli } from '../support/cli.js';

const SEED = 20261128;
const RUNS = 50;
const PARALLEL = 2;
const script = parseScript(new TextEncoder().encode(templateText(DEMO_TEMPLATE)!));
const STEPS = script.steps.map((s) => s.id);
let root: string;
let reference: State;
/** The crash points of an uninterrupted run, in the order it passes them. */
let trace: string[] = [];

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

/**
 * The part of the run each point falls in: the step under way (from its begin to the next step's
 * begin, its step.done included), 'opening' before the first step (the demo's inputs written, the
 * journal begun), 'closing' after the last step is performed (its step.done, the checkpoint, the
 * transcript).
 */
function segments(names: readonly string[]): string[] {
  let at = 'opening';
  return names.map((n) => {
    const begun = /^step:(.+):begin$/.exec(n)?.[1];
    if (begun !== undefined) at = begun;
    const here = at;
    if (n === `step:${STEPS.at(-1) as string}:performed`) at = 'closing';
    return here;
  });
}

/** The points (1-based, as KEYCEREMONY_CRASH_AT counts) to kill at: one drawn inside each segment, the rest over the whole run. */
function draw(seg: readonly string[], runs: number, random: () => number): number[] {
  const at = [...new Set(seg)].map((s) => {
    const inside = seg.flatMap((x, i) => (x === s ? [i + 1] : []));
    return inside[Math.floor(random() * inside.length)] as number;
  });
  while (at.length < runs) at.push(1 + Math.floor(random() * seg.length));
  return at;
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
  root = scratchFolder('kc-random-kill-');
  const dir = join(root, 'reference');
  seedKeks(dir);
  const r = runCli(['demo', '--dir', dir], { ...process.env, KEYCEREMONY_CRASH_TRACE: join(root, 'trace') });
  expect(r.status).toBe(0);
  trace = readFileSync(join(root, 'trace'), 'utf8').trim().split('\n');
  reference = stateOf(dir, script);
}, 120_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

test(`${RUNS} kills at seeded random points (seed ${SEED}), each resumed to the same end state`, async () => {
  expect(trace.length).toBeGreaterThan(100);
  const seg = segments(trace);
  expect([...new Set(seg)]).toEqual(['opening', ...STEPS, 'closing']); // every step of the script passes crash points of its own
  const at = draw(seg, RUNS, generator(SEED));
  expect(new Set(at.map((p) => seg[p - 1])).size).toBe(STEPS.length + 2);
  const failures: string[] = [];
  let killed = 0;
  const one = async (i: number): Promise<void> => {
    const where = `run ${i} (point ${at[i]}, ${trace[(at[i] as number) - 1]} in ${seg[(at[i] as number) - 1]})`;
    const dir = join(root, `run-${i}-at-${at[i]}`);
    seedKeks(dir);
    const first = await demo(dir, { ...process.env, KEYCEREMONY_CRASH_AT: String(at[i]) });
    if (first.signal === 'SIGKILL') killed++;
    else if (first.status !== 0) { failures.push(`${where}: the first run failed: ${first.stderr.trim()}`); return; }
    const again = await demo(dir, process.env);
    if (again.status !== 0) { failures.push(`${where}: the resume failed: ${again.stderr.trim()}`); return; }
    const s = stateOf(dir, script);
    for (const k of ['files', 'signatures', 'objects', 'sealed'] as const) {
      if (JSON.stringify(s[k]) !== JSON.stringify(reference[k])) failures.push(`${where}: ${k} differ: ${JSON.stringify(s[k])}`);
    }
    if (!s.audit.valid || s.audit.status !== 0) failures.push(`${where}: the audit log does not verify`);
    rmSync(dir, { recursive: true, force: true });
  };
  let next = 0;
  await Promise.all(Array.from({ length: PARALLEL }, async () => { while (next < RUNS) await one(next++); }));
  expect(failures).toEqual([]);
  expect(killed).toBeGreaterThanOrEqual(RUNS * 0.9); // the points drawn are reached: the kills did happen
}, 600_000);
