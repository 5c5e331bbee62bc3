/**
 * A split of a wrap-with-trusted key (CKA_WRAP_WITH_TRUSTED: it wraps under no backup key, which
 * the security officer cannot trust) is refused before anything is made, by the CLI's and the app's
 * split as by the ceremony's step: SPLIT_KEY_WRAP_WITH_TRUSTED, no backup key left in the HSM, no
 * share on a card. Measured on SoftHSM2 2.6.1, which enforces the attribute.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { BackupSplit, splitBackupKey } from '../../src/backup/split.js';
import { shareLabel } from '../../src/backup/token-shares.js';
import { generateAesKey } from '../../src/pkcs11/keys.js';
import { Pkcs11Module } from '../../src/pkcs11/module.js';
import { findByLabel } from '../../src/pkcs11/objects.js';
import { withSession } from '../../src/pkcs11/session.js';
import { findToken } from '../../src/pkcs11/tokens.js';
import type { Token } from '../../src/pkcs11/tokens.js';
import { ERROR_LINE, runCli } from '../support/cli.js';
import { expectCodeAsync } from '../support/expect-code.js';
import { envelope, keyNamed, setPayload, TYPES } from '../support/independent.js';
import { createSoftHsm, pinBytes } from '../support/softhsm.js';
import type { SoftHsm } from '../support/softhsm.js';

const HSM = { label: 'Split HSM', pin: '11223344', soPin: '12345678' };
const CARDS = [{ label: 'Card alice', pin: '2001', soPin: '12345678' }, { label: 'Card bob', pin: '2002', soPin: '12345678' }];
let soft: SoftHsm;
let mod: Pkcs11Module;
const token = (label: string): Token => findToken(mod, { label });

beforeAll(async () => {
  soft = createSoftHsm([HSM, ...CARDS]);
  mod = Pkcs11Module.open(soft.module);
  await withSession(token(HSM.label), pinBytes(HSM.pin), async (s) => {
    await generateAesKey(s, { label: 'master-v1', role: 'master', extractable: true });
    await generateAesKey(s, { label: 'master-v2', role: 'master', extractable: true, wrapWithTrusted: true });
  });
}, 60_000);
afterAll(() => { mod?.close(); soft?.cleanup(); });

/** Nothing of a split of backup-v1 is on any token. */
async function nothingMade(): Promise<void> {
  await withSession(token(HSM.label), pinBytes(HSM.pin), async (s) => { expect(findByLabel(s, 'secret-key', 'backup-v1')).toEqual([]); });
  for (const c of CARDS) await withSession(token(c.label), pinBytes(c.pin), async (s) => { expect(findByLabel(s, 'data', shareLabel('backup-v1'))).toEqual([]); });
}

describe('a wrap-with-trusted key in a split is refused before anything is made', () => {
  test('the CLI\'s split (splitBackupKey): SPLIT_KEY_WRAP_WITH_TRUSTED, no backup key, no share', async () => {
    await expectCodeAsync(splitBackupKey({ hsm: token(HSM.label), hsmPin: pinBytes(HSM.pin), ceremony: 'c1', backupKey: 'backup-v1', threshold: 2, keys: ['master-v1', 'master-v2'],
      cards: CARDS.map((c, i) => ({ custodian: ['alice', 'bob'][i] as string, token: token(c.label), pin: pinBytes(c.pin) })) }), 'SPLIT_KEY_WRAP_WITH_TRUSTED');
    await nothingMade();
  });
  test('the app\'s split (BackupSplit.begin, backup.splitBegin): the same code, no backup key', async () => {
    await expectCodeAsync(BackupSplit.begin({ hsm: token(HSM.label), hsmPin: pinBytes(HSM.pin), ceremony: 'c1', backupKey: 'backup-v1', threshold: 2, custodians: ['alice', 'bob'], keys: ['master-v2'] }),
      'SPLIT_KEY_WRAP_WITH_TRUSTED');
    await nothingMade();
  });
  test('a key without the attribute still splits', async () => {
    const s = await BackupSplit.begin({ hsm: token(HSM.label), hsmPin: pinBytes(HSM.pin), ceremony: 'c1', backupKey: 'backup-v7', threshold: 2, custodians: ['alice', 'bob'], keys: ['master-v1'] });
    expect(s.backupKcv).toMatch(/^[0-9a-f]{6}$/);
    s.dispose();
  });
});

describe('keyceremony backup split of a key made with keygen --wrap-with-trusted', () => {
  test('exit 1, SPLIT_KEY_WRAP_WITH_TRUSTED, and the HSM holds no backup key afterwards', async () => {
    const env = { ...soft.env, KEYCEREMONY_PKCS11_MODULE: soft.module, HSM_PIN: HSM.pin, SO_PIN: HSM.soPin, CARD_A: CARDS[0]!.pin, CARD_B: CARDS[1]!.pin };
    const made = runCli(['keygen', 'master', `pkcs11:token=${encodeURIComponent(HSM.label)};object=master-v3`, '--extractable', '--wrap-with-trusted', '--so-pin-env', 'SO_PIN', '--pin-env', 'HSM_PIN', '--json'], env);
    expect(made.stderr).toBe('');
    expect(made.status).toBe(0);
    const work = mkdtempSync(join(tmpdir(), 'kc-split-trusted-'));
    const ids = ['alice', 'bob'] as const;
    const keys = ids.map((id): [string, ReturnType<typeof keyNamed>] => [id, keyNamed(id)]);
    const setFile = join(work, 'custodians.v1.json');
    writeFileSync(setFile, JSON.stringify(envelope(TYPES.custodians, setPayload(1, 2, keys), keys.map(([, k]) => k))));
    const out = join(work, 'custody');
    const r = runCli(['backup', 'split', '--hsm', HSM.label, '--pin-env', 'HSM_PIN', '--backup-key', 'backup-v1', '--key', 'master-v1', '--key', 'master-v3', '--threshold', '2',
      '--card', `custodian=alice,token=${CARDS[0]!.label},pin-env=CARD_A`, '--card', `custodian=bob,token=${CARDS[1]!.label},pin-env=CARD_B`,
      '--ceremony', 'c1-custody', '--actor', 'alice', '--custodians', setFile, '--out', out], env);
    expect(r.stderr).toMatch(ERROR_LINE);
    expect(r.stderr.split(': ')[1]).toBe('SPLIT_KEY_WRAP_WITH_TRUSTED');
    expect(r.status).toBe(1);
    expect(existsSync(out)).toBe(false);
    await nothingMade();
  }, 120_000);
});
