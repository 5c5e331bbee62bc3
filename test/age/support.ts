/**
 * The Debian `age` and `age-keygen` commands (the reference implementation, installed by .ci/run),
 * run on files in a temporary folder: what interoperability is measured against.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Run { status: number | null; stdout: Buffer; stderr: string }

export function run(cmd: string, args: readonly string[], input?: Uint8Array): Run {
  const r = spawnSync(cmd, args, { input: input ?? new Uint8Array(0), timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
  if (r.error !== undefined) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString('utf8') };
}

export const tempDir = (prefix: string): string => mkdtempSync(join(tmpdir(), prefix));

/** A new identity file made by age-keygen: its path, its text and its recipient. */
export function keygen(dir: string, name: string): { path: string; text: string; recipient: string } {
  const path = join(dir, name);
  const r = run('age-keygen', ['-o', path]);
  if (r.status !== 0) throw new Error(`age-keygen failed: ${r.stderr}`);
  const text = readFileSync(path, 'utf8');
  const recipient = (/^# public key: (age1[0-9a-z]+)$/m.exec(text) as RegExpExecArray)[1] as string;
  return { path, text, recipient };
}

/** `age -r R… -o FILE` on `plaintext` (stdin): the sealed bytes. */
export function ageEncrypt(dir: string, plaintext: Uint8Array, recipients: readonly string[]): Uint8Array {
  const out = join(dir, `sealed-${Math.random().toString(36).slice(2)}.age`);
  const r = run('age', [...recipients.flatMap((x) => ['-r', x]), '-o', out], plaintext);
  if (r.status !== 0) throw new Error(`age -r failed: ${r.stderr}`);
  return new Uint8Array(readFileSync(out));
}

/** `age -d -i IDENTITY FILE`: status and plaintext. */
export function ageDecrypt(dir: string, sealed: Uint8Array, identityPath: string): Run {
  const file = join(dir, `in-${Math.random().toString(36).slice(2)}.age`);
  writeFileSync(file, sealed);
  return run('age', ['-d', '-i', identityPath, file]);
}

/** An identity file holding `text` (an AGE-SECRET-KEY-1… line). */
export function identityFile(dir: string, name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, `${text}\n`, { mode: 0o600 });
  return path;
}
