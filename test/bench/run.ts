/**
 * `npm run bench`: throughput ratios against a baseline measured in the same run (never a
 * timed test). Each benchmark prints its median over several rounds and the ratio.
 *
 * 2. The renderer's main JS bundle, gzipped, against its budget of 250 KB (issue 4).
 *
 * 1. Verifying 1,000 rotation manifests of 3 signatures each against a verified custodian chain
 *    (parse envelope and payload strictly, check every field, count per FORMATS.md §6), as a
 *    ratio to bare node:crypto Ed25519 verification of the same 3,000 signatures. Target ≥ 0.9.
 */
import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'vite';
import { ed25519 } from '@noble/curves/ed25519.js';
import { buildCustodianSet, parseCustodianSet } from '../../src/custodians/set.js';
import { formatTime } from '../../src/docs/fields.js';
import { PAYLOAD_TYPES } from '../../src/docs/types.js';
import { pae, parseEnvelope, serializeEnvelope } from '../../src/dsse/envelope.js';
import type { Envelope } from '../../src/dsse/envelope.js';
import { buildManifest } from '../../src/manifest/manifest.js';
import { SEED_INVENTORY } from '../../src/manifest/inventory.js';
import { verifyChain, verifyWithChain } from '../../src/verify/verify.js';

const ROUNDS = 15;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

function time(fn: () => void): number {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

function signEnv(env: Envelope, seeds: Uint8Array[]): Envelope {
  const m = pae(env.payloadType, env.payload);
  return { ...env, signatures: seeds.map((s) => ({ keyid: parseCustodianSet(setPayload).custodians.find((c) => Buffer.from(c.publicKey.bytes).equals(Buffer.from(ed25519.getPublicKey(s))))!.keyid, sig: ed25519.sign(m, s) })) };
}

const now = Math.floor(Date.now() / 1000) * 1000;
const seeds = [1, 2, 3].map((i) => new Uint8Array(32).fill(i));
const custodians = ['alice', 'bob', 'carol'].map((id, i) => ({ id, name: id, publicKey: ed25519.getPublicKey(seeds[i] as Uint8Array) }));
const setPayload = buildCustodianSet({ version: 1, issued: formatTime(now - 1000), expires: formatTime(now + 86400_000), threshold: 2, custodians });
const set2Payload = buildCustodianSet({ version: 2, issued: formatTime(now - 1000), expires: formatTime(now + 86400_000), threshold: 2, custodians });
const chainFiles = [setPayload, set2Payload].map((p) => new TextEncoder().encode(serializeEnvelope(signEnv({ payloadType: PAYLOAD_TYPES.custodians, payload: p, signatures: [] }, seeds))));
const chain = verifyChain(chainFiles, { at: now }).chain;
if (chain === null) throw new Error('bench chain does not verify');

const N = 1000;
const docs: Uint8Array[] = [];
for (let i = 0; i < N; i++) {
  const payload = buildManifest({ ceremony: `bench-${i}`, sequence: 1, previous: null, custodianSet: 2, issued: formatTime(now - 1000), expires: formatTime(now + 86400_000), actor: 'alice', artifacts: [],
    keys: SEED_INVENTORY.map((e) => ({ name: e.name, id: `${e.prefix}-v${i + 2}`, supersedes: `${e.prefix}-v${i + 1}`, algorithm: e.algorithm, phase: 'prepare', kcv: null, notBefore: formatTime(now - 1000) })) });
  docs.push(new TextEncoder().encode(serializeEnvelope(signEnv({ payloadType: PAYLOAD_TYPES.rotation, payload, signatures: [] }, seeds))));
}
// The baseline's inputs, prepared outside the timed loop: signed bytes, key objects, signatures.
const keyObjects = custodians.map((c) => createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), c.publicKey]), format: 'der', type: 'spki' }));
const bare = docs.map((d) => {
  const env = parseEnvelope(d);
  return { message: pae(env.payloadType, env.payload), sigs: env.signatures.map((s) => s.sig) };
});

const baseline: number[] = [];
const ours: number[] = [];
for (let r = 0; r < ROUNDS + 1; r++) {
  const b = time(() => {
    for (const { message, sigs } of bare) for (let k = 0; k < 3; k++) if (!cryptoVerify(null, message, keyObjects[k]!, sigs[k]!)) throw new Error('baseline failed');
  });
  const o = time(() => {
    for (const d of docs) if (!verifyWithChain(d, chain, { at: now }).valid) throw new Error('verification failed');
  });
  if (r > 0) { baseline.push(b); ours.push(o); } // round 0 warms up
}
const mb = median(baseline);
const mo = median(ours);
const ratio = mb / mo;
process.stdout.write(`manifest verification: ${N} manifests x 3 signatures against a 2-version custodian chain\n`);
process.stdout.write(`  bare node:crypto Ed25519 verify of the same ${3 * N} signatures: ${mb.toFixed(1)} ms (median of ${ROUNDS})\n`);
process.stdout.write(`  keyceremony verifyWithChain (strict parse, all checks, counting): ${mo.toFixed(1)} ms (median of ${ROUNDS})\n`);
process.stdout.write(`  ratio ${ratio.toFixed(3)} (target >= 0.9): ${ratio >= 0.9 ? 'met' : 'NOT met'}\n`);

// 2. Renderer bundle size, built fresh.
const out = mkdtempSync(join(tmpdir(), 'kc-bench-renderer-'));
await build({ configFile: new URL('../../vite.config.ts', import.meta.url).pathname, logLevel: 'error', build: { outDir: out, emptyOutDir: true } });
const js = readdirSync(join(out, 'assets')).filter((f) => f.endsWith('.js')).map((f) => join(out, 'assets', f)).sort((a, b) => statSync(b).size - statSync(a).size);
const mainJs = js[0] as string;
const raw = statSync(mainJs).size;
const gz = gzipSync(readFileSync(mainJs), { level: 9 }).length;
rmSync(out, { recursive: true, force: true });
const BUDGET = 250 * 1024;
process.stdout.write(`renderer main bundle: ${(raw / 1024).toFixed(1)} KB, ${(gz / 1024).toFixed(1)} KB gzipped; budget 250 KB gzipped: ${(gz / BUDGET).toFixed(2)} of budget (${gz <= BUDGET ? 'within' : 'OVER'})\n`);
