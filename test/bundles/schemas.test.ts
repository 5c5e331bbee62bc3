/**
 * schemas/: JSON Schema (2020-12) of the DSSE envelope, the three payloads of FORMATS.md §3–§5 and
 * the --json outputs of verify, state and audit verify, checked with ajv against what the real
 * command writes and prints: the demo's documents (signed on SoftHSM2 tokens), manifests with a
 * `binding`, and the outputs of valid and invalid runs. Documents are closed: a member the format
 * does not list is refused by the schema as by the verifier.
 */
import { createHmac } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCli } from '../support/cli.js';
import { digest, envelope, keyNamed, manifestPayload, setPayload, TYPES } from '../support/independent.js';
import type { RawEnvelope } from '../support/independent.js';
import { auditLogText, K, members, setDoc } from '../hostile/support.js';

const SCHEMAS = new URL('../../schemas/', import.meta.url);
// ajv's strict mode, less its rule that `required` in an `if` name a property defined beside it (the manifest's binding rules test a member defined one level up)
const ajv = new Ajv2020({ strict: true, strictRequired: false, allowUnionTypes: true, allErrors: true });
const schema = (name: string): ValidateFunction => ajv.compile(JSON.parse(readFileSync(new URL(`${name}.schema.json`, SCHEMAS), 'utf8')) as object);
const S = {
  envelope: schema('dsse-envelope'),
  custodians: schema('custodian-set'),
  rotation: schema('rotation-manifest'),
  drill: schema('drill-report'),
  verify: schema('verify-output'),
  state: schema('state-output'),
  audit: schema('audit-verify-output'),
};
const PAYLOAD_SCHEMA: Record<string, ValidateFunction> = { [TYPES.custodians]: S.custodians, [TYPES.rotation]: S.rotation, [TYPES.drill]: S.drill };

/** The value, or a failure that names the schema's complaints. */
function valid(v: ValidateFunction, value: unknown): void {
  const ok = v(value);
  expect(ok ? [] : v.errors?.map((e) => `${e.instancePath} ${e.message ?? ''}`)).toEqual([]);
}
const payloadOf = (e: RawEnvelope): Record<string, unknown> => JSON.parse(Buffer.from(e.payload, 'base64').toString('utf8')) as Record<string, unknown>;
const readEnv = (p: string): RawEnvelope => JSON.parse(readFileSync(p, 'utf8')) as RawEnvelope;

let dir: string;
let demo: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kc-schemas-'));
  demo = join(dir, 'demo');
  const r = runCli(['demo', '--dir', demo, '--json'], { ...process.env });
  expect(r.status).toBe(0);
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const put = (name: string, doc: RawEnvelope | string): string => {
  const p = join(dir, name);
  writeFileSync(p, typeof doc === 'string' ? doc : JSON.stringify(doc));
  return p;
};
const json = (args: string[]): unknown => {
  const r = runCli([...args, '--json'], process.env);
  expect([0, 1]).toContain(r.status);
  return JSON.parse(r.stdout) as unknown;
};

/** The `binding` of FORMATS.md §4, computed here from the spec text. */
const binding = (secret: Buffer, id: string): string => `hmac-sha256:${createHmac('sha256', secret).update(Buffer.concat([Buffer.from('keyceremony/binding@1'), Buffer.of(0), Buffer.from(id)])).digest('hex')}`;
const SECRET = Buffer.alloc(32, 7);
const boundKey = (over: Record<string, unknown> = {}): Record<string, unknown> => {
  const b = binding(SECRET, 'webhook-v4');
  return { name: 'WEBHOOK_SIGNING_SECRET', id: 'webhook-v4', supersedes: 'webhook-v3', algorithm: 'HMAC-SHA256', phase: 'prepare', kcv: b.slice(12, 18), notBefore: '2026-11-28T10:00:00Z', binding: b, ...over };
};

describe('the demo\'s documents', () => {
  test('every signed file the demo wrote is a DSSE envelope, and each payload matches its format\'s schema', () => {
    const files = ['custodians.v1.json', 'rotation.1.json', 'drill.json', 'audit.checkpoint.json', join('custody', 'rotation.json')];
    expect(files.every((f) => readdirSync(join(demo, f, '..')).includes(f.split('/').at(-1) as string))).toBe(true);
    const seen = new Set<string>();
    for (const f of files) {
      const e = readEnv(join(demo, f));
      valid(S.envelope, e);
      const v = PAYLOAD_SCHEMA[e.payloadType];
      if (v === undefined) continue; // the audit checkpoint: an envelope, its payload not one of FORMATS.md's three
      valid(v, payloadOf(e));
      seen.add(e.payloadType);
      if (f.startsWith('custody')) expect((payloadOf(e).artifacts as unknown[]).length).toBeGreaterThan(0); // receipts and blobs: the artifacts' schema is exercised
    }
    expect([...seen].sort()).toEqual([TYPES.custodians, TYPES.drill, TYPES.rotation].sort());
  });

  test('verify --json of each, valid and not: the verify-output schema', () => {
    const set = join(demo, 'custodians.v1.json');
    for (const f of ['custodians.v1.json', 'rotation.1.json', 'drill.json']) valid(S.verify, json(['verify', join(demo, f), '--custodians', set]));
    const bad = readEnv(join(demo, 'rotation.1.json'));
    bad.signatures = bad.signatures.slice(0, 1);
    const out = json(['verify', put('one-signature.json', bad), '--custodians', set]) as { valid: boolean };
    expect(out.valid).toBe(false);
    valid(S.verify, out);
    valid(S.verify, json(['verify', put('not-json.json', '{"payloadType": '), '--custodians', set]));
  });

  test('state --json, valid and not: the state-output schema', () => {
    const set = join(demo, 'custodians.v1.json');
    const ok = json(['state', '--custodians', set, '--manifests', join(demo, 'rotation.1.json')]) as { valid: boolean; keys: object };
    expect(ok.valid).toBe(true);
    expect(Object.keys(ok.keys).length).toBeGreaterThan(0);
    valid(S.state, ok);
    const no = json(['state', '--custodians', set, '--manifests', join(demo, 'drill.json')]) as { valid: boolean };
    expect(no.valid).toBe(false);
    valid(S.state, no);
  });

  test('audit verify --json: with and without the chain, a checkpoint file, a broken log', () => {
    const log = join(demo, 'audit.jsonl');
    const set = join(demo, 'custodians.v1.json');
    valid(S.audit, json(['audit', 'verify', log, '--custodians', set]));
    valid(S.audit, json(['audit', 'verify', log, '--checkpoint', join(demo, 'audit.checkpoint.json')]));
    const lines = readFileSync(log, 'utf8').split('\n');
    lines[3] = (lines[3] as string).replace('"seq":4', '"seq":5');
    const broken = json(['audit', 'verify', put('broken.jsonl', lines.join('\n')), '--custodians', set]) as { valid: boolean };
    expect(broken.valid).toBe(false);
    valid(S.audit, broken);
    const unsigned = json(['audit', 'verify', put('unsigned.jsonl', auditLogText(4, { checkpoint: false })), '--custodians', put('hs.json', setDoc(1, 2, members('alice', 'bob', 'carol'), [K.alice, K.bob]))]);
    valid(S.audit, unsigned);
  });
});

describe('manifests with a binding (FORMATS.md §4)', () => {
  const [alice, bob] = [keyNamed('alice'), keyNamed('bob')];
  const set = envelope(TYPES.custodians, setPayload(1, 2, [['alice', alice], ['bob', bob]]), [alice, bob]);
  const at = ['--at', '2026-12-01T00:00:00Z'];

  test('a bound HMAC entry, as the verifier accepts it, matches the schema; and the verify and state outputs', () => {
    const payload = manifestPayload({ keys: [boundKey(), boundKey({ name: 'REDIS_URL', id: 'redis-auth-v1', supersedes: null, algorithm: 'TOKEN', kcv: null, binding: binding(SECRET, 'redis-auth-v1') })] });
    valid(S.rotation, payload);
    const s = put('bset.json', set);
    const m = put('bound.json', envelope(TYPES.rotation, payload, [alice, bob]));
    const v = json(['verify', m, '--custodians', s, '--root-digest', digest(set), ...at]) as { valid: boolean };
    expect(v).toMatchObject({ valid: true });
    valid(S.verify, v);
    const st = json(['state', '--custodians', s, '--manifests', m, ...at]);
    expect(st).toMatchObject({ valid: true, keys: { WEBHOOK_SIGNING_SECRET: { pending: ['webhook-v4'] } } });
    valid(S.state, st);
  });

  test.each([
    ['a binding on an AES key', { algorithm: 'AES-256-GCM', kcv: '1a2b3c' }],
    ['"binding": null', { binding: null }],
    ['a binding in upper case', { binding: binding(SECRET, 'webhook-v4').toUpperCase() }],
  ])('%s: refused by the schema and by the verifier', (_what, over) => {
    const payload = manifestPayload({ keys: [boundKey(over)] });
    expect(S.rotation(payload)).toBe(false);
    const v = json(['verify', put(`bad-binding-${_what.length}.json`, envelope(TYPES.rotation, payload, [alice, bob])), '--custodians', put('bset2.json', set), ...at]) as { valid: boolean };
    expect(v.valid).toBe(false);
  });

  test('an HMAC entry without a binding has no kcv: the schema says so as the verifier does', () => {
    const payload = manifestPayload({ keys: [boundKey({ binding: undefined, kcv: '1a2b3c' })] });
    delete (payload.keys as Record<string, unknown>[])[0]!.binding;
    expect(S.rotation(payload)).toBe(false);
    const v = json(['verify', put('hmac-kcv.json', envelope(TYPES.rotation, payload, [alice, bob])), '--custodians', put('bset3.json', set), ...at]) as { valid: boolean };
    expect(v.valid).toBe(false);
  });
});

describe('documents are closed: an unknown member is refused by the schema and by the verifier', () => {
  const [alice, bob] = [keyNamed('alice'), keyNamed('bob')];
  const set = envelope(TYPES.custodians, setPayload(1, 2, [['alice', alice], ['bob', bob]]), [alice, bob]);
  const at = ['--at', '2026-12-01T00:00:00Z'];
  const verifies = (doc: RawEnvelope | string, name: string): boolean => (json(['verify', put(name, doc), '--custodians', put('cset.json', set), ...at]) as { valid: boolean }).valid;

  test('the unaltered documents pass both', () => {
    const m = envelope(TYPES.rotation, manifestPayload(), [alice, bob]);
    valid(S.envelope, m);
    valid(S.rotation, payloadOf(m));
    valid(S.custodians, payloadOf(set));
    expect(verifies(m, 'plain.json')).toBe(true);
  });

  test.each([
    ['the payload', (p: Record<string, unknown>) => { p.comment = 'x'; }],
    ['a key entry', (p: Record<string, unknown>) => { (p.keys as Record<string, unknown>[])[0]!.region = 'eu'; }],
    ['an artifact', (p: Record<string, unknown>) => { (p.artifacts as Record<string, unknown>[])[0]!.mode = 420; }],
  ])('in %s of a rotation manifest', (where, mutate) => {
    const p = manifestPayload();
    mutate(p);
    expect(S.rotation(p)).toBe(false);
    expect(ajv.errorsText(S.rotation.errors)).toContain('must NOT have additional properties');
    expect(verifies(envelope(TYPES.rotation, p, [alice, bob]), `unknown-${where.length}.json`)).toBe(false);
  });

  test('in a custodian set, in a custodian', () => {
    const p = setPayload(1, 2, [['alice', alice], ['bob', bob]]) as Record<string, unknown>;
    (p.custodians as Record<string, unknown>[])[1]!.email = 'bob@example.invalid';
    expect(S.custodians(p)).toBe(false);
    const top = { ...(setPayload(1, 2, [['alice', alice], ['bob', bob]]) as Record<string, unknown>), note: 'x' };
    expect(S.custodians(top)).toBe(false);
    const s = envelope(TYPES.custodians, p, [alice, bob]);
    expect((json(['verify', put('set-unknown.json', s), '--custodians', put('cset-b.json', set), ...at]) as { valid: boolean }).valid).toBe(false);
  });

  test('in the envelope and in a signature', () => {
    const m = envelope(TYPES.rotation, manifestPayload(), [alice, bob]);
    const extra = { ...m, comment: 'x' };
    expect(S.envelope(extra)).toBe(false);
    expect(verifies(extra, 'env-unknown.json')).toBe(false);
    const sig = { ...m, signatures: m.signatures.map((s, i) => (i === 0 ? { ...s, cert: 'x' } : s)) };
    expect(S.envelope(sig)).toBe(false);
    expect(verifies(sig, 'sig-unknown.json')).toBe(false);
  });

  test('in a drill report', () => {
    const drill = payloadOf(readEnv(join(demo, 'drill.json')));
    valid(S.drill, drill);
    expect(S.drill({ ...drill, operator: 'alice' })).toBe(false);
    expect(S.drill({ ...drill, backupKey: { ...(drill.backupKey as object), label: 'x' } })).toBe(false);
  });

  test('in the outputs: one member more is not what verify, state or audit verify print', () => {
    const v = json(['verify', put('plain2.json', envelope(TYPES.rotation, manifestPayload(), [alice, bob])), '--custodians', put('cset-c.json', set), ...at]) as Record<string, unknown>;
    valid(S.verify, v);
    expect(S.verify({ ...v, extra: true })).toBe(false);
    const st = json(['state', '--custodians', join(demo, 'custodians.v1.json'), '--manifests', join(demo, 'rotation.1.json')]) as Record<string, unknown>;
    expect(S.state({ ...st, extra: true })).toBe(false);
    const a = json(['audit', 'verify', join(demo, 'audit.jsonl')]) as Record<string, unknown>;
    valid(S.audit, a);
    expect(S.audit({ ...a, extra: true })).toBe(false);
  });
});
