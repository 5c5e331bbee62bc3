/**
 * FORMATS.md §4 `binding`: the HMAC-SHA256 under the secret of `keyceremony/binding@1` 0x00 id,
 * checked against the openssl CLI; where the parser accepts it, and what it says of `kcv`.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { Fields } from '../../src/docs/fields.js';
import { DocumentError } from '../../src/docs/problems.js';
import { acceptKey, ALGORITHMS, bindingMatches, buildManifest, keyBinding, parseManifest, readKeyReporting } from '../../src/manifest/manifest.js';
import type { JsonValue } from '../../src/json/strict.js';

/** What openssl computes: `openssl dgst -sha256 -mac HMAC -macopt hexkey:<secret>` over the message on stdin. */
function opensslBinding(secret: Buffer, id: string): string {
  const message = Buffer.concat([Buffer.from('keyceremony/binding@1', 'ascii'), Buffer.from([0]), Buffer.from(id, 'ascii')]);
  const out = execFileSync('openssl', ['dgst', '-sha256', '-mac', 'HMAC', '-macopt', `hexkey:${secret.toString('hex')}`], { input: message, encoding: 'utf8' });
  return `hmac-sha256:${(out.trim().split(/\s+/).at(-1) as string)}`;
}

const SECRET = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');

describe('keyBinding', () => {
  test('equals the HMAC openssl computes, for fixed and random secrets and ids', () => {
    expect(keyBinding(SECRET, 'webhook-v4')).toBe(opensslBinding(SECRET, 'webhook-v4'));
    for (const [len, id] of [[1, 'a-v1'], [32, 'jwt-v12'], [64, 'redis-auth-v3'], [200, 'celery_broker-v999999']] as const) {
      const s = randomBytes(len);
      expect(keyBinding(s, id)).toBe(opensslBinding(s, id));
    }
  });
  test('depends on the id: the same secret under another id binds differently', () => {
    expect(keyBinding(SECRET, 'webhook-v4')).not.toBe(keyBinding(SECRET, 'webhook-v5'));
  });
  test('bindingMatches: the secret that made it, and no other', () => {
    const b = keyBinding(SECRET, 'webhook-v4');
    expect(bindingMatches(SECRET, 'webhook-v4', b)).toBe(true);
    expect(bindingMatches(Buffer.concat([SECRET.subarray(1), Buffer.from([0])]), 'webhook-v4', b)).toBe(false);
    expect(bindingMatches(SECRET, 'webhook-v5', b)).toBe(false);
    expect(bindingMatches(SECRET, 'webhook-v4', b.toUpperCase())).toBe(false);
    expect(bindingMatches(SECRET, 'webhook-v4', b.slice(0, -2))).toBe(false);
  });
  test('refuses bad arguments where they enter: TypeError for a type, RangeError for a value', () => {
    expect(() => keyBinding('secret' as unknown as Uint8Array, 'webhook-v4')).toThrow(TypeError);
    expect(() => keyBinding(new Uint8Array(0), 'webhook-v4')).toThrow(RangeError);
    expect(() => keyBinding(SECRET, 4 as unknown as string)).toThrow(TypeError);
    expect(() => keyBinding(SECRET, 'Webhook-v4')).toThrow(RangeError);
    expect(() => keyBinding(SECRET, 'webhook-v4\u0000x')).toThrow(RangeError);
    expect(() => bindingMatches(SECRET, 'webhook-v4', null as unknown as string)).toThrow(TypeError);
  });
});

const BINDING = keyBinding(SECRET, 'webhook-v4');
const KCV = BINDING.slice('hmac-sha256:'.length, 'hmac-sha256:'.length + 6);
const base = { name: 'WEBHOOK_SIGNING_SECRET', id: 'webhook-v4', supersedes: 'webhook-v3', algorithm: 'HMAC-SHA256', phase: 'prepare', kcv: null as string | null, notBefore: '2026-11-28T10:00:00Z' };

function payload(key: Record<string, unknown>): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ spec: 'keyceremony/rotation-manifest@1', ceremony: 'c', sequence: 1, previous: null, custodianSet: 1, issued: '2026-11-28T10:00:00Z',
    expires: '2026-12-28T10:00:00Z', actor: 'alice', keys: [key], artifacts: [] }));
}

/** The codes parseManifest reports, [] when it accepts. */
function problems(key: Record<string, unknown>): string[] {
  try {
    parseManifest(payload(key));
    return [];
  } catch (err) {
    if (!(err instanceof DocumentError)) throw err;
    return err.problems.map((p) => `${p.code} ${p.path}`);
  }
}

describe('the binding member in a manifest (FORMATS.md §4)', () => {
  test('accepted for HMAC-SHA256, JWT-HS256 and TOKEN, with a KCV that is its first 3 bytes or null', () => {
    for (const algorithm of ['HMAC-SHA256', 'JWT-HS256', 'TOKEN']) {
      expect(problems({ ...base, algorithm, binding: BINDING, kcv: KCV })).toEqual([]);
      expect(problems({ ...base, algorithm, binding: BINDING })).toEqual([]);
    }
    const m = parseManifest(payload({ ...base, binding: BINDING, kcv: KCV }));
    expect(m.keys[0]).toMatchObject({ binding: BINDING, kcv: KCV });
    expect(parseManifest(payload(base)).keys[0]?.binding).toBeNull();
  });
  test('refused for every other algorithm', () => {
    for (const algorithm of ALGORITHMS.filter((a) => !['HMAC-SHA256', 'JWT-HS256', 'TOKEN'].includes(a))) {
      expect(problems({ ...base, algorithm, binding: BINDING })).toEqual(['MANIFEST_BINDING_NOT_ALLOWED keys[0].binding']);
    }
  });
  test('a KCV of a bound algorithm is the binding\'s first 3 bytes, so null without a binding', () => {
    expect(problems({ ...base, binding: BINDING, kcv: KCV === 'abcdef' ? '123456' : 'abcdef' })).toEqual(['MANIFEST_KCV_MISMATCH keys[0].kcv']);
    expect(problems({ ...base, kcv: KCV })).toEqual(['MANIFEST_KCV_WITHOUT_BINDING keys[0].kcv']);
    expect(problems({ ...base, algorithm: 'TOKEN', kcv: '1a2b3c' })).toEqual(['MANIFEST_KCV_WITHOUT_BINDING keys[0].kcv']);
    // AES keeps its ECB KCV, Ed25519 and RSA keys may give one too
    expect(problems({ ...base, algorithm: 'AES-256-GCM', kcv: '1a2b3c' })).toEqual([]);
  });
  test('malformed bindings', () => {
    const hex = BINDING.slice('hmac-sha256:'.length);
    for (const bad of [`hmac-sha256:${hex.toUpperCase()}`, `HMAC-SHA256:${hex}`, `sha256:${hex}`, `hmac-sha256:${hex.slice(2)}`, `hmac-sha256:${hex}00`, hex, '', `hmac-sha256:${hex}\n`]) {
      expect(problems({ ...base, binding: bad })).toEqual(['MANIFEST_BINDING_INVALID keys[0].binding']);
    }
    for (const bad of [null, 1, true, [BINDING], { binding: BINDING }]) expect(problems({ ...base, binding: bad })).toEqual(['DOCUMENT_WRONG_TYPE keys[0].binding']);
  });
  test('a duplicate binding member is refused by the strict JSON reader', () => {
    const text = new TextDecoder().decode(payload({ ...base, binding: BINDING })).replace(`"binding":"${BINDING}"`, `"binding":"${BINDING}","binding":"${BINDING}"`);
    expect(() => parseManifest(new TextEncoder().encode(text))).toThrow(DocumentError);
  });
  test('the builder writes it when given, and nothing when not', () => {
    const draft = { ceremony: 'c', sequence: 1, previous: null, custodianSet: 1, issued: '2026-11-28T10:00:00Z', expires: '2026-12-28T10:00:00Z', actor: 'alice', artifacts: [] };
    const bound = buildManifest({ ...draft, keys: [{ ...base, binding: BINDING, kcv: KCV }] });
    expect(JSON.parse(new TextDecoder().decode(bound)).keys[0]).toEqual({ ...base, binding: BINDING, kcv: KCV });
    expect(parseManifest(bound).keys[0]?.binding).toBe(BINDING);
    for (const binding of [undefined, null]) {
      const plain = buildManifest({ ...draft, keys: [{ ...base, binding }] });
      expect(Object.keys(JSON.parse(new TextDecoder().decode(plain)).keys[0])).not.toContain('binding');
    }
    expect(() => buildManifest({ ...draft, keys: [{ ...base, algorithm: 'AES-256-GCM', binding: BINDING }] })).toThrow(DocumentError);
  });
});

describe('fast path and reporting path agree on entries with a binding', () => {
  const member = fc.constantFrom<JsonValue>(BINDING, BINDING.toUpperCase(), `hmac-sha256:${'0'.repeat(64)}`, null, 1, '', KCV, '000000', 'HMAC-SHA256', 'TOKEN', 'AES-256-GCM', 'JWT-HS256', 'Ed25519');
  const entry = fc.record({
    binding: fc.option(member, { nil: undefined }),
    kcv: fc.constantFrom<JsonValue>(null, KCV, '000000', 'zzzzzz'),
    algorithm: fc.constantFrom<JsonValue>(...ALGORITHMS, 'hmac'),
    extra: fc.boolean(),
  }).map(({ binding, kcv, algorithm, extra }) => {
    const o: Record<string, JsonValue> = { ...base, kcv, algorithm };
    if (binding !== undefined) o.binding = binding;
    if (extra) o.extra = 1;
    return o as JsonValue;
  });
  test('the fast path never accepts what the reporting path refuses, and builds the same key', () => {
    let accepted = 0;
    fc.assert(fc.property(entry, (v) => {
      const f = new Fields();
      const slow = readKeyReporting(f, v, 0);
      const fast = acceptKey(v);
      if (slow === undefined) expect(fast).toBeUndefined();
      else expect(f.problems).toEqual([]);
      if (fast !== undefined) {
        accepted++;
        expect(fast).toEqual(slow);
      }
      // whenever the slow path refuses, it says why
      if (slow === undefined) expect(f.problems.length).toBeGreaterThan(0);
    }), { numRuns: 2000 });
    expect(accepted).toBeGreaterThan(50);
  });
});
