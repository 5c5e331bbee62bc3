/**
 * Shared by the hostile-input tests of issue 14: custodian sets and signed documents made with the
 * independent FORMATS.md implementation (test/support/independent.ts), a folder snapshot to show
 * that a refused command changed nothing, and the checks on what a command prints.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { CHECKPOINT_SPEC, CHECKPOINT_TYPE } from '../../src/audit/checkpoint.js';
import { formatEntry } from '../../src/audit/log.js';
import { ERROR_LINE, runCli } from '../support/cli.js';
import type { CliResult } from '../support/cli.js';
import { envelope, keyNamed, setPayload, TYPES } from '../support/independent.js';
import type { Key, RawEnvelope } from '../support/independent.js';

export { envelope, keyNamed, runCli, setPayload, TYPES };
export type { CliResult, Key, RawEnvelope };

export const K = Object.fromEntries(['alice', 'bob', 'carol', 'dave', 'eve', 'mallory'].map((n) => [n, keyNamed(n)])) as Record<'alice' | 'bob' | 'carol' | 'dave' | 'eve' | 'mallory', Key>;

export const members = (...ids: (keyof typeof K)[]): [string, Key][] => ids.map((id) => [id, K[id]]);

export function tempDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `kc-hostile-${name}-`));
}

/** Writes a document (an envelope object, JSON text or bytes) and returns its path. */
export function put(dir: string, name: string, doc: RawEnvelope | string | Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, doc instanceof Uint8Array || typeof doc === 'string' ? doc : JSON.stringify(doc));
  return path;
}

/** Every file under dir (relative path → SHA-256 and mode): equal snapshots mean nothing was created, changed or removed. */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rel of readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort()) {
    const p = join(dir, rel);
    const st = statSync(p);
    out[rel] = st.isDirectory() ? `dir ${st.mode.toString(8)}` : `${createHash('sha256').update(readFileSync(p)).digest('hex')} ${st.mode.toString(8)}`;
  }
  return out;
}

/** Runs the CLI and checks that nothing in `dir` changed. */
export function runUnchanged(dir: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): CliResult {
  const before = snapshot(dir);
  const r = runCli(args, env);
  expect(snapshot(dir)).toEqual(before);
  return r;
}

/** Exit 1 (never 3) with the CLI.md error line naming `code`. */
export function expectErrorLine(r: CliResult, code: string, exit: 1 | 2 = 1): void {
  expect([r.status, r.stderr.match(ERROR_LINE)?.[1]]).toEqual([exit, code]);
}

/**
 * What may not reach a terminal from a document: C0 controls other than the tool's own line end,
 * DEL, C1 controls, bidi controls, U+2028/U+2029 and lone surrogates.
 */
export const UNSAFE_OUTPUT = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]/u;

/** The codes of `CODE: …` lines (verify's reasons and warnings). */
export const codesOf = (lines: readonly string[]): string[] => lines.map((l) => l.split(':')[0] as string);

/** A custodian set envelope: version, threshold, members, validity, and who signs it. */
export function setDoc(version: number, threshold: number, who: [string, Key][], signers: Key[], issued = '2026-01-01T00:00:00Z', expires = '2036-01-01T00:00:00Z'): RawEnvelope {
  return envelope(TYPES.custodians, setPayload(version, threshold, who, issued, expires), signers);
}

export interface AuditEntryOver { readonly actor?: string; readonly details?: Record<string, string | number> }

/**
 * The text of an audit log in the writer's format: log.create, then `n - 1` key.generate entries
 * (entry i altered by `over(i)`), then, when `checkpoint`, a checkpoint of them all signed by
 * alice and bob for set version 1 (as setDoc(1, 2, alice, bob, carol) makes it). Entry hashes are
 * the writer's own (formatEntry), so what is tested is what the verifier reads, not how the log
 * was written; the checkpoint envelope is signed with the independent implementation.
 */
export function auditLogText(n: number, { checkpoint = true, over = () => ({}) }: { checkpoint?: boolean; over?: (i: number) => AuditEntryOver } = {}): string {
  const log = 'ab'.repeat(16);
  const time = '2026-11-28T10:00:00Z';
  const lines: string[] = [];
  let prev = `sha256:${'0'.repeat(64)}`;
  const add = (seq: number, actor: string, action: string, keys: string[], details: Record<string, string | number>): void => {
    const e = formatEntry({ seq, time, actor, action, keys, details, prev });
    lines.push(e.line);
    prev = e.hash;
  };
  add(1, 'admin', 'log.create', [], { log });
  for (let i = 2; i <= n; i++) {
    const o = over(i);
    add(i, o.actor ?? ['alice', 'bob', 'carol'][i % 3] as string, 'key.generate', [`webhook-v${i}`], o.details ?? { kcv: 'abcdef', step: i, token: 'Ceremony HSM' });
  }
  if (checkpoint) {
    const payload = Buffer.from(JSON.stringify({ spec: CHECKPOINT_SPEC, log, seq: n, head: prev, custodianSet: 1, time: '2026-11-28T11:00:00Z' }));
    add(n + 1, 'admin', 'checkpoint', [], { envelope: JSON.stringify(envelope(CHECKPOINT_TYPE, payload, [K.alice, K.bob])), custodianSet: 1 });
  }
  return lines.map((l) => `${l}\n`).join('');
}
