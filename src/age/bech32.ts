/**
 * Bech32 (BIP-173, checksum constant 1; not Bech32m) as age uses it for X25519 keys: recipients
 * `age1…` (lowercase) and identities `AGE-SECRET-KEY-1…` (uppercase). Strict: one case per string,
 * every data character in the charset, a valid checksum, and the 5-to-8-bit conversion leaves at
 * most 4 zero bits of padding. age does not apply BIP-173's 90-character limit (its plugin names
 * can be longer); the caller bounds the length for each kind of key.
 */

const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const GENERATOR = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3] as const;

function polymod(values: readonly number[]): number {
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if (((top >>> i) & 1) === 1) chk ^= GENERATOR[i] as number;
  }
  return chk >>> 0;
}

function hrpExpand(hrp: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < hrp.length; i++) out.push(hrp.charCodeAt(i) >>> 5);
  out.push(0);
  for (let i = 0; i < hrp.length; i++) out.push(hrp.charCodeAt(i) & 31);
  return out;
}

/**
 * Regroups bits from `from`-bit to `to`-bit values. With `pad`, a last partial group is padded
 * with zeros; without it, leftover bits must be fewer than `from` and all zero (else null).
 */
function convertBits(data: ArrayLike<number>, from: number, to: number, pad: boolean): number[] | null {
  let acc = 0;
  let bits = 0;
  const out: number[] = [];
  const max = (1 << to) - 1;
  for (let i = 0; i < data.length; i++) {
    const v = data[i] as number;
    acc = ((acc << from) | v) & 0xffff;
    bits += from;
    while (bits >= to) {
      bits -= to;
      out.push((acc >>> bits) & max);
    }
  }
  if (pad) {
    if (bits > 0) out.push((acc << (to - bits)) & max);
  } else if (bits >= from || ((acc << (to - bits)) & max) !== 0) {
    return null;
  }
  return out;
}

/** `hrp` and `data` as a Bech32 string, lowercase, or uppercase when `upper`. */
export function bech32Encode(hrp: string, data: Uint8Array, upper = false): string {
  const lower = hrp.toLowerCase();
  const five = convertBits(data, 8, 5, true) as number[];
  const values = [...hrpExpand(lower), ...five, 0, 0, 0, 0, 0, 0];
  const mod = polymod(values) ^ 1;
  for (let i = 0; i < 6; i++) five.push((mod >>> (5 * (5 - i))) & 31);
  const s = `${lower}1${five.map((v) => CHARSET[v]).join('')}`;
  five.fill(0);
  values.fill(0);
  return upper ? s.toUpperCase() : s;
}

/**
 * The human-readable part (as written, in its case) and the data bytes of a Bech32 string, or null
 * when it is not one. The caller compares the part exactly, which fixes the case of each kind.
 */
export function bech32Decode(s: string, maxLength: number): { hrp: string; data: Uint8Array } | null {
  if (s.length > maxLength) return null;
  const lower = s.toLowerCase();
  if (s !== lower && s !== s.toUpperCase()) return null;
  const at = lower.lastIndexOf('1');
  if (at < 1 || at + 7 > lower.length) return null;
  for (let i = 0; i < at; i++) {
    const c = lower.charCodeAt(i);
    if (c < 33 || c > 126) return null;
  }
  const values: number[] = [];
  for (let i = at + 1; i < lower.length; i++) {
    const v = CHARSET.indexOf(lower[i] as string);
    if (v < 0) return null;
    values.push(v);
  }
  const hrp = lower.slice(0, at);
  if (polymod([...hrpExpand(hrp), ...values]) !== 1) return null;
  const bytes = convertBits(values.slice(0, -6), 5, 8, false);
  values.fill(0);
  if (bytes === null) return null;
  const data = Uint8Array.from(bytes);
  bytes.fill(0);
  return { hrp: s.slice(0, at), data };
}
