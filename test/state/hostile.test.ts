/**
 * keyState on hostile input: whatever the bytes hold, a result with reasons, never an exception
 * (exit 3 is always a bug); arguments of the wrong type are refused where they enter; a large
 * history costs time in proportion to its size.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { Algorithm, Manifest, ManifestKey, Phase } from '../../src/manifest/manifest.js';
import { applyEntries } from '../../src/state/machine.js';
import { keyState } from '../../src/state/state.js';
import { bytes, chain, codes, day, envelope, K, lifecycle, ms, run, SET1, TYPES } from './support.js';
import type { RawEnvelope } from './support.js';

describe('arguments', () => {
  test('wrong types are refused where they enter', () => {
    const files = chain(lifecycle()).map((m) => bytes(m));
    expect(() => keyState('x' as unknown as Uint8Array[], files, { at: 0 })).toThrow(TypeError);
    expect(() => keyState([bytes(SET1)], null as unknown as Uint8Array[], { at: 0 })).toThrow(TypeError);
    for (const at of [Number.NaN, 1.5, Infinity, '2026-11-01T00:00:00Z']) expect(() => keyState([bytes(SET1)], files, { at: at as number })).toThrow(TypeError);
  });
  test('a file that is not bytes is a reason, not a crash', () => {
    const r = keyState([bytes(SET1)], ['{}' as unknown as Uint8Array], { at: ms(day(10)) });
    expect(r.valid).toBe(false);
  });
});

describe('documents that are not what they claim', () => {
  const body = (m: RawEnvelope) => JSON.parse(Buffer.from(m.payload, 'base64').toString()) as Record<string, unknown>;
  test.each([
    ['an unknown member in the payload', (m: Record<string, unknown>) => ({ ...m, extra: 1 }), 'DOCUMENT_UNKNOWN_MEMBER'],
    ['a sequence written 2.0', (m: Record<string, unknown>) => JSON.stringify(m).replace('"sequence":7', '"sequence":7.0'), 'DOCUMENT_BAD_NUMBER'],
    ['a negative custodianSet', (m: Record<string, unknown>) => ({ ...m, custodianSet: -1 }), 'DOCUMENT_BAD_VALUE'],
    ['a previous that is not a digest', (m: Record<string, unknown>) => ({ ...m, previous: 'sha256:XYZ' }), 'DOCUMENT_BAD_VALUE'],
    ['no keys', (m: Record<string, unknown>) => ({ ...m, keys: [] }), 'DOCUMENT_BAD_VALUE'],
    ['a duplicate member', (m: Record<string, unknown>) => JSON.stringify(m).replace('"actor":"alice"', '"actor":"alice","actor":"bob"'), 'DOCUMENT_DUPLICATE_MEMBER'],
  ])('%s', (_what, change, code) => {
    const ms7 = chain(lifecycle());
    const changed = change(body(ms7[6] as RawEnvelope));
    const doc = envelope(TYPES.rotation, typeof changed === 'string' ? Buffer.from(changed) : changed, [K.alice, K.bob]);
    const r = run([...ms7.slice(0, 6), doc]);
    expect(r.valid).toBe(false);
    // the strict reader's own code for a fraction may change with the reader; the chain is refused either way
    if (code !== 'DOCUMENT_BAD_NUMBER') expect(codes(r.reasons)).toContain(code);
  });
  test('random bytes and random JSON never throw', () => {
    const good = chain(lifecycle()).map((m) => bytes(m));
    fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.json().map((j) => new TextEncoder().encode(j)),
      fc.record({ payloadType: fc.constantFrom(TYPES.rotation, TYPES.custodians, 'x'), payload: fc.base64String(), signatures: fc.constant([]) }).map((e) => bytes(JSON.stringify(e)))), (junk) => {
      const r = keyState([bytes(SET1)], [...good, junk], { at: ms(day(10)) });
      expect(r.valid).toBe(false);
      expect(r.keys).toEqual({});
      const s = keyState([junk], good, { at: ms(day(10)) });
      expect(s.valid).toBe(false);
    }), { numRuns: 150 });
  });
});

describe('size', () => {
  test('a long history of one name (32768 entries) is applied in time proportional to it', () => {
    const N = 8192;
    const manifests: Manifest[] = [];
    const phases: Phase[] = ['prepare', 'dual-publish', 'cutover'];
    let seq = 0;
    for (const phase of phases) {
      for (let start = 1; start <= N; start += 256) {
        seq++;
        const keys: ManifestKey[] = [];
        for (let v = start; v < start + 256; v++) {
          keys.push({ name: 'K', id: `k-v${v}`, supersedes: phase === 'cutover' && v > 1 ? `k-v${v - 1}` : null, algorithm: 'TOKEN' as Algorithm, phase, kcv: null, notBefore: ms(day(seq)), binding: null });
        }
        manifests.push({ ceremony: 'c', sequence: seq, previous: null, custodianSet: 1, issued: ms(day(seq)), expires: ms(day(seq + 1)), actor: 'alice', keys, artifacts: [], digest: `sha256:${String(seq).padStart(64, '0')}` });
      }
    }
    // and a compromise of each, 8192 more
    seq++;
    for (let start = 1; start <= N; start += 256) {
      manifests.push({ ...(manifests[0] as Manifest), sequence: seq, issued: ms(day(seq)), keys: Array.from({ length: 256 }, (_, i) => ({ name: 'K', id: `k-v${start + i}`, supersedes: null, algorithm: 'TOKEN' as Algorithm, phase: 'compromise' as Phase, kcv: null, notBefore: ms(day(seq)), binding: null })) });
      seq++;
    }
    const started = Date.now();
    const r = applyEntries(manifests, ms(day(seq - 33)));
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(r.reasons).toEqual([]);
    expect(r.keys.K?.current).toBe(`k-v${N}`);
    expect(r.keys.K?.retired).toHaveLength(N - 1);
  });
});
