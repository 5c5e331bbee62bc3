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
});
