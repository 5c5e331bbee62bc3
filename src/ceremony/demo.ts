/**
 * `keyceremony demo`: the quarterly master-key rotation template, run as a rehearsal on throw-away
 * SoftHSM2 tokens in a folder of its own, so nothing touches the user's real token store. The
 * demo writes the script it runs (ceremony.json) and test KMS wrapping keys (kms/), and the
 * engine does the rest: custodian keys, the 2-of-3 set, the master key, backup custody, the
 * signed manifest, exports, a drill, the checkpointed audit log and the transcript. Interrupted,
 * `keyceremony demo --dir DIR` on the same folder resumes it.
 */
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fingerprint } from '../crypto/fingerprint.js';
import { parseCustodianSet } from '../custodians/set.js';
import { parseEnvelope } from '../dsse/envelope.js';
import { KeyceremonyError } from '../errors.js';
import { TARGETS } from '../export/targets.js';
import { Folder } from '../files.js';
import { parseManifest } from '../manifest/manifest.js';
import { verifyDocument } from '../verify/verify.js';
import { preflightRun, runCeremony } from './engine.js';
import { openRehearsalTokens } from './rehearsal.js';
import { parseScript } from './script.js';
import { kekPath, templateText } from './templates.js';

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
  readonly manifest: { readonly file: string; readonly digest: string; readonly signers: readonly string[]; readonly valid: boolean };
  readonly custody: { readonly dir: string; readonly manifest: string };
  readonly drill: { readonly file: string; readonly pass: boolean; readonly signers: readonly string[] };
  readonly exports: readonly { readonly target: string; readonly dir: string | null; readonly wrap: string | null; readonly kcv: string | null; readonly refused: string | null }[];
  readonly audit: { readonly file: string; readonly entries: number };
  readonly transcript: { readonly markdown: string; readonly html: string };
}

export const DEMO_TEMPLATE = 'quarterly-master-rotation';

/** What a demo writes into its folder (besides hidden temporary files). */
const DEMO_NAMES = new Set(['ceremony.json', 'kms', 'softhsm', 'audit.jsonl', 'custodians.v1.json', 'custody', 'rotation.1.json', 'export', 'drill.json', 'audit.checkpoint.json', 'transcript.md', 'transcript.html']);

/** True when `dir` holds a demo that was interrupted: only what a demo writes, and no final checkpoint yet. */
export function demoInProgress(dir: string): boolean {
  if (!existsSync(dir) || existsSync(join(dir, 'audit.checkpoint.json'))) return false;
  const names = readdirSync(dir);
  return names.length > 0 && names.every((n) => DEMO_NAMES.has(n) || n.startsWith('.'));
}

export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const say = opts.say;
  const scriptFile = join(opts.dir, 'ceremony.json');
  mkdirSync(opts.dir, { recursive: true });
  const folder = Folder.open(opts.dir); // the demo's own files too: never written or read through a link
  folder.removeStaleTemporaries(['softhsm']); // an interrupted demo resumes without its half-written files
  if (!folder.exists('ceremony.json')) folder.write('ceremony.json', templateText(DEMO_TEMPLATE) as string);
  // test KMS wrapping keys, one per size the targets take (each written once; their private halves are not kept)
  const missing = TARGETS.filter((t) => !folder.exists(kekPath(t.name, t.kekBits.includes(3072) ? 3072 : 4096)));
  if (missing.length > 0) {
    if (!folder.exists('kms')) folder.mkdir('kms');
    const spki = new Map([3072, 4096].map((bits) => [bits, generateKeyPairSync('rsa', { modulusLength: bits }).publicKey.export({ type: 'spki', format: 'der' })]));
    for (const t of missing) {
      const bits = t.kekBits.includes(3072) ? 3072 : 4096;
      folder.write(kekPath(t.name, bits), spki.get(bits) as Buffer);
    }
  }
  const script = parseScript(folder.read('ceremony.json', 'the ceremony script', 256 * 1024));
  const plan = { script, dir: opts.dir, inputs: opts.dir, simulation: true, declared: [scriptFile] };
  preflightRun(plan); // the folder holds only the demo's own files before its token store is opened
  const rehearsal = openRehearsalTokens(script, opts.dir, opts.module);
  try {
    say(`Simulation tokens: SoftHSM2 ${rehearsal.module.info.libraryVersion} at ${rehearsal.module.path}, stored in ${join(opts.dir, 'softhsm')} (a rehearsal: nothing here is protected by hardware)`);
    say(`Script: ${scriptFile} (${script.title}, ${script.steps.length} steps, ${script.digest})`);
    const run = await runCeremony({
      ...plan, tokens: rehearsal.tokens, say,
      // the demo has no one in the room: its witness confirms, and the transcript says it was a rehearsal
      confirm: async (q) => { say(`  ${q.who} confirms ${q.what}${q.words === undefined ? '' : ''}`); return true; },
      notes: [{ action: 'rehearsal.start', details: { reason: 'keyceremony demo', tokens: 'throw-away SoftHSM2' } }, { action: 'airgap.override', details: { reason: 'a demo rehearsal may run with the network up' } }],
    });
    return summarise(opts.dir, run.resumed, run.audit.entries, say);
  } finally {
    rehearsal.close();
  }
}

function summarise(dir: string, resumed: boolean, entries: number, say: (l: string) => void): DemoResult {
  const read = (f: string): Uint8Array => new Uint8Array(readFileSync(join(dir, f)));
  const chain = [read('custodians.v1.json')];
  const set = parseCustodianSet(parseEnvelope(chain[0] as Uint8Array).payload);
  const at = Math.floor(Date.now() / 1000) * 1000 + 2000;
  const manifest = verifyDocument(read('rotation.1.json'), chain, { at, rootDigest: set.digest });
  const m = parseManifest(parseEnvelope(read('rotation.1.json')).payload);
  const drill = verifyDocument(read('drill.json'), chain, { at, rootDigest: set.digest });
  const drillPass = (JSON.parse(Buffer.from(parseEnvelope(read('drill.json')).payload).toString('utf8')) as { result: string }).result === 'pass';
  if (!manifest.valid || !drill.valid || !drillPass) throw new KeyceremonyError('DEMO_VERIFY_FAILED', `the demo's documents did not verify: ${[...manifest.reasons, ...drill.reasons].join('; ')}`, 'this is a bug: report it');
  const kcv = (id: string): string => `ecb:${m.keys.find((k) => k.id === id)?.kcv ?? ''}`;
  const exports = TARGETS.map((t) => {
    const rec = join(dir, 'export', t.name, 'export.json');
    if (!existsSync(rec)) return { target: t.name, dir: null, wrap: null, kcv: null, refused: 'EXPORT_MECHANISM_UNSUPPORTED' };
    const r = JSON.parse(readFileSync(rec, 'utf8')) as { wrap: string; kcv: string };
    return { target: t.name, dir: join(dir, 'export', t.name), wrap: r.wrap, kcv: r.kcv, refused: null };
  });
  say('Summary:');
  say(`  master-v1  kcv ${kcv('master-v1')}    backup-v1  kcv ${kcv('backup-v1')}`);
  say(`  ${join(dir, 'rotation.1.json')}: valid, signed by ${manifest.signers.join(' and ')}; check it: npx keyceremony verify ${join(dir, 'rotation.1.json')} --custodians ${join(dir, 'custodians.v1.json')} --root-digest ${set.digest}`);
  say(`  ${join(dir, 'drill.json')}: the drill passed; report signed by ${drill.signers.join(' and ')}`);
  say(`  ${join(dir, 'audit.jsonl')}: ${entries} entries; check it: npx keyceremony audit verify ${join(dir, 'audit.jsonl')} --custodians ${join(dir, 'custodians.v1.json')}`);
  say(`  ${join(dir, 'transcript.md')} and transcript.html: participants, steps, fingerprints, KCVs, files with their SHA-256, signature lines`);
  say('Demo complete: every key was generated inside its token; no key material left a token in clear, except the backup key between its split and its import, as custody requires.');
  return {
    dir, resumed,
    master: { kcv: kcv('master-v1') }, backup: { kcv: kcv('backup-v1') },
    custodians: set.custodians.map((c) => ({ id: c.id, publicKey: Buffer.from(c.publicKey.bytes).toString('hex'), fingerprint: fingerprint(c.publicKey.bytes) })),
    custodianSet: { file: join(dir, 'custodians.v1.json'), digest: set.digest, threshold: set.threshold },
    manifest: { file: join(dir, 'rotation.1.json'), digest: m.digest, signers: manifest.signers, valid: manifest.valid },
    custody: { dir: join(dir, 'custody'), manifest: join(dir, 'custody', 'rotation.json') },
    drill: { file: join(dir, 'drill.json'), pass: drillPass, signers: drill.signers },
    exports,
    audit: { file: join(dir, 'audit.jsonl'), entries },
    transcript: { markdown: join(dir, 'transcript.md'), html: join(dir, 'transcript.html') },
  };
}
