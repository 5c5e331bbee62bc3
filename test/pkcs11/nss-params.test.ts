/**
 * NSS softokn's initialization string for throw-away rehearsal tokens (src/pkcs11/nss.ts): several
 * database tokens in one library (one C_Initialize per process), each in its folder with its
 * label, whatever characters the label and the path hold (NSS quotes values and takes a backslash
 * as "the next character is literal", once per level of nesting). The library is opened here,
 * in this file's own process, with the code under test.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { Pkcs11Module } from '../../src/pkcs11/module.js';
import { nssDatabaseParams } from '../../src/pkcs11/nss.js';
import { initNssSimulationToken } from '../../src/pkcs11/provision.js';
import { withSession } from '../../src/pkcs11/session.js';
import { listTokens } from '../../src/pkcs11/tokens.js';
import { softoknModule } from '../support/nss.js';
import { pinBytes } from '../support/softhsm.js';

let root: string;
let mod: Pkcs11Module;
/** Labels and folders NSS's parser must not misread: quotes, brackets, backslashes, spaces. */
const TOKENS = [
  { name: 'plain', label: 'Ceremony HSM' },
  { name: "it's", label: "Alice's card [2] <x> \\ end" },
  { name: 'sp ace', label: 'Drill "token"' },
];

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'kc-nss-params-'));
}, 60_000);
afterAll(() => { mod?.close(); rmSync(root, { recursive: true, force: true }); });

test('the string names each token by its folder and label; each is found by its exact label, gets its PIN, and keeps its objects in its own folder', async () => {
  const dbs = TOKENS.map((t) => { const dir = join(root, t.name); mkdirSync(dir); return { dir, label: t.label }; });
  mod = Pkcs11Module.open(softoknModule(), nssDatabaseParams(dbs));
  expect(mod.implementation).toBe('nss-softokn');
  const labels = listTokens(mod).map((t) => t.label);
  for (const t of TOKENS) expect(labels).toContain(t.label);
  for (const [i, t] of TOKENS.entries()) {
    const token = initNssSimulationToken(mod, t.label, pinBytes(`pin-${i}`));
    expect(token.info.flags.userPinInitialized).toBe(true);
    expect(initNssSimulationToken(mod, t.label, pinBytes(`pin-${i}`)).slot.equals(token.slot)).toBe(true); // a second time: taken as it is
    await withSession(token, pinBytes(`pin-${i}`), async (s) => { expect(s.random(8).length).toBe(8); });
  }
  for (const t of TOKENS) expect(readdirSync(join(root, t.name)).sort()).toEqual(['cert9.db', 'key4.db']);
});

test('bad input is refused where it enters: no token, a relative folder, a label over 32 bytes', () => {
  expect(() => nssDatabaseParams([])).toThrow(RangeError);
  expect(() => nssDatabaseParams([{ dir: 'relative', label: 'x' }])).toThrow(TypeError);
  expect(() => nssDatabaseParams([{ dir: '/abs', label: 'x'.repeat(33) }])).toThrow(RangeError);
  expect(() => nssDatabaseParams([{ dir: '/abs', label: 'tab\there' }])).toThrow(RangeError);
});
