/**
 * Manifest chains for the §8 tests, made with the independent FORMATS.md implementation
 * (test/support/independent.ts: node:crypto Ed25519, no code shared with src/). A chain is a list
 * of steps; each becomes one signed manifest whose sequence and `previous` follow the one before.
 */
import { parseTime } from '../../src/docs/fields.js';
import { keyState } from '../../src/state/state.js';
import type { KeyStateResult } from '../../src/state/state.js';
import { bytes, digest, envelope, keyNamed, setPayload, TYPES } from '../support/independent.js';
import type { Key, RawEnvelope } from '../support/independent.js';

export { bytes, digest, envelope, setPayload, TYPES };
export type { Key, RawEnvelope };

export const K = Object.fromEntries(['alice', 'bob', 'carol', 'dave', 'erin', 'mallory'].map((n) => [n, keyNamed(n)])) as Record<'alice' | 'bob' | 'carol' | 'dave' | 'erin' | 'mallory', Key>;
export const members = (...ids: (keyof typeof K)[]): [string, Key][] => ids.map((id) => [id, K[id]]);

const DAY = 24 * 3600 * 1000;
/** Day d of the story, 2026-11-01 + d days, as RFC 3339. */
export function day(d: number): string {
  return new Date(Date.UTC(2026, 10, 1) + d * DAY).toISOString().replace('.000Z', 'Z');
}
export const ms = (t: string): number => parseTime(t) as number;

/** Set 1: alice, bob, carol, 2 of 3, valid 2026-01-01 to 2036-01-01. */
export const SET1 = envelope(TYPES.custodians, setPayload(1, 2, members('alice', 'bob', 'carol')), [K.alice, K.bob, K.carol]);

/** Set version `version` of `who`, signed by its own members and the previous set's `by`. */
export function nextSet(version: number, who: [string, Key][], by: Key[], issued: string, expires = '2036-01-01T00:00:00Z', threshold = 2): RawEnvelope {
  const own = who.map(([, k]) => k);
  return envelope(TYPES.custodians, setPayload(version, threshold, who, issued, expires), [...new Set([...own, ...by])]);
}

export type Phase = 'prepare' | 'dual-publish' | 'cutover' | 'revoke' | 'compromise';

export interface KeyEntry {
  name: string;
  id: string;
  supersedes: string | null;
  algorithm: string;
  phase: Phase;
  kcv: string | null;
  notBefore?: string;
  [extra: string]: unknown;
}

const NAMES: Record<string, string> = { webhook: 'WEBHOOK_SIGNING_SECRET', master: 'MASTER_KEY', jwt: 'JWT_SIGNING_SECRET', redis: 'REDIS_AUTH_TOKEN' };

/** A key entry: name from the id's prefix, supersedes the version before (null for v1) unless given. */
export function entry(phase: Phase, id: string, over: Partial<KeyEntry> = {}): KeyEntry {
  const m = /^(.*)-v(\d+)$/.exec(id) as RegExpExecArray;
  const [prefix, version] = [m[1] as string, Number(m[2])];
  return { name: NAMES[prefix] ?? prefix.toUpperCase().replace(/-/g, '_'), id, supersedes: version > 1 ? `${prefix}-v${version - 1}` : null, algorithm: prefix === 'master' ? 'AES-256-GCM' : 'HMAC-SHA256', phase, kcv: null, ...over };
}

export interface Step {
  keys: KeyEntry[];
  /** Day of `issued`; by default the step's index + 1 (one manifest a day). */
  day?: number;
  custodianSet?: number;
  signers?: Key[];
  actor?: string;
  /** Members of the payload to replace (sequence, previous, expires…). */
  over?: Record<string, unknown>;
}

/** The payload of each step: sequence i+1, previous the digest of the one before, notBefore = issued unless the entry says. */
export function chain(steps: readonly Step[]): RawEnvelope[] {
  const out: RawEnvelope[] = [];
  steps.forEach((s, i) => {
    const issued = day(s.day ?? i + 1);
    const payload = { spec: 'keyceremony/rotation-manifest@1', ceremony: `rotation-${i + 1}`, sequence: i + 1, previous: i === 0 ? null : digest(out[i - 1] as RawEnvelope),
      custodianSet: s.custodianSet ?? 1, issued, expires: day((s.day ?? i + 1) + 60), actor: s.actor ?? 'alice',
      keys: s.keys.map((k) => ({ ...k, notBefore: k.notBefore ?? issued })), artifacts: [], ...s.over };
    out.push(envelope(TYPES.rotation, payload, s.signers ?? [K.alice, K.bob]));
  });
  return out;
}

/** The life of webhook v1 → v2: entered (prepare, dual-publish, cutover), rotated, and v1 revoked. Seven manifests, days 1..7. */
export function lifecycle(): Step[] {
  return [
    { keys: [entry('prepare', 'webhook-v1')] },
    { keys: [entry('dual-publish', 'webhook-v1')] },
    { keys: [entry('cutover', 'webhook-v1')] },
    { keys: [entry('prepare', 'webhook-v2')] },
    { keys: [entry('dual-publish', 'webhook-v2')] },
    { keys: [entry('cutover', 'webhook-v2')] },
    { keys: [entry('revoke', 'webhook-v2')] },
  ];
}

export interface RunOptions {
  at?: string;
  sets?: RawEnvelope[];
  rootDigest?: string;
}

export function run(manifests: readonly (RawEnvelope | Uint8Array | string)[], o: RunOptions = {}): KeyStateResult {
  const toBytes = (d: RawEnvelope | Uint8Array | string) => (d instanceof Uint8Array ? d : bytes(d));
  return keyState((o.sets ?? [SET1]).map(toBytes), manifests.map(toBytes), { at: ms(o.at ?? day(100)), rootDigest: o.rootDigest });
}

export const codes = (lines: readonly string[]): string[] => lines.map((l) => l.split(':')[0] as string);
/** `CODE: path` of each line. */
export const where = (lines: readonly string[]): string[] => lines.map((l) => l.split(': ').slice(0, 2).join(': '));
