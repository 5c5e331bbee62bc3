/** DSSE pieces: PAE against the DSSE v1 definition, and strict base64 against its definition. */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { decodeBase64Strict, pae, parseEnvelope, serializeEnvelope } from '../../src/dsse/envelope.js';
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
