/**
 * The one IPC contract: channel names, request and response shapes, and the result envelope.
 * Plain data types only, and type-only imports of ./schema.ts (which needs no Node), so
 * electron/main, electron/preload, renderer/ and the browser test bridge all share this file.
 * Handlers live in ./handlers.ts (main process only).
 */
import type { Infer, REQUESTS } from './schema.js';

export const CHANNELS = [
  'app.info', 'airgap.status', 'tokens.list', 'keys.generate', 'keys.publicKey', 'custodians.create', 'custodians.next',
  'manifest.create', 'documents.sign', 'documents.merge', 'documents.status', 'documents.verify',
  'media.list', 'folders.choose', 'export.targets', 'export.inspectKek', 'export.run',
  'backup.splitBegin', 'backup.splitStore', 'backup.splitFinish', 'backup.splitCancel', 'drill.begin', 'drill.present', 'drill.run', 'drill.cancel',
  'ceremony.validate', 'ceremony.rehearse', 'ceremony.start', 'ceremony.status', 'ceremony.answer', 'ceremony.pin', 'ceremony.stop', 'ceremony.reading', 'audit.verify', 'transcript.read', 'transcript.pdf',
  'state.timeline', 'room.open',
] as const;

export type Channel = (typeof CHANNELS)[number];

export interface ApiError {
  readonly code: string;
  readonly message: string;
  readonly fix: string;
}

export type Result<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ApiError };

/** A token named in a request: by label, and serial when given; `library`, one of tokens.list's library paths, looks in that library only. */
export interface TokenRef { readonly label: string; readonly serial?: string; readonly library?: string }

/**
 * A PKCS#11 library of the app (src/api/libraries.ts): the default library (KEYCEREMONY_PKCS11_MODULE)
 * and those of the ceremony profile named by KEYCEREMONY_PROFILE. One that would not open has its
 * error (code, message, fix) and no description; the others list their tokens all the same.
 */
export interface LibraryView {
  /** The path as configured (what a token's `library` says, and a request's TokenRef may name); null when none was configured and no SoftHSM2 was found. */
  readonly path: string | null;
  /** Where the configuration names it: the environment variable, or the profile's member and its tokens. */
  readonly configured: string;
  /** What the library says of itself, and its path ("SoftHSM 2.6 by SoftHSM, /usr/lib/softhsm/libsofthsm2.so"); null when it did not open. */
  readonly description: string | null;
  readonly implementation: 'softhsm2' | 'nss-softokn' | 'other' | null;
  /** A software token that stands in for an HSM (SoftHSM2). */
  readonly simulation: boolean;
  readonly error: ApiError | null;
}

export interface TokenView {
  /** The path of the library it is in (its LibraryView's path). */
  readonly library: string;
  readonly label: string;
  readonly serial: string;
  readonly manufacturer: string;
  readonly model: string;
  readonly initialized: boolean;
  readonly pinCountLow: boolean;
  readonly pinFinalTry: boolean;
  readonly pinLocked: boolean;
  readonly loginRequired: boolean;
  readonly capabilities: { readonly ed25519: boolean; readonly aes256: boolean; readonly aesKeyWrapPad: boolean; readonly rsaOaep: boolean };
  readonly mechanisms: readonly string[];
}

export interface FingerprintView { readonly hex: string; readonly words: readonly string[] }

export interface KeyView {
  readonly kind: 'master' | 'backup' | 'custodian';
  readonly label: string;
  readonly token: string;
  readonly uri: string;
  readonly kcv?: string;
  readonly publicKey?: string;
  readonly fingerprint?: FingerprintView;
}

export interface DocumentView {
  /** The envelope, as written to a file (FORMATS.md §2). */
  readonly document: string;
  readonly summary: string;
  readonly digest: string;
}

export interface ApprovalView {
  readonly set: number;
  readonly role: string;
  readonly threshold: number;
  readonly signed: readonly string[];
  readonly unsigned: readonly string[];
  readonly needed: number;
}

export interface SignatureView {
  readonly index: number;
  readonly keyid: string;
  readonly custodian: string | null;
  readonly valid: boolean;
}

export interface VerifyView {
  readonly valid: boolean;
  readonly type: string;
  readonly reasons: readonly string[];
  readonly signers: readonly string[];
  readonly threshold: number | null;
  readonly custodianSet: number | null;
  readonly warnings: readonly string[];
  readonly signatures: readonly SignatureView[];
}

/**
 * A folder the main process gave out (src/api/folders.ts): the renderer sends back only the
 * handle, never a path; the path is for showing.
 */
export interface FolderView { readonly handle: string; readonly path: string }
/** A removable drive of the drive list, with the handle that stands for it. */
export interface MediumView { readonly handle: string; readonly mountPoint: string; readonly device: string; readonly sizeBytes: number; readonly freeBytes: number }
export interface TargetView { readonly name: string; readonly cloud: string; readonly kekBits: readonly number[]; readonly file: string; readonly needs: readonly ('importToken' | 'kekId' | 'hash')[] }
export interface ExportedFileView { readonly path: string; readonly sha256: string; readonly bytes: number }

export interface ShareReceiptView { readonly custodian: string; readonly index: number; readonly holder: string; readonly commitment: string }
export interface RestoredView { readonly id: string; readonly kcv: string; readonly kcvMatches: boolean; readonly canary: boolean }

/**
 * A step of a ceremony script as the run sheet shows it: numbered like the printed script (from 1),
 * who acts, what to do in plain words, the tokens it uses (label and serial when the script pins
 * one), who signs and, for a set, its members and threshold.
 */
export interface CeremonyStepView {
  readonly number: number;
  readonly id: string;
  readonly action: string;
  readonly actor: string;
  readonly does: string;
  readonly witness: string | null;
  readonly tokens: readonly { readonly name: string; readonly label: string; readonly serial: string | null; readonly holder: string | null }[];
  readonly signers: readonly string[];
  readonly threshold: number | null;
  readonly members: readonly string[];
  readonly out: string | null;
}

/**
 * A question the engine waits on. `kind` says what is checked; `slots` how many words the witness
 * must type (0: a yes/no confirmation: the clock, a resume, a checkpoint). `words` are shown to the
 * person who reads them aloud when the value was made in this run (`source: 'this-run'`); for a
 * value from an earlier ceremony (`'record'`) they are withheld and the witness types them from that
 * ceremony's printed transcript. The words are checked in the main process (ceremony.answer).
 */
export interface CeremonyQuestionView {
  readonly who: string;
  readonly what: string;
  readonly kind: 'clock' | 'resume' | 'checkpoint' | 'fingerprint' | 'check-value' | 'digest' | 'other';
  readonly words: readonly string[] | null;
  readonly slots: number;
  readonly source: 'this-run' | 'record' | null;
  /**
   * The words of a value made in this run are being read aloud (the run sheet's reading view); false
   * once the witness types (ceremony.reading): the room's window then stops showing them.
   */
  readonly reading: boolean;
}

/**
 * A hand-over: the engine needs a card for the first time in this run, and waits for its PIN
 * (ceremony.pin). Which card, found how, and who must type: the card's holder, or the
 * administrator for a token no custodian holds. Never the PIN.
 */
export interface CeremonyPinRequestView {
  /** The script's name for the token, which ceremony.pin names. */
  readonly token: string;
  readonly label: string;
  /** The serial the token reports. */
  readonly serial: string;
  /** Whether the script names the token by serial too, or by label only. */
  readonly serialPinned: boolean;
  /** The custodian who holds the card; null for a token no custodian holds (the administrator's). */
  readonly holder: string | null;
  /** Who types the PIN: the holder, or the script's administrator. */
  readonly person: string;
  /**
   * How the card was found: it holds the key the custodian set loaded in this run registers for
   * the holder (`registered-key`); it does not (`not-registered-key`: its PIN is refused before it
   * reaches the card); or no set registers a key for it yet, and it is the script's token for the
   * holder (`script-token`). `why` says it in a sentence.
   */
  readonly card: 'registered-key' | 'not-registered-key' | 'script-token';
  /** The version of the set whose registered key was compared, if any. */
  readonly set: number | null;
  /**
   * Whether that set's root is pinned by the script (rootDigest); false: the set is the one on the
   * ceremony media, whose root the witness checks against the earlier ceremony's record (so a match
   * proves the card holds the key that set registers, not yet that the set is the trusted one); null
   * when no set was compared.
   */
  readonly rootPinned: boolean | null;
  readonly why: string;
  /** The step that first needs the card (from 1); null when the run opens its journal or signs the checkpoint. */
  readonly step: number | null;
}

/** A version's state under FORMATS.md §8 (src/state/machine.ts VersionState). */
export type VersionStateView = 'pending' | 'accepted' | 'current' | 'retired' | 'revoked' | 'compromised';

/** One key name's state at a time, exactly as `keyceremony state --json` lists it (CLI.md). */
export interface NameStateView {
  readonly current: string | null;
  readonly accept: readonly string[];
  readonly pending: readonly string[];
  readonly retired: readonly string[];
  readonly revoked: readonly string[];
  readonly compromised: readonly string[];
  readonly scheduled: readonly string[];
}

/** A key entry that took effect when a segment began and names its version (as its `id`, or as the version it `supersedes`). */
export interface TimelineMoveView { readonly sequence: number; readonly index: number; readonly phase: 'prepare' | 'dual-publish' | 'cutover' | 'revoke' | 'compromise'; readonly notBefore: string; readonly as: 'id' | 'supersedes' }

/**
 * A run of one state of one version: from change point `from` (an index into `changes`) to `to`
 * (`changes.length` when it lasts); `scheduled` when it begins after the time asked (signed, not
 * yet in effect).
 */
export interface TimelineSegmentView {
  readonly state: VersionStateView;
  readonly from: number;
  readonly to: number;
  readonly since: string;
  readonly until: string | null;
  readonly scheduled: boolean;
  readonly moves: readonly TimelineMoveView[];
}

/** A manifest of the chain, with who signed it (§6 counting against the set it names) and the file that holds it. */
export interface TimelineManifestView {
  readonly sequence: number;
  readonly digest: string;
  readonly ceremony: string;
  readonly actor: string;
  readonly issued: string;
  readonly expires: string;
  readonly custodianSet: number;
  readonly threshold: number;
  readonly signers: readonly string[];
  readonly file: string;
}

/** A `.json` file of the folder and what was made of it: a custodian set or a manifest given to §8, or skipped and why. */
export interface TimelineFileView { readonly name: string; readonly use: 'custodian-set' | 'manifest' | 'skipped'; readonly why: string | null }

/** Whether the app runs inside the Chromium sandbox, and if not, why (electron/main/sandbox.ts). */
export interface SandboxView { readonly sandboxed: boolean; readonly reasons: readonly string[] }

export interface CeremonyStatusView {
  readonly state: 'running' | 'waiting' | 'done' | 'failed';
  readonly mode: 'live' | 'rehearsal';
  readonly script: { readonly id: string; readonly title: string; readonly digest: string; readonly digestWords: readonly string[] };
  /** Every step of the script with where the run is: done, now (acting or being proven again), pending. */
  readonly steps: readonly (CeremonyStepView & { readonly state: 'done' | 'now' | 'pending' })[];
  /** The number of the step acting now, from the engine's "Step N (id): …, X acts now" line; null before the first and after the last. */
  readonly now: number | null;
  readonly stage: 'opening' | 'resuming' | 'steps' | 'checkpoint' | 'finished';
  /** A failed run: the step a new start on the same folder resumes at (the first not done); null when it is not failed. */
  readonly resumeFrom: number | null;
  readonly lines: readonly string[];
  readonly question: CeremonyQuestionView | null;
  /** The card whose PIN is asked now (the hand-over); a run waits on a question or on a PIN, never both. */
  readonly pinRequest: CeremonyPinRequestView | null;
  readonly error: ApiError | null;
}

/**
 * What each channel accepts: derived from its schema in ./schema.ts, the one source of truth
 * (a type-only import, so nothing of the schemas reaches the renderer or the preload bundle).
 */
/** Every channel has a request schema (indexing REQUESTS by channel fails otherwise), and every schema is for a channel: */
export type Requests = { readonly [C in Channel]: Infer<(typeof REQUESTS)[C]> };
const _noSchemaWithoutChannel: [Exclude<keyof typeof REQUESTS, Channel>] extends [never] ? true : never = true;
void _noSchemaWithoutChannel;

export interface Responses {
  /** sandbox: null where no desktop shell runs the table (the command line, the browser tests); otherwise whether the Chromium sandbox is on. */
  'app.info': { readonly version: string; readonly module: string | null; readonly simulation: boolean; readonly moduleError: ApiError | null; readonly sandbox: SandboxView | null };
  'airgap.status': { readonly online: boolean; readonly interfaces: readonly { readonly name: string; readonly addresses: readonly string[] }[] };
  /** Every library with each of its initialised tokens; `profile` is the ceremony profile that names libraries, and why it cannot be used if it cannot (null when none is configured). */
  'tokens.list': { readonly libraries: readonly LibraryView[]; readonly tokens: readonly TokenView[]; readonly profile: { readonly path: string; readonly error: ApiError | null } | null };
  'keys.generate': KeyView;
  'keys.publicKey': { readonly publicKey: string; readonly fingerprint: FingerprintView };
  'custodians.create': DocumentView;
  'custodians.next': DocumentView & { readonly version: number; readonly members: readonly string[]; readonly threshold: number };
  'manifest.create': DocumentView;
  'documents.sign': DocumentView & { readonly signer: string };
  'documents.merge': DocumentView & { readonly signatures: number };
  'documents.status': { readonly summary: string; readonly complete: boolean; readonly approvals: readonly ApprovalView[] };
  'documents.verify': VerifyView;
  'media.list': { readonly media: readonly MediumView[] };
  /** null when the user cancelled the dialog. */
  'folders.choose': { readonly folder: FolderView | null };
  'export.targets': { readonly targets: readonly TargetView[] };
  'export.inspectKek': { readonly bits: number; readonly spkiSha256: string; readonly words: readonly string[] };
  'export.run': { readonly dir: string; readonly target: string; readonly kcv: string; readonly wrap: 'token' | 'hybrid'; readonly wrappingKeySha256: string;
    readonly files: readonly ExportedFileView[]; readonly warnings: readonly string[] };
  'backup.splitBegin': { readonly splitId: string; readonly backupKey: string; readonly backupKcv: string; readonly threshold: number; readonly total: number; readonly next: string | null };
  'backup.splitStore': ShareReceiptView & { readonly next: string | null; readonly placed: number };
  'backup.splitFinish': { readonly dir: string; readonly backupKcv: string; readonly manifest: DocumentView; readonly files: readonly ExportedFileView[] };
  'backup.splitCancel': { readonly cancelled: true; readonly cleanUp: readonly string[] };
  'drill.begin': { readonly drillId: string; readonly backupKey: string; readonly backupKcv: string; readonly threshold: number; readonly total: number; readonly signers: readonly string[];
    readonly receipts: readonly ShareReceiptView[]; readonly keys: readonly { readonly id: string; readonly kcv: string }[] };
  'drill.present': { readonly custodian: string; readonly index: number; readonly count: number; readonly threshold: number; readonly ready: boolean };
  'drill.run': { readonly result: 'pass' | 'fail'; readonly restore: boolean; readonly failures: readonly string[]; readonly backupKcv: string; readonly backupKcvMatches: boolean;
    readonly restored: readonly RestoredView[]; readonly report: DocumentView };
  'drill.cancel': { readonly cancelled: true };
  'ceremony.validate': { readonly valid: boolean; readonly id: string | null; readonly title: string | null; readonly digest: string | null;
    /** The script's digest as words to read aloud (its first 12 bytes, as fingerprints are read); [] when invalid. */
    readonly digestWords: readonly string[];
    readonly tokens: readonly { readonly name: string; readonly label: string; readonly holder: string | null }[];
    readonly steps: readonly CeremonyStepView[];
    readonly participants: readonly { readonly id: string; readonly name: string; readonly role: string }[];
    readonly problems: readonly { readonly code: string; readonly path: string; readonly message: string }[] };
  'ceremony.rehearse': { readonly runId: string; readonly dir: string };
  'ceremony.start': { readonly runId: string };
  'ceremony.status': CeremonyStatusView;
  /** answered: false when the words typed differ: `wrong` lists the slots (1-based) that differ, and the question still waits. */
  'ceremony.answer': { readonly answered: boolean; readonly wrong: readonly number[] };
  /** The PIN was accepted by the card (a trial login) and given to the run; a refused PIN leaves the hand-over waiting. */
  'ceremony.pin': { readonly token: string; readonly accepted: true };
  'ceremony.stop': { readonly stopped: true };
  'ceremony.reading': { readonly reading: boolean };
  'audit.verify': { readonly valid: boolean; readonly entries: number; readonly firstBad: number | null; readonly head: string;
    readonly problems: readonly { readonly seq: number; readonly code: string; readonly message: string }[];
    readonly checkpoints: readonly { readonly seq: number; readonly covers: number; readonly signers: readonly string[]; readonly verified: boolean }[] };
  'transcript.read': { readonly markdown: string; readonly html: string; readonly audit: string; readonly checkpoint: string; readonly chain: readonly string[] };
  'transcript.pdf': { readonly file: string; readonly bytes: number; readonly sha256: string };
  /**
   * The room's window (issue 15): a second window of the desktop shell showing only the run's "now"
   * card and the words to read aloud, read-only. `opened`: a new window, or the one open moved to
   * this run; `focused`: it already showed this run. APP_ROOM_WINDOW_UNAVAILABLE where no desktop
   * shell runs the table (the command line, the browser tests without a stand-in).
   */
  'room.open': { readonly window: 'opened' | 'focused' };
  /**
   * Keys over time, from a chain valid at `at` (now): `changes` are the chain's change points (every
   * distinct notBefore, ascending); per key name, its state now and each version's segments.
   */
  'state.timeline': { readonly folder: string; readonly at: string; readonly sequence: number; readonly tip: string; readonly rootPinned: boolean;
    readonly changes: readonly string[];
    readonly names: readonly { readonly name: string; readonly now: NameStateView; readonly versions: readonly { readonly id: string; readonly segments: readonly TimelineSegmentView[] }[] }[];
    readonly manifests: readonly TimelineManifestView[]; readonly files: readonly TimelineFileView[]; readonly warnings: readonly string[] };
}

/** Handlers of some channels, each taking its validated request (the main process's side of the contract). */
export type ChannelHandlers<K extends Channel> = { readonly [C in K]: (request: Requests[C]) => Promise<Responses[C]> };

/** What the preload exposes as `window.keyceremony`: one function per channel, nothing else. */
export type KeyceremonyApi = { readonly [C in Channel]: (request: Requests[C]) => Promise<Result<Responses[C]>> };

/** The ipcRenderer channel name of a contract channel. */
export const ipcName = (c: Channel): string => `keyceremony:${c}`;
