/** Shares stored on custodian cards (SoftHSM2): private data objects, read back and checked; unreadable without the PIN. */
import { createRequire } from 'node:module';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ShareCollector, splitSecret } from '../../src/backup/shares.js';
import { readShare, shareLabel, writeShare } from '../../src/backup/token-shares.js';
import { Pkcs11Module } from '../../src/pkcs11/module.js';
import { withSession } from '../../src/pkcs11/session.js';
import { findToken } from '../../src/pkcs11/tokens.js';
import { expectCodeAsync } from '../support/expect-code.js';
import { createSoftHsm, pinBytes } from '../support/softhsm.js';
import type { SoftHsm } from '../support/softhsm.js';

const B = createRequire(import.meta.url)('pkcs11js') as Record<string, number>;
const cards = ['alice', 'bob', 'carol'].map((id, i) => ({ id, label: `card-${id}`, pin: `${i}${i}${i}${i}77`, soPin: '12345678' }));
let hsm: SoftHsm;
let mod: Pkcs11Module;
beforeAll(() => { hsm = createSoftHsm(cards); mod = Pkcs11Module.open(hsm.module); });
afterAll(() => { mod.close(); hsm.cleanup(); });

const on = <T>(c: (typeof cards)[number], fn: Parameters<typeof withSession<T>>[2]) => withSession(findToken(mod, { label: c.label }), pinBytes(c.pin), fn);

test('each custodian card holds its share privately; two of them rebuild the key', async () => {
  const secret = new Uint8Array(32).map((_, i) => (i * 37 + 11) & 0xff);
  const shares = await splitSecret(secret, { ceremony: 'cards-1', backupKey: 'backup-v3', custodians: cards.map((c) => c.id), threshold: 2 });
  for (const [i, c] of cards.entries()) await on(c, async (s) => writeShare(s, 'backup-v3', shares[i]!.bytes, shares[i]!.commitment));
  // a second share for the same key on one card is refused
  await expectCodeAsync(on(cards[0]!, async (s) => writeShare(s, 'backup-v3', shares[0]!.bytes, shares[0]!.commitment)), 'HSM_OBJECT_EXISTS');
  // without logging in, the share object cannot even be found (CKA_PRIVATE)
  const t = findToken(mod, { label: 'card-bob' });
  await withSession(t, null, async (s) => {
    expect(s.findObjects([{ type: B.CKA_CLASS!, value: B.CKO_DATA! }, { type: B.CKA_LABEL!, value: shareLabel('backup-v3') }])).toHaveLength(0);
  }, { readWrite: false });
  const collector = new ShareCollector({ ceremony: 'cards-1', backupKey: 'backup-v3', threshold: 2, total: 3, commitments: new Map(shares.map((s) => [s.custodian, s.commitment])) });
  for (const c of [cards[2]!, cards[0]!]) collector.present(await on(c, async (s) => readShare(s, 'backup-v3')));
  expect(Buffer.from(await collector.combine()).equals(Buffer.from(secret))).toBe(true);
  collector.dispose();
  await expectCodeAsync(on(cards[1]!, async (s) => readShare(s, 'backup-v9')), 'HSM_OBJECT_NOT_FOUND');
  await expectCodeAsync(withSession(t, pinBytes('000000'), async (s) => readShare(s, 'backup-v3')), 'HSM_PIN_INCORRECT');
});
