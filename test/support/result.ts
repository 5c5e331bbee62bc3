/** Test helpers for the handler table's answers. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Result } from '../../src/api/contract.js';

/** The value of an answer that must have succeeded; else the error's code and message, thrown. */
export function ok<T>(r: Result<T>): T {
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  return r.value;
}

/** A ceremony profile in the CLI's format (src/ceremony/profile.ts), written to `dir` as NAME.profile.json. */
export function writeProfile(dir: string, name: string, body: object): string {
  const file = join(dir, `${name}.profile.json`);
  writeFileSync(file, JSON.stringify({ spec: 'keyceremony/ceremony-profile@1', ...body }));
  return file;
}
