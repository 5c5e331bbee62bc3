/**
 * Request schemas for the IPC boundary: small combinators that validate an unknown value,
 * report every bad field by path, and give the TypeScript type of what they accept; and the
 * schema of every channel's request, REQUESTS, from which ./contract.ts derives the request
 * types (one source of truth). Requests arrive from a renderer we treat as hostile; nothing
 * reaches a handler unvalidated.
 *
 * The renderer's and the preload's type checks read this file (contract.ts imports its types),
 * so it imports nothing that needs Node: the few core patterns it uses are restated below, and
 * test/api/handlers.test.ts proves them equal to the core's.
 */
import { problem } from '../docs/problems.js';
import type { Problem } from '../docs/problems.js';

export interface Schema<T> {
  readonly describe: string;
  check(v: unknown, path: string, problems: Problem[]): T | undefined;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

const bad = (problems: Problem[], path: string, message: string): undefined => {
  problems.push(problem('IPC_BAD_REQUEST', path, message));
  return undefined;
};

export function str(opts: { min?: number; max: number; pattern?: RegExp; what?: string }): Schema<string> {
  return {
    describe: opts.what ?? 'string',
    check(v, path, problems) {
      if (typeof v !== 'string') return bad(problems, path, `expected ${opts.what ?? 'a string'}`);
      if (v.length < (opts.min ?? 0) || v.length > opts.max) return bad(problems, path, `expected ${opts.min ?? 0} to ${opts.max} characters`);
      if (opts.pattern !== undefined && !opts.pattern.test(v)) return bad(problems, path, `expected ${opts.what ?? opts.pattern.source}`);
      return v;
    },
  };
}

export function int(opts: { min: number; max: number }): Schema<number> {
  return {
    describe: 'integer',
    check(v, path, problems) {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < opts.min || v > opts.max) return bad(problems, path, `expected a whole number from ${opts.min} to ${opts.max}`);
      return v;
    },
  };
}

export function bool(): Schema<boolean> {
  return { describe: 'boolean', check: (v, path, problems) => (typeof v === 'boolean' ? v : bad(problems, path, 'expected true or false')) };
}

export function oneOf<const T extends readonly string[]>(values: T): Schema<T[number]> {
  return {
    describe: values.join('|'),
    check: (v, path, problems) => (typeof v === 'string' && (values as readonly string[]).includes(v) ? (v as T[number]) : bad(problems, path, `expected one of ${values.join(', ')}`)),
  };
}

export function arr<T>(item: Schema<T>, opts: { min?: number; max: number }): Schema<T[]> {
  return {
    describe: `${item.describe}[]`,
    check(v, path, problems) {
      if (!Array.isArray(v)) return bad(problems, path, 'expected an array');
      if (v.length < (opts.min ?? 0) || v.length > opts.max) return bad(problems, path, `expected ${opts.min ?? 0} to ${opts.max} entries`);
      const before = problems.length;
      const out = v.map((x, i) => item.check(x, `${path}[${i}]`, problems));
      return problems.length === before ? (out as T[]) : undefined;
    },
  };
}

type Fields = Record<string, Schema<unknown>>;
/** One object type, not an intersection: what an editor shows for a request is its members. */
type Flat<T> = { [K in keyof T]: T[K] } & {};
type Out<R extends Fields, O extends Fields> = Flat<{ [K in keyof R]: Infer<R[K]> } & { [K in keyof O]?: Infer<O[K]> }>;

/** A closed object: unknown members are refused, like the documents. */
export function obj<R extends Fields, O extends Fields = Record<never, never>>(required: R, optional?: O): Schema<Out<R, O>> {
  return {
    describe: 'object',
    check(v, path, problems) {
      if (v === null || typeof v !== 'object' || Array.isArray(v) || Object.getPrototypeOf(v) !== Object.prototype) return bad(problems, path, 'expected a plain object');
      const before = problems.length;
      const rec = v as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      // own properties only: `in` would accept inherited names such as toString or constructor
      for (const k of Object.keys(rec)) if (!Object.hasOwn(required, k) && !(optional !== undefined && Object.hasOwn(optional, k))) bad(problems, `${path}.${k}`, 'unknown member');
      for (const [k, s] of Object.entries(required)) {
        if (!Object.hasOwn(rec, k)) { bad(problems, `${path}.${k}`, 'required'); continue; }
        out[k] = s.check(rec[k], `${path}.${k}`, problems);
      }
      for (const [k, s] of Object.entries(optional ?? {})) {
        if (Object.hasOwn(rec, k) && rec[k] !== undefined) out[k] = s.check(rec[k], `${path}.${k}`, problems);
      }
      return problems.length === before ? (out as Out<R, O>) : undefined;
    },
  };
}

export function parseRequest<T>(schema: Schema<T>, v: unknown): { ok: true; value: T } | { ok: false; problems: Problem[] } {
  const problems: Problem[] = [];
  const value = schema.check(v, 'request', problems);
  return problems.length === 0 ? { ok: true, value: value as T } : { ok: false, problems };
}

/** A request with no members: `{}` and nothing else. */
export function empty(): Schema<Record<string, never>> {
  const o = obj({});
  return { describe: o.describe, check: (v, path, problems) => (o.check(v, path, problems) === undefined ? undefined : {}) };
}

// ---- The requests of every channel ----------------------------------------------------------

/** The core's patterns, restated so that this file needs no Node (see the header). */
export const CORE_PATTERNS = {
  /** src/dsse/envelope.ts MAX_ENVELOPE_BYTES */
  maxEnvelopeBytes: 2 * 1024 * 1024,
  /** src/custodians/set.ts CUSTODIAN_ID */
  custodianId: /^[a-z0-9][a-z0-9._-]{0,63}$/,
  /** src/manifest/manifest.ts CEREMONY_ID */
  ceremonyId: /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/,
  /** src/manifest/manifest.ts PHASES */
  phases: ['prepare', 'dual-publish', 'cutover', 'revoke', 'compromise'] as const,
} as const;

/** What a folder chosen in the main process's dialog is for (./folders.ts): the dialog says so, and the handle serves that use only. */
export const FOLDER_PURPOSES = ['ceremony', 'stand-in-drive', 'chain'] as const;

const DOC = str({ min: 2, max: CORE_PATTERNS.maxEnvelopeBytes, what: 'a signed document (JSON text)' });
const CHAIN = arr(DOC, { min: 1, max: 32 });
/**
 * A token: its label, its serial when given, and the library to look in when given: one of the paths
 * tokens.list gave. A path only chooses among the app's configured libraries (src/api/libraries.ts),
 * it never loads one; its form is the profile's (src/ceremony/profile.ts MODULE_PATH).
 */
const TOKEN = obj({ label: str({ min: 1, max: 32, what: 'a token label' }) },
  { serial: str({ min: 1, max: 16, what: 'a token serial' }), library: str({ max: 4096, pattern: /^\/[^\u0000]{1,4095}$/u, what: "the absolute path of one of the app's libraries" }) });
const LABEL = str({ min: 1, max: 64, pattern: /^[^\s\u0000-\u001f\u007f](?:[^\u0000-\u001f\u007f]*[^\s\u0000-\u001f\u007f])?$/u, what: 'a key label' });
const PIN = str({ min: 1, max: 256, what: 'a PIN' });
const TIME = str({ max: 20, pattern: /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/, what: 'an RFC 3339 UTC time' });
const EMPTY = empty();
const KEK_TEXT = str({ min: 16, max: 16_384, what: 'a PEM public key or base64 DER SubjectPublicKeyInfo' });
const CUSTODIAN = str({ max: 64, pattern: CORE_PATTERNS.custodianId, what: 'a custodian id' });
const CEREMONY = str({ max: 128, pattern: CORE_PATTERNS.ceremonyId, what: 'a ceremony id' });
const MEMBER = obj({ id: CUSTODIAN, name: str({ min: 1, max: 128 }), publicKey: str({ max: 64, pattern: /^[0-9a-f]{64}$/, what: '64 hex digits' }) });
/**
 * A folder, as the renderer holds it: an opaque handle the main process gave out (./folders.ts),
 * never a path. A path string does not match, so a renderer cannot name a folder of its own.
 */
const FOLDER_HANDLE = str({ min: 32, max: 32, pattern: /^[0-9a-f]{32}$/, what: 'a folder handle from the drive list or the folder dialog' });
/** A folder made inside a drive: one path segment (no separator, no "..", no NUL or control character), checked again where it is used. */
const FOLDER_NAME = str({ max: 64, pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, what: 'a folder name (letters, digits, . _ -)' });
const SESSION_ID = str({ min: 32, max: 32, pattern: /^[0-9a-f]{32}$/, what: 'a session id' });
const SCRIPT = str({ min: 2, max: 256 * 1024, what: 'a ceremony script (JSON text)' });
const RUN_ID = str({ min: 32, max: 32, pattern: /^[0-9a-f]{32}$/, what: 'a run id' });
/** src/ceremony/script.ts TOKEN_NAME */
const TOKEN_NAME = str({ max: 32, pattern: /^[a-z][a-z0-9-]{0,31}$/, what: 'a token name of the script' });

const ROOT_DIGEST = str({ max: 71, pattern: /^sha256:[0-9a-f]{64}$/, what: 'sha256:<64 hex>' });

const DOCUMENT_REQUESTS = {
  'custodians.create': obj({ threshold: int({ min: 1, max: 64 }), members: arr(MEMBER, { min: 1, max: 64 }) }, { expires: TIME }),
  'custodians.next': obj({ chain: CHAIN }, { remove: arr(CUSTODIAN, { max: 64 }), add: arr(MEMBER, { max: 64 }), threshold: int({ min: 1, max: 64 }), expires: TIME }),
  'manifest.create': obj({ chain: CHAIN, ceremony: CEREMONY, actor: CUSTODIAN, keyVersion: int({ min: 1, max: 1_000_000 }), phase: oneOf(CORE_PATTERNS.phases) },
    { kcvs: arr(obj({ id: str({ max: 128 }), kcv: str({ max: 10, pattern: /^(?:ecb:)?[0-9a-f]{6}$/, what: 'a KCV' }) }), { max: 16 }), previous: DOC }),
  'documents.sign': obj({ document: DOC, token: TOKEN, keyLabel: LABEL, pin: PIN }, { chain: CHAIN }),
  'documents.merge': obj({ documents: arr(DOC, { min: 1, max: 64 }) }),
  'documents.status': obj({ document: DOC, chain: CHAIN }),
  'documents.verify': obj({ document: DOC, chain: arr(DOC, { max: 32 }) }, { previous: DOC, rootDigest: ROOT_DIGEST, at: TIME }),
};

const EXPORT_REQUESTS = {
  'media.list': EMPTY,
  'folders.choose': obj({ purpose: oneOf(FOLDER_PURPOSES) }),
  'export.targets': EMPTY,
  'export.inspectKek': obj({ wrappingKey: KEK_TEXT }),
  // the KEK id's form is the export rule's to judge (src/usecases/export.ts), so the app and the CLI refuse it alike
  'export.run': obj({ token: TOKEN, keyLabel: LABEL, target: str({ max: 64, pattern: /^[a-z0-9-]+$/, what: 'a target name' }), wrappingKey: KEK_TEXT, drive: FOLDER_HANDLE, folder: FOLDER_NAME, pin: PIN },
    { kekId: str({ max: 1024, what: 'a Key Vault key id URL' }), importToken: str({ max: 8200, what: 'base64 import token' }), hash: oneOf(['sha1', 'sha256'] as const), obtained: TIME, allowFixedDisk: bool() }),
};

const BACKUP_REQUESTS = {
  'backup.splitBegin': obj({ hsm: TOKEN, hsmPin: PIN, chain: CHAIN, ceremony: CEREMONY, backupKey: str({ max: 128, pattern: /^backup-v[1-9][0-9]{0,8}$/, what: 'a backup key id (backup-vN)' }),
    keys: arr(str({ max: 128, pattern: /^master-v[1-9][0-9]{0,8}$/, what: 'a master key id (master-vN)' }), { min: 1, max: 16 }), threshold: int({ min: 2, max: 64 }), custodians: arr(CUSTODIAN, { min: 2, max: 64 }) }),
  'backup.splitStore': obj({ splitId: SESSION_ID, custodian: CUSTODIAN, token: TOKEN, pin: PIN }),
  'backup.splitFinish': obj({ splitId: SESSION_ID, hsm: TOKEN, hsmPin: PIN, chain: CHAIN, actor: CUSTODIAN, drive: FOLDER_HANDLE, folder: FOLDER_NAME }, { allowFixedDisk: bool() }),
  'backup.splitCancel': obj({ splitId: SESSION_ID }),
  'drill.begin': obj({ manifest: DOC, chain: CHAIN, drive: FOLDER_HANDLE, folder: FOLDER_NAME }, { allowFixedDisk: bool() }),
  'drill.present': obj({ drillId: SESSION_ID, custodian: CUSTODIAN, token: TOKEN, pin: PIN }),
  'drill.run': obj({ drillId: SESSION_ID, token: TOKEN, pin: PIN }, { restore: bool() }),
  'drill.cancel': obj({ drillId: SESSION_ID }),
};

const CEREMONY_REQUESTS = {
  'ceremony.validate': obj({ script: SCRIPT }),
  /** ceremonyFolder: the ceremony folder chosen in the dialog (it holds the script's input files); the rehearsal runs in the folder beside it. */
  'ceremony.rehearse': obj({ script: SCRIPT, ceremonyFolder: FOLDER_HANDLE }, { allowNetwork: bool() }),
  /** No PIN here: each card's PIN is asked on its hand-over when the run first needs the card (ceremony.pin). */
  'ceremony.start': obj({ script: SCRIPT, ceremonyFolder: FOLDER_HANDLE },
    /** reason: why a live run goes ahead without a recorded rehearsal, typed by the administrator; recorded in the audit log with the exception. */
    { noRehearsal: bool(), reason: str({ min: 1, max: 500, what: 'the reason for running without a rehearsal' }) }),
  'ceremony.status': obj({ runId: RUN_ID }),
  /** words: what the witness typed, one per slot, for a question that has words; `confirmed: true` alone is refused for those. */
  'ceremony.answer': obj({ runId: RUN_ID, confirmed: bool() }, { words: arr(str({ min: 0, max: 64, what: 'a word heard' }), { max: 32 }) }),
  /** token: the script's name of the card whose hand-over is waiting (CEREMONY_PIN_NOT_ASKED for any other). */
  'ceremony.pin': obj({ runId: RUN_ID, token: TOKEN_NAME, pin: PIN }),
  /** Stops a run that waits for a person: a hand-over is abandoned, a question refused. */
  'ceremony.stop': obj({ runId: RUN_ID }),
  /** The run sheet's reader view is open (true) or the witness types (false): the room's window shows the words only while they are read. */
  'ceremony.reading': obj({ runId: RUN_ID, reading: bool() }),
  'audit.verify': obj({ log: str({ min: 0, max: 64 * 1024 * 1024, what: 'an audit log (JSON lines)' }), chain: arr(DOC, { max: 32 }) }, { checkpoint: DOC }),
  'transcript.read': obj({ runId: RUN_ID }),
  'transcript.pdf': obj({ runId: RUN_ID }),
};

const STATE_REQUESTS = {
  /**
   * source: a drive from the drive list, or a folder chosen in the dialog to read a chain from;
   * folder: a folder on it, when the chain is not at its top. Files are read, never written.
   */
  'state.timeline': obj({ source: FOLDER_HANDLE }, { folder: FOLDER_NAME, rootDigest: ROOT_DIGEST }),
};

const ROOM_REQUESTS = {
  /** runId: a run of this table (CEREMONY_RUN_UNKNOWN otherwise); the shell puts it in the room window's fragment, so it is checked here and there. */
  'room.open': obj({ runId: RUN_ID }),
};

/** The request schema of every channel; contract.ts's `Requests` is derived from it. */
export const REQUESTS = {
  'app.info': EMPTY,
  'airgap.status': EMPTY,
  'tokens.list': EMPTY,
  'keys.generate': obj({ kind: oneOf(['master', 'backup', 'custodian'] as const), token: TOKEN, label: LABEL, pin: PIN }, { extractable: bool() }),
  'keys.publicKey': obj({ token: TOKEN, label: LABEL }),
  ...DOCUMENT_REQUESTS,
  ...EXPORT_REQUESTS,
  ...BACKUP_REQUESTS,
  ...CEREMONY_REQUESTS,
  ...STATE_REQUESTS,
  ...ROOM_REQUESTS,
} satisfies { readonly [channel: string]: Schema<unknown> }; // one per channel of the contract: checked in contract.ts, which this file does not import
