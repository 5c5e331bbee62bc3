/**
 * NSS softokn's initialization parameters (KMS-NOTES.md, "A second PKCS#11 implementation"), for
 * throw-away rehearsal tokens: NSS takes no C_InitToken label and keeps no token list of its own;
 * each database token, its folder and its label come from the string passed to C_Initialize
 * (`tokens=<slot=[configDir=… tokenDescription=…] …>`, NSS lib/softoken/sftkpars.c). One process
 * initialises a library once, so every NSS token of a run is named in the one string.
 *
 * NSS values are quoted ('…', […], <…>) and a backslash takes the next character literally; each
 * level of nesting removes one level of escapes, so a value is escaped once for each level it sits in.
 */
/** NSS's first slot for database tokens beyond its own two (SFTK_MIN_USER_SLOT_ID), and its last (SFTK_MAX_USER_SLOT_ID). */
const FIRST_USER_SLOT = 4;
const LAST_USER_SLOT = 100;

/** `s` escaped for a value that ends at `end` (NSS: `\` before any character keeps it literal). */
function escapeFor(s: string, end: string): string {
  return s.replace(new RegExp(`[\\\\${end === ']' ? '\\]' : end}]`, 'g'), (c) => `\\${c}`);
}

export interface NssDatabaseToken {
  /** The absolute path of the token's database folder (sql: format, made on first use). */
  readonly dir: string;
  /** The token's label, 1 to 32 bytes. */
  readonly label: string;
}

/**
 * The C_Initialize string for NSS database tokens in these folders, with these labels: the first in
 * NSS's own key slot (2), the others in slots 4, 5, …; slot 1 stays NSS's session-only crypto slot.
 */
export function nssDatabaseParams(tokens: readonly NssDatabaseToken[]): string {
  if (tokens.length === 0 || tokens.length > LAST_USER_SLOT - FIRST_USER_SLOT + 2) throw new RangeError(`"tokens" expected 1 to ${LAST_USER_SLOT - FIRST_USER_SLOT + 2} NSS tokens, got ${tokens.length}`);
  for (const t of tokens) {
    if (!t.dir.startsWith('/') || t.dir.includes('\0')) throw new TypeError(`"dir" expected an absolute path, got ${JSON.stringify(t.dir)}`);
    const bytes = Buffer.byteLength(t.label, 'utf8');
    if (bytes === 0 || bytes > 32 || /[\u0000-\u001f\u007f]/.test(t.label)) throw new RangeError(`"label" expected 1 to 32 printable bytes, got ${JSON.stringify(t.label)}`);
  }
  // innermost value in '…', inside […], inside <…>: escaped for each level, from the inside out
  const value = (s: string): string => `'${escapeFor(s, "'")}'`;
  const slot = (t: NssDatabaseToken): string => escapeFor(`configDir=${value(`sql:${t.dir}`)} tokenDescription=${value(t.label)}`, ']');
  const slots = tokens.map((t, i) => `0x${(i === 0 ? 2 : FIRST_USER_SLOT + i - 1).toString(16).padStart(2, '0')}=[${slot(t)}]`);
  const list = escapeFor(['0x01=[flags=noCertDB,noKeyDB,readOnly]', ...slots].join(' '), '>');
  const first = tokens[0] as NssDatabaseToken;
  return `configdir=${value(`sql:${first.dir}`)} certPrefix='' keyPrefix='' secmod='secmod.db' flags= tokens=<${list}>`;
}

