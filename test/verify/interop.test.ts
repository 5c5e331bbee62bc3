/**
 * Interoperability with an independent implementation of FORMATS.md (node:crypto only), in both
 * directions, through the real CLI and real SoftHSM2 tokens (issue 3 acceptance).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ERROR_LINE, runCli } from '../support/cli.js';
import { digest, envelope, independentVerify, keyNamed, manifestPayload, setPayload, TYPES } from '../support/independent.js';
import type { RawEnvelope } from '../support/independent.js';
import { createSoftHsm } from '../support/softhsm.js';
import type { SoftHsm } from '../support/softhsm.js';

let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'kc-interop-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const write = (name: string, e: RawEnvelope | string): string => {
  const p = join(dir, name);
  writeFileSync(p, typeof e === 'string' ? e : JSON.stringify(e));
  return p;
};
const read = (p: string): RawEnvelope => JSON.parse(readFileSync(p, 'utf8')) as RawEnvelope;

describe('documents made by keyceremony verify with the independent implementation', () => {
  test('the demo\'s custodians.v1.json and rotation.1.json (signed on SoftHSM2 tokens)', () => {
    const out = join(dir, 'demo');
    const r = runCli(['demo', '--dir', out, '--json'], { ...process.env });
    expect(r.status).toBe(0);
    const set = read(join(out, 'custodians.v1.json'));
    const man = read(join(out, 'rotation.1.json'));
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    expect(independentVerify(man, [set], now)).toEqual({ valid: true, signers: ['alice', 'bob'] });
    // and a byte flipped anywhere in a signature breaks it for the independent verifier too
    const bad = structuredClone(man);
    const sig = Buffer.from(bad.signatures[1]!.sig, 'base64');
    sig[5] = sig[5]! ^ 1;
    bad.signatures[1]!.sig = sig.toString('base64');
    expect(independentVerify(bad, [set], now).valid).toBe(false);
    const v = runCli(['verify', join(out, 'rotation.1.json'), '--custodians', join(out, 'custodians.v1.json'), '--root-digest', digest(set), '--json'], process.env);
    expect(v.status).toBe(0);
    expect(JSON.parse(v.stdout)).toEqual({ valid: true, type: 'rotation', reasons: [], signers: ['alice', 'bob'], threshold: 2, custodianSet: 1, warnings: [] });
  });
});

describe('documents made by the independent implementation verify with `keyceremony verify`', () => {
  const [alice, bob, carol, dave] = ['alice', 'bob', 'carol', 'dave'].map(keyNamed) as [ReturnType<typeof keyNamed>, ReturnType<typeof keyNamed>, ReturnType<typeof keyNamed>, ReturnType<typeof keyNamed>];
  const set1 = envelope(TYPES.custodians, setPayload(1, 2, [['alice', alice], ['bob', bob], ['carol', carol]]), [alice, bob, carol]);
  const set2 = envelope(TYPES.custodians, setPayload(2, 3, [['alice', alice], ['bob', bob], ['carol', carol], ['dave', dave]]), [alice, carol, bob, dave]);
  const at = ['--at', '2026-12-01T00:00:00Z'];

  test('a 2-of-3 manifest: valid, exit 0, exactly the JSON object of CLI.md', () => {
    const s = write('set1.json', set1);
    const m = write('m1.json', envelope(TYPES.rotation, manifestPayload(), [bob, carol]));
    const r = runCli(['verify', m, '--custodians', s, '--root-digest', digest(set1), ...at, '--json'], process.env);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(Object.keys(out).sort()).toEqual(['custodianSet', 'reasons', 'signers', 'threshold', 'type', 'valid', 'warnings']);
    expect(out).toMatchObject({ valid: true, type: 'rotation', signers: ['bob', 'carol'], threshold: 2, custodianSet: 1, reasons: [] });
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
  });
  test('a set rotation to 3-of-4 (signed by both thresholds), then a manifest under set 2', () => {
    const s1 = write('chain1.json', set1);
    const s2 = write('chain2.json', set2);
    const r = runCli(['verify', s2, '--custodians', s1, ...at, '--json'], process.env);
    expect(JSON.parse(r.stdout)).toMatchObject({ valid: true, type: 'custodians', custodianSet: 2, threshold: 3 });
    const m = write('m2.json', envelope(TYPES.rotation, manifestPayload({ custodianSet: 2 }), [alice, dave, carol]));
    expect(runCli(['verify', m, '--custodians', s1, '--custodians', s2, ...at], process.env).status).toBe(0);
    const under1 = write('m2old.json', envelope(TYPES.rotation, manifestPayload({ custodianSet: 1 }), [alice, bob, carol]));
    const old = runCli(['verify', under1, '--custodians', s1, '--custodians', s2, ...at, '--json'], process.env);
    expect(old.status).toBe(1);
    expect(JSON.parse(old.stdout).reasons.join()).toContain('MANIFEST_SET_SUPERSEDED');
  });
  test('exit codes: invalid 1 (also for a truncated file), unreadable 2, bad options 2', () => {
    const s = write('set1b.json', set1);
    const one = write('one-sig.json', envelope(TYPES.rotation, manifestPayload(), [bob]));
    const r = runCli(['verify', one, '--custodians', s, ...at], process.env);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('THRESHOLD_NOT_MET');
    const full = JSON.stringify(envelope(TYPES.rotation, manifestPayload(), [bob, carol]));
    const trunc = write('trunc.json', full.slice(0, full.length - 20));
    const t = runCli(['verify', trunc, '--custodians', s, ...at, '--json'], process.env);
    expect(t.status).toBe(1);
    expect(JSON.parse(t.stdout)).toMatchObject({ valid: false });
    const missing = runCli(['verify', join(dir, 'nope.json'), '--custodians', s], process.env);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(ERROR_LINE);
    expect(missing.stderr).toContain('INPUT_UNREADABLE');
    expect(runCli(['verify', one, '--custodians', join(dir, 'nope-set.json')], process.env).status).toBe(2);
    expect(runCli(['verify', one, '--custodians', s, '--at', 'yesterday'], process.env).status).toBe(2);
    expect(runCli(['verify', one, '--custodians', s, '--root-digest', 'md5:00'], process.env).status).toBe(2);
    expect(runCli(['verify', one], process.env).status).toBe(1); // no chain: invalid, says so
  });
  test('--previous and --artifacts', () => {
    const s = write('set1c.json', set1);
    const artDir = join(dir, 'media');
    const file = Buffer.from('wrapped key bytes');
    mkdirSync(join(artDir, 'aws'), { recursive: true });
    writeFileSync(join(artDir, 'aws', 'master-v7.bin'), file);
    const art = [{ path: 'aws/master-v7.bin', sha256: createHash('sha256').update(file).digest('hex'), bytes: file.length }];
    const first = envelope(TYPES.rotation, manifestPayload({ artifacts: art }), [alice, bob]);
    const f1 = write('seq1.json', first);
    expect(runCli(['verify', f1, '--custodians', s, ...at, '--artifacts', artDir], process.env).status).toBe(0);
    writeFileSync(join(artDir, 'aws', 'master-v7.bin'), Buffer.from('wrapped key bytez'));
    const changed = runCli(['verify', f1, '--custodians', s, ...at, '--artifacts', artDir, '--json'], process.env);
    expect(changed.status).toBe(1);
    expect(JSON.parse(changed.stdout).reasons.join()).toContain('ARTIFACT_DIGEST_MISMATCH');
    const second = write('seq2.json', envelope(TYPES.rotation, manifestPayload({ sequence: 2, previous: digest(first) }), [alice, bob]));
    expect(runCli(['verify', second, '--custodians', s, ...at, '--previous', f1], process.env).status).toBe(0);
    const gap = write('seq3.json', envelope(TYPES.rotation, manifestPayload({ sequence: 3, previous: digest(first) }), [alice, bob]));
    expect(runCli(['verify', gap, '--custodians', s, ...at, '--previous', f1, '--json'], process.env).stdout).toContain('MANIFEST_SEQUENCE_GAP');
  });
});

describe('offline collection on custodian cards: sign, status, merge', () => {
  const cards = ['alice', 'bob', 'carol'].map((id, i) => ({ id, label: `card-${id}`, pin: `${i + 1}${i + 1}${i + 1}${i + 1}`, soPin: '12345678' }));
  let hsm: SoftHsm;
  let env: NodeJS.ProcessEnv;
  beforeAll(() => {
    hsm = createSoftHsm(cards, { setProcessEnv: false });
    env = { ...hsm.env, KEYCEREMONY_PKCS11_MODULE: hsm.module, ...Object.fromEntries(cards.map((c) => [`PIN_${c.id.toUpperCase()}`, c.pin])) };
  });
  afterAll(() => hsm.cleanup());
  const uri = (c: string) => `pkcs11:token=card-${c};object=${c}-sign-v1`;

  test('keys on three cards → a 2-of-3 set signed on the cards → a manifest signed by two, merged, verified', () => {
    for (const c of cards) expect(runCli(['keygen', 'custodian', uri(c.id), '--pin-env', `PIN_${c.id.toUpperCase()}`], env).status).toBe(0);
    const setFile = join(dir, 'cards-set.json');
    const made = runCli(['custodians', 'new', '--out', setFile, '--threshold', '2', ...cards.flatMap((c) => ['--member', `${c.id},${c.id} (card),${uri(c.id)}`])], env);
    expect(made.stderr).toBe('');
    expect(made.status).toBe(0);
    expect(made.stdout).toContain('still to sign: 2 of alice, bob, carol');
    let current = setFile;
    for (const c of cards) {
      const next = join(dir, `cards-set.${c.id}.json`);
      const r = runCli(['sign', current, '--key', uri(c.id), '--pin-env', `PIN_${c.id.toUpperCase()}`, '--out', next], env);
      expect([c.id, r.status, r.stderr]).toEqual([c.id, 0, expect.stringContaining('signing custodian set version 1')]);
      current = next;
    }
    const chain = current;
    expect(runCli(['verify', chain, '--custodians', chain], env).status).toBe(0);

    const man = join(dir, 'cards-rotation.json');
    expect(runCli(['manifest', 'new', '--out', man, '--custodians', chain, '--ceremony', 'cards-1', '--actor', 'carol', '--inventory', 'seed', '--key-version', '2', '--phase', 'prepare'], env).status).toBe(0);
    const st0 = runCli(['status', man, '--custodians', chain, '--json'], env);
    expect(JSON.parse(st0.stdout)).toMatchObject({ complete: false, approvals: [{ set: 1, threshold: 2, signed: [], needed: 2 }] });
    // two custodians sign separate copies on their own machines
    const a = join(dir, 'rot.alice.json');
    const c = join(dir, 'rot.carol.json');
    expect(runCli(['sign', man, '--key', uri('alice'), '--pin-env', 'PIN_ALICE', '--out', a, '--custodians', chain], env).status).toBe(0);
    expect(runCli(['sign', man, '--key', uri('carol'), '--pin-env', 'PIN_CAROL', '--out', c, '--custodians', chain], env).status).toBe(0);
    const st1 = runCli(['status', a, '--custodians', chain], env);
    expect(st1.stdout).toContain('1 of 2 needed; signed: alice; 1 more from: bob, carol');
    const merged = join(dir, 'rot.merged.json');
    expect(runCli(['merge', a, c, a, '--out', merged], env).status).toBe(0);
    expect(read(merged).signatures).toHaveLength(2);
    const v = runCli(['verify', merged, '--custodians', chain, '--json'], env);
    expect(JSON.parse(v.stdout)).toMatchObject({ valid: true, signers: ['alice', 'carol'] });
    expect(independentVerify(read(merged), [read(chain)], new Date().toISOString().replace(/\.\d+Z$/, 'Z')).valid).toBe(true);

    // refusals
    const again = runCli(['sign', a, '--key', uri('alice'), '--pin-env', 'PIN_ALICE', '--out', join(dir, 'twice.json')], env);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain('SIGNER_ALREADY_SIGNED');
    const exists = runCli(['sign', man, '--key', uri('bob'), '--pin-env', 'PIN_BOB', '--out', a], env);
    expect(exists.status).toBe(1);
    expect(exists.stderr).toContain('OUTPUT_EXISTS');
    const other = write('other-payload.json', envelope(TYPES.rotation, manifestPayload(), []));
    const mm = runCli(['merge', a, other, '--out', join(dir, 'mm.json')], env);
    expect(mm.status).toBe(1);
    expect(mm.stderr).toContain('MERGE_PAYLOAD_MISMATCH');
    const wrongPin = runCli(['sign', man, '--key', uri('bob'), '--pin-env', 'PIN_ALICE', '--out', join(dir, 'wp.json')], env);
    expect(wrongPin.status).toBe(1);
    expect(wrongPin.stderr).toContain('HSM_PIN_INCORRECT');
    expect(wrongPin.stderr).not.toContain(cards[0]!.pin);
    const garbage = write('garbage.json', '{"payloadType": "x"');
    expect(runCli(['sign', garbage, '--key', uri('bob'), '--pin-env', 'PIN_BOB', '--out', join(dir, 'g.json')], env).status).toBe(1);
  });

  test('a key that is not a custodian is refused before signing', () => {
    const setFile = join(dir, 'only-alice-bob.json');
    const seedFile = join(dir, 'dev.seed');
    writeFileSync(seedFile, `${'11'.repeat(32)}\n`);
    const [alice, bob] = [keyNamed('alice'), keyNamed('bob')];
    writeFileSync(setFile, JSON.stringify(envelope(TYPES.custodians, setPayload(1, 1, [['alice', alice], ['bob', bob]]), [alice])));
    const m = write('m-soft.json', envelope(TYPES.rotation, manifestPayload(), []));
    const r = runCli(['sign', m, '--software-key', seedFile, '--out', join(dir, 'm-soft.signed.json'), '--custodians', setFile], env);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('SIGNER_NOT_CUSTODIAN');
  });
});
