/**
 * The one handler table of the app: every IPC channel of ./contract.ts, validated at the
 * boundary, answering `{ ok: true, value } | { ok: false, error: { code, message, fix } }`.
 * electron/main registers these through one helper; the browser tests bridge the very same
 * table into Chromium. PINs arrive as strings from the PIN field, are copied into a buffer that
 * is zeroed after use, and never appear in a result or an error.
 */
import { zero } from '../bytes.js';
import { networkInterfacesUp } from '../ceremony/airgap.js';
import { fingerprint } from '../crypto/fingerprint.js';
import { nextCustodianSet } from '../custodians/rotate.js';
import { buildCustodianSet, CUSTODIAN_ID, parseCustodianSet, payloadDigest } from '../custodians/set.js';
import { formatTime, parseTime } from '../docs/fields.js';
import { formatProblem } from '../docs/problems.js';
import { PAYLOAD_TYPES } from '../docs/types.js';
import { decodeBase64Strict, MAX_ENVELOPE_BYTES, parseEnvelope, serializeEnvelope } from '../dsse/envelope.js';
import { checkKekForTarget, writeExport } from '../export/export.js';
import { parseKek } from '../export/kek.js';
import type { Kek } from '../export/kek.js';
import { checkFreeSpace, listMedia } from '../export/media.js';
import { paramsWarnings } from '../export/params.js';
import { findTarget, TARGETS } from '../export/targets.js';
import { wrapKey } from '../export/wrap.js';
import { checkOutputDir } from '../files.js';
import { formatPkcs11Uri } from '../pkcs11/uri.js';
import type { Envelope } from '../dsse/envelope.js';
import { addSignature, mergeEnvelopes } from '../dsse/sign.js';
import { KeyceremonyError } from '../errors.js';
import { inventoryKeys } from '../manifest/inventory.js';
import { buildManifest, CEREMONY_ID, followOn, PHASES } from '../manifest/manifest.js';
import { pkcs11js } from '../pkcs11/binding.js';
import { findOne, formatKcv, generateAesKey, generateEd25519, readEd25519PublicKey } from '../pkcs11/keys.js';
import { chooseModule, Pkcs11Module } from '../pkcs11/module.js';
import { withSession } from '../pkcs11/session.js';
import { tokenSigner } from '../pkcs11/signer.js';
import { findToken, hasMechanism, listTokens, mechanisms } from '../pkcs11/tokens.js';
import type { Token } from '../pkcs11/tokens.js';
import { approvals, checkSignerIsCustodian, describePayload, signatureDetails } from '../verify/approvals.js';
import { verifyChain, verifyDocument } from '../verify/verify.js';
import type { TrustedChain } from '../verify/verify.js';
import { backupHandlers, backupRequestSchemas, driveFolder } from './backup-handlers.js';
import { ceremonyHandlers, ceremonyRequestSchemas, nodeSpawnCli } from './ceremony-handlers.js';
import type { SpawnCli } from './ceremony-handlers.js';
import { CHANNELS } from './contract.js';
import type { ApiError, Channel, DocumentView, Requests, Responses, Result, TokenView } from './contract.js';
import { arr, bool, int, obj, oneOf, parseRequest, str } from './schema.js';
import type { Schema } from './schema.js';

export interface HandlerContext {
  /** --module of the app, else KEYCEREMONY_PKCS11_MODULE, else SoftHSM2 (CLI.md order). */
  readonly modulePath?: string | undefined;
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
}

const DOC = str({ min: 2, max: MAX_ENVELOPE_BYTES, what: 'a signed document (JSON text)' });
const CHAIN = arr(DOC, { min: 1, max: 32 });
const TOKEN = obj({ label: str({ min: 1, max: 32, what: 'a token label' }) }, { serial: str({ min: 1, max: 16, what: 'a token serial' }) });
const LABEL = str({ min: 1, max: 64, pattern: /^[^\s\u0000-\u001f\u007f](?:[^\u0000-\u001f\u007f]*[^\s\u0000-\u001f\u007f])?$/u, what: 'a key label' });
const PIN = str({ min: 1, max: 256, what: 'a PIN' });
const TIME = str({ max: 20, pattern: /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/, what: 'an RFC 3339 UTC time' });
const EMPTY = obj({});
const KEK_TEXT = str({ min: 16, max: 16_384, what: 'a PEM public key or base64 DER SubjectPublicKeyInfo' });
const MEMBER = obj({ id: str({ max: 64, pattern: CUSTODIAN_ID, what: 'a custodian id' }), name: str({ min: 1, max: 128 }), publicKey: str({ max: 64, pattern: /^[0-9a-f]{64}$/, what: '64 hex digits' }) });

export const REQUESTS: { readonly [C in Channel]: Schema<Requests[C]> } = {
  'app.info': EMPTY as Schema<Requests['app.info']>,
  'airgap.status': EMPTY as Schema<Requests['airgap.status']>,
  'tokens.list': EMPTY as Schema<Requests['tokens.list']>,
  'keys.generate': obj({ kind: oneOf(['master', 'backup', 'custodian'] as const), token: TOKEN, label: LABEL, pin: PIN }, { extractable: bool() }) as Schema<Requests['keys.generate']>,
  'keys.publicKey': obj({ token: TOKEN, label: LABEL }) as Schema<Requests['keys.publicKey']>,
  'custodians.create': obj({
    threshold: int({ min: 1, max: 64 }),
    members: arr(MEMBER, { min: 1, max: 64 }),
  }, { expires: TIME }) as Schema<Requests['custodians.create']>,
  'custodians.next': obj({ chain: CHAIN }, { remove: arr(str({ max: 64, pattern: CUSTODIAN_ID, what: 'a custodian id' }), { max: 64 }), add: arr(MEMBER, { max: 64 }),
    threshold: int({ min: 1, max: 64 }), expires: TIME }) as Schema<Requests['custodians.next']>,
  'manifest.create': obj({ chain: CHAIN, ceremony: str({ max: 128, pattern: CEREMONY_ID, what: 'a ceremony id' }), actor: str({ max: 64, pattern: CUSTODIAN_ID, what: 'a custodian id' }),
    keyVersion: int({ min: 1, max: 1_000_000 }), phase: oneOf(PHASES) }, { kcvs: arr(obj({ id: str({ max: 128 }), kcv: str({ max: 10, pattern: /^(?:ecb:)?[0-9a-f]{6}$/, what: 'a KCV' }) }), { max: 16 }), previous: DOC }) as Schema<Requests['manifest.create']>,
  'documents.sign': obj({ document: DOC, token: TOKEN, keyLabel: LABEL, pin: PIN }, { chain: CHAIN }) as Schema<Requests['documents.sign']>,
  'documents.merge': obj({ documents: arr(DOC, { min: 1, max: 64 }) }) as Schema<Requests['documents.merge']>,
  'documents.status': obj({ document: DOC, chain: CHAIN }) as Schema<Requests['documents.status']>,
  'media.list': EMPTY as Schema<Requests['media.list']>,
  'export.targets': EMPTY as Schema<Requests['export.targets']>,
  'export.inspectKek': obj({ wrappingKey: KEK_TEXT }) as Schema<Requests['export.inspectKek']>,
  'export.run': obj({ token: TOKEN, keyLabel: LABEL, target: str({ max: 64, pattern: /^[a-z0-9-]+$/, what: 'a target name' }), wrappingKey: KEK_TEXT,
    mountPoint: str({ min: 1, max: 4096, what: 'a mount point' }), folder: str({ max: 64, pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, what: 'a folder name (letters, digits, . _ -)' }), pin: PIN },
  { kekId: str({ max: 1024, pattern: /^https:\/\/[^\s/]+\/keys\/\S+$/, what: 'a Key Vault key id URL' }), importToken: str({ max: 8200, what: 'base64 import token' }), hash: oneOf(['sha1', 'sha256'] as const),
    obtained: TIME, allowFixedDisk: bool() }) as Schema<Requests['export.run']>,
  ...backupRequestSchemas({ token: TOKEN, pin: PIN, doc: DOC, chain: CHAIN }),
  ...ceremonyRequestSchemas({ pin: PIN, doc: DOC, chain: CHAIN }),
  'documents.verify': obj({ document: DOC, chain: arr(DOC, { max: 32 }) }, { previous: DOC, rootDigest: str({ max: 71, pattern: /^sha256:[0-9a-f]{64}$/, what: 'sha256:<64 hex>' }), at: TIME }) as Schema<Requests['documents.verify']>,
};

type Handler<C extends Channel> = (req: Requests[C]) => Promise<Responses[C]>;
export type Handlers = { readonly [C in Channel]: (request: unknown) => Promise<Result<Responses[C]>> };

const enc = new TextEncoder();
const bytes = (s: string): Uint8Array => enc.encode(s);

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

export function createHandlers(ctx: HandlerContext): Handlers {
  const now = ctx.now ?? (() => Math.floor(Date.now() / 1000) * 1000);
  let mod: Pkcs11Module | undefined;
  const module = (): Pkcs11Module => {
    mod ??= Pkcs11Module.open(chooseModule({ flag: ctx.modulePath, env: ctx.env }).path);
    return mod;
  };
  const token = (ref: { label: string; serial?: string }): Token => findToken(module(), { label: ref.label, serial: ref.serial });
  const withPin = async <T>(pin: string, fn: (p: Buffer) => Promise<T>): Promise<T> => {
    const p = Buffer.from(pin, 'utf8');
    try { return await fn(p); } finally { zero(p); }
  };
  const chainOf = (docs: readonly string[]): TrustedChain => {
    const c = verifyChain(docs.map(bytes), { at: now() });
    if (c.chain === null) throw new KeyceremonyError(c.reasons[0]?.code ?? 'CHAIN_INVALID', `the custodian chain does not verify: ${c.reasons.map(formatProblem).join('; ')}`, 'load the custodian sets from the trusted root, in order');
    return c.chain;
  };

  const table: { readonly [C in Channel]: Handler<C> } = {
    'app.info': async () => {
      try {
        const m = module();
        return { version: ctx.version, module: m.path, simulation: m.isSoftHsm, moduleError: null };
      } catch (err) {
        return { version: ctx.version, module: null, simulation: false, moduleError: asError(err) };
      }
    },
    'airgap.status': async () => {
      const interfaces = networkInterfacesUp();
      return { online: interfaces.length > 0, interfaces };
    },
    'tokens.list': async () => {
      const B = pkcs11js();
      const tokens: TokenView[] = listTokens(module()).filter((t) => t.info.flags.initialized).map((t) => {
        const caps = mechanisms(t);
        const f = t.info.flags;
        return { label: t.label, serial: t.info.serial, manufacturer: t.info.manufacturer, model: t.info.model, initialized: f.initialized, pinCountLow: f.pinCountLow,
          pinFinalTry: f.pinFinalTry, pinLocked: f.pinLocked, loginRequired: f.loginRequired, mechanisms: caps.map((m) => m.name),
          capabilities: { ed25519: hasMechanism(caps, 0x1057, 'sign'), aes256: caps.some((m) => m.id === B.CKM_AES_KEY_GEN && m.maxKeySize >= 32),
            aesKeyWrapPad: hasMechanism(caps, 0x210a, 'wrap') || hasMechanism(caps, 0x210b, 'wrap'), rsaOaep: hasMechanism(caps, B.CKM_RSA_PKCS_OAEP) } };
      });
      return { tokens };
    },
    'keys.generate': async (r) => withPin(r.pin, (pin) => withSession(token(r.token), pin, async (s) => {
      if (r.kind === 'custodian') {
        const k = await generateEd25519(s, { label: r.label });
        return { kind: r.kind, label: k.label, token: k.token, uri: k.uri, publicKey: Buffer.from(k.publicKey).toString('hex'), fingerprint: k.fingerprint };
      }
      const k = await generateAesKey(s, { label: r.label, role: r.kind, extractable: r.extractable === true });
      return { kind: r.kind, label: k.label, token: k.token, uri: k.uri, kcv: formatKcv(k.kcv) };
    })),
    'keys.publicKey': async (r) => withSession(token(r.token), null, async (s) => {
      const pk = readEd25519PublicKey(s, findOne(s, pkcs11js().CKO_PUBLIC_KEY, { label: r.label }, 'public key'));
      return { publicKey: Buffer.from(pk).toString('hex'), fingerprint: fingerprint(pk) };
    }, { readWrite: false }),
    'custodians.create': async (r) => {
      const t = now();
      const payload = buildCustodianSet({ version: 1, issued: formatTime(t), expires: r.expires ?? formatTime(t + 365 * 86400_000), threshold: r.threshold,
        custodians: r.members.map((m) => ({ id: m.id, name: m.name, publicKey: new Uint8Array(Buffer.from(m.publicKey, 'hex')) })) });
      return docView({ payloadType: PAYLOAD_TYPES.custodians, payload, signatures: [] });
    },
    'custodians.next': async (r) => {
      const t = now();
      const payload = nextCustodianSet(chainOf(r.chain).newest, { remove: r.remove, threshold: r.threshold, issued: formatTime(t), expires: r.expires ?? formatTime(t + 365 * 86400_000),
        add: (r.add ?? []).map((m) => ({ id: m.id, name: m.name, publicKey: new Uint8Array(Buffer.from(m.publicKey, 'hex')) })) });
      const set = parseCustodianSet(payload);
      return { ...docView({ payloadType: PAYLOAD_TYPES.custodians, payload, signatures: [] }), version: set.version, members: set.custodians.map((c) => c.id), threshold: set.threshold };
    },
    'manifest.create': async (r) => {
      const chain = chainOf(r.chain);
      const t = now();
      const { sequence, previous } = followOn(r.previous === undefined ? undefined : bytes(r.previous));
      const kcvs = new Map((r.kcvs ?? []).map((k) => [k.id, k.kcv.replace(/^ecb:/, '')]));
      const payload = buildManifest({ ceremony: r.ceremony, sequence, previous, custodianSet: chain.newest.version, issued: formatTime(t), expires: formatTime(t + 30 * 86400_000),
        actor: r.actor, artifacts: [], keys: inventoryKeys(r.keyVersion, r.phase, formatTime(t), kcvs) });
      if (!chain.newest.custodians.some((c) => c.id === r.actor)) throw new KeyceremonyError('MANIFEST_ACTOR_UNKNOWN', `${r.actor} is not a custodian of set version ${chain.newest.version}`, 'the initiating actor must be a custodian');
      return docView({ payloadType: PAYLOAD_TYPES.rotation, payload, signatures: [] });
    },
    'documents.sign': async (r) => {
      const env = parseEnvelope(bytes(r.document));
      describePayload(env);
      const chain = r.chain === undefined ? undefined : chainOf(r.chain);
      return withPin(r.pin, (pin) => withSession(token(r.token), pin, async (s) => {
        const signer = tokenSigner(s, { label: r.keyLabel });
        if (chain !== undefined) checkSignerIsCustodian(env, chain, signer);
        const signed = await addSignature(env, signer);
        const set = chain?.newest;
        const who = set?.byKeyid.get(signer.keyid)?.id ?? (env.payloadType === PAYLOAD_TYPES.custodians ? parseCustodianSet(env.payload).byKeyid.get(signer.keyid)?.id : undefined);
        return { ...docView(signed), signer: who ?? fingerprint(signer.publicKey).words.slice(0, 4).join(' ') };
      }));
    },
    'documents.merge': async (r) => {
      const merged = mergeEnvelopes(r.documents.map((d) => parseEnvelope(bytes(d))));
      return { ...docView(merged), signatures: merged.signatures.length };
    },
    'documents.status': async (r) => {
      const env = parseEnvelope(bytes(r.document));
      const list = approvals(env, chainOf(r.chain).newest);
      return { summary: describePayload(env), complete: list.every((a) => a.needed === 0), approvals: list };
    },
    'media.list': async () => ({ media: listMedia(ctx.env).map(({ mountPoint, device, sizeBytes, freeBytes }) => ({ mountPoint, device, sizeBytes, freeBytes })) }),
    'export.targets': async () => ({ targets: TARGETS.map((t) => ({ name: t.name, cloud: t.cloud, kekBits: t.kekBits, file: t.file,
      needs: [...(t.cloud === 'aws' ? ['importToken' as const] : []), ...(t.cloud === 'azure' ? ['kekId' as const] : []), ...(t.hash === null ? ['hash' as const] : [])] })) }),
    'export.inspectKek': async (r) => {
      const kek = kekFromText(r.wrappingKey);
      return { bits: kek.bits, spkiSha256: kek.spkiSha256, words: kek.fingerprint.words };
    },
    'export.run': async (r) => {
      const target = findTarget(r.target);
      if (target === undefined) throw new KeyceremonyError('EXPORT_TARGET_UNKNOWN', `unknown target ${r.target}`, 'choose a target from the list');
      const kek = kekFromText(r.wrappingKey);
      checkKekForTarget(kek, target);
      if (target.cloud === 'azure' && r.kekId === undefined) throw new KeyceremonyError('EXPORT_KEK_ID_MISSING', 'Azure BYOK needs the KEK id', 'paste the key id URL of the Key Vault KEK, with its version');
      const importToken = r.importToken === undefined || target.cloud !== 'aws' ? undefined : decodeBase64Strict(r.importToken.replace(/\s+/g, ''));
      if (importToken === null) throw new KeyceremonyError('EXPORT_IMPORT_TOKEN_INVALID', 'the import token is not base64', 'paste the ImportToken exactly as AWS returned it');
      // the drive must be one the app listed as removable (a rehearsal may allow a fixed disk)
      const outDir = driveFolder(ctx.env, r.mountPoint, r.folder, { allowFixedDisk: r.allowFixedDisk === true });
      checkOutputDir(outDir, false);
      checkFreeSpace(outDir, 64 * 1024);
      const warnings = r.obtained === undefined ? [] : paramsWarnings({ target, kek, obtained: parseTime(r.obtained) ?? now() }, now()).map(formatProblem);
      const hash = target.hash ?? r.hash ?? 'sha256';
      return withPin(r.pin, (pin) => withSession(token(r.token), pin, async (s) => {
        const wrapped = await wrapKey(s, { label: r.keyLabel }, kek, target.construction, hash);
        const keyUri = formatPkcs11Uri({ token: s.token.label, serial: s.token.info.serial, object: r.keyLabel, type: 'secret-key' });
        const record = await writeExport({ target, hash, kek, kekId: r.kekId, importToken: importToken ?? undefined, keyUri, outDir, force: false }, wrapped);
        return { dir: outDir, target: target.name, kcv: record.kcv, wrap: record.wrap, wrappingKeySha256: record.wrappingKeySha256, files: record.files, warnings };
      }));
    },
    ...backupHandlers({ token, chainOf, withPin, now, env: ctx.env, docView }),
    ...ceremonyHandlers({ token, chainOf, interfaces: ctx.interfaces ?? networkInterfacesUp, rehearsals: ctx.rehearsals, spawnCli: ctx.spawnCli ?? nodeSpawnCli, asError, printToPdf: ctx.printToPdf }),
    'documents.verify': async (r) => {
      const at = r.at === undefined ? now() : (parseTime(r.at) ?? now());
      const result = verifyDocument(bytes(r.document), r.chain.map(bytes), { at, rootDigest: r.rootDigest, previous: r.previous === undefined ? undefined : bytes(r.previous) });
      let signatures: ReturnType<typeof signatureDetails> = [];
      try {
        const chain = verifyChain(r.chain.map(bytes), { at }).chain;
        if (chain !== null) {
          const env = parseEnvelope(bytes(r.document));
          const set = env.payloadType === PAYLOAD_TYPES.custodians && chain.sets.every((x) => x.digest !== payloadDigest(env.payload)) ? parseCustodianSet(env.payload) : chain.newest;
          signatures = signatureDetails(env, set);
        }
      } catch { /* a malformed document has no per-signature view; its reasons say why */ }
      return { ...result, signatures };
    },
  };

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

/** Route by channel name, refusing names that are not in the contract. */
export async function invoke(handlers: Handlers, channel: unknown, request: unknown): Promise<Result<unknown>> {
  if (typeof channel !== 'string' || !(CHANNELS as readonly string[]).includes(channel)) {
    return { ok: false, error: { code: 'IPC_UNKNOWN_CHANNEL', message: `no such channel ${JSON.stringify(String(channel).slice(0, 40))}`, fix: 'this is a bug in the app screen that sent it' } };
  }
  return handlers[channel as Channel](request);
}
