/**
 * Ceremony scripts (issue 7): a declarative, reviewed JSON file naming the ceremony, its
 * participants and their roles, the tokens it uses (by label or serial; the module and PINs live
 * in a separate profile, so the reviewed script is the one that runs), and its steps with the
 * quorum each needs. Parsing is strict (closed objects, duplicates refused) and reports every bad
 * field by its path; the script's SHA-256 is what a rehearsal records.
 */
import { createHash } from 'node:crypto';
import { CUSTODIAN_ID } from '../custodians/set.js';
import { DIGEST, Fields } from '../docs/fields.js';
import type { JsonObject } from '../docs/fields.js';
import { DocumentError } from '../docs/problems.js';
import { readJson } from '../dsse/envelope.js';
import { TARGETS } from '../export/targets.js';
import { SEED_INVENTORY } from '../manifest/inventory.js';
import { CEREMONY_ID, PHASES } from '../manifest/manifest.js';
import type { Phase } from '../manifest/manifest.js';

export const SCRIPT_SPEC = 'keyceremony/ceremony-script@1';
const MAX_SCRIPT_BYTES = 256 * 1024;
export const ROLES = ['administrator', 'witness', 'custodian', 'auditor'] as const;
export type Role = (typeof ROLES)[number];
const STEP_ID = /^[a-z][a-z0-9-]{0,63}$/;
const TOKEN_NAME = /^[a-z][a-z0-9-]{0,31}$/;
const LABEL = /^[^\s\u0000-\u001f\u007f](?:[^\u0000-\u001f\u007f]{0,30}[^\s\u0000-\u001f\u007f])?$/u;
const KEY_LABEL = /^[a-z0-9][a-z0-9_-]*-v[1-9][0-9]{0,8}$/;
const REL_PATH = /^(?!\/)(?!.*(?:^|\/)\.\.?(?:\/|$))[A-Za-z0-9._/-]{1,200}$/;

export interface Participant { readonly id: string; readonly name: string; readonly role: Role }
export interface ScriptToken { readonly name: string; readonly label: string; readonly serial: string | null; readonly holder: string | null }

export type Step =
  | { readonly id: string; readonly action: 'custodian-keys'; readonly actor: string; readonly witness: string; readonly custodians: readonly string[] }
  | { readonly id: string; readonly action: 'custodian-set'; readonly actor: string; readonly threshold: number; readonly members: readonly string[]; readonly signers: readonly string[]; readonly out: string }
  /** The custodian set of earlier ceremonies: its chain (input files, root first), the root pinned by digest or confirmed by the witness, each card's key checked against it. */
  | { readonly id: string; readonly action: 'load-custodian-set'; readonly actor: string; readonly witness: string; readonly chain: readonly string[]; readonly rootDigest: string | null }
  /** The next version of the set in force: signed by the threshold of the set in force and of the new one. */
  | { readonly id: string; readonly action: 'rotate-custodian-set'; readonly actor: string; readonly threshold: number; readonly members: readonly string[]; readonly signers: readonly string[]; readonly out: string }
  /**
   * wrapWithTrusted (optional, default false): the master key is made CKA_WRAP_WITH_TRUSTED
   * (src/pkcs11/trusted.ts): extractable only under a KMS key the security officer trusted
   * (keyceremony trust), so exported only by direct RSAES-OAEP, and never into a backup blob.
   */
  | { readonly id: string; readonly action: 'generate-key'; readonly actor: string; readonly witness: string; readonly token: string; readonly label: string; readonly extractable: boolean; readonly wrapWithTrusted: boolean }
  | { readonly id: string; readonly action: 'split-backup'; readonly actor: string; readonly token: string; readonly backupKey: string; readonly keys: readonly string[]; readonly threshold: number; readonly holders: readonly string[]; readonly signers: readonly string[]; readonly out: string }
  /**
   * previous: the input file of the manifest this one follows (sequence + 1, its digest), or null for a first manifest.
   * supersedes (optional, default `previous`): `none` for keys that join the chain at keyVersion
   * (keys already in use, or a new version after the name's current one was compromised): their
   * entries supersede nothing, as FORMATS.md §8 requires of a cutover when the name has no current
   * version. notBefore (optional): when the entries take effect, as a duration after the previous
   * manifest's notBefore (after this one's issue time when there is none), and never before the
   * issue time; absent, they take effect when the manifest is issued.
   */
  | { readonly id: string; readonly action: 'manifest'; readonly actor: string; readonly keyVersion: number; readonly phase: Phase; readonly keys: readonly string[]; readonly previous: string | null; readonly signers: readonly string[]; readonly out: string;
      readonly supersedes: 'previous' | 'none'; readonly notBefore: string | null }
  | { readonly id: string; readonly action: 'export'; readonly actor: string; readonly token: string; readonly key: string; readonly targets: readonly { readonly target: string; readonly kek: string; readonly kekId: string | null }[]; readonly out: string }
  /**
   * A new version of an inventory secret (issue 17): kept in the token (`keep: 'token'`, for a cloud
   * KMS's HMAC import) or drawn from the token's RNG and sealed at once to the deployment's age
   * recipients (`keep: 'deliver'`: `recipients` an input file of age1… lines, the sealed file in `out`).
   */
  | { readonly id: string; readonly action: 'make-secret'; readonly actor: string; readonly witness: string; readonly token: string; readonly name: string; readonly keyVersion: number; readonly keep: 'token' | 'deliver'; readonly recipients: string | null; readonly out: string | null }
  | { readonly id: string; readonly action: 'drill'; readonly actor: string; readonly token: string; readonly custody: string; readonly presenters: readonly string[]; readonly signers: readonly string[]; readonly out: string };

export type Action = Step['action'];
export const ACTIONS: readonly Action[] = ['custodian-keys', 'custodian-set', 'load-custodian-set', 'rotate-custodian-set', 'generate-key', 'make-secret', 'split-backup', 'manifest', 'export', 'drill'];
/** The steps that put a custodian set in force for the steps after them. */
export const SET_ACTIONS: readonly Action[] = ['custodian-set', 'load-custodian-set', 'rotate-custodian-set'];

export interface CeremonyScript {
  readonly id: string;
  readonly title: string;
  readonly participants: readonly Participant[];
  readonly tokens: readonly ScriptToken[];
  readonly steps: readonly Step[];
  readonly digest: string;
}

/** The object itself when Fields.object refused it only for unknown or missing members (already reported), so its other fields are checked too. */
function lenient(checked: JsonObject | undefined, v: JsonObject[string] | undefined): JsonObject | undefined {
  if (checked !== undefined) return checked;
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? v as JsonObject : undefined;
}

export function scriptDigest(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

const STEP_MEMBERS: Readonly<Record<Action, readonly string[]>> = {
  'custodian-keys': ['id', 'action', 'actor', 'witness', 'custodians'],
  'custodian-set': ['id', 'action', 'actor', 'threshold', 'members', 'signers', 'out'],
  'load-custodian-set': ['id', 'action', 'actor', 'witness', 'chain', 'rootDigest'],
  'rotate-custodian-set': ['id', 'action', 'actor', 'threshold', 'members', 'signers', 'out'],
  'generate-key': ['id', 'action', 'actor', 'witness', 'token', 'label', 'extractable'],
  'make-secret': ['id', 'action', 'actor', 'witness', 'token', 'name', 'keyVersion', 'keep', 'recipients', 'out'],
  'split-backup': ['id', 'action', 'actor', 'token', 'backupKey', 'keys', 'threshold', 'holders', 'signers', 'out'],
  manifest: ['id', 'action', 'actor', 'keyVersion', 'phase', 'keys', 'previous', 'signers', 'out'],
  export: ['id', 'action', 'actor', 'token', 'key', 'targets', 'out'],
  drill: ['id', 'action', 'actor', 'token', 'custody', 'presenters', 'signers', 'out'],
};

/** Members a step may leave out (each reader gives its default), so scripts written before them stay valid. */
const OPTIONAL_MEMBERS: Readonly<Partial<Record<Action, readonly string[]>>> = { manifest: ['supersedes', 'notBefore'], 'generate-key': ['wrapWithTrusted'] };

/** The longest delay a manifest step may give its notBefore: a manifest is valid for 30 days (src/ceremony/steps/manifest.ts), and notBefore must fall inside. */
export const MAX_NOT_BEFORE_DELAY_MS = 30 * 86400_000;
const DURATION = /^P(?:(\d{1,2})D)?(?:T(?:(\d{1,3})H)?(?:(\d{1,5})M)?(?:(\d{1,7})S)?)?$/;

/** An ISO 8601 duration of days, hours, minutes and seconds (`PT1H`, `P7D`, `PT0S`) in ms; null when it is not one. */
export function durationMs(text: string): number | null {
  const m = DURATION.exec(text);
  if (m === null || text === 'P' || text.endsWith('T')) return null;
  const [d, h, mi, s] = m.slice(1).map((x) => (x === undefined ? 0 : Number(x))) as [number, number, number, number];
  return (((d * 24 + h) * 60 + mi) * 60 + s) * 1000;
}

export function parseScript(bytes: Uint8Array): CeremonyScript {
  const json = readJson(bytes, MAX_SCRIPT_BYTES, 'the ceremony script');
  const f = new Fields();
  // every bad field is reported: an object with unknown members is still read for its known ones
  const o = lenient(f.object(json, '$', ['spec', 'id', 'title', 'participants', 'tokens', 'steps']), json);
  if (o === undefined) throw new DocumentError(f.problems, 'the ceremony script');
  if (f.string(o.spec, 'spec') !== SCRIPT_SPEC) f.add('DOCUMENT_WRONG_SPEC', 'spec', `expected "${SCRIPT_SPEC}"`);
  const id = f.string(o.id, 'id', { pattern: CEREMONY_ID, what: 'a ceremony id' });
  const title = f.string(o.title, 'title', { max: 200 });
  const participants: Participant[] = [];
  f.array(o.participants, 'participants', { min: 1, max: 64 })?.forEach((p, i) => {
    const po = lenient(f.object(p, `participants[${i}]`, ['id', 'name', 'role']), p);
    if (po === undefined) return;
    const pid = f.string(po.id, `participants[${i}].id`, { pattern: CUSTODIAN_ID, what: 'an id (lowercase letters, digits, . _ -)' });
    const name = f.string(po.name, `participants[${i}].name`, { max: 128 });
    const role = f.oneOf(po.role, `participants[${i}].role`, ROLES);
    if (pid !== undefined && participants.some((x) => x.id === pid)) f.add('SCRIPT_DUPLICATE', `participants[${i}].id`, `${pid} is listed twice`);
    if (pid !== undefined && name !== undefined && role !== undefined) participants.push({ id: pid, name, role });
  });
  const tokens: ScriptToken[] = [];
  f.array(o.tokens, 'tokens', { min: 1, max: 64 })?.forEach((t, i) => {
    const to = lenient(f.object(t, `tokens[${i}]`, ['name', 'label', 'serial', 'holder']), t);
    if (to === undefined) return;
    const name = f.string(to.name, `tokens[${i}].name`, { pattern: TOKEN_NAME, what: 'a short name (hsm, card-alice)' });
    const label = f.string(to.label, `tokens[${i}].label`, { pattern: LABEL, what: 'a token label (1 to 32 characters)' });
    const serial = f.nullableString(to.serial, `tokens[${i}].serial`, { pattern: /^[0-9A-Za-z]{1,16}$/, what: 'a token serial or null' });
    const holder = f.nullableString(to.holder, `tokens[${i}].holder`, { pattern: CUSTODIAN_ID, what: 'a participant id or null' });
    if (name !== undefined && tokens.some((x) => x.name === name)) f.add('SCRIPT_DUPLICATE', `tokens[${i}].name`, `${name} is listed twice`);
    if (holder !== undefined && holder !== null && !participants.some((p) => p.id === holder)) f.add('SCRIPT_UNKNOWN_PARTICIPANT', `tokens[${i}].holder`, `${holder} is not a participant`);
    if (name !== undefined && label !== undefined && serial !== undefined && holder !== undefined) tokens.push({ name, label, serial, holder });
  });
  const steps: Step[] = [];
  f.array(o.steps, 'steps', { min: 1, max: 256 })?.forEach((s, i) => {
    const step = readStep(f, s, `steps[${i}]`, participants, tokens, steps);
    if (step !== undefined) {
      if (steps.some((x) => x.id === step.id)) f.add('SCRIPT_DUPLICATE', `steps[${i}].id`, `${step.id} is used twice`);
      if (step.action === 'make-secret') secretOrder(f, step, steps, `steps[${i}]`);
      steps.push(step);
    }
  });
  if (f.problems.length > 0 || id === undefined || title === undefined) throw new DocumentError(f.problems, 'the ceremony script');
  return { id, title, participants, tokens, steps, digest: scriptDigest(bytes) };
}

/** What every step's reader uses: the step's members, its id and actor, and the checks of participants, tokens, paths and quorums. */
interface StepInput {
  readonly f: Fields;
  readonly o: JsonObject;
  readonly path: string;
  readonly id: string | undefined;
  readonly actor: string | undefined;
  readonly tokens: readonly ScriptToken[];
  /** The steps before this one. */
  readonly before: readonly Step[];
  who(x: JsonObject[string] | undefined, p: string, roles: readonly Role[]): string | undefined;
  whoList(x: JsonObject[string] | undefined, p: string, min: number): string[] | undefined;
  token(x: JsonObject[string] | undefined, p: string): string | undefined;
  out(x: JsonObject[string] | undefined, p: string): string | undefined;
  threshold(x: JsonObject[string] | undefined, p: string, n: number | undefined): number | undefined;
  /** The signers meet the threshold of the set in force before this step, when it is known now. */
  quorum(signers: string[] | undefined, p: string): void;
}

type Checks = Omit<StepInput, 'o' | 'path' | 'id' | 'actor'>;

function stepChecks(f: Fields, participants: readonly Participant[], tokens: readonly ScriptToken[], before: readonly Step[]): Checks {
  const who = (x: JsonObject[string] | undefined, p: string, roles: readonly Role[]): string | undefined => {
    const s = f.string(x, p, { pattern: CUSTODIAN_ID, what: 'a participant id' });
    if (s === undefined) return undefined;
    const part = participants.find((q) => q.id === s);
    if (part === undefined) return f.add('SCRIPT_UNKNOWN_PARTICIPANT', p, `${s} is not a participant`);
    if (!roles.includes(part.role)) return f.add('SCRIPT_WRONG_ROLE', p, `${s} is ${part.role}, and this needs ${roles.join(' or ')}`);
    return s;
  };
  /** The threshold of the set in force before this step; undefined when a loaded set's is known only at run time. */
  const setThreshold = (): number | undefined => {
    const set = [...before].reverse().find((s) => SET_ACTIONS.includes(s.action));
    return set?.action === 'custodian-set' || set?.action === 'rotate-custodian-set' ? set.threshold : undefined;
  };
  return {
    f, tokens, before, who,
    whoList: (x, p, min) => {
      const list = f.array(x, p, { min, max: 64 });
      if (list === undefined) return undefined;
      const out = list.map((y, i) => who(y, `${p}[${i}]`, ['custodian']));
      if (new Set(out).size !== out.length) f.add('SCRIPT_DUPLICATE', p, 'a custodian is listed twice');
      return out.every((x2) => x2 !== undefined) ? out as string[] : undefined;
    },
    token: (x, p) => {
      const s = f.string(x, p, { pattern: TOKEN_NAME, what: 'a token name from tokens' });
      if (s !== undefined && !tokens.some((t) => t.name === s)) return f.add('SCRIPT_UNKNOWN_TOKEN', p, `${s} is not one of the script's tokens`);
      return s;
    },
    out: (x, p) => f.string(x, p, { pattern: REL_PATH, what: 'a relative path inside the ceremony folder' }),
    threshold: (x, p, n) => {
      const t = f.integer(x, p, 1);
      if (t !== undefined && n !== undefined && t > n) return f.add('SCRIPT_QUORUM_INVALID', p, `${t} is more than the ${n} listed`);
      return t;
    },
    quorum: (signers, p) => {
      const t = setThreshold();
      if (signers !== undefined && t !== undefined && signers.length < t) f.add('SCRIPT_QUORUM_INVALID', p, `${signers.length} signer(s), and the custodian set needs ${t}`);
    },
  };
}

function readStep(f: Fields, v: JsonObject[string] | undefined, path: string, participants: readonly Participant[], tokens: readonly ScriptToken[], before: readonly Step[]): Step | undefined {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return f.add('DOCUMENT_WRONG_TYPE', path, 'expected an object');
  const action = f.oneOf((v as JsonObject).action, `${path}.action`, ACTIONS);
  if (action === undefined) return undefined;
  const optional = (OPTIONAL_MEMBERS[action] ?? []).filter((k) => Object.hasOwn(v, k));
  const o = lenient(f.object(v, path, [...STEP_MEMBERS[action], ...optional]), v);
  if (o === undefined) return undefined;
  const id = f.string(o.id, `${path}.id`, { pattern: STEP_ID, what: 'a step id (lowercase, digits, -)' });
  const checks = stepChecks(f, participants, tokens, before);
  // a manifest's initiating actor must be a custodian of the set (FORMATS.md §4)
  const actor = checks.who(o.actor, `${path}.actor`, action === 'manifest' || action === 'split-backup' ? ['custodian'] : ['administrator', 'custodian']);
  // every step that signs for the custodians, or rotates their set, needs a set in force before it
  if (['rotate-custodian-set', 'split-backup', 'manifest', 'drill'].includes(action) && !before.some((s) => SET_ACTIONS.includes(s.action))) {
    f.add('SCRIPT_STEP_ORDER', `${path}.action`, `${action} needs a custodian set: put a custodian-set or load-custodian-set step before it`);
  }
  return STEP_READERS[action]({ ...checks, o, path, id, actor });
}

/** One reader per action: each reads its members, reporting every bad one, and returns the step when all are good. */
const STEP_READERS: Readonly<Record<Action, (x: StepInput) => Step | undefined>> = {
  'custodian-keys': ({ f, o, path, id, actor, tokens, who, whoList }) => {
    const witness = who(o.witness, `${path}.witness`, ['witness', 'auditor']);
    const custodians = whoList(o.custodians, `${path}.custodians`, 1);
    for (const c of custodians ?? []) if (!tokens.some((t) => t.holder === c)) f.add('SCRIPT_UNKNOWN_TOKEN', `${path}.custodians`, `no token is held by ${c}`);
    return id && actor && witness && custodians ? { id, action: 'custodian-keys', actor, witness, custodians } : undefined;
  },
  'load-custodian-set': ({ f, o, path, id, actor, who, out }) => {
    const witness = who(o.witness, `${path}.witness`, ['witness', 'auditor']);
    const list = f.array(o.chain, `${path}.chain`, { min: 1, max: 64 })?.map((x, i) => out(x, `${path}.chain[${i}]`));
    const names = (list ?? []).map((x) => x?.split('/').pop());
    if (new Set(names).size !== names.length) f.add('SCRIPT_DUPLICATE', `${path}.chain`, 'two chain files have the same name: they are copied side by side into the ceremony folder');
    const rootDigest = f.nullableString(o.rootDigest, `${path}.rootDigest`, { pattern: DIGEST, what: 'sha256:<64 hex> or null (then the witness confirms the root digest read aloud)' });
    return id && actor && witness && list?.every((x) => x !== undefined) && rootDigest !== undefined ? { id, action: 'load-custodian-set', actor, witness, chain: list as string[], rootDigest } : undefined;
  },
  'custodian-set': (x) => readSetStep(x, 'custodian-set'),
  'rotate-custodian-set': (x) => readSetStep(x, 'rotate-custodian-set'),
  'generate-key': ({ f, o, path, id, actor, who, token }) => {
    const witness = who(o.witness, `${path}.witness`, ['witness', 'auditor']);
    const tk = token(o.token, `${path}.token`);
    const label = f.string(o.label, `${path}.label`, { pattern: KEY_LABEL, what: 'a versioned key label (master-v2)' });
    const extractable = f.boolean(o.extractable, `${path}.extractable`);
    const wrapWithTrusted = Object.hasOwn(o, 'wrapWithTrusted') ? f.boolean(o.wrapWithTrusted, `${path}.wrapWithTrusted`) : false;
    // PKCS#11 2.40 §4.9: the attribute says something only of a key that may leave the token; a backup key wraps into blobs under no trusted key
    if (wrapWithTrusted === true && (extractable === false || label?.startsWith('backup') === true)) {
      f.add('SCRIPT_WRAP_WITH_TRUSTED', `${path}.wrapWithTrusted`, 'only an extractable master key is made wrap-with-trusted');
    }
    return id && actor && witness && tk && label && extractable !== undefined && wrapWithTrusted !== undefined && (!wrapWithTrusted || (extractable && !label.startsWith('backup')))
      ? { id, action: 'generate-key', actor, witness, token: tk, label, extractable, wrapWithTrusted } : undefined;
  },
  'make-secret': readSecretStep,
  'split-backup': readSplitStep,
  manifest: ({ f, o, path, id, actor, whoList, out, quorum }) => {
    const keyVersion = f.integer(o.keyVersion, `${path}.keyVersion`, 1);
    const phase = f.oneOf(o.phase, `${path}.phase`, PHASES);
    const names = SEED_INVENTORY.map((e) => e.name);
    const keys = f.array(o.keys, `${path}.keys`, { min: 1, max: names.length })?.map((k, i) => f.oneOf(k, `${path}.keys[${i}]`, names));
    const previous = o.previous === null ? null : out(o.previous, `${path}.previous`);
    const signers = whoList(o.signers, `${path}.signers`, 1);
    quorum(signers, `${path}.signers`);
    const o2 = out(o.out, `${path}.out`);
    const supersedes = Object.hasOwn(o, 'supersedes') ? f.oneOf(o.supersedes, `${path}.supersedes`, ['previous', 'none'] as const) : 'previous';
    const notBefore = Object.hasOwn(o, 'notBefore') ? f.string(o.notBefore, `${path}.notBefore`, { max: 32 }) : null;
    const delay = typeof notBefore === 'string' ? durationMs(notBefore) : null;
    if (typeof notBefore === 'string' && (delay === null || delay > MAX_NOT_BEFORE_DELAY_MS)) {
      f.add('SCRIPT_NOT_BEFORE_INVALID', `${path}.notBefore`, `${JSON.stringify(notBefore)} is not a delay of at most 30 days written as an ISO 8601 duration (PT0S, PT1H, PT24H, P7D)`);
    }
    return id && actor && keyVersion !== undefined && phase && keys?.every((k) => k !== undefined) && previous !== undefined && signers && o2 && supersedes !== undefined && notBefore !== undefined
      && (notBefore === null || delay !== null) ? { id, action: 'manifest', actor, keyVersion, phase, keys: keys as string[], previous, signers, out: o2, supersedes, notBefore } : undefined;
  },
  export: readExportStep,
  drill: ({ o, path, id, actor, token, whoList, out, quorum }) => {
    const tk = token(o.token, `${path}.token`);
    const custody = out(o.custody, `${path}.custody`);
    const presenters = whoList(o.presenters, `${path}.presenters`, 2);
    const signers = whoList(o.signers, `${path}.signers`, 1);
    quorum(signers, `${path}.signers`);
    const o2 = out(o.out, `${path}.out`);
    return id && actor && tk && custody && presenters && signers && o2 ? { id, action: 'drill', actor, token: tk, custody, presenters, signers, out: o2 } : undefined;
  },
};

/** The inventory names a ceremony can make a secret for: those §4 lets carry a binding. */
export const SECRET_NAMES = SEED_INVENTORY.filter((e) => ['HMAC-SHA256', 'JWT-HS256', 'TOKEN'].includes(e.algorithm)).map((e) => e.name);

/**
 * A version is made once, and before any manifest of the script approves it: FORMATS.md §4 requires
 * the binding of a secret made in the ceremony, and a manifest signed before it was made carries none
 * (a deployment then refuses the version), while a second make of it would bind another secret.
 */
function secretOrder(f: Fields, step: Extract<Step, { action: 'make-secret' }>, before: readonly Step[], path: string): void {
  if (before.some((x) => x.action === 'make-secret' && x.name === step.name && x.keyVersion === step.keyVersion)) {
    f.add('SCRIPT_DUPLICATE', `${path}.name`, `${step.name} version ${step.keyVersion} is made twice: a version is one secret`);
  }
  const signed = before.find((x) => x.action === 'manifest' && x.keyVersion === step.keyVersion && x.keys.includes(step.name));
  if (signed !== undefined) f.add('SCRIPT_STEP_ORDER', `${path}.name`, `${signed.id} approves ${step.name} version ${step.keyVersion} before it is made, without its binding: make it first`);
}

function readSecretStep({ f, o, path, id, actor, who, token, out }: StepInput): Extract<Step, { action: 'make-secret' }> | undefined {
  const witness = who(o.witness, `${path}.witness`, ['witness', 'auditor']);
  const tk = token(o.token, `${path}.token`);
  const name = f.oneOf(o.name, `${path}.name`, SECRET_NAMES);
  const keyVersion = f.integer(o.keyVersion, `${path}.keyVersion`, 1);
  const keep = f.oneOf(o.keep, `${path}.keep`, ['token', 'deliver'] as const);
  const recipients = o.recipients === null ? null : out(o.recipients, `${path}.recipients`);
  const o2 = o.out === null ? null : out(o.out, `${path}.out`);
  if (keep === 'deliver' && (recipients === null || o2 === null)) f.add('SCRIPT_SECRET_DELIVERY', `${path}.recipients`, 'a delivered secret needs the deployment\'s recipients (an input file of age1… lines) and an out folder for the sealed file');
  if (keep === 'token' && (recipients !== null || o2 !== null)) f.add('SCRIPT_SECRET_DELIVERY', `${path}.recipients`, 'a secret kept in the token is sealed to no one: recipients and out are null');
  return id && actor && witness && tk && name && keyVersion !== undefined && keep && recipients !== undefined && o2 !== undefined && (keep === 'deliver') === (recipients !== null && o2 !== null)
    ? { id, action: 'make-secret', actor, witness, token: tk, name, keyVersion, keep, recipients, out: o2 } : undefined;
}

function readSetStep({ f, o, path, id, actor, whoList, out, threshold, quorum }: StepInput, action: 'custodian-set' | 'rotate-custodian-set'): Step | undefined {
  const members = whoList(o.members, `${path}.members`, 1);
  const t = threshold(o.threshold, `${path}.threshold`, members?.length);
  const signers = whoList(o.signers, `${path}.signers`, 1);
  if (signers !== undefined && t !== undefined && signers.length < t) f.add('SCRIPT_QUORUM_INVALID', `${path}.signers`, `${signers.length} signer(s), and the set needs ${t}`);
  else if (action === 'rotate-custodian-set') quorum(signers, `${path}.signers`); // and the threshold of the set it replaces
  const o2 = out(o.out, `${path}.out`);
  return id && actor && members && t !== undefined && signers && o2 ? { id, action, actor, threshold: t, members, signers, out: o2 } : undefined;
}

/** The labels the script's earlier generate-key steps make wrap-with-trusted. */
function trustedKeys(before: readonly Step[]): Set<string> {
  return new Set(before.flatMap((s) => (s.action === 'generate-key' && s.wrapWithTrusted ? [s.label] : [])));
}

function readSplitStep({ f, o, path, id, actor, tokens, token, whoList, out, threshold, quorum, before }: StepInput): Extract<Step, { action: 'split-backup' }> | undefined {
  const tk = token(o.token, `${path}.token`);
  const backupKey = f.string(o.backupKey, `${path}.backupKey`, { pattern: /^backup-v[1-9][0-9]{0,8}$/, what: 'a backup key id (backup-vN)' });
  const keys = f.array(o.keys, `${path}.keys`, { min: 1, max: 16 })?.map((k, i) => f.string(k, `${path}.keys[${i}]`, { pattern: /^master-v[1-9][0-9]{0,8}$/, what: 'a master key label' }));
  const trusted = trustedKeys(before);
  keys?.forEach((k, i) => { if (k !== undefined && trusted.has(k)) f.add('SCRIPT_WRAP_WITH_TRUSTED', `${path}.keys[${i}]`, `${k} is made wrap-with-trusted: it wraps under no backup key, so it has no backup blob`); });
  const holders = whoList(o.holders, `${path}.holders`, 2);
  const t = threshold(o.threshold, `${path}.threshold`, holders?.length);
  if (t !== undefined && t < 2) f.add('SCRIPT_QUORUM_INVALID', `${path}.threshold`, 'a split needs at least 2 shares to restore');
  for (const c of holders ?? []) if (!tokens.some((x) => x.holder === c)) f.add('SCRIPT_UNKNOWN_TOKEN', `${path}.holders`, `no token is held by ${c}`);
  const signers = whoList(o.signers, `${path}.signers`, 1);
  quorum(signers, `${path}.signers`);
  const o2 = out(o.out, `${path}.out`);
  return id && actor && tk && backupKey && keys?.every((k) => k !== undefined) && holders && t !== undefined && signers && o2
    ? { id, action: 'split-backup', actor, token: tk, backupKey, keys: keys as string[], threshold: t, holders, signers, out: o2 } : undefined;
}

function readExportStep({ f, o, path, id, actor, token, out, before }: StepInput): Extract<Step, { action: 'export' }> | undefined {
  const tk = token(o.token, `${path}.token`);
  const key = f.string(o.key, `${path}.key`, { pattern: KEY_LABEL, what: 'a versioned key label' });
  const trusted = key !== undefined && trustedKeys(before).has(key);
  const targets = f.array(o.targets, `${path}.targets`, { min: 1, max: TARGETS.length })?.map((t, i) => {
    const to = f.object(t, `${path}.targets[${i}]`, ['target', 'kek', 'kekId']);
    if (to === undefined) return undefined;
    const target = f.oneOf(to.target, `${path}.targets[${i}].target`, TARGETS.map((x) => x.name));
    const kek = out(to.kek, `${path}.targets[${i}].kek`);
    const kekId = f.nullableString(to.kekId, `${path}.targets[${i}].kekId`, { pattern: /^https:\/\/[^\s/]+\/keys\/\S+$/, what: 'a Key Vault key id URL or null' });
    if (target === 'azure-byok' && kekId === null) f.add('SCRIPT_FIELD_MISSING', `${path}.targets[${i}].kekId`, 'azure-byok needs the KEK id');
    if (trusted && target !== undefined && TARGETS.find((x) => x.name === target)?.construction !== 'oaep') {
      f.add('SCRIPT_WRAP_WITH_TRUSTED', `${path}.targets[${i}].target`, `${key as string} is made wrap-with-trusted: it is exported only by direct RSAES-OAEP under the KMS key the security officer trusted, and ${target} wraps it under an ephemeral AES key`);
    }
    return target && kek && kekId !== undefined ? { target, kek, kekId } : undefined;
  });
  const o2 = out(o.out, `${path}.out`);
  return id && actor && tk && key && targets?.every((t) => t !== undefined) && o2 ? { id, action: 'export', actor, token: tk, key, targets: targets as { target: string; kek: string; kekId: string | null }[], out: o2 } : undefined;
}
