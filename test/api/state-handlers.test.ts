/**
 * Issue 17 item 5: `state.timeline`, keys over time from a chain read from media. Two real chains:
 * a story of ten manifests signed with the independent implementation (test/support/independent.ts)
 * over two custodian sets, in which every state occurs (pending, accepted, current, retired,
 * revoked, compromised, and entries scheduled after the time asked), and the chain `keyceremony
 * demo` leaves. Each time line is compared with one written out by hand below from the story and
 * from the demo's script (prepare, an hour later the dual-publish, a day after that the cutover,
 * each signed by alice and bob), never with what the code under test computes. Then what is
 * refused: malformed, oversized and hostile requests, folders that are not the chain's, and chains
 * that do not verify, each by its code.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Result } from '../../src/api/contract.js';
import { createHandlers } from '../../src/api/handlers.js';
import type { Handlers } from '../../src/api/handlers.js';
import { parseTime } from '../../src/docs/fields.js';
import { runCli } from '../support/cli.js';
import { bySet2, STORY, writeChain } from '../support/key-story.js';
import { chain, day, digest, entry, SET1 } from '../state/support.js';
import type { RawEnvelope, Step } from '../state/support.js';

const HANDLE = /^[0-9a-f]{32}$/;

let work: string;
let drive: string;
let demo: string;
const env: NodeJS.ProcessEnv = {};
/** What the folder dialog answers next. */
const dialog = { next: null as string | null };
let now = parseTime(day(15)) as number;

function table(): Handlers {
  return createHandlers({ env, version: 'test', now: () => now, interfaces: () => [], spawnCli: () => { throw new Error('no rehearsal here'); },
    chooseFolder: async () => dialog.next });
}
let h: Handlers;

function ok<T>(r: Result<T>): T {
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  return r.value;
}
const codeOf = (r: Result<unknown>): string => (r.ok ? 'ok' : r.error.code);

async function chosen(dir: string, purpose: 'chain' | 'ceremony' | 'stand-in-drive' = 'chain'): Promise<string> {
  dialog.next = dir;
  const r = ok(await h['folders.choose']({ purpose }));
  expect(r.folder?.handle).toMatch(HANDLE);
  return r.folder!.handle;
}
async function driveHandle(): Promise<string> {
  const media = ok(await h['media.list']({})).media;
  expect(media.map((m) => m.mountPoint)).toEqual([drive]);
  return media[0]!.handle;
}

// ---- the story (../support/key-story.ts): ten manifests, two custodian sets, every state --------

/** The story's time line at day 15, by hand. Days: day(d) is 2026-11-01 + d. Change points: days 1 to 9, and 20. */
const CHANGES = ['2026-11-02T00:00:00Z', '2026-11-03T00:00:00Z', '2026-11-04T00:00:00Z', '2026-11-05T00:00:00Z', '2026-11-06T00:00:00Z', '2026-11-07T00:00:00Z',
  '2026-11-08T00:00:00Z', '2026-11-09T00:00:00Z', '2026-11-10T00:00:00Z', '2026-11-21T00:00:00Z'];
const mv = (sequence: number, index: number, phase: string, notBefore: string, as: 'id' | 'supersedes' = 'id') => ({ sequence, index, phase, notBefore, as });
const seg = (state: string, from: number, to: number, scheduled: boolean, moves: object[]) => ({ state, from, to, since: CHANGES[from], until: CHANGES[to] ?? null, scheduled, moves });
const STORY_NAMES = [
  { name: 'MASTER_KEY',
    now: { current: null, accept: ['master-v2'], pending: [], retired: [], revoked: [], compromised: ['master-v1'], scheduled: ['master-v2'] },
    versions: [
      { id: 'master-v1', segments: [
        seg('pending', 0, 1, false, [mv(1, 1, 'prepare', '2026-11-02T00:00:00Z')]),
        seg('accepted', 1, 2, false, [mv(2, 1, 'dual-publish', '2026-11-03T00:00:00Z')]),
        seg('current', 2, 7, false, [mv(3, 1, 'cutover', '2026-11-04T00:00:00Z')]),
        // the prepare of master-v2 in the same manifest names master-v1 as the version it replaces, but does not move it
        seg('compromised', 7, 10, false, [mv(8, 0, 'compromise', '2026-11-09T00:00:00Z')]),
      ] },
      { id: 'master-v2', segments: [
        seg('pending', 7, 8, false, [mv(8, 1, 'prepare', '2026-11-09T00:00:00Z')]),
        seg('accepted', 8, 9, false, [mv(9, 0, 'dual-publish', '2026-11-10T00:00:00Z')]),
        seg('current', 9, 10, true, [mv(10, 0, 'cutover', '2026-11-21T00:00:00Z')]),
      ] },
    ] },
  { name: 'WEBHOOK_SIGNING_SECRET',
    now: { current: 'webhook-v2', accept: ['webhook-v2'], pending: [], retired: [], revoked: ['webhook-v1'], compromised: [], scheduled: ['webhook-v3'] },
    versions: [
      { id: 'webhook-v1', segments: [
        seg('pending', 0, 1, false, [mv(1, 0, 'prepare', '2026-11-02T00:00:00Z')]),
        seg('accepted', 1, 2, false, [mv(2, 0, 'dual-publish', '2026-11-03T00:00:00Z')]),
        seg('current', 2, 5, false, [mv(3, 0, 'cutover', '2026-11-04T00:00:00Z')]),
        seg('retired', 5, 6, false, [mv(6, 0, 'cutover', '2026-11-07T00:00:00Z', 'supersedes')]),
        seg('revoked', 6, 10, false, [mv(7, 0, 'revoke', '2026-11-08T00:00:00Z', 'supersedes')]),
      ] },
      { id: 'webhook-v2', segments: [
        seg('pending', 3, 4, false, [mv(4, 0, 'prepare', '2026-11-05T00:00:00Z')]),
        seg('accepted', 4, 5, false, [mv(5, 0, 'dual-publish', '2026-11-06T00:00:00Z')]),
        seg('current', 5, 10, false, [mv(6, 0, 'cutover', '2026-11-07T00:00:00Z')]),
      ] },
      { id: 'webhook-v3', segments: [seg('pending', 9, 10, true, [mv(10, 1, 'prepare', '2026-11-21T00:00:00Z')])] },
    ] },
];

let story: RawEnvelope[];
let storyDir: string;
const writeStory = (dir: string, manifests: readonly RawEnvelope[] = story): void => writeChain(dir, manifests);

beforeAll(() => {
  work = realpathSync(mkdtempSync(join(tmpdir(), 'kc-api-state-')));
  drive = join(work, 'usb');
  mkdirSync(drive);
  Object.assign(env, { KEYCEREMONY_PKCS11_MODULE: '/nonexistent/libpkcs11.so', KEYCEREMONY_REMOVABLE_ROOTS: drive });
  h = table();
  story = chain(STORY);
  storyDir = join(drive, 'story');
  writeStory(storyDir);
  // what else a ceremony drive holds beside its chain: none of it is the chain, and none of it breaks it
  writeFileSync(join(storyDir, 'ceremony.json'), '{"spec":"keyceremony/script@1"}');
  writeFileSync(join(storyDir, 'notes.txt'), 'not json');
  writeFileSync(join(storyDir, 'drill.json'), JSON.stringify({ payloadType: 'application/vnd.keyceremony.drill+json', payload: Buffer.from('{}').toString('base64'), signatures: [] }));
  // a custody record in a subfolder is no part of the chain (here: a manifest that would fork it)
  mkdirSync(join(storyDir, 'custody'));
  writeFileSync(join(storyDir, 'custody', 'rotation.json'), JSON.stringify(chain([{ keys: [entry('prepare', 'backup-v1')] }])[0]));
  writeFileSync(join(storyDir, '.mk.json.0123456789ab.tmp'), 'partial');
  symlinkSync('/etc/passwd', join(storyDir, 'evil.json'));
  // the demo's chain, as `keyceremony demo` leaves it
  demo = join(work, 'demo');
  const r = runCli(['demo', '--dir', demo], process.env);
  expect(r.status).toBe(0);
}, 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the story: every state, read from a drive', () => {
  test('at day 15, exactly the time line written out by hand', async () => {
    const t = ok(await h['state.timeline']({ source: await driveHandle(), folder: 'story', rootDigest: digest(SET1) }));
    expect(t.folder).toBe(storyDir);
    expect(t.at).toBe('2026-11-16T00:00:00Z');
    expect(t.sequence).toBe(10);
    expect(t.tip).toBe(digest(story[9]!));
    expect(t.rootPinned).toBe(true);
    expect(t.warnings).toEqual([]);
    expect(t.changes).toEqual(CHANGES);
    expect(t.names).toEqual(STORY_NAMES);
  });

  test('each manifest with who signed it, counted against the set it names, and the file that holds it', async () => {
    const t = ok(await h['state.timeline']({ source: await driveHandle(), folder: 'story' }));
    const files = ['mj.json', 'mi.json', 'mh.json', 'mg.json', 'mf.json', 'me.json', 'md.json', 'mc.json', 'mb.json', 'ma.json'];
    expect(t.manifests.map((m) => [m.sequence, m.custodianSet, m.threshold, m.signers, m.actor, m.file])).toEqual([
      [1, 1, 2, ['alice', 'bob'], 'alice', files[0]], [2, 1, 2, ['alice', 'bob'], 'alice', files[1]], [3, 1, 2, ['alice', 'bob'], 'alice', files[2]],
      [4, 1, 2, ['alice', 'bob'], 'alice', files[3]], [5, 1, 2, ['alice', 'bob'], 'alice', files[4]], [6, 1, 2, ['alice', 'bob'], 'alice', files[5]],
      [7, 1, 2, ['alice', 'bob'], 'alice', files[6]], [8, 2, 2, ['bob', 'dave'], 'dave', files[7]], [9, 2, 2, ['bob', 'dave'], 'dave', files[8]],
      [10, 2, 2, ['bob', 'dave'], 'dave', files[9]],
    ]);
    expect(t.manifests.map((m) => m.digest)).toEqual(story.map(digest));
    expect(t.manifests[9]).toMatchObject({ ceremony: 'rotation-10', issued: '2026-11-11T00:00:00Z', expires: '2027-01-10T00:00:00Z' });
    // the root is not pinned: said, as keyceremony state says it
    expect(t.rootPinned).toBe(false);
    expect(t.warnings.map((w) => w.split(':')[0])).toEqual(['CHAIN_ROOT_NOT_PINNED']);
  });

  test('every .json file of the folder is accounted for; subfolders, hidden names and links are not read', async () => {
    const t = ok(await h['state.timeline']({ source: await driveHandle(), folder: 'story' }));
    expect(t.files).toEqual([
      { name: 'a-set.json', use: 'custodian-set', why: null },
      { name: 'ceremony.json', use: 'skipped', why: 'not a signed document' },
      { name: 'drill.json', use: 'skipped', why: 'a drill document, no part of a key chain' },
      { name: 'evil.json', use: 'skipped', why: 'a symbolic link, never followed' },
      ...['ma', 'mb', 'mc', 'md', 'me', 'mf', 'mg', 'mh', 'mi', 'mj'].map((n) => ({ name: `${n}.json`, use: 'manifest', why: null })),
      { name: 'z-root.json', use: 'custodian-set', why: null },
    ]);
  });

  test('later, the scheduled entries are in effect and nothing is scheduled', async () => {
    now = parseTime('2026-11-25T00:00:00Z') as number;
    try {
      const t = ok(await h['state.timeline']({ source: await driveHandle(), folder: 'story' }));
      expect(t.changes).toEqual(CHANGES);
      expect(t.names.flatMap((n) => n.versions.flatMap((v) => v.segments.filter((s) => s.scheduled)))).toEqual([]);
      expect(t.names.map((n) => n.now)).toEqual([
        { current: 'master-v2', accept: ['master-v2'], pending: [], retired: [], revoked: [], compromised: ['master-v1'], scheduled: [] },
        { current: 'webhook-v2', accept: ['webhook-v2'], pending: ['webhook-v3'], retired: [], revoked: ['webhook-v1'], compromised: [], scheduled: [] },
      ]);
    } finally {
      now = parseTime(day(15)) as number;
    }
  });

  test('the same chain from a folder chosen in the dialog to read a chain from', async () => {
    const t = ok(await h['state.timeline']({ source: await chosen(storyDir) }));
    expect(t.names).toEqual(STORY_NAMES);
  });
});

describe('the demo\'s chain', () => {
  const payload = (f: string): { keys: { notBefore: string }[] } => JSON.parse(Buffer.from((JSON.parse(readFileSync(join(demo, f), 'utf8')) as { payload: string }).payload, 'base64').toString('utf8')) as never;
  /** The demo's seven names and their first versions, from its script (the new-deployment template). */
  const NAMES: [string, string][] = [['CELERY_BROKER_TOKEN', 'celery-broker-v1'], ['JWT_REFRESH_SALT', 'jwt-refresh-salt-v1'], ['JWT_SIGNING_SECRET', 'jwt-v1'], ['MASTER_KEY', 'master-v1'],
    ['REDIS_AUTH_TOKEN', 'redis-auth-v1'], ['SECRET_KEY', 'secret-key-v1'], ['WEBHOOK_SIGNING_SECRET', 'webhook-v1']];
  const at = (t: string, hours: number): string => new Date(Date.parse(t) + hours * 3600_000).toISOString().replace('.000Z', 'Z');

  test('just after the demo: each version pending, then accepted an hour later, then current a day after that, both scheduled', async () => {
    const prepared = payload('rotation.1.json').keys[0]!.notBefore;
    now = Date.parse(prepared) + 60_000;
    try {
      const t = ok(await h['state.timeline']({ source: await chosen(demo) }));
      const changes = [prepared, at(prepared, 1), at(prepared, 25)];
      expect(t.changes).toEqual(changes);
      expect(t.sequence).toBe(3);
      expect(t.names.map((n) => n.name)).toEqual(NAMES.map(([n]) => n));
      for (const [i, [, id]] of NAMES.entries()) {
        expect(t.names[i]!.now).toEqual({ current: null, accept: [], pending: [id], retired: [], revoked: [], compromised: [], scheduled: [id] });
        expect(t.names[i]!.versions.map((v) => v.id)).toEqual([id]);
        expect(t.names[i]!.versions[0]!.segments.map((s) => [s.state, s.since, s.until, s.scheduled, s.moves.map((m) => [m.sequence, m.phase])])).toEqual([
          ['pending', changes[0], changes[1], false, [[1, 'prepare']]],
          ['accepted', changes[1], changes[2], true, [[2, 'dual-publish']]],
          ['current', changes[2], null, true, [[3, 'cutover']]],
        ]);
      }
      expect(t.manifests.map((m) => [m.sequence, m.file, m.signers, m.custodianSet])).toEqual([
        [1, 'rotation.1.json', ['alice', 'bob'], 1], [2, 'rotation.2.json', ['alice', 'bob'], 1], [3, 'rotation.3.json', ['alice', 'bob'], 1]]);
      // the demo's folder holds more than its chain: its script, the drill report, the checkpoint; its custody record is in custody/
      expect(t.files.filter((f) => f.use !== 'skipped').map((f) => f.name)).toEqual(['custodians.v1.json', 'rotation.1.json', 'rotation.2.json', 'rotation.3.json']);
      expect(t.files.find((f) => f.name === 'drill.json')).toEqual({ name: 'drill.json', use: 'skipped', why: 'a drill document, no part of a key chain' });
    } finally {
      now = parseTime(day(15)) as number;
    }
  });

  test('after the cutover: every version current, nothing scheduled', async () => {
    now = Date.parse(payload('rotation.3.json').keys[0]!.notBefore) + 1000;
    try {
      const t = ok(await h['state.timeline']({ source: await chosen(demo) }));
      for (const [i, [, id]] of NAMES.entries()) {
        expect(t.names[i]!.now).toEqual({ current: id, accept: [id], pending: [], retired: [], revoked: [], compromised: [], scheduled: [] });
        expect(t.names[i]!.versions[0]!.segments.map((s) => [s.state, s.scheduled])).toEqual([['pending', false], ['accepted', false], ['current', false]]);
      }
    } finally {
      now = parseTime(day(15)) as number;
    }
  });
});

describe('chains that do not verify are refused, with the reasons', () => {
  const refused = async (dir: string, more: Record<string, unknown> = {}): Promise<string> => {
    const r = await h['state.timeline']({ source: await chosen(dir), ...more });
    expect(codeOf(r)).toBe('STATE_CHAIN_INVALID');
    return r.ok ? '' : r.error.message;
  };
  test('a gap, a tampered signature, a wrong pinned root, a set missing, an expired newest set', async () => {
    const gap = join(work, 'gap');
    writeStory(gap, story.filter((_, i) => i !== 4));
    expect(await refused(gap)).toContain('STATE_SEQUENCE_GAP');
    const tampered = join(work, 'tampered');
    const bad = story.map((m, i) => (i === 2 ? { ...m, signatures: m.signatures.map((s) => ({ ...s, sig: Buffer.from(randomBytes(64)).toString('base64') })) } : m));
    writeStory(tampered, bad);
    expect(await refused(tampered)).toContain('THRESHOLD_NOT_MET');
    expect(await refused(storyDir, { rootDigest: `sha256:${'0'.repeat(64)}` })).toContain('CHAIN_ROOT_DIGEST_MISMATCH');
    const noSet2 = join(work, 'no-set-2');
    writeStory(noSet2);
    rmSync(join(noSet2, 'a-set.json'));
    expect(await refused(noSet2)).toContain('MANIFEST_SET_UNKNOWN');
    now = parseTime('2036-02-01T00:00:00Z') as number;
    try {
      expect(await refused(storyDir)).toContain('CHAIN_EXPIRED');
    } finally {
      now = parseTime(day(15)) as number;
    }
  });
  test('an impossible step in the history, even one scheduled after the time asked', async () => {
    const dir = join(work, 'impossible');
    // a second cutover of webhook-v3, never dual-published, on day 20
    writeStory(dir, chain([...STORY.slice(0, 9), { ...bySet2, keys: [entry('cutover', 'webhook-v3', { supersedes: 'webhook-v2', notBefore: day(20) })] }]));
    expect(await refused(dir)).toContain('STATE_CUTOVER_NOT_ACCEPTED');
  });
  test('a folder with no chain in it', async () => {
    const empty = join(work, 'empty');
    mkdirSync(empty);
    writeFileSync(join(empty, 'ceremony.json'), '{}');
    expect(codeOf(await h['state.timeline']({ source: await chosen(empty) }))).toBe('STATE_NO_CHAIN_FILES');
  });
});

describe('what the boundary refuses', () => {
  test('malformed requests: a path for a folder, a bad folder name, a bad digest, members unknown or missing', async () => {
    const source = await driveHandle();
    const bad: unknown[] = [
      undefined, null, {}, [], 'x', { source: drive }, { source: '/etc' }, { source: source.toUpperCase() }, { source: `${source}0` }, { source: 42 },
      { source, folder: '..' }, { source, folder: 'a/b' }, { source, folder: '' }, { source, folder: '.hidden' }, { source, folder: 'x'.repeat(65) }, { source, folder: 'a\u0000' },
      { source, rootDigest: 'sha256:' }, { source, rootDigest: `sha256:${'A'.repeat(64)}` }, { source, rootDigest: `sha256:${'0'.repeat(64)} ` }, { source, rootDigest: `sha512:${'0'.repeat(64)}` },
      { source, at: '2026-11-01T00:00:00Z' }, { source, path: '/etc' }, { source, folder: ['story'] },
      // oversized and hostile
      { source: 'f'.repeat(1024 * 1024) }, { source, rootDigest: 'x'.repeat(3 * 1024 * 1024) }, JSON.parse(`{"source":"${source}","__proto__":{"folder":"story"}}`) as unknown,
      Object.assign(Object.create({ folder: 'story' }) as object, { source }), Object.create(null) as unknown, { source, constructor: 1 }, { source: { toString: () => source } },
    ];
    for (const request of bad) {
      const r = await h['state.timeline'](request);
      expect([JSON.stringify(request)?.slice(0, 80), codeOf(r)]).toEqual([JSON.stringify(request)?.slice(0, 80), 'IPC_BAD_REQUEST']);
    }
  });

  test('a handle never given out, or given out for another use, names no folder', async () => {
    expect(codeOf(await h['state.timeline']({ source: randomBytes(16).toString('hex') }))).toBe('IPC_FOLDER_UNKNOWN');
    // a ceremony folder, or a rehearsal's stand-in drive, is not where a chain is read
    expect(codeOf(await h['state.timeline']({ source: await chosen(storyDir, 'ceremony') }))).toBe('IPC_FOLDER_UNKNOWN');
    expect(codeOf(await h['state.timeline']({ source: await chosen(storyDir, 'stand-in-drive') }))).toBe('IPC_FOLDER_UNKNOWN');
    // and a folder chosen to read a chain from is never written to: not as a drive for an export, a custody record or a drill
    const readOnly = await chosen(storyDir);
    expect(codeOf(await h['export.run']({ token: { label: 'x' }, keyLabel: 'master-x', target: 'gcp-rsa-oaep-3072-sha256-aes-256', wrappingKey: 'x'.repeat(16), drive: readOnly, folder: 'out', pin: '1', allowFixedDisk: true })))
      .toBe('IPC_FOLDER_UNKNOWN');
    expect(codeOf(await h['drill.begin']({ manifest: '{}', chain: ['{}'], drive: readOnly, folder: 'out', allowFixedDisk: true }))).toBe('IPC_FOLDER_UNKNOWN');
    // a handle of another handler table (another session) means nothing here
    expect(codeOf(await table()['state.timeline']({ source: readOnly }))).toBe('IPC_FOLDER_UNKNOWN');
  });

  test('a folder on the drive that is missing, a file, or a link leading off the drive', async () => {
    const source = await driveHandle();
    expect(codeOf(await h['state.timeline']({ source, folder: 'nothing-here' }))).toBe('IPC_FOLDER_MISSING');
    writeFileSync(join(drive, 'a-file'), '{}');
    expect(codeOf(await h['state.timeline']({ source, folder: 'a-file' }))).toBe('IPC_FOLDER_MISSING');
    symlinkSync(storyDir, join(drive, 'link'));
    expect(codeOf(await h['state.timeline']({ source, folder: 'link' }))).toBe('IPC_FOLDER_INVALID');
  });

  test('oversized folders and files: too many names, too many manifests, a document too large to be one', async () => {
    const many = join(work, 'many-names');
    mkdirSync(many);
    for (let i = 0; i < 4097; i++) writeFileSync(join(many, `n${i}`), '');
    expect(codeOf(await h['state.timeline']({ source: await chosen(many) }))).toBe('STATE_FOLDER_TOO_LARGE');
    const manifests = join(work, 'many-manifests');
    mkdirSync(manifests);
    writeFileSync(join(manifests, 'root.json'), JSON.stringify(SET1));
    const copy = JSON.stringify(story[0]);
    for (let i = 0; i < 257; i++) writeFileSync(join(manifests, `m${i}.json`), copy);
    expect(codeOf(await h['state.timeline']({ source: await chosen(manifests) }))).toBe('STATE_FOLDER_TOO_LARGE');
    const big = join(work, 'big');
    writeStory(big);
    writeFileSync(join(big, 'huge.json'), Buffer.alloc(3 * 1024 * 1024, 0x20));
    const t = ok(await h['state.timeline']({ source: await chosen(big) }));
    expect(t.files.find((f) => f.name === 'huge.json')).toEqual({ name: 'huge.json', use: 'skipped', why: 'larger than a signed document can be' });
    expect(t.names).toEqual(STORY_NAMES);
  });

  test('a chain that takes effect at more different times than a time line shows', async () => {
    const dir = join(work, 'long');
    const minute = (i: number) => new Date(Date.parse(day(1)) + i * 60_000).toISOString().replace('.000Z', 'Z');
    // 3 manifests of 200 keys, each key in effect a minute after the one before: 600 change points
    const steps: Step[] = [0, 1, 2].map((m) => ({ day: 1, keys: Array.from({ length: 200 }, (_, i) => entry('prepare', `k${m}-v${i + 1}`, { name: `K${m}_${i}`, supersedes: null, notBefore: minute(m * 200 + i) })) }));
    writeStory(dir, chain(steps));
    expect(codeOf(await h['state.timeline']({ source: await chosen(dir) }))).toBe('STATE_TIMELINE_TOO_LONG');
  });
});
