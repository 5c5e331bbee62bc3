/**
 * `keyceremony demo`: a whole ceremony on throw-away SoftHSM2 tokens in a folder of its own, so
 * nothing touches the user's real token store. PINs are random, held in buffers, never shown,
 * and zeroed at the end. Later capabilities (signed manifests, exports, drills) add their steps.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuditWriter } from '../audit/writer.js';
import type { DetailValue } from '../audit/log.js';
import { buildDrillReport, runDrill } from '../backup/drill.js';
import { loadCustodyPlan } from '../backup/plan.js';
import { ShareCollector } from '../backup/shares.js';
import { CUSTODY_MANIFEST, splitBackupKey, writeCustodyFolder } from '../backup/split.js';
import { readShare } from '../backup/token-shares.js';
import { zero } from '../bytes.js';
import { buildCustodianSet, parseCustodianSet, payloadDigest } from '../custodians/set.js';
import { formatTime } from '../docs/fields.js';
import { PAYLOAD_TYPES } from '../docs/types.js';
import { parseEnvelope, serializeEnvelope } from '../dsse/envelope.js';
import type { Envelope } from '../dsse/envelope.js';
import { addSignature } from '../dsse/sign.js';
import { KeyceremonyError, isKeyceremonyError } from '../errors.js';
import { checkKekForTarget, writeExport } from '../export/export.js';
import { parseKek } from '../export/kek.js';
import type { Kek } from '../export/kek.js';
import { TARGETS } from '../export/targets.js';
import { wrapKey } from '../export/wrap.js';
import { writeFileAtomic } from '../files.js';
import { sha256File } from '../manifest/artifacts.js';
import { SEED_INVENTORY } from '../manifest/inventory.js';
import { transcriptHtml, transcriptMarkdown } from './transcript.js';
import type { TranscriptModel } from './transcript.js';
import { buildManifest } from '../manifest/manifest.js';
import { formatKcv, generateAesKey, generateEd25519, signEd25519 } from '../pkcs11/keys.js';
import { tokenSigner } from '../pkcs11/signer.js';
import { formatPkcs11Uri } from '../pkcs11/uri.js';
import type { Token } from '../pkcs11/tokens.js';
import { verifyDocument } from '../verify/verify.js';
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
  readonly custodianSet: { readonly file: string; readonly digest: string; readonly threshold: number };
  readonly manifest: { readonly file: string; readonly digest: string; readonly signers: readonly string[]; readonly valid: boolean };
  readonly custody: { readonly dir: string; readonly manifest: string; readonly files: number };
  readonly audit: { readonly file: string; readonly entries: number };
  readonly transcript: { readonly markdown: string; readonly html: string };
  readonly drill: { readonly file: string; readonly pass: boolean; readonly signers: readonly string[] };
  readonly exports: readonly { readonly target: string; readonly dir: string | null; readonly wrap: string | null; readonly kcv: string | null; readonly refused: string | null }[];
}

/** Every document the demo left in `dir`, with its SHA-256 (the tokens and the log itself excepted). */
function listFiles(dir: string): { path: string; sha256: string; bytes: number }[] {
  const out: { path: string; sha256: string; bytes: number }[] = [];
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const r = rel === '' ? name : `${rel}/${name}`;
      if (r === 'softhsm' || r === 'audit.jsonl' || name.startsWith('.')) continue;
      if (statSync(join(dir, r)).isDirectory()) walk(r);
      else out.push({ path: r, ...sha256File(join(dir, r)) });
    }
  };
  walk('');
  return out;
}

export const DEMO_CUSTODIANS = ['alice', 'bob', 'carol'] as const;
const DEMO_BACKUP_CEREMONY = 'demo-backup-custody';

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
  // The audit log and the transcript: every step recorded with its time, actor and key ids.
  const ceremonyStarted = Date.now();
  const audit = AuditWriter.open(join(opts.dir, 'audit.jsonl'), 'admin');
  const steps: { title: string; actor: string; outcome: string; lines: string[] }[] = [];
  const record = (title: string, actor: string, outcome: string, lines: string[], entry: { action: string; keys: string[]; details?: Record<string, DetailValue> }): void => {
    steps.push({ title, actor, outcome, lines });
    audit.append({ actor, action: entry.action, keys: entry.keys, details: entry.details ?? {} });
  };
  const fingerprints: { who: string; hex: string; words: readonly string[] }[] = [];
  try {
    say('Step 1: initialise the ceremony HSM and one smartcard per custodian (random PINs, never shown)');
    const hsmPin = pin();
    const hsm = initSimulationToken(mod, 'Ceremony HSM', pin(), hsmPin);
    const cards = DEMO_CUSTODIANS.map((id) => {
      const userPin = pin();
      return { id, pin: userPin, token: initSimulationToken(mod, `custodian-${id}`, pin(), userPin) };
    });
    say(`  tokens: ${[hsm, ...cards.map((c) => c.token)].map((t) => `"${t.label}" (serial ${t.info.serial})`).join(', ')}`);
    record('Initialise the simulation tokens', 'admin', 'done', [hsm, ...cards.map((c) => c.token)].map((t) => `"${t.label}" serial ${t.info.serial}`),
      { action: 'tokens.init', keys: [], details: { tokens: [hsm, ...cards.map((c) => c.token)].map((t) => t.label), simulation: true } });

    say('Step 2: generate the master key (AES-256, for AES-256-GCM) in the HSM, and a separate backup key held 2-of-3 by the custodians');
    const master = await withSession(hsm, hsmPin, async (s) => generateAesKey(s, { label: 'master-v1', role: 'master', extractable: true }));
    say(`  master-v1  kcv ${formatKcv(master.kcv)}  ${master.uri}`);
    // the backup key is drawn from the HSM's RNG, split, imported into the HSM (wrap/unwrap only) and zeroed in host memory
    const split = await splitBackupKey({ hsm, hsmPin, ceremony: DEMO_BACKUP_CEREMONY, backupKey: 'backup-v1', threshold: 2, keys: ['master-v1'],
      cards: cards.map((c) => ({ custodian: c.id, token: c.token, pin: c.pin })) });
    const backup = { uri: formatPkcs11Uri({ token: hsm.label, serial: hsm.info.serial, object: 'backup-v1', type: 'secret-key' }), kcv: { method: 'ecb' as const, value: split.backupKcv } };
    say(`  backup-v1  kcv ${formatKcv(backup.kcv)}  split 2-of-3: one share on each custodian card, read back from every card and checked; 2 shares recombine to this KCV`);
    say('  master-v1 wrapped under backup-v1 in the HSM (AES-KWP), with a canary encrypted under master-v1');
    record('Generate the master key in the HSM', 'admin', `kcv ${formatKcv(master.kcv)}`, [master.uri], { action: 'key.generate', keys: ['master-v1'], details: { token: hsm.label, kcv: master.kcv.value, extractable: true } });
    record('Generate the backup key and split it 2-of-3 onto the custodian cards', 'admin', `kcv ${formatKcv(backup.kcv)}; every share read back; 2 shares recombine to it`,
      split.receipts.map((r) => `${r.custodian}: share ${r.index} on "${r.holder.kind === 'token' ? r.holder.token : 'paper'}", commitment ${r.commitment}`),
      { action: 'backup.split', keys: ['backup-v1', 'master-v1'], details: { threshold: 2, total: 3, kcv: split.backupKcv, holders: split.receipts.map((r) => r.custodian) } });

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
      fingerprints.push({ who: c.id, hex: key.fingerprint.hex, words: key.fingerprint.words });
      record(`${c.id} generates an Ed25519 signing key on their card`, c.id, `fingerprint ${key.fingerprint.hex.slice(0, 16)}…, to read aloud`, [key.fingerprint.words.join(' ')],
        { action: 'key.generate', keys: [`${c.id}-sign-v1`], details: { token: c.token.label, fingerprint: key.fingerprint.hex } });
    }
    const signOn = async (env: Envelope, card: { id: string; pin: Buffer; token: Token }): Promise<Envelope> =>
      withSession(card.token, card.pin, async (s) => addSignature(env, tokenSigner(s, { label: `${card.id}-sign-v1` })));

    const now = Math.floor(Date.now() / 1000) * 1000;
    say('Step 4: the custodians form a 2-of-3 custodian set; the root set is signed on all three cards');
    const setPayload = buildCustodianSet({
      version: 1, issued: formatTime(now), expires: formatTime(now + 365 * 24 * 3600 * 1000), threshold: 2,
      custodians: custodians.map((c) => ({ id: c.id, name: `${c.id[0]?.toUpperCase()}${c.id.slice(1)} (demo custodian)`, publicKey: new Uint8Array(Buffer.from(c.publicKey, 'hex')) })),
    });
    let setEnv: Envelope = { payloadType: PAYLOAD_TYPES.custodians, payload: setPayload, signatures: [] };
    for (const card of cards) setEnv = await signOn(setEnv, card);
    const setFile = join(opts.dir, 'custodians.v1.json');
    writeFileAtomic(setFile, serializeEnvelope(setEnv), false);
    const set = parseCustodianSet(setPayload);
    say(`  ${setFile}  (digest ${set.digest}: pin it with --root-digest)`);
    record('Form the 2-of-3 custodian set, signed by all three', 'alice', `set version 1, digest ${set.digest}`, [], { action: 'custodians.create', keys: [], details: { version: 1, threshold: 2, digest: set.digest, signers: DEMO_CUSTODIANS.map(String) } });

    say('Step 5: a rotation manifest for the seed inventory (prepare, version 1), signed by alice and bob');
    const manifestPayload = buildManifest({
      ceremony: `demo-${formatTime(now).slice(0, 10)}`, sequence: 1, previous: null, custodianSet: 1, issued: formatTime(now),
      expires: formatTime(now + 30 * 24 * 3600 * 1000), actor: 'alice', artifacts: [],
      keys: SEED_INVENTORY.map((e) => ({ name: e.name, id: `${e.prefix}-v1`, supersedes: null, algorithm: e.algorithm, phase: 'prepare', notBefore: formatTime(now),
        kcv: e.prefix === 'master' ? master.kcv.value : e.prefix === 'backup' ? backup.kcv.value : null })),
    });
    let manifestEnv: Envelope = { payloadType: PAYLOAD_TYPES.rotation, payload: manifestPayload, signatures: [] };
    for (const card of cards.slice(0, 2)) manifestEnv = await signOn(manifestEnv, card);
    const manifestFile = join(opts.dir, 'rotation.1.json');
    const manifestText = serializeEnvelope(manifestEnv);
    writeFileAtomic(manifestFile, manifestText, false);

    say('Step 6: verify the manifest against the custodian chain, as a deployment pipeline would');
    const result = verifyDocument(new TextEncoder().encode(manifestText), [new TextEncoder().encode(serializeEnvelope(setEnv))], { at: now, rootDigest: set.digest });
    if (!result.valid) throw new KeyceremonyError('DEMO_VERIFY_FAILED', `the demo manifest did not verify: ${result.reasons.join('; ')}`, 'this is a bug: report it');
    say(`  ${manifestFile}: valid, signed by ${result.signers.join(' and ')} (threshold ${result.threshold})`);
    say(`  check it yourself: npx keyceremony verify ${manifestFile} --custodians ${setFile} --root-digest ${set.digest}`);
    record('Write the rotation manifest for the seed inventory (prepare), signed by alice and bob; verified', 'alice', `valid, signed by ${result.signers.join(', ')}`, [],
      { action: 'manifest.sign', keys: SEED_INVENTORY.map((e) => `${e.prefix}-v1`), details: { file: 'rotation.1.json', digest: payloadDigest(manifestPayload), signers: [...result.signers] } });
    say('Step 6b: the custody folder (backup blob, share receipts with their commitments) and its manifest, signed by alice and bob');
    const custodyDir = join(opts.dir, 'custody');
    const custodyFiles = await writeCustodyFolder(custodyDir, split, { custodianSet: 1, actor: 'alice', now });
    const custodyFile = join(custodyDir, CUSTODY_MANIFEST);
    let custodyEnv = parseEnvelope(new Uint8Array(readFileSync(custodyFile)));
    for (const card of cards.slice(0, 2)) custodyEnv = await signOn(custodyEnv, card);
    writeFileAtomic(custodyFile, serializeEnvelope(custodyEnv), true);
    say(`  ${custodyFile}: check it yourself: npx keyceremony verify ${custodyFile} --custodians ${setFile} --artifacts ${custodyDir}`);
    record('Write the custody folder and its manifest, signed by alice and bob', 'alice', `${custodyFiles.length} files`, custodyFiles.map((f) => f.path),
      { action: 'custody.write', keys: ['backup-v1', 'master-v1'], details: { folder: 'custody', files: custodyFiles.map((f) => f.path) } });
    say('Step 7: export the master key for every cloud KMS target, against test KMS wrapping keys made for the demo');
    const keks = new Map<number, Kek>();
    for (const bits of [3072, 4096]) {
      const spki = generateKeyPairSync('rsa', { modulusLength: bits }).publicKey.export({ type: 'spki', format: 'der' });
      keks.set(bits, parseKek(spki)); // the private halves stay in this process and die with it
      mkdirSync(join(opts.dir, 'kms-test-keys'), { recursive: true });
      writeFileAtomic(join(opts.dir, 'kms-test-keys', `rsa-${bits}.spki.der`), spki, false);
    }
    const exports: { target: string; dir: string | null; wrap: string | null; kcv: string | null; refused: string | null }[] = [];
    for (const target of TARGETS) {
      const kek = keks.get(target.kekBits.includes(3072) ? 3072 : 4096) as Kek;
      const dir = join(opts.dir, 'export', target.name);
      const hash = target.hash ?? 'sha256';
      try {
        checkKekForTarget(kek, target);
        const wrapped = await withSession(hsm, hsmPin, (s) => wrapKey(s, { label: 'master-v1' }, kek, target.construction, hash));
        const record = await writeExport({ target, hash, kek, keyUri: master.uri, outDir: dir, force: false,
          ...(target.cloud === 'azure' ? { kekId: 'https://demo-vault.vault.azure.net/keys/demo-kek/00000000000000000000000000000000' } : {}) }, wrapped);
        exports.push({ target: target.name, dir, wrap: record.wrap, kcv: record.kcv, refused: null });
        say(`  ${target.name.padEnd(34)} ${record.wrap.padEnd(6)} kcv ${record.kcv}  ${join(dir, target.file)}`);
      } catch (err) {
        if (!isKeyceremonyError(err) || err.code !== 'EXPORT_MECHANISM_UNSUPPORTED') throw err;
        exports.push({ target: target.name, dir: null, wrap: null, kcv: null, refused: err.code });
        say(`  ${target.name.padEnd(34)} refused: SoftHSM2 has no OAEP with SHA-256, and the key is never taken out in clear`);
      }
    }
    record('Export the master key for every cloud KMS target', 'admin', `${exports.filter((e) => e.dir !== null).length} exported, ${exports.filter((e) => e.dir === null).length} refused (no OAEP-SHA-256 in SoftHSM2)`,
      exports.map((e) => `${e.target}: ${e.refused ?? `${e.wrap ?? ''} kcv ${e.kcv ?? ''}`}`), { action: 'key.export', keys: ['master-v1'], details: { targets: exports.filter((e) => e.dir !== null).map((e) => e.target) } });
    say('Step 8: a restoration drill on a fresh token: alice and carol present their shares; the master key is restored and proven');
    const drillPin = pin();
    const drillToken = initSimulationToken(mod, 'Drill token', pin(), drillPin);
    const started = Date.now();
    // the drill trusts only the signed custody manifest and the files it lists
    const chainBytes = [new TextEncoder().encode(serializeEnvelope(setEnv))];
    const plan = loadCustodyPlan(new Uint8Array(readFileSync(custodyFile)), chainBytes, custodyDir, { at: Math.floor(Date.now() / 1000) * 1000, rootDigest: set.digest });
    const collector = new ShareCollector(plan.expected);
    const presenters = [cards[0], cards[2]] as { id: string; pin: Buffer; token: Token }[];
    for (const card of presenters) {
      const share = await withSession(card.token, card.pin, async (s) => readShare(s, 'backup-v1'));
      collector.present(share);
      share.fill(0);
      say(`  ${card.id} presented a share: checked against its commitment in the signed receipt`);
    }
    const outcome = await withSession(drillToken, drillPin, (s) => runDrill(s, collector, plan.backupKey, plan.backupKcv, plan.blobs, plan.manifestKcvs));
    const reportPayload = buildDrillReport({ drill: `demo-drill-${formatTime(now).slice(0, 10)}`, custodianSet: 1, started: Math.floor(started / 1000) * 1000, finished: Math.floor(Date.now() / 1000) * 1000,
      backupKey: 'backup-v1', outcome, sharesPresented: presenters.map((c) => c.id), threshold: 2 });
    let reportEnv: Envelope = { payloadType: PAYLOAD_TYPES.drill, payload: reportPayload, signatures: [] };
    for (const card of presenters) reportEnv = await signOn(reportEnv, card);
    const drillFile = join(opts.dir, 'drill.json');
    const drillText = serializeEnvelope(reportEnv);
    writeFileAtomic(drillFile, drillText, false);
    const drillCheck = verifyDocument(new TextEncoder().encode(drillText), [new TextEncoder().encode(serializeEnvelope(setEnv))], { at: Math.floor(Date.now() / 1000) * 1000 + 1000, rootDigest: set.digest });
    if (!outcome.pass || !drillCheck.valid) throw new KeyceremonyError('DEMO_DRILL_FAILED', `the demo drill did not pass: ${[...outcome.failures, ...drillCheck.reasons].join('; ')}`, 'this is a bug: report it');
    say(`  restored master-v1 kcv ${outcome.restored[0]?.kcv ?? ''} (matches the manifest), canary decrypted; drill objects destroyed`);
    say(`  ${drillFile}: drill report, signed by ${drillCheck.signers.join(' and ')}`);
    record('Restoration drill on a fresh token: alice and carol present their shares', 'alice', outcome.pass ? 'pass: master-v1 restored with a matching KCV, canary decrypted' : 'fail',
      outcome.restored.map((r) => `${r.id} kcv ${r.kcv}`), { action: 'drill.run', keys: ['backup-v1', 'master-v1'], details: { result: outcome.pass ? 'pass' : 'fail', presented: presenters.map((c) => c.id), file: 'drill.json' } });

    say('Step 9: the audit log is checkpointed, signed on alice\'s and bob\'s cards; the transcript is written');
    let checkpoint = audit.checkpointEnvelope(1);
    for (const card of cards.slice(0, 2)) checkpoint = await signOn(checkpoint, card);
    audit.appendCheckpoint('admin', checkpoint);
    writeFileAtomic(join(opts.dir, 'audit.checkpoint.json'), serializeEnvelope(checkpoint), false);
    const finished = Date.now();
    const model: TranscriptModel = {
      title: 'keyceremony demo: key ceremony on simulation tokens', ceremony: `demo-${formatTime(now).slice(0, 10)}`, started: formatTime(ceremonyStarted), finished: formatTime(finished), simulation: true,
      participants: [{ id: 'admin', name: 'Ceremony administrator (demo)', role: 'administrator' }, ...DEMO_CUSTODIANS.map((id) => ({ id, name: `${id[0]?.toUpperCase()}${id.slice(1)} (demo custodian)`, role: 'custodian' }))],
      steps, fingerprints, exceptions: exports.filter((e) => e.refused !== null).map((e) => `${e.target}: refused (${e.refused ?? ''}): SoftHSM2 has no OAEP with SHA-256, and the key is never taken out in clear`),
      kcvs: [{ key: 'master-v1', kcv: formatKcv(master.kcv) }, { key: 'backup-v1', kcv: formatKcv(backup.kcv) }],
      files: listFiles(opts.dir), audit: { log: audit.log, entries: audit.entries, head: audit.lastHash },
    };
    writeFileAtomic(join(opts.dir, 'transcript.md'), transcriptMarkdown(model), false);
    writeFileAtomic(join(opts.dir, 'transcript.html'), transcriptHtml(model), false);
    say(`  ${join(opts.dir, 'audit.jsonl')}: ${audit.entries} entries; check it: npx keyceremony audit verify ${join(opts.dir, 'audit.jsonl')} --custodians ${setFile}`);
    say(`  ${join(opts.dir, 'transcript.md')} and transcript.html: participants, steps, fingerprints, KCVs, files with their SHA-256, signature lines`);
    say('Demo complete: every key was generated inside its token; no key material left a token in clear, except the backup key between its split and its import, as custody requires.');
    return {
      dir: opts.dir,
      module: modulePath,
      master: { uri: master.uri, kcv: formatKcv(master.kcv) },
      backup: { uri: backup.uri, kcv: formatKcv(backup.kcv) },
      custodians,
      custodianSet: { file: setFile, digest: set.digest, threshold: set.threshold },
      manifest: { file: manifestFile, digest: payloadDigest(manifestPayload), signers: result.signers, valid: result.valid },
      exports,
      custody: { dir: custodyDir, manifest: custodyFile, files: custodyFiles.length },
      audit: { file: join(opts.dir, 'audit.jsonl'), entries: audit.entries },
      transcript: { markdown: join(opts.dir, 'transcript.md'), html: join(opts.dir, 'transcript.html') },
      drill: { file: drillFile, pass: outcome.pass, signers: drillCheck.signers },
    };
  } finally {
    zero(...secrets);
    mod.close();
  }
}
