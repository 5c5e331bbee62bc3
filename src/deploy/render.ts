/**
 * What the application reads, in the three forms `keyceremony deploy` writes, built in byte
 * buffers (never JavaScript strings, which cannot be zeroed) that the caller zeroes once written.
 *
 * One encoding everywhere: a secret's value is the **lowercase hex** of its bytes (FORMATS.md §1
 * writes all hex lowercase). The binding is over the raw bytes and a sealed file's plaintext is
 * exactly those bytes; hex is applied only here, and the application decodes it (Python
 * `bytes.fromhex`, Go `hex.DecodeString`, Node `Buffer.from(v, 'hex')`). Hex rather than
 * base64url because it needs no quoting in any env-file dialect, YAML or shell, cannot begin with
 * `-`, and is the project's encoding for every other byte string. The value is the same in every
 * form, so an application reads one thing however it is deployed:
 *
 * - `env`: lines `NAME=<hex>` and `NAME_ID=<id>` (no quotes; `#` comment lines first), for
 *   `docker --env-file`, systemd `EnvironmentFile=` and dotenv loaders;
 * - `files`: one file per variable, named as the variable, holding exactly the value (no newline),
 *   as a mounted Kubernetes Secret or a Docker secret presents it;
 * - `k8s`: a `v1` `Secret` whose `data` holds each value base64-encoded (Kubernetes' own encoding
 *   of data, undone by Kubernetes): mounted, it gives the `files` form; with `envFrom`, the `env` one.
 *
 * Ids (`webhook-v4`) are ASCII by the manifest's rule and written as they are.
 */
import { base64Into, base64Length } from '../age/base64.js';
import { zero } from '../bytes.js';
import type { Plan } from './plan.js';

export const FORMATS = ['env', 'files', 'k8s'] as const;
export type Format = (typeof FORMATS)[number];
export const ENCODING = 'hex';

/** One variable and the exact bytes the application reads for it. */
export interface Entry {
  readonly variable: string;
  readonly value: Uint8Array;
}

/** What the outputs say of their origin (no secret). */
export interface Origin {
  readonly at: string;
  readonly sequence: number;
  readonly tip: string;
}

const HEX = new TextEncoder().encode('0123456789abcdef');
const ascii = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));

/** Lowercase hex of `secret`, as ASCII bytes. */
export function hexBytes(secret: Uint8Array): Uint8Array {
  const out = new Uint8Array(secret.length * 2);
  for (let i = 0; i < secret.length; i++) {
    const b = secret[i] as number;
    out[2 * i] = HEX[b >>> 4] as number;
    out[2 * i + 1] = HEX[b & 15] as number;
  }
  return out;
}

/** The entries of the plan, in order NAME, NAME_ID, NAME_NEXT, NAME_NEXT_ID per name; `secrets` maps each surfaced id to its bytes. */
export function entriesOf(plan: Plan, secrets: ReadonlyMap<string, Uint8Array>): Entry[] {
  const out: Entry[] = [];
  for (const n of plan.names) {
    for (const [v, suffix] of [[n.current, ''], [n.next, '_NEXT']] as const) {
      if (v === null) continue;
      const secret = secrets.get(v.id);
      if (secret === undefined) throw new Error(`no secret was opened for ${v.id}`);
      out.push({ variable: `${n.name}${suffix}`, value: hexBytes(secret) }, { variable: `${n.name}${suffix}_ID`, value: ascii(v.id) });
    }
  }
  return out;
}

export function zeroEntries(entries: readonly Entry[]): void {
  for (const e of entries) zero(e.value);
}

/** The parts joined into one buffer; the parts are zeroed (some hold secrets). */
function join(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  zero(...parts);
  return out;
}

function comment(kind: string, o: Origin): string {
  return `# Written by keyceremony deploy (${kind}) from the rotation-manifest chain 1..${o.sequence}, tip ${o.tip}, at ${o.at}.\n`
    + `# Each secret is the lowercase hex of its bytes; NAME is the current version, NAME_NEXT the accepted next one, each with its id in NAME_ID / NAME_NEXT_ID.\n`;
}

export function renderEnv(entries: readonly Entry[], o: Origin): Uint8Array {
  const parts = [ascii(comment('env', o))];
  for (const e of entries) parts.push(ascii(`${e.variable}=`), Uint8Array.from(e.value), ascii('\n'));
  return join(parts);
}

/** A DNS-1123 subdomain (a Secret's name) or label (a namespace), as Kubernetes requires; else what is wrong. */
export function k8sNameProblem(s: string, kind: 'name' | 'namespace'): string | null {
  const label = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
  const max = kind === 'name' ? 253 : 63;
  const pattern = kind === 'name' ? new RegExp(`^${label}(\\.${label})*$`) : new RegExp(`^${label}$`);
  if (s.length === 0 || s.length > max) return `has ${s.length} characters (1 to ${max})`;
  if (!pattern.test(s)) return kind === 'name' ? 'is not a DNS subdomain (lowercase letters, digits, - and .)' : 'is not a DNS label (lowercase letters, digits and -)';
  return null;
}

export interface K8sMeta {
  readonly name: string;
  readonly namespace?: string | undefined;
}

/** A Kubernetes `v1` `Secret` manifest (YAML), every scalar double-quoted so no YAML reader retypes it (`"ON"` stays a string). */
export function renderK8s(entries: readonly Entry[], meta: K8sMeta, o: Origin): Uint8Array {
  for (const [v, kind] of [[meta.name, 'name'], [meta.namespace, 'namespace']] as const) {
    const why = v === undefined ? null : k8sNameProblem(v, kind);
    if (why !== null) throw new RangeError(`the Secret's ${kind} ${why}`);
  }
  const head = [comment('k8s', o), 'apiVersion: v1\n', 'kind: Secret\n', 'metadata:\n', `  name: "${meta.name}"\n`,
    ...(meta.namespace === undefined ? [] : [`  namespace: "${meta.namespace}"\n`]),
    '  annotations:\n', `    keyceremony/chain-tip: "${o.tip}"\n`, `    keyceremony/chain-sequence: "${o.sequence}"\n`, `    keyceremony/at: "${o.at}"\n`,
    'type: Opaque\n', entries.length === 0 ? 'data: {}\n' : 'data:\n'].join('');
  const parts = [ascii(head)];
  for (const e of entries) {
    const b64 = new Uint8Array(base64Length(e.value.length, true));
    base64Into(e.value, b64, 0, true);
    parts.push(ascii(`  "${e.variable}": "`), b64, ascii('"\n'));
  }
  return join(parts);
}
