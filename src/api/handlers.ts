/**
 * The one handler table of the app: every IPC channel of ./contract.ts, validated at the
 * boundary against ./schema.ts, answering `{ ok: true, value } | { ok: false, error: { code,
 * message, fix } }`. electron/main registers these through one helper; the browser tests bridge
 * the very same table into Chromium. PINs arrive as strings from the PIN field, are copied into a
 * buffer that is zeroed after use, and never appear in a result or an error. Folders arrive only as
 * handles this table gave out, from its drive list and its folder dialog (./folders.ts), never as
 * paths. The rules themselves (the verified chain, who may act, the export, the split and the
 * drill, the preflight) are the use cases' in ../usecases, shared with the command line and the
 * ceremony engine.
 */
import { zero } from '../bytes.js';
import { networkInterfacesUp } from '../ceremony/airgap.js';
import { fingerprint } from '../crypto/fingerprint.js';
import { nextCustodianSet } from '../custodians/rotate.js';
import { buildCustodianSet, parseCustodianSet, payloadDigest } from '../custodians/set.js';
import { formatTime, parseTime } from '../docs/fields.js';
import { formatProblem } from '../docs/problems.js';
import { PAYLOAD_TYPES } from '../docs/types.js';
import { decodeBase64Strict, parseEnvelope, serializeEnvelope } from '../dsse/envelope.js';
import type { Envelope } from '../dsse/envelope.js';
import { addSignature, mergeEnvelopes } from '../dsse/sign.js';
import { KeyceremonyError } from '../errors.js';
import { parseKek } from '../export/kek.js';
import type { Kek } from '../export/kek.js';
import { paramsWarnings } from '../export/params.js';
import { findTarget, TARGETS } from '../export/targets.js';
import { inventoryKeys } from '../manifest/inventory.js';
import { buildManifest, followOn } from '../manifest/manifest.js';
import { formatKcv, generateAesKey, generateEd25519, readEd25519PublicKey } from '../pkcs11/keys.js';
import { tokenAbilities } from '../pkcs11/mechanisms.js';
import { describeLibrary } from '../pkcs11/module.js';
import { findPublicKey } from '../pkcs11/objects.js';
import { withSession } from '../pkcs11/session.js';
import { tokenSigner } from '../pkcs11/signer.js';
import { listTokens, mechanisms } from '../pkcs11/tokens.js';
import type { Token } from '../pkcs11/tokens.js';
import { chainForDocument, verifiedChainOfTexts } from '../usecases/chain.js';
import { newestSetMembers, requireCustodian } from '../usecases/custodians.js';
import { checkExportFolder, checkKek, exportKey } from '../usecases/export.js';
import { approvals, checkSignerIsCustodian, describePayload, signatureDetails } from '../verify/approvals.js';
import { verifyDocument } from '../verify/verify.js';
import type { NewestRule, TrustedChain } from '../verify/verify.js';
import { backupHandlers } from './backup-handlers.js';
import { ceremonyHandlers, nodeSpawnCli } from './ceremony-handlers.js';
import type { SpawnCli } from './ceremony-handlers.js';
import { CHANNELS } from './contract.js';
import type { ApiError, Channel, ChannelHandlers, DocumentView, LibraryView, Responses, Result, SandboxView, TokenRef, TokenView } from './contract.js';
import { folderHandlers, FolderHandles } from './folders.js';
import type { ChooseFolder } from './folders.js';
import { AppLibraries } from './libraries.js';
import type { AppLibrary } from './libraries.js';
import { parseRequest, REQUESTS } from './schema.js';
import type { Schema } from './schema.js';
import { stateHandlers } from './state-handlers.js';

/** The request schemas, where the fuzz tests and electron/main have always found them. */
export { REQUESTS } from './schema.js';

export interface HandlerContext {
  /** The default library: --module of the app, else KEYCEREMONY_PKCS11_MODULE, else SoftHSM2 (CLI.md order); its parameters from KEYCEREMONY_PKCS11_MODULE_PARAMS in env. */
  readonly modulePath?: string | undefined;
  /**
   * A ceremony profile (the file of `ceremony run --profile`) whose libraries the app uses too, each
   * token's with its parameters: an absolute path, else KEYCEREMONY_PROFILE in env (./libraries.ts).
   */
  readonly profile?: string | undefined;
  readonly env: NodeJS.ProcessEnv;
  readonly version: string;
  readonly now?: () => number;
  /** The network interfaces that are up (the air-gap guard); the OS's by default. */
  readonly interfaces?: () => { name: string; addresses: string[] }[];
  /** Passed rehearsals recorded by the CLI (JSON lines), if the app should honour them. */
  readonly rehearsals?: string;
  /** Starts the command line for a rehearsal in a process of its own; `keyceremony` under this Node by default. */
  readonly spawnCli?: SpawnCli;
  /** HTML → PDF, supplied by the Electron main process (printToPDF); tests supply Chromium's. */
  readonly printToPdf?: (html: string) => Promise<Uint8Array>;
  /** The folder dialog, supplied by the Electron main process (dialog.showOpenDialog); tests supply one that returns a folder they made. */
  readonly chooseFolder?: ChooseFolder;
  /**
   * Whether the app runs inside the Chromium sandbox, as the Electron main process detects it now
   * (electron/main/sandbox.ts: it can change once the window's process is seen); absent where no
   * desktop shell runs this table. app.info reports it, and a rehearsal started unsandboxed records it.
   */
  readonly sandbox?: () => SandboxView;
  /**
   * Opens the room's window on a run (issue 15), supplied by the Electron main process
   * (electron/main/room.ts): one window at most, moved to this run or focused if it shows it already.
   * Absent where no desktop shell runs this table: room.open answers APP_ROOM_WINDOW_UNAVAILABLE.
   */
  readonly openRoomWindow?: (runId: string) => Promise<'opened' | 'focused'>;
}

export type Handlers = { readonly [C in Channel]: (request: unknown) => Promise<Result<Responses[C]>> };

/** What every group of channels uses: the clock, the libraries and their tokens, PINs, the verified chain, document views. */
interface Core {
  readonly ctx: HandlerContext;
  readonly now: () => number;
  readonly libraries: AppLibraries;
  /** The token a request names, in the library it lives in (./libraries.ts). */
  readonly token: (ref: TokenRef) => Token;
  readonly withPin: <T>(pin: string, fn: (p: Buffer) => Promise<T>) => Promise<T>;
  /** The verified chain (CHAIN_INVALID otherwise); 'replaced' when it is loaded to make its next set. */
  readonly chainOf: (docs: readonly string[], newest?: NewestRule) => TrustedChain;
  /** The verified chain that approves this document, read as the verifier reads it (a next set's chain may end in an expired set). */
  readonly chainFor: (doc: string, docs: readonly string[]) => TrustedChain;
}

const enc = new TextEncoder();
const bytes = (s: string): Uint8Array => enc.encode(s);
const DAY = 86400_000;
const CHAIN_FIX = 'load the custodian sets from the trusted root, in order';

function asError(err: unknown): ApiError {
  if (err instanceof KeyceremonyError) return { code: err.code, message: err.message, fix: err.fix };
  return { code: 'INTERNAL_ERROR', message: 'an unexpected error happened in the app', fix: 'this is a bug: note what you did and report it; the app keeps working' };
}

/** A KEK pasted or dropped into the app: PEM text, or base64 of the DER SubjectPublicKeyInfo. */
function kekFromText(text: string): Kek {
  if (text.includes('-----BEGIN')) return parseKek(Buffer.from(text, 'utf8'));
  const der = decodeBase64Strict(text.replace(/\s+/g, ''));
  if (der === null) throw new KeyceremonyError('EXPORT_KEK_INVALID', 'the wrapping key is neither PEM nor base64 of DER', 'paste the public key from the KMS import job');
  return parseKek(der);
}

function docView(env: Envelope): DocumentView {
  return { document: serializeEnvelope(env), summary: describePayload(env), digest: payloadDigest(env.payload) };
}

const memberInputs = (members: readonly { id: string; name: string; publicKey: string }[]) => members.map((m) => ({ id: m.id, name: m.name, publicKey: new Uint8Array(Buffer.from(m.publicKey, 'hex')) }));

function core(ctx: HandlerContext): Core {
  const now = ctx.now ?? (() => Math.floor(Date.now() / 1000) * 1000);
  const libraries = new AppLibraries({ modulePath: ctx.modulePath, env: ctx.env, profile: ctx.profile });
  return {
    ctx, now, libraries,
    token: (ref) => libraries.find(ref),
    withPin: async (pin, fn) => {
      const p = Buffer.from(pin, 'utf8');
      try { return await fn(p); } finally { zero(p); }
    },
    chainOf: (docs, newest) => verifiedChainOfTexts(docs, { at: now(), newest, fix: CHAIN_FIX }),
    chainFor: (doc, docs) => chainForDocument(bytes(doc), docs.map(bytes), { at: now(), fix: CHAIN_FIX }),
  };
}

function tokenView(t: Token, library: string): TokenView {
  const caps = mechanisms(t);
  const f = t.info.flags;
  return { library, label: t.label, serial: t.info.serial, manufacturer: t.info.manufacturer, model: t.info.model, initialized: f.initialized, pinCountLow: f.pinCountLow,
    pinFinalTry: f.pinFinalTry, pinLocked: f.pinLocked, loginRequired: f.loginRequired, mechanisms: caps.map((m) => m.name),
    capabilities: tokenAbilities(caps) };
}

function libraryView(l: AppLibrary): LibraryView {
  if (l.module === null) return { path: l.path, configured: l.configured, description: null, implementation: null, simulation: false, error: asError(l.error) };
  return { path: l.path, configured: l.configured, description: describeLibrary(l.module), implementation: l.module.implementation, simulation: l.module.isSoftHsm, error: null };
}

/** Every library and its initialised tokens: one that will not open is listed with its error, and the others still list theirs. */
function listLibraries(libraries: AppLibraries): Responses['tokens.list'] {
  const state = libraries.state();
  const listed = state.libraries.map((l) => {
    if (l.module === null) return { view: libraryView(l), tokens: [] };
    try {
      return { view: libraryView(l), tokens: listTokens(l.module).filter((t) => t.info.flags.initialized).map((t) => tokenView(t, l.path)) };
    } catch (err) {
      // a library that opened and then failed to list (its device gone): its error, beside the others
      if (!(err instanceof KeyceremonyError)) throw err;
      return { view: { ...libraryView(l), error: asError(err) }, tokens: [] };
    }
  });
  return {
    libraries: listed.map((l) => l.view),
    tokens: listed.flatMap((l) => l.tokens),
    profile: state.profile === null ? null : { path: state.profile.path, error: state.profile.error === null ? null : asError(state.profile.error) },
  };
}

function deviceHandlers(c: Core): ChannelHandlers<'app.info' | 'airgap.status' | 'tokens.list' | 'keys.generate' | 'keys.publicKey'> {
  return {
    'app.info': async () => {
      const s = c.ctx.sandbox?.();
      const sandbox = s === undefined ? null : { sandboxed: s.sandboxed, reasons: [...s.reasons] };
      // the default library (the first configured); tokens.list has every library
      const first = c.libraries.first();
      return first.module === null ? { version: c.ctx.version, module: null, simulation: false, moduleError: asError(first.error), sandbox }
        : { version: c.ctx.version, module: first.path, simulation: first.module.isSoftHsm, moduleError: null, sandbox };
    },
    'airgap.status': async () => {
      // the same source as the ceremony's air-gap guard: what the banner shows is what the guard decides on
      const interfaces = (c.ctx.interfaces ?? networkInterfacesUp)();
      return { online: interfaces.length > 0, interfaces };
    },
    'tokens.list': async () => listLibraries(c.libraries),
    'keys.generate': async (r) => c.withPin(r.pin, (pin) => withSession(c.token(r.token), pin, async (s) => {
      if (r.kind === 'custodian') {
        const k = await generateEd25519(s, { label: r.label });
        return { kind: r.kind, label: k.label, token: k.token, uri: k.uri, publicKey: Buffer.from(k.publicKey).toString('hex'), fingerprint: k.fingerprint };
      }
      const k = await generateAesKey(s, { label: r.label, role: r.kind, extractable: r.extractable === true });
      return { kind: r.kind, label: k.label, token: k.token, uri: k.uri, kcv: formatKcv(k.kcv) };
    })),
    'keys.publicKey': async (r) => withSession(c.token(r.token), null, async (s) => {
      const pk = readEd25519PublicKey(s, findPublicKey(s, { label: r.label }));
      return { publicKey: Buffer.from(pk).toString('hex'), fingerprint: fingerprint(pk) };
    }, { readWrite: false }),
  };
}

function setHandlers(c: Core): ChannelHandlers<'custodians.create' | 'custodians.next' | 'manifest.create'> {
  return {
    'custodians.create': async (r) => {
      const t = c.now();
      const payload = buildCustodianSet({ version: 1, issued: formatTime(t), expires: r.expires ?? formatTime(t + 365 * DAY), threshold: r.threshold, custodians: memberInputs(r.members) });
      return docView({ payloadType: PAYLOAD_TYPES.custodians, payload, signatures: [] });
    },
    'custodians.next': async (r) => {
      const t = c.now();
      // the next set replaces the newest, which may have expired (FORMATS.md §3.5)
      const payload = nextCustodianSet(c.chainOf(r.chain, 'replaced').newest, { remove: r.remove, threshold: r.threshold, issued: formatTime(t), expires: r.expires ?? formatTime(t + 365 * DAY),
        add: memberInputs(r.add ?? []) });
      const set = parseCustodianSet(payload);
      return { ...docView({ payloadType: PAYLOAD_TYPES.custodians, payload, signatures: [] }), version: set.version, members: set.custodians.map((m) => m.id), threshold: set.threshold };
    },
    'manifest.create': async (r) => {
      const chain = c.chainOf(r.chain);
      requireCustodian(newestSetMembers(chain), r.actor, 'actor');
      const t = c.now();
      const { sequence, previous } = followOn(r.previous === undefined ? undefined : bytes(r.previous));
      const kcvs = new Map((r.kcvs ?? []).map((k) => [k.id, k.kcv.replace(/^ecb:/, '')]));
      const payload = buildManifest({ ceremony: r.ceremony, sequence, previous, custodianSet: chain.newest.version, issued: formatTime(t), expires: formatTime(t + 30 * DAY),
        actor: r.actor, artifacts: [], keys: inventoryKeys(r.keyVersion, r.phase, formatTime(t), kcvs) });
      return docView({ payloadType: PAYLOAD_TYPES.rotation, payload, signatures: [] });
    },
  };
}

function documentHandlers(c: Core): ChannelHandlers<'documents.sign' | 'documents.merge' | 'documents.status' | 'documents.verify'> {
  return {
    'documents.sign': async (r) => {
      const env = parseEnvelope(bytes(r.document));
      describePayload(env);
      const chain = r.chain === undefined ? undefined : c.chainFor(r.document, r.chain);
      return c.withPin(r.pin, (pin) => withSession(c.token(r.token), pin, async (s) => {
        const signer = tokenSigner(s, { label: r.keyLabel });
        if (chain !== undefined) checkSignerIsCustodian(env, chain, signer);
        const signed = await addSignature(env, signer);
        const who = chain?.newest.byKeyid.get(signer.keyid)?.id ?? (env.payloadType === PAYLOAD_TYPES.custodians ? parseCustodianSet(env.payload).byKeyid.get(signer.keyid)?.id : undefined);
        return { ...docView(signed), signer: who ?? fingerprint(signer.publicKey).words.slice(0, 4).join(' ') };
      }));
    },
    'documents.merge': async (r) => {
      const merged = mergeEnvelopes(r.documents.map((d) => parseEnvelope(bytes(d))));
      return { ...docView(merged), signatures: merged.signatures.length };
    },
    'documents.status': async (r) => {
      const env = parseEnvelope(bytes(r.document));
      const list = approvals(env, c.chainFor(r.document, r.chain).newest);
      return { summary: describePayload(env), complete: list.every((a) => a.needed === 0), approvals: list };
    },
    'documents.verify': async (r) => {
      const at = r.at === undefined ? c.now() : (parseTime(r.at) ?? c.now());
      const result = verifyDocument(bytes(r.document), r.chain.map(bytes), { at, rootDigest: r.rootDigest, previous: r.previous === undefined ? undefined : bytes(r.previous) });
      let signatures: ReturnType<typeof signatureDetails> = [];
      try {
        const chain = chainForDocument(bytes(r.document), r.chain.map(bytes), { at });
        const env = parseEnvelope(bytes(r.document));
        const set = env.payloadType === PAYLOAD_TYPES.custodians && chain.sets.every((x) => x.digest !== payloadDigest(env.payload)) ? parseCustodianSet(env.payload) : chain.newest;
        signatures = signatureDetails(env, set);
      } catch { /* a chain that does not verify, or a malformed document, has no per-signature view; the result's reasons say why */ }
      return { ...result, signatures };
    },
  };
}

function exportHandlers(c: Core, folders: FolderHandles): ChannelHandlers<'export.targets' | 'export.inspectKek' | 'export.run'> {
  return {
    'export.targets': async () => ({ targets: TARGETS.map((t) => ({ name: t.name, cloud: t.cloud, kekBits: t.kekBits, file: t.file,
      needs: [...(t.cloud === 'aws' ? ['importToken' as const] : []), ...(t.cloud === 'azure' ? ['kekId' as const] : []), ...(t.hash === null ? ['hash' as const] : [])] })) }),
    'export.inspectKek': async (r) => {
      const kek = kekFromText(r.wrappingKey);
      return { bits: kek.bits, spkiSha256: kek.spkiSha256, words: kek.fingerprint.words };
    },
    'export.run': async (r) => {
      // first, the folder: a drive the app listed as removable (a rehearsal may use a folder chosen in the dialog to stand in for one)
      const outDir = folders.onDrive(r.drive, r.folder, { allowFixedDisk: r.allowFixedDisk === true });
      const target = findTarget(r.target);
      if (target === undefined) throw new KeyceremonyError('EXPORT_TARGET_UNKNOWN', `unknown target ${r.target}`, 'choose a target from the list');
      const kek = kekFromText(r.wrappingKey);
      checkKek(target, kek, r.kekId);
      const importToken = r.importToken === undefined || target.cloud !== 'aws' ? undefined : decodeBase64Strict(r.importToken.replace(/\s+/g, ''));
      if (importToken === null) throw new KeyceremonyError('EXPORT_IMPORT_TOKEN_INVALID', 'the import token is not base64', 'paste the ImportToken exactly as AWS returned it');
      checkExportFolder(outDir, false);
      const warnings = r.obtained === undefined ? [] : paramsWarnings({ target, kek, obtained: parseTime(r.obtained) ?? c.now() }, c.now()).map(formatProblem);
      return c.withPin(r.pin, async (pin) => {
        const record = await exportKey(c.token(r.token), pin, { key: { label: r.keyLabel }, target, kek, kekId: r.kekId, importToken, hash: r.hash, outDir, force: false });
        return { dir: outDir, target: target.name, kcv: record.kcv, wrap: record.wrap, wrappingKeySha256: record.wrappingKeySha256, files: record.files, warnings };
      });
    },
  };
}

/**
 * The room's window: asked of the shell for a run this table knows (its status is read first, so an
 * unknown run is CEREMONY_RUN_UNKNOWN and no window opens); where there is no shell, a clear code.
 */
function roomHandlers(open: HandlerContext['openRoomWindow'], status: ChannelHandlers<'ceremony.status'>['ceremony.status']): ChannelHandlers<'room.open'> {
  return {
    'room.open': async (r) => {
      if (open === undefined) {
        throw new KeyceremonyError('APP_ROOM_WINDOW_UNAVAILABLE', 'no second window can be opened here: the room\'s window is a window of the desktop app',
          'use presentation mode on this window, or start the desktop app (npm start) to open the room\'s window');
      }
      await status({ runId: r.runId });
      return { window: await open(r.runId) };
    },
  };
}

/** Each channel: the request parsed against its schema (IPC_BAD_REQUEST), the handler run, any error turned into its code. */
function guarded(table: ChannelHandlers<Channel>): Handlers {
  const out = {} as Record<Channel, (request: unknown) => Promise<Result<unknown>>>;
  for (const c of CHANNELS) {
    out[c] = async (request: unknown) => {
      const parsed = parseRequest(REQUESTS[c] as Schema<unknown>, request);
      if (!parsed.ok) {
        return { ok: false, error: { code: 'IPC_BAD_REQUEST', message: `malformed request for ${c}: ${parsed.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`, fix: 'this is a bug in the app screen that sent it' } };
      }
      try {
        return { ok: true, value: await (table[c] as (r: unknown) => Promise<unknown>)(parsed.value) };
      } catch (err) {
        return { ok: false, error: asError(err) };
      }
    };
  }
  return Object.freeze(out) as Handlers;
}

export function createHandlers(ctx: HandlerContext): Handlers {
  const c = core(ctx);
  // the renderer names folders only by the handles this table gives out (./folders.ts)
  const folders = new FolderHandles(ctx.env);
  const ceremony = ceremonyHandlers({ token: c.token, scriptTokens: (script) => c.libraries.scriptTokens(script), chainOf: c.chainOf, interfaces: ctx.interfaces ?? networkInterfacesUp, rehearsals: ctx.rehearsals, spawnCli: ctx.spawnCli ?? nodeSpawnCli, asError, printToPdf: ctx.printToPdf,
    folders, env: ctx.env, sandbox: ctx.sandbox });
  return guarded({
    ...deviceHandlers(c),
    ...setHandlers(c),
    ...documentHandlers(c),
    ...folderHandlers(folders, ctx.chooseFolder),
    ...exportHandlers(c, folders),
    ...backupHandlers({ token: c.token, chainOf: c.chainOf, withPin: c.withPin, now: c.now, folders, docView }),
    ...ceremony,
    ...stateHandlers({ now: c.now, folders }),
    ...roomHandlers(ctx.openRoomWindow, ceremony['ceremony.status']),
  });
}

/** Route by channel name, refusing names that are not in the contract. */
export async function invoke(handlers: Handlers, channel: unknown, request: unknown): Promise<Result<unknown>> {
  if (typeof channel !== 'string' || !(CHANNELS as readonly string[]).includes(channel)) {
    return { ok: false, error: { code: 'IPC_UNKNOWN_CHANNEL', message: `no such channel ${JSON.stringify(String(channel).slice(0, 40))}`, fix: 'this is a bug in the app screen that sent it' } };
  }
  return handlers[channel as Channel](request);
}
