import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';

// The SHA-256 recorded in test/vectors/README.md; a changed vector file fails here.
const PINNED: Record<string, string> = {
  'ed25519_test.json': '752d2ea7d7c6cf4736381b6cbacb61f8182b126ab7cd9b058f00c50084975536',
};

test.each(Object.entries(PINNED))('%s matches its recorded SHA-256', (name, sha) => {
  const bytes = readFileSync(new URL(`../vectors/${name}`, import.meta.url));
  expect(createHash('sha256').update(bytes).digest('hex')).toBe(sha);
  expect(readFileSync(new URL('../vectors/README.md', import.meta.url), 'utf8')).toContain(sha);
});
