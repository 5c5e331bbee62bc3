/**
 * The ceremony engine (issue 7): runs a validated script step by step against tokens the caller
 * resolved (a profile for a real run, throw-away SoftHSM2 tokens for a rehearsal), with the audit
 * log as its write-ahead journal: `step.begin` is fsynced before a step touches a token and
 * `step.done`, with the step's results, after. Re-running over the same folder resumes: done
 * steps are skipped, and a step that began but did not finish adopts what it already made (a key
 * whose label exists, a folder that was renamed into place, a signed file) instead of making it
 * again, or destroys what was half made (a split whose shares lived only in memory) and starts
 * that step over. So a crash never repeats a key generation, a signature or an export.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { ed25519 } from '@noble/curves/ed25519.js';
import { join } from 'node:path';
import { AuditWriter } from '../audit/writer.js';
import { isLineProblem, parseLine } from '../audit/log.js';
import type { AuditEntry, DetailValue } from '../audit/log.js';
import { buildDrillReport, runDrill } from '../backup/drill.js';
import { loadCustodyPlan } from '../backup/plan.js';
import { ShareCollector } from '../backup/shares.js';
import { shareLabel, readShare } from '../backup/token-shares.js';
import { CUSTODY_MANIFEST, splitBackupKey, writeCustodyFolder } from '../backup/split.js';
import { crashpoint } from '../crashpoint.js';
import { fingerprint } from '../crypto/fingerprint.js';
import { buildCustodianSet } from '../custodians/set.js';
import { formatTime } from '../docs/fields.js';
import { formatProblem } from '../docs/problems.js';
import { PAYLOAD_TYPES } from '../docs/types.js';
import { MAX_ENVELOPE_BYTES, parseEnvelope, serializeEnvelope } from '../dsse/envelope.js';
import type { Envelope } from '../dsse/envelope.js';
import { addSignature } from '../dsse/sign.js';
import { KeyceremonyError, isKeyceremonyError } from '../errors.js';
import { checkKekForTarget, writeExport } from '../export/export.js';
import { parseKek } from '../export/kek.js';
import { findTarget } from '../export/targets.js';
import { wrapKey } from '../export/wrap.js';
import { filesUnder, readInput, removeStaleTemporaries, writeFileAtomic } from '../files.js';
import { sha256File } from '../manifest/artifacts.js';
import { SEED_INVENTORY } from '../manifest/inventory.js';
import { buildManifest, followOn } from '../manifest/manifest.js';
import { pkcs11js } from '../pkcs11/binding.js';
import { findEd25519Pair, findOne, formatKcv, generateAesKey, generateEd25519, keyCheckValue } from '../pkcs11/keys.js';
import { withSession } from '../pkcs11/session.js';
import type { Session } from '../pkcs11/session.js';
import { tokenSigner } from '../pkcs11/signer.js';
import type { Token } from '../pkcs11/tokens.js';
import { verifyChain, verifyDocument } from '../verify/verify.js';
import type { TrustedChain } from '../verify/verify.js';
import { SET_ACTIONS } from './script.js';
import type { CeremonyScript, Step } from './script.js';
import { transcriptHtml, transcriptMarkdown } from './transcript.js';
import type { TranscriptModel } from './transcript.js';

/**
 * A token of the script and its PIN: the bytes, or (a custodian typing it at the terminal) a
 * function that asks for it when the token is first needed and gives the same bytes after.
 */
export interface ResolvedToken { readonly token: Token; readonly pin: Uint8Array | (() => Promise<Uint8Array>) }

/** The PIN of a resolved token, asked for now if it has not been yet. */
export async function pinOf(t: ResolvedToken): Promise<Uint8Array> {
  return typeof t.pin === 'function' ? t.pin() : t.pin;
}

export interface RunOptions {
  readonly script: CeremonyScript;
  /** The ceremony folder: every output, the audit log, the transcript. */
  readonly dir: string;
  /** The folder the script's input paths (KMS wrapping keys) are relative to. */
  readonly inputs: string;
  readonly tokens: ReadonlyMap<string, ResolvedToken>;
  /** A witness confirms words read aloud (or the clock): typed words or yes. */
  readonly confirm: (q: { readonly who: string; readonly what: string; readonly words?: readonly string[] }) => Promise<boolean>;
  readonly say: (line: string) => void;
  readonly simulation: boolean;
  readonly now?: () => number;
  /** Recorded in the log before the first step (rehearsal, network allowed, no rehearsal). */
  readonly notes?: readonly { readonly action: string; readonly details: Record<string, DetailValue> }[];
}

export interface RunResult {
  readonly dir: string;
  readonly resumed: boolean;
  readonly steps: readonly { readonly id: string; readonly title: string; readonly outcome: string; readonly skipped: boolean }[];
  readonly audit: { readonly file: string; readonly entries: number; readonly log: string };
  readonly transcript: { readonly markdown: string; readonly html: string };
}

interface StepResult { title: string; outcome: string; lines: string[]; keys: string[]; details: Record<string, DetailValue> }

const KEY_SUFFIX = '-sign-v1';

function doneEntries(file: string): Map<string, AuditEntry> {
  const done = new Map<string, AuditEntry>();
  if (!existsSync(file)) return done;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line === '') continue;
    const e = parseLine(line);
    if (!isLineProblem(e) && e.action === 'step.done' && typeof e.details.step === 'string') done.set(e.details.step, e);
  }
  return done;
}

/** The custodian set files in force at the end of a ceremony's log (relative to its folder), root first; [] before any set step is done. */
export function chainInForce(auditFile: string): string[] {
  let chain: string[] = [];
  if (!existsSync(auditFile)) return chain;
  for (const line of readFileSync(auditFile, 'utf8').split('\n')) {
    if (line === '') continue;
    const e = parseLine(line);
    if (!isLineProblem(e) && e.action === 'step.done' && Array.isArray(e.details.chain)) chain = e.details.chain as string[];
  }
  return chain;
}

type LoadStep = Extract<Step, { action: 'load-custodian-set' }>;

/**
 * The chain a load-custodian-set step brings in, read from the inputs and verified (root pinned
 * when the step pins it), with the custodians of its newest set that hold a card in the script:
 * they must be enough to meet its threshold. The preflight and the step itself read it alike.
 */
function loadedChain(script: CeremonyScript, step: LoadStep, inputs: string, at: number): { files: Uint8Array[]; chain: TrustedChain; present: TrustedChain['newest']['custodians'] } {
  const files = step.chain.map((p) => readInput(join(inputs, p), 'the custodian set', MAX_ENVELOPE_BYTES));
  const r = verifyChain(files, { at, rootDigest: step.rootDigest ?? undefined });
  if (r.chain === null) {
    throw new KeyceremonyError('CEREMONY_CHAIN_INVALID', `the custodian set chain (${step.chain.join(', ')}) does not verify: ${r.reasons.map(formatProblem).join('; ')}`, 'bring the chain the earlier ceremonies wrote, root first, and its pinned root digest');
  }
  const newest = r.chain.newest;
  const present = newest.custodians.filter((c) => script.tokens.some((t) => t.holder === c.id));
  if (present.length < newest.threshold) {
    throw new KeyceremonyError('CEREMONY_QUORUM_ABSENT', `set version ${newest.version} needs ${newest.threshold} custodians, and the script has cards for ${present.map((c) => c.id).join(', ') || 'none of them'}`, "add the custodians' cards to the script's tokens");
  }
  return { files, chain: r.chain, present };
}

/**
 * Every input file the script names, read and checked before the first token operation (KMS
 * wrapping keys for their targets, the chain of a loaded set, earlier ceremonies' manifests), so
 * a missing or wrong file stops the ceremony before anything is made rather than halfway through.
 */
export function checkInputs(script: CeremonyScript, inputs: string, at: number): void {
  const problems: string[] = [];
  let unreadable = false;
  const check = (what: string, fn: () => void): void => {
    try {
      fn();
    } catch (err) {
      if (!isKeyceremonyError(err)) throw err;
      unreadable ||= err.exit === 2;
      problems.push(`${what}: ${err.code}: ${err.message}`);
    }
  };
  script.steps.forEach((step, i) => {
    if (step.action === 'export') {
      for (const x of step.targets) {
        const target = findTarget(x.target);
        if (target !== undefined) check(`step ${step.id}, ${x.kek}`, () => checkKekForTarget(parseKek(readInput(join(inputs, x.kek), 'the KMS wrapping key', 64 * 1024)), target));
      }
    } else if (step.action === 'load-custodian-set') {
      check(`step ${step.id}, ${step.chain.join(', ')}`, () => {
        // the loaded set's threshold is known only now: the signers of the steps it governs must meet it
        const newest = loadedChain(script, step, inputs, at).chain.newest;
        const next = script.steps.findIndex((x, j) => j > i && SET_ACTIONS.includes(x.action));
        for (const later of script.steps.slice(i + 1, next < 0 ? undefined : next + 1)) {
          if (!('signers' in later) || later.action === 'custodian-set') continue;
          const members = later.signers.filter((c) => newest.custodians.some((m) => m.id === c));
          if (members.length < newest.threshold) {
            throw new KeyceremonyError('CEREMONY_QUORUM_INVALID', `step ${later.id} is signed by ${later.signers.join(', ')}, and set version ${newest.version} needs ${newest.threshold} of its custodians (${newest.custodians.map((m) => m.id).join(', ')})`, 'name enough of the set\'s custodians as the step\'s signers');
          }
        }
      });
    } else if (step.action === 'manifest' && step.previous !== null && !script.steps.slice(0, i).some((s) => s.action === 'manifest' && s.out === step.previous)) {
      const previous = step.previous;
      check(`step ${step.id}, ${previous}`, () => followOn(readInput(join(inputs, previous), 'the previous rotation manifest', MAX_ENVELOPE_BYTES)));
    }
  });
  if (problems.length > 0) {
    // a file that is missing or cannot be read is a usage error (CLI.md: exit 2); one that reads but does not check out, a refusal (exit 1)
    throw new KeyceremonyError('CEREMONY_INPUTS_INVALID', `${problems.length} input file(s) of the script cannot be used: ${problems.join(' | ')}`,
      `put the files the script names in ${inputs} (the KMS wrapping keys, the earlier ceremonies' custodian sets and manifests), then start again`, { exit: unreadable ? 2 : 1 });
  }
}

export async function runCeremony(o: RunOptions): Promise<RunResult> {
  const now = o.now ?? (() => Date.now());
  const script = o.script;
  checkInputs(script, o.inputs, now());
  mkdirSync(o.dir, { recursive: true });
  const auditFile = join(o.dir, 'audit.jsonl');
  const resumed = existsSync(auditFile);
  const stale = resumed ? removeStaleTemporaries(o.dir, ['softhsm']) : [];
  const done = doneEntries(auditFile);
  const admin = script.participants.find((p) => p.role === 'administrator')?.id ?? script.participants[0]?.id ?? 'admin';
  const audit = AuditWriter.open(auditFile, admin, now);
  if (!resumed) {
    const t = formatTime(now());
    if (!(await o.confirm({ who: admin, what: `the ceremony clock reads ${t} UTC` }))) throw new KeyceremonyError('CEREMONY_CLOCK_REFUSED', `the clock (${t} UTC) was not confirmed`, 'set the clock to UTC and start again');
    audit.append({ actor: admin, action: 'ceremony.start', keys: [], details: { ceremony: script.id, script: script.digest, clock: t, simulation: o.simulation } });
    for (const n of o.notes ?? []) audit.append({ actor: admin, action: n.action, keys: [], details: n.details });
  } else {
    audit.append({ actor: admin, action: 'ceremony.resume', keys: [], details: { ceremony: script.id, script: script.digest, done: [...done.keys()], removed: stale } });
  }
  const tok = (name: string): ResolvedToken => {
    const t = o.tokens.get(name);
    if (t === undefined) throw new KeyceremonyError('CEREMONY_TOKEN_UNRESOLVED', `the script's token ${name} was not resolved`, 'name it in the profile');
    return t;
  };
  const participantName = (id: string): string => script.participants.find((p) => p.id === id)?.name ?? id;
  const cardOf = (custodian: string): ResolvedToken => tok(script.tokens.find((t) => t.holder === custodian)?.name ?? '');
  const signOn = async (env: Envelope, custodian: string): Promise<Envelope> => {
    const c = cardOf(custodian);
    return withSession(c.token, await pinOf(c), async (s) => addSignature(env, tokenSigner(s, { label: `${custodian}${KEY_SUFFIX}` })));
  };
  const signAll = async (env: Envelope, signers: readonly string[]): Promise<Envelope> => {
    let e = env;
    for (const s of signers) if (!e.signatures.some((x) => x.keyid === chainKeyid(s))) e = await signOn(e, s);
    return e;
  };
  let chain: TrustedChain | null = null;
  let chainBytes: Uint8Array[] = [];
  /** The set files in force, root first, relative to the ceremony folder. */
  let chainFiles: string[] = [];
  const chainKeyid = (custodian: string): string => chain?.newest.custodians.find((c) => c.id === custodian)?.keyid ?? '';
  const loadChain = (files: readonly string[]): void => {
    chainFiles = [...files];
    chainBytes = files.map((f) => new Uint8Array(readFileSync(join(o.dir, f))));
    chain = verifyChain(chainBytes, { at: now() }).chain;
  };
  /** A custodian's signing key on their card: found, or (make) generated when there is none; never made twice. */
  const cardKey = async (c: string, make: boolean): Promise<Uint8Array> => {
    const card = cardOf(c);
    const label = `${c}${KEY_SUFFIX}`;
    return withSession(card.token, await pinOf(card), async (s) => {
      try {
        return findEd25519Pair(s, { label }).publicKey; // made before a crash: adopted, never made twice
      } catch (err) {
        if (!make || !isKeyceremonyError(err) || err.code !== 'HSM_OBJECT_NOT_FOUND') throw err;
        return (await generateEd25519(s, { label })).publicKey;
      }
    });
  };
  /** The fingerprint of c's key read aloud and confirmed by the witness; its line for the transcript. */
  const confirmFingerprint = async (c: string, publicKey: Uint8Array, witness: string): Promise<string> => {
    const fp = fingerprint(publicKey);
    o.say(`  ${c}: fingerprint ${fp.hex}\n         read aloud: ${fp.words.join(' ')}`);
    if (!(await o.confirm({ who: witness, what: `the fingerprint of ${c}'s key, read aloud`, words: fp.words }))) {
      throw new KeyceremonyError('CEREMONY_WITNESS_REFUSED', `${witness} did not confirm the fingerprint of ${c}'s key`, `${c} reads the words again from their own card; if they differ, stop the ceremony`);
    }
    return `${c}: ${fp.hex} (${fp.words.join(' ')})`;
  };
  /** The public key (hex) a custodian-keys step of this ceremony recorded for c. */
  const keyMadeFor = (c: string): string | undefined => [...done.values(), ...stepDone.values()]
    .flatMap((e) => (Array.isArray(e.details.publicKeys) ? e.details.publicKeys as string[] : [])).find((k) => k.startsWith(`${c}:`))?.slice(c.length + 1);
  const signNew = async (payloadType: string, payload: Uint8Array, signers: readonly string[]): Promise<Envelope> => {
    let env: Envelope = { payloadType, payload, signatures: [] };
    for (const s of signers) env = await signOn(env, s);
    return env;
  };
  const requireChain = (): TrustedChain => {
    if (chain === null) throw new KeyceremonyError('CEREMONY_NO_CUSTODIAN_SET', 'this step needs the custodian set, and none was formed before it', 'put a custodian-set step first');
    return chain;
  };

  const run = async (step: Step): Promise<StepResult> => {
    switch (step.action) {
      case 'custodian-keys': {
        const lines: string[] = [];
        const keys: string[] = [];
        for (const c of step.custodians) {
          const publicKey = await cardKey(c, true);
          lines.push(await confirmFingerprint(c, publicKey, step.witness));
          keys.push(`${c}:${Buffer.from(publicKey).toString('hex')}`);
        }
        return { title: `Custodians ${step.custodians.join(', ')} generate their signing keys on their cards`, outcome: `fingerprints confirmed by ${step.witness}`, lines, keys: step.custodians.map((c) => `${c}${KEY_SUFFIX}`), details: { publicKeys: keys } };
      }
      case 'custodian-set': {
        const file = join(o.dir, step.out);
        if (!existsSync(file)) {
          const members = step.members.map((c) => {
            const hex = keyMadeFor(c);
            if (hex === undefined) throw new KeyceremonyError('CEREMONY_NO_CUSTODIAN_KEY', `${c} has no signing key yet`, 'put a custodian-keys step for them first');
            return { id: c, name: participantName(c), publicKey: new Uint8Array(Buffer.from(hex, 'hex')) };
          });
          const t = now();
          const payload = buildCustodianSet({ version: 1, issued: formatTime(t), expires: formatTime(t + 365 * 86400_000), threshold: step.threshold, custodians: members });
          writeFileAtomic(file, serializeEnvelope(await signNew(PAYLOAD_TYPES.custodians, payload, step.signers)), false);
        }
        loadChain([step.out]);
        const c = requireChain();
        return { title: `Form the ${c.newest.threshold}-of-${c.newest.custodians.length} custodian set`, outcome: `set version 1, digest ${c.newest.digest}`, lines: [step.out], keys: [], details: { file: step.out, digest: c.newest.digest, chain: [step.out] } };
      }
      case 'load-custodian-set': {
        const names = step.chain.map((p) => p.split('/').pop() as string);
        const { files, chain: given, present } = loadedChain(script, step, o.inputs, now());
        const { sets, newest } = given;
        const root = sets[0] as (typeof sets)[number];
        if (step.rootDigest === null) {
          o.say(`  the root set (version ${root.version}) has digest ${root.digest}`);
          if (!(await o.confirm({ who: step.witness, what: `the root set's digest ${root.digest}, against the record of the ceremony that made it` }))) {
            throw new KeyceremonyError('CEREMONY_WITNESS_REFUSED', `${step.witness} did not confirm the root set's digest`, 'stop: this is not the custodian set the organisation trusts');
          }
        }
        const lines: string[] = [];
        let inForce: string[];
        if (!o.simulation) {
          // each custodian present proves their card holds the key the set lists for them
          for (const c of present) {
            const onCard = await cardKey(c.id, false);
            if (Buffer.compare(Buffer.from(onCard), Buffer.from(c.publicKey.bytes)) !== 0) {
              throw new KeyceremonyError('CEREMONY_CARD_KEY_MISMATCH', `the key on "${cardOf(c.id).token.label}" is not ${c.id}'s key in set version ${newest.version}`, `${c.id} brings the card whose key the set lists (fingerprint ${c.fingerprint.hex})`);
            }
            lines.push(await confirmFingerprint(c.id, onCard, step.witness));
          }
          names.forEach((n, i) => {
            const to = join(o.dir, n);
            if (!existsSync(to)) writeFileAtomic(to, files[i] as Uint8Array, false);
            else if (Buffer.compare(readFileSync(to), files[i] as Uint8Array) !== 0) {
              throw new KeyceremonyError('CEREMONY_FILE_CONFLICT', `${to} is already in the ceremony folder and is not the ${step.chain[i] as string} brought in`, 'use a new ceremony folder, or bring the same chain the interrupted run used');
            }
          });
          inForce = names;
        } else {
          // a rehearsal's throw-away cards cannot hold the custodians' keys: a stand-in set of the
          // same version, members and threshold with the cards' keys (members without a card get a key no one holds)
          const standIn = `rehearsal-${names[names.length - 1] as string}`;
          if (!existsSync(join(o.dir, standIn))) {
            const members = await Promise.all(newest.custodians.map(async (c) => ({ id: c.id, name: c.name,
              publicKey: present.includes(c) ? await cardKey(c.id, true) : ed25519.getPublicKey(ed25519.utils.randomSecretKey()) })));
            const t = now();
            const payload = buildCustodianSet({ version: newest.version, issued: formatTime(t), expires: formatTime(t + 365 * 86400_000), threshold: newest.threshold, custodians: members });
            writeFileAtomic(join(o.dir, standIn), serializeEnvelope(await signNew(PAYLOAD_TYPES.custodians, payload, present.map((c) => c.id))), false);
          }
          lines.push(`rehearsal: ${standIn} stands in for set version ${newest.version} (${root.digest} is the real root)`);
          inForce = [standIn];
        }
        loadChain(inForce);
        return { title: `Load custodian set version ${newest.version} (${newest.threshold}-of-${newest.custodians.length}), chain of ${sets.length}`, outcome: `root ${root.digest} ${step.rootDigest === null ? `confirmed by ${step.witness}` : 'pinned'}; ${o.simulation ? 'rehearsal stand-in' : `${present.length} cards match`}`,
          lines, keys: [], details: { chain: inForce, digest: requireChain().newest.digest, root: root.digest } };
      }
      case 'rotate-custodian-set': {
        const c = requireChain();
        const file = join(o.dir, step.out);
        const version = c.newest.version + 1;
        if (!existsSync(file)) {
          const members = step.members.map((id) => {
            const hex = keyMadeFor(id) ?? c.newest.custodians.find((x) => x.id === id)?.publicKey.bytes;
            if (hex === undefined) throw new KeyceremonyError('CEREMONY_NO_CUSTODIAN_KEY', `${id} is new to the set and has no signing key yet`, 'put a custodian-keys step for them first');
            return { id, name: participantName(id), publicKey: typeof hex === 'string' ? new Uint8Array(Buffer.from(hex, 'hex')) : hex };
          });
          const t = now();
          const payload = buildCustodianSet({ version, issued: formatTime(t), expires: formatTime(t + 365 * 86400_000), threshold: step.threshold, custodians: members });
          const env = await signNew(PAYLOAD_TYPES.custodians, payload, step.signers);
          const bytes = new TextEncoder().encode(serializeEnvelope(env));
          const check = verifyChain([...chainBytes, bytes], { at: now() });
          if (check.chain === null) {
            throw new KeyceremonyError('CEREMONY_SET_ROTATION_INVALID', `set version ${version} would not verify: ${check.reasons.map(formatProblem).join('; ')}`, `the signers must meet the threshold of set version ${c.newest.version} and of the new set`);
          }
          writeFileAtomic(file, bytes, false);
        }
        loadChain([...chainFiles, step.out]);
        const n = requireChain().newest;
        return { title: `Rotate the custodian set to version ${n.version}: ${n.threshold}-of-${n.custodians.length}`, outcome: `signed by the thresholds of versions ${n.version - 1} and ${n.version}, digest ${n.digest}`, lines: [step.out], keys: [],
          details: { file: step.out, digest: n.digest, chain: [...chainFiles] } };
      }
      case 'generate-key': {
        const t = tok(step.token);
        const r = await withSession(t.token, await pinOf(t), async (s) => {
          const B = pkcs11js();
          try {
            const h = findOne(s, B.CKO_SECRET_KEY, { label: step.label }, 'secret key'); // made before a crash: adopted
            return { kcv: await keyCheckValue(s, h), adopted: true };
          } catch (err) {
            if (!isKeyceremonyError(err) || err.code !== 'HSM_OBJECT_NOT_FOUND') throw err;
            const k = await generateAesKey(s, { label: step.label, role: step.label.startsWith('backup') ? 'backup' : 'master', extractable: step.extractable });
            return { kcv: k.kcv, adopted: false };
          }
        });
        o.say(`  ${step.label}: kcv ${formatKcv(r.kcv)} on "${t.token.label}"`);
        if (!(await o.confirm({ who: step.witness, what: `the check value of ${step.label}: ${formatKcv(r.kcv)}` }))) throw new KeyceremonyError('CEREMONY_WITNESS_REFUSED', `${step.witness} did not confirm ${step.label}`, 'stop the ceremony');
        return { title: `Generate ${step.label} in "${t.token.label}"`, outcome: `kcv ${formatKcv(r.kcv)}`, lines: [], keys: [step.label], details: { token: t.token.label, kcv: r.kcv.value, extractable: step.extractable } };
      }
      case 'split-backup': {
        const c = requireChain();
        const dir = join(o.dir, step.out);
        const hsm = tok(step.token);
        if (!existsSync(join(dir, CUSTODY_MANIFEST))) {
          // the shares of an interrupted split lived only in memory: destroy what it made, then split again
          await destroyHalfSplit(hsm, step.backupKey, step.holders.map(cardOf));
          const cards: { custodian: string; token: Token; pin: Uint8Array }[] = [];
          for (const h of step.holders) cards.push({ custodian: h, token: cardOf(h).token, pin: await pinOf(cardOf(h)) }); // asked one at a time
          const split = await splitBackupKey({ hsm: hsm.token, hsmPin: await pinOf(hsm), ceremony: `${script.id}-custody`, backupKey: step.backupKey, threshold: step.threshold, keys: step.keys, cards });
          crashpoint(`step:${step.id}:split`);
          await writeCustodyFolder(dir, split, { custodianSet: c.newest.version, actor: step.actor, now: now() });
        }
        const file = join(dir, CUSTODY_MANIFEST);
        const signed = await signAll(parseEnvelope(new Uint8Array(readFileSync(file))), step.signers);
        writeFileAtomic(file, serializeEnvelope(signed), true);
        const plan = loadCustodyPlan(new Uint8Array(readFileSync(file)), chainBytes, dir, { at: now() });
        return { title: `Split ${step.backupKey} ${step.threshold}-of-${step.holders.length} onto the custodians' cards`, outcome: `kcv ecb:${plan.backupKcv}; custody manifest signed by ${plan.signers.join(', ')}`,
          lines: plan.receipts.map((r) => `${r.custodian}: share ${r.index}, commitment ${r.commitment}`), keys: [step.backupKey, ...step.keys], details: { folder: step.out, kcv: plan.backupKcv, holders: [...step.holders] } };
      }
      case 'manifest': {
        const c = requireChain();
        const file = join(o.dir, step.out);
        // the manifest this one follows: an earlier step's, or one an earlier ceremony wrote (an input)
        const priorFile = step.previous === null ? undefined
          : join(script.steps.slice(0, script.steps.indexOf(step)).some((s) => s.action === 'manifest' && s.out === step.previous) ? o.dir : o.inputs, step.previous);
        const prior = priorFile === undefined ? undefined : readInput(priorFile, 'the previous rotation manifest', MAX_ENVELOPE_BYTES);
        if (!existsSync(file)) {
          const t = now();
          const { sequence, previous } = followOn(prior);
          const entries = SEED_INVENTORY.filter((e) => step.keys.includes(e.name));
          const kcvs = new Map([...done.values(), ...stepDone.values()].filter((e) => typeof e.details.kcv === 'string' && e.keys[0] !== undefined).map((e) => [e.keys[0] as string, e.details.kcv as string] as const));
          const payload = buildManifest({ ceremony: script.id, sequence, previous, custodianSet: c.newest.version, issued: formatTime(t), expires: formatTime(t + 30 * 86400_000), actor: step.actor, artifacts: [],
            keys: entries.map((e) => { const id = `${e.prefix}-v${step.keyVersion}`; return { name: e.name, id, supersedes: step.keyVersion > 1 ? `${e.prefix}-v${step.keyVersion - 1}` : null, algorithm: e.algorithm, phase: step.phase, kcv: kcvs.get(id) ?? null, notBefore: formatTime(t) }; }) });
          const signed = new TextEncoder().encode(serializeEnvelope(await signAll({ payloadType: PAYLOAD_TYPES.rotation, payload, signatures: [] }, step.signers)));
          // verified before it is written: a manifest the set does not approve is never left looking finished
          const check = verifyDocument(signed, chainBytes, { at: now(), previous: prior });
          if (!check.valid) throw new KeyceremonyError('CEREMONY_MANIFEST_INVALID', `${step.out} would not verify: ${check.reasons.join('; ')}`, 'nothing was written: correct the script (its signers must meet the threshold of the set in force) and start again');
          writeFileAtomic(file, signed, false);
        }
        const v = verifyDocument(new Uint8Array(readFileSync(file)), chainBytes, { at: now(), previous: prior });
        if (!v.valid) throw new KeyceremonyError('CEREMONY_MANIFEST_INVALID', `${step.out} does not verify: ${v.reasons.join('; ')}`, 'stop the ceremony and inspect the file');
        return { title: `Rotation manifest: ${step.keys.length} key(s), ${step.phase}, version ${step.keyVersion}`, outcome: `valid, signed by ${v.signers.join(', ')}`, lines: [step.out],
          keys: SEED_INVENTORY.filter((e) => step.keys.includes(e.name)).map((e) => `${e.prefix}-v${step.keyVersion}`), details: { file: step.out, signers: [...v.signers] } };
      }
      case 'export': {
        const t = tok(step.token);
        const lines: string[] = [];
        const made: string[] = [];
        for (const x of step.targets) {
          const target = findTarget(x.target);
          if (target === undefined) continue;
          const outDir = join(o.dir, step.out, target.name);
          if (existsSync(join(outDir, 'export.json'))) { // renamed into place whole before a crash: adopted
            const rec = JSON.parse(readFileSync(join(outDir, 'export.json'), 'utf8')) as { wrap: string; kcv: string };
            lines.push(`${target.name}: ${rec.wrap}, kcv ${rec.kcv}`);
            made.push(target.name);
            continue;
          }
          const kek = parseKek(readInput(join(o.inputs, x.kek), 'the KMS wrapping key', 64 * 1024));
          const hash = target.hash ?? 'sha256';
          try {
            checkKekForTarget(kek, target);
            const wrapped = await withSession(t.token, await pinOf(t), (s) => wrapKey(s, { label: step.key }, kek, target.construction, hash));
            const rec = await writeExport({ target, hash, kek, keyUri: `pkcs11:token=${encodeURIComponent(t.token.label)};object=${step.key};type=secret-key`, outDir, force: false, ...(x.kekId === null ? {} : { kekId: x.kekId }) }, wrapped);
            lines.push(`${target.name}: ${rec.wrap}, kcv ${rec.kcv}`);
            made.push(target.name);
          } catch (err) {
            if (!isKeyceremonyError(err) || err.code !== 'EXPORT_MECHANISM_UNSUPPORTED') throw err;
            lines.push(`${target.name}: refused (${err.code}): the key is never taken out in clear`);
          }
        }
        o.say(lines.map((l) => `  ${l}`).join('\n'));
        return { title: `Export ${step.key} for ${step.targets.length} cloud KMS target(s)`, outcome: `${made.length} written and read back, ${step.targets.length - made.length} refused`, lines, keys: [step.key], details: { folder: step.out, targets: made } };
      }
      case 'drill': {
        requireChain();
        const file = join(o.dir, step.out);
        if (!existsSync(file)) {
          const custody = join(o.dir, step.custody);
          const plan = loadCustodyPlan(new Uint8Array(readFileSync(join(custody, CUSTODY_MANIFEST))), chainBytes, custody, { at: now() });
          const collector = new ShareCollector(plan.expected);
          for (const p of step.presenters) {
            const card = cardOf(p);
            const share = await withSession(card.token, await pinOf(card), async (s) => readShare(s, plan.backupKey));
            try { collector.present(share); } finally { share.fill(0); }
            o.say(`  ${p} presented a share: checked against its commitment`);
          }
          const presented = collector.custodians;
          const target = tok(step.token);
          const started = Math.floor(now() / 1000) * 1000;
          const outcome = await withSession(target.token, await pinOf(target), (s) => runDrill(s, collector, plan.backupKey, plan.backupKcv, plan.blobs, plan.manifestKcvs));
          const payload = buildDrillReport({ drill: `${script.id}-drill`, custodianSet: requireChain().newest.version, started, finished: Math.max(started, Math.floor(now() / 1000) * 1000), backupKey: plan.backupKey, outcome, sharesPresented: presented, threshold: plan.expected.threshold });
          const signed = await signAll({ payloadType: PAYLOAD_TYPES.drill, payload, signatures: [] }, step.signers);
          writeFileAtomic(file, serializeEnvelope(signed), false);
          if (!outcome.pass) throw new KeyceremonyError(outcome.failures[0] ?? 'DRILL_FAILED', `the drill failed: ${outcome.failures.join(', ')}`, 'stop: the backup does not restore; the signed report says what failed');
        }
        const v = verifyDocument(new Uint8Array(readFileSync(file)), chainBytes, { at: now() + 1000 });
        const report = JSON.parse(Buffer.from(parseEnvelope(new Uint8Array(readFileSync(file))).payload).toString('utf8')) as { result: string; restored: { id: string; kcv: string }[] };
        return { title: `Restoration drill: ${step.presenters.join(', ')} present their shares`, outcome: `${report.result}; report signed by ${v.signers.join(', ')}`,
          lines: report.restored.map((r) => `${r.id}: kcv ${r.kcv}, matches the manifest`), keys: report.restored.map((r) => r.id), details: { file: step.out, result: report.result } };
      }
    }
  };

  const stepDone = new Map<string, AuditEntry>();
  const summary: { id: string; title: string; outcome: string; skipped: boolean }[] = [];
  for (const [i, step] of script.steps.entries()) {
    const prior = done.get(step.id);
    if (prior !== undefined) {
      if (SET_ACTIONS.includes(step.action)) loadChain(Array.isArray(prior.details.chain) ? prior.details.chain as string[] : []);
      summary.push({ id: step.id, title: String(prior.details.title), outcome: String(prior.details.outcome), skipped: true });
      o.say(`Step ${i + 1} (${step.id}): done before, skipped`);
      continue;
    }
    o.say(`Step ${i + 1} (${step.id}): ${step.action}, ${step.actor} acts now`);
    audit.append({ actor: step.actor, action: 'step.begin', keys: [], details: { step: step.id, kind: step.action } });
    crashpoint(`step:${step.id}:begin`);
    const r = await run(step);
    crashpoint(`step:${step.id}:performed`);
    const seq = audit.append({ actor: step.actor, action: 'step.done', keys: r.keys, details: { step: step.id, title: r.title, outcome: r.outcome, lines: r.lines, ...r.details } });
    stepDone.set(step.id, { seq, time: '', actor: step.actor, action: 'step.done', keys: r.keys, details: { step: step.id, title: r.title, outcome: r.outcome, lines: r.lines, ...r.details }, prev: '', hash: '' });
    summary.push({ id: step.id, title: r.title, outcome: r.outcome, skipped: false });
  }

  // the checkpoint: the custodian set's signers sign the log as it stands
  const c = requireChain();
  const checkpointFile = join(o.dir, 'audit.checkpoint.json');
  if (!existsSync(checkpointFile)) {
    let env = audit.checkpointEnvelope(c.newest.version);
    const present = c.newest.custodians.filter((x) => script.tokens.some((t) => t.holder === x.id)).slice(0, c.newest.threshold);
    for (const s of present) env = await signOn(env, s.id);
    crashpoint('checkpoint:signed');
    audit.appendCheckpoint(admin, env);
    writeFileAtomic(checkpointFile, serializeEnvelope(env), false);
  }
  const transcript = buildTranscript(o, auditFile, admin);
  writeFileAtomic(join(o.dir, 'transcript.md'), transcriptMarkdown(transcript), true);
  writeFileAtomic(join(o.dir, 'transcript.html'), transcriptHtml(transcript), true);
  return { dir: o.dir, resumed, steps: summary, audit: { file: auditFile, entries: audit.entries, log: audit.log }, transcript: { markdown: join(o.dir, 'transcript.md'), html: join(o.dir, 'transcript.html') } };
}

/** Before a split starts (again): a backup key and share objects left by an interrupted one are destroyed. */
async function destroyHalfSplit(hsm: ResolvedToken, backupKey: string, cards: readonly ResolvedToken[]): Promise<void> {
  const B = pkcs11js();
  const purge = (s: Session, klass: number, label: string): void => {
    for (const h of s.findObjects([{ type: B.CKA_CLASS, value: klass }, { type: B.CKA_LABEL, value: label }], 8)) s.api.C_DestroyObject(s.handle, h);
  };
  await withSession(hsm.token, await pinOf(hsm), async (s) => purge(s, B.CKO_SECRET_KEY, backupKey));
  for (const c of cards) await withSession(c.token, await pinOf(c), async (s) => purge(s, B.CKO_DATA, shareLabel(backupKey)));
}

/** The transcript, from the audit log alone: a resumed ceremony gets the same one. */
function buildTranscript(o: RunOptions, auditFile: string, admin: string): TranscriptModel {
  const entries = readFileSync(auditFile, 'utf8').split('\n').filter((l) => l !== '').map(parseLine).filter((e): e is AuditEntry => !isLineProblem(e));
  const start = entries.find((e) => e.action === 'ceremony.start');
  const last = entries[entries.length - 1];
  const steps = o.script.steps.flatMap((s) => {
    const e = [...entries].reverse().find((x) => x.action === 'step.done' && x.details.step === s.id);
    return e === undefined ? [] : [{ title: String(e.details.title), actor: e.actor, outcome: String(e.details.outcome), lines: (e.details.lines as string[] | undefined) ?? [] }];
  });
  const fingerprints = entries.flatMap((e) => (Array.isArray(e.details.publicKeys) ? (e.details.publicKeys as string[]) : [])).map((k) => {
    const [who, hex] = k.split(':') as [string, string];
    const fp = fingerprint(new Uint8Array(Buffer.from(hex, 'hex')));
    return { who, hex: fp.hex, words: fp.words };
  });
  const kcvs = entries.filter((e) => e.action === 'step.done' && typeof e.details.kcv === 'string').map((e) => ({ key: e.keys[0] ?? '', kcv: `ecb:${String(e.details.kcv)}` }));
  const files = listFiles(o.dir);
  return {
    title: o.script.title, ceremony: o.script.id, started: start?.time ?? '', finished: last?.time ?? '', simulation: o.simulation,
    participants: o.script.participants.map((p) => ({ id: p.id, name: p.name, role: p.role })), steps, fingerprints, kcvs, files,
    exceptions: entries.filter((e) => e.action === 'ceremony.resume' || e.action === 'log.recover' || e.action === 'airgap.override' || e.action === 'rehearsal.skipped')
      .map((e) => `${e.time}: ${e.action}${e.action === 'ceremony.resume' ? ' after an interruption' : ''} (recorded by ${e.actor === admin ? 'the administrator' : e.actor})`),
    audit: { log: String(entries[0]?.details.log ?? ''), entries: entries.length, head: last?.hash ?? '' },
  };
}

function listFiles(dir: string): { path: string; sha256: string; bytes: number }[] {
  return filesUnder(dir, ['softhsm', 'audit.jsonl', 'transcript.md', 'transcript.html']).map((path) => ({ path, ...sha256File(join(dir, path)) }));
}
