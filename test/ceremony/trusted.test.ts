/**
 * A wrap-with-trusted master key in ceremony scripts (issue 16, Build 2), on SoftHSM2 tokens
 * standing for the room's (SoftHSM2 2.6.1 enforces CKA_WRAP_WITH_TRUSTED, measured in
 * test/pkcs11/trusted.test.ts):
 *  - a script says `wrapWithTrusted` on a generate-key step; the parser refuses it on a key that
 *    is not an extractable master key, in a split's keys (such a key has no backup blob) and for an
 *    export through an ephemeral AES key, each by path;
 *  - the ceremony makes the key, and its export stops with EXPORT_TRUSTED_REQUIRED until the
 *    security officer trusts the KMS key; run again, the ceremony resumes and exports by direct
 *    RSAES-OAEP under the trusted key, which openssl (the KMS's private half) opens to the key's KCV;
 *  - a later ceremony that would back that key up stops with SPLIT_KEY_WRAP_WITH_TRUSTED before
 *    anything is made: no backup key on the HSM, no share on a card, no custody folder.
 */
import { createCipheriv } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCeremony } from '../../src/ceremony/engine.js';
import type { ResolvedToken } from '../../src/ceremony/engine.js';
import { parseScript } from '../../src/ceremony/script.js';
import type { CeremonyScript } from '../../src/ceremony/script.js';
import { TEMPLATES } from '../../src/ceremony/templates.js';
import { DocumentError } from '../../src/docs/problems.js';
import { parseKek } from '../../src/export/kek.js';
import { Pkcs11Module } from '../../src/pkcs11/module.js';
import { findByLabel } from '../../src/pkcs11/objects.js';
import { withSession } from '../../src/pkcs11/session.js';
import { findToken } from '../../src/pkcs11/tokens.js';
import { importTrustedWrappingKey } from '../../src/pkcs11/trusted.js';
import { makeKeks, opensslUnwrap } from '../export/openssl.js';
import type { TestKek } from '../export/openssl.js';
import { createSoftHsm, pinBytes } from '../support/softhsm.js';
import type { SoftHsm } from '../support/softhsm.js';

const HSM = { label: 'Ceremony HSM', pin: '99998888', soPin: '12345678' };
const cards = ['alice', 'bob', 'carol'].map((id, i) => ({ id, label: `custodian-${id}`, pin: `${i + 1}`.repeat(4), soPin: '12345678' }));
const KEK = 'kms/aws.rsa-3072.pem';
let hsm: SoftHsm;
let mod: Pkcs11Module;
let work: string;
let inputs: string;
let kek: TestKek;

beforeAll(() => {
  hsm = createSoftHsm([HSM, ...cards]);
  mod = Pkcs11Module.open(hsm.module);
  work = mkdtempSync(join(tmpdir(), 'kc-ceremony-trusted-'));
  inputs = join(work, 'inputs');
  mkdirSync(join(inputs, 'kms'), { recursive: true });
  kek = makeKeks(join(inputs, 'kms'), [3072])[3072]!;
  cpSync(kek.pub, join(inputs, KEK));
}, 60_000);
afterAll(() => { mod?.close(); hsm?.cleanup(); if (work !== undefined) rmSync(work, { recursive: true, force: true }); });

type Steps = Record<string, unknown>[];
/** The keys-in-use template's people, tokens and opening (custodian keys, the set), then `steps`. */
function scriptJson(id: string, steps: Steps, opening = true): object {
  const t = JSON.parse(JSON.stringify(TEMPLATES['keys-in-use'])) as { steps: Steps };
  return { ...t, id, title: 'A wrap-with-trusted master key', steps: [...(opening ? t.steps.slice(0, 2) : []), ...steps] };
}
const parsed = (o: object): CeremonyScript => parseScript(new TextEncoder().encode(JSON.stringify(o, null, 2)));
const problems = (o: object): string[] => {
  try {
    parsed(o);
  } catch (err) {
    if (err instanceof DocumentError) return err.problems.map((p) => `${p.code} ${p.path}`);
    throw err;
  }
  return [];
};

const master = (over: Record<string, unknown> = {}): Record<string, unknown> => ({ id: 'master-key', action: 'generate-key', actor: 'admin', witness: 'wendy', token: 'hsm', label: 'master-v1', extractable: true, wrapWithTrusted: true, ...over });
const exportOf = (target: string): Record<string, unknown> => ({ id: 'export', action: 'export', actor: 'admin', token: 'hsm', key: 'master-v1', out: 'export', targets: [{ target, kek: KEK, kekId: null }] });
const split = { id: 'backup-custody', action: 'split-backup', actor: 'alice', token: 'hsm', backupKey: 'backup-v1', keys: ['master-v1'], threshold: 2, holders: ['alice', 'bob', 'carol'], signers: ['alice', 'bob'], out: 'custody' };

function tokens(s: CeremonyScript): Map<string, ResolvedToken> {
  return new Map(s.tokens.map((t) => {
    const def = [HSM, ...cards].find((x) => x.label === t.label)!;
    return [t.name, { token: findToken(mod, { label: t.label }), pin: pinBytes(def.pin) }];
  }));
}
const run = (s: CeremonyScript, dir: string) => runCeremony({
  script: s, dir, inputs, tokens: tokens(s), simulation: false, say: () => undefined, confirm: async () => true,
  env: { ...process.env, KEYCEREMONY_REMOVABLE_ROOTS: work }, // the test folder stands in for the removable drive
});

describe('the script', () => {
  test('wrapWithTrusted is optional (false when left out), a boolean, and for an extractable master key only', () => {
    const plain = parsed(scriptJson('2026-12-plain', [master({ wrapWithTrusted: undefined })]));
    expect(plain.steps[2]).toMatchObject({ action: 'generate-key', wrapWithTrusted: false });
    expect(parsed(scriptJson('2026-12-trusted', [master()])).steps[2]).toMatchObject({ wrapWithTrusted: true });
    expect(problems(scriptJson('2026-12-bad', [master({ extractable: false }), master({ id: 'backup-key', label: 'backup-v1' }), master({ id: 'third', label: 'master-v3', wrapWithTrusted: 'yes' })]))).toEqual([
      'SCRIPT_WRAP_WITH_TRUSTED steps[2].wrapWithTrusted', 'SCRIPT_WRAP_WITH_TRUSTED steps[3].wrapWithTrusted', expect.stringMatching(/^DOCUMENT_\w+ steps\[4\]\.wrapWithTrusted$/)]);
  });

  test('such a key in a split\'s keys, or exported through an ephemeral AES key, is refused by path; direct RSAES-OAEP targets are not', () => {
    expect(problems(scriptJson('2026-12-split', [master(), split]))).toEqual(['SCRIPT_WRAP_WITH_TRUSTED steps[3].keys[0]']);
    expect(problems(scriptJson('2026-12-kwp', [master(), exportOf('aws-rsa-aes-key-wrap-sha1')]))).toEqual(['SCRIPT_WRAP_WITH_TRUSTED steps[3].targets[0].target']);
    for (const target of ['aws-rsaes-oaep-sha1', 'aws-rsaes-oaep-sha256', 'gcp-rsa-oaep-3072-sha256']) expect(problems(scriptJson('2026-12-oaep', [master(), exportOf(target)]))).toEqual([]);
    // the same steps for a key made without it are as before
    expect(problems(scriptJson('2026-12-split', [master({ wrapWithTrusted: false }), split, exportOf('aws-rsa-aes-key-wrap-sha1')]))).toEqual([]);
  });
});

describe('a ceremony on SoftHSM2', () => {
  const dir = (): string => join(work, 'made');

  test('the key is made wrap-with-trusted; its export stops (EXPORT_TRUSTED_REQUIRED) until the SO trusts the KMS key, nothing written', async () => {
    const s = parsed(scriptJson('2026-12-trusted-master', [master(), exportOf('aws-rsaes-oaep-sha1')]));
    await expect(run(s, dir())).rejects.toMatchObject({ code: 'EXPORT_TRUSTED_REQUIRED' });
    expect(existsSync(join(dir(), 'export'))).toBe(false);
  });

  test('the SO trusts it; run again, the ceremony resumes and exports under the trusted key; openssl opens it to the key\'s KCV', async () => {
    const k = parseKek(readFileSync(kek.pub));
    expect(await importTrustedWrappingKey(findToken(mod, { label: HSM.label }), pinBytes(HSM.soPin), k, 'aws kms wrapping key')).toEqual({ label: 'aws kms wrapping key', created: true });
    const s = parsed(scriptJson('2026-12-trusted-master', [master(), exportOf('aws-rsaes-oaep-sha1')]));
    const r = await run(s, dir());
    expect(r.resumed).toBe(true);
    const rec = JSON.parse(readFileSync(join(dir(), 'export', 'aws-rsaes-oaep-sha1', 'export.json'), 'utf8')) as { kcv: string; mechanisms: string[] };
    expect(rec.mechanisms).toEqual(['CKM_RSA_PKCS_OAEP(sha1) under the SO-trusted key']);
    const key = opensslUnwrap(readFileSync(join(dir(), 'export', 'aws-rsaes-oaep-sha1', 'EncryptedKeyMaterial.bin')), kek, 'sha1', false, work);
    try {
      expect(createCipheriv('aes-256-ecb', key, null).setAutoPadding(false).update(Buffer.alloc(16)).subarray(0, 3).toString('hex')).toBe(rec.kcv);
    } finally {
      key.fill(0);
    }
    // the witness confirmed the KCV the generate-key step recorded: the same key
    expect(readFileSync(join(dir(), 'transcript.md'), 'utf8')).toContain(rec.kcv);
  });

  test('a later ceremony that would back it up stops (SPLIT_KEY_WRAP_WITH_TRUSTED) before anything is made', async () => {
    const later = join(work, 'later-inputs');
    mkdirSync(later);
    cpSync(join(dir(), 'custodians.v1.json'), join(later, 'custodians.v1.json'));
    const loadSet = { id: 'custodian-set', action: 'load-custodian-set', actor: 'admin', witness: 'wendy', chain: ['custodians.v1.json'], rootDigest: null };
    const s = parsed(scriptJson('2026-12-backup-trusted', [loadSet, split], false));
    const d = join(work, 'backup');
    await expect(runCeremony({ script: s, dir: d, inputs: later, tokens: tokens(s), simulation: false, say: () => undefined, confirm: async () => true,
      env: { ...process.env, KEYCEREMONY_REMOVABLE_ROOTS: work } })).rejects.toMatchObject({ code: 'SPLIT_KEY_WRAP_WITH_TRUSTED' });
    expect(existsSync(join(d, 'custody'))).toBe(false);
    await withSession(findToken(mod, { label: HSM.label }), pinBytes(HSM.pin), async (x) => { expect(findByLabel(x, 'secret-key', 'backup-v1')).toEqual([]); });
    for (const c of cards) await withSession(findToken(mod, { label: c.label }), pinBytes(c.pin), async (x) => { expect(findByLabel(x, 'data', 'share:backup-v1')).toEqual([]); });
  });
});
