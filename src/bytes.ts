/** Byte helpers with validation at the boundary (noble style: TypeError for type, RangeError for length). */
import { timingSafeEqual } from 'node:crypto';

export function ensureBytes(name: string, value: unknown, length?: number): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new TypeError(`"${name}" expected Uint8Array, got ${value === null ? 'null' : typeof value}`);
  }
  if (length !== undefined && value.length !== length) {
    throw new RangeError(`"${name}" expected ${length} bytes, got ${value.length}`);
  }
  return value;
}

const HEX_RE = /^(?:[0-9a-f]{2})*$/;

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Lowercase hex only (FORMATS.md §1); anything else is refused rather than guessed. */
export function fromHex(name: string, hex: string): Uint8Array {
  if (typeof hex !== 'string') throw new TypeError(`"${name}" expected hex string, got ${typeof hex}`);
  if (!HEX_RE.test(hex)) throw new RangeError(`"${name}" is not lowercase hex of whole bytes`);
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

/** Constant-time comparison for digests and key material; unequal lengths are simply unequal. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Overwrite a secret buffer. JavaScript cannot promise that no copy exists elsewhere (see README). */
export function zero(...buffers: (Uint8Array | undefined | null)[]): void {
  for (const b of buffers) b?.fill(0);
}
