/**
 * Counting signatures toward a threshold (FORMATS.md §6; TUF spec §5.3.4 / §5.4): a signature
 * counts once per distinct custodian public key of the counting set. Unknown key ids and bad
 * signatures count zero and are reported; repeats never add up.
 */
import type { CustodianSet } from '../custodians/set.js';
import { problem } from '../docs/problems.js';
import type { Problem } from '../docs/problems.js';
import type { Envelope } from '../dsse/envelope.js';

export interface Count {
  /** Custodian ids whose signatures counted, in signature order. */
  readonly signers: readonly string[];
  readonly met: boolean;
  readonly problems: readonly Problem[];
}

export function countSignatures(env: Envelope, signed: Uint8Array, set: CustodianSet, role = 'set'): Count {
  const counted = new Set<string>();
  const signers: string[] = [];
  const problems: Problem[] = [];
  env.signatures.forEach((s, i) => {
    const path = `signatures[${i}]`;
    const c = set.byKeyid.get(s.keyid);
    if (c === undefined) {
      problems.push(problem('SIGNATURE_UNKNOWN_KEY', path, `key id ${s.keyid.slice(0, 16)}… is not a custodian of ${role} version ${set.version}; it counts zero`));
      return;
    }
    if (!c.publicKey.verify(s.sig, signed)) {
      problems.push(problem('SIGNATURE_INVALID', path, `the signature of ${c.id} does not verify; it counts zero`));
      return;
    }
    if (counted.has(c.keyid)) {
      problems.push(problem('SIGNATURE_DUPLICATE', path, `${c.id} signed more than once; counted once`));
      return;
    }
    counted.add(c.keyid);
    signers.push(c.id);
  });
  return { signers, met: signers.length >= set.threshold, problems };
}
