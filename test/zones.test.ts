/** The zone rules of eslint.config.js fire on forbidden imports, and the tree obeys them. */
import { ESLint } from 'eslint';
import { describe, expect, test } from 'vitest';

const eslint = new ESLint({ cwd: new URL('..', import.meta.url).pathname });

async function ruleIds(code: string, filePath: string): Promise<string[]> {
  const [r] = await eslint.lintText(code, { filePath });
  return (r?.messages ?? []).map((m) => m.ruleId ?? 'fatal');
}

describe('zone rules', () => {
  test.each([
    ["import { app } from 'electron';", 'src/x.ts'],
    ["import React from 'react';", 'src/x.ts'],
    ['export const w = window.innerWidth;', 'src/x.ts'],
    ['export const t = document.title;', 'src/x.ts'],
    ["import { readFileSync } from 'node:fs';", 'renderer/x.tsx'],
    ["import { readFileSync } from 'fs';", 'renderer/x.tsx'],
    ["import * as pk from 'pkcs11js';", 'renderer/x.tsx'],
    ["import { listTokens } from '../src/pkcs11/tokens.js';", 'renderer/x.tsx'],
    ["import { ipcRenderer } from 'electron';", 'renderer/x.tsx'],
    ['export const p = process.env;', 'renderer/x.tsx'],
    ["import * as pk from 'pkcs11js';", 'electron/preload/index.ts'],
  ])('%s is refused in %s', async (code, file) => {
    const ids = await ruleIds(`${code}\n`, file);
    expect(ids.some((id) => id === 'no-restricted-imports' || id === 'no-restricted-globals')).toBe(true);
  });
  test.each([
    ["import { readFileSync } from 'node:fs';\nexport const r = readFileSync;", 'src/x.ts'],
    ["import { app } from 'electron';\nexport const a = app;", 'electron/main/x.ts'],
  ])('%s is allowed in %s', async (code, file) => {
    expect(await ruleIds(`${code}\n`, file)).toEqual([]);
  });

  // the sealed PKCS#11 layer (issue 16): outside src/pkcs11 no binding, no C_* call, no CKA_/CKM_/CKO_/CKK_ name
  const sealed: [string, string][] = [
    ["import * as pk from 'pkcs11js';\nexport const p = pk;", 'src/export/x.ts'],
    ["import type { Template } from 'pkcs11js';\nexport type T = Template;", 'src/backup/x.ts'],
    ["import * as pk from 'pkcs11js';\nexport const p = pk;", 'src/api/x.ts'],
    ["import * as pk from 'pkcs11js';\nexport const p = pk;", 'electron/main/x.ts'],
    ["import { createRequire } from 'node:module';\nexport const p = createRequire(import.meta.url)('pkcs11js');", 'src/x.ts'],
    ["export const p = import('pkcs11js');", 'src/x.ts'],
    ['export function f(s: { api: { C_DestroyObject(a: number, b: number): void }; handle: number }): void { s.api.C_DestroyObject(s.handle, 1); }', 'src/backup/x.ts'],
    ['export function f(B: Record<string, number>): number { return B.CKO_SECRET_KEY ?? 0; }', 'src/ceremony/steps/x.ts'],
    ['export const t = [{ type: 0x104, value: true }];\nexport const CKA_ENCRYPT = 0x104;', 'src/cli/commands/x.ts'],
    ['export const m = { mechanism: CKM_AES_KEY_WRAP_PAD };\ndeclare const CKM_AES_KEY_WRAP_PAD: number;', 'src/export/x.ts'],
    ['export const k = 0x1f as const;\nexport type K = { CKK_AES: typeof k };', 'src/x.ts'],
    ["export const enc = 'CKM_RSA_AES_KEY_WRAP';", 'src/export/x.ts'],
    ['export const rec = (h: string) => `CKM_RSA_PKCS_OAEP(${h})`;', 'src/export/x.ts'],
  ];
  test.each(sealed)('the sealed PKCS#11 layer refuses %s in %s', async (code, file) => {
    const ids = await ruleIds(`${code}\n`, file);
    expect(ids.some((id) => id === 'no-restricted-imports' || id === 'no-restricted-syntax')).toBe(true);
  });
  test.each([
    ["import * as pk from 'pkcs11js';\nexport const p = pk;\nexport const f = (s: { api: { C_Logout(h: number): void } }) => s.api.C_Logout(1);\nexport const CKM_X = 1;", 'src/pkcs11/x.ts'],
    ["export const enc = 'CKM_RSA_AES_KEY_WRAP';\nexport const rec = (h: string) => `CKM_RSA_PKCS_OAEP(${h})`;", 'src/export/mechanism-names.ts'],
    // prose naming a mechanism in a message is not a mechanism
    ["export const why = 'the token cannot do CKM_RSA_PKCS_OAEP with SHA-256';", 'src/export/x.ts'],
    ["export const fine = 'C_WrapKey'.length + 'IPC_BAD_REQUEST'.length;", 'src/api/x.ts'],
  ])('the sealed layer allows %s in %s', async (code, file) => {
    expect(await ruleIds(`${code}\n`, file)).toEqual([]);
  });
  test('the tree obeys the sealed layer: eslint finds no raw PKCS#11 outside src/pkcs11', async () => {
    const results = await eslint.lintFiles(['src', 'electron/main', 'scripts']);
    const broken = results.flatMap((r) => r.messages.filter((m) => m.ruleId === 'no-restricted-syntax' || m.ruleId === 'no-restricted-imports').map((m) => `${r.filePath}:${m.line} ${m.message}`));
    expect(broken).toEqual([]);
  }, 120_000);
});
