/**
 * The end state of a demo folder (the new-deployment template, its chain rotation.1 to 3), for
 * comparing an interrupted-and-resumed ceremony with an uninterrupted one: its files, the
 * signatures on each document, the objects on each token (as OpenSC's pkcs11-tool lists them),
 * whether each sealed secret is the one the chain binds, and whether the audit log verifies. Also
 * the demo's inputs, made once or written beforehand (test KMS keys, the test deployment), and a
 * scratch folder for demos run dozens of times.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { accessSync, constants, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { decrypt, parseIdentities, X25519Identity } from '../../src/age/age.js';
import { DEMO_IDENTITY } from '../../src/ceremony/demo.js';
import { kekPath, RECIPIENTS, SEALED } from '../../src/ceremony/templates.js';
import { parseEnvelope } from '../../src/dsse/envelope.js';
import { bindingMatches, parseManifest } from '../../src/manifest/manifest.js';
import { TARGETS } from '../../src/export/targets.js';
import type { CeremonyScript } from '../../src/ceremony/script.js';
import { runCli } from './cli.js';
import { softHsmModule } from './softhsm.js';

export interface State {
  files: string[];
  signatures: Record<string, number>;
  objects: Record<string, string[]>;
  /** Each sealed secret (by key id): whether the test identity opens it to the secret every manifest of the chain binds. */
  sealed: Record<string, boolean>;
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

const CHAIN = ['rotation.1.json', 'rotation.2.json', 'rotation.3.json'];

/**
 * The sealed secrets: a secret made again after an interruption (a delivery is never adopted) must
 * be the one the manifests bind, and sealed to the deployment's identity.
 */
function sealedSecrets(dir: string): Record<string, boolean> {
  const bindings = new Map<string, Set<string>>();
  for (const f of CHAIN) {
    for (const k of parseManifest(parseEnvelope(new Uint8Array(readFileSync(join(dir, f)))).payload).keys) {
      if (k.binding !== null) bindings.set(k.id, (bindings.get(k.id) ?? new Set()).add(k.binding));
    }
  }
  const ids = parseIdentities(readFileSync(join(dir, DEMO_IDENTITY), 'utf8'));
  try {
    const out: Record<string, boolean> = {};
    for (const n of readdirSync(join(dir, SEALED)).sort()) {
      const id = n.replace(/\.age$/, '');
      const bound = [...(bindings.get(id) ?? [])];
      const secret = decrypt(new Uint8Array(readFileSync(join(dir, SEALED, n))), ids);
      out[id] = bound.length === 1 && bindingMatches(secret, id, bound[0] as string);
      secret.fill(0);
    }
    for (const id of bindings.keys()) out[id] ??= false; // bound, but no sealed file
    return out;
  } finally {
    for (const i of ids) i.dispose();
  }
}

export function stateOf(dir: string, script: CeremonyScript): State {
  const objects = tokenObjects(dir, script);
  const signatures: Record<string, number> = {};
  for (const f of ['custodians.v1.json', ...CHAIN, 'custody/rotation.json', 'drill.json', 'audit.checkpoint.json']) {
    signatures[f] = (JSON.parse(readFileSync(join(dir, f), 'utf8')) as { signatures: unknown[] }).signatures.length;
  }
  const a = runCli(['audit', 'verify', join(dir, 'audit.jsonl'), '--custodians', join(dir, 'custodians.v1.json'), '--checkpoint', join(dir, 'audit.checkpoint.json'), '--json'], process.env);
  const parsed = JSON.parse(a.stdout) as { valid: boolean; entries: number };
  return { files: filesUnder(dir), signatures, objects, sealed: sealedSecrets(dir), audit: { status: a.status, valid: parsed.valid, entries: parsed.entries } };
}

/**
 * A new folder for demos that are killed and resumed dozens of times: on /dev/shm (tmpfs) where
 * the machine has one, else in the temporary folder. A SIGKILL leaves the page cache as it is, so
 * the fsyncs a ceremony makes (against a power cut, which these tests do not simulate) change
 * nothing they check, and on a disk they are most of a demo's time.
 */
export function scratchFolder(prefix: string): string {
  let base = tmpdir();
  try {
    accessSync('/dev/shm', constants.W_OK);
    base = '/dev/shm';
  } catch {
    // no tmpfs here (macOS, some containers): the disk, only slower
  }
  return mkdtempSync(join(base, prefix));
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

/**
 * The test deployment a demo makes for itself, written beforehand as the demo writes it: an age
 * identity (deployment/identity.txt) and its recipient (deployment/recipients.txt), the input
 * every make-secret step of the script seals to. `identity: false` writes the recipient only, as a
 * deployment hands it to a ceremony whose script is run with `ceremony run` (the identity never
 * leaves the deployment). Returns the recipient.
 */
export function seedDeployment(dir: string, o: { identity?: boolean } = {}): string {
  const id = X25519Identity.generate();
  try {
    mkdirSync(join(dir, dirname(RECIPIENTS)), { recursive: true, mode: 0o700 });
    if (o.identity !== false) writeFileSync(join(dir, DEMO_IDENTITY), `# a test deployment's age identity, made by keyceremony demo: never use it for real secrets\n# public key: ${id.recipient}\n${id.toString()}\n`, { mode: 0o600 });
    writeFileSync(join(dir, RECIPIENTS), `# the test deployment's age recipient (age-keygen -y ${DEMO_IDENTITY})\n${id.recipient}\n`);
    return id.recipient;
  } finally {
    id.dispose();
  }
}
