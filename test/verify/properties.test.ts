/** fast-check properties of signing and verification (issue 3). */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { parseCustodianSet } from '../../src/custodians/set.js';
import { parseTime } from '../../src/docs/fields.js';
import { parseEnvelope, pae, serializeEnvelope } from '../../src/dsse/envelope.js';
import { addSignature, SoftwareSigner } from '../../src/dsse/sign.js';
import { KeyceremonyError } from '../../src/errors.js';
import { countSignatures } from '../../src/verify/threshold.js';
import { verifyDocument } from '../../src/verify/verify.js';
import { bytes, envelope, keyNamed, manifestPayload, setPayload, TYPES } from '../support/independent.js';

const alice = keyNamed('alice');
const bob = keyNamed('bob');
const set1 = bytes(envelope(TYPES.custodians, setPayload(1, 2, [['alice', alice], ['bob', bob]]), [alice, bob]));
const set = parseCustodianSet(parseEnvelope(set1).payload);
const AT = parseTime('2026-12-01T00:00:00Z') as number;

describe('sign then verify', () => {
  test('holds for any payload bytes and payload type (our signer, our counter)', async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 512 }), fc.string({ minLength: 1, maxLength: 40 }), async (payload, payloadType) => {
      const a = new SoftwareSigner(alice.seed);
      const b = new SoftwareSigner(bob.seed);
      let env = { payloadType, payload, signatures: [] as { keyid: string; sig: Uint8Array }[] };
      env = { ...(await addSignature(await addSignature(env, a), b)) } as typeof env;
      const again = parseEnvelope(new TextEncoder().encode(serializeEnvelope(env)));
      expect(countSignatures(again, pae(again.payloadType, again.payload), set)).toMatchObject({ met: true, signers: ['alice', 'bob'] });
    }), { numRuns: 100 });
  });
});

describe('any one-byte change to payload or signature makes a valid manifest invalid', () => {
  const good = envelope(TYPES.rotation, manifestPayload(), [alice, bob]);
  test('baseline is valid', () => {
    expect(verifyDocument(bytes(good), [set1], { at: AT }).valid).toBe(true);
  });
  test('payload bytes', () => {
    const payload = Buffer.from(good.payload, 'base64');
    fc.assert(fc.property(fc.nat({ max: payload.length - 1 }), fc.integer({ min: 1, max: 255 }), (i, delta) => {
      const p = Buffer.from(payload);
      p[i] = (p[i]! + delta) & 0xff;
      const r = verifyDocument(bytes({ ...good, payload: p.toString('base64') }), [set1], { at: AT });
      expect(r.valid).toBe(false);
      expect(r.signers).toEqual([]);
    }), { numRuns: 300 });
  });
  test('signature bytes', () => {
    fc.assert(fc.property(fc.nat({ max: 1 }), fc.nat({ max: 63 }), fc.integer({ min: 1, max: 255 }), (which, i, delta) => {
      const sigs = good.signatures.map((s) => ({ ...s }));
      const sig = Buffer.from(sigs[which]!.sig, 'base64');
      sig[i] = (sig[i]! + delta) & 0xff;
      sigs[which]!.sig = sig.toString('base64');
      expect(verifyDocument(bytes({ ...good, signatures: sigs }), [set1], { at: AT }).valid).toBe(false);
    }), { numRuns: 300 });
  });
  test('any byte of the whole file: invalid or identical meaning, never an exception', () => {
    const text = Buffer.from(JSON.stringify(good));
    fc.assert(fc.property(fc.nat({ max: text.length - 1 }), fc.integer({ min: 1, max: 255 }), (i, delta) => {
      const t = Buffer.from(text);
      t[i] = (t[i]! + delta) & 0xff;
      let r;
      try {
        r = verifyDocument(new Uint8Array(t), [set1], { at: AT });
      } catch (err) {
        expect(err).toBeInstanceOf(KeyceremonyError); // never a raw SyntaxError or TypeError
        return;
      }
      // a change outside payload and signatures (whitespace, a key id no one checks) may keep it valid;
      // if it is valid, the signed payload must be byte-identical
      if (r.valid) expect(parseEnvelope(new Uint8Array(t)).payload).toEqual(new Uint8Array(Buffer.from(good.payload, 'base64')));
    }), { numRuns: 500 });
  });
});
