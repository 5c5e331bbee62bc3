/**
 * Issue 16: the capability preflight. A script whose steps need what a token does not offer is
 * refused before anything is done, listing every gap by token, from what each real token lists:
 * here a custodian's card on NSS softokn, which has no EdDSA, beside an HSM on SoftHSM2 and on NSS.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { checkCapabilities } from '../../src/ceremony/preflight.js';
import type { ResolvedToken } from '../../src/ceremony/context.js';
import { parseScript } from '../../src/ceremony/script.js';
import { Pkcs11Module } from '../../src/pkcs11/module.js';
import { findToken } from '../../src/pkcs11/tokens.js';
import { asFirstCeremony } from '../support/first-ceremony.js';
import { createNss } from '../support/nss.js';
import type { Nss } from '../support/nss.js';
import { createSoftHsm } from '../support/softhsm.js';
import type { SoftHsm } from '../support/softhsm.js';

/** The quarterly rotation with its custodians' keys made in it: every kind of need, on every kind of token. */
const script = parseScript(new TextEncoder().encode(JSON.stringify(asFirstCeremony('quarterly-master-rotation'))));
const LABELS = Object.fromEntries(script.tokens.map((t) => [t.name, t.label]));
let hsm: SoftHsm;
let nss: Nss;
let soft: Pkcs11Module;
let nssMod: Pkcs11Module;

beforeAll(() => {
  hsm = createSoftHsm(script.tokens.map((t) => ({ label: t.label, pin: '11223344', soPin: '12345678' })));
  nss = createNss({ label: 'NSS card' });
  soft = Pkcs11Module.open(hsm.module);
  nssMod = Pkcs11Module.open(nss.module, nss.params);
}, 60_000);
afterAll(() => { soft?.close(); nssMod?.close(); hsm?.cleanup(); nss?.cleanup(); });

const resolved = (onNss: readonly string[]): Map<string, ResolvedToken> => new Map(script.tokens.map((t) => [t.name, {
  token: onNss.includes(t.name) ? findToken(nssMod, { label: nss.label }) : findToken(soft, { label: LABELS[t.name] as string }),
  pin: new Uint8Array(0),
}]));

test('every token on SoftHSM2: the quarterly script passes', () => {
  expect(() => checkCapabilities(script, resolved([]))).not.toThrow();
});

test('the HSM on NSS softokn: it offers every mechanism the HSM steps need (AES keys, OAEP wrap, RFC 5649 wrap, secrets, HMAC)', () => {
  expect(() => checkCapabilities(script, resolved(['hsm', 'drill']))).not.toThrow();
});

test("bob's card on NSS softokn, which has no EdDSA: refused before anything is done, naming the card and each gap", () => {
  let err: unknown;
  try { checkCapabilities(script, resolved(['card-bob'])); } catch (e) { err = e; }
  expect(err).toMatchObject({ code: 'CEREMONY_CAPABILITIES_MISSING', exit: 1 });
  const message = (err as Error).message;
  expect(message).toContain('token card-bob');
  expect(message).toContain('Ed25519 key pairs (CKM_EC_EDWARDS_KEY_PAIR_GEN)');
  expect(message).toContain('Ed25519 signatures (CKM_EDDSA)');
  expect(message).not.toContain('token hsm');
});
