/**
 * Creating the backup key under custody (issue 6). The key is drawn from the token's RNG, split
 * into shares in host memory, imported into the HSM as a token key that may only wrap and unwrap,
 * and the host buffer is zeroed: the one place where the backup key exists in clear outside a
 * token, as the issue allows (and the audit log will record). Then the creation check: M shares
 * recombined, imported as a session key, and its KCV compared with the HSM's.
 */
import { zero } from '../bytes.js';
import { KeyceremonyError } from '../errors.js';
import { pkcs11js } from '../pkcs11/binding.js';
import type { Handle } from '../pkcs11/binding.js';
import { assertLabelFree, keyCheckValue, validateLabel } from '../pkcs11/keys.js';
import type { Session } from '../pkcs11/session.js';
import { ShareCollector, splitSecret } from './shares.js';
import type { SplitShare } from './shares.js';

/** Import 32 bytes as an AES key; `token: false` for a session key that dies with the session. */
export function importAesKey(s: Session, value: Uint8Array, opts: { label: string; token: boolean; encrypt: boolean }): Handle {
  const B = pkcs11js();
  return s.call('importing an AES key', () => s.api.C_CreateObject(s.handle, [
    { type: B.CKA_CLASS, value: B.CKO_SECRET_KEY }, { type: B.CKA_KEY_TYPE, value: B.CKK_AES }, { type: B.CKA_TOKEN, value: opts.token }, { type: B.CKA_PRIVATE, value: true },
    { type: B.CKA_SENSITIVE, value: true }, { type: B.CKA_EXTRACTABLE, value: false }, { type: B.CKA_MODIFIABLE, value: false }, { type: B.CKA_WRAP, value: true },
    { type: B.CKA_UNWRAP, value: true }, { type: B.CKA_ENCRYPT, value: opts.encrypt }, { type: B.CKA_DECRYPT, value: false }, { type: B.CKA_LABEL, value: opts.label },
    { type: B.CKA_VALUE, value: Buffer.from(value) },
  ]));
}

export interface Custody {
  readonly backupKey: string;
  readonly kcv: string;
  readonly shares: readonly SplitShare[];
}

export async function createBackupCustody(s: Session, opts: { backupKey: string; ceremony: string; custodians: readonly string[]; threshold: number }): Promise<Custody> {
  const label = validateLabel(opts.backupKey);
  assertLabelFree(s, label);
  const secret = s.random(32);
  try {
    const shares = await splitSecret(secret, { ceremony: opts.ceremony, backupKey: label, custodians: opts.custodians, threshold: opts.threshold });
    const handle = importAesKey(s, secret, { label, token: true, encrypt: false });
    const kcv = (await keyCheckValue(s, handle)).value;
    return { backupKey: label, kcv, shares };
  } finally {
    zero(secret);
  }
}

/** The KCV of the key that the collector's M shares rebuild, from a session key destroyed at once; the host copy is zeroed. */
export async function recombinedKcv(s: Session, collector: ShareCollector): Promise<string> {
  const secret = await collector.combine();
  collector.dispose();
  let probe: Handle | undefined;
  try {
    probe = importAesKey(s, secret, { label: 'custody check (session)', token: false, encrypt: true });
    zero(secret);
    return (await keyCheckValue(s, probe)).value;
  } finally {
    zero(secret);
    if (probe !== undefined) try { s.api.C_DestroyObject(s.handle, probe); } catch { /* a session object dies with the session */ }
  }
}

export function custodyCheckFailed(threshold: number, kcv: string, expected: string): KeyceremonyError {
  return new KeyceremonyError('CUSTODY_CHECK_FAILED', `${threshold} shares rebuild a key with KCV ${kcv}, not the backup key's ${expected}`, 'stop: destroy the shares and the backup key, and split again');
}

/** The creation check: the first M shares recombine to a key with the HSM backup key's KCV. */
export async function checkCustody(s: Session, custody: Custody, ceremony: string, threshold: number): Promise<void> {
  const c = new ShareCollector({ ceremony, backupKey: custody.backupKey, threshold, total: custody.shares.length, commitments: new Map(custody.shares.map((x) => [x.custodian, x.commitment])) });
  for (const sh of custody.shares.slice(0, threshold)) c.present(sh.bytes);
  const kcv = await recombinedKcv(s, c);
  if (kcv !== custody.kcv) throw custodyCheckFailed(threshold, kcv, custody.kcv);
}
