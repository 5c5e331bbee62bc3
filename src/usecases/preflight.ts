/**
 * Before a ceremony starts (issue 7), for the CLI, the app and a rehearsal alike: the air gap
 * (no non-loopback interface up, CEREMONY_NETWORK_UP, unless a rehearsal allows the network) and
 * the rehearsal record (a passed rehearsal of this very script, CEREMONY_NOT_REHEARSED, unless
 * the run is told to go without one). An override is never silent: each returns the note the
 * ceremony's audit log records before its first step. The interfaces and the record's path are
 * inputs, so callers (and tests) choose where they come from.
 */
import { rehearsalPassed } from '../ceremony/rehearsal.js';
import { KeyceremonyError } from '../errors.js';

export interface NetworkInterface { readonly name: string; readonly addresses: readonly string[] }

/** An entry for the audit log, written before the first step (the engine's `notes`). */
export interface AuditNote { readonly action: string; readonly details: Readonly<Record<string, string | boolean>> }

/**
 * No interface up: nothing to note. Up during a rehearsal that allows the network: the
 * `airgap.override` note. Otherwise CEREMONY_NETWORK_UP (exit 1).
 */
export function checkAirGap(up: readonly NetworkInterface[], o: { readonly rehearsal: boolean; readonly allowNetwork: boolean }): AuditNote | null {
  if (up.length === 0) return null;
  const names = up.map((i) => i.name).join(', ');
  if (!o.rehearsal || !o.allowNetwork) {
    throw new KeyceremonyError('CEREMONY_NETWORK_UP', `a network interface is up (${names})`,
      o.rehearsal ? 'disconnect it, or allow the network for this rehearsal (--allow-network, or the app\'s choice; it is logged)' : 'disconnect every network interface: a ceremony runs air-gapped');
  }
  return { action: 'airgap.override', details: { interfaces: names, reason: 'a rehearsal with the network allowed' } };
}

/**
 * A passed rehearsal of the script with this digest is recorded in `record` (JSON lines written
 * by `ceremony run --rehearse`): nothing to note. None, and `runWithout`: the `rehearsal.skipped`
 * note. Otherwise CEREMONY_NOT_REHEARSED (exit 1).
 */
export function checkRehearsed(record: string | undefined, digest: string, o: { readonly runWithout: boolean }): AuditNote | null {
  if (rehearsalPassed(record, digest)) return null;
  if (!o.runWithout) {
    throw new KeyceremonyError('CEREMONY_NOT_REHEARSED', `no passed rehearsal of this script (${digest}) is recorded${record === undefined ? '' : ` in ${record}`}: it is new, or it changed since it was rehearsed`,
      'rehearse it first (in the app, or keyceremony ceremony run SCRIPT --rehearse --dir REHEARSAL-DIR), or run without one (--no-rehearsal, or the app\'s choice), which is logged');
  }
  return { action: 'rehearsal.skipped', details: { script: digest, reason: 'run without a passed rehearsal, as asked' } };
}

export interface PreflightInput {
  /** The script's SHA-256, `sha256:<hex>`. */
  readonly digest: string;
  /** A rehearsal on throw-away tokens, or the real run. */
  readonly rehearsal: boolean;
  /** The non-loopback interfaces that are up now. */
  readonly interfaces: readonly NetworkInterface[];
  /** A rehearsal may run with the network up (logged); a real run never. */
  readonly allowNetwork: boolean;
  /** The record of passed rehearsals, if any. */
  readonly record: string | undefined;
  /** A real run may go without a passed rehearsal (logged). */
  readonly runWithoutRehearsal: boolean;
}

/** Both checks, in order (air gap, then rehearsal), and the notes to log before the first step. */
export function ceremonyPreflight(i: PreflightInput): AuditNote[] {
  const notes: AuditNote[] = [];
  const airGap = checkAirGap(i.interfaces, { rehearsal: i.rehearsal, allowNetwork: i.allowNetwork });
  if (airGap !== null) notes.push(airGap);
  if (i.rehearsal) {
    notes.push({ action: 'rehearsal.start', details: { script: i.digest, tokens: 'throw-away SoftHSM2' } });
    return notes;
  }
  const skipped = checkRehearsed(i.record, i.digest, { runWithout: i.runWithoutRehearsal });
  if (skipped !== null) notes.push(skipped);
  return notes;
}
