/**
 * The verified chain and who may act (src/usecases/chain.ts, custodians.ts): one code each, the
 * same from the function, the command line and the app's handler table.
 */
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createHandlers } from '../../src/api/handlers.js';
import type { Handlers } from '../../src/api/handlers.js';
import { chainFromFiles, verifiedChain, verifiedChainOfTexts } from '../../src/usecases/chain.js';
import { newestSetMembers, requireCustodian } from '../../src/usecases/custodians.js';
import { ERROR_LINE, runCli } from '../support/cli.js';
import { expectCode } from '../support/expect-code.js';
import { bytes, digest, envelope, keyNamed, manifestPayload, setPayload, TYPES } from '../support/independent.js';

const [alice, bob, carol] = ['alice', 'bob', 'carol'].map(keyNamed) as [ReturnType<typeof keyNamed>, ReturnType<typeof keyNamed>, ReturnType<typeof keyNamed>];
const set = envelope(TYPES.custodians, setPayload(1, 2, [['alice', alice], ['bob', bob], ['carol', carol]]), [alice, bob]);
const underSigned = envelope(TYPES.custodians, setPayload(1, 2, [['alice', alice], ['bob', bob], ['carol', carol]]), [alice]);
const AT = Date.parse('2026-11-28T10:00:00Z');
const WRONG_ROOT = `sha256:${'0'.repeat(64)}`;

let work: string;
let setFile: string;
let h: Handlers;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'kc-usecases-chain-'));
  setFile = join(work, 'custodians.v1.json');
  writeFileSync(setFile, JSON.stringify(set));
  h = createHandlers({ env: {}, version: 'test', now: () => AT, interfaces: () => [] });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('a verified chain', () => {
  test('verifies with the root pinned or not, and gives the newest set', () => {
    expect(verifiedChain([bytes(set)], { at: AT }).newest.version).toBe(1);
    expect(verifiedChain([bytes(set)], { at: AT, rootDigest: digest(set) }).newest.threshold).toBe(2);
    const fromFiles = chainFromFiles([setFile], { at: AT });
    expect(fromFiles.files).toHaveLength(1);
    expect(fromFiles.warnings.map((w) => w.code)).toContain('CHAIN_ROOT_NOT_PINNED');
  });
  test('one code, CHAIN_INVALID (exit 1), whatever the reason; every reason keeps its own code in the message', () => {
    const pinned = expectCode(() => verifiedChain([bytes(set)], { at: AT, rootDigest: WRONG_ROOT }), 'CHAIN_INVALID');
    expect(pinned.exit).toBe(1);
    expect(pinned.message).toContain('CHAIN_ROOT_DIGEST_MISMATCH');
    expect(expectCode(() => verifiedChainOfTexts([JSON.stringify(underSigned)], { at: AT }), 'CHAIN_INVALID').message).toContain('THRESHOLD_NOT_MET');
    expect(expectCode(() => verifiedChain([], { at: AT }), 'CHAIN_INVALID').message).toContain('CHAIN_EMPTY');
    expect(expectCode(() => verifiedChain([bytes('{"not":"an envelope"}')], { at: AT }), 'CHAIN_INVALID').exit).toBe(1);
  });
  test('a file that cannot be read is a usage error (exit 2), not a chain that does not verify', () => {
    expect(expectCode(() => chainFromFiles([join(work, 'missing.json')], { at: AT }), 'INPUT_UNREADABLE').exit).toBe(2);
  });
  test('the command line and the app refuse a chain that does not verify with the same code', async () => {
    const r = runCli(['manifest', 'new', '--out', join(work, 'm.json'), '--custodians', setFile, '--root-digest', WRONG_ROOT, '--ceremony', 'c1', '--actor', 'alice',
      '--inventory', 'seed', '--key-version', '2', '--phase', 'prepare', '--at', '2026-11-28T10:00:00Z'], process.env);
    expect([r.status, r.stderr.match(ERROR_LINE)?.[1]]).toEqual([1, 'CHAIN_INVALID']);
    expect(await h['custodians.next']({ chain: [JSON.stringify(underSigned)] })).toMatchObject({ ok: false, error: { code: 'CHAIN_INVALID' } });
    expect(await h['documents.status']({ document: JSON.stringify(set), chain: [JSON.stringify(underSigned)] })).toMatchObject({ ok: false, error: { code: 'CHAIN_INVALID' } });
  });
});

describe('who may act', () => {
  const chain = verifiedChain([bytes(set)], { at: AT });
  test('a custodian of the newest set may; anyone else is refused with CUSTODIAN_NOT_MEMBER (exit 1), whatever the role', () => {
    expect(() => requireCustodian(newestSetMembers(chain), 'bob', 'actor')).not.toThrow();
    for (const role of ['actor', 'holder', 'presenter'] as const) {
      const e = expectCode(() => requireCustodian(newestSetMembers(chain), 'mallory', role), 'CUSTODIAN_NOT_MEMBER');
      expect(e.exit).toBe(1);
      expect(e.message).toContain('set version 1');
    }
  });
  test('a manifest actor who is not a custodian: the command line, the manifest screen and the split screen give the same code', async () => {
    const out = join(work, 'never.json');
    const r = runCli(['manifest', 'new', '--out', out, '--custodians', setFile, '--ceremony', 'c1', '--actor', 'mallory', '--inventory', 'seed', '--key-version', '2', '--phase', 'prepare',
      '--at', '2026-11-28T10:00:00Z'], process.env);
    expect([r.status, r.stderr.match(ERROR_LINE)?.[1]]).toEqual([1, 'CUSTODIAN_NOT_MEMBER']);
    expect(existsSync(out)).toBe(false);
    expect(await h['manifest.create']({ chain: [JSON.stringify(set)], ceremony: 'c1', actor: 'mallory', keyVersion: 2, phase: 'prepare' }))
      .toMatchObject({ ok: false, error: { code: 'CUSTODIAN_NOT_MEMBER' } });
    // share holders are checked before the HSM is touched (there is none here)
    expect(await h['backup.splitBegin']({ hsm: { label: 'no such HSM' }, hsmPin: '1234', chain: [JSON.stringify(set)], ceremony: 'c1', backupKey: 'backup-v1', keys: ['master-v1'],
      threshold: 2, custodians: ['alice', 'mallory'] })).toMatchObject({ ok: false, error: { code: 'CUSTODIAN_NOT_MEMBER' } });
  });
  test('a bundle\'s actor is held to the same rule, before any token is opened', () => {
    const kek = join(work, 'kek.pem');
    writeFileSync(kek, generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }));
    const out = join(work, 'bundle');
    const r = runCli(['bundle', '--key', 'master-v1', '--target', `aws-rsa-aes-key-wrap-sha256=${kek}`, '--out', out, '--custodians', setFile, '--ceremony', 'c1', '--actor', 'mallory',
      '--allow-fixed-disk', '--at', '2026-11-28T10:00:00Z'], { ...process.env, KEYCEREMONY_PKCS11_MODULE: '/nonexistent/libpkcs11.so' });
    expect([r.status, r.stderr.match(ERROR_LINE)?.[1]]).toEqual([1, 'CUSTODIAN_NOT_MEMBER']);
    expect(existsSync(out)).toBe(false);
  });
});

describe('a chain whose newest set has expired (FORMATS.md §3.5)', () => {
  const expired = envelope(TYPES.custodians, setPayload(1, 2, [['alice', alice], ['bob', bob], ['carol', carol]], '2026-01-01T00:00:00Z', '2026-06-01T00:00:00Z'), [alice, bob]);
  const at = ['--at', '2026-11-28T10:00:00Z'];
  let expiredFile: string;
  beforeAll(() => {
    expiredFile = join(work, 'expired.v1.json');
    writeFileSync(expiredFile, JSON.stringify(expired));
    writeFileSync(join(work, 'alice.key'), alice.seed.toString('hex'));
  });
  test('acts on nothing, except to make and approve its next set, which replaces it', () => {
    expect(expectCode(() => verifiedChain([bytes(expired)], { at: AT }), 'CHAIN_INVALID').message).toContain('CHAIN_EXPIRED');
    expect(verifiedChain([bytes(expired)], { at: AT, newest: 'replaced' }).newest.version).toBe(1);
  });
  test('custodians next, sign and status from the command line', () => {
    const next = join(work, 'next.json');
    const made = runCli(['custodians', 'next', '--custodians', expiredFile, '--out', next, '--threshold', '3', ...at], process.env);
    expect(made.status).toBe(0);
    expect(made.stderr).toContain('CHAIN_NEWEST_EXPIRED');
    const signed = join(work, 'next.a.json');
    expect(runCli(['sign', next, '--software-key', join(work, 'alice.key'), '--out', signed, '--custodians', expiredFile, ...at], process.env).status).toBe(0);
    const st = runCli(['status', signed, '--custodians', expiredFile, '--json', ...at], process.env);
    expect(st.status).toBe(0);
    expect((JSON.parse(st.stdout) as { approvals: { signed: string[] }[] }).approvals[0]?.signed).toEqual(['alice']);
    // a document that is not its next set is refused as before
    const manifest = join(work, 'manifest.json');
    writeFileSync(manifest, JSON.stringify(envelope(TYPES.rotation, manifestPayload(), [])));
    const refused = runCli(['status', manifest, '--custodians', expiredFile, ...at], process.env);
    expect([refused.status, refused.stderr.match(ERROR_LINE)?.[1]]).toEqual([1, 'CHAIN_INVALID']);
  });
  test('the app: the next set from an expired one, and its status; anything else refused', async () => {
    const next = await h['custodians.next']({ chain: [JSON.stringify(expired)], threshold: 3 });
    if (!next.ok) throw new Error(next.error.code);
    expect(next.value.version).toBe(2);
    expect(await h['documents.status']({ document: next.value.document, chain: [JSON.stringify(expired)] })).toMatchObject({ ok: true, value: { complete: false } });
    expect(await h['documents.status']({ document: JSON.stringify(envelope(TYPES.rotation, manifestPayload(), [])), chain: [JSON.stringify(expired)] }))
      .toMatchObject({ ok: false, error: { code: 'CHAIN_INVALID' } });
  });
});
