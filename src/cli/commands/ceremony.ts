/**
 * `keyceremony ceremony template|validate|run` (issue 7). CLI.md does not define these; they follow
 * its common rules. A real run needs a profile (each token's library and its parameters, PIN
 * sources), a passed rehearsal of this very script (by SHA-256) unless --no-rehearsal, and no
 * network; a rehearsal runs on throw-away tokens in its folder (SoftHSM2, or NSS softokn for a
 * token the profile given with --profile puts there: issue 16) and records the script's digest
 * when it passes.
 */
import { dirname, join, resolve } from 'node:path';
import { networkInterfacesUp } from '../../ceremony/airgap.js';
import type { Question } from '../../ceremony/context.js';
import { preflightRun, runCeremony } from '../../ceremony/engine.js';
import type { ResolvedToken } from '../../ceremony/engine.js';
import { libraryLines, openProfile, parseProfile } from '../../ceremony/profile.js';
import type { CeremonyProfile } from '../../ceremony/profile.js';
import { openRehearsalTokens, recordRehearsal } from '../../ceremony/rehearsal.js';
import { parseScript } from '../../ceremony/script.js';
import type { CeremonyScript } from '../../ceremony/script.js';
import { TEMPLATES, templateText } from '../../ceremony/templates.js';
import { zero } from '../../bytes.js';
import { formatTime } from '../../docs/fields.js';
import { DocumentError, formatProblem } from '../../docs/problems.js';
import { usageError } from '../../errors.js';
import { readInput, writeFileAtomic } from '../../files.js';
import { ceremonyPreflight } from '../../usecases/preflight.js';
import type { NetworkInterface } from '../../usecases/preflight.js';
import type { Token } from '../../pkcs11/tokens.js';
import { COMMON_OPTIONS, parse } from '../args.js';
import type { OptionSpec } from '../args.js';
import { writeJson, writeLines, writeText } from '../io.js';
import type { Io, Warnings } from '../io.js';
import { readPin } from '../pin.js';
import { askWitness } from '../witness.js';

export const CEREMONY_USAGE = 'keyceremony ceremony template NAME [--out FILE] | ceremony validate SCRIPT [--json] | ceremony run SCRIPT --dir DIR (--rehearse [--allow-network] [--yes] [--profile FILE] | --profile FILE [--no-rehearsal]) [--inputs DIR] [--rehearsals FILE]';

function readScript(path: string): { script: CeremonyScript; bytes: Uint8Array } {
  const bytes = readInput(path, 'the ceremony script', 256 * 1024);
  return { script: parseScript(bytes), bytes };
}

export async function ceremonyCommand(argv: readonly string[], io: Io, _w: Warnings): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'template') return templateCommand(rest, io);
  if (sub === 'validate') return validateCommand(rest, io);
  if (sub !== 'run') throw usageError('USAGE', `unknown subcommand ${JSON.stringify(sub ?? '')}`, `usage: ${CEREMONY_USAGE}`);
  return runCommand(rest, io, networkInterfacesUp());
}

function templateCommand(argv: readonly string[], io: Io): number {
  const { values, positionals } = parse(argv, { ...COMMON_OPTIONS, out: { type: 'string' } }, { min: 1, max: 1, usage: CEREMONY_USAGE });
  const text = templateText(positionals[0] as string);
  if (text === undefined) throw usageError('CEREMONY_TEMPLATE_UNKNOWN', `no template ${JSON.stringify(positionals[0])}`, `templates: ${Object.keys(TEMPLATES).join(', ')}`);
  if (values.out === undefined) io.stdout.write(text);
  else writeFileAtomic(resolve(values.out), text, values.force === true);
  return 0;
}

function validateCommand(argv: readonly string[], io: Io): number {
  const { values, positionals } = parse(argv, { ...COMMON_OPTIONS }, { min: 1, max: 1, usage: CEREMONY_USAGE });
  const bytes = readInput(positionals[0] as string, 'the ceremony script', 256 * 1024);
  try {
    const s = parseScript(bytes);
    if (values.json === true) writeJson(io, { valid: true, id: s.id, digest: s.digest, steps: s.steps.map((x) => x.id), problems: [] });
    else writeLines(io.stdout, [`valid ceremony script ${s.id}: ${s.steps.length} steps, ${s.digest}`]);
    return 0;
  } catch (err) {
    if (!(err instanceof DocumentError)) throw err;
    if (values.json === true) writeJson(io, { valid: false, problems: err.problems });
    else writeLines(io.stdout, [`INVALID ceremony script (${err.problems.length} problem${err.problems.length === 1 ? '' : 's'}):`, ...err.problems.map((p) => `  - ${formatProblem(p)}`)]);
    return 1;
  }
}

/** A ceremony folder is never overwritten (issue 13): `ceremony run` takes no --force, which the parser then refuses as unknown. */
const { force: _force, ...RUN_COMMON } = COMMON_OPTIONS;
const RUN_OPTIONS = { ...RUN_COMMON, dir: { type: 'string' }, rehearse: { type: 'boolean' }, 'allow-network': { type: 'boolean' }, yes: { type: 'boolean' },
  profile: { type: 'string' }, 'no-rehearsal': { type: 'boolean' }, rehearsals: { type: 'string' }, module: { type: 'string' }, inputs: { type: 'string' },
  /** Given by the desktop app when it runs without the Chromium sandbox (issue 19): the reasons, for the rehearsal's audit log. */
  'app-unsandboxed': { type: 'string' } } as const satisfies OptionSpec;

/** `ceremony run`: the preflight (air gap, rehearsal record), the inputs, the tokens, then the engine. `up`: the network interfaces that are up. */
async function runCommand(argv: readonly string[], io: Io, up: readonly NetworkInterface[]): Promise<number> {
  const { values, positionals } = parse(argv, RUN_OPTIONS, { min: 1, max: 1, usage: CEREMONY_USAGE });
  const scriptPath = resolve(positionals[0] as string);
  const { script } = readScript(scriptPath);
  if (values.dir === undefined) throw usageError('USAGE', 'ceremony run needs --dir DIR, the ceremony folder', `usage: ${CEREMONY_USAGE}`);
  const dir = resolve(values.dir);
  const rehearse = values.rehearse === true;
  // a rehearsal may take the profile too: then each token's throw-away token is made in the library the profile names for it
  if (!rehearse && values.profile === undefined) throw usageError('USAGE', 'give --profile FILE (the real tokens), or --rehearse (throw-away tokens)', `usage: ${CEREMONY_USAGE}`);
  if (!rehearse && (values['allow-network'] === true || values.yes === true)) throw usageError('USAGE', '--allow-network and --yes are for rehearsals only', 'a real ceremony runs air-gapped, and witnesses confirm in person');
  if (!rehearse && values['app-unsandboxed'] !== undefined) throw usageError('USAGE', '--app-unsandboxed is for rehearsals only', 'the app refuses a live ceremony while it runs without the Chromium sandbox');
  if (values['app-unsandboxed'] !== undefined && !/^[\x20-\x7e]{1,400}$/.test(values['app-unsandboxed'])) throw usageError('USAGE', '--app-unsandboxed takes the reasons as up to 400 printable ASCII characters', 'the app passes its sandbox reasons; do not give this option by hand');
  const record = resolve(values.rehearsals ?? join(dirname(scriptPath), 'rehearsals.jsonl'));
  const notes = ceremonyPreflight({ digest: script.digest, rehearsal: rehearse, interfaces: up, allowNetwork: values['allow-network'] === true, record, runWithoutRehearsal: values['no-rehearsal'] === true });
  // a rehearsal started from the app without the Chromium sandbox says so in its log, before its first step (issue 19)
  if (values['app-unsandboxed'] !== undefined) notes.push({ action: 'app.unsandboxed', details: { reasons: values['app-unsandboxed'], effect: 'live ceremonies refused; rehearsals run' } });
  // the engine's progress text, which may run over several lines of its own and names tokens by their labels
  const say = (text: string): void => { writeText(io.stdout, text); };
  const inputs = resolve(values.inputs ?? dirname(scriptPath));
  // the files this command read, which may lie in the ceremony folder; the engine refuses anything else there that the script does not name
  const declared = [scriptPath, record, ...(values.profile === undefined ? [] : [resolve(values.profile)])];
  // the script's input files and the folder, before any token (or a rehearsal's throw-away store) is opened; the engine checks them again
  preflightRun({ script, dir, inputs, simulation: rehearse, declared });
  const profile = values.profile === undefined ? undefined : parseProfile(readInput(values.profile, 'the ceremony profile', 64 * 1024), script);
  const { tokens, close } = rehearse ? rehearsalTokens(script, dir, values.module, profile) : await profileTokens(io, script, profile as CeremonyProfile);
  try {
    say(`Tokens and their libraries${rehearse ? ' (throw-away rehearsal tokens)' : ''}:\n${libraryLines(new Map([...tokens].map(([n, t]) => [n, t.token]))).join('\n')}`);
    // a live run asks the witness at the terminal by src/cli/witness.ts: words slot by slot, never yes, for a fingerprint, check value or digest
    const confirm = async (q: Question): Promise<boolean> => {
      if (values.yes === true) { say(`  ${q.who} confirms ${q.what} (--yes, rehearsal)`); return true; }
      return askWitness(io, q);
    };
    const r = await runCeremony({ script, dir, inputs, tokens, confirm, say, simulation: rehearse, notes, declared });
    if (rehearse) recordRehearsal(record, { digest: script.digest, script: scriptPath, time: formatTime(Date.now()), dir });
    say(`${rehearse ? 'Rehearsal' : 'Ceremony'} complete: ${r.steps.length} steps${r.resumed ? ' (resumed)' : ''}; audit log ${r.audit.file} (${r.audit.entries} entries); transcript ${r.transcript.markdown}`);
    if (rehearse) say(`  rehearsal of ${script.digest} recorded in ${record}`);
    return 0;
  } finally {
    close();
  }
}

/** A rehearsal's throw-away tokens in its folder: on SoftHSM2, or in the library the profile names for a token (SoftHSM2 or NSS softokn). */
function rehearsalTokens(script: CeremonyScript, dir: string, modulePath: string | undefined, profile: CeremonyProfile | undefined): { tokens: Map<string, ResolvedToken>; close: () => void } {
  const libraries = profile === undefined ? undefined : new Map([...profile.tokens].map(([name, t]) => [name, t.library]));
  const r = openRehearsalTokens(script, dir, { module: modulePath, libraries });
  return { tokens: r.tokens, close: () => r.close() };
}

/** The real tokens of a profile, each found in its own library, each with its PIN source; close() zeroes every PIN read and closes the libraries. */
async function profileTokens(io: Io, script: CeremonyScript, profile: CeremonyProfile): Promise<{ tokens: Map<string, ResolvedToken>; close: () => void }> {
  const opened = openProfile(profile, script);
  const tokens = new Map<string, ResolvedToken>();
  const pins: Uint8Array[] = []; // every PIN read, zeroed when the run ends
  const close = (): void => { for (const p of pins) zero(p); opened.close(); };
  try {
    for (const t of script.tokens) {
      const token = opened.tokens.get(t.name) as Token;
      const envName = profile.tokens.get(t.name)?.pinEnv ?? undefined;
      if (envName !== undefined) {
        const pin = await readPin(io, envName, token.label); // from the environment: read now, so a missing variable stops the run before it starts
        pins.push(pin);
        tokens.set(t.name, { token, pin });
      } else {
        // typed at the terminal by its holder when the token is first needed, then kept for the run
        let asked: Promise<Uint8Array> | undefined;
        tokens.set(t.name, { token, pin: () => (asked ??= readPin(io, undefined, token.label).then((p) => { pins.push(p); return p; })) });
      }
    }
  } catch (err) {
    close();
    throw err;
  }
  return { tokens, close };
}
