import { isKeyceremonyError } from '../../errors.js';
import type { KeyceremonyError } from '../../errors.js';
import { describeLibrary } from '../../pkcs11/module.js';
import type { Pkcs11Module } from '../../pkcs11/module.js';
import { listTokens, mechanisms } from '../../pkcs11/tokens.js';
import type { MechanismCapability, Token, TokenFlags } from '../../pkcs11/tokens.js';
import { parsePkcs11Uri } from '../../pkcs11/uri.js';
import { COMMON_OPTIONS, MODULE_PARAMS_OPTION, parse, TOKEN_OPTIONS } from '../args.js';
import { openModule } from '../context.js';
import { writeJson, writeLines } from '../io.js';
import type { Io, Warnings } from '../io.js';

export const TOKENS_USAGE = 'keyceremony tokens [--module PATH [--module-params STRING]] [URI ...] [--json]';

/** What a URI's token= and serial= narrow its library's list to. */
interface Narrow { readonly label: string | undefined; readonly serial: string | undefined }

/** A library asked for, opened or not, and the tokens it shows (narrowed by the URIs that named it). */
interface Listed {
  readonly path: string;
  readonly mod: Pkcs11Module | null;
  readonly error: KeyceremonyError | null;
  readonly tokens: readonly Token[];
}

/**
 * `keyceremony tokens`: every token with its flags and capabilities; needs no PIN. The default
 * library (CLI.md: --module, else KEYCEREMONY_PKCS11_MODULE, else SoftHSM2) and, for each URI given,
 * the library its `module-path` names (a room's HSM vendor library and its card middleware side by
 * side, each token under its library); a URI's token= or serial= lists only that token of its
 * library. A library that will not open is reported with its code and fix (its error line on
 * stderr, `error` in --json) while the others are still listed, and the command exits non-zero.
 * Labels, serials, manufacturers and models come from the devices, so they are printed only
 * through writeJson and writeLines (a card can be labelled with escape sequences).
 */
export async function tokensCommand(argv: readonly string[], io: Io, warnings: Warnings): Promise<number> {
  const { values, positionals } = parse(argv, { ...COMMON_OPTIONS, module: TOKEN_OPTIONS.module, ...MODULE_PARAMS_OPTION }, { min: 0, max: 64, usage: TOKENS_USAGE });
  const uris = positionals.map((p) => parsePkcs11Uri(p));
  if (uris.length === 0) return single(io, openModule(io, warnings, values), values.json === true);
  // each library once: the default one when it is named (--module, the environment) or a URI without module-path asks for it, then each URI's module-path
  const groups = new Map<string | null, readonly Narrow[] | 'all'>();
  for (const u of uris) {
    const key = u.modulePath ?? null;
    const n: Narrow | 'all' = u.token === undefined && u.serial === undefined ? 'all' : { label: u.token, serial: u.serial };
    const had = groups.get(key);
    groups.set(key, n === 'all' || had === 'all' ? 'all' : [...(had ?? []), n]);
  }
  const defaultNamed = values.module !== undefined || (io.env.KEYCEREMONY_PKCS11_MODULE ?? '') !== '';
  const wanted: [string | null, readonly Narrow[] | 'all'][] = [...(groups.has(null) || defaultNamed ? [[null, groups.get(null) ?? 'all'] as [null, readonly Narrow[] | 'all']] : []), ...[...groups].filter(([k]) => k !== null)];
  const listed: Listed[] = [];
  for (const [path, which] of wanted) {
    let mod: Pkcs11Module;
    try {
      mod = openModule(io, warnings, values, path ?? undefined);
    } catch (err) {
      if (!isKeyceremonyError(err)) throw err;
      listed.push({ path: path ?? values.module ?? io.env.KEYCEREMONY_PKCS11_MODULE ?? '(the default library)', mod: null, error: err, tokens: [] });
      continue;
    }
    if (listed.some((l) => l.mod === mod)) continue; // the same library named twice (or by a link): listed once
    const all = listTokens(mod);
    const tokens = which === 'all' ? all : all.filter((t) => which.some((w) => (w.label === undefined || t.label === w.label) && (w.serial === undefined || t.info.serial === w.serial)));
    listed.push({ path: mod.path, mod, error: null, tokens });
  }
  const failed = listed.filter((l) => l.error !== null);
  // CLI.md's error line, one for each library that would not open (writeLines makes each one line, sanitised)
  writeLines(io.stderr, failed.map((l) => { const e = l.error as KeyceremonyError; return `keyceremony: ${e.code}: ${e.message}; ${e.fix}`; }));
  if (values.json === true) {
    const first = listed[0]?.mod ?? null;
    writeJson(io, {
      module: first === null ? null : moduleJson(first),
      libraries: listed.map((l) => (l.mod === null ? { path: l.path, error: { code: l.error?.code, message: l.error?.message, fix: l.error?.fix } } : { ...moduleJson(l.mod), error: null })),
      tokens: listed.flatMap((l) => l.tokens.map((t) => ({ ...tokenJson(t), library: l.path }))),
    }, 2);
  } else {
    writeLines(io.stdout, listed.flatMap((l, i) => [...(i === 0 ? [] : ['']), ...(l.mod === null ? [`module ${l.path}: not opened (${l.error?.code ?? ''})`] : describe(l.mod, l.tokens))]));
  }
  return failed.length === 0 ? 0 : Math.max(...failed.map((l) => (l.error as KeyceremonyError).exit));
}

/** One library, as the command always listed it. */
function single(io: Io, mod: Pkcs11Module, json: boolean): number {
  const tokens = listTokens(mod);
  if (json) {
    // the shape of a listing of several libraries, so a reader need not tell the two apart
    writeJson(io, { module: moduleJson(mod), libraries: [{ ...moduleJson(mod), error: null }], tokens: tokens.map((t) => ({ ...tokenJson(t), library: mod.path })) }, 2);
    return 0;
  }
  writeLines(io.stdout, describe(mod, tokens));
  return 0;
}

function moduleJson(mod: Pkcs11Module): object {
  return { path: mod.path, ...mod.info, simulation: mod.isSoftHsm, implementation: mod.implementation };
}

function tokenJson(t: Token): object {
  return { ...t.info, mechanisms: mechanisms(t).map((m) => ({ ...m, id: `0x${m.id.toString(16).padStart(8, '0')}` })) };
}

function describe(mod: Pkcs11Module, tokens: readonly Token[]): string[] {
  const lines = [`module ${mod.path}: ${mod.info.manufacturer} ${mod.info.description} ${mod.info.libraryVersion} (Cryptoki ${mod.info.cryptokiVersion})`];
  if (tokens.length === 0) lines.push('no token present');
  for (const t of tokens) {
    const caps = mechanisms(t);
    lines.push('', `token "${t.label}"  serial ${t.info.serial}  ${t.info.manufacturer} ${t.info.model}`, `  library ${describeLibrary(mod)}`, `  flags: ${describeFlags(t.info.flags)}`,
      `  PIN length ${t.info.minPinLength}..${t.info.maxPinLength}`, `  mechanisms (${caps.length}):`, ...describeMechanisms(caps));
  }
  return lines;
}

function describeFlags(f: TokenFlags): string {
  const on = Object.entries(f).filter(([, v]) => v).map(([k]) => k);
  if (!f.initialized) return 'not initialised';
  return on.join(', ');
}

function describeMechanisms(ms: readonly MechanismCapability[]): string[] {
  return ms.map((m) => {
    const sizes = m.maxKeySize > 0 ? ` keys ${m.minKeySize}..${m.maxKeySize}` : '';
    return `    ${m.name.padEnd(32)} ${m.flags.join(',')}${sizes}`;
  });
}
