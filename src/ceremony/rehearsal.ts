/**
 * Rehearsal tokens (issue 7): throw-away SoftHSM2 tokens in the ceremony folder, one for each
 * token the script names, with the script's labels. Their PINs are random and, so that an
 * interrupted rehearsal can resume, kept beside the tokens (mode 0600) in the throw-away store:
 * they protect nothing but simulation keys, and never appear in a log or the transcript.
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KeyceremonyError } from '../errors.js';
import { writeFileAtomic } from '../files.js';
import { detectSoftHsm2, Pkcs11Module } from '../pkcs11/module.js';
import { initSimulationToken } from '../pkcs11/provision.js';
import { findToken, listTokens } from '../pkcs11/tokens.js';
import type { ResolvedToken } from './engine.js';
import type { CeremonyScript } from './script.js';

/** Writes the SoftHSM2 configuration that keeps throw-away tokens under `dir/softhsm` (kept if it exists). */
export function softHsmConfig(dir: string): string {
  const tokens = join(dir, 'softhsm', 'tokens');
  mkdirSync(tokens, { recursive: true, mode: 0o700 });
  const conf = join(dir, 'softhsm', 'softhsm2.conf');
  if (!existsSync(conf)) writeFileSync(conf, `# throw-away tokens of a keyceremony rehearsal\ndirectories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`, { mode: 0o600, flag: 'wx' });
  return conf;
}

export interface Rehearsal {
  readonly module: Pkcs11Module;
  readonly tokens: Map<string, ResolvedToken>;
  close(): void;
}

export function openRehearsalTokens(script: CeremonyScript, dir: string, modulePath?: string): Rehearsal {
  const path = modulePath ?? detectSoftHsm2();
  if (path === null) throw new KeyceremonyError('REHEARSAL_NO_SOFTHSM', 'a rehearsal needs SoftHSM2 and it is not installed', 'apt-get install softhsm2', { exit: 2 });
  // SoftHSM2 reads SOFTHSM2_CONF at C_Initialize, so this must precede opening the module.
  process.env.SOFTHSM2_CONF = softHsmConfig(dir);
  const pinsFile = join(dir, 'softhsm', 'rehearsal-pins.json');
  if (!existsSync(pinsFile)) {
    const pins = Object.fromEntries(script.tokens.map((t) => [t.name, { so: randomBytes(12).toString('hex'), user: randomBytes(12).toString('hex') }]));
    writeFileAtomic(pinsFile, JSON.stringify(pins), false, 0o600);
  }
  const pins = JSON.parse(readFileSync(pinsFile, 'utf8')) as Record<string, { so: string; user: string }>;
  const mod = Pkcs11Module.open(path);
  if (!mod.isSoftHsm) {
    mod.close();
    throw new KeyceremonyError('REHEARSAL_NOT_SIMULATION', `a rehearsal runs on SoftHSM2 only, and ${path} is another module`, 'leave out --module, or point it at libsofthsm2');
  }
  const tokens = new Map<string, ResolvedToken>();
  for (const t of script.tokens) {
    const pin = pins[t.name];
    if (pin === undefined) throw new KeyceremonyError('REHEARSAL_STATE_INVALID', `the rehearsal folder has no PIN for token ${t.name}`, 'rehearse in a new folder');
    const exists = listTokens(mod).some((x) => x.info.flags.initialized && x.label === t.label);
    const token = exists ? findToken(mod, { label: t.label }) : initSimulationToken(mod, t.label, Buffer.from(pin.so), Buffer.from(pin.user));
    tokens.set(t.name, { token, pin: Buffer.from(pin.user) });
  }
  return { module: mod, tokens, close: () => mod.close() };
}

/**
 * The record of passed rehearsals: JSON lines `{ digest, script, time, dir, result }`, appended by
 * `keyceremony ceremony run --rehearse`. A real run (CLI or app) needs a line with its script's digest.
 */
export function rehearsalPassed(record: string | undefined, digest: string): boolean {
  if (record === undefined || !existsSync(record)) return false;
  return readFileSync(record, 'utf8').split('\n').some((l) => {
    try {
      const x = JSON.parse(l) as { digest?: unknown; result?: unknown };
      return x.digest === digest && x.result === 'pass';
    } catch {
      return false; // a damaged line proves nothing
    }
  });
}

export function recordRehearsal(record: string, entry: { digest: string; script: string; time: string; dir: string }): void {
  appendFileSync(record, `${JSON.stringify({ ...entry, result: 'pass' })}\n`);
}
