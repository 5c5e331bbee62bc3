/**
 * The app's ceremony runner channels (issue 7): validate a script; start it on the app's tokens
 * (PINs typed once per token at the start); follow it step by step (status is polled: the lines
 * said, who acts now, and the question a witness must answer); answer; verify an audit log; read
 * the transcript. The engine runs in the main process and pauses on each witness question until
 * the screen answers. A rehearsal runs the command line (`ceremony run --rehearse`) in a process
 * of its own, because a PKCS#11 library is process-wide and a rehearsal opens its own SoftHSM2
 * store; it records its pass where the app's real runs look for it.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { verifyAuditLog } from '../audit/verify.js';
import { zero } from '../bytes.js';
import { chainInForce, runCeremony } from '../ceremony/engine.js';
import type { ResolvedToken } from '../ceremony/engine.js';
import { parseScript } from '../ceremony/script.js';
import type { CeremonyScript } from '../ceremony/script.js';
import { DocumentError } from '../docs/problems.js';
import { KeyceremonyError, isKeyceremonyError } from '../errors.js';
import { writeFileAtomic } from '../files.js';
import type { Token } from '../pkcs11/tokens.js';
import { checkAirGap, ceremonyPreflight } from '../usecases/preflight.js';
import type { TrustedChain } from '../verify/verify.js';
import type { ApiError, ChannelHandlers, Requests, Responses } from './contract.js';
import type { FolderHandles } from './folders.js';

type CeremonyChannel = 'ceremony.validate' | 'ceremony.rehearse' | 'ceremony.start' | 'ceremony.status' | 'ceremony.answer' | 'audit.verify' | 'transcript.read' | 'transcript.pdf';

/** A command line run in a process of its own: Node's child_process here, Electron's utilityProcess in the app. */
export interface CliProcess {
  readonly stdout: NodeJS.ReadableStream | null;
  readonly stderr: NodeJS.ReadableStream | null;
  once(event: 'exit', listener: (code: number | null) => void): unknown;
  /** Ends the process (SIGTERM for a child process; Electron's UtilityProcess.kill). */
  kill(): unknown;
}
export type SpawnCli = (args: readonly string[]) => CliProcess;

/** `keyceremony ARGS` from this clone's bin, under the Node that runs this process. */
export const nodeSpawnCli: SpawnCli = (args) => spawn(process.execPath, [fileURLToPath(new URL('../../bin/keyceremony.mjs', import.meta.url)), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });

/** `keyceremony: CODE: what happened; what to do` (CLI.md), the last such line of a failed run. */
function cliError(stderr: string, exit: number | null): ApiError {
  const lines = stderr.split('\n').map((l) => /^keyceremony: ([A-Z0-9_]+): (.*?); (.*)$/.exec(l)).filter((m) => m !== null);
  const m = lines[lines.length - 1];
  return m === undefined ? { code: 'REHEARSAL_FAILED', message: `the rehearsal stopped (exit ${String(exit)})`, fix: 'read the rehearsal log above' } : { code: m[1] as string, message: m[2] as string, fix: m[3] as string };
}

/** The ceremony folder a handle stands for (./folders.ts), still there. */
function ceremonyFolder(d: CeremonyDeps, handle: string): string {
  const dir = d.folders.ceremonyFolder(handle);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new KeyceremonyError('CEREMONY_FOLDER_INVALID', `${dir} is no longer a folder that can hold the ceremony`, 'choose the ceremony folder again');
  }
  return dir;
}

export interface CeremonyDeps {
  readonly token: (ref: { label: string; serial?: string }) => Token;
  readonly chainOf: (docs: readonly string[]) => TrustedChain;
  readonly interfaces: () => { name: string; addresses: string[] }[];
  /** Passed rehearsals (JSON lines of { digest, result }), written by `keyceremony ceremony run --rehearse`. */
  readonly rehearsals?: string | undefined;
  readonly asError: (err: unknown) => ApiError;
  /** Runs the command line for rehearsals; absent where the app cannot start one. */
  readonly spawnCli?: SpawnCli | undefined;
  /** Renders HTML to PDF (Electron: an offscreen window's printToPDF, scripts off); absent where no renderer can print. */
  readonly printToPdf?: ((html: string) => Promise<Uint8Array>) | undefined;
  /** The folders the renderer may name, by handle (./folders.ts). */
  readonly folders: FolderHandles;
  /** How long a rehearsal may run before it is stopped and killed; REHEARSAL_TIMEOUT_MS by default. */
  readonly rehearsalTimeoutMs?: number | undefined;
}

/**
 * A rehearsal asks nobody anything (--yes) and the longest template rehearses in about a minute
 * on SoftHSM2: one that has not ended in 20 minutes is stuck (a utility process that did not exit,
 * electron#47228, or a token that does not answer), and would hold its folder for ever.
 */
export const REHEARSAL_TIMEOUT_MS = 20 * 60_000;
/** After the kill, how long the folder stays claimed waiting for the process's exit. */
const KILL_GRACE_MS = 5_000;

interface Run {
  state: 'running' | 'waiting' | 'done' | 'failed';
  lines: string[];
  question: { who: string; what: string; words: readonly string[] | null } | null;
  answer: ((yes: boolean) => void) | null;
  error: ApiError | null;
  dir: string;
  auditFile: string | null;
  /** The custodian set files in force when it ended, relative to dir. */
  chain: string[];
}

/** The runs of this window, by a random id; one at a time in a folder. */
class Runs {
  private readonly runs = new Map<string, Run>();
  /** One run at a time in a folder: two processes on one ceremony (or rehearsal) folder would interleave its journal. */
  claim(dir: string): void {
    if ([...this.runs.values()].some((x) => x.dir === dir && (x.state === 'running' || x.state === 'waiting'))) {
      throw new KeyceremonyError('CEREMONY_ALREADY_RUNNING', `a run in ${dir} is still going on in this window`, 'follow that run to its end, or wait for it to stop, then start again');
    }
  }
  add(dir: string, lines: string[]): { runId: string; run: Run } {
    const runId = randomBytes(16).toString('hex');
    const run: Run = { state: 'running', lines, question: null, answer: null, error: null, dir, auditFile: null, chain: [] };
    this.runs.set(runId, run);
    return { runId, run };
  }
  get(id: string): Run {
    const r = this.runs.get(id);
    if (r === undefined) throw new KeyceremonyError('CEREMONY_RUN_UNKNOWN', 'no such ceremony run in this session', 'start the ceremony again (it resumes from its folder)');
    return r;
  }
}

/** The last 500 lines a run said. */
const keep = (run: Run, lines: readonly string[]): void => { run.lines.push(...lines); if (run.lines.length > 500) run.lines.splice(0, run.lines.length - 500); };

export function ceremonyHandlers(d: CeremonyDeps): ChannelHandlers<CeremonyChannel> {
  const runs = new Runs();
  return {
    'ceremony.validate': async (r) => validate(r.script),
    'ceremony.rehearse': async (r) => rehearse(d, runs, r),
    'ceremony.start': async (r) => start(d, runs, r),
    'ceremony.status': async (r) => {
      const run = runs.get(r.runId);
      return { state: run.state, lines: [...run.lines], question: run.question, error: run.error };
    },
    'ceremony.answer': async (r) => {
      const run = runs.get(r.runId);
      if (run.answer === null) throw new KeyceremonyError('CEREMONY_NO_QUESTION', 'nothing is waiting for a confirmation', 'wait for the next question');
      run.answer(r.confirmed);
      return { answered: true };
    },
    'audit.verify': async (r) => {
      const chain = r.chain.length === 0 ? null : d.chainOf(r.chain);
      const res = verifyAuditLog(new TextEncoder().encode(r.log), { chain, requireCheckpointAtEnd: true, ...(r.checkpoint === undefined ? {} : { external: [new TextEncoder().encode(r.checkpoint)] }) });
      return { valid: res.valid, entries: res.entries, firstBad: res.firstBad, head: res.head, problems: res.problems.map((p) => ({ seq: p.seq, code: p.code, message: p.message })),
        checkpoints: res.checkpoints.map((c) => ({ seq: c.seq, covers: c.covers, signers: [...c.signers], verified: c.verified })) };
    },
    'transcript.pdf': async (r) => transcriptPdf(d, finished(runs.get(r.runId))),
    'transcript.read': async (r) => {
      const run = finished(runs.get(r.runId));
      return { markdown: readFileSync(join(run.dir, 'transcript.md'), 'utf8'), html: readFileSync(join(run.dir, 'transcript.html'), 'utf8'), audit: readFileSync(join(run.dir, 'audit.jsonl'), 'utf8'),
        checkpoint: readFileSync(join(run.dir, 'audit.checkpoint.json'), 'utf8'), chain: run.chain.map((f) => readFileSync(join(run.dir, f), 'utf8')) };
    },
  };
}

function validate(text: string): Responses['ceremony.validate'] {
  try {
    const s = parseScript(new TextEncoder().encode(text));
    return { valid: true, id: s.id, title: s.title, digest: s.digest, tokens: s.tokens.map((t) => ({ name: t.name, label: t.label, holder: t.holder })),
      steps: s.steps.map((x) => ({ id: x.id, action: x.action, actor: x.actor })), participants: s.participants.map((p) => ({ id: p.id, name: p.name, role: p.role })), problems: [] };
  } catch (err) {
    if (!(err instanceof DocumentError)) throw err;
    return { valid: false, id: null, title: null, digest: null, tokens: [], steps: [], participants: [], problems: err.problems.map((p) => ({ code: p.code, path: p.path, message: p.message })) };
  }
}

/** A rehearsal: the command line in a process of its own, in the folder beside the ceremony's, named for the script's digest. */
function rehearse(d: CeremonyDeps, runs: Runs, r: Requests['ceremony.rehearse']): Responses['ceremony.rehearse'] {
  const script = parseScript(new TextEncoder().encode(r.script));
  const ceremonyDir = ceremonyFolder(d, r.ceremonyFolder);
  if (d.spawnCli === undefined || d.rehearsals === undefined) throw new KeyceremonyError('REHEARSAL_UNAVAILABLE', 'this build of the app cannot start a rehearsal', 'rehearse from the command line: keyceremony ceremony run SCRIPT --rehearse --dir DIR');
  // refused here before a process starts; the rehearsal's command line runs the same preflight and logs an override
  checkAirGap(d.interfaces(), { rehearsal: true, allowNetwork: r.allowNetwork === true });
  // one folder per script version: the same script resumes its rehearsal, a changed one starts afresh
  const dir = `${ceremonyDir}.rehearsal-${script.digest.slice('sha256:'.length, 'sha256:'.length + 12)}`;
  runs.claim(dir);
  mkdirSync(dir, { recursive: true });
  const scriptFile = join(dir, 'script.json');
  writeFileAtomic(scriptFile, r.script, true);
  const child = d.spawnCli(['ceremony', 'run', scriptFile, '--rehearse', '--yes', '--dir', dir, '--inputs', ceremonyDir, '--rehearsals', d.rehearsals, ...(r.allowNetwork === true ? ['--allow-network'] : [])]);
  const { runId, run } = runs.add(dir, [`Rehearsal of ${script.digest} on throw-away SoftHSM2 tokens in ${dir}`]);
  let out = '';
  let err = '';
  child.stdout?.on('data', (c: Buffer) => { out += c.toString('utf8'); const nl = out.lastIndexOf('\n'); if (nl >= 0) { keep(run, out.slice(0, nl).split('\n')); out = out.slice(nl + 1); } });
  child.stderr?.on('data', (c: Buffer) => { err = `${err}${c.toString('utf8')}`.slice(-64 * 1024); });
  let timedOut: ApiError | null = null;
  const fail = (e: ApiError): void => { if (run.state === 'running') { run.state = 'failed'; run.error = e; } };
  const timeoutMs = d.rehearsalTimeoutMs ?? REHEARSAL_TIMEOUT_MS;
  // the run stays 'running' (its folder claimed) until the process is gone, or a grace after the kill
  const timer = setTimeout(() => {
    timedOut = { code: 'REHEARSAL_TIMEOUT', message: `the rehearsal did not end within ${Math.round(timeoutMs / 1000)} s and was stopped`, fix: 'rehearse again (it resumes in its folder); if it stops again, rehearse from the command line to see where it waits' };
    keep(run, [`Stopped: ${timedOut.message}`]);
    child.kill();
    setTimeout(() => { if (timedOut !== null) fail(timedOut); }, KILL_GRACE_MS).unref();
  }, timeoutMs);
  timer.unref();
  child.once('exit', (code) => {
    clearTimeout(timer);
    if (out !== '') keep(run, [out]);
    if (timedOut !== null) fail(timedOut);
    else if (code === 0) {
      run.state = 'done';
      run.auditFile = join(dir, 'audit.jsonl');
      run.chain = chainInForce(run.auditFile);
    } else fail(cliError(err, code));
  });
  return { runId, dir };
}

/** The script's tokens on the app's module, each with the PIN typed for it; every PIN is zeroed if one is missing. */
function resolveTokens(d: CeremonyDeps, script: CeremonyScript, typed: readonly { token: string; pin: string }[]): { tokens: Map<string, ResolvedToken>; pins: Uint8Array[] } {
  const tokens = new Map<string, ResolvedToken>();
  const pins: Uint8Array[] = [];
  try {
    for (const t of script.tokens) {
      const p = typed.find((x) => x.token === t.name);
      if (p === undefined) throw new KeyceremonyError('CEREMONY_PIN_MISSING', `no PIN was entered for ${t.name} ("${t.label}")`, 'each token holder types their PIN before the start');
      const pin = Buffer.from(p.pin, 'utf8');
      pins.push(pin);
      tokens.set(t.name, { token: d.token({ label: t.label, ...(t.serial === null ? {} : { serial: t.serial }) }), pin });
    }
  } catch (err) {
    for (const p of pins) zero(p);
    throw err;
  }
  return { tokens, pins };
}

/** The real ceremony, in this process: the preflight, then the engine, which pauses on each witness question until the screen answers. */
function start(d: CeremonyDeps, runs: Runs, r: Requests['ceremony.start']): Responses['ceremony.start'] {
  const script = parseScript(new TextEncoder().encode(r.script));
  const dir = ceremonyFolder(d, r.ceremonyFolder);
  runs.claim(dir);
  const notes = ceremonyPreflight({ digest: script.digest, rehearsal: false, interfaces: d.interfaces(), allowNetwork: false, record: d.rehearsals, runWithoutRehearsal: r.noRehearsal === true });
  const { tokens, pins } = resolveTokens(d, script, r.pins);
  const { runId, run } = runs.add(dir, []);
  const say = (line: string): void => keep(run, line.split('\n'));
  const confirm = (q: { who: string; what: string; words?: readonly string[] }): Promise<boolean> => new Promise((resolve) => {
    run.question = { who: q.who, what: q.what, words: q.words ?? null };
    run.state = 'waiting';
    run.answer = (yes) => { run.question = null; run.answer = null; run.state = 'running'; say(`  ${q.who} ${yes ? 'confirmed' : 'REFUSED'} ${q.what}`); resolve(yes); };
  });
  void runCeremony({ script, dir, inputs: dir, tokens, confirm, say, simulation: false, notes })
    .then((res) => { run.state = 'done'; run.auditFile = res.audit.file; run.chain = chainInForce(res.audit.file); say(`Ceremony complete: ${res.steps.length} steps; audit log ${res.audit.file} (${res.audit.entries} entries)`); })
    .catch((err: unknown) => { run.state = 'failed'; run.error = isKeyceremonyError(err) || err instanceof Error ? d.asError(err) : d.asError(new Error(String(err))); })
    .finally(() => { for (const p of pins) zero(p); });
  return { runId };
}

function finished(run: Run): Run {
  if (run.state !== 'done') throw new KeyceremonyError('CEREMONY_NOT_DONE', 'the transcript is written when the ceremony ends', 'finish the ceremony first');
  return run;
}

async function transcriptPdf(d: CeremonyDeps, run: Run): Promise<Responses['transcript.pdf']> {
  if (d.printToPdf === undefined) throw new KeyceremonyError('PDF_UNAVAILABLE', 'this build of the app cannot print to PDF', 'save the transcript as HTML and print it from a browser');
  const pdf = await d.printToPdf(readFileSync(join(run.dir, 'transcript.html'), 'utf8'));
  if (Buffer.from(pdf.subarray(0, 5)).toString('latin1') !== '%PDF-') throw new KeyceremonyError('PDF_INVALID', 'the printer did not produce a PDF', 'this is a bug: report it');
  const file = join(run.dir, 'transcript.pdf');
  writeFileAtomic(file, pdf, true);
  return { file, bytes: pdf.length, sha256: createHash('sha256').update(pdf).digest('hex') };
}
