import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { KeyceremonyError } from '../../src/errors.js';
import { formatPkcs11Uri, MAX_URI_LENGTH, parsePkcs11Uri } from '../../src/pkcs11/uri.js';
import { expectCode } from '../support/expect-code.js';

describe('parsePkcs11Uri (RFC 7512)', () => {
  test('the example of CLI.md', () => {
    expect(parsePkcs11Uri('pkcs11:token=Master%20HSM;object=master-v7;type=secret-key')).toEqual({ token: 'Master HSM', object: 'master-v7', type: 'secret-key' });
  });
  test('RFC 7512 §3 examples that fit our model', () => {
    expect(parsePkcs11Uri('pkcs11:')).toEqual({});
    expect(parsePkcs11Uri('pkcs11:object=my-pubkey;type=public')).toEqual({ object: 'my-pubkey', type: 'public' });
    expect(parsePkcs11Uri('pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;model=1.0;object=my-certificate;type=cert;id=%69%95%3E%5C%F4%BD%EC%91;serial=')).toEqual({
      token: 'The Software PKCS#11 Softtoken', manufacturer: 'Snake Oil, Inc.', model: '1.0', object: 'my-certificate', type: 'cert', id: '69953e5cf4bdec91', serial: '' });
    expect(parsePkcs11Uri('pkcs11:token=Software%20PKCS%2311%20softtoken;manufacturer=Snake%20Oil,%20Inc.?module-path=/usr/lib/libsofthsm2.so')).toEqual({
      token: 'Software PKCS#11 softtoken', manufacturer: 'Snake Oil, Inc.', modulePath: '/usr/lib/libsofthsm2.so' });
    expect(parsePkcs11Uri('pkcs11:object=%E2%82%AC;x-vendor-thing=1')).toEqual({ object: '€', vendor: { 'x-vendor-thing': '1' } });
  });
  test('the scheme is case-insensitive, attribute names too', () => {
    expect(parsePkcs11Uri('PKCS11:Token=a')).toEqual({ token: 'a' });
  });

  test('pin-value is refused with its own code, wherever it stands', () => {
    expectCode(() => parsePkcs11Uri('pkcs11:token=a?pin-value=1234'), 'URI_PIN_VALUE_REFUSED');
    expectCode(() => parsePkcs11Uri('pkcs11:token=a;pin-value=1234'), 'URI_PIN_VALUE_REFUSED');
  });
  test('slot-id is refused: tokens are named by label or serial', () => {
    expectCode(() => parsePkcs11Uri('pkcs11:slot-id=0;object=x'), 'URI_SLOT_ID_REFUSED');
  });

  const HOSTILE: readonly [string, unknown][] = [
    ['not a string', 42],
    ['null', null],
    ['no scheme', 'token=a'],
    ['another scheme', 'https:token=a'],
    ['oversized', `pkcs11:object=${'a'.repeat(MAX_URI_LENGTH)}`],
    ['duplicate attribute', 'pkcs11:token=a;token=b'],
    ['duplicate differing in case', 'pkcs11:token=a;TOKEN=b'],
    ['unknown path attribute', 'pkcs11:colour=red'],
    ['query attribute in the path', 'pkcs11:module-path=/x'],
    ['path attribute in the query', 'pkcs11:?token=a'],
    ['no value separator', 'pkcs11:token'],
    ['empty name', 'pkcs11:=a'],
    ['raw space', 'pkcs11:token=Master HSM'],
    ['raw slash in path', 'pkcs11:object=a/b'],
    ['truncated escape', 'pkcs11:object=a%2'],
    ['bad escape', 'pkcs11:object=a%zz'],
    ['invalid UTF-8', 'pkcs11:object=%C3%28'],
    ['lone surrogate bytes', 'pkcs11:object=%ED%A0%80'],
    ['unknown type', 'pkcs11:type=secret'],
    ['NUL raw', 'pkcs11:object=a\u0000'],
    ['newline raw', 'pkcs11:object=a\nb'],
  ];
  test.each(HOSTILE)('refuses %s with URI_INVALID, a usage error (exit 2)', (_name, input) => {
    const err = expectCode(() => parsePkcs11Uri(input), 'URI_INVALID');
    expect(err.exit).toBe(2);
  });
});

describe('formatPkcs11Uri', () => {
  test('percent-encodes what is not unreserved and writes id as bytes', () => {
    expect(formatPkcs11Uri({ token: 'Master HSM', serial: '1a2b', object: 'master-v7', type: 'secret-key', id: '0aff' }))
      .toBe('pkcs11:token=Master%20HSM;serial=1a2b;object=master-v7;type=secret-key;id=%0A%FF');
    expect(formatPkcs11Uri({ object: 'x', modulePath: '/usr/lib/softhsm/libsofthsm2.so' })).toBe('pkcs11:object=x?module-path=/usr/lib/softhsm/libsofthsm2.so');
  });
  test('property: format then parse is the identity for any text and id', () => {
    fc.assert(fc.property(fc.record({
      token: fc.string({ unit: 'grapheme', maxLength: 32 }),
      object: fc.string({ unit: 'grapheme', maxLength: 40 }),
      id: fc.uint8Array({ maxLength: 20 }).map((b) => Buffer.from(b).toString('hex')),
      modulePath: fc.string({ maxLength: 40 }),
    }, { requiredKeys: [] }), (uri) => {
      expect(parsePkcs11Uri(formatPkcs11Uri(uri))).toEqual(uri);
    }));
  });
  test('property: the parser only ever throws KeyceremonyError', () => {
    fc.assert(fc.property(fc.string({ maxLength: 80 }), (tail) => {
      try {
        parsePkcs11Uri(`pkcs11:${tail}`);
      } catch (err) {
        expect(err).toBeInstanceOf(KeyceremonyError);
      }
    }), { numRuns: 2000 });
  });
});
