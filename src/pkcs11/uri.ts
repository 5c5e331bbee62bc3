/**
 * PKCS#11 URIs (RFC 7512): `pkcs11:token=Master%20HSM;object=master-v7;type=secret-key`.
 * The parser is strict: unknown path attributes (other than vendor `x-` ones), duplicates,
 * characters the RFC requires to be percent-encoded, bad percent escapes and invalid UTF-8 are
 * refused. `pin-value` is refused outright (CLI.md: a PIN is never an argument), and so is
 * `slot-id` (tokens are chosen by label or serial: slot ids are not stable across hosts).
 */
import { usageError } from '../errors.js';

export type ObjectType = 'public' | 'private' | 'cert' | 'secret-key' | 'data';
const OBJECT_TYPES: readonly ObjectType[] = ['public', 'private', 'cert', 'secret-key', 'data'];

export interface Pkcs11Uri {
  readonly token?: string;
  readonly manufacturer?: string;
  readonly serial?: string;
  readonly model?: string;
  readonly object?: string;
  readonly type?: ObjectType;
  /** CKA_ID bytes, as lowercase hex. */
  readonly id?: string;
  readonly libraryManufacturer?: string;
  readonly libraryDescription?: string;
  readonly libraryVersion?: string;
  readonly slotDescription?: string;
  readonly slotManufacturer?: string;
  readonly modulePath?: string;
  readonly moduleName?: string;
  readonly pinSource?: string;
  readonly vendor?: Readonly<Record<string, string>>;
}

type Field = Exclude<keyof Pkcs11Uri, 'vendor'>;

// RFC 7512 §2.3: attribute name → model field, path part first, then query part.
const PATH_ATTRS: ReadonlyMap<string, Field> = new Map<string, Field>([
  ['token', 'token'], ['manufacturer', 'manufacturer'], ['serial', 'serial'], ['model', 'model'],
  ['object', 'object'], ['type', 'type'], ['id', 'id'],
  ['library-manufacturer', 'libraryManufacturer'], ['library-description', 'libraryDescription'],
  ['library-version', 'libraryVersion'], ['slot-description', 'slotDescription'],
  ['slot-manufacturer', 'slotManufacturer'],
]);
const QUERY_ATTRS: ReadonlyMap<string, Field> = new Map<string, Field>([
  ['module-path', 'modulePath'], ['module-name', 'moduleName'], ['pin-source', 'pinSource'],
]);

export const MAX_URI_LENGTH = 4096;

// RFC 7512 §2.3 pk11-pchar / pk11-qchar without pct-encoded (handled apart).
const UNRESERVED = 'A-Za-z0-9\\-._~';
const PATH_CHARS = new RegExp(`^[${UNRESERVED}:\\[\\]@!$'()*+,=]$`);
const QUERY_CHARS = new RegExp(`^[${UNRESERVED}:\\[\\]@!$'()*+,=/?|]$`);

function bad(message: string): never {
  throw usageError('URI_INVALID', message, 'write the PKCS#11 URI as in RFC 7512, e.g. pkcs11:token=Master%20HSM;object=master-v1;type=secret-key');
}

function pctDecode(raw: string, allowed: RegExp, attr: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i] as string;
    if (ch === '%') {
      const hex = raw.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) bad(`bad percent escape in "${attr}" at character ${i + 1}`);
      out.push(parseInt(hex, 16));
      i += 2;
    } else if (allowed.test(ch)) {
      out.push(ch.charCodeAt(0));
    } else {
      bad(`character ${JSON.stringify(ch)} in "${attr}" must be percent-encoded`);
    }
  }
  return Uint8Array.from(out);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeText(bytes: Uint8Array, attr: string): string {
  try {
    return utf8.decode(bytes);
  } catch {
    return bad(`"${attr}" is not valid UTF-8`);
  }
}

export function parsePkcs11Uri(input: unknown): Pkcs11Uri {
  if (typeof input !== 'string') bad('a PKCS#11 URI must be a string');
  if (input.length > MAX_URI_LENGTH) bad(`the URI is longer than ${MAX_URI_LENGTH} characters`);
  if (!/^pkcs11:/i.test(input)) bad('a PKCS#11 URI starts with "pkcs11:"');
  const rest = input.slice('pkcs11:'.length);
  const q = rest.indexOf('?');
  const pathPart = q < 0 ? rest : rest.slice(0, q);
  const queryPart = q < 0 ? '' : rest.slice(q + 1);
  const out: Record<string, unknown> = {};
  const vendor: Record<string, string> = {};
  const seen = new Set<string>();

  const take = (part: string, sep: string, known: ReadonlyMap<string, Field>, chars: RegExp, where: string): void => {
    if (part === '') return;
    for (const item of part.split(sep)) {
      const eq = item.indexOf('=');
      if (eq <= 0) bad(`"${item}" in the ${where} is not name=value`);
      const name = item.slice(0, eq).toLowerCase();
      if (seen.has(name)) bad(`attribute "${name}" appears twice`);
      seen.add(name);
      if (name === 'pin-value') {
        throw usageError('URI_PIN_VALUE_REFUSED', 'a PIN inside a PKCS#11 URI (pin-value) is refused: it would end up in shell history and process lists', 'remove pin-value; give the PIN with --pin-env NAME or at the prompt');
      }
      if (name === 'slot-id') {
        throw usageError('URI_SLOT_ID_REFUSED', 'tokens are never chosen by numeric slot id: slot ids change between hosts and reboots', 'name the token with token=LABEL or serial=SERIAL');
      }
      const bytes = pctDecode(item.slice(eq + 1), chars, name);
      const field = known.get(name);
      if (field === 'id') {
        out.id = Buffer.from(bytes).toString('hex');
        continue;
      }
      const text = decodeText(bytes, name);
      if (field !== undefined) {
        if (field === 'type' && !(OBJECT_TYPES as readonly string[]).includes(text)) {
          bad(`type must be one of ${OBJECT_TYPES.join(', ')}, got ${JSON.stringify(text)}`);
        }
        out[field] = text;
      } else if (/^x-[a-z0-9-]+$/.test(name)) {
        vendor[name] = text;
      } else {
        bad(`unknown ${where} attribute "${name}"`);
      }
    }
  };
  take(pathPart, ';', PATH_ATTRS, PATH_CHARS, 'path');
  take(queryPart, '&', QUERY_ATTRS, QUERY_CHARS, 'query');
  if (Object.keys(vendor).length > 0) out.vendor = Object.freeze(vendor);
  return Object.freeze(out) as Pkcs11Uri;
}

function pctEncode(bytes: Uint8Array, keep: RegExp): string {
  let s = '';
  for (const b of bytes) {
    const ch = String.fromCharCode(b);
    s += b < 0x80 && keep.test(ch) ? ch : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return s;
}

// Conservative: only unreserved characters stay literal, so the output parses everywhere.
const SAFE = new RegExp(`^[${UNRESERVED}]$`);
const SAFE_QUERY = new RegExp(`^[${UNRESERVED}/]$`);

export function formatPkcs11Uri(uri: Pkcs11Uri): string {
  const path: string[] = [];
  for (const [name, field] of PATH_ATTRS) {
    const v = uri[field];
    if (v === undefined) continue;
    const bytes = field === 'id' ? Buffer.from(v, 'hex') : Buffer.from(v, 'utf8');
    path.push(`${name}=${field === 'id' ? pctEncode(bytes, /^$/) : pctEncode(bytes, SAFE)}`);
  }
  for (const [name, v] of Object.entries(uri.vendor ?? {})) path.push(`${name}=${pctEncode(Buffer.from(v, 'utf8'), SAFE)}`);
  const query: string[] = [];
  for (const [name, field] of QUERY_ATTRS) {
    const v = uri[field];
    if (v !== undefined) query.push(`${name}=${pctEncode(Buffer.from(v, 'utf8'), SAFE_QUERY)}`);
  }
  return `pkcs11:${path.join(';')}${query.length > 0 ? `?${query.join('&')}` : ''}`;
}
