/**
 * `keyceremony demo`: a whole ceremony on throw-away SoftHSM2 tokens in a folder of its own, so
 * nothing touches the user's real token store. PINs are random, held in buffers, never shown,
 * and zeroed at the end. Later capabilities (signed manifests, exports, drills) add their steps.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { zero } from '../bytes.js';
import { KeyceremonyError } from '../errors.js';
import { formatKcv, generateAesKey, generateEd25519, signEd25519 } from '../pkcs11/keys.js';
import { detectSoftHsm2, Pkcs11Module } from '../pkcs11/module.js';
import { initSimulationToken } from '../pkcs11/provision.js';
import { withSession } from '../pkcs11/session.js';

export interface DemoOptions {
  /** An empty or new folder; the demo writes its tokens and documents there. */
  readonly dir: string;
  /** A SoftHSM2 library; auto-detected when absent. */
  readonly module?: string | undefined;
  /** One line of the transcript. */
  readonly say: (line: string) => void;
}

export interface DemoCustodian {
  readonly id: string;
  readonly token: string;
  readonly keyUri: string;
  readonly publicKey: string;
  readonly fingerprint: { readonly hex: string; readonly words: readonly string[] };
}

export interface DemoResult {
  readonly dir: string;
  readonly module: string;
  readonly master: { readonly uri: string; readonly kcv: string };
  readonly backup: { readonly uri: string; readonly kcv: string };
  readonly custodians: readonly DemoCustodian[];
}

export const DEMO_CUSTODIANS = ['alice', 'bob', 'carol'] as const;

/** Writes the SoftHSM2 configuration that keeps the demo's tokens under `dir`. */
export function writeSoftHsmConfig(dir: string): string {
  const tokens = join(dir, 'softhsm', 'tokens');
  mkdirSync(tokens, { recursive: true, mode: 0o700 });
  const conf = join(dir, 'softhsm', 'softhsm2.conf');
  writeFileSync(conf, `# throw-away tokens of keyceremony demo\ndirectories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`, { mode: 0o600, flag: 'wx' });
  return conf;
}

export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const say = opts.say;
  const modulePath = opts.module ?? detectSoftHsm2();
  if (modulePath === null) {
    throw new KeyceremonyError('DEMO_NO_SOFTHSM', 'the demo needs SoftHSM2 and it is not installed', 'apt-get install softhsm2 (or pass --module PATH to libsofthsm2)', { exit: 2 });
  }
  // SoftHSM2 reads SOFTHSM2_CONF at C_Initialize, so this must precede opening the module.
  process.env.SOFTHSM2_CONF = writeSoftHsmConfig(opts.dir);
  const mod = Pkcs11Module.open(modulePath);
  if (!mod.isSoftHsm) {
    throw new KeyceremonyError('DEMO_NOT_SIMULATION', `the demo runs on SoftHSM2 only, and ${modulePath} is ${mod.info.manufacturer}`, 'leave out --module, or point it at libsofthsm2');
  }
  say(`Simulation tokens: SoftHSM2 ${mod.info.libraryVersion} at ${modulePath}, stored in ${join(opts.dir, 'softhsm')}`);

  const secrets: Buffer[] = [];
  const pin = (): Buffer => {
    const b = Buffer.from(randomBytes(12).toString('hex'), 'utf8');
    secrets.push(b);
    return b;
  };
  try {
    say('Step 1: initialise the ceremony HSM and one smartcard per custodian (random PINs, never shown)');
    const hsmPin = pin();
    const hsm = initSimulationToken(mod, 'Ceremony HSM', pin(), hsmPin);
    const cards = DEMO_CUSTODIANS.map((id) => {
      const userPin = pin();
      return { id, pin: userPin, token: initSimulationToken(mod, `custodian-${id}`, pin(), userPin) };
    });
    say(`  tokens: ${[hsm, ...cards.map((c) => c.token)].map((t) => `"${t.label}" (serial ${t.info.serial})`).join(', ')}`);

    say('Step 2: generate the master key (AES-256, for AES-256-GCM) and a separate backup key in the HSM');
    const { master, backup } = await withSession(hsm, hsmPin, async (s) => ({
      master: await generateAesKey(s, { label: 'master-v1', role: 'master', extractable: true }),
      backup: await generateAesKey(s, { label: 'backup-v1', role: 'backup' }),
    }));
    say(`  master-v1  kcv ${formatKcv(master.kcv)}  ${master.uri}`);
    say(`  backup-v1  kcv ${formatKcv(backup.kcv)}  ${backup.uri}`);

    say('Step 3: each custodian generates an Ed25519 signing key on their own card and proves it signs');
    const custodians: DemoCustodian[] = [];
    for (const c of cards) {
      const key = await withSession(c.token, c.pin, async (s) => {
        const k = await generateEd25519(s, { label: `${c.id}-sign-v1` });
        await signEd25519(s, { label: k.label }, Buffer.from(`keyceremony demo: ${c.id} holds ${k.keyid}`), k.publicKey);
        return k;
      });
      custodians.push({ id: c.id, token: c.token.label, keyUri: key.uri, publicKey: Buffer.from(key.publicKey).toString('hex'), fingerprint: key.fingerprint });
      say(`  ${c.id.padEnd(6)} fingerprint ${key.fingerprint.hex}`);
      say(`         read aloud  ${key.fingerprint.words.join(' ')}`);
    }
    say('Demo complete: every key was generated inside its token; no key material left a token.');
    return {
      dir: opts.dir,
      module: modulePath,
      master: { uri: master.uri, kcv: formatKcv(master.kcv) },
      backup: { uri: backup.uri, kcv: formatKcv(backup.kcv) },
      custodians,
    };
  } finally {
    zero(...secrets);
    mod.close();
  }
}
