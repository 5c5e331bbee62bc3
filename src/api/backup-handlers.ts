/**
 * The app's backup custody and drill channels (issue 6): a split and a drill are step-by-step
 * sessions held in the main process, so custodians come forward one at a time, each share is
 * checked when it is placed or presented, and a refused share adds nothing (the custodian can try
 * again). Shares live only in these sessions and are zeroed when a session finishes, is
 * cancelled, or is replaced; at most a few sessions exist at once.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { buildDrillReport, runDrill } from '../backup/drill.js';
import { loadCustodyPlan } from '../backup/plan.js';
import type { CustodyPlan } from '../backup/plan.js';
import type { ShareReceipt } from '../backup/receipts.js';
import { ShareCollector } from '../backup/shares.js';
import { readShare } from '../backup/token-shares.js';
import { BackupSplit, CUSTODY_MANIFEST, writeCustodyFolder } from '../backup/split.js';
import { zero } from '../bytes.js';
import { CUSTODIAN_ID } from '../custodians/set.js';
import { PAYLOAD_TYPES } from '../docs/types.js';
import { parseEnvelope } from '../dsse/envelope.js';
import { KeyceremonyError } from '../errors.js';
import { checkOutputDir, readInput } from '../files.js';
import { checkFreeSpace, listMedia } from '../export/media.js';
import { CEREMONY_ID } from '../manifest/manifest.js';
import { withSession } from '../pkcs11/session.js';
import type { Token } from '../pkcs11/tokens.js';
import type { TrustedChain } from '../verify/verify.js';
import type { DocumentView, Requests, Responses, ShareReceiptView } from './contract.js';
import { arr, bool, int, obj, str } from './schema.js';
import type { Schema } from './schema.js';

type BackupChannel = 'backup.splitBegin' | 'backup.splitStore' | 'backup.splitFinish' | 'backup.splitCancel' | 'drill.begin' | 'drill.present' | 'drill.run' | 'drill.cancel';

const ID = str({ min: 32, max: 32, pattern: /^[0-9a-f]{32}$/, what: 'a session id' });
const CUSTODIAN = str({ max: 64, pattern: CUSTODIAN_ID, what: 'a custodian id' });
const FOLDER = str({ max: 64, pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, what: 'a folder name (letters, digits, . _ -)' });
const MOUNT = str({ min: 1, max: 4096, what: 'a mount point' });

export function backupRequestSchemas(common: { token: Schema<{ label: string; serial?: string }>; pin: Schema<string>; doc: Schema<string>; chain: Schema<string[]> }): { readonly [C in BackupChannel]: Schema<Requests[C]> } {
  const { token, pin, doc, chain } = common;
  return {
    'backup.splitBegin': obj({ hsm: token, hsmPin: pin, chain, ceremony: str({ max: 128, pattern: CEREMONY_ID, what: 'a ceremony id' }),
      backupKey: str({ max: 128, pattern: /^backup-v[1-9][0-9]{0,8}$/, what: 'a backup key id (backup-vN)' }),
      keys: arr(str({ max: 128, pattern: /^master-v[1-9][0-9]{0,8}$/, what: 'a master key id (master-vN)' }), { min: 1, max: 16 }),
      threshold: int({ min: 2, max: 64 }), custodians: arr(CUSTODIAN, { min: 2, max: 64 }) }) as Schema<Requests['backup.splitBegin']>,
    'backup.splitStore': obj({ splitId: ID, custodian: CUSTODIAN, token, pin }) as Schema<Requests['backup.splitStore']>,
    'backup.splitFinish': obj({ splitId: ID, hsm: token, hsmPin: pin, chain, actor: CUSTODIAN, mountPoint: MOUNT, folder: FOLDER }, { allowFixedDisk: bool() }) as Schema<Requests['backup.splitFinish']>,
    'backup.splitCancel': obj({ splitId: ID }) as Schema<Requests['backup.splitCancel']>,
    'drill.begin': obj({ manifest: doc, chain, mountPoint: MOUNT, folder: FOLDER }) as Schema<Requests['drill.begin']>,
    'drill.present': obj({ drillId: ID, custodian: CUSTODIAN, token, pin }) as Schema<Requests['drill.present']>,
    'drill.run': obj({ drillId: ID, token, pin }, { restore: bool() }) as Schema<Requests['drill.run']>,
    'drill.cancel': obj({ drillId: ID }) as Schema<Requests['drill.cancel']>,
  };
}

export interface BackupDeps {
  readonly token: (ref: { label: string; serial?: string }) => Token;
  readonly chainOf: (docs: readonly string[]) => TrustedChain;
  readonly withPin: <T>(pin: string, fn: (p: Buffer) => Promise<T>) => Promise<T>;
  readonly now: () => number;
  readonly env: NodeJS.ProcessEnv;
  readonly docView: (env: ReturnType<typeof parseEnvelope>) => DocumentView;
}

const MAX_SESSIONS = 4;

/** A folder on a mounted drive: the drive must exist; for writing it must be listed as removable unless a rehearsal allows a fixed disk. */
export function driveFolder(env: NodeJS.ProcessEnv, mountPoint: string, folder: string, write: { allowFixedDisk: boolean } | null): string {
  if (write !== null && !write.allowFixedDisk && !listMedia(env).some((m) => m.mountPoint === mountPoint)) {
    throw new KeyceremonyError('EXPORT_FIXED_DISK', `${mountPoint} is not a removable drive`, 'insert the removable drive and choose it from the list');
  }
  if (!isAbsolute(mountPoint) || !existsSync(mountPoint) || !statSync(mountPoint).isDirectory()) throw new KeyceremonyError('EXPORT_DRIVE_MISSING', `${mountPoint} is not a mounted folder`, 'insert and mount the drive');
  return join(mountPoint, folder);
}

const receiptView = (r: ShareReceipt): ShareReceiptView => ({ custodian: r.custodian, index: r.index, commitment: r.commitment, holder: r.holder.kind === 'token' ? `card "${r.holder.token}" (serial ${r.holder.serial})` : 'paper' });

export function backupHandlers(d: BackupDeps): { readonly [C in BackupChannel]: (req: Requests[C]) => Promise<Responses[C]> } {
  const splits = new Map<string, { split: BackupSplit; hsmSerial: string }>();
  const drills = new Map<string, { plan: CustodyPlan; collector: ShareCollector }>();
  const newId = <T>(m: Map<string, T>, dispose: (v: T) => void): string => {
    // the oldest session gives way (its secrets zeroed) so that abandoned ones cannot pile up
    while (m.size >= MAX_SESSIONS) {
      const [oldest, v] = m.entries().next().value as [string, T];
      dispose(v);
      m.delete(oldest);
    }
    return randomBytes(16).toString('hex');
  };
  const split = (id: string) => {
    const s = splits.get(id);
    if (s === undefined) throw new KeyceremonyError('SPLIT_UNKNOWN', 'this split is finished, cancelled or unknown', 'start the split again');
    return s;
  };
  const drill = (id: string) => {
    const s = drills.get(id);
    if (s === undefined) throw new KeyceremonyError('DRILL_UNKNOWN', 'this drill is finished, cancelled or unknown', 'start the drill again');
    return s;
  };

  return {
    'backup.splitBegin': async (r) => {
      const chain = d.chainOf(r.chain);
      const members = new Set(chain.newest.custodians.map((c) => c.id));
      for (const c of r.custodians) if (!members.has(c)) throw new KeyceremonyError('SPLIT_UNKNOWN_CUSTODIAN', `${c} is not a custodian of set version ${chain.newest.version}`, 'shares go to custodians of the newest set');
      if (new Set(r.custodians).size !== r.custodians.length) throw new KeyceremonyError('SPLIT_UNKNOWN_CUSTODIAN', 'a custodian is listed twice', 'one share per custodian');
      if (r.threshold > r.custodians.length) throw new KeyceremonyError('SHARES_PARAMETERS_INVALID', `${r.threshold} of ${r.custodians.length} shares`, 'the threshold is at most the number of custodians');
      const hsm = d.token(r.hsm);
      const s = await d.withPin(r.hsmPin, (pin) => BackupSplit.begin({ hsm, hsmPin: pin, ceremony: r.ceremony, backupKey: r.backupKey, threshold: r.threshold, custodians: r.custodians, keys: r.keys }));
      const splitId = newId(splits, (v) => v.split.dispose());
      splits.set(splitId, { split: s, hsmSerial: hsm.info.serial });
      return { splitId, backupKey: s.backupKey, backupKcv: s.backupKcv, threshold: s.threshold, total: s.total, next: s.next };
    },
    'backup.splitStore': async (r) => {
      const { split: s } = split(r.splitId);
      const receipt = await d.withPin(r.pin, (pin) => s.storeOnCard(r.custodian, d.token(r.token), pin));
      return { ...receiptView(receipt), next: s.next, placed: s.placed.length };
    },
    'backup.splitFinish': async (r) => {
      const { split: s, hsmSerial } = split(r.splitId);
      const chain = d.chainOf(r.chain);
      if (!chain.newest.custodians.some((c) => c.id === r.actor)) throw new KeyceremonyError('MANIFEST_ACTOR_UNKNOWN', `${r.actor} is not a custodian of set version ${chain.newest.version}`, 'the initiating actor must be a custodian');
      const hsm = d.token(r.hsm);
      if (hsm.info.serial !== hsmSerial) throw new KeyceremonyError('SPLIT_WRONG_HSM', `"${hsm.label}" is not the HSM this split began on`, 'choose the HSM that holds the new backup key');
      const outDir = driveFolder(d.env, r.mountPoint, r.folder, { allowFixedDisk: r.allowFixedDisk === true });
      checkOutputDir(outDir, false);
      checkFreeSpace(outDir, 256 * 1024);
      const result = await d.withPin(r.hsmPin, (pin) => s.finish(hsm, pin));
      splits.delete(r.splitId);
      const files = await writeCustodyFolder(outDir, result, { custodianSet: chain.newest.version, actor: r.actor, now: d.now() });
      const manifest = parseEnvelope(readInput(join(outDir, CUSTODY_MANIFEST), 'the custody manifest', 1 << 20));
      return { dir: outDir, backupKcv: result.backupKcv, manifest: d.docView(manifest), files };
    },
    'backup.splitCancel': async (r) => {
      const { split: s } = split(r.splitId);
      const cleanUp = [`backup key ${s.backupKey} in the HSM`, ...s.placed.map((p) => `share object share:${s.backupKey} on ${receiptView(p).holder}`)];
      s.dispose();
      splits.delete(r.splitId);
      return { cancelled: true, cleanUp };
    },
    'drill.begin': async (r) => {
      const dir = driveFolder(d.env, r.mountPoint, r.folder, null);
      // everything the drill may trust is checked now, before any custodian comes forward
      const plan = loadCustodyPlan(new TextEncoder().encode(r.manifest), r.chain.map((c) => new TextEncoder().encode(c)), dir, { at: d.now() });
      const drillId = newId(drills, (v) => v.collector.dispose());
      drills.set(drillId, { plan, collector: new ShareCollector(plan.expected) });
      return { drillId, backupKey: plan.backupKey, backupKcv: plan.backupKcv, threshold: plan.expected.threshold, total: plan.expected.total, signers: plan.signers,
        receipts: plan.receipts.map(receiptView), keys: plan.blobs.map((b) => ({ id: b.keyId, kcv: plan.manifestKcvs.get(b.keyId) ?? '' })) };
    },
    'drill.present': async (r) => {
      const { plan, collector } = drill(r.drillId);
      const bytes = await d.withPin(r.pin, (pin) => withSession(d.token(r.token), pin, async (s) => readShare(s, plan.backupKey)));
      try {
        const probe = new ShareCollector(plan.expected);
        const who = probe.present(new Uint8Array(bytes)); // checked on its own first: a refused share leaves the drill's collector untouched
        probe.dispose();
        if (who.custodian !== r.custodian) {
          throw new KeyceremonyError('SHARE_WRONG_CUSTODIAN', `this card holds the share of ${who.custodian}, not of ${r.custodian}`, `${r.custodian} presents their own card`);
        }
        const accepted = collector.present(bytes);
        return { custodian: accepted.custodian, index: accepted.index, count: collector.count, threshold: plan.expected.threshold, ready: collector.ready };
      } finally {
        zero(bytes);
      }
    },
    'drill.run': async (r) => {
      const { plan, collector } = drill(r.drillId);
      if (!collector.ready) {
        throw new KeyceremonyError('SHARE_THRESHOLD_NOT_MET', `${collector.count} of ${plan.expected.threshold} shares presented`, `${plan.expected.threshold - collector.count} more custodian(s) present their share; nothing was restored`);
      }
      const restore = r.restore === true;
      const presented = collector.custodians;
      const started = d.now();
      drills.delete(r.drillId);
      const outcome = await d.withPin(r.pin, (pin) => withSession(d.token(r.token), pin, (s) => runDrill(s, collector, plan.backupKey, plan.backupKcv, plan.blobs, plan.manifestKcvs, restore)));
      const id = `${restore ? 'restore' : 'drill'}-${plan.backupKey}-${new Date(started).toISOString().slice(0, 10)}`;
      const payload = buildDrillReport({ drill: id, custodianSet: plan.manifest.custodianSet, started, finished: Math.max(started, d.now()), backupKey: plan.backupKey, outcome,
        sharesPresented: presented, threshold: plan.expected.threshold });
      return { result: outcome.pass ? 'pass' : 'fail', restore, failures: outcome.failures, backupKcv: outcome.backupKcv, backupKcvMatches: outcome.backupKcvMatches, restored: outcome.restored,
        report: d.docView({ payloadType: PAYLOAD_TYPES.drill, payload, signatures: [] }) };
    },
    'drill.cancel': async (r) => {
      drill(r.drillId).collector.dispose();
      drills.delete(r.drillId);
      return { cancelled: true };
    },
  };
}
