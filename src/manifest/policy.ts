/**
 * The seed's rotation policy, checked as warnings that never invalidate a manifest
 * (issue 3): JWT keys rotate monthly, webhook secrets and data re-encryption quarterly, and a
 * cutover that replaces a version comes no earlier than the dual-publish's notBefore plus the
 * overlap window (a key joining the chain, superseding nothing, has nothing to overlap with).
 * `compromise` is allowed at any time and never warned about.
 *
 * FORMATS.md §4 has no overlap field, so the overlap is this policy's constant (MIN_OVERLAP).
 */
import { problem } from '../docs/problems.js';
import type { Problem } from '../docs/problems.js';
import { formatTime } from '../docs/fields.js';
import type { Manifest, ManifestKey } from './manifest.js';

const DAY = 24 * 3600 * 1000;
export const POLICY = Object.freeze({ jwtMaxAgeDays: 31, webhookMaxAgeDays: 92, dataMaxAgeDays: 92, minOverlapHours: 24 });

type KeyClass = { code: string; days: number; what: string };

function classify(k: ManifestKey): KeyClass | null {
  if (k.algorithm === 'JWT-HS256' || k.algorithm === 'JWT-EdDSA' || k.name.includes('JWT')) return { code: 'POLICY_JWT_AGE', days: POLICY.jwtMaxAgeDays, what: 'JWT signing keys rotate monthly' };
  if (k.name === 'WEBHOOK_SIGNING_SECRET' || k.id.startsWith('webhook-')) return { code: 'POLICY_WEBHOOK_AGE', days: POLICY.webhookMaxAgeDays, what: 'webhook secrets rotate quarterly' };
  if (k.algorithm === 'AES-256-GCM') return { code: 'POLICY_REENCRYPTION_AGE', days: POLICY.dataMaxAgeDays, what: 'data is re-encrypted under the newest master key quarterly' };
  return null;
}

export function policyWarnings(m: Manifest, at: number, previous?: Manifest): Problem[] {
  const out: Problem[] = [];
  m.keys.forEach((k, i) => {
    if (k.phase === 'compromise') return;
    const cls = classify(k);
    const path = `keys[${i}]`;
    if (cls !== null && (k.phase === 'dual-publish' || k.phase === 'cutover') && at - k.notBefore > cls.days * DAY) {
      out.push(problem(cls.code, path, `${k.id} has been in use since ${formatTime(k.notBefore)}, more than ${cls.days} days: ${cls.what}`));
    }
    if (previous === undefined) return;
    const before = k.supersedes === null ? undefined : previous.keys.find((p) => p.id === k.supersedes);
    if (cls !== null && before !== undefined && k.notBefore - before.notBefore > cls.days * DAY) {
      out.push(problem(cls.code, path, `${k.id} replaces ${before.id} ${Math.floor((k.notBefore - before.notBefore) / DAY)} days after it took effect: ${cls.what}`));
    }
    // the overlap protects the version a cutover replaces: a key joining the chain (supersedes null:
    // keys already in use, a new version after a compromise) replaces none, and its phases may share one notBefore
    const dual = previous.keys.find((p) => p.id === k.id && p.phase === 'dual-publish');
    if (k.phase === 'cutover' && k.supersedes !== null && dual !== undefined && k.notBefore < dual.notBefore + POLICY.minOverlapHours * 3600 * 1000) {
      out.push(problem('POLICY_CUTOVER_EARLY', `${path}.notBefore`, `cutover of ${k.id} at ${formatTime(k.notBefore)} is before its dual-publish (${formatTime(dual.notBefore)}) plus the ${POLICY.minOverlapHours} h overlap: events signed with the old secret may be dropped`));
    }
  });
  return out;
}
