/**
 * Each rule of the use-case layer lives in one function and throws one code (issue 13 §4): a text
 * scan of src/ finds exactly one `new KeyceremonyError('CODE'` or `usageError('CODE'` for each of
 * these codes, and no other file of src/ so much as names the code in quotes (so no helper can
 * throw it by another route).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, test } from 'vitest';

const ONE_PLACE = {
  CEREMONY_NETWORK_UP: 'src/usecases/preflight.ts',
  CEREMONY_NOT_REHEARSED: 'src/usecases/preflight.ts',
  EXPORT_KEK_ID_MISSING: 'src/usecases/export.ts',
  /** an actor, split holder or drill presenter who is not one of the custodians it must be */
  CUSTODIAN_NOT_MEMBER: 'src/usecases/custodians.ts',
  /** a custodian-set chain that does not verify (root pinned when given) */
  CHAIN_INVALID: 'src/usecases/chain.ts',
} as const;

const root = join(import.meta.dirname, '..', '..');
const sources = (readdirSync(join(root, 'src'), { recursive: true, encoding: 'utf8' }))
  .filter((p) => p.endsWith('.ts'))
  .map((p) => ({ file: relative(root, join(root, 'src', p)).split('\\').join('/'), text: readFileSync(join(root, 'src', p), 'utf8') }));

const THROW = /(?:new\s+KeyceremonyError|usageError)\(\s*['"`]([A-Z0-9_]+)['"`]/g;

function throwSites(code: string): string[] {
  return sources.flatMap(({ file, text }) => [...text.matchAll(THROW)].filter((m) => m[1] === code).map((m) => `${file}:${text.slice(0, m.index).split('\n').length}`));
}

describe('one throw site per use-case rule', () => {
  test('the scan sees the source tree', () => {
    expect(sources.length).toBeGreaterThan(50);
    expect(throwSites('USAGE').length).toBeGreaterThan(10); // a code thrown in many places is found in many places
  });
  test.each(Object.entries(ONE_PLACE))('%s is thrown from exactly one place, in %s', (code, file) => {
    const sites = throwSites(code);
    expect(sites).toHaveLength(1);
    expect(sites[0]?.split(':')[0]).toBe(file);
    const named = sources.filter((s) => s.file !== file && new RegExp(`['"\`]${code}['"\`]`).test(s.text)).map((s) => s.file);
    expect(named).toEqual([]);
  });
});
