/**
 * A restoration drill (issue 6), for the CLI's `drill` and the app's step-by-step drill alike:
 * the custody plan is opened only from a verified chain and a signed custody manifest; each share
 * presented is checked on its own before it counts (a refused share leaves the drill as it was),
 * and must be the share of the custodian who presents it; the restore runs in one session on the
 * drill token and yields the unsigned drill report (FORMATS.md §5).
 */
import { buildDrillReport, runDrill } from '../backup/drill.js';
import type { DrillOutcome } from '../backup/drill.js';
import { loadCustodyPlan } from '../backup/plan.js';
import type { CustodyPlan } from '../backup/plan.js';
import { ShareCollector } from '../backup/shares.js';
import { formatTime } from '../docs/fields.js';
import { KeyceremonyError } from '../errors.js';
import { withSession } from '../pkcs11/session.js';
import type { Token } from '../pkcs11/tokens.js';
import { verifiedChain } from './chain.js';
import type { ChainOptions } from './chain.js';
import type { TrustedChain } from '../verify/verify.js';
import { requireCustodian } from './custodians.js';
import type { Members } from './custodians.js';

/** The custodians the backup key was split to: the ones who may present a share. */
export function splitHolders(plan: CustodyPlan): Members {
  return { ids: [...plan.expected.commitments.keys()], of: `the split of ${plan.backupKey}` };
}

/**
 * Everything a drill may trust, checked before any custodian comes forward: the chain first (its
 * own reasons, CHAIN_INVALID), then the signed custody manifest and every file it lists in `dir`.
 * The chain comes back too: the drill's report is made under its newest set.
 */
export function openDrill(manifest: Uint8Array, chainFiles: readonly Uint8Array[], dir: string, o: ChainOptions): { readonly plan: CustodyPlan; readonly chain: TrustedChain } {
  const chain = verifiedChain(chainFiles, o);
  return { plan: loadCustodyPlan(manifest, chainFiles, dir, { at: o.at, rootDigest: o.rootDigest }), chain };
}

/**
 * A share presented by `claimed` (read from `from`, "the card "card-bob"" or a paper file): it must
 * be a holder of this split, and the share checked on its own must be theirs before the drill's
 * collector takes it (a refused share leaves the collector as it was). The caller zeroes `bytes`.
 */
export function presentShare(plan: CustodyPlan, collector: ShareCollector, bytes: Uint8Array, claimed: string, from: string): { readonly custodian: string; readonly index: number } {
  requireCustodian(splitHolders(plan), claimed, 'presenter');
  const probe = new ShareCollector(plan.expected);
  try {
    const who = probe.present(bytes); // parsed, not kept: the probe's copy of the share is zeroed by dispose below
    // a share already counted is a duplicate whoever presents it (the collector says so below)
    if (who.custodian !== claimed && !collector.custodians.includes(who.custodian)) {
      throw new KeyceremonyError('SHARE_WRONG_CUSTODIAN', `${from} holds the share of ${who.custodian}, not of ${claimed}`, `${claimed} presents their own share; nothing was counted`);
    }
  } finally {
    probe.dispose();
  }
  return collector.present(bytes);
}

/** `drill-backup-v2-2026-05-01`, or `restore-…` for a real restore. */
export function drillId(plan: CustodyPlan, restore: boolean, started: number): string {
  return `${restore ? 'restore' : 'drill'}-${plan.backupKey}-${formatTime(started).slice(0, 10)}`;
}

/** Enough shares are in to rebuild the backup key (SHARE_THRESHOLD_NOT_MET otherwise; nothing is restored). */
export function requireEnoughShares(plan: CustodyPlan, collector: ShareCollector): void {
  if (!collector.ready) {
    throw new KeyceremonyError('SHARE_THRESHOLD_NOT_MET', `${collector.count} of ${plan.expected.threshold} shares presented`, `${plan.expected.threshold - collector.count} more custodian(s) present their share; nothing was restored`);
  }
}

export interface DrillRun {
  readonly outcome: DrillOutcome;
  /** The custodians whose shares were combined. */
  readonly presented: readonly string[];
  /** The unsigned drill report's payload (FORMATS.md §5). */
  readonly report: Uint8Array;
}

export interface DrillOptions {
  /** A real restore keeps the restored keys that pass; a drill destroys everything it made. */
  readonly restore: boolean;
  /** The report's id; drillId() by default. */
  readonly id?: string | undefined;
  /**
   * The set version the report is made under: the newest set of the chain in force, which its
   * custodians sign (after a rotation, the custody manifest's own set is superseded, FORMATS.md §5).
   */
  readonly custodianSet: number;
  readonly started: number;
  readonly now: () => number;
}

/**
 * The backup key rebuilt from the collected shares in the drill token, every blob restored and
 * proved (KCV and canary), then destroyed, or kept for a real restore; the report says how it went.
 */
export async function restoreFromShares(token: Token, pin: Uint8Array, plan: CustodyPlan, collector: ShareCollector, o: DrillOptions): Promise<DrillRun> {
  requireEnoughShares(plan, collector);
  const presented = collector.custodians; // runDrill disposes of the collector once it has combined
  const outcome = await withSession(token, pin, (s) => runDrill(s, collector, plan.backupKey, plan.backupKcv, plan.blobs, plan.manifestKcvs, o.restore));
  const report = buildDrillReport({ drill: o.id ?? drillId(plan, o.restore, o.started), custodianSet: o.custodianSet, started: o.started, finished: Math.max(o.started, o.now()),
    backupKey: plan.backupKey, outcome, sharesPresented: presented, threshold: plan.expected.threshold });
  return { outcome, presented, report };
}
