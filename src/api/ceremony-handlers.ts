/**
 * The app's ceremony runner channels (issue 7): validate a script; start it on the app's tokens;
 * follow it step by step (status is polled: the lines said, who acts now, the question a witness
 * must answer, the card whose PIN is asked); answer; give a PIN; stop; verify an audit log; read
 * the transcript. The engine runs in the main process and pauses on each witness question, and on
 * each card the first time it needs it (a hand-over, issue 15: no PIN is asked at the start, and
 * none before its card is needed), until the screen answers. A rehearsal runs the command line
 * (`ceremony run --rehearse`) in a process of its own, because a PKCS#11 library is process-wide
 * and a rehearsal opens its own SoftHSM2 store; it records its pass where the app's real runs look
 * for it.
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
import { KEY_SUFFIX } from '../ceremony/context.js';
import type { Question } from '../ceremony/context.js';
import { libraryLines } from '../ceremony/profile.js';
import { loadedChain } from '../ceremony/steps/load-custodian-set.js';
import { parseScript, SET_ACTIONS } from '../ceremony/script.js';
import type { ScriptToken, Step } from '../ceremony/script.js';
import { digestWords, expectedWords, withoutValue, wrongSlots } from '../ceremony/witness.js';
import type { Expected } from '../ceremony/witness.js';
import type { CeremonyScript } from '../ceremony/script.js';
import { DocumentError } from '../docs/problems.js';
import { KeyceremonyError, isKeyceremonyError } from '../errors.js';
import { readInput, writeFileAtomic } from '../files.js';
import { readEd25519PublicKey } from '../pkcs11/keys.js';
import { findPublicKey } from '../pkcs11/objects.js';
import { withSession } from '../pkcs11/session.js';
import type { Token } from '../pkcs11/tokens.js';
import { checkAirGap, ceremonyPreflight } from '../usecases/preflight.js';
import type { TrustedChain } from '../verify/verify.js';
import type { ApiError, CeremonyPinRequestView, CeremonyQuestionView, CeremonyStatusView, CeremonyStepView, ChannelHandlers, Requests, Responses, SandboxView } from './contract.js';
import type { FolderHandles } from './folders.js';

type CeremonyChannel = 'ceremony.validate' | 'ceremony.rehearse' | 'ceremony.start' | 'ceremony.status' | 'ceremony.answer' | 'ceremony.pin' | 'ceremony.stop' | 'ceremony.reading' | 'audit.verify' | 'transcript.read' | 'transcript.pdf';

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
  /** A token by label (and serial), in the app's libraries. */
  readonly token: (ref: { label: string; serial?: string }) => Token;
  /**
   * The script's tokens for a live run, each in the library it lives in (./libraries.ts: the one the
   * app's profile gives it, else found by label across the libraries), and lines on how they were
   * found; absent, each is found through `token`.
   */
  readonly scriptTokens?: ((script: CeremonyScript) => { readonly tokens: ReadonlyMap<string, Token>; readonly notes: readonly string[] }) | undefined;
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
  /** The environment a live run reads (the removable-media rule's KEYCEREMONY_REMOVABLE_ROOTS); the process's by default. */
  readonly env?: NodeJS.ProcessEnv | undefined;
  /** Whether the app runs inside the Chromium sandbox now; absent where no desktop shell runs the table. */
  readonly sandbox?: (() => SandboxView) | undefined;
}

/**
 * A rehearsal asks nobody anything (--yes) and the longest template rehearses in about a minute
 * on SoftHSM2: one that has not ended in 20 minutes is stuck (a utility process that did not exit,
 * electron#47228, or a token that does not answer), and would hold its folder for ever.
 */
export const REHEARSAL_TIMEOUT_MS = 20 * 60_000;
/** After the kill, how long the folder stays claimed waiting for the process's exit. */
const KILL_GRACE_MS = 5_000;

/** preflight.ts MAX_INPUT_BYTES: an input file is read whole up to this size. */
const MAX_INPUT_BYTES = 1024 * 1024;

/** A hand-over waiting for its PIN: the card, and how the engine's wait ends. */
interface PinWait {
  readonly token: Token;
  /** The card does not hold the key the set registers for its holder: every PIN for it is refused, before it reaches the card. */
  readonly mismatch: KeyceremonyError | null;
  give(pin: Uint8Array): void;
  stop(err: KeyceremonyError): void;
}

interface Run {
  state: 'running' | 'waiting' | 'done' | 'failed';
  readonly mode: 'live' | 'rehearsal';
  readonly script: CeremonyScript;
  readonly steps: readonly CeremonyStepView[];
  /** Where each step is, read from the lines the engine says. */
  readonly progress: ('done' | 'now' | 'pending')[];
  now: number | null;
  stage: CeremonyStatusView['stage'];
  lines: string[];
  question: CeremonyQuestionView | null;
  /** The words the witness must type for the waiting question (none for a yes/no). */
  expected: Expected;
  answer: ((yes: boolean) => void) | null;
  /** The hand-over waiting now: the card whose PIN is asked (shown), and the engine's wait (not). */
  pinRequest: CeremonyPinRequestView | null;
  pinWait: PinWait | null;
  /** Every PIN given in this run: kept while the run may log in again, zeroed when it ends. */
  readonly pins: Uint8Array[];
  /** The tokens whose PIN this run was given: logged in to at any time until it ends (its journal's token all along). */
  readonly held: Token[];
  /**
   * The input files of the run's load-custodian-set steps, read when it began, as the engine pins
   * them (null: unreadable; the engine refuses the run): the hand-over's card-key check compares with
   * these, never with what the media holds when the card is asked.
   */
  sets: ReadonlyMap<string, Uint8Array> | null;
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
  add(dir: string, script: CeremonyScript, mode: Run['mode'], lines: string[]): { runId: string; run: Run } {
    const runId = randomBytes(16).toString('hex');
    const steps = stepViews(script);
    const run: Run = { state: 'running', mode, script, steps, progress: steps.map(() => 'pending'), now: null, stage: 'opening', lines: [], question: null, expected: [], answer: null,
      pinRequest: null, pinWait: null, pins: [], held: [], sets: new Map(), error: null, dir, auditFile: null, chain: [] };
    keep(run, lines);
    this.runs.set(runId, run);
    return { runId, run };
  }
  /**
   * Whether a run going on holds `token` with a PIN it was given. PKCS#11 2.40 §5.6: the login
   * state is the application's, shared by every session on the token, and withSession does not log
   * in again while one is logged in (C_Login would answer CKR_USER_ALREADY_LOGGED_IN whatever the
   * PIN): a trial login on such a token takes any PIN as the card's.
   */
  holding(token: Token): boolean {
    return [...this.runs.values()].some((x) => (x.state === 'running' || x.state === 'waiting') && x.held.some((t) => t.module === token.module && t.slot.equals(token.slot)));
  }
  get(id: string): Run {
    const r = this.runs.get(id);
    if (r === undefined) throw new KeyceremonyError('CEREMONY_RUN_UNKNOWN', 'no such ceremony run in this session', 'start the ceremony again (it resumes from its folder)');
    return r;
  }
}

/**
 * Where the run is, from the lines the engine says (engine.ts: "Step N (id): action, actor acts now",
 * "Step N (id): done before, proven again …", "Resuming: …", "Checkpoint: …"); a rehearsal's command
 * line prints the same lines. A line naming a step the script does not have at that number is ignored.
 */
function track(run: Run, line: string): void {
  const m = /^Step (\d+) \(([a-z0-9._-]+)\): (?:(done before), proven again|.*, [a-z0-9._-]+ acts now$)/.exec(line);
  if (m !== null) {
    const n = Number(m[1]);
    if (run.steps[n - 1]?.id !== m[2]) return;
    for (let i = 0; i < n - 1; i++) if (run.progress[i] === 'now') run.progress[i] = 'done';
    run.progress[n - 1] = m[3] === undefined ? 'now' : 'done';
    run.now = m[3] === undefined ? n : null;
    run.stage = 'steps';
  } else if (line.startsWith('Resuming: ')) {
    run.stage = 'resuming';
  } else if (line.startsWith('Checkpoint: ')) {
    run.progress.fill('done');
    run.now = null;
    run.stage = 'checkpoint';
  }
}

/** The last 500 lines a run said, each read for where the run is. */
const keep = (run: Run, lines: readonly string[]): void => {
  for (const l of lines) track(run, l);
  run.lines.push(...lines);
  if (run.lines.length > 500) run.lines.splice(0, run.lines.length - 500);
};

/** A run that ended: every step done, or failed with the step a new start on its folder resumes at. */
function ended(run: Run, e: ApiError | null): void {
  if (e === null) {
    run.state = 'done';
    run.progress.fill('done');
    run.stage = 'finished';
  } else {
    run.state = 'failed';
    run.error = e;
  }
  run.now = null;
  run.question = null;
  run.expected = [];
  run.answer = null;
  run.pinRequest = null;
  run.pinWait = null;
  // the engine has closed every session: no card will be logged in to again in this run
  for (const p of run.pins) zero(p);
  run.pins.length = 0;
  run.held.length = 0;
}

function statusOf(run: Run): CeremonyStatusView {
  const first = run.progress.findIndex((p) => p !== 'done');
  return {
    state: run.state, mode: run.mode,
    script: { id: run.script.id, title: run.script.title, digest: run.script.digest, digestWords: digestWords(run.script.digest) },
    steps: run.steps.map((s, i) => ({ ...s, state: run.progress[i] ?? 'pending' })),
    now: run.now, stage: run.stage,
    // all steps done: a new start proves them again and goes on to the checkpoint (steps.length + 1)
    resumeFrom: run.state !== 'failed' ? null : (first === -1 ? run.steps.length : first) + 1,
    lines: [...run.lines], question: run.question, pinRequest: run.pinRequest, error: run.error,
  };
}

/**
 * What the witness is asked, and what they must type. A fingerprint, a check value or a digest is
 * confirmed only by typing its words (each in its slot), never by yes; the clock, a resume and the
 * checkpoint are yes/no. Words of a value made in this run are shown to whoever reads them aloud; a
 * value from an earlier ceremony (a registered key when a set is loaded, the root digest) is not
 * shown: the witness types it from that ceremony's printed transcript. The value itself is taken out
 * of `what`, so a screen showing the question does not show the answer.
 */
export function classify(q: Question, _step: CeremonyStepView | null): { view: CeremonyQuestionView; expected: Expected } {
  const record = q.source === 'record';
  const expected = expectedWords(q);
  const kind = q.kind === 'clock' || q.kind === 'resume' || q.kind === 'checkpoint' ? q.kind : 'other' as const;
  if (expected.length === 0) return { view: { who: q.who, what: q.what, kind, words: null, slots: 0, source: null, reading: false }, expected };
  // the value never appears in what the screen is shown: it is taken out of the question's text
  const what = withoutValue(q);
  return { view: { who: q.who, what, kind: q.kind ?? 'other', words: record ? null : expected.map((e) => e.word), slots: expected.length, source: record ? 'record' : 'this-run', reading: !record }, expected };
}

export { wrongSlots };

const and = (xs: readonly string[]): string => (xs.length <= 1 ? xs.join('') : `${xs.slice(0, -1).join(', ')} and ${xs[xs.length - 1] as string}`);

/** Each step as the run sheet shows it: numbered from 1, who acts, what to do, its tokens, signers and set. */
export function stepViews(script: CeremonyScript): CeremonyStepView[] {
  const tokenView = (t: CeremonyScript['tokens'][number]) => ({ name: t.name, label: t.label, serial: t.serial, holder: t.holder });
  const named = (name: string) => script.tokens.filter((t) => t.name === name).map(tokenView);
  const cardsOf = (people: readonly string[]) => script.tokens.filter((t) => t.holder !== null && people.includes(t.holder)).map(tokenView);
  return script.steps.map((s, i) => {
    const base = { number: i + 1, id: s.id, action: s.action, actor: s.actor, witness: null, tokens: [], signers: [], threshold: null, members: [], out: null };
    switch (s.action) {
      case 'custodian-keys':
        return { ...base, witness: s.witness, tokens: cardsOf(s.custodians), members: [...s.custodians],
          does: `${and(s.custodians)} in turn insert their card: a signing key is made on it, and its fingerprint is read aloud to ${s.witness}` };
      case 'custodian-set':
      case 'rotate-custodian-set':
        return { ...base, tokens: cardsOf(s.signers), signers: [...s.signers], threshold: s.threshold, members: [...s.members], out: s.out,
          does: `Form the ${s.threshold}-of-${s.members.length} custodian set (${and(s.members)}); ${and(s.signers)} each sign it with their card` };
      case 'load-custodian-set':
        // each custodian with a card in the script proves it holds the key the set registers for them
        return { ...base, witness: s.witness, out: null, tokens: script.tokens.filter((t) => t.holder !== null).map(tokenView),
          does: `Load the custodian set from the ceremony media (${s.chain.join(', ')}); ${s.witness} checks it against the printed transcript of the ceremony that made it, and each custodian's card against the key the set registers for them` };
      case 'generate-key':
        return { ...base, witness: s.witness, tokens: named(s.token),
          does: `Generate ${s.label} inside the token; ${s.witness} checks its check value` };
      case 'make-secret':
        return { ...base, witness: s.witness, tokens: named(s.token), out: s.out,
          does: s.keep === 'token' ? `Make a new ${s.name} (version ${s.keyVersion}) inside the token; its binding is computed there`
            : `Draw a new ${s.name} (version ${s.keyVersion}) from the token and seal it at once to the deployment (${s.recipients ?? ''}) in ${s.out ?? ''}` };
      case 'split-backup':
        return { ...base, tokens: [...named(s.token), ...cardsOf(s.holders)], signers: [...s.signers], threshold: s.threshold, members: [...s.holders], out: s.out,
          does: `Wrap ${and(s.keys)} under ${s.backupKey} and split it ${s.threshold}-of-${s.holders.length} onto the cards of ${and(s.holders)}; ${and(s.signers)} sign the custody manifest` };
      case 'manifest':
        return { ...base, tokens: cardsOf(s.signers), signers: [...s.signers], out: s.out,
          does: `The rotation manifest: ${s.keys.length} key(s), version ${s.keyVersion}, phase ${s.phase}; ${and(s.signers)} sign it with their card` };
      case 'export':
        return { ...base, tokens: named(s.token), out: s.out,
          does: `Export ${s.key} wrapped for ${s.targets.length} cloud KMS import job(s) into ${s.out}` };
      case 'drill':
        return { ...base, tokens: [...named(s.token), ...cardsOf(s.presenters)], signers: [...s.signers], members: [...s.presenters], out: s.out,
          does: `Restoration drill: ${and(s.presenters)} present their shares into the drill token; ${and(s.signers)} sign the report` };
    }
  });
}

export function ceremonyHandlers(d: CeremonyDeps): ChannelHandlers<CeremonyChannel> {
  const runs = new Runs();
  return {
    'ceremony.validate': async (r) => validate(r.script),
    'ceremony.rehearse': async (r) => rehearse(d, runs, r),
    'ceremony.start': async (r) => start(d, runs, r),
    'ceremony.status': async (r) => statusOf(runs.get(r.runId)),
    'ceremony.answer': async (r) => {
      const run = runs.get(r.runId);
      const answer = run.answer;
      if (answer === null || run.question === null) throw new KeyceremonyError('CEREMONY_NO_QUESTION', 'nothing is waiting for a confirmation', 'wait for the next question');
      if (r.confirmed && run.expected.length > 0) {
        if (r.words === undefined) {
          throw new KeyceremonyError('CEREMONY_WORDS_REQUIRED', `${run.question.what} is confirmed by typing the ${run.expected.length} words heard, not by yes`, 'the witness types each word heard in its own slot');
        }
        const wrong = wrongSlots(run.expected, r.words);
        if (wrong.length > 0) {
          keep(run, [`  ${run.question.who} typed words that differ from ${run.question.what} in slot${wrong.length > 1 ? 's' : ''} ${wrong.join(', ')}`]);
          return { answered: false, wrong };
        }
      }
      answer(r.confirmed);
      return { answered: true, wrong: [] };
    },
    'ceremony.pin': async (r) => givePin(runs, runs.get(r.runId), r.token, r.pin),
    'ceremony.stop': async (r) => {
      const run = runs.get(r.runId);
      if (run.pinWait !== null && run.pinRequest !== null) {
        run.pinWait.stop(new KeyceremonyError('CEREMONY_STOPPED', `the ceremony was stopped at the hand-over of "${run.pinRequest.label}", before its PIN was typed`,
          'start it again on the same folder: it resumes from this step'));
        return { stopped: true };
      }
      if (run.answer !== null) {
        run.answer(false);
        return { stopped: true };
      }
      throw new KeyceremonyError('CEREMONY_NOT_WAITING', 'the run is in the middle of a step and waits for no one', 'stop it when it next asks for a PIN or a confirmation');
    },
    'ceremony.reading': async (r) => {
      const run = runs.get(r.runId);
      const q = run.question;
      if (q === null || q.words === null) throw new KeyceremonyError('CEREMONY_NO_QUESTION', 'no words of this run wait to be read aloud', 'wait for the next witness check of a value made in this run');
      run.question = { ...q, reading: r.reading };
      return { reading: r.reading };
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
    return { valid: true, id: s.id, title: s.title, digest: s.digest, digestWords: digestWords(s.digest), tokens: s.tokens.map((t) => ({ name: t.name, label: t.label, holder: t.holder })),
      steps: stepViews(s), participants: s.participants.map((p) => ({ id: p.id, name: p.name, role: p.role })), problems: [] };
  } catch (err) {
    if (!(err instanceof DocumentError)) throw err;
    return { valid: false, id: null, title: null, digest: null, digestWords: [], tokens: [], steps: [], participants: [], problems: err.problems.map((p) => ({ code: p.code, path: p.path, message: p.message })) };
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
  // started from an app without the Chromium sandbox (issue 19): the rehearsal's audit log says so, before its first step
  const sandbox = d.sandbox?.();
  const unsandboxed = sandbox === undefined || sandbox.sandboxed ? null : (sandbox.reasons.join('; ') || 'the Chromium sandbox is off');
  const child = d.spawnCli(['ceremony', 'run', scriptFile, '--rehearse', '--yes', '--dir', dir, '--inputs', ceremonyDir, '--rehearsals', d.rehearsals, ...(r.allowNetwork === true ? ['--allow-network'] : []),
    ...(unsandboxed === null ? [] : [`--app-unsandboxed=${unsandboxed}`])]);
  const { runId, run } = runs.add(dir, script, 'rehearsal', [`Rehearsal of ${script.digest} on throw-away SoftHSM2 tokens in ${dir}`,
    ...(unsandboxed === null ? [] : [`The app runs without the Chromium sandbox (${unsandboxed}): the rehearsal's audit log records it, and a live run stays refused`])]);
  let out = '';
  let err = '';
  child.stdout?.on('data', (c: Buffer) => { out += c.toString('utf8'); const nl = out.lastIndexOf('\n'); if (nl >= 0) { keep(run, out.slice(0, nl).split('\n')); out = out.slice(nl + 1); } });
  child.stderr?.on('data', (c: Buffer) => { err = `${err}${c.toString('utf8')}`.slice(-64 * 1024); });
  let timedOut: ApiError | null = null;
  const fail = (e: ApiError): void => { if (run.state === 'running') ended(run, e); };
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
      run.auditFile = join(dir, 'audit.jsonl');
      run.chain = chainInForce(run.auditFile);
      ended(run, null);
    } else fail(cliError(err, code));
  });
  return { runId, dir };
}

/**
 * The load-custodian-set step whose set says which key each custodian's card holds at this point
 * of the run: the last step forming or loading a set at or before the step in progress (the first
 * not done; before the first step, the first), when it is a load. A set formed in this run is not
 * one: its keys were made on the cards in this run, after their PINs were asked.
 */
function loadStepAt(run: Run): Extract<Step, { action: 'load-custodian-set' }> | undefined {
  const at = run.progress.findIndex((p) => p !== 'done');
  const last = run.script.steps.slice(0, at === -1 ? undefined : at + 1).reverse().find((x) => SET_ACTIONS.includes(x.action));
  return last?.action === 'load-custodian-set' ? last : undefined;
}

/** A set file of the run as it began; one not read then fails the check (the hand-over refuses every PIN: CEREMONY_CARD_KEY_UNPROVEN). */
function pinnedSet(run: Run, rel: string): Uint8Array {
  const bytes = run.sets?.get(rel);
  if (bytes === undefined) throw new KeyceremonyError('CEREMONY_INPUT_UNPINNED', `${rel} was not read when the run began`, 'stop the ceremony, put the file back and start again');
  return bytes;
}

/**
 * Which card a hand-over is for, and how it was found. With a set loaded from the ceremony media,
 * the card must hold the key that set registers for its holder: read from the card without its
 * PIN (an Ed25519 public key is not private), compared before anyone types. Otherwise the card is
 * the script's token for its holder, and the view says so.
 */
async function identify(run: Run, t: ScriptToken, token: Token): Promise<{ view: CeremonyPinRequestView; mismatch: KeyceremonyError | null }> {
  const admin = run.script.participants.find((p) => p.role === 'administrator')?.id ?? run.script.participants[0]?.id ?? 'admin';
  const at = run.progress.findIndex((p) => p !== 'done');
  const base = { token: t.name, label: token.label, serial: token.info.serial, serialPinned: t.serial !== null, holder: t.holder, person: t.holder ?? admin,
    step: run.stage === 'opening' || run.stage === 'checkpoint' || at === -1 ? null : at + 1 };
  const byScript = (why: string) => ({ view: { ...base, card: 'script-token' as const, set: null, rootPinned: null, why }, mismatch: null });
  const holder = t.holder;
  if (holder === null) return byScript(`"${token.label}" is the script's token for the administrator: no custodian holds it`);
  const load = loadStepAt(run);
  if (load === undefined) return byScript(`no custodian set is loaded in this run to register a key for ${holder}: "${token.label}" is the script's token for ${holder}`);
  let member;
  let version;
  try {
    // the bytes the run began with (start below), as the step reads them: a file changed or removed since does not turn the check off
    const newest = loadedChain(run.script, load, (rel) => pinnedSet(run, rel), Date.now()).chain.newest;
    member = newest.custodians.find((c) => c.id === holder);
    version = newest.version;
  } catch (err) {
    if (!isKeyceremonyError(err)) throw err;
    // fail closed: a card that cannot be checked against the set gets no PIN (its step would refuse the set anyway)
    const why = `the custodian set of step ${load.id} does not verify (${err.code}), so "${token.label}" cannot be checked against the key it registers for ${holder}`;
    return { view: { ...base, card: 'not-registered-key', set: null, rootPinned: null, why },
      mismatch: new KeyceremonyError('CEREMONY_CARD_KEY_UNPROVEN', `${why}: no PIN is given to it`, 'stop the ceremony here, and bring the custodian set of the earlier ceremony on the ceremony media', { cause: err }) };
  }
  if (member === undefined) return byScript(`set version ${version} registers no key for ${holder}: "${token.label}" is the script's token for ${holder}`);
  const rootPinned = load.rootDigest !== null;
  let onCard: Uint8Array | null = null;
  try {
    onCard = await withSession(token, null, async (s) => readEd25519PublicKey(s, findPublicKey(s, { label: `${holder}${KEY_SUFFIX}` })), { readWrite: false });
  } catch (err) {
    if (!isKeyceremonyError(err)) throw err; // no such key on the card, or one that cannot be read: it is not the registered key
  }
  if (onCard !== null && Buffer.compare(Buffer.from(onCard), Buffer.from(member.publicKey.bytes)) === 0) {
    return { view: { ...base, card: 'registered-key', set: version, rootPinned, why: `"${token.label}" holds the key set version ${version} registers for ${holder}` }, mismatch: null };
  }
  const why = `"${token.label}" does not hold the key set version ${version} registers for ${holder}`;
  return { view: { ...base, card: 'not-registered-key', set: version, rootPinned, why },
    mismatch: new KeyceremonyError('CEREMONY_CARD_KEY_MISMATCH', `${why}: no PIN is given to it`, `${holder} brings the card whose key the set registers (the one of the earlier ceremony), or the ceremony is stopped here`) };
}

/**
 * A hand-over (issue 15): the engine needs `t` for the first time in this run. The card is
 * identified, the run shows it (ceremony.status's pinRequest) and waits until its holder gives its
 * PIN (ceremony.pin) or the run is stopped (ceremony.stop). The engine keeps the PIN for the rest
 * of the run, as the command line's prompt does; the run zeroes it when it ends.
 */
async function handOver(run: Run, t: ScriptToken, token: Token): Promise<Uint8Array> {
  const { view, mismatch } = await identify(run, t, token);
  return new Promise<Uint8Array>((resolve, reject) => {
    const done = (): void => { run.pinRequest = null; run.pinWait = null; run.state = 'running'; };
    run.pinRequest = view;
    run.state = 'waiting';
    keep(run, [`  Hand-over: ${view.person} brings "${view.label}" (serial ${view.serial}); its PIN is asked now: ${view.why}`]);
    run.pinWait = {
      token, mismatch,
      give: (pin) => { done(); run.pins.push(pin); run.held.push(token); keep(run, [`  ${view.person} typed the PIN of "${view.label}", and the card accepted it`]); resolve(pin); },
      stop: (err) => { done(); keep(run, [`  Stopped at the hand-over of "${view.label}": no PIN was typed`]); reject(err); },
    };
  });
}

/**
 * ceremony.pin: the PIN of the card whose hand-over waits, and no other. It is tried on the card
 * first (a login, and out again: PKCS#11 2.40 §5.6 C_Login), so a mistyped PIN is refused here with
 * the card's code and the hand-over waits again, instead of the step failing; a card that does not
 * hold its holder's registered key gets no PIN at all (each wrong one would use up a try).
 */
async function givePin(runs: Runs, run: Run, name: string, typed: string): Promise<Responses['ceremony.pin']> {
  const wait = run.pinWait;
  const asked = run.pinRequest;
  if (wait === null || asked === null) {
    throw new KeyceremonyError('CEREMONY_PIN_NOT_ASKED', `no card's PIN is asked now, and one was sent for ${name}`, 'type a PIN only on the hand-over screen, when it names your card');
  }
  if (asked.token !== name) {
    throw new KeyceremonyError('CEREMONY_PIN_NOT_ASKED', `the PIN of ${name} is not asked now: the run waits for the PIN of "${asked.label}" (${asked.token})`,
      `${asked.person} types the PIN of "${asked.label}"; the PIN of ${name} is asked when its card is first needed`);
  }
  if (wait.mismatch !== null) throw wait.mismatch;
  if (runs.holding(wait.token)) {
    throw new KeyceremonyError('CEREMONY_TOKEN_IN_USE', `a run of this window holds "${asked.label}" with its PIN (another ceremony, or this one under another of the script's names), so a PIN typed now cannot be checked by the card`,
      `no PIN is typed now: let the other run on "${asked.label}" end, or stop it, then type the PIN; or stop this ceremony`);
  }
  const pin = Buffer.from(typed, 'utf8');
  run.pinWait = null; // one PIN at a time: another sent while this one is tried finds nothing asked
  try {
    await withSession(wait.token, pin, async () => undefined, { readWrite: false });
  } catch (err) {
    zero(pin);
    if (run.pinRequest === asked) run.pinWait = wait;
    if (isKeyceremonyError(err)) keep(run, [`  the card "${asked.label}" refused the PIN typed for it (${err.code}); its hand-over waits`]);
    throw err;
  }
  wait.give(pin);
  return { token: name, accepted: true };
}

/** The chain files of the script's load-custodian-set steps in the inputs folder, read as the engine pins them (preflight.ts pinInputs). */
function pinnedSets(script: CeremonyScript, inputs: string): Map<string, Uint8Array> {
  const files = [...new Set(script.steps.flatMap((s) => (s.action === 'load-custodian-set' ? s.chain : [])))];
  return new Map(files.map((rel) => [rel, readInput(join(inputs, rel), 'an input file of the script', MAX_INPUT_BYTES)]));
}

/** The real ceremony, in this process: the preflight, then the engine, which pauses on each witness question and each hand-over until the screen answers. */
function start(d: CeremonyDeps, runs: Runs, r: Requests['ceremony.start']): Responses['ceremony.start'] {
  const script = parseScript(new TextEncoder().encode(r.script));
  const dir = ceremonyFolder(d, r.ceremonyFolder);
  runs.claim(dir);
  const notes = ceremonyPreflight({ digest: script.digest, rehearsal: false, interfaces: d.interfaces(), allowNetwork: false, record: d.rehearsals, runWithoutRehearsal: r.noRehearsal === true })
    // the administrator's reason goes into the log with the exception it explains
    .map((n) => (n.action === 'rehearsal.skipped' && r.reason !== undefined ? { ...n, details: { ...n.details, because: r.reason } } : n));
  // every token of the script present before the run begins, each in its own library (the engine reads their capabilities first); their PINs come later
  const { tokens: inLibraries, notes: how } = d.scriptTokens?.(script)
    ?? { tokens: new Map(script.tokens.map((t) => [t.name, d.token({ label: t.label, ...(t.serial === null ? {} : { serial: t.serial }) })])), notes: [] };
  const found = script.tokens.map((t) => [t, inLibraries.get(t.name) as Token] as const);
  // the load steps' sets as the run begins, read just before the engine pins its inputs (a missing one: the engine refuses the run)
  let sets: Run['sets'];
  try { sets = pinnedSets(script, dir); } catch (err) { if (!isKeyceremonyError(err)) throw err; sets = null; }
  // which library each token is in, said before anyone is asked anything (as `ceremony run` says it)
  const { runId, run } = runs.add(dir, script, 'live', [...how, 'Tokens and their libraries:', ...libraryLines(inLibraries)]);
  run.sets = sets;
  const tokens = new Map<string, ResolvedToken>(found.map(([t, token]) => {
    let asked: Promise<Uint8Array> | undefined;
    return [t.name, { token, pin: () => (asked ??= handOver(run, t, token)) }];
  }));
  const say = (line: string): void => keep(run, line.split('\n'));
  const confirm = (q: Question): Promise<boolean> => new Promise((resolve) => {
    const { view, expected } = classify(q, run.now === null ? null : run.steps[run.now - 1] ?? null);
    run.question = view;
    run.expected = expected;
    run.state = 'waiting';
    run.answer = (yes) => {
      run.question = null; run.expected = []; run.answer = null; run.state = 'running';
      const typed = view.source === 'record' ? `, typing its ${expected.length} words from the earlier ceremony's record` : `, typing the ${expected.length} words heard`;
      say(`  ${q.who} ${yes ? 'confirmed' : 'REFUSED'} ${view.what}${yes && expected.length > 0 ? typed : ''}`);
      resolve(yes);
    };
  });
  void runCeremony({ script, dir, inputs: dir, tokens, confirm, say, simulation: false, notes, env: d.env ?? process.env })
    .then((res) => { run.auditFile = res.audit.file; run.chain = chainInForce(res.audit.file); say(`Ceremony complete: ${res.steps.length} steps; audit log ${res.audit.file} (${res.audit.entries} entries)`); ended(run, null); })
    .catch((err: unknown) => { ended(run, isKeyceremonyError(err) || err instanceof Error ? d.asError(err) : d.asError(new Error(String(err)))); });
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
