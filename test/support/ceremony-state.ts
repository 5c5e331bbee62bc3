/**
 * The end state of a demo folder, for comparing an interrupted-and-resumed ceremony with an
 * uninterrupted one: its files, the signatures on each document, the objects on each token (as
 * OpenSC's pkcs11-tool lists them), and whether the audit log verifies.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { kekPath } from '../../src/ceremony/templates.js';
import { TARGETS } from '../../src/export/targets.js';
import type { CeremonyScript } from '../../src/ceremony/script.js';
import { runCli } from './cli.js';
import { softHsmModule } from './softhsm.js';

export interface State {
  files: string[];
  signatures: Record<string, number>;
  objects: Record<string, string[]>;
  audit: { status: number | null; valid: boolean; entries: number };
}

export function filesUnder(dir: string, rel = ''): string[] {
  return readdirSync(join(dir, rel)).flatMap((n) => {
    const r = rel === '' ? n : `${rel}/${n}`;
    if (r === 'softhsm') return [];
    return statSync(join(dir, r)).isDirectory() ? filesUnder(dir, r) : [r];
  }).sort();
}

/**
 * The ceremony's objects on each of the script's tokens, as OpenSC's pkcs11-tool lists them
 * ("Secret:master-v1"). The run's journal key ("Secret:journal-<ceremony>", issue 13) lives only
 * while the run does: it is listed by journalKeys(), not here.
 */
export function tokenObjects(dir: string, script: CeremonyScript): Record<string, string[]> {
  const all = allTokenObjects(dir, script);
  return Object.fromEntries(Object.entries(all).map(([t, objs]) => [t, objs.filter((o) => !o.startsWith('Secret:journal-'))]));
}

/** The journal keys left on the script's tokens (one while a run is unfinished, none after). */
export function journalKeys(dir: string, script: CeremonyScript): string[] {
  return Object.values(allTokenObjects(dir, script)).flat().filter((o) => o.startsWith('Secret:journal-'));
}

function allTokenObjects(dir: string, script: CeremonyScript): Record<string, string[]> {
  const env = { ...process.env, SOFTHSM2_CONF: join(dir, 'softhsm', 'softhsm2.conf') };
  const pins = JSON.parse(readFileSync(join(dir, 'softhsm', 'rehearsal-pins.json'), 'utf8')) as Record<string, { user: string }>;
  const objects: Record<string, string[]> = {};
  for (const t of script.tokens) {
    const out = execFileSync('pkcs11-tool', ['--module', softHsmModule(), '--token-label', t.label, '--login', '--pin', pins[t.name]!.user, '--list-objects'], { env, encoding: 'latin1', stdio: ['ignore', 'pipe', 'pipe'] });
    // blocks begin at an unindented line ("Secret Key Object; AES", "Data object 2"); the kind is its first word
    objects[t.name] = out.split(/\n(?=\S)/).filter((b) => b.trim() !== '').map((b) => `${b.split(' ')[0]}:${(/label:\s+(.*)/.exec(b)?.[1] ?? '').trim().replace(/^'(.*)'$/, '$1')}`).sort();
  }
  return objects;
}

export function stateOf(dir: string, script: CeremonyScript): State {
  const objects = tokenObjects(dir, script);
  const signatures: Record<string, number> = {};
  for (const f of ['custodians.v1.json', 'rotation.1.json', 'custody/rotation.json', 'drill.json', 'audit.checkpoint.json']) {
    signatures[f] = (JSON.parse(readFileSync(join(dir, f), 'utf8')) as { signatures: unknown[] }).signatures.length;
  }
  const a = runCli(['audit', 'verify', join(dir, 'audit.jsonl'), '--custodians', join(dir, 'custodians.v1.json'), '--checkpoint', join(dir, 'audit.checkpoint.json'), '--json'], process.env);
  const parsed = JSON.parse(a.stdout) as { valid: boolean; entries: number };
  return { files: filesUnder(dir), signatures, objects, audit: { status: a.status, valid: parsed.valid, entries: parsed.entries } };
}

let kekStore: string | null = null;

/**
 * The demo's test KMS wrapping keys (its inputs), made once per test file and copied into a demo
 * folder before its first run: making two RSA keys is most of a demo's time, and the tests that
 * run the demo dozens of times are about the ceremony, not about the test keys.
 */
export function seedKeks(dir: string): void {
  if (kekStore === null) {
    const store = mkdtempSync(join(tmpdir(), 'kc-keks-'));
    process.once('exit', () => rmSync(store, { recursive: true, force: true }));
    const spki = new Map([3072, 4096].map((bits) => [bits, generateKeyPairSync('rsa', { modulusLength: bits }).publicKey.export({ type: 'spki', format: 'der' })]));
    for (const t of TARGETS) {
      const bits = t.kekBits.includes(3072) ? 3072 : 4096;
      const file = join(store, kekPath(t.name, bits));
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, spki.get(bits) as Buffer);
    }
    kekStore = store;
  }
  mkdirSync(dir, { recursive: true });
  cpSync(join(kekStore, 'kms'), join(dir, 'kms'), { recursive: true });
}
