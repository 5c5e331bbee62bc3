/**
 * The ceremony preflight (src/usecases/preflight.ts): the air gap and the rehearsal record, with
 * the interfaces and the record given as inputs (no network needed), and the app's start and
 * rehearse channels refusing with the same codes.
 */
import { appendFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { createHandlers } from '../../src/api/handlers.js';
import { parseScript } from '../../src/ceremony/script.js';
import { templateText } from '../../src/ceremony/templates.js';
import { ceremonyPreflight, checkAirGap, checkRehearsed } from '../../src/usecases/preflight.js';
import { expectCode } from '../support/expect-code.js';

const work = mkdtempSync(join(tmpdir(), 'kc-usecases-preflight-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const UP = [{ name: 'eth0', addresses: ['10.0.0.2'] }, { name: 'wlan0', addresses: ['192.168.1.9'] }];
const DIGEST = `sha256:${'ab'.repeat(32)}`;
const record = join(work, 'rehearsals.jsonl');

describe('the air gap', () => {
  test('no interface up: nothing to note, for a rehearsal or a real run', () => {
    expect(checkAirGap([], { rehearsal: false, allowNetwork: false })).toBeNull();
    expect(checkAirGap([], { rehearsal: true, allowNetwork: true })).toBeNull();
  });
  test('an interface up stops a real run, even when told to allow the network', () => {
    for (const allowNetwork of [false, true]) {
      const e = expectCode(() => checkAirGap(UP, { rehearsal: false, allowNetwork }), 'CEREMONY_NETWORK_UP');
      expect(e.exit).toBe(1);
      expect(e.message).toContain('eth0, wlan0');
    }
  });
  test('a rehearsal stops too unless it allows the network, and then the override is noted for the log', () => {
    expectCode(() => checkAirGap(UP, { rehearsal: true, allowNetwork: false }), 'CEREMONY_NETWORK_UP');
    expect(checkAirGap(UP, { rehearsal: true, allowNetwork: true })).toMatchObject({ action: 'airgap.override', details: { interfaces: 'eth0, wlan0' } });
  });
});

describe('the rehearsal record', () => {
  test('no record, or none for this script: CEREMONY_NOT_REHEARSED, unless the run goes without one (noted)', () => {
    expectCode(() => checkRehearsed(undefined, DIGEST, { runWithout: false }), 'CEREMONY_NOT_REHEARSED');
    expectCode(() => checkRehearsed(record, DIGEST, { runWithout: false }), 'CEREMONY_NOT_REHEARSED');
    appendFileSync(record, `${JSON.stringify({ digest: `sha256:${'cd'.repeat(32)}`, result: 'pass' })}\nnot json\n${JSON.stringify({ digest: DIGEST, result: 'fail' })}\n`);
    expect(expectCode(() => checkRehearsed(record, DIGEST, { runWithout: false }), 'CEREMONY_NOT_REHEARSED').message).toContain(record);
    expect(checkRehearsed(record, DIGEST, { runWithout: true })).toMatchObject({ action: 'rehearsal.skipped', details: { script: DIGEST } });
  });
  test('a passed rehearsal of this very script: nothing to note', () => {
    const passed = join(work, 'passed.jsonl');
    appendFileSync(passed, `${JSON.stringify({ digest: DIGEST, result: 'pass' })}\n`);
    expect(checkRehearsed(passed, DIGEST, { runWithout: false })).toBeNull();
  });
});

describe('both, in order', () => {
  const base = { digest: DIGEST, record: undefined, allowNetwork: false, runWithoutRehearsal: false };
  test('the air gap is checked before the rehearsal record', () => {
    expectCode(() => ceremonyPreflight({ ...base, rehearsal: false, interfaces: UP }), 'CEREMONY_NETWORK_UP');
    expectCode(() => ceremonyPreflight({ ...base, rehearsal: false, interfaces: [] }), 'CEREMONY_NOT_REHEARSED');
  });
  test('the notes a run logs before its first step', () => {
    expect(ceremonyPreflight({ ...base, rehearsal: false, interfaces: [], runWithoutRehearsal: true }).map((n) => n.action)).toEqual(['rehearsal.skipped']);
    expect(ceremonyPreflight({ ...base, rehearsal: true, interfaces: UP, allowNetwork: true }).map((n) => n.action)).toEqual(['airgap.override', 'rehearsal.start']);
    expect(ceremonyPreflight({ ...base, rehearsal: true, interfaces: [] }).map((n) => n.action)).toEqual(['rehearsal.start']);
  });
});

describe('the app refuses with the same codes', () => {
  const script = templateText('quarterly-master-dual-publish')!;
  // the app names its ceremony folder by a handle from its folder dialog (src/api/folders.ts); here the dialog answers with a folder made for it
  const chooseFolder = async (): Promise<string> => { const d = join(work, 'chosen'); mkdirSync(d, { recursive: true }); return d; };
  const folderOf = async (h: ReturnType<typeof createHandlers>): Promise<string> => {
    const r = await h['folders.choose']({ purpose: 'ceremony' });
    if (!r.ok || r.value.folder === null) throw new Error('no folder chosen');
    return r.value.folder.handle;
  };
  test('start: the network up, then no passed rehearsal of this script', async () => {
    const up = createHandlers({ env: {}, version: 'test', rehearsals: record, interfaces: () => UP, chooseFolder });
    expect(await up['ceremony.start']({ script, ceremonyFolder: await folderOf(up), noRehearsal: true })).toMatchObject({ ok: false, error: { code: 'CEREMONY_NETWORK_UP' } });
    const down = createHandlers({ env: {}, version: 'test', rehearsals: record, interfaces: () => [], chooseFolder });
    expect(await down['ceremony.start']({ script, ceremonyFolder: await folderOf(down) })).toMatchObject({ ok: false, error: { code: 'CEREMONY_NOT_REHEARSED' } });
    // the record names this script once it passed: the preflight lets it through (the script's tokens, not present here, are what stops it now)
    appendFileSync(record, `${JSON.stringify({ digest: parseScript(new TextEncoder().encode(script)).digest, result: 'pass' })}\n`);
    const passed = await down['ceremony.start']({ script, ceremonyFolder: await folderOf(down) });
    expect(passed.ok ? 'started' : passed.error.code).not.toMatch(/^CEREMONY_(NETWORK_UP|NOT_REHEARSED)$/);
  });
  test('rehearse: the network up unless allowed', async () => {
    const up = createHandlers({ env: {}, version: 'test', rehearsals: record, interfaces: () => UP, spawnCli: () => { throw new Error('no process may start'); }, chooseFolder });
    expect(await up['ceremony.rehearse']({ script, ceremonyFolder: await folderOf(up) })).toMatchObject({ ok: false, error: { code: 'CEREMONY_NETWORK_UP' } });
  });
});
