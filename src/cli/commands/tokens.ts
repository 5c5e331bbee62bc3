import { COMMON_OPTIONS, MODULE_PARAMS_OPTION, parse, TOKEN_OPTIONS } from '../args.js';
import { openModule } from '../context.js';
import { writeJson, writeLines } from '../io.js';
import type { Io, Warnings } from '../io.js';
import { listTokens, mechanisms } from '../../pkcs11/tokens.js';
import type { MechanismCapability, TokenFlags } from '../../pkcs11/tokens.js';

export const TOKENS_USAGE = 'keyceremony tokens [--module PATH [--module-params STRING]] [--json]';

/**
 * `keyceremony tokens`: every token with its flags and capabilities; needs no PIN. Labels, serials,
 * manufacturers and models come from the devices, so they are printed only through writeJson and
 * writeLines (a card can be labelled with escape sequences).
 */
export async function tokensCommand(argv: readonly string[], io: Io, warnings: Warnings): Promise<number> {
  const { values } = parse(argv, { ...COMMON_OPTIONS, module: TOKEN_OPTIONS.module, ...MODULE_PARAMS_OPTION }, { min: 0, max: 0, usage: TOKENS_USAGE });
  const mod = openModule(io, warnings, values);
  const tokens = listTokens(mod).map((t) => ({ ...t.info, mechanisms: mechanisms(t) }));
  if (values.json === true) {
    writeJson(io, {
      module: { path: mod.path, ...mod.info, simulation: mod.isSoftHsm },
      tokens: tokens.map((t) => ({ ...t, mechanisms: t.mechanisms.map((m) => ({ ...m, id: `0x${m.id.toString(16).padStart(8, '0')}` })) })),
    }, 2);
    return 0;
  }
  const lines = [`module ${mod.path}: ${mod.info.manufacturer} ${mod.info.description} ${mod.info.libraryVersion} (Cryptoki ${mod.info.cryptokiVersion})`];
  if (tokens.length === 0) lines.push('no token present');
  for (const t of tokens) {
    lines.push('', `token "${t.label}"  serial ${t.serial}  ${t.manufacturer} ${t.model}`, `  flags: ${describeFlags(t.flags)}`, `  PIN length ${t.minPinLength}..${t.maxPinLength}`,
      `  mechanisms (${t.mechanisms.length}):`, ...describeMechanisms(t.mechanisms));
  }
  writeLines(io.stdout, lines);
  return 0;
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
