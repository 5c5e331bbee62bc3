/** Strict option parsing on node:util parseArgs: unknown options and missing values are usage errors (exit 2). */
import { parseArgs } from 'node:util';
import { usageError } from '../errors.js';

export type OptionSpec = Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>;

export const COMMON_OPTIONS = {
  json: { type: 'boolean' },
  debug: { type: 'boolean' },
  help: { type: 'boolean' },
  force: { type: 'boolean' },
} as const satisfies OptionSpec;

export const TOKEN_OPTIONS = {
  module: { type: 'string' },
  'pin-env': { type: 'string' },
} as const satisfies OptionSpec;

/**
 * `--module-params STRING` (CLI.md): the default library's initialization parameters. Only the
 * commands that pass it on take it; the others read KEYCEREMONY_PKCS11_MODULE_PARAMS.
 */
export const MODULE_PARAMS_OPTION = {
  'module-params': { type: 'string' },
} as const satisfies OptionSpec;

/** Options that look like a PIN get their own refusal: a PIN is never an argument (CLI.md). */
const PIN_LIKE = /^--?(pin|user-pin|so-pin|password|passphrase)(=|$)/i;

export interface Parsed<O extends OptionSpec> {
  readonly values: { [K in keyof O]?: O[K]['type'] extends 'boolean' ? boolean : O[K]['multiple'] extends true ? string[] : string };
  readonly positionals: string[];
}

export function parse<O extends OptionSpec>(argv: readonly string[], options: O, positionals: { min: number; max: number; usage: string }): Parsed<O> {
  const pinLike = argv.find((a) => PIN_LIKE.test(a));
  if (pinLike !== undefined) {
    throw usageError('PIN_ON_COMMAND_LINE', `${pinLike.split('=')[0] ?? pinLike} is refused: a PIN on the command line ends up in shell history and process lists`,
      'give the PIN with --pin-env NAME (the name of an environment variable) or type it at the prompt');
  }
  let result;
  try {
    result = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true, tokens: true });
  } catch (err) {
    const text = err instanceof Error ? err.message.split('\n')[0] ?? '' : String(err);
    throw usageError('USAGE', text.replace(/\.$/, ''), `usage: ${positionals.usage}`, err);
  }
  // an option that takes one value, given twice, would silently keep the last: which time, which pinned root, which output is then a guess
  const seen = new Map<string, number>();
  for (const t of result.tokens) {
    if (t.kind !== 'option' || options[t.name]?.type !== 'string' || options[t.name]?.multiple === true) continue;
    const n = (seen.get(t.name) ?? 0) + 1;
    seen.set(t.name, n);
    if (n === 2) throw usageError('USAGE', `--${t.name} is given more than once`, `give --${t.name} once; usage: ${positionals.usage}`);
  }
  const pos = result.positionals;
  if (pos.length < positionals.min) throw usageError('USAGE', 'a required argument is missing', `usage: ${positionals.usage}`);
  if (pos.length > positionals.max) throw usageError('USAGE', `unexpected argument ${JSON.stringify(pos[positionals.max])}`, `usage: ${positionals.usage}`);
  return { values: result.values as Parsed<O>['values'], positionals: pos };
}

/**
 * `--LIST FILE [FILE ...]` (CLI.md `state`'s `--manifests`): the files after that option up to the
 * next option, which may be repeated; any other bare argument is a usage error, so a file given in
 * the wrong place is never silently read as one of the list.
 */
export function parseWithFileList<O extends OptionSpec>(argv: readonly string[], options: O, list: keyof O & string, usage: string): { values: Parsed<O>['values']; paths: string[] } {
  const { values } = parse(argv, options, { min: 0, max: Number.MAX_SAFE_INTEGER, usage }); // usage errors, PIN-like options
  const { tokens } = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true, tokens: true });
  const paths: string[] = [];
  let afterList = false;
  for (const t of tokens) {
    if (t.kind === 'option') {
      afterList = t.name === list;
      if (afterList && t.value !== undefined) paths.push(t.value);
    } else if (t.kind === 'positional') {
      if (!afterList) throw usageError('USAGE', `unexpected argument ${JSON.stringify(t.value)}`, `usage: ${usage}`);
      paths.push(t.value);
    }
  }
  return { values, paths };
}
