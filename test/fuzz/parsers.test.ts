/**
 * Issue 8: property-based fuzzing of every parser that reads outside input. For each: arbitrary
 * bytes, and valid documents mutated (bytes flipped, cut short, JSON values replaced at random
 * places). Every input is either accepted or refused with the parser's typed error; nothing else
 * is ever thrown, and no input takes long (no hang). Sized to keep the suite under its budget.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { parseCheckpoint, buildCheckpoint } from '../../src/audit/checkpoint.js';
import { formatEntry, GENESIS } from '../../src/audit/log.js';
import { verifyAuditLog } from '../../src/audit/verify.js';
import { encodeBlob, parseBlob } from '../../src/backup/blob.js';
import { encodePaperShare, parsePaperShare, sealPaperShare } from '../../src/backup/paper.js';
import { encodeReceipt, parseReceipt } from '../../src/backup/receipts.js';
import { encodeShare, parseShare } from '../../src/backup/shares.js';
import { parseProfile } from '../../src/ceremony/profile.js';
import { parseScript } from '../../src/ceremony/script.js';
import { templateText } from '../../src/ceremony/templates.js';
import { CHANNELS } from '../../src/api/contract.js';
import { createHandlers, invoke, REQUESTS } from '../../src/api/handlers.js';
import { parseRequest } from '../../src/api/schema.js';
import { parseCustodianSet } from '../../src/custodians/set.js';
import { DocumentError } from '../../src/docs/problems.js';
import { parseEnvelope } from '../../src/dsse/envelope.js';
import { KeyceremonyError } from '../../src/errors.js';
import { parseKek } from '../../src/export/kek.js';
import { parseImportParams } from '../../src/export/params.js';
import { JsonError, parseStrictJson } from '../../src/json/strict.js';
import { parseDrillReport } from '../../src/manifest/drill.js';
import { parseManifest } from '../../src/manifest/manifest.js';
import { parsePkcs11Uri } from '../../src/pkcs11/uri.js';
import { generateKeyPairSync } from 'node:crypto';
import { envelope, keyNamed, manifestPayload, setPayload, TYPES } from '../support/independent.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const RUNS = 300;
const SLOW_MS = 250;

/** Accepted, or refused with one of these; anything else (a TypeError, a RangeError…) fails the property. */
function typed(fn: () => unknown, ...allowed: (abstract new (...a: never[]) => Error)[]): void {
  const t = performance.now();
  try {
    fn();
  } catch (err) {
    if (!allowed.some((c) => err instanceof c)) throw new Error(`untyped ${String((err as Error)?.name)}: ${String((err as Error)?.message)}`);
  }
  expect(performance.now() - t).toBeLessThan(SLOW_MS);
}

/** A valid document mutated: a byte changed, a cut, or (for JSON) a value replaced somewhere. */
function mutations(valid: Uint8Array): fc.Arbitrary<Uint8Array> {
  const flip = fc.tuple(fc.nat({ max: valid.length - 1 }), fc.integer({ min: 1, max: 255 })).map(([i, x]) => { const b = new Uint8Array(valid); b[i] = b[i]! ^ x; return b; });
  const cut = fc.nat({ max: valid.length }).map((n) => valid.slice(0, n));
  const text = new TextDecoder().decode(valid);
  let json: unknown = undefined;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  if (json === undefined) return fc.oneof(flip, cut);
  const paths: (string | number)[][] = [];
  const walk = (v: unknown, p: (string | number)[]): void => {
    paths.push(p);
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...p, i]));
    else if (v !== null && typeof v === 'object') for (const k of Object.keys(v)) walk((v as Record<string, unknown>)[k], [...p, k]);
  };
  walk(json, []);
  const replace = fc.tuple(fc.constantFrom(...paths.filter((p) => p.length > 0)), fc.jsonValue({ maxDepth: 3 })).map(([p, v]) => {
    const copy = JSON.parse(text) as Record<string | number, unknown>;
    let o: Record<string | number, unknown> = copy;
    for (const k of p.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
    o[p[p.length - 1]!] = v;
    return enc(JSON.stringify(copy));
  });
  return fc.oneof(flip, cut, replace);
}

function fuzz(name: string, valid: Uint8Array, parse: (b: Uint8Array) => unknown, ...allowed: (abstract new (...a: never[]) => Error)[]): void {
  test(`${name}: arbitrary bytes and mutated valid documents give a typed refusal or a result`, () => {
    typed(() => parse(valid)); // the seed is valid
    fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 600 }), fc.string({ maxLength: 300 }).map(enc), mutations(valid)), (b) => typed(() => parse(b), ...allowed)), { numRuns: RUNS });
  });
}

const [alice, bob, carol] = ['alice', 'bob', 'carol'].map(keyNamed) as [ReturnType<typeof keyNamed>, ReturnType<typeof keyNamed>, ReturnType<typeof keyNamed>];
const setBody = Buffer.from(JSON.stringify(setPayload(1, 2, [['alice', alice], ['bob', bob], ['carol', carol]])));
const script = parseScript(enc(templateText('quarterly-master-rotation')!));
const spki = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'der' });

describe('documents (FORMATS.md)', () => {
  fuzz('envelope', enc(JSON.stringify(envelope(TYPES.rotation, Buffer.from(JSON.stringify(manifestPayload())), [alice, bob]))), parseEnvelope, DocumentError);
  fuzz('custodian set', new Uint8Array(setBody), parseCustodianSet, DocumentError);
  fuzz('rotation manifest', enc(JSON.stringify(manifestPayload())), parseManifest, DocumentError);
  fuzz('drill report', enc(JSON.stringify({ spec: 'keyceremony/drill-report@1', drill: 'd', custodianSet: 1, started: '2026-11-28T10:00:00Z', finished: '2026-11-28T11:00:00Z',
    backupKey: { id: 'backup-v1', kcv: 'abcdef' }, sharesPresented: ['alice', 'bob'], threshold: 2, restored: [{ id: 'master-v1', kcv: 'abcdef', kcvMatches: true }], result: 'pass' })), parseDrillReport, DocumentError);
  test('strict JSON text: arbitrary strings and JSON-like text', () => {
    fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.json({ maxDepth: 4 }), fc.json().map((j) => j.replace(/:/g, ': ').replace('{', '{"a":1,'))), (s) => typed(() => parseStrictJson(s), JsonError)), { numRuns: RUNS * 2 });
  });
});

describe('ceremony files', () => {
  fuzz('ceremony script', enc(templateText('quarterly-master-rotation')!), parseScript, DocumentError);
  fuzz('ceremony profile', enc(JSON.stringify({ spec: 'keyceremony/ceremony-profile@1', module: '/usr/lib/softhsm/libsofthsm2.so', tokens: Object.fromEntries(script.tokens.map((t) => [t.name, { pinEnv: null }])) })),
    (b) => parseProfile(b, script), DocumentError);
  const entry = formatEntry({ seq: 1, time: '2026-11-28T10:00:00Z', actor: 'admin', action: 'log.create', keys: [], details: { log: 'ab'.repeat(16) }, prev: GENESIS });
  const second = formatEntry({ seq: 2, time: '2026-11-28T10:00:01Z', actor: 'alice', action: 'key.generate', keys: ['master-v1'], details: { kcv: 'abcdef' }, prev: entry.hash });
  test('audit log: never throws, a mutated log is never valid', () => {
    const log = enc(`${entry.line}\n${second.line}\n`);
    expect(verifyAuditLog(log).valid).toBe(true);
    const whole = Buffer.from(log).toString('latin1');
    fc.assert(fc.property(mutations(log), fc.uint8Array({ maxLength: 400 }), (m, junk) => {
      const t = performance.now();
      const text = Buffer.from(m).toString('latin1');
      // the only mutated logs that may verify: the log itself, or a prefix of whole entries (a cut the checkpoint rule catches)
      const wholePrefix = whole.startsWith(text) && (text === '' || text.endsWith('\n'));
      if (verifyAuditLog(m).valid) expect(wholePrefix).toBe(true);
      expect(verifyAuditLog(junk).valid).toBe(false); // an empty log is not valid either (issue 14)
      expect(performance.now() - t).toBeLessThan(SLOW_MS);
    }), { numRuns: RUNS });
  });
  fuzz('audit checkpoint', buildCheckpoint({ log: 'ab'.repeat(16), seq: 3, head: GENESIS, custodianSet: 1, time: Date.parse('2026-11-28T10:00:00Z') }), parseCheckpoint, DocumentError);
});

describe('backup custody files', () => {
  fuzz('share record', encodeShare({ ceremony: 'q4', backupKey: 'backup-v1', custodian: 'alice', index: 1, threshold: 2, total: 3, share: new Uint8Array(33).fill(7) }), parseShare, DocumentError);
  fuzz('share receipt', enc(encodeReceipt({ ceremony: 'q4', backupKey: 'backup-v1', custodian: 'alice', index: 1, threshold: 2, total: 3, commitment: `sha256:${'ab'.repeat(32)}`, holder: { kind: 'token', token: 'card-alice', serial: '1234' } })), parseReceipt, DocumentError);
  fuzz('paper share', enc(encodePaperShare(sealPaperShare(enc('{"share":"x"}'), enc('correct horse battery staple'), { ceremony: 'q4', backupKey: 'backup-v1', custodian: 'carol', index: 3, threshold: 2, total: 3 }, { name: 'scrypt', N: 1 << 14, r: 8, p: 1 }))), parsePaperShare, DocumentError);
  fuzz('backup blob', enc(encodeBlob({ keyId: 'master-v1', backupKey: 'backup-v1', kcv: 'abcdef', wrapped: new Uint8Array(40).fill(1), canary: { iv: new Uint8Array(12).fill(2), ciphertext: new Uint8Array(60).fill(3) } })), parseBlob, DocumentError);
});

describe('export inputs', () => {
  fuzz('KMS wrapping key (DER SubjectPublicKeyInfo)', new Uint8Array(spki), parseKek, KeyceremonyError);
  fuzz('KMS wrapping key (PEM)', enc(`-----BEGIN PUBLIC KEY-----\n${spki.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END PUBLIC KEY-----\n`), parseKek, KeyceremonyError);
  fuzz('KMS import parameters file', enc(JSON.stringify({ target: 'aws-rsa-aes-key-wrap-sha256', wrappingKey: spki.toString('base64'), obtained: '2026-11-28T10:00:00Z', importToken: 'dG9rZW4=' })), parseImportParams, DocumentError, KeyceremonyError);
  test('PKCS#11 URIs', () => {
    const chars = fc.constantFrom(...'pkcs11:token=object%;?=&type/module-path pin-value serial id 0aZ\u0000\u00e9'.split(''));
    fc.assert(fc.property(fc.oneof(fc.string({ unit: chars, maxLength: 120 }), fc.string({ maxLength: 120 }), fc.anything()), (s) => typed(() => parsePkcs11Uri(s), KeyceremonyError)), { numRuns: RUNS * 2 });
  });
});

describe('IPC requests', () => {
  test('every channel\'s schema: arbitrary values are refused with problems, never an exception', () => {
    for (const c of CHANNELS) {
      fc.assert(fc.property(fc.anything({ maxDepth: 3, withBigInt: true, withDate: true, withMap: true, withSet: true, withTypedArray: true, withNullPrototype: true }), (v) => {
        const t = performance.now();
        const r = parseRequest(REQUESTS[c] as Parameters<typeof parseRequest>[0], v);
        expect(typeof r.ok).toBe('boolean');
        expect(performance.now() - t).toBeLessThan(SLOW_MS);
      }), { numRuns: 60 });
    }
  });
  test('the handler table answers hostile requests with a typed error result, never a throw', async () => {
    const h = createHandlers({ env: { KEYCEREMONY_PKCS11_MODULE: '/nonexistent/libpkcs11.so' }, version: 'fuzz', interfaces: () => [] });
    await fc.assert(fc.asyncProperty(fc.constantFrom(...CHANNELS, 'app.nope', '__proto__', 'constructor'), fc.anything({ maxDepth: 3 }), async (c, v) => {
      const r = await invoke(h, c, v);
      expect(r.ok === true || (typeof r.error.code === 'string' && /^[A-Z][A-Z0-9_]+$/.test(r.error.code))).toBe(true);
    }), { numRuns: 400 });
  });
});
