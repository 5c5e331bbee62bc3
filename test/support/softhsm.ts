/**
 * Each test file makes its own SoftHSM2 tokens under a temporary SOFTHSM2_CONF, initialised
 * with softhsm2-util (independent of the code under test), before it opens the module. Vitest
 * runs each file in its own process (pool: forks), so every file has a fresh PKCS#11 library.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectSoftHsm2 } from '../../src/pkcs11/module.js';

export interface TestToken {
  readonly label: string;
  readonly pin: string;
  readonly soPin: string;
}

export interface SoftHsm {
  readonly dir: string;
  readonly conf: string;
  readonly module: string;
  readonly env: NodeJS.ProcessEnv;
  cleanup(): void;
}

export function softHsmModule(): string {
  const m = detectSoftHsm2();
  if (m === null) throw new Error('SoftHSM2 is not installed: apt-get install softhsm2');
  return m;
}

export function createSoftHsm(tokens: readonly TestToken[], { setProcessEnv = true } = {}): SoftHsm {
  const dir = mkdtempSync(join(tmpdir(), 'kc-test-'));
  const tokenDir = join(dir, 'tokens');
  mkdirSync(tokenDir);
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${tokenDir}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  const env = { ...process.env, SOFTHSM2_CONF: conf };
  for (const t of tokens) {
    execFileSync('softhsm2-util', ['--init-token', '--free', '--label', t.label, '--so-pin', t.soPin, '--pin', t.pin], { env, stdio: 'pipe' });
  }
  if (setProcessEnv) process.env.SOFTHSM2_CONF = conf;
  return { dir, conf, module: softHsmModule(), env, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export const pinBytes = (pin: string): Buffer => Buffer.from(pin, 'utf8');
