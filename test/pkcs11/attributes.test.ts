/**
 * Every attribute of every key the project makes or imports, read back from the token and compared
 * with a table written here by hand (issue 16, Build 2), not derived from src/pkcs11/templates.ts:
 * on SoftHSM2 and on NSS softokn. An attribute the token will not read back counts as
 * `unsupported` (it passes only where the table allows it); the three promises of the issue must
 * be read back on every implementation: no sign on a backup key, no modifiable restored key, no
 * extractable custodian key.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { makeBackupBlob, restoreBlob } from '../../src/backup/blob.js';
import { createBackupCustody } from '../../src/backup/custody.js';
import { writeShare } from '../../src/backup/token-shares.js';
import { pkcs11js } from '../../src/pkcs11/binding.js';
import type { Handle } from '../../src/pkcs11/binding.js';
import { can } from '../../src/pkcs11/capabilities.js';
import { generateAesKey, generateEd25519 } from '../../src/pkcs11/keys.js';
import { generateMacKey } from '../../src/pkcs11/mac.js';
import { Pkcs11Module } from '../../src/pkcs11/module.js';
import { generateSecret } from '../../src/pkcs11/secrets.js';
import { withSession } from '../../src/pkcs11/session.js';
import type { Session } from '../../src/pkcs11/session.js';
import { findToken } from '../../src/pkcs11/tokens.js';
import { createNss } from '../support/nss.js';
import type { Nss } from '../support/nss.js';
import { createSoftHsm, pinBytes } from '../support/softhsm.js';
import type { SoftHsm } from '../support/softhsm.js';

const FLAGS = ['TOKEN', 'PRIVATE', 'SENSITIVE', 'EXTRACTABLE', 'MODIFIABLE', 'ENCRYPT', 'DECRYPT', 'SIGN', 'VERIFY', 'WRAP', 'UNWRAP', 'DERIVE'] as const;
type Flag = (typeof FLAGS)[number];
type Read = boolean | 'unsupported';
/** `true`/`false`: must read back so; `'n/a'`: not an attribute of this class (the token may answer false or refuse). */
type Want = boolean | 'n/a';

const T = true;
const F = false;
const NA = 'n/a';
/** The expected table, by hand: one row per kind of object the project makes or imports. */
const EXPECTED: Readonly<Record<string, Readonly<Record<Flag, Want>>>> = {
  //                      TOKEN PRIVATE SENSITIVE EXTRACTABLE MODIFIABLE ENCRYPT DECRYPT SIGN VERIFY WRAP UNWRAP DERIVE
  'master (exportable)': row(T, T, T, T, F, T, T, F, F, F, F, F),
  'master (exportable, wrap-with-trusted)': row(T, T, T, T, F, T, T, F, F, F, F, F),
  'master (never exported)': row(T, T, T, F, F, T, T, F, F, F, F, F),
  'backup key (generated)': row(T, T, T, F, F, F, F, F, F, T, T, F),
  'backup key (imported under custody)': row(T, T, T, F, F, F, F, F, F, T, T, F),
  'master restored from a blob': row(T, T, T, F, F, T, T, F, F, F, F, F),
  'journal MAC key': row(T, T, T, F, F, F, F, T, T, F, F, F),
  'inventory secret': row(T, T, T, T, F, F, F, T, F, F, F, F),
  'custodian private key (Ed25519)': row(T, T, T, F, F, NA, F, T, NA, NA, F, F),
  'custodian public key (Ed25519)': row(T, F, NA, NA, F, F, NA, NA, T, F, NA, F),
  'custodian share (data object)': { TOKEN: T, PRIVATE: T, MODIFIABLE: F, SENSITIVE: NA, EXTRACTABLE: NA, ENCRYPT: NA, DECRYPT: NA, SIGN: NA, VERIFY: NA, WRAP: NA, UNWRAP: NA, DERIVE: NA },
};

function row(...v: Want[]): Record<Flag, Want> {
  return Object.fromEntries(FLAGS.map((f, i) => [f, v[i] as Want])) as Record<Flag, Want>;
}

function readAll(s: Session, h: Handle): Record<Flag, Read> {
  const B = pkcs11js() as unknown as Record<string, number>;
  const out = {} as Record<Flag, Read>;
  for (const f of FLAGS) {
    try {
      const [a] = s.api.C_GetAttributeValue(s.handle, h, [{ type: B[`CKA_${f}`] as number }]);
      const v = a?.value;
      out[f] = Buffer.isBuffer(v) && v.length >= 1 ? v[0] === 1 : 'unsupported';
    } catch {
      out[f] = 'unsupported';
    }
  }
  return out;
}

function find(s: Session, klass: number, label: string): Handle {
  const B = pkcs11js();
  const hits = s.findObjects([{ type: B.CKA_CLASS, value: klass }, { type: B.CKA_LABEL, value: label }], 2);
  expect(hits, `${label}`).toHaveLength(1);
  return hits[0] as Handle;
}

/** Make every kind of object on one token with the project's own functions, then read each back. */
async function makeAndRead(s: Session, card: Session): Promise<Map<string, Record<Flag, Read>>> {
  const B = pkcs11js();
  const got = new Map<string, Record<Flag, Read>>();
  await generateAesKey(s, { label: 'master-x', role: 'master', extractable: true });
  await generateAesKey(s, { label: 'master-n', role: 'master' });
  await generateAesKey(s, { label: 'master-t', role: 'master', extractable: true, wrapWithTrusted: true });
  await generateAesKey(s, { label: 'backup-gen', role: 'backup' });
  const custody = await createBackupCustody(s, { backupKey: 'backup-imp', ceremony: 'attr', custodians: ['a', 'b'], threshold: 2 });
  generateMacKey(s, { label: 'journal', id: Buffer.alloc(16, 1) });
  generateSecret(s, { label: 'inventory', bytes: 32 });
  got.set('master (exportable)', readAll(s, find(s, B.CKO_SECRET_KEY, 'master-x')));
  got.set('master (never exported)', readAll(s, find(s, B.CKO_SECRET_KEY, 'master-n')));
  got.set('master (exportable, wrap-with-trusted)', readAll(s, find(s, B.CKO_SECRET_KEY, 'master-t')));
  got.set('backup key (generated)', readAll(s, find(s, B.CKO_SECRET_KEY, 'backup-gen')));
  got.set('backup key (imported under custody)', readAll(s, find(s, B.CKO_SECRET_KEY, 'backup-imp')));
  got.set('journal MAC key', readAll(s, find(s, B.CKO_SECRET_KEY, 'journal')));
  got.set('inventory secret', readAll(s, find(s, B.CKO_SECRET_KEY, 'inventory')));
  // a real restore: the key leaves its label free first, as on the token it is restored to
  const blob = await makeBackupBlob(s, 'master-x', 'backup-imp');
  s.api.C_DestroyObject(s.handle, find(s, B.CKO_SECRET_KEY, 'master-x'));
  const r = await restoreBlob(s, find(s, B.CKO_SECRET_KEY, 'backup-imp'), blob, blob.kcv, true);
  expect(r.kcvMatches && r.canary).toBe(true);
  got.set('master restored from a blob', readAll(s, r.handle));
  if (can(card.token, 0x1055, 'generate-key-pair')) { // CKM_EC_EDWARDS_KEY_PAIR_GEN
    await generateEd25519(card, { label: 'custodian' });
    got.set('custodian private key (Ed25519)', readAll(card, find(card, B.CKO_PRIVATE_KEY, 'custodian')));
    got.set('custodian public key (Ed25519)', readAll(card, find(card, B.CKO_PUBLIC_KEY, 'custodian')));
  }
  writeShare(card, 'backup-imp', custody.shares[0]!.bytes, custody.shares[0]!.commitment);
  got.set('custodian share (data object)', readAll(card, find(card, B.CKO_DATA, 'share:backup-imp')));
  return got;
}

function compare(got: Map<string, Record<Flag, Read>>): { wrong: string[]; unsupported: string[] } {
  const wrong: string[] = [];
  const unsupported: string[] = [];
  for (const [what, read] of got) {
    const want = EXPECTED[what];
    expect(want, `no expected row for ${what}`).toBeDefined();
    for (const f of FLAGS) {
      const w = (want as Record<Flag, Want>)[f];
      const r = read[f];
      if (r === 'unsupported') unsupported.push(`${what}: CKA_${f}`);
      if (w === 'n/a') continue;
      if (r !== w && r !== 'unsupported') wrong.push(`${what}: CKA_${f} is ${String(r)}, expected ${String(w)}`);
    }
  }
  return { wrong, unsupported };
}

/** The three promises, which must be read back, not merely unrefuted. */
function promises(got: Map<string, Record<Flag, Read>>): void {
  for (const k of ['backup key (generated)', 'backup key (imported under custody)']) {
    expect(got.get(k)?.SIGN, `${k}: CKA_SIGN`).toBe(false);
    expect(got.get(k)?.VERIFY, `${k}: CKA_VERIFY`).toBe(false);
  }
  expect(got.get('master restored from a blob')?.MODIFIABLE, 'restored: CKA_MODIFIABLE').toBe(false);
  expect(got.get('master restored from a blob')?.SIGN, 'restored: CKA_SIGN').toBe(false);
  const custodian = got.get('custodian private key (Ed25519)');
  if (custodian !== undefined) expect(custodian.EXTRACTABLE, 'custodian: CKA_EXTRACTABLE').toBe(false);
}

describe('every attribute of every key, read back', () => {
  let hsm: SoftHsm;
  let nss: Nss;
  let soft: Pkcs11Module;
  let nssMod: Pkcs11Module;
  const HSM = { label: 'attr hsm', pin: '11223344', soPin: '12345678' };
  const CARD = { label: 'attr card', pin: '55667788', soPin: '12345678' };
  beforeAll(() => {
    hsm = createSoftHsm([HSM, CARD]);
    nss = createNss({ label: 'NSS attr' });
    soft = Pkcs11Module.open(hsm.module);
    nssMod = Pkcs11Module.open(nss.module, nss.params);
  }, 60_000);
  afterAll(() => {
    soft?.close();
    nssMod?.close();
    hsm?.cleanup();
    nss?.cleanup();
  });

  test('SoftHSM2: as the table says', async () => {
    const got = await withSession(findToken(soft, { label: HSM.label }), pinBytes(HSM.pin), (s) =>
      withSession(findToken(soft, { label: CARD.label }), pinBytes(CARD.pin), (card) => makeAndRead(s, card)));
    expect(got.has('custodian private key (Ed25519)')).toBe(true);
    const { wrong } = compare(got);
    expect(wrong).toEqual([]);
    promises(got);
  }, 60_000);

  test('NSS softokn (the HSM), SoftHSM2 (the card): as the table says', async () => {
    const got = await withSession(findToken(nssMod, { label: nss.label }), pinBytes(nss.pin), (s) =>
      withSession(findToken(soft, { label: CARD.label }), pinBytes(CARD.pin), async (card) => {
        // the card already holds a custodian key and a share from the SoftHSM2 run: read what NSS made, and the card's again
        for (const h of card.findObjects([], 64)) card.api.C_DestroyObject(card.handle, h);
        return makeAndRead(s, card);
      }));
    const { wrong } = compare(got);
    expect(wrong).toEqual([]);
    promises(got);
  }, 60_000);
});
