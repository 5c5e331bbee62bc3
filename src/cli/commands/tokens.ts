import { COMMON_OPTIONS, parse, TOKEN_OPTIONS } from '../args.js';
import { openModule } from '../context.js';
import type { Io, Warnings } from '../io.js';
import { listTokens, mechanisms } from '../../pkcs11/tokens.js';
import type { MechanismCapability, TokenFlags } from '../../pkcs11/tokens.js';

export const TOKENS_USAGE = 'keyceremony tokens [--module PATH] [--json]';

/** `keyceremony tokens`: every token with its flags and capabilities; needs no PIN. */
export async function tokensCommand(argv: readonly string[], io: Io, warnings: Warnings): Promise<number> {
  const { values } = parse(argv, { ...COMMON_OPTIONS, module: TOKEN_OPTIONS.module }, { min: 0, max: 0, usage: TOKENS_USAGE });
  const mod = openModule(io, warnings, values.module);
  const tokens = listTokens(mod).map((t) => ({ ...t.info, mechanisms: mechanisms(t) }));
  if (values.json === true) {
    const out = {
      module: { path: mod.path, ...mod.info, simulation: mod.isSoftHsm },
      tokens: tokens.map((t) => ({ ...t, mechanisms: t.mechanisms.map((m) => ({ ...m, id: `0x${m.id.toString(16).padStart(8, '0')}` })) })),
    };
    io.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return 0;
  }
  io.stdout.write(`module ${mod.path}: ${mod.info.manufacturer} ${mod.info.description} ${mod.info.libraryVersion} (Cryptoki ${mod.info.cryptokiVersion})\n`);
  if (tokens.length === 0) io.stdout.write('no token present\n');
  for (const t of tokens) {
    io.stdout.write(`\ntoken "${t.label}"  serial ${t.serial}  ${t.manufacturer} ${t.model}\n`);
    io.stdout.write(`  flags: ${describeFlags(t.flags)}\n`);
    io.stdout.write(`  PIN length ${t.minPinLength}..${t.maxPinLength}\n`);
    io.stdout.write(`  mechanisms (${t.mechanisms.length}):\n${describeMechanisms(t.mechanisms)}`);
  }
  return 0;
}

function describeFlags(f: TokenFlags): string {
  const on = Object.entries(f).filter(([, v]) => v).map(([k]) => k);
  if (!f.initialized) return 'not initialised';
  return on.join(', ');
}

function describeMechanisms(ms: readonly MechanismCapability[]): string {
  return ms.map((m) => {
    const sizes = m.maxKeySize > 0 ? ` keys ${m.minKeySize}..${m.maxKeySize}` : '';
    return `    ${m.name.padEnd(32)} ${m.flags.join(',')}${sizes}\n`;
  }).join('');
}
