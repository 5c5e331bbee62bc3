/**
 * An independent implementation of ../shared/spec/FORMATS.md with node:crypto only, written
 * from the spec page and sharing no code with src/. Tests use it to make documents for our
 * verifier and to verify documents our code made.
 */
import { createHash, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';

export const TYPES = {
  custodians: 'application/vnd.keyceremony.custodians+json',
  rotation: 'application/vnd.keyceremony.rotation+json',
  drill: 'application/vnd.keyceremony.drill+json',
};

export function pae(type: string, body: Buffer): Buffer {
  const t = Buffer.from(type, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${t.length} `), t, Buffer.from(` ${body.length} `), body]);
}

export interface Key { seed: Buffer; pub: Buffer; keyid: string }

export function keyFromSeed(seed: Buffer): Key {
  const priv = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });
  const pub = (createPublicKey(priv).export({ type: 'spki', format: 'der' }) as Buffer).subarray(12);
  return { seed, pub, keyid: createHash('sha256').update(pub).digest('hex') };
}

export function keyNamed(name: string): Key {
  return keyFromSeed(createHash('sha256').update(`keyceremony test key ${name}`).digest());
}

export function ed25519Sign(k: Key, msg: Buffer): Buffer {
  const priv = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), k.seed]), format: 'der', type: 'pkcs8' });
  return sign(null, msg, priv);
}

export interface RawSig { keyid: string; sig: string }
export interface RawEnvelope { payloadType: string; payload: string; signatures: RawSig[] }

export function envelope(type: string, payload: Buffer | object, signers: Key[]): RawEnvelope {
  const body = Buffer.isBuffer(payload) ? payload : Buffer.from(JSON.stringify(payload));
  return { payloadType: type, payload: body.toString('base64'), signatures: signers.map((k) => ({ keyid: k.keyid, sig: ed25519Sign(k, pae(type, body)).toString('base64') })) };
}

export const bytes = (e: RawEnvelope | string): Uint8Array => new Uint8Array(Buffer.from(typeof e === 'string' ? e : JSON.stringify(e)));

export function digest(e: RawEnvelope): string {
  return `sha256:${createHash('sha256').update(Buffer.from(e.payload, 'base64')).digest('hex')}`;
}

export function setPayload(version: number, threshold: number, members: [string, Key][], issued = '2026-01-01T00:00:00Z', expires = '2036-01-01T00:00:00Z'): object {
  return { spec: 'keyceremony/custodian-set@1', version, issued, expires, threshold,
    custodians: members.map(([id, k]) => ({ id, name: `${id} example`, publicKey: k.pub.toString('hex'), keyid: k.keyid })) };
}

export function manifestPayload(over: Record<string, unknown> = {}): Record<string, unknown> {
  return { spec: 'keyceremony/rotation-manifest@1', ceremony: '2026-q4-master-rotation', sequence: 1, previous: null, custodianSet: 1,
    issued: '2026-11-28T10:00:00Z', expires: '2026-12-28T10:00:00Z', actor: 'alice',
    keys: [{ name: 'WEBHOOK_SIGNING_SECRET', id: 'webhook-v4', supersedes: 'webhook-v3', algorithm: 'HMAC-SHA256', phase: 'dual-publish', kcv: null, notBefore: '2026-11-28T10:00:00Z' },
      { name: 'MASTER_KEY', id: 'master-v7', supersedes: 'master-v6', algorithm: 'AES-256-GCM', phase: 'prepare', kcv: '1a2b3c', notBefore: '2026-11-28T10:00:00Z' }],
    artifacts: [{ path: 'aws/master-v7.bin', sha256: 'ab'.repeat(32), bytes: 552 }], ...over };
}

const L = 2n ** 252n + 27742317777372353535851937790883648493n;

function strictVerify(pub: Buffer, msg: Buffer, sig: Buffer): boolean {
  if (sig.length !== 64) return false;
  const s = BigInt(`0x${Buffer.from(sig.subarray(32)).reverse().toString('hex')}`);
  if (s >= L) return false;
  const key = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), pub]), format: 'der', type: 'spki' });
  return verify(null, msg, key, sig);
}

interface Set { version: number; threshold: number; expires: string; issued: string; custodians: { id: string; publicKey: string; keyid: string }[] }

/** §6: count distinct custodian public keys with a valid signature. */
function count(env: RawEnvelope, set: Set): string[] {
  const body = Buffer.from(env.payload, 'base64');
  const msg = pae(env.payloadType, body);
  const seen = new Map<string, string>();
  for (const s of env.signatures) {
    const c = set.custodians.find((x) => x.keyid === s.keyid);
    if (c !== undefined && strictVerify(Buffer.from(c.publicKey, 'hex'), msg, Buffer.from(s.sig, 'base64'))) seen.set(c.publicKey, c.id);
  }
  return [...seen.values()];
}

/** A minimal §3/§4 verifier: chain, then manifest; returns signers when valid. */
export function independentVerify(manifest: RawEnvelope, chain: RawEnvelope[], at: string): { valid: boolean; signers: string[] } {
  let prev: Set | null = null;
  for (const e of chain) {
    if (e.payloadType !== TYPES.custodians) return { valid: false, signers: [] };
    const set = JSON.parse(Buffer.from(e.payload, 'base64').toString('utf8')) as Set;
    if (count(e, set).length < set.threshold) return { valid: false, signers: [] };
    if (prev !== null && (set.version !== prev.version + 1 || count(e, prev).length < prev.threshold)) return { valid: false, signers: [] };
    prev = set;
  }
  if (prev === null || !(at < prev.expires)) return { valid: false, signers: [] };
  if (manifest.payloadType !== TYPES.rotation) return { valid: false, signers: [] };
  const m = JSON.parse(Buffer.from(manifest.payload, 'base64').toString('utf8')) as { custodianSet: number; issued: string; expires: string; actor: string };
  if (m.custodianSet !== prev.version || !(m.issued <= at && at <= m.expires) || !prev.custodians.some((c) => c.id === m.actor)) return { valid: false, signers: [] };
  const signers = count(manifest, prev);
  return { valid: signers.length >= prev.threshold, signers };
}
