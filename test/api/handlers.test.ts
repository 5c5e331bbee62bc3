/** The handler table over real SoftHSM2 tokens: the custodian flow, and hostile requests on every channel. */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CHANNELS } from '../../src/api/contract.js';
import { createHandlers, invoke } from '../../src/api/handlers.js';
import type { Handlers } from '../../src/api/handlers.js';
import type { CliProcess } from '../../src/api/ceremony-handlers.js';
import { templateText } from '../../src/ceremony/templates.js';
import { independentVerify } from '../support/independent.js';
import type { RawEnvelope } from '../support/independent.js';
import { createSoftHsm } from '../support/softhsm.js';
import type { SoftHsm } from '../support/softhsm.js';
import { ok } from '../support/result.js';

const cards = ['alice', 'bob', 'carol'].map((id, i) => ({ id, label: `card-${id}`, pin: `98${i}7654`, soPin: '12345678' }));
const HSM = { id: 'hsm', label: 'Ceremony HSM', pin: '55556666', soPin: '12345678' };
let hsm: SoftHsm;
let h: Handlers;

beforeAll(() => {
  hsm = createSoftHsm([HSM, ...cards]);
  h = createHandlers({ env: { KEYCEREMONY_PKCS11_MODULE: hsm.module }, version: 'test' });
});
afterAll(() => hsm.cleanup());

describe('the custodian flow through the handler table', () => {
  test('keys on three cards → 2-of-3 set signed by all → manifest signed by two → verified; tampering rejected', async () => {
    const info = ok(await h['app.info']({}));
    expect(info).toMatchObject({ module: hsm.module, simulation: true, moduleError: null });
    const tokens = ok(await h['tokens.list']({})).tokens;
    expect(tokens.map((t) => t.label).sort()).toEqual(['Ceremony HSM', 'card-alice', 'card-bob', 'card-carol']);
    expect(tokens[0]!.capabilities).toEqual({ ed25519: true, aes256: true, aesKeyWrapPad: true, rsaOaep: true });

    const master = ok(await h['keys.generate']({ kind: 'master', token: { label: HSM.label }, label: 'master-v1', pin: HSM.pin }));
    expect(master.kcv).toMatch(/^ecb:[0-9a-f]{6}$/);
    const members = [];
    for (const c of cards) {
      const k = ok(await h['keys.generate']({ kind: 'custodian', token: { label: c.label }, label: `${c.id}-sign-v1`, pin: c.pin }));
      expect(k.fingerprint?.words).toHaveLength(12);
      const pub = ok(await h['keys.publicKey']({ token: { label: c.label }, label: `${c.id}-sign-v1` }));
      expect(pub.publicKey).toBe(k.publicKey);
      members.push({ id: c.id, name: `${c.id} example`, publicKey: pub.publicKey });
    }
    let set = ok(await h['custodians.create']({ threshold: 2, members })).document;
    for (const c of cards) set = ok(await h['documents.sign']({ document: set, token: { label: c.label }, keyLabel: `${c.id}-sign-v1`, pin: c.pin })).document;
    const setVerify = ok(await h['documents.verify']({ document: set, chain: [set] }));
    expect(setVerify).toMatchObject({ valid: true, type: 'custodians', signers: ['alice', 'bob', 'carol'] });

    const man = ok(await h['manifest.create']({ chain: [set], ceremony: 'app-1', actor: 'alice', keyVersion: 1, phase: 'prepare', kcvs: [{ id: 'master-v1', kcv: master.kcv! }] }));
    expect(man.summary).toContain('rotation manifest app-1 #1');
    const a = ok(await h['documents.sign']({ document: man.document, token: { label: 'card-alice' }, keyLabel: 'alice-sign-v1', pin: cards[0]!.pin, chain: [set] }));
    expect(a.signer).toBe('alice');
    const st = ok(await h['documents.status']({ document: a.document, chain: [set] }));
    expect(st).toMatchObject({ complete: false, approvals: [{ needed: 1, signed: ['alice'] }] });
    const c = ok(await h['documents.sign']({ document: man.document, token: { label: 'card-carol' }, keyLabel: 'carol-sign-v1', pin: cards[2]!.pin, chain: [set] }));
    const merged = ok(await h['documents.merge']({ documents: [a.document, c.document] }));
    expect(merged.signatures).toBe(2);
    const v = ok(await h['documents.verify']({ document: merged.document, chain: [set] }));
    expect(v).toMatchObject({ valid: true, signers: ['alice', 'carol'], threshold: 2 });
    expect(v.signatures.map((s) => [s.custodian, s.valid])).toEqual([['alice', true], ['carol', true]]);
    expect(independentVerify(JSON.parse(merged.document) as RawEnvelope, [JSON.parse(set) as RawEnvelope], new Date().toISOString().replace(/\.\d+Z$/, 'Z')).valid).toBe(true);

    const tampered = JSON.parse(merged.document) as RawEnvelope;
    tampered.payload = Buffer.from(Buffer.from(tampered.payload, 'base64').toString().replace('"prepare"', '"cutover"')).toString('base64');
    const tv = ok(await h['documents.verify']({ document: JSON.stringify(tampered), chain: [set] }));
    expect(tv.valid).toBe(false);
    expect(tv.reasons.join()).toContain('THRESHOLD_NOT_MET');
    expect(tv.signatures.map((s) => s.valid)).toEqual([false, false]);

    // refusals come back as typed errors, and never contain the PIN
    const wrong = await h['documents.sign']({ document: man.document, token: { label: 'card-bob' }, keyLabel: 'bob-sign-v1', pin: '0000', chain: [set] });
    expect(wrong).toMatchObject({ ok: false, error: { code: 'HSM_PIN_INCORRECT' } });
    const dup = await h['keys.generate']({ kind: 'master', token: { label: HSM.label }, label: 'master-v1', pin: HSM.pin });
    expect(dup).toMatchObject({ ok: false, error: { code: 'HSM_OBJECT_EXISTS' } });
    expect(JSON.stringify([wrong, dup])).not.toContain(HSM.pin);
    // rotate: drop carol, 2 of 2, signed by the old threshold (alice, bob of set 1) and the new
    const next = ok(await h['custodians.next']({ chain: [set], remove: ['carol'] }));
    expect(next).toMatchObject({ version: 2, members: ['alice', 'bob'], threshold: 2 });
    let v2 = next.document;
    for (const c of cards.slice(0, 2)) v2 = ok(await h['documents.sign']({ document: v2, token: { label: c.label }, keyLabel: `${c.id}-sign-v1`, pin: c.pin, chain: [set] })).document;
    expect(ok(await h['documents.verify']({ document: v2, chain: [set] }))).toMatchObject({ valid: true, custodianSet: 2 });
    // carol is in neither the newest set nor the new one: her card is refused before it signs
    expect(await h['documents.sign']({ document: v2, token: { label: 'card-carol' }, keyLabel: 'carol-sign-v1', pin: cards[2]!.pin, chain: [set, v2] }))
      .toMatchObject({ ok: false, error: { code: 'SIGNER_NOT_CUSTODIAN' } });
    expect(await h['custodians.next']({ chain: [set], remove: ['mallory'] })).toMatchObject({ ok: false, error: { code: 'CUSTODIANS_UNKNOWN_MEMBER' } });
    expect(await h['custodians.next']({ chain: [set], threshold: 5 })).toMatchObject({ ok: false, error: { code: 'CUSTODIANS_THRESHOLD_INVALID' } });
    const mm = await h['documents.merge']({ documents: [a.document, set] });
    expect(mm).toMatchObject({ ok: false, error: { code: 'MERGE_PAYLOAD_MISMATCH' } });
  });
});

describe('hostile requests: every channel answers a typed error and the table keeps working', () => {
  const junk: unknown[] = [undefined, null, 42, 'x', [], [1], { extra: 1 }, Object.create(null), { __proto__: { pin: '1' } },
    { kind: 'master', token: { label: 'x'.repeat(1000) }, label: 'a', pin: '1' }, { document: 'x'.repeat(3 * 1024 * 1024), chain: [] }, new Date(), { toString: () => 'x' }, { constructor: 1 }, { hasOwnProperty: 'x' }, { valueOf: null }];
  test.each(CHANNELS.filter((c) => !['app.info', 'airgap.status', 'tokens.list', 'media.list', 'export.targets'].includes(c)))('%s refuses malformed requests', async (channel) => {
    for (const j of junk) {
      const r = await h[channel](j);
      expect([channel, r.ok]).toEqual([channel, false]);
      if (!r.ok) expect(['IPC_BAD_REQUEST']).toContain(r.error.code);
    }
  });
  test('no-argument channels refuse anything but {}', async () => {
    for (const c of ['app.info', 'airgap.status', 'tokens.list'] as const) {
      expect((await h[c]({ x: 1 })).ok).toBe(false);
      expect((await h[c](null)).ok).toBe(false);
      expect((await h[c]({})).ok).toBe(true);
    }
  });
  test('hostile documents inside well-formed requests are typed errors too', async () => {
    for (const document of ['{"payloadType":', '{"payloadType":"x","payload":"","signatures":[]}', '[]', '{"a":1,"a":1}']) {
      const r = await h['documents.status']({ document, chain: [document] });
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.code).toMatch(/^(DOCUMENT|CHAIN)_/);
      const v = await h['documents.verify']({ document, chain: [] });
      expect(v).toMatchObject({ ok: true, value: { valid: false } });
    }
  });
  test('unknown channels are refused by name', async () => {
    for (const c of ['nope', '__proto__', 'constructor', 42, null]) {
      expect(await invoke(h, c, {})).toMatchObject({ ok: false, error: { code: 'IPC_UNKNOWN_CHANNEL' } });
    }
    expect(await invoke(h, 'airgap.status', {})).toMatchObject({ ok: true });
  });
  test('the air-gap banner reads the same interfaces as the ceremony guard, not the machine behind its back', async () => {
    const up = createHandlers({ env: {}, version: 'test', interfaces: () => [{ name: 'eth9', addresses: ['10.0.0.9'] }] });
    expect(await invoke(up, 'airgap.status', {})).toEqual({ ok: true, value: { online: true, interfaces: [{ name: 'eth9', addresses: ['10.0.0.9'] }] } });
    const down = createHandlers({ env: {}, version: 'test', interfaces: () => [] });
    expect(await invoke(down, 'airgap.status', {})).toEqual({ ok: true, value: { online: false, interfaces: [] } });
  });
});

/** A handler table whose folder dialog answers with `dir` (made here first), and the handle the renderer would hold for it. */
async function ceremonyFolder(h: Handlers, dir: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  chosen = dir;
  const r = ok(await h['folders.choose']({ purpose: 'ceremony' }));
  if (r.folder === null) throw new Error('the dialog was cancelled');
  return r.folder.handle;
}
let chosen: string | null = null;
const chooseFolder = async (): Promise<string | null> => chosen;

describe('rehearsals from the app (the command line in a process of its own)', () => {
  const work = mkdtempSync(join(tmpdir(), 'kc-api-rehearse-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  const script = templateText('quarterly-master-dual-publish')!;
  test('refused before any process starts: a folder named by its path, the network up, no record to keep the pass in', async () => {
    const up = createHandlers({ env: {}, version: 'test', rehearsals: join(work, 'r.jsonl'), interfaces: () => [{ name: 'eth0', addresses: ['10.0.0.2'] }], chooseFolder });
    // the renderer cannot name a folder: only the handle of one chosen in the dialog (test/api/folders.test.ts)
    expect(await up['ceremony.rehearse']({ script, ceremonyFolder: join(work, 'c'), allowNetwork: true })).toMatchObject({ ok: false, error: { code: 'IPC_BAD_REQUEST' } });
    const c = await ceremonyFolder(up, join(work, 'c'));
    expect(await up['ceremony.rehearse']({ script, ceremonyFolder: c })).toMatchObject({ ok: false, error: { code: 'CEREMONY_NETWORK_UP' } });
    const noRecord = createHandlers({ env: {}, version: 'test', interfaces: () => [], chooseFolder });
    expect(await noRecord['ceremony.rehearse']({ script, ceremonyFolder: await ceremonyFolder(noRecord, join(work, 'c')) })).toMatchObject({ ok: false, error: { code: 'REHEARSAL_UNAVAILABLE' } });
    expect(await up['ceremony.rehearse']({ script: '{"spec":"x"}', ceremonyFolder: c, allowNetwork: true })).toMatchObject({ ok: false, error: { code: expect.stringMatching(/^DOCUMENT_/) } });
    expect(existsSync(join(work, 'r.jsonl'))).toBe(false);
  });
  test('a rehearsal that fails (the set of the earlier ceremony is not in the folder) reports the command line\'s error and records no pass', async () => {
    const rh = createHandlers({ env: {}, version: 'test', rehearsals: join(work, 'r.jsonl'), interfaces: () => [], chooseFolder });
    const { runId, dir } = ok(await rh['ceremony.rehearse']({ script, ceremonyFolder: await ceremonyFolder(rh, join(work, 'c')), allowNetwork: true }));
    expect(dir.startsWith(`${realpathSync(join(work, 'c'))}.rehearsal-`)).toBe(true);
    let s = ok(await rh['ceremony.status']({ runId }));
    for (let i = 0; i < 200 && s.state === 'running'; i++) { await new Promise((r) => setTimeout(r, 100)); s = ok(await rh['ceremony.status']({ runId })); }
    expect(s.state).toBe('failed');
    expect(s.error).toMatchObject({ code: 'CEREMONY_INPUTS_INVALID', message: expect.stringContaining(join(realpathSync(work), 'c', 'custodians.v1.json')) });
    // and the manifest it follows, as the script names it (the templates number one deployment's chain)
    const previous = (JSON.parse(script) as { steps: { previous?: unknown }[] }).steps.map((x) => x.previous).find((p): p is string => typeof p === 'string');
    expect(s.error?.message).toContain(join(realpathSync(work), 'c', previous!));
    expect(existsSync(join(work, 'r.jsonl'))).toBe(false);
    expect(await rh['transcript.read']({ runId })).toMatchObject({ ok: false, error: { code: 'CEREMONY_NOT_DONE' } });
  }, 60_000);
});

describe("the room's window (room.open, issue 15): asked of the desktop shell for a run of this table only", () => {
  const work = mkdtempSync(join(tmpdir(), 'kc-api-room-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  /** A rehearsal whose command line never ends: a run of the table, running, with no process started. */
  const never = (): CliProcess => ({ stdout: null, stderr: null, once: () => undefined, kill: () => undefined });
  const RUN = 'a'.repeat(32);

  test('where no shell provides the window (the command line, the browser tests): APP_ROOM_WINDOW_UNAVAILABLE, for a run known or not', async () => {
    const bare = createHandlers({ env: {}, version: 'test', rehearsals: join(work, 'r.jsonl'), interfaces: () => [], chooseFolder, spawnCli: never });
    expect(await bare['room.open']({ runId: RUN })).toMatchObject({ ok: false, error: { code: 'APP_ROOM_WINDOW_UNAVAILABLE', fix: expect.stringContaining('presentation mode') } });
    const { runId } = ok(await bare['ceremony.rehearse']({ script: templateText('quarterly-master-dual-publish')!, ceremonyFolder: await ceremonyFolder(bare, join(work, 'bare')) }));
    expect(await bare['room.open']({ runId })).toMatchObject({ ok: false, error: { code: 'APP_ROOM_WINDOW_UNAVAILABLE' } });
  });

  test('a malformed, oversized or unknown run id is refused at the boundary, and the shell is never asked', async () => {
    const asked: string[] = [];
    const rh = createHandlers({ env: {}, version: 'test', interfaces: () => [], openRoomWindow: async (id) => { asked.push(id); return 'opened'; } });
    const bad: unknown[] = [{}, { runId: 'A'.repeat(32) }, { runId: 'a'.repeat(31) }, { runId: 'a'.repeat(33) }, { runId: 'g'.repeat(32) }, { runId: `${'a'.repeat(31)}\n` },
      { runId: `../${'a'.repeat(29)}` }, { runId: `${'a'.repeat(16)}#room=${'b'.repeat(10)}` }, { runId: 'a'.repeat(1024 * 1024) }, { runId: 42 }, { runId: null }, { runId: ['a'.repeat(32)] },
      { runId: RUN, extra: 1 }, { runId: RUN, __proto__: { x: 1 } }, 'a'.repeat(32), null];
    for (const request of bad) {
      const r = await rh['room.open'](request);
      expect([JSON.stringify(request)?.slice(0, 80), r.ok ? 'answered' : r.error.code]).toEqual([JSON.stringify(request)?.slice(0, 80), 'IPC_BAD_REQUEST']);
    }
    expect(await rh['room.open']({ runId: RUN })).toMatchObject({ ok: false, error: { code: 'CEREMONY_RUN_UNKNOWN' } });
    expect(asked).toEqual([]);
  });

  test("a run of the table: the shell is asked with its id, and its answer passed on", async () => {
    const asked: string[] = [];
    const rh = createHandlers({ env: {}, version: 'test', rehearsals: join(work, 'r.jsonl'), interfaces: () => [], chooseFolder, spawnCli: never,
      openRoomWindow: async (id) => { asked.push(id); return asked.length === 1 ? 'opened' : 'focused'; } });
    const { runId } = ok(await rh['ceremony.rehearse']({ script: templateText('quarterly-master-dual-publish')!, ceremonyFolder: await ceremonyFolder(rh, join(work, 'run')) }));
    expect(ok(await rh['room.open']({ runId }))).toEqual({ window: 'opened' });
    expect(ok(await rh['room.open']({ runId }))).toEqual({ window: 'focused' });
    expect(asked).toEqual([runId, runId]);
    // a shell that fails to open one: a typed error, not a throw
    const failing = createHandlers({ env: {}, version: 'test', rehearsals: join(work, 'r.jsonl'), interfaces: () => [], chooseFolder, spawnCli: never,
      openRoomWindow: async () => { throw new Error('no display'); } });
    const other = ok(await failing['ceremony.rehearse']({ script: templateText('quarterly-master-dual-publish')!, ceremonyFolder: await ceremonyFolder(failing, join(work, 'other')) }));
    expect(await failing['room.open']({ runId: other.runId })).toMatchObject({ ok: false, error: { code: 'INTERNAL_ERROR' } });
  });
});

describe('one run at a time in a folder', () => {
  test('a second start on a folder whose run is waiting for its witness is refused; once that run stops, the folder can be started again', async () => {
    const work = mkdtempSync(join(tmpdir(), 'kc-api-claim-'));
    try {
      const rh = createHandlers({ env: { KEYCEREMONY_PKCS11_MODULE: hsm.module }, version: 'test', interfaces: () => [], chooseFolder });
      // a first ceremony of this file's own (the templates follow the seed's procedures and change with them)
      const trio = cards.map((c) => c.id);
      const script = JSON.stringify({ spec: 'keyceremony/ceremony-script@1', id: 'api-claim', title: 'One run at a time',
        participants: [{ id: 'admin', name: 'Administrator', role: 'administrator' }, { id: 'wendy', name: 'Witness', role: 'witness' }, ...cards.map((c) => ({ id: c.id, name: c.id, role: 'custodian' }))],
        tokens: [{ name: 'hsm', label: HSM.label, serial: null, holder: null }, ...cards.map((c) => ({ name: `card-${c.id}`, label: c.label, serial: null, holder: c.id }))],
        steps: [{ id: 'custodian-keys', action: 'custodian-keys', actor: 'admin', witness: 'wendy', custodians: trio },
          { id: 'custodian-set', action: 'custodian-set', actor: 'alice', threshold: 2, members: trio, signers: trio, out: 'custodians.v1.json' }] });
      const dir = await ceremonyFolder(rh, join(work, 'c'));
      const { runId } = ok(await rh['ceremony.start']({ script, ceremonyFolder: dir, noRehearsal: true }));
      let s = ok(await rh['ceremony.status']({ runId }));
      const next = async () => { for (let i = 0; i < 100 && s.state !== 'waiting'; i++) { await new Promise((r) => setTimeout(r, 50)); s = ok(await rh['ceremony.status']({ runId })); } };
      // the journal's token is handed over first, then the clock waits for its witness
      await next();
      expect(s.pinRequest?.token).toBe('hsm');
      ok(await rh['ceremony.pin']({ runId, token: 'hsm', pin: HSM.pin }));
      s = ok(await rh['ceremony.status']({ runId }));
      for (let i = 0; i < 100 && s.question === null; i++) { await new Promise((r) => setTimeout(r, 50)); s = ok(await rh['ceremony.status']({ runId })); }
      expect(s.question?.what).toContain('the ceremony clock reads');
      // the same folder, chosen again in the dialog: a new handle, the same folder, still refused
      const again = await ceremonyFolder(rh, join(work, 'c'));
      expect(again).not.toBe(dir);
      for (const handle of [dir, again]) {
        expect(await rh['ceremony.start']({ script, ceremonyFolder: handle, noRehearsal: true })).toMatchObject({ ok: false, error: { code: 'CEREMONY_ALREADY_RUNNING' } });
      }
      ok(await rh['ceremony.answer']({ runId, confirmed: false }));
      for (let i = 0; i < 100 && s.state !== 'failed'; i++) { await new Promise((r) => setTimeout(r, 50)); s = ok(await rh['ceremony.status']({ runId })); }
      expect(s.error?.code).toBe('CEREMONY_CLOCK_REFUSED');
      const restarted = ok(await rh['ceremony.start']({ script, ceremonyFolder: dir, noRehearsal: true }));
      expect(restarted.runId).not.toBe(runId);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }, 30_000);
});

describe('the request schemas (src/api/schema.ts), the one source of the contract\'s request types', () => {
  test('restate the core\'s patterns exactly: schema.ts needs no Node, so it cannot import them', async () => {
    const { CORE_PATTERNS } = await import('../../src/api/schema.js');
    const { CUSTODIAN_ID } = await import('../../src/custodians/set.js');
    const { CEREMONY_ID, PHASES } = await import('../../src/manifest/manifest.js');
    const { MAX_ENVELOPE_BYTES } = await import('../../src/dsse/envelope.js');
    expect([CORE_PATTERNS.custodianId.source, CORE_PATTERNS.custodianId.flags]).toEqual([CUSTODIAN_ID.source, CUSTODIAN_ID.flags]);
    expect([CORE_PATTERNS.ceremonyId.source, CORE_PATTERNS.ceremonyId.flags]).toEqual([CEREMONY_ID.source, CEREMONY_ID.flags]);
    expect(CORE_PATTERNS.phases).toEqual(PHASES);
    expect(CORE_PATTERNS.maxEnvelopeBytes).toBe(MAX_ENVELOPE_BYTES);
  });
  test('schema.ts and contract.ts import nothing that needs Node, and contract.ts only types', () => {
    const src = (f: string) => readFileSync(new URL(`../../src/api/${f}`, import.meta.url), 'utf8');
    const imports = (text: string) => [...text.matchAll(/^import\s+(type\s+)?.*?from\s+'([^']+)';$/gm)].map((m) => ({ type: m[1] !== undefined, from: m[2] as string }));
    expect(imports(src('contract.ts')).every((i) => i.type)).toBe(true);
    // and not the contract: the contract derives its request types from the schemas, never the other way round
    expect(imports(src('schema.ts')).map((i) => i.from).sort()).toEqual(['../docs/problems.js', '../docs/problems.js']);
  });
});
