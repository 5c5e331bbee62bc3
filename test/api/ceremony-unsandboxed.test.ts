/**
 * Issue 19, the handler table's side: the desktop shell detects whether it runs inside the Chromium
 * sandbox (electron/main/sandbox.ts) and hands the table a reading of it. app.info reports it (the
 * screen's red banner reads it), following the detection as it changes; and a rehearsal started
 * from an app without the sandbox records it in the rehearsal's own audit log, before its first
 * step, through the real command line in a process of its own on throw-away SoftHSM2 tokens.
 */
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createHandlers } from '../../src/api/handlers.js';
import type { Handlers } from '../../src/api/handlers.js';
import { createSoftHsm } from '../support/softhsm.js';
import type { SoftHsm } from '../support/softhsm.js';
import { ok } from '../support/result.js';

let hsm: SoftHsm;
let work: string;

beforeAll(() => {
  hsm = createSoftHsm([{ label: 'Sandbox HSM', pin: '13572468', soPin: '12345678' }]);
  work = realpathSync(mkdtempSync(join(tmpdir(), 'kc-api-unsandboxed-')));
});
afterAll(() => { hsm.cleanup(); rmSync(work, { recursive: true, force: true }); });

describe('app.info says whether the app runs inside the Chromium sandbox', () => {
  test('null where no desktop shell runs the table; otherwise the shell\'s reading, as it changes (a window process found unsandboxed after the start)', async () => {
    const bare = createHandlers({ env: { KEYCEREMONY_PKCS11_MODULE: hsm.module }, version: 'test' });
    expect(ok(await bare['app.info']({}))).toMatchObject({ sandbox: null, moduleError: null });
    let reading: { sandboxed: boolean; reasons: string[] } = { sandboxed: true, reasons: [] };
    const shell = createHandlers({ env: { KEYCEREMONY_PKCS11_MODULE: hsm.module }, version: 'test', sandbox: () => reading });
    expect(ok(await shell['app.info']({})).sandbox).toEqual({ sandboxed: true, reasons: [] });
    reading = { sandboxed: false, reasons: ['started with --no-sandbox', "the window's process 7 has no seccomp filter (Seccomp: 0)"] };
    expect(ok(await shell['app.info']({})).sandbox).toEqual(reading);
    // said even where the PKCS#11 library cannot be opened: the banner does not depend on the tokens
    const noModule = createHandlers({ env: { KEYCEREMONY_PKCS11_MODULE: join(work, 'no-such-library.so') }, version: 'test', sandbox: () => reading });
    expect(ok(await noModule['app.info']({}))).toMatchObject({ module: null, moduleError: { code: expect.any(String) }, sandbox: reading });
  });
});

describe('a rehearsal started from an app without the Chromium sandbox', () => {
  // a first ceremony of this file's own: three custodians' keys on throw-away cards, their 2-of-3 set
  const trio = ['alice', 'bob', 'carol'];
  const script = JSON.stringify({ spec: 'keyceremony/ceremony-script@1', id: 'unsandboxed-rehearsal', title: 'Rehearsed from an unsandboxed app',
    participants: [{ id: 'admin', name: 'Administrator', role: 'administrator' }, { id: 'wendy', name: 'Witness', role: 'witness' }, ...trio.map((id) => ({ id, name: id, role: 'custodian' }))],
    tokens: [{ name: 'hsm', label: 'Ceremony HSM', serial: null, holder: null }, ...trio.map((id) => ({ name: `card-${id}`, label: `card-${id}`, serial: null, holder: id }))],
    steps: [{ id: 'custodian-keys', action: 'custodian-keys', actor: 'admin', witness: 'wendy', custodians: trio },
      { id: 'custodian-set', action: 'custodian-set', actor: 'alice', threshold: 2, members: trio, signers: trio, out: 'custodians.v1.json' }] });

  async function rehearse(h: Handlers, name: string): Promise<{ dir: string; lines: readonly string[] }> {
    const dir = join(work, name);
    mkdirSync(dir);
    chosen = dir;
    const folder = ok(await h['folders.choose']({ purpose: 'ceremony' })).folder!.handle;
    // the rehearsal's own process looks at this machine's interfaces: allowed, and logged
    const r = ok(await h['ceremony.rehearse']({ script, ceremonyFolder: folder, allowNetwork: true }));
    let s = ok(await h['ceremony.status']({ runId: r.runId }));
    for (let i = 0; i < 600 && s.state === 'running'; i++) { await new Promise((res) => setTimeout(res, 100)); s = ok(await h['ceremony.status']({ runId: r.runId })); }
    expect([s.state, s.error]).toEqual(['done', null]);
    return { dir: r.dir, lines: s.lines };
  }
  let chosen: string | null = null;
  const table = (sandbox: { sandboxed: boolean; reasons: string[] }) => createHandlers({ env: { KEYCEREMONY_PKCS11_MODULE: hsm.module }, version: 'test', interfaces: () => [],
    rehearsals: join(work, 'rehearsals.jsonl'), chooseFolder: async () => chosen, sandbox: () => sandbox });
  const entries = (dir: string) => readFileSync(join(dir, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { action: string; details: Record<string, unknown> });

  test('records app.unsandboxed with the reasons in its audit log, before its first step, and still passes; sandboxed, it records nothing of the kind', async () => {
    const reasons = ['started with --no-sandbox', 'ELECTRON_DISABLE_SANDBOX is set'];
    const off = await rehearse(table({ sandboxed: false, reasons }), 'off');
    expect(off.lines.join('\n')).toContain(`The app runs without the Chromium sandbox (${reasons.join('; ')})`);
    const log = entries(off.dir);
    const note = log.findIndex((e) => e.action === 'app.unsandboxed');
    expect(note).toBeGreaterThan(0);
    expect(log[note]!.details).toMatchObject({ reasons: reasons.join('; '), effect: expect.stringContaining('live ceremonies refused') });
    expect(note).toBeLessThan(log.findIndex((e) => e.action === 'step.begin'));

    const on = await rehearse(table({ sandboxed: true, reasons: [] }), 'on');
    expect(entries(on.dir).map((e) => e.action)).not.toContain('app.unsandboxed');
    expect(on.lines.join('\n')).not.toContain('without the Chromium sandbox');
  }, 180_000);
});
