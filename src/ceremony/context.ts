/**
 * What a ceremony step works with (issue 13): the script, the folders, the resolved tokens, the
 * people (a witness confirms, the room is told), and the facts this run has proven so far: the
 * custodians' public keys read from their cards, key check values computed by the tokens, and
 * the custodian set in force, verified from the files. A step takes facts only from here, never
 * from the journal's details.
 */
import { fingerprint } from '../crypto/fingerprint.js';
import { MAX_ENVELOPE_BYTES } from '../dsse/envelope.js';
import type { Envelope } from '../dsse/envelope.js';
import { Folder } from '../files.js';
import { addSignature } from '../dsse/sign.js';
import { KeyceremonyError, isKeyceremonyError } from '../errors.js';
import { findEd25519Pair, generateEd25519 } from '../pkcs11/keys.js';
import { withSession } from '../pkcs11/session.js';
import { tokenSigner } from '../pkcs11/signer.js';
import type { Token } from '../pkcs11/tokens.js';
import { verifiedChain } from '../usecases/chain.js';
import { verifyDocument } from '../verify/verify.js';
import type { TrustedChain, VerifyResult } from '../verify/verify.js';
import type { CeremonyScript, Step } from './script.js';

/**
 * A token of the script and its PIN: the bytes, or (a custodian typing it at the terminal) a
 * function that asks for it when the token is first needed and gives the same bytes after.
 */
export interface ResolvedToken { readonly token: Token; readonly pin: Uint8Array | (() => Promise<Uint8Array>) }

/** The PIN of a resolved token, asked for now if it has not been yet. */
export async function pinOf(t: ResolvedToken): Promise<Uint8Array> {
  return typeof t.pin === 'function' ? t.pin() : t.pin;
}

/**
 * A confirmation asked of a person. `kind` says what is confirmed: a fingerprint, a check value or
 * a digest is proven by typing its words, never by yes; the clock, a resume and a checkpoint are
 * yes/no. `value` is the check value's or digest's hex, `words` a fingerprint's words; `source` says
 * whether the value was made in this run (the reader reads it aloud) or comes from an earlier
 * ceremony's record (the witness types it from that record, and no screen shows it).
 */
export interface Question {
  readonly who: string;
  readonly what: string;
  readonly kind?: 'clock' | 'resume' | 'checkpoint' | 'fingerprint' | 'check-value' | 'digest';
  readonly words?: readonly string[];
  readonly value?: string;
  readonly source?: 'this-run' | 'record';
}

export interface StepResult {
  readonly title: string;
  readonly outcome: string;
  readonly lines: readonly string[];
  readonly keys: readonly string[];
  readonly details: Readonly<Record<string, string | number | boolean | null | readonly string[]>>;
}

/** The set in force: its files (relative to the ceremony folder, root first), their bytes, and the verified chain. */
export interface SetInForce { readonly files: readonly string[]; readonly bytes: readonly Uint8Array[]; readonly chain: TrustedChain }

export const KEY_SUFFIX = '-sign-v1';

export class StepContext {
  /** Each custodian's public key, read from their card in this run. */
  readonly publicKeys = new Map<string, Uint8Array>();
  /** Key label → check value (hex) computed by its token in this run. */
  readonly kcvs = new Map<string, string>();
  /**
   * The steps an earlier run of this ceremony began, by the authenticated journal: only their
   * leftovers (a key, a file, a folder) may be adopted or destroyed. Anything else a step would
   * make and finds already there was not made by this ceremony, and the run stops.
   */
  begun: ReadonlySet<string> = new Set();
  /** Inventory secret id → its FORMATS.md §4 binding, made in this run (or recorded by it: see `recorded`). */
  readonly bindings = new Map<string, string>();
  /** The authenticated journal's step.done details, by step id (set by the engine when it resumes). */
  done: ReadonlyMap<string, Readonly<Record<string, unknown>>> = new Map();
  private set: SetInForce | null = null;

  constructor(readonly o: {
    readonly script: CeremonyScript; readonly dir: string; readonly inputs: string; readonly simulation: boolean; readonly env: NodeJS.ProcessEnv;
    readonly tokens: ReadonlyMap<string, ResolvedToken>; readonly now: () => number; readonly say: (line: string) => void; readonly confirm: (q: Question) => Promise<boolean>;
  }, readonly pinned: ReadonlyMap<string, Uint8Array> = new Map()) {}

  /** An input file of the script, as read once when the run began (relative to the inputs folder). */
  input(rel: string): Uint8Array {
    const bytes = this.pinned.get(rel);
    if (bytes === undefined) throw new KeyceremonyError('CEREMONY_INPUT_UNPINNED', `${rel} was not read when the run began`, 'this is a bug: report it');
    return bytes;
  }

  get script(): CeremonyScript { return this.o.script; }
  get dir(): string { return this.o.dir; }
  get simulation(): boolean { return this.o.simulation; }
  now(): number { return this.o.now(); }
  say(line: string): void { this.o.say(line); }
  confirm(q: Question): Promise<boolean> { return this.o.confirm(q); }

  token(name: string): ResolvedToken {
    const t = this.o.tokens.get(name);
    if (t === undefined) throw new KeyceremonyError('CEREMONY_TOKEN_UNRESOLVED', `the script's token ${name} was not resolved`, 'name it in the profile');
    return t;
  }

  cardOf(custodian: string): ResolvedToken {
    return this.token(this.script.tokens.find((t) => t.holder === custodian)?.name ?? '');
  }

  participantName(id: string): string {
    return this.script.participants.find((p) => p.id === id)?.name ?? id;
  }

  /** The ceremony folder through the one file layer: no write, read or delete follows a link below it. */
  get folder(): Folder { return Folder.open(this.dir); }

  /** Writes `rel` in the ceremony folder (temporary name, synced, renamed); never over an existing file unless `replace`. */
  write(rel: string, data: Uint8Array | string, replace = false): void {
    this.folder.write(rel, data, { force: replace });
  }

  /** The index of a step in the script (0-based). */
  indexOf(step: Step): number {
    return this.script.steps.indexOf(step);
  }

  /** The set in force, read from the ceremony folder and verified now. */
  setInForce(files: readonly string[]): SetInForce {
    const bytes = files.map((f) => this.folder.read(f, 'the custodian set', MAX_ENVELOPE_BYTES));
    const chain = verifiedChain(bytes, { at: this.now(), fix: `stop: ${files.join(', ')} in the ceremony folder changed; keep it as evidence and start again in a new folder` });
    this.set = { files: [...files], bytes, chain };
    return this.set;
  }

  requireSet(): SetInForce {
    if (this.set === null) throw new KeyceremonyError('CEREMONY_NO_CUSTODIAN_SET', 'this step needs the custodian set, and none was formed before it', 'put a custodian-set step first');
    return this.set;
  }

  get hasSet(): boolean { return this.set !== null; }

  /** A document verified against the set in force now (a second's slack for one signed this instant). */
  verify(bytes: Uint8Array): VerifyResult {
    return verifyDocument(bytes, this.requireSet().bytes, { at: this.now() + 1000 });
  }

  keyidOf(custodian: string): string {
    return this.set?.chain.newest.custodians.find((c) => c.id === custodian)?.keyid ?? '';
  }

  async signOn(env: Envelope, custodian: string): Promise<Envelope> {
    const c = this.cardOf(custodian);
    return withSession(c.token, await pinOf(c), async (s) => addSignature(env, tokenSigner(s, { label: `${custodian}${KEY_SUFFIX}` })));
  }

  /** Each signer adds a signature unless the set in force already counts theirs. */
  async signAll(env: Envelope, signers: readonly string[]): Promise<Envelope> {
    let e = env;
    for (const s of signers) if (!e.signatures.some((x) => x.keyid === this.keyidOf(s))) e = await this.signOn(e, s);
    return e;
  }

  async signNew(payloadType: string, payload: Uint8Array, signers: readonly string[]): Promise<Envelope> {
    let env: Envelope = { payloadType, payload, signatures: [] };
    for (const s of signers) env = await this.signOn(env, s);
    return env;
  }

  /**
   * A custodian's signing key on their card: found, or (make, for `step`) generated when there is
   * none; never made twice. A key found where `step` would make one is adopted only when an
   * earlier run of this ceremony began that step.
   */
  async cardKey(c: string, make: boolean, step?: Step): Promise<Uint8Array> {
    const card = this.cardOf(c);
    const label = `${c}${KEY_SUFFIX}`;
    const key = await withSession(card.token, await pinOf(card), async (s) => {
      try {
        const found = findEd25519Pair(s, { label }).publicKey;
        if (make && step !== undefined) this.requireBegun(step, `the key ${label} on token "${card.token.label}"`);
        return found; // made before a crash: adopted, never made twice
      } catch (err) {
        if (!make || !isKeyceremonyError(err) || err.code !== 'HSM_OBJECT_NOT_FOUND') throw err;
        return (await generateEd25519(s, { label })).publicKey;
      }
    });
    this.publicKeys.set(c, key);
    return key;
  }

  /**
   * What the journal recorded for a done step. Only for a fact no token or file can give again (a
   * delivered secret's binding: its bytes were sealed to the deployment and zeroed); the journal is
   * authenticated by the HSM's key, and the step proves the sealed file against the digest it holds.
   */
  recorded(step: Step): Readonly<Record<string, unknown>> {
    const d = this.done.get(step.id);
    if (d === undefined) throw new KeyceremonyError('CEREMONY_LOG_UNAUTHENTIC', `step ${step.id} has no done entry in the journal`, 'nothing was done: keep the folder as evidence and run the ceremony in a new folder');
    return d;
  }

  /** `what`, found where `step` would make it, may be adopted: an earlier run of this ceremony began the step. */
  requireBegun(step: Step, what: string): void {
    if (this.begun.has(step.id)) return;
    throw new KeyceremonyError('CEREMONY_OBJECT_PREEXISTING', `step ${step.id} would make ${what}, which is already there, and this ceremony's journal never began that step`,
      'stop: it was made by another ceremony or planted; keep the token and folder as evidence, and run in a new folder with tokens that do not hold it');
  }

  /** The line a fingerprint takes in the transcript. */
  fingerprintLine(c: string, publicKey: Uint8Array): string {
    const fp = fingerprint(publicKey);
    return `${c}: ${fp.hex} (${fp.words.join(' ')})`;
  }

  /** The fingerprint of c's key read aloud and confirmed by the witness; its line for the transcript. */
  async confirmFingerprint(c: string, publicKey: Uint8Array, witness: string, source: 'this-run' | 'record' = 'this-run'): Promise<string> {
    const fp = fingerprint(publicKey);
    this.say(`  ${c}: fingerprint ${fp.hex}\n         read aloud: ${fp.words.join(' ')}`);
    if (!(await this.confirm({ who: witness, what: `the fingerprint of ${c}'s key, read aloud`, kind: 'fingerprint', words: fp.words, source }))) {
      throw new KeyceremonyError('CEREMONY_WITNESS_REFUSED', `${witness} did not confirm the fingerprint of ${c}'s key`, `${c} reads the words again from their own card; if they differ, stop the ceremony`);
    }
    return this.fingerprintLine(c, publicKey);
  }
}

/** A step's result differs from what the journal recorded: the tokens and files win, and the run stops. */
export function resumeMismatch(step: string, what: string, journal: unknown, found: unknown): KeyceremonyError {
  const show = (v: unknown): string => JSON.stringify(v)?.slice(0, 200) ?? 'nothing';
  return new KeyceremonyError('CEREMONY_RESUME_MISMATCH', `step ${step}: the journal records ${what} ${show(journal)}, and the tokens and files show ${show(found)}`,
    'stop: the folder or a token changed since the step was done; keep both as evidence and start again in a new folder');
}

/** `fn` reads a key a done step made: a token without it stops the run, naming the key and the token. */
export async function provenKey<T>(step: string, key: string, token: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!isKeyceremonyError(err) || err.code !== 'HSM_OBJECT_NOT_FOUND') throw err;
    throw new KeyceremonyError('CEREMONY_KEY_MISSING', `step ${step} is done in the journal, and ${key} is not on token "${token}"`,
      'stop: the key was deleted or another token was inserted; bring the token the step used, or keep both as evidence and start again in a new folder');
  }
}
