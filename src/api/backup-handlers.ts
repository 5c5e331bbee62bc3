/**
 * The app's backup custody and drill channels (issue 6): a split and a drill are step-by-step
 * sessions held in the main process, so custodians come forward one at a time, each share is
 * checked when it is placed or presented, and a refused share adds nothing (the custodian can try
 * again). Shares live only in these sessions and are zeroed when a session finishes, is
 * cancelled, or is replaced; at most a few sessions exist at once.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { CustodyPlan } from '../backup/plan.js';
import type { ShareReceipt } from '../backup/receipts.js';
import { ShareCollector } from '../backup/shares.js';
import { readShare } from '../backup/token-shares.js';
import { BackupSplit, CUSTODY_MANIFEST } from '../backup/split.js';
import { zero } from '../bytes.js';
import { PAYLOAD_TYPES } from '../docs/types.js';
import { parseEnvelope } from '../dsse/envelope.js';
import { KeyceremonyError } from '../errors.js';
import { readInput } from '../files.js';
import { withSession } from '../pkcs11/session.js';
import type { Token } from '../pkcs11/tokens.js';
import { newestSetMembers, requireCustodian } from '../usecases/custodians.js';
import { openDrill, presentShare, requireEnoughShares, restoreFromShares, splitHolders } from '../usecases/drill.js';
import { checkCustodyFolder, checkSplitHolders, writeCustody } from '../usecases/split.js';
import type { TrustedChain } from '../verify/verify.js';
import type { ChannelHandlers, DocumentView, ShareReceiptView } from './contract.js';
import type { FolderHandles } from './folders.js';

type SplitChannel = 'backup.splitBegin' | 'backup.splitStore' | 'backup.splitFinish' | 'backup.splitCancel';
type DrillChannel = 'drill.begin' | 'drill.present' | 'drill.run' | 'drill.cancel';

export interface BackupDeps {
  readonly token: (ref: { label: string; serial?: string }) => Token;
  readonly chainOf: (docs: readonly string[]) => TrustedChain;
  readonly withPin: <T>(pin: string, fn: (p: Buffer) => Promise<T>) => Promise<T>;
  readonly now: () => number;
  /** The folders the renderer may name, by handle (./folders.ts). */
  readonly folders: FolderHandles;
  readonly docView: (env: ReturnType<typeof parseEnvelope>) => DocumentView;
}

const MAX_SESSIONS = 4;

const receiptView = (r: ShareReceipt): ShareReceiptView => ({ custodian: r.custodian, index: r.index, commitment: r.commitment, holder: r.holder.kind === 'token' ? `card "${r.holder.token}" (serial ${r.holder.serial})` : 'paper' });

/** Step-by-step sessions, by a random id: at most MAX_SESSIONS; the oldest gives way (its secrets zeroed) so that abandoned ones cannot pile up. */
class Sessions<T> {
  private readonly m = new Map<string, T>();
  constructor(private readonly dispose: (v: T) => void, private readonly unknown: () => KeyceremonyError) {}
  add(v: T): string {
    while (this.m.size >= MAX_SESSIONS) {
      const [oldest, old] = this.m.entries().next().value as [string, T];
      this.dispose(old);
      this.m.delete(oldest);
    }
    const id = randomBytes(16).toString('hex');
    this.m.set(id, v);
    return id;
  }
  get(id: string): T {
    const v = this.m.get(id);
    if (v === undefined) throw this.unknown();
    return v;
  }
  delete(id: string): void {
    this.m.delete(id);
  }
}

export function backupHandlers(d: BackupDeps): ChannelHandlers<SplitChannel | DrillChannel> {
  return { ...splitHandlers(d), ...drillHandlers(d) };
}

function splitHandlers(d: BackupDeps): ChannelHandlers<SplitChannel> {
  const splits = new Sessions<{ split: BackupSplit; hsmSerial: string }>((v) => v.split.dispose(),
    () => new KeyceremonyError('SPLIT_UNKNOWN', 'this split is finished, cancelled or unknown', 'start the split again'));
  return {
    'backup.splitBegin': async (r) => {
      checkSplitHolders(d.chainOf(r.chain), r.custodians, r.threshold);
      const hsm = d.token(r.hsm);
      const s = await d.withPin(r.hsmPin, (pin) => BackupSplit.begin({ hsm, hsmPin: pin, ceremony: r.ceremony, backupKey: r.backupKey, threshold: r.threshold, custodians: r.custodians, keys: r.keys }));
      const splitId = splits.add({ split: s, hsmSerial: hsm.info.serial });
      return { splitId, backupKey: s.backupKey, backupKcv: s.backupKcv, threshold: s.threshold, total: s.total, next: s.next };
    },
    'backup.splitStore': async (r) => {
      const { split: s } = splits.get(r.splitId);
      const receipt = await d.withPin(r.pin, (pin) => s.storeOnCard(r.custodian, d.token(r.token), pin));
      return { ...receiptView(receipt), next: s.next, placed: s.placed.length };
    },
    'backup.splitFinish': async (r) => {
      // the folder first: a handle that names no drive is refused before the HSM is touched
      const outDir = d.folders.onDrive(r.drive, r.folder, { allowFixedDisk: r.allowFixedDisk === true });
      const { split: s, hsmSerial } = splits.get(r.splitId);
      const chain = d.chainOf(r.chain);
      requireCustodian(newestSetMembers(chain), r.actor, 'actor');
      const hsm = d.token(r.hsm);
      if (hsm.info.serial !== hsmSerial) throw new KeyceremonyError('SPLIT_WRONG_HSM', `"${hsm.label}" is not the HSM this split began on`, 'choose the HSM that holds the new backup key');
      checkCustodyFolder(outDir);
      const result = await d.withPin(r.hsmPin, (pin) => s.finish(hsm, pin));
      splits.delete(r.splitId);
      const files = await writeCustody(outDir, result, { chain, actor: r.actor, now: d.now() });
      const manifest = parseEnvelope(readInput(join(outDir, CUSTODY_MANIFEST), 'the custody manifest', 1 << 20));
      return { dir: outDir, backupKcv: result.backupKcv, manifest: d.docView(manifest), files };
    },
    'backup.splitCancel': async (r) => {
      const { split: s } = splits.get(r.splitId);
      const cleanUp = [`backup key ${s.backupKey} in the HSM`, ...s.placed.map((p) => `share object share:${s.backupKey} on ${receiptView(p).holder}`)];
      s.dispose();
      splits.delete(r.splitId);
      return { cancelled: true, cleanUp };
    },
  };
}

function drillHandlers(d: BackupDeps): ChannelHandlers<DrillChannel> {
  const drills = new Sessions<{ plan: CustodyPlan; custodianSet: number; collector: ShareCollector }>((v) => v.collector.dispose(),
    () => new KeyceremonyError('DRILL_UNKNOWN', 'this drill is finished, cancelled or unknown', 'start the drill again'));
  return {
    'drill.begin': async (r) => {
      const dir = d.folders.onDrive(r.drive, r.folder, { allowFixedDisk: r.allowFixedDisk === true });
      // everything the drill may trust is checked now, before any custodian comes forward
      const { plan, chain } = openDrill(new TextEncoder().encode(r.manifest), r.chain.map((c) => new TextEncoder().encode(c)), dir, { at: d.now() });
      const drillId = drills.add({ plan, custodianSet: chain.newest.version, collector: new ShareCollector(plan.expected) });
      return { drillId, backupKey: plan.backupKey, backupKcv: plan.backupKcv, threshold: plan.expected.threshold, total: plan.expected.total, signers: plan.signers,
        receipts: plan.receipts.map(receiptView), keys: plan.blobs.map((b) => ({ id: b.keyId, kcv: plan.manifestKcvs.get(b.keyId) ?? '' })) };
    },
    'drill.present': async (r) => {
      const { plan, collector } = drills.get(r.drillId);
      requireCustodian(splitHolders(plan), r.custodian, 'presenter'); // before the card is asked for its PIN
      const token = d.token(r.token);
      const bytes = await d.withPin(r.pin, (pin) => withSession(token, pin, async (s) => readShare(s, plan.backupKey)));
      try {
        const accepted = presentShare(plan, collector, bytes, r.custodian, `the card "${token.label}"`);
        return { custodian: accepted.custodian, index: accepted.index, count: collector.count, threshold: plan.expected.threshold, ready: collector.ready };
      } finally {
        zero(bytes);
      }
    },
    'drill.run': async (r) => {
      const { plan, custodianSet, collector } = drills.get(r.drillId);
      requireEnoughShares(plan, collector); // the drill stays open for more shares
      const restore = r.restore === true;
      drills.delete(r.drillId);
      const run = await d.withPin(r.pin, (pin) => restoreFromShares(d.token(r.token), pin, plan, collector, { restore, custodianSet, started: d.now(), now: d.now }));
      const { outcome } = run;
      return { result: outcome.pass ? 'pass' : 'fail', restore, failures: outcome.failures, backupKcv: outcome.backupKcv, backupKcvMatches: outcome.backupKcvMatches, restored: outcome.restored,
        report: d.docView({ payloadType: PAYLOAD_TYPES.drill, payload: run.report, signatures: [] }) };
    },
    'drill.cancel': async (r) => {
      drills.get(r.drillId).collector.dispose();
      drills.delete(r.drillId);
      return { cancelled: true };
    },
  };
}
