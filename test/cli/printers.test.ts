/**
 * Issue 14, item 3: a command prints through writeJson and writeLines (src/cli/io.ts), which
 * escape control, C1 and bidi characters that documents and devices carry. A direct write of
 * interpolated text would bypass them, so none is left in src/cli/commands; a direct write of a
 * constant (a prompt, a template the tool wrote itself) is harmless.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const DIR = fileURLToPath(new URL('../../src/cli/commands/', import.meta.url));

test('no command writes interpolated text or JSON.stringify output to stdout or stderr directly', () => {
  const found: string[] = [];
  for (const file of readdirSync(DIR).filter((f) => f.endsWith('.ts'))) {
    readFileSync(`${DIR}${file}`, 'utf8').split('\n').forEach((line, i) => {
      if (/\.write\((?:[^)]*\$\{|[^)]*JSON\.stringify)/.test(line)) found.push(`${file}:${i + 1}: ${line.trim()}`);
    });
  }
  expect(found).toEqual([]);
  expect(readdirSync(DIR).length).toBeGreaterThan(10);
});
