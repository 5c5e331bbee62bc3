/**
 * `keyceremony backup split` and `keyceremony drill` (issue 6). CLI.md does not define these two
 * commands; they follow its common rules (exit codes, one-line errors, PINs from a named
 * environment variable or a prompt, nothing overwritten, --json).
 *
 * Each custodian's share is named by a spec, `custodian=ID,token=LABEL[,pin-env=NAME]` for a card
 * or `custodian=ID,paper=FILE[,passphrase-env=NAME]` for a paper share, so that every share has its
 * own secret source: the variable the user names, else a prompt naming the card or the custodian.
 *
 * A paper share's passphrase is never chosen by a person (issue 14, item 11): `backup split`
 * generates 8 words per paper custodian, shows them once on the terminal (stderr: never stdout, a
 * log or a file, so a terminal is required), clears the screen and has them typed back before the
 * HSM is touched; `passphrase-env=` is refused there. A drill asks for the words (or reads them
 * from the variable passphrase-env= names) and refuses anything but 8 words of the list.
 */
import { dirname, join, resolve } from 'node:path';
import { encodePaperShare, openPaperShare, parsePaperShare } from '../../backup/paper.js';
import type { PaperShare } from '../../backup/paper.js';
import { PaperPassphrase, PASSPHRASE_BITS, PASSPHRASE_WORDS } from '../../backup/passphrase.js';
import { paperShareHtml } from '../../backup/paper-print.js';
import { ShareCollector } from '../../backup/shares.js';
import { readShare } from '../../backup/token-shares.js';
import { CUSTODY_MANIFEST, splitBackupKey } from '../../backup/split.js';
import type { CustodianCard, PaperHolder } from '../../backup/split.js';
import { zero } from '../../bytes.js';
import { CUSTODIAN_ID } from '../../custodians/set.js';
import { sanitizeText } from '../../docs/sanitize.js';
import { PAYLOAD_TYPES } from '../../docs/types.js';
import { serializeEnvelope } from '../../dsse/envelope.js';
import { KeyceremonyError, usageError } from '../../errors.js';
import { buildFolderAtomically, checkOutputDir, readInput, refuseExisting, writeFileAtomic } from '../../files.js';
import { CEREMONY_ID, KEY_ID } from '../../manifest/manifest.js';
import { withSession } from '../../pkcs11/session.js';
import { findToken } from '../../pkcs11/tokens.js';
import type { Pkcs11Module } from '../../pkcs11/module.js';
import type { Token } from '../../pkcs11/tokens.js';
import { COMMON_OPTIONS, parse, TOKEN_OPTIONS } from '../args.js';
import { openModule } from '../context.js';
import { newestSetMembers, requireCustodian } from '../../usecases/custodians.js';
import { drillId, openDrill, presentShare, restoreFromShares, splitHolders } from '../../usecases/drill.js';
import { checkCustodyFolder, checkSplitHolders, writeCustody } from '../../usecases/split.js';
import { atOption, CHAIN_OPTIONS, chainOption, readDocument, rootDigestOption, trustedChain } from '../docs.js';
import { writeJson, writeLines } from '../io.js';
import type { Io, Warnings } from '../io.js';
import { readPassphrase, readPin } from '../pin.js';

export const BACKUP_USAGE = 'keyceremony backup split --hsm LABEL --backup-key ID --key ID [--key ID ...] --card custodian=ID,token=LABEL[,pin-env=NAME] [--card ...] [--paper custodian=ID ... --paper-out DIR] --threshold M --ceremony ID --actor ID --custodians SET [...] --out DIR [--pin-env NAME] [--module PATH] [--json]';
export const DRILL_USAGE = 'keyceremony drill --manifest FILE --custodians SET [...] [--root-digest sha256:HEX] [--dir DIR] --token LABEL --share custodian=ID,(token=LABEL[,pin-env=NAME]|paper=FILE[,passphrase-env=NAME]) [--share ...] [--all-shares] [--restore] [--id ID] --out FILE [--pin-env NAME] [--module PATH] [--json]';

/** `custodian=ID,token=LABEL[,pin-env=NAME]` or `custodian=ID,paper=FILE[,passphrase-env=NAME]`. */
interface HolderSpec { readonly custodian: string; readonly token?: string; readonly paper?: string; readonly secretEnv: string | undefined }

/** `allowed`: where the share is (token=, paper=); 'sealing' is a paper share still to be made (custodian= only: its words are generated). */
function holderSpec(spec: string, flag: string, usage: string, allowed: readonly ('token' | 'paper')[] | 'sealing'): HolderSpec {
  const fields = new Map<string, string>();
  const names = allowed === 'sealing' ? ['custodian'] : ['custodian', ...allowed, ...allowed.map((a) => (a === 'token' ? 'pin-env' : 'passphrase-env'))];
  for (const part of spec.split(',')) {
    const eq = part.indexOf('=');
    const k = eq <= 0 ? part : part.slice(0, eq);
    if (allowed === 'sealing' && k === 'passphrase-env') {
      throw usageError('SHARE_PASSPHRASE_CHOSEN', `${flag}: a paper share's passphrase is not chosen: keyceremony generates ${PASSPHRASE_WORDS} words (${PASSPHRASE_BITS} bits) and shows them on the terminal`, `leave out passphrase-env=; the custodian writes down the words shown and types them back`);
    }
    if (eq <= 0 || !names.includes(k) || fields.has(k)) {
      throw usageError('USAGE', `${flag} ${JSON.stringify(spec.slice(0, 80))}: ${JSON.stringify(k.slice(0, 20))} is not one of ${names.map((n) => `${n}=`).join(', ')}, or is repeated`, `usage: ${usage}`);
    }
    fields.set(k, part.slice(eq + 1));
  }
  const custodian = fields.get('custodian');
  if (custodian === undefined || !CUSTODIAN_ID.test(custodian)) throw usageError('USAGE', `${flag} needs custodian=ID (a custodian id of the set)`, `usage: ${usage}`);
  const token = fields.get('token');
  const paper = fields.get('paper');
  if (allowed === 'sealing') return { custodian, secretEnv: undefined };
  if (allowed.includes('token') && !allowed.includes('paper') && token === undefined) throw usageError('USAGE', `${flag} needs token=LABEL (the custodian's card)`, `usage: ${usage}`);
  if ((token === undefined) === (paper === undefined) && allowed.length > 1) throw usageError('USAGE', `${flag} needs exactly one of token=LABEL and paper=FILE`, `usage: ${usage}`);
  if (token !== undefined && (token.length === 0 || token.length > 32)) throw usageError('USAGE', `${flag} token= is a token label of 1 to 32 characters`, `usage: ${usage}`);
  if (paper !== undefined && paper.length === 0) throw usageError('USAGE', `${flag} paper= names the file of the paper share`, `usage: ${usage}`);
  if (token === undefined && fields.has('pin-env')) throw usageError('USAGE', `${flag}: pin-env= goes with token=`, `usage: ${usage}`);
  if (paper === undefined && fields.has('passphrase-env')) throw usageError('USAGE', `${flag}: passphrase-env= goes with paper=`, `usage: ${usage}`);
  return { custodian, ...(token === undefined ? {} : { token }), ...(paper === undefined ? {} : { paper }), secretEnv: fields.get('pin-env') ?? fields.get('passphrase-env') };
}

const CLEAR_SCREEN = '\x1b[H\x1b[2J\x1b[3J';
/** Tries to type a paper share's words back before the split gives up (nothing made yet). */
const CONFIRM_TRIES = 3;

/** The words are shown on the terminal and typed back there: stderr and stdin must both be one, never a file or a pipe. */
function requireWordsTerminal(io: Io): void {
  if ((io.stderr as { isTTY?: boolean }).isTTY !== true || io.stdin.isTTY !== true || typeof io.stdin.setRawMode !== 'function') {
    throw usageError('SHARE_PASSPHRASE_NO_TERMINAL', 'a paper share\'s words are shown once on the terminal and typed back there, and this command has no terminal on stdin and stderr',
      'run backup split at the ceremony terminal, without redirecting stdin or stderr (stdout may go to a file)');
  }
}

/** Bytes that hold a secret, written to the terminal and zeroed once written. */
function writeSecret(io: Io, bytes: Buffer): Promise<void> {
  return new Promise((resolve) => {
    io.stderr.write(bytes, () => {
      bytes.fill(0);
      resolve();
    });
  });
}

/** Raw mode, no echo: Enter goes on, Ctrl-C or Ctrl-D cancels. */
function waitForEnter(io: Io, question: string): Promise<void> {
  const stdin = io.stdin;
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      for (const byte of chunk) {
        if (byte !== 0x0d && byte !== 0x0a && byte !== 0x03 && byte !== 0x04) continue;
        stdin.removeListener('data', onData);
        stdin.setRawMode(false);
        stdin.pause();
        io.stderr.write('\n');
        if (byte === 0x03 || byte === 0x04) reject(new KeyceremonyError('PIN_ENTRY_CANCELLED', 'the split was cancelled while the words were shown', 'run the command again when ready: new words will be drawn'));
        else resolve();
        return;
      }
    };
    stdin.setRawMode(true);
    stdin.on('data', onData);
    stdin.resume();
    io.stderr.write(sanitizeText(question));
  });
}

/** The custodian types the words back until they match, CONFIRM_TRIES times at most; then the split stops before anything is made. */
async function confirmWords(io: Io, custodian: string, words: PaperPassphrase): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    writeLines(io.stderr, [`${custodian}: type the ${PASSPHRASE_WORDS} words back from the paper, separated by spaces (nothing is shown as you type)`]);
    const typed = await readPassphrase(io, undefined, custodian);
    try {
      words.confirm(typed);
      writeLines(io.stderr, [`  the words of ${custodian} are confirmed`]);
      return;
    } catch (err) {
      const again = err instanceof KeyceremonyError && (err.code === 'SHARE_PASSPHRASE_NOT_CONFIRMED' || err.code === 'SHARE_PASSPHRASE_NOT_WORDS');
      if (!again || attempt === CONFIRM_TRIES) throw err;
      writeLines(io.stderr, [`keyceremony: ${err.code}: ${err.message}; type them again (${CONFIRM_TRIES - attempt} ${CONFIRM_TRIES - attempt === 1 ? 'try' : 'tries'} left)`]);
    } finally {
      zero(typed);
    }
  }
}

/** A paper custodian's passphrase: drawn here, shown once, the screen cleared, typed back. */
async function issuePassphrase(io: Io, custodian: string): Promise<PaperPassphrase> {
  const words = PaperPassphrase.generate();
  try {
    writeLines(io.stderr, ['', `${custodian}: the passphrase of your paper share is these ${PASSPHRASE_WORDS} words (${PASSPHRASE_BITS} bits), drawn by keyceremony and shown only now.`,
      'Write them down in order, on a paper of their own: never on the printed share.', '']);
    await writeSecret(io, words.display());
    await waitForEnter(io, `\nPress Enter once ${custodian} has written them down (the screen is then cleared): `);
    io.stderr.write(CLEAR_SCREEN);
    await confirmWords(io, custodian, words);
    return words;
  } catch (err) {
    words.dispose();
    throw err;
  }
}

function requireOptions<T extends Record<string, unknown>>(values: T, names: readonly (keyof T & string)[], usage: string): void {
  for (const k of names) if (values[k] === undefined) throw usageError('USAGE', `--${k} is required`, `usage: ${usage}`);
}

export async function backupCommand(argv: readonly string[], io: Io, warnings: Warnings): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'split') throw usageError('USAGE', `unknown subcommand ${JSON.stringify(sub ?? '')}`, `usage: ${BACKUP_USAGE}`);
  const { values } = parse(rest, { ...COMMON_OPTIONS, ...TOKEN_OPTIONS, ...CHAIN_OPTIONS, hsm: { type: 'string' }, 'backup-key': { type: 'string' }, key: { type: 'string', multiple: true },
    card: { type: 'string', multiple: true }, paper: { type: 'string', multiple: true }, 'paper-out': { type: 'string' }, threshold: { type: 'string' }, ceremony: { type: 'string' }, actor: { type: 'string' }, out: { type: 'string' } }, { min: 0, max: 0, usage: BACKUP_USAGE });
  requireOptions(values, ['hsm', 'backup-key', 'threshold', 'ceremony', 'actor', 'out'], BACKUP_USAGE);
  const backupKey = values['backup-key'] as string;
  if (!KEY_ID.test(backupKey) || !backupKey.startsWith('backup-v')) throw usageError('USAGE', `--backup-key ${JSON.stringify(backupKey)} is not a backup key id (backup-vN)`, 'name it backup-v1, backup-v2, …');
  const keys = values.key ?? [];
  if (keys.length === 0) throw usageError('USAGE', 'name at least one --key to back up (master-vN)', `usage: ${BACKUP_USAGE}`);
  for (const k of keys) if (!KEY_ID.test(k) || !k.startsWith('master-v')) throw usageError('USAGE', `--key ${JSON.stringify(k)} is not a master key id (master-vN)`, 'back up the master keys by their labels');
  const cards = (values.card ?? []).map((c) => holderSpec(c, '--card', BACKUP_USAGE, ['token']));
  const papers = (values.paper ?? []).map((c) => holderSpec(c, '--paper', BACKUP_USAGE, 'sealing'));
  if (papers.length > 0 && values['paper-out'] === undefined) throw usageError('USAGE', '--paper needs --paper-out DIR, the folder for the pages to print (not the custody media)', `usage: ${BACKUP_USAGE}`);
  const holders = [...cards, ...papers];
  const m = Number(values.threshold);
  if (!Number.isSafeInteger(m) || m < 2 || m > holders.length) throw usageError('USAGE', `--threshold ${JSON.stringify(values.threshold)} must be a whole number from 2 to the number of --card and --paper (${holders.length})`, `usage: ${BACKUP_USAGE}`);
  if (!CEREMONY_ID.test(values.ceremony as string)) throw usageError('USAGE', '--ceremony is not a ceremony id (letters, digits, . _ -)', `usage: ${BACKUP_USAGE}`);
  const now = atOption(values.at);
  const chain = trustedChain(values.custodians, rootDigestOption(values['root-digest']), now);
  checkSplitHolders(chain, holders.map((c) => c.custodian), m);
  requireCustodian(newestSetMembers(chain), values.actor as string, 'actor');
  const outDir = resolve(values.out as string);
  checkCustodyFolder(outDir);
  const paperOut = values['paper-out'] === undefined ? undefined : resolve(values['paper-out']);
  if (paperOut !== undefined) checkOutputDir(paperOut, false);
  if (papers.length > 0) requireWordsTerminal(io);

  const mod = openModule(io, warnings, values.module);
  const hsm = findToken(mod, { label: values.hsm });
  const cardTokens = cards.map((c) => findToken(mod, { label: c.token })); // every card found before any secret is asked for
  const hsmPin = await readPin(io, values['pin-env'], hsm.label);
  const opened: CustodianCard[] = [];
  const sealed: PaperHolder[] = [];
  try {
    for (const [i, c] of cards.entries()) opened.push({ custodian: c.custodian, token: cardTokens[i] as Token, pin: await readPin(io, c.secretEnv, (cardTokens[i] as Token).label) });
    // the words last, right before the HSM is touched: a custodian who cannot type them back stops the split with nothing made
    for (const p of papers) sealed.push({ custodian: p.custodian, passphrase: await issuePassphrase(io, p.custodian) });
    const result = await splitBackupKey({ hsm, hsmPin, ceremony: values.ceremony as string, backupKey, threshold: m, cards: opened, paper: sealed, keys,
      progress: (e) => {
        if (values.json === true) return;
        if (e.step === 'generated') writeLines(io.stdout, [`backup key ${backupKey} generated in "${hsm.label}", kcv ecb:${e.backupKcv}; split ${m} of ${holders.length}`]);
        if (e.step === 'stored') writeLines(io.stdout, [`  share of ${e.custodian} stored on "${e.token}", read back in a new session: matches its commitment`]);
        if (e.step === 'sealed') writeLines(io.stdout, [`  share of ${e.custodian} sealed under their ${PASSPHRASE_WORDS} words for printing, opened again: matches its commitment`]);
        if (e.step === 'recombined') writeLines(io.stdout, [`  every share recombined in the HSM, ${e.recombinations} sets of ${m}: each kcv ecb:${e.kcv}, the backup key's`]);
      } });
    const artifacts = await writeCustody(outDir, result, { chain, actor: values.actor as string, now });
    const pages = paperOut === undefined ? [] : await writePaperShares(paperOut, result.paper);
    const manifest = resolve(outDir, CUSTODY_MANIFEST);
    if (values.json === true) {
      writeJson(io, { out: outDir, manifest, backupKey, backupKcv: result.backupKcv, threshold: m, total: holders.length, keys: result.blobs.map((b) => ({ id: b.keyId, kcv: b.kcv })), files: artifacts.map((a) => a.path), paper: pages });
    } else {
      writeLines(io.stdout, [`wrote ${artifacts.length} files and an unsigned custody manifest to ${outDir}`, `  custodians sign ${manifest}; a drill then needs that signed manifest and this folder`,
        ...pages.map((page) => `  paper share to print and hand over: ${page} (then delete the file)`)]);
    }
    return 0;
  } finally {
    zero(hsmPin, ...opened.map((c) => c.pin));
    for (const p of sealed) p.passphrase.dispose();
  }
}

async function tokenShare(io: Io, mod: Pkcs11Module, spec: HolderSpec, backupKey: string): Promise<Uint8Array> {
  const card = findToken(mod, { label: spec.token });
  const pin = await readPin(io, spec.secretEnv, card.label);
  try {
    return await withSession(card, pin, async (s) => readShare(s, backupKey));
  } finally {
    zero(pin);
  }
}

/** Refusals of a paper share that keep their own code: anything else unreadable in it is SHARE_PAPER_DAMAGED. */
const PAPER_REFUSALS = new Set(['SHARE_KDF_UNSUPPORTED', 'SHARE_PAPER_OUTDATED']);

async function paperShare(io: Io, spec: HolderSpec): Promise<Uint8Array> {
  let sealed;
  try {
    sealed = parsePaperShare(readInput(spec.paper as string, 'the paper share', 8192));
  } catch (err) {
    if (err instanceof KeyceremonyError && (err.exit === 2 || PAPER_REFUSALS.has(err.code))) throw err;
    throw new KeyceremonyError('SHARE_PAPER_DAMAGED', `${spec.paper as string} is not a readable paper share`, 'scan the QR code again, or type the text again with care', { cause: err });
  }
  if (spec.secretEnv === undefined) writeLines(io.stderr, [`${spec.custodian}: type the ${PASSPHRASE_WORDS} words of your paper share, as written down at the split (nothing is shown as you type)`]);
  const typed = await readPassphrase(io, spec.secretEnv, spec.custodian);
  let words: PaperPassphrase | undefined;
  try {
    words = PaperPassphrase.fromTyped(typed);
    return words.withKdfInput((k) => openPaperShare(sealed, k));
  } finally {
    zero(typed);
    words?.dispose();
  }
}

/** Each paper share as its sealed JSON and its printable page, in a new folder, all or nothing. */
async function writePaperShares(dir: string, paper: readonly PaperShare[]): Promise<string[]> {
  const names = await buildFolderAtomically(dir, (staging) => paper.flatMap((p) => {
    writeFileAtomic(join(staging, `${p.custodian}.paper-share.json`), `${encodePaperShare(p)}\n`, false, 0o600);
    writeFileAtomic(join(staging, `${p.custodian}.paper-share.html`), paperShareHtml(p), false, 0o600);
    return [`${p.custodian}.paper-share.json`, `${p.custodian}.paper-share.html`];
  }));
  return names.map((n) => join(dir, n));
}

export async function drillCommand(argv: readonly string[], io: Io, warnings: Warnings): Promise<number> {
  const { values } = parse(argv, { ...COMMON_OPTIONS, ...TOKEN_OPTIONS, ...CHAIN_OPTIONS, manifest: { type: 'string' }, dir: { type: 'string' }, token: { type: 'string' },
    share: { type: 'string', multiple: true }, 'all-shares': { type: 'boolean' }, restore: { type: 'boolean' }, id: { type: 'string' }, out: { type: 'string' } }, { min: 0, max: 0, usage: DRILL_USAGE });
  requireOptions(values, ['manifest', 'token', 'out'], DRILL_USAGE);
  const shares = (values.share ?? []).map((s) => holderSpec(s, '--share', DRILL_USAGE, ['token', 'paper']));
  if (new Set(shares.map((s) => s.custodian)).size !== shares.length) {
    throw new KeyceremonyError('SHARE_DUPLICATE', 'a custodian is named by two --share options', 'each custodian presents their share once');
  }
  const out = resolve(values.out as string);
  refuseExisting(out, values.force === true);
  const restore = values.restore === true;
  const now = atOption(values.at);
  const manifestPath = resolve(values.manifest as string);
  const rootDigest = rootDigestOption(values['root-digest']);
  const { files: chainFiles } = chainOption(values.custodians, rootDigest, now); // the chain's own errors, reported first
  // Everything is checked before any token is touched: the signed manifest, every file it lists, the receipts, who presents.
  const { plan, chain } = openDrill(readDocument(manifestPath, 'the custody manifest'), chainFiles, resolve(values.dir ?? dirname(manifestPath)), { at: now, rootDigest });
  for (const spec of shares) requireCustodian(splitHolders(plan), spec.custodian, 'presenter');
  const needed = values['all-shares'] === true ? plan.expected.total : plan.expected.threshold;
  if (shares.length < needed) {
    throw new KeyceremonyError('SHARE_THRESHOLD_NOT_MET', `${shares.length} share(s) named, ${needed} needed (${values['all-shares'] === true ? 'all shares' : `${plan.expected.threshold} of ${plan.expected.total}`})`,
      `name ${needed - shares.length} more --share custodian=ID,token=LABEL; nothing was restored`);
  }
  const id = values.id ?? drillId(plan, restore, now);
  if (!CEREMONY_ID.test(id)) throw usageError('USAGE', `--id ${JSON.stringify(id)} is not an id (letters, digits, . _ -)`, `usage: ${DRILL_USAGE}`);
  if (restore && !id.startsWith('restore')) throw usageError('USAGE', 'the id of a real restore starts with "restore", so that its report says what it was', 'leave out --id, or start it with restore-');

  const mod = openModule(io, warnings, values.module);
  const target = findToken(mod, { label: values.token });
  if (shares.some((s) => s.token !== undefined && s.token === target.label)) throw usageError('USAGE', 'the drill token is also named as a custodian card', 'restore into a token of its own');
  const collector = new ShareCollector(plan.expected);
  const seconds = (): number => Math.floor(Date.now() / 1000) * 1000;
  const started = seconds();
  const say = (line: string): void => { if (values.json !== true) writeLines(io.stdout, [line]); };
  say(`${restore ? 'RESTORE' : 'drill'} of ${plan.backupKey} (kcv ecb:${plan.backupKcv}, ${plan.expected.threshold} of ${plan.expected.total}) from a manifest signed by ${plan.signers.join(', ')}`);
  try {
    for (const spec of shares) {
      let bytes: Uint8Array | undefined;
      try {
        bytes = spec.token !== undefined ? await tokenShare(io, mod, spec, plan.backupKey) : await paperShare(io, spec);
        const accepted = presentShare(plan, collector, bytes, spec.custodian, spec.token !== undefined ? `the card "${spec.token}"` : spec.paper ?? '');
        say(`  share of ${spec.custodian} (index ${accepted.index}) checked against its commitment: ${collector.count} of ${plan.expected.threshold}`);
      } finally {
        zero(bytes);
      }
    }
    const pin = await readPin(io, values['pin-env'], target.label);
    let run;
    try {
      run = await restoreFromShares(target, pin, plan, collector, { restore, id, custodianSet: chain.newest.version, started, now: seconds });
    } finally {
      zero(pin);
    }
    const { outcome } = run;
    writeFileAtomic(out, serializeEnvelope({ payloadType: PAYLOAD_TYPES.drill, payload: run.report, signatures: [] }), values.force === true);
    if (values.json === true) {
      writeJson(io, { result: outcome.pass ? 'pass' : 'fail', restore, failures: outcome.failures, backupKey: { id: plan.backupKey, kcv: outcome.backupKcv, kcvMatches: outcome.backupKcvMatches }, restored: outcome.restored, report: out });
    } else {
      for (const r of outcome.restored) say(`  ${r.id}: kcv ecb:${r.kcv} ${r.kcvMatches ? 'matches the manifest' : 'DIFFERS from the manifest'}; canary ${r.canary ? 'decrypted' : 'did NOT decrypt'}`);
      say(`${outcome.pass ? 'PASS' : `FAIL (${outcome.failures.join(', ')})`}: ${restore && outcome.pass ? 'restored keys kept in the token' : 'drill objects destroyed'}; unsigned report ${out}: custodians sign it with keyceremony sign`);
    }
    if (!outcome.pass) {
      writeLines(io.stderr, [`keyceremony: ${outcome.failures[0] ?? 'DRILL_FAILED'}: the ${restore ? 'restore' : 'drill'} failed (${outcome.failures.join(', ')}); nothing was kept: the report says what failed`]);
      return 1;
    }
    return 0;
  } finally {
    collector.dispose();
  }
}
