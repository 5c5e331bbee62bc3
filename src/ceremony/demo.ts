/**
 * `keyceremony demo`: the `new-deployment` template, run as a rehearsal on throw-away SoftHSM2
 * tokens in a folder of its own, so nothing touches the user's real token store. The demo writes
 * the script it runs (ceremony.json), test KMS wrapping keys (kms/) and a test deployment's age
 * identity and recipients (deployment/), and the engine does the rest: custodian keys, the 2-of-3
 * set, the master key, backup custody, every delivered secret of the inventory sealed to the
 * deployment (sealed/), the chain begun (prepare now, dual-publish in an hour, cutover a day later:
 * rotation.1 to 3), exports, a drill, the checkpointed audit log and the transcript. It then
 * verifies everything and prints the key state (FORMATS.md §8) the chain gives before the
 * dual-publish takes effect, during it and after the cutover. Interrupted, `keyceremony demo --dir
 * DIR` on the same folder resumes it.
 */
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseIdentities, X25519Identity } from '../age/age.js';
import { fingerprint } from '../crypto/fingerprint.js';
import { formatTime } from '../docs/fields.js';
import { parseCustodianSet } from '../custodians/set.js';
import { parseEnvelope } from '../dsse/envelope.js';
import { KeyceremonyError } from '../errors.js';
import { TARGETS } from '../export/targets.js';
import { Folder } from '../files.js';
import { parseManifest } from '../manifest/manifest.js';
import type { Manifest } from '../manifest/manifest.js';
import { keyState } from '../state/state.js';
import type { KeyStateResult } from '../state/state.js';
import { verifyDocument } from '../verify/verify.js';
import { preflightRun, runCeremony } from './engine.js';
import { JOURNAL } from './folder.js';
import { openRehearsalTokens, REHEARSAL_STORE } from './rehearsal.js';
import { parseScript } from './script.js';
import { kekPath, RECIPIENTS, SEALED, templateText } from './templates.js';

export interface DemoOptions {
  /** An empty or new folder, or the folder of an interrupted demo to resume. */
  readonly dir: string;
  /** A SoftHSM2 library; auto-detected when absent. */
  readonly module?: string | undefined;
  /** One line of the transcript. */
  readonly say: (line: string) => void;
}

export interface DemoResult {
  readonly dir: string;
  readonly resumed: boolean;
  readonly master: { readonly kcv: string };
  readonly backup: { readonly kcv: string };
  readonly custodians: readonly { readonly id: string; readonly publicKey: string; readonly fingerprint: { readonly hex: string; readonly words: readonly string[] } }[];
  readonly custodianSet: { readonly file: string; readonly digest: string; readonly threshold: number };
  /** The chain's first manifest (prepare). */
  readonly manifest: { readonly file: string; readonly digest: string; readonly signers: readonly string[]; readonly valid: boolean };
  /** The deployment's chain, rotation.1 to 3, and its key state at three times: before the dual-publish takes effect, during it, after the cutover. */
  readonly chain: {
    readonly manifests: readonly string[];
    readonly states: readonly { readonly when: 'before-dual-publish' | 'dual-publish' | 'after-cutover'; readonly at: string; readonly state: KeyStateResult }[];
  };
  /** The delivered secrets, sealed to the test deployment's identity (age X25519). */
  readonly secrets: { readonly dir: string; readonly identity: string; readonly recipients: string; readonly sealed: readonly { readonly name: string; readonly id: string; readonly file: string; readonly binding: string }[] };
  readonly custody: { readonly dir: string; readonly manifest: string };
  readonly drill: { readonly file: string; readonly pass: boolean; readonly signers: readonly string[] };
  readonly exports: readonly { readonly target: string; readonly dir: string | null; readonly wrap: string | null; readonly kcv: string | null; readonly refused: string | null }[];
  readonly audit: { readonly file: string; readonly entries: number };
  readonly transcript: { readonly markdown: string; readonly html: string };
}

export const DEMO_TEMPLATE = 'new-deployment';

/** The test deployment's age identity: the demo's stand-in for a key that lives only where the application is deployed, never in a ceremony folder. */
export const DEMO_IDENTITY = 'deployment/identity.txt';
const DEPLOYMENT = 'deployment';
const CHAIN = ['rotation.1.json', 'rotation.2.json', 'rotation.3.json'];

/** What a demo writes into its folder (besides hidden temporary files). */
const DEMO_NAMES = new Set(['ceremony.json', 'kms', DEPLOYMENT, 'softhsm', 'audit.jsonl', 'custodians.v1.json', 'custody', SEALED, ...CHAIN, 'export', 'drill.json', 'audit.checkpoint.json', 'transcript.md', 'transcript.html']);

/** True when `dir` holds a demo that was interrupted: only what a demo writes, and no final checkpoint yet. */
export function demoInProgress(dir: string): boolean {
  if (!existsSync(dir) || existsSync(join(dir, 'audit.checkpoint.json'))) return false;
  const names = readdirSync(dir);
  return names.length > 0 && names.every((n) => DEMO_NAMES.has(n) || n.startsWith('.'));
}

/**
 * The test deployment: an age identity made once (written before its recipient, so an interrupted
 * demo never holds a recipient whose identity is lost), and its recipient, the input the script's
 * make-secret steps seal to. On a resume the two must still belong together.
 */
function deployment(folder: Folder, made: string[]): void {
  if (!folder.exists(DEPLOYMENT)) { folder.mkdir(DEPLOYMENT, { mode: 0o700 }); made.push(DEPLOYMENT); }
  if (!folder.exists(DEMO_IDENTITY)) {
    if (folder.exists(RECIPIENTS)) throw new KeyceremonyError('DEMO_IDENTITY_MISSING', `${RECIPIENTS} is in the demo folder without the identity it belongs to`, 'run the demo in a new folder');
    const id = X25519Identity.generate();
    try {
      folder.write(DEMO_IDENTITY, `# a test deployment's age identity, made by keyceremony demo: never use it for real secrets\n# public key: ${id.recipient}\n${id.toString()}\n`, { mode: 0o600 });
      made.push(DEMO_IDENTITY);
    } finally {
      id.dispose();
    }
  }
  const ids = parseIdentities(Buffer.from(folder.read(DEMO_IDENTITY, 'the test identity', 64 * 1024)).toString('utf8'));
  const recipient = ids[0]?.recipient as string;
  for (const i of ids) i.dispose();
  const line = `${recipient}\n`;
  if (!folder.exists(RECIPIENTS)) { folder.write(RECIPIENTS, `# the test deployment's age recipient (age-keygen -y ${DEMO_IDENTITY})\n${line}`); made.push(RECIPIENTS); }
  if (!Buffer.from(folder.read(RECIPIENTS, 'the recipients', 64 * 1024)).toString('utf8').endsWith(`\n${line}`)) {
    throw new KeyceremonyError('DEMO_IDENTITY_MISMATCH', `${RECIPIENTS} is not the recipient of ${DEMO_IDENTITY}`, 'run the demo in a new folder');
  }
}

/**
 * The demo's own inputs (its script, the test KMS keys, the test deployment), written where absent;
 * returns what it wrote, so that a folder the run then refuses is left as the demo found it.
 */
function ownInputs(folder: Folder): string[] {
  const made: string[] = [];
  if (!folder.exists('ceremony.json')) { folder.write('ceremony.json', templateText(DEMO_TEMPLATE) as string); made.push('ceremony.json'); }
  // test KMS wrapping keys, one per size the targets take (each written once; their private halves are not kept)
  const bitsOf = (t: (typeof TARGETS)[number]): number => (t.kekBits.includes(3072) ? 3072 : 4096);
  const missing = TARGETS.filter((t) => !folder.exists(kekPath(t.name, bitsOf(t))));
  if (missing.length > 0) {
    if (!folder.exists('kms')) { folder.mkdir('kms'); made.push('kms'); }
    const spki = new Map([3072, 4096].map((bits) => [bits, generateKeyPairSync('rsa', { modulusLength: bits }).publicKey.export({ type: 'spki', format: 'der' })]));
    for (const t of missing) {
      folder.write(kekPath(t.name, bitsOf(t)), spki.get(bitsOf(t)) as Buffer);
      made.push(kekPath(t.name, bitsOf(t)));
    }
  }
  deployment(folder, made);
  return made;
}

export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const say = opts.say;
  const scriptFile = join(opts.dir, 'ceremony.json');
  mkdirSync(opts.dir, { recursive: true });
  const folder = Folder.open(opts.dir); // the demo's own files too: never written or read through a link
  folder.removeStaleTemporaries([REHEARSAL_STORE]); // an interrupted demo resumes without its half-written files
  const hadJournal = folder.exists(JOURNAL);
  const made = ownInputs(folder);
  try {
    const script = parseScript(folder.read('ceremony.json', 'the ceremony script', 256 * 1024));
    // the token store and the test deployment are the demo's own, made and checked here
    const plan = { script, dir: opts.dir, inputs: opts.dir, simulation: true, declared: [scriptFile], own: [REHEARSAL_STORE, DEPLOYMENT] };
    preflightRun(plan); // the folder holds only the demo's own files before its token store is opened
    const rehearsal = openRehearsalTokens(script, opts.dir, opts.module);
    try {
      say(`Simulation tokens: SoftHSM2 ${rehearsal.module.info.libraryVersion} at ${rehearsal.module.path}, stored in ${join(opts.dir, 'softhsm')} (a rehearsal: nothing here is protected by hardware)`);
      say(`Script: ${scriptFile} (${script.title}, ${script.steps.length} steps, ${script.digest})`);
      const run = await runCeremony({
        ...plan, tokens: rehearsal.tokens, say,
        // the demo has no one in the room: its witness confirms, and the transcript says it was a rehearsal
        confirm: async (q) => { say(`  ${q.who} confirms ${q.what}`); return true; },
        notes: [{ action: 'rehearsal.start', details: { reason: 'keyceremony demo', tokens: 'throw-away SoftHSM2' } }, { action: 'airgap.override', details: { reason: 'a demo rehearsal may run with the network up' } }],
      });
      return summarise(opts.dir, run.resumed, run.audit.entries, say);
    } finally {
      rehearsal.close();
    }
  } catch (err) {
    // refused before this run began its journal: what the demo wrote goes, and the folder is as it was found;
    // once its journal is begun, the test identity stays with what was sealed to it (the resume needs both)
    if (hadJournal || !folder.exists(JOURNAL)) for (const rel of made.reverse()) if (folder.exists(rel)) folder.remove(rel);
    throw err;
  }
}

const list = (ids: readonly string[]): string => (ids.length === 0 ? '-' : ids.join(' '));

/** The state of every name at one time, one line each: what `keyceremony state --json` gives, in a table. */
function stateLines(s: KeyStateResult): string[] {
  return Object.entries(s.keys).map(([name, k]) => `    ${name.padEnd(23)} current ${(k.current ?? '-').padEnd(22)} accept ${list(k.accept).padEnd(22)} pending ${list(k.pending).padEnd(22)} scheduled ${list(k.scheduled)}`);
}

/** The chain's three moments: before the dual-publish takes effect (the chain complete, its tip issued), when it does, when the cutover does. */
function moments(ms: readonly Manifest[]): { when: DemoResult['chain']['states'][number]['when']; at: number }[] {
  const nb = (m: Manifest | undefined): number => Math.max(...(m?.keys ?? []).map((k) => k.notBefore));
  return [{ when: 'before-dual-publish', at: Math.max(...ms.map((m) => m.issued)) }, { when: 'dual-publish', at: nb(ms[1]) }, { when: 'after-cutover', at: nb(ms[2]) }];
}

function summarise(dir: string, resumed: boolean, entries: number, say: (l: string) => void): DemoResult {
  const read = (f: string): Uint8Array => new Uint8Array(readFileSync(join(dir, f)));
  const chain = [read('custodians.v1.json')];
  const set = parseCustodianSet(parseEnvelope(chain[0] as Uint8Array).payload);
  const at = Math.floor(Date.now() / 1000) * 1000 + 2000;
  const files = CHAIN.map(read);
  const checks = files.map((b, i) => verifyDocument(b, chain, { at, rootDigest: set.digest, ...(i === 0 ? {} : { previous: files[i - 1] }) }));
  const ms = files.map((b) => parseManifest(parseEnvelope(b).payload));
  const first = ms[0] as Manifest;
  const custody = parseManifest(parseEnvelope(read(join('custody', 'rotation.json'))).payload);
  const drill = verifyDocument(read('drill.json'), chain, { at, rootDigest: set.digest });
  const drillPass = (JSON.parse(Buffer.from(parseEnvelope(read('drill.json')).payload).toString('utf8')) as { result: string }).result === 'pass';
  const states = moments(ms).map((x) => ({ when: x.when, at: formatTime(x.at), state: keyState(chain, files, { at: x.at, rootDigest: set.digest }) }));
  const bad = [...checks.flatMap((c) => c.reasons), ...drill.reasons, ...states.flatMap((x) => x.state.reasons)];
  if (!checks.every((c) => c.valid) || !drill.valid || !drillPass || !states.every((x) => x.state.valid)) {
    throw new KeyceremonyError('DEMO_VERIFY_FAILED', `the demo's documents did not verify: ${bad.join('; ')}`, 'this is a bug: report it');
  }
  const kcv = (m: Manifest, id: string): string => `ecb:${m.keys.find((k) => k.id === id)?.kcv ?? ''}`;
  const backupId = custody.keys[0]?.id ?? 'backup-v1';
  const sealed = first.keys.filter((k) => k.binding !== null).map((k) => ({ name: k.name, id: k.id, file: join(dir, SEALED, `${k.id}.age`), binding: k.binding as string }));
  const exports = TARGETS.map((t) => {
    const rec = join(dir, 'export', t.name, 'export.json');
    if (!existsSync(rec)) return { target: t.name, dir: null, wrap: null, kcv: null, refused: 'EXPORT_MECHANISM_UNSUPPORTED' };
    const r = JSON.parse(readFileSync(rec, 'utf8')) as { wrap: string; kcv: string };
    return { target: t.name, dir: join(dir, 'export', t.name), wrap: r.wrap, kcv: r.kcv, refused: null };
  });
  const chainArgs = `--custodians ${join(dir, 'custodians.v1.json')} --root-digest ${set.digest} --manifests ${CHAIN.map((f) => join(dir, f)).join(' ')}`;
  say('Summary:');
  say(`  master-v1  kcv ${kcv(first, 'master-v1')}    ${backupId}  kcv ${kcv(custody, backupId)}`);
  say(`  ${join(dir, 'rotation.1.json')}: valid, signed by ${(checks[0]?.signers ?? []).join(' and ')}; check it: npx keyceremony verify ${join(dir, 'rotation.1.json')} --custodians ${join(dir, 'custodians.v1.json')} --root-digest ${set.digest}`);
  say(`  the deployment's chain, ${CHAIN.join(', ')}: prepare at ${formatTime(first.issued)}, dual-publish at ${states[1]?.at ?? ''}, cutover at ${states[2]?.at ?? ''}; each valid, signed by two`);
  say(`  ${join(dir, SEALED)}: ${sealed.length} secrets drawn from the HSM's RNG and sealed at once to the test deployment's age recipient (${join(dir, RECIPIENTS)}); its identity, ${join(dir, DEMO_IDENTITY)}, opens them: age -d -i ${join(dir, DEMO_IDENTITY)} ${join(dir, SEALED, `${sealed[0]?.id ?? 'webhook-v1'}.age`)}`);
  say('  The key state the chain gives (npx keyceremony state ' + `${chainArgs} --at TIME --json):`);
  for (const x of states) {
    say(`  at ${x.at} (${x.when === 'before-dual-publish' ? 'before the dual-publish takes effect' : x.when === 'dual-publish' ? 'the dual-publish in effect' : 'after the cutover'}):`);
    say(stateLines(x.state).join('\n'));
  }
  say(`  What the application reads after the cutover: AGE_IDENTITY="$(cat ${join(dir, DEMO_IDENTITY)})" npx keyceremony deploy ${chainArgs} --at ${states[2]?.at ?? ''} --secrets ${join(dir, SEALED)} --identity-env AGE_IDENTITY --format env --out app.env`);
  say(`  ${join(dir, 'drill.json')}: the drill passed; report signed by ${drill.signers.join(' and ')}`);
  say(`  ${join(dir, 'audit.jsonl')}: ${entries} entries; check it: npx keyceremony audit verify ${join(dir, 'audit.jsonl')} --custodians ${join(dir, 'custodians.v1.json')}`);
  say(`  ${join(dir, 'transcript.md')} and transcript.html: participants, steps, fingerprints, KCVs, files with their SHA-256, signature lines`);
  say('Demo complete: every key was generated inside its token; no key material left a token in clear, except the backup key between its split and its import, as custody requires, and each delivered secret between its draw and its sealing.');
  return {
    dir, resumed,
    master: { kcv: kcv(first, 'master-v1') }, backup: { kcv: kcv(custody, backupId) },
    custodians: set.custodians.map((c) => ({ id: c.id, publicKey: Buffer.from(c.publicKey.bytes).toString('hex'), fingerprint: fingerprint(c.publicKey.bytes) })),
    custodianSet: { file: join(dir, 'custodians.v1.json'), digest: set.digest, threshold: set.threshold },
    manifest: { file: join(dir, 'rotation.1.json'), digest: first.digest, signers: checks[0]?.signers ?? [], valid: checks[0]?.valid ?? false },
    chain: { manifests: CHAIN.map((f) => join(dir, f)), states },
    secrets: { dir: join(dir, SEALED), identity: join(dir, DEMO_IDENTITY), recipients: join(dir, RECIPIENTS), sealed },
    custody: { dir: join(dir, 'custody'), manifest: join(dir, 'custody', 'rotation.json') },
    drill: { file: join(dir, 'drill.json'), pass: drillPass, signers: drill.signers },
    exports,
    audit: { file: join(dir, 'audit.jsonl'), entries },
    transcript: { markdown: join(dir, 'transcript.md'), html: join(dir, 'transcript.html') },
  };
}
