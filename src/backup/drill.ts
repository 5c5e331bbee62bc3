/**
 * A restoration drill (issue 6): the backup key rebuilt from M shares checked on entry, imported
 * into the drill token as a session object (the host buffer zeroed at once), every blob unwrapped
 * into the token, each KCV compared with the signed manifest's, each canary decrypted, and every
 * drill object destroyed at the end. The result is the drill report of FORMATS.md §5, to be
 * signed M-of-N like any document.
 */
import { zero } from '../bytes.js';
import { isKeyceremonyError } from '../errors.js';
import { ckrOf } from '../pkcs11/errors.js';
import { formatTime } from '../docs/fields.js';
import { SPECS } from '../docs/types.js';
import { parseDrillReport } from '../manifest/drill.js';
import type { Handle } from '../pkcs11/binding.js';
import { keyCheckValue } from '../pkcs11/keys.js';
import { destroyQuietly } from '../pkcs11/objects.js';
import type { Session } from '../pkcs11/session.js';
import { blobMismatch, restoreBlob } from './blob.js';
import type { BackupBlob } from './blob.js';
import { importAesKey } from './custody.js';
import type { ShareCollector } from './shares.js';

/** CKR values of a token that failed (device error, memory, removed, session lost, not present, PIN locked, logged out), as opposed to a blob it refused. */
const TOKEN_FAULTS = new Set([0x030, 0x031, 0x032, 0x0b0, 0x0b3, 0x0e0, 0x0e1, 0x0a4, 0x101]);
const tokenFault = (err: unknown): boolean => !isKeyceremonyError(err) || err.code === 'HSM_MODULE_BUG' || TOKEN_FAULTS.has(ckrOf(err.cause) ?? -1);

export interface DrillOutcome {
  readonly backupKcv: string;
  readonly backupKcvMatches: boolean;
  readonly restored: readonly { readonly id: string; readonly kcv: string; readonly kcvMatches: boolean; readonly canary: boolean }[];
  readonly pass: boolean;
  /** Why it failed, one code per cause: DRILL_BACKUP_KCV_MISMATCH, DRILL_BLOB_CORRUPTED, DRILL_KCV_MISMATCH, DRILL_CANARY_FAILED. */
  readonly failures: readonly string[];
}

/**
 * `restore: true` is a real restore: restored keys that pass both checks are kept as token
 * objects labelled with their key ids; anything that fails a check is destroyed like a drill's.
 */
export async function runDrill(s: Session, collector: ShareCollector, backupKeyId: string, backupKcv: string, blobs: readonly BackupBlob[], manifestKcvs: ReadonlyMap<string, string>, restore = false): Promise<DrillOutcome> {
  for (const b of blobs) {
    const foreign = blobMismatch(b, backupKeyId);
    if (foreign !== null) throw foreign;
  }
  const secret = await collector.combine();
  collector.dispose();
  const handles: Handle[] = [];
  const kept: Handle[] = [];
  try {
    let backup: Handle;
    try {
      backup = importAesKey(s, secret, { label: `drill ${backupKeyId} (session)`, token: false, encrypt: true });
    } finally {
      zero(secret); // the backup key exists in host memory only between combination and import
    }
    handles.push(backup);
    const kcv = (await keyCheckValue(s, backup)).value;
    const restored = [];
    const failures = new Set<string>();
    const backupKcvMatches = kcv === backupKcv;
    if (!backupKcvMatches) failures.add('DRILL_BACKUP_KCV_MISMATCH');
    for (const b of blobs) {
      const expected = manifestKcvs.get(b.keyId) ?? '';
      let r;
      try {
        r = await restoreBlob(s, backup, b, expected, restore);
        handles.push(r.handle);
      } catch (err) {
        // a token that fails (pulled, erring, session lost) fails the drill as it is; any other refusal
        // to unwrap is the blob's (SoftHSM2 answers a changed AES-KWP blob with CKR_GENERAL_ERROR)
        if (tokenFault(err)) throw err;
        failures.add('DRILL_BLOB_CORRUPTED'); // a blob that does not unwrap restores nothing
        r = { kcv: '000000', kcvMatches: false, canary: false };
      }
      if (!r.kcvMatches && r.kcv !== '000000') failures.add('DRILL_KCV_MISMATCH');
      if (!r.canary && r.kcv !== '000000') failures.add('DRILL_CANARY_FAILED');
      restored.push({ id: b.keyId, kcv: r.kcv, kcvMatches: r.kcvMatches, canary: r.canary });
    }
    if (blobs.length === 0) failures.add('DRILL_NOTHING_TO_RESTORE');
    // a real restore keeps its keys only when everything passed: never a key that failed a check
    if (restore && failures.size === 0) kept.push(...handles.slice(1));
    return { backupKcv: kcv, backupKcvMatches, restored, pass: failures.size === 0, failures: [...failures] };
  } finally {
    destroyQuietly(s, ...handles.filter((h) => !kept.includes(h)));
  }
}

/** The FORMATS.md §5 payload; parsed back at once so nothing invalid is ever signed. */
export function buildDrillReport(o: { drill: string; custodianSet: number; started: number; finished: number; backupKey: string; outcome: DrillOutcome; sharesPresented: readonly string[]; threshold: number }): Uint8Array {
  const payload = {
    spec: SPECS.drill, drill: o.drill, custodianSet: o.custodianSet, started: formatTime(o.started), finished: formatTime(o.finished),
    backupKey: { id: o.backupKey, kcv: o.outcome.backupKcv }, sharesPresented: o.sharesPresented, threshold: o.threshold,
    // a key whose canary did not decrypt is not restored, whatever its KCV says
    restored: o.outcome.restored.map((r) => ({ id: r.id, kcv: r.kcv, kcvMatches: r.kcvMatches && r.canary })),
    result: o.outcome.pass ? 'pass' : 'fail',
  };
  const bytes = new TextEncoder().encode(`${JSON.stringify(payload, null, 2)}\n`);
  parseDrillReport(bytes);
  return bytes;
}
