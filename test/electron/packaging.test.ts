/**
 * Packaging cannot run here (no Electron binary, no network), so this checks what can be: the
 * `build` config of package.json against electron-builder's own schema, the security choices in
 * it, and the output of `npm run build` (what the packaged app would contain).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { afterAll, describe, expect, test } from 'vitest';

const require = createRequire(import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { build: Record<string, unknown>; main: string; dependencies: Record<string, string>; allowScripts: Record<string, boolean> };
const { validateConfiguration } = require('app-builder-lib/out/util/config/config') as { validateConfiguration: (c: unknown, l: unknown) => Promise<void> };
const { DebugLogger } = require('builder-util') as { DebugLogger: new (enabled: boolean) => unknown };

describe('electron-builder configuration', () => {
  test('is valid for electron-builder 26, and the validator does refuse a broken config', async () => {
    await expect(validateConfiguration(pkg.build, new DebugLogger(false))).resolves.toBeUndefined();
    // negative controls (it coerces scalars, so use an unknown option and a wrong fuse type)
    await expect(validateConfiguration({ ...pkg.build, notAnOption: true }, new DebugLogger(false))).rejects.toThrow(/Invalid configuration/);
    await expect(validateConfiguration({ ...pkg.build, electronFuses: { runAsNode: 'no' } }, new DebugLogger(false))).rejects.toThrow(/Invalid configuration/);
  });
  test('asar with native modules unpacked, an allowlist of files, output in release/, no publishing', () => {
    expect(pkg.build).toMatchObject({ asar: true, asarUnpack: ['**/*.node'], directories: { output: 'release', buildResources: 'build' }, publish: null });
    expect(pkg.build.files).toEqual(expect.arrayContaining(['dist/electron/**', 'dist/renderer/**', 'package.json']));
    expect(pkg.main).toBe('dist/electron/main.cjs');
    expect(Object.keys(pkg.dependencies)).not.toContain('react'); // bundled by Vite, not shipped twice
  });
  test('Electron fuses are flipped after packing: no RunAsNode, no NODE_OPTIONS, asar integrity on', () => {
    expect(pkg.build.electronFuses).toEqual({ runAsNode: false, enableCookieEncryption: true, enableNodeOptionsEnvironmentVariable: false, enableNodeCliInspectArguments: false,
      enableEmbeddedAsarIntegrityValidation: true, onlyLoadAppFromAsar: true, loadBrowserProcessSpecificV8Snapshot: false, grantFileProtocolExtraPrivileges: false });
  });
  test('installers for Linux (AppImage, deb), macOS (dmg, hardened runtime) and Windows (nsis)', () => {
    expect(pkg.build).toMatchObject({ linux: { target: ['AppImage', 'deb'] }, mac: { target: ['dmg'], hardenedRuntime: true }, win: { target: ['nsis'] } });
    expect(readFileSync(new URL('../../build/entitlements.mac.plist', import.meta.url), 'utf8')).toContain('com.apple.security.cs.allow-jit');
  });
});

describe('npm run build', () => {
  // the build of `npm run build`, into a folder of this file's inside the repository (the bundles find
  // pkcs11js in node_modules from where they lie), so no other test's build rewrites a file read here
  mkdirSync('test-results', { recursive: true });
  const out = join(mkdtempSync(join(process.cwd(), 'test-results', 'packaging-')), 'dist');
  afterAll(() => rmSync(join(out, '..'), { recursive: true, force: true }));
  test('builds the renderer, main and a single-file preload that requires only electron', () => {
    execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'pipe', env: { ...process.env, KEYCEREMONY_BUILD_OUT: out } });
    const main = readFileSync(join(out, 'electron/main.cjs'), 'utf8');
    const preload = readFileSync(join(out, 'electron/preload.cjs'), 'utf8');
    expect(main).not.toContain('import.meta');
    expect([...main.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]).filter((m) => !m!.startsWith('node:'))).toEqual(expect.arrayContaining(['electron']));
    expect([...new Set([...preload.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]))]).toEqual(['electron']);
    expect(preload).not.toContain('ipcRenderer.send(');
    // windows load app:// only: the transcript PDF from app://print/ (a data: URL stops at 2 MiB, file: is cancelled; test/electron/pdf.test.ts),
    // the room's window (opened, or moved to another run) roomUrl's app://keyceremony/index.html#room=<run id> (room.ts)
    expect([...main.matchAll(/\.loadURL\(([^)]*)\)/g)].map((m) => m[1])).toEqual(['page', 'url', 'url', 'APP_START_URL']);
    expect(main).toContain('const url = roomUrl(runId);');
    expect(main).not.toContain('data:text/html');
    const html = readFileSync(join(out, 'renderer/index.html'), 'utf8');
    expect(html).toContain("connect-src 'none'");
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline script
    expect(html).not.toMatch(/https?:\/\//); // nothing remote
    expect(readdirSync(join(out, 'renderer/assets')).some((f) => f.endsWith('.js'))).toBe(true);
  }, 120_000);
  test('the bundled command line (what the app forks for a rehearsal) loads pkcs11js and rehearses a script on throw-away tokens', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kc-cli-bundle-'));
    try {
      // keys-in-use: a first ceremony, with no inputs to place beside it
      execFileSync(process.execPath, [join(out, 'electron/cli.cjs'), 'ceremony', 'template', 'keys-in-use', '--out', join(dir, 'keys-in-use.json')]);
      const said = execFileSync(process.execPath, [join(out, 'electron/cli.cjs'), '--', 'ceremony', 'run', join(dir, 'keys-in-use.json'), '--rehearse', '--yes', '--allow-network', '--dir', join(dir, 'r')], { encoding: 'utf8' });
      expect(said).toContain('Rehearsal complete: 5 steps');
      expect(readFileSync(join(dir, 'rehearsals.jsonl'), 'utf8')).toContain('"result":"pass"');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('per-OS packaging (issue 19)', () => {
  test('the deb keeps Electron\'s own default dependencies (setting depends replaces them) and adds a PKCS#11 module', () => {
    const fpm = readFileSync(require.resolve('app-builder-lib/out/targets/FpmTarget.js'), 'utf8');
    const defaults = JSON.parse(/return (\["libgtk-3-0"[^\]]*\])/.exec(fpm)![1]!) as string[];
    expect(defaults).toContain('libnss3');
    const depends = (pkg.build.deb as { depends: string[] }).depends;
    expect(depends).toEqual(expect.arrayContaining([...defaults, 'softhsm2 | opensc']));
  });
  test('the app user model id is the appId; macOS test builds are ad-hoc signed, with library validation off for ad-hoc plus hardened runtime', async () => {
    const { APP_ID } = await import('../../electron/main/app-id.js');
    expect(APP_ID).toBe(pkg.build.appId);
    expect(pkg.build.mac).toMatchObject({ identity: '-', notarize: false, hardenedRuntime: true });
    expect(readFileSync(new URL('../../build/entitlements.mac.plist', import.meta.url), 'utf8')).toContain('com.apple.security.cs.disable-library-validation');
  });
});
