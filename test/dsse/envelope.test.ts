/** DSSE pieces: PAE against the DSSE v1 definition, and strict base64 against its definition. */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { decodeBase64Strict, pae, parseEnvelope, serializeEnvelope, signedBytesOf } from '../../src/dsse/envelope.js';
import { DocumentError } from '../../src/docs/problems.js';
import { pae as independentPae } from '../support/independent.js';

describe('PAE', () => {
  test('the DSSE v1 example encoding', () => {
    expect(Buffer.from(pae('http://example.com/HelloWorld', Buffer.from('hello world'))).toString()).toBe('DSSEv1 29 http://example.com/HelloWorld 11 hello world');
  });
  test('equals the independent implementation for any type and body (lengths in bytes, not characters)', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 30 }), fc.uint8Array({ maxLength: 300 }), (t, b) => {
      expect(Buffer.from(pae(t, b)).equals(independentPae(t, Buffer.from(b)))).toBe(true);
    }));
  });
});

describe('strict base64 (RFC 4648 §4, canonical)', () => {
  // The definition: a string is canonical exactly when re-encoding what it decodes to gives it back.
  const reference = (s: string): Buffer | null => {
    const b = Buffer.from(s, 'base64');
    return b.toString('base64') === s ? b : null;
  };
  test('agrees with the definition on strings made of the characters that matter', () => {
    const unit = fc.constantFrom('A', 'Q', 'g', 'w', 'B', '9', '+', '/', '=', '-', '_', ' ', '\n', '.');
    fc.assert(fc.property(fc.string({ unit, maxLength: 12 }), (s) => {
      const a = decodeBase64Strict(s);
      const b = reference(s);
      expect(a === null ? null : Buffer.from(a).toString('hex')).toBe(b === null ? null : b.toString('hex'));
    }), { numRuns: 20000 });
  });
  test('accepts every canonical encoding', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 70 }), (u) => {
      expect(Buffer.from(decodeBase64Strict(Buffer.from(u).toString('base64'))!).equals(Buffer.from(u))).toBe(true);
    }));
  });
});

describe('parseEnvelope', () => {
  test('decodes the payload (behind its PAE header) exactly as the canonical-base64 definition says', () => {
    const unit = fc.constantFrom('A', 'Q', 'g', 'w', 'B', '9', '+', '/', '=', '-', '_', ' ', '\n', '.');
    fc.assert(fc.property(fc.string({ unit, maxLength: 12 }), fc.string({ maxLength: 8 }), (p64, type) => {
      const doc = new TextEncoder().encode(JSON.stringify({ payloadType: type, payload: p64, signatures: [] }));
      const expected = Buffer.from(p64, 'base64');
      let env;
      try { env = parseEnvelope(doc); } catch { env = null; }
      expect(env === null ? null : Buffer.from(env.payload).toString('hex')).toBe(expected.toString('base64') === p64 ? expected.toString('hex') : null);
      if (env !== null) expect(Buffer.from(signedBytesOf(env)).equals(independentPae(type, expected))).toBe(true);
    }), { numRuns: 20000 });
  });
  test('the signed bytes of an envelope built in code are its PAE', () => {
    const env = { payloadType: 'application/x', payload: new Uint8Array([1, 2]), signatures: [] };
    expect(Buffer.from(signedBytesOf(env)).equals(independentPae('application/x', Buffer.from([1, 2])))).toBe(true);
  });
  test('round-trips through serializeEnvelope', () => {
    const env = { payloadType: 't', payload: new Uint8Array([1, 2, 3]), signatures: [{ keyid: 'ab'.repeat(32), sig: new Uint8Array(64).fill(7) }] };
    expect(parseEnvelope(new TextEncoder().encode(serializeEnvelope(env)))).toEqual(env);
  });
  test('reports every bad field with its path', () => {
    const bad = { payloadType: 5, payload: '!!', signatures: [{ keyid: 'AB', sig: 'x' }, { keyid: 'ab'.repeat(32) }] };
    try {
      parseEnvelope(new TextEncoder().encode(JSON.stringify(bad)));
      throw new Error('accepted');
    } catch (err) {
      expect(err).toBeInstanceOf(DocumentError);
      const paths = (err as DocumentError).problems.map((p) => `${p.code} ${p.path}`);
      expect(paths).toEqual(expect.arrayContaining(['DOCUMENT_WRONG_TYPE payloadType', 'DOCUMENT_BAD_BASE64 payload', 'DOCUMENT_BAD_VALUE signatures[0].keyid',
        'DOCUMENT_BAD_BASE64 signatures[0].sig', 'DOCUMENT_MISSING_MEMBER signatures[1].sig']));
    }
  });
});
