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
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { verifyAuditLog } from '../audit/verify.js';
import { zero } from '../bytes.js';
import { chainInForce, runCeremony } from '../ceremony/engine.js';
import { rehearsalPassed } from '../ceremony/rehearsal.js';
import type { ResolvedToken } from '../ceremony/engine.js';
import { parseScript } from '../ceremony/script.js';
import { DocumentError } from '../docs/problems.js';
import { KeyceremonyError, isKeyceremonyError } from '../errors.js';
import { writeFileAtomic } from '../files.js';
import type { Token } from '../pkcs11/tokens.js';
import type { TrustedChain } from '../verify/verify.js';
import type { ApiError, Requests, Responses } from './contract.js';
import { arr, bool, obj, str } from './schema.js';
import type { Schema } from './schema.js';

type CeremonyChannel = 'ceremony.validate' | 'ceremony.rehearse' | 'ceremony.start' | 'ceremony.status' | 'ceremony.answer' | 'audit.verify' | 'transcript.read' | 'transcript.pdf';

const SCRIPT = str({ min: 2, max: 256 * 1024, what: 'a ceremony script (JSON text)' });
const FOLDER = str({ min: 2, max: 4096, what: 'an absolute folder path' });
const RUN_ID = str({ min: 32, max: 32, pattern: /^[0-9a-f]{32}$/, what: 'a run id' });

export function ceremonyRequestSchemas(common: { pin: Schema<string>; doc: Schema<string>; chain: Schema<string[]> }): { readonly [C in CeremonyChannel]: Schema<Requests[C]> } {
  return {
    'ceremony.validate': obj({ script: SCRIPT }) as Schema<Requests['ceremony.validate']>,
    'ceremony.rehearse': obj({ script: SCRIPT, dir: FOLDER }, { allowNetwork: bool() }) as Schema<Requests['ceremony.rehearse']>,
    'ceremony.start': obj({ script: SCRIPT, dir: FOLDER,
      pins: arr(obj({ token: str({ max: 32, pattern: /^[a-z][a-z0-9-]{0,31}$/, what: 'a token name of the script' }), pin: common.pin }), { max: 64 }) }, { noRehearsal: bool() }) as Schema<Requests['ceremony.start']>,
    'ceremony.status': obj({ runId: RUN_ID }) as Schema<Requests['ceremony.status']>,
    'ceremony.answer': obj({ runId: RUN_ID, confirmed: bool() }) as Schema<Requests['ceremony.answer']>,
    'audit.verify': obj({ log: str({ min: 0, max: 64 * 1024 * 1024, what: 'an audit log (JSON lines)' }), chain: arr(common.doc, { max: 32 }) }, { checkpoint: common.doc }) as Schema<Requests['audit.verify']>,
    'transcript.read': obj({ runId: RUN_ID }) as Schema<Requests['transcript.read']>,
    'transcript.pdf': obj({ runId: RUN_ID }) as Schema<Requests['transcript.pdf']>,
  };
}

/** A command line run in a process of its own: Node's child_process here, Electron's utilityProcess in the app. */
export interface CliProcess {
  readonly stdout: NodeJS.ReadableStream | null;
  readonly stderr: NodeJS.ReadableStream | null;
  once(event: 'exit', listener: (code: number | null) => void): unknown;
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

function checkFolder(dir: string): void {
  if (!isAbsolute(dir) || !existsSync(dirname(dir)) || (existsSync(dir) && !statSync(dir).isDirectory())) {
    throw new KeyceremonyError('CEREMONY_FOLDER_INVALID', `${dir} is not a folder that can hold the ceremony`, 'choose a new or existing folder by its absolute path');
  }
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
}

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

export function ceremonyHandlers(d: CeremonyDeps): { readonly [C in CeremonyChannel]: (req: Requests[C]) => Promise<Responses[C]> } {
  const runs = new Map<string, Run>();
  /** One run at a time in a folder: two processes on one ceremony (or rehearsal) folder would interleave its journal. */
  const claim = (dir: string): void => {
    if ([...runs.values()].some((x) => x.dir === dir && (x.state === 'running' || x.state === 'waiting'))) {
      throw new KeyceremonyError('CEREMONY_ALREADY_RUNNING', `a run in ${dir} is still going on in this window`, 'follow that run to its end, or wait for it to stop, then start again');
    }
  };
  const keep = (run: Run, lines: readonly string[]): void => { run.lines.push(...lines); if (run.lines.length > 500) run.lines.splice(0, run.lines.length - 500); };
  const runOf = (id: string): Run => {
    const r = runs.get(id);
    if (r === undefined) throw new KeyceremonyError('CEREMONY_RUN_UNKNOWN', 'no such ceremony run in this session', 'start the ceremony again (it resumes from its folder)');
    return r;
  };
  return {
    'ceremony.validate': async (r) => {
      try {
        const s = parseScript(new TextEncoder().encode(r.script));
        return { valid: true, id: s.id, title: s.title, digest: s.digest, tokens: s.tokens.map((t) => ({ name: t.name, label: t.label, holder: t.holder })),
          steps: s.steps.map((x) => ({ id: x.id, action: x.action, actor: x.actor })), participants: s.participants.map((p) => ({ id: p.id, name: p.name, role: p.role })), problems: [] };
      } catch (err) {
        if (!(err instanceof DocumentError)) throw err;
        return { valid: false, id: null, title: null, digest: null, tokens: [], steps: [], participants: [], problems: err.problems.map((p) => ({ code: p.code, path: p.path, message: p.message })) };
      }
    },
    'ceremony.rehearse': async (r) => {
      const script = parseScript(new TextEncoder().encode(r.script));
      checkFolder(r.dir);
      if (d.spawnCli === undefined || d.rehearsals === undefined) throw new KeyceremonyError('REHEARSAL_UNAVAILABLE', 'this build of the app cannot start a rehearsal', 'rehearse from the command line: keyceremony ceremony run SCRIPT --rehearse --dir DIR');
      const up = d.interfaces();
      if (up.length > 0 && r.allowNetwork !== true) throw new KeyceremonyError('CEREMONY_NETWORK_UP', `a network interface is up (${up.map((i) => i.name).join(', ')})`, 'disconnect it, or allow the network for this rehearsal (it is logged)');
      // one folder per script version: the same script resumes its rehearsal, a changed one starts afresh
      const dir = `${r.dir}.rehearsal-${script.digest.slice('sha256:'.length, 'sha256:'.length + 12)}`;
      claim(dir);
      mkdirSync(dir, { recursive: true });
      const scriptFile = join(dir, 'script.json');
      writeFileAtomic(scriptFile, r.script, true);
      const child = d.spawnCli(['ceremony', 'run', scriptFile, '--rehearse', '--yes', '--dir', dir, '--inputs', r.dir, '--rehearsals', d.rehearsals, ...(r.allowNetwork === true ? ['--allow-network'] : [])]);
      const runId = randomBytes(16).toString('hex');
      const run: Run = { state: 'running', lines: [`Rehearsal of ${script.digest} on throw-away SoftHSM2 tokens in ${dir}`], question: null, answer: null, error: null, dir, auditFile: null, chain: [] };
      runs.set(runId, run);
      let out = '';
      let err = '';
      child.stdout?.on('data', (c: Buffer) => { out += c.toString('utf8'); const nl = out.lastIndexOf('\n'); if (nl >= 0) { keep(run, out.slice(0, nl).split('\n')); out = out.slice(nl + 1); } });
      child.stderr?.on('data', (c: Buffer) => { err = `${err}${c.toString('utf8')}`.slice(-64 * 1024); });
      child.once('exit', (code) => {
        if (out !== '') keep(run, [out]);
        if (code === 0) {
          run.state = 'done';
          run.auditFile = join(dir, 'audit.jsonl');
          run.chain = chainInForce(run.auditFile);
        } else {
          run.state = 'failed';
          run.error = cliError(err, code);
        }
      });
      return { runId, dir };
    },
    'ceremony.start': async (r) => {
      const script = parseScript(new TextEncoder().encode(r.script));
      checkFolder(r.dir);
      claim(r.dir);
      const up = d.interfaces();
      if (up.length > 0) throw new KeyceremonyError('CEREMONY_NETWORK_UP', `a network interface is up (${up.map((i) => i.name).join(', ')})`, 'disconnect every network interface: a ceremony runs air-gapped');
      const rehearsed = rehearsalPassed(d.rehearsals, script.digest);
      if (!rehearsed && r.noRehearsal !== true) {
        throw new KeyceremonyError('CEREMONY_NOT_REHEARSED', `no passed rehearsal of this script (${script.digest}) is recorded`, 'rehearse it first (keyceremony ceremony run SCRIPT --rehearse), or choose to run without one, which is logged');
      }
      const tokens = new Map<string, ResolvedToken>();
      const pins: Uint8Array[] = [];
      try {
        for (const t of script.tokens) {
          const p = r.pins.find((x) => x.token === t.name);
          if (p === undefined) throw new KeyceremonyError('CEREMONY_PIN_MISSING', `no PIN was entered for ${t.name} ("${t.label}")`, 'each token holder types their PIN before the start');
          const pin = Buffer.from(p.pin, 'utf8');
          pins.push(pin);
          tokens.set(t.name, { token: d.token({ label: t.label, ...(t.serial === null ? {} : { serial: t.serial }) }), pin });
        }
      } catch (err) {
        for (const p of pins) zero(p);
        throw err;
      }
      const runId = randomBytes(16).toString('hex');
      const run: Run = { state: 'running', lines: [], question: null, answer: null, error: null, dir: r.dir, auditFile: null, chain: [] };
      runs.set(runId, run);
      const say = (line: string): void => keep(run, line.split('\n'));
      const confirm = (q: { who: string; what: string; words?: readonly string[] }): Promise<boolean> => new Promise((resolve) => {
        run.question = { who: q.who, what: q.what, words: q.words ?? null };
        run.state = 'waiting';
        run.answer = (yes) => { run.question = null; run.answer = null; run.state = 'running'; say(`  ${q.who} ${yes ? 'confirmed' : 'REFUSED'} ${q.what}`); resolve(yes); };
      });
      const notes = rehearsed ? [] : [{ action: 'rehearsal.skipped', details: { script: script.digest, reason: 'the app was told to run without one' } }];
      void runCeremony({ script, dir: r.dir, inputs: r.dir, tokens, confirm, say, simulation: false, notes })
        .then((res) => { run.state = 'done'; run.auditFile = res.audit.file; run.chain = chainInForce(res.audit.file); say(`Ceremony complete: ${res.steps.length} steps; audit log ${res.audit.file} (${res.audit.entries} entries)`); })
        .catch((err: unknown) => { run.state = 'failed'; run.error = isKeyceremonyError(err) || err instanceof Error ? d.asError(err) : d.asError(new Error(String(err))); })
        .finally(() => { for (const p of pins) zero(p); });
      return { runId };
    },
    'ceremony.status': async (r) => {
      const run = runOf(r.runId);
      return { state: run.state, lines: [...run.lines], question: run.question, error: run.error };
    },
    'ceremony.answer': async (r) => {
      const run = runOf(r.runId);
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
    'transcript.pdf': async (r) => {
      const run = runOf(r.runId);
      if (run.state !== 'done') throw new KeyceremonyError('CEREMONY_NOT_DONE', 'the transcript is written when the ceremony ends', 'finish the ceremony first');
      if (d.printToPdf === undefined) throw new KeyceremonyError('PDF_UNAVAILABLE', 'this build of the app cannot print to PDF', 'save the transcript as HTML and print it from a browser');
      const pdf = await d.printToPdf(readFileSync(join(run.dir, 'transcript.html'), 'utf8'));
      if (Buffer.from(pdf.subarray(0, 5)).toString('latin1') !== '%PDF-') throw new KeyceremonyError('PDF_INVALID', 'the printer did not produce a PDF', 'this is a bug: report it');
      const file = join(run.dir, 'transcript.pdf');
      writeFileAtomic(file, pdf, true);
      return { file, bytes: pdf.length, sha256: createHash('sha256').update(pdf).digest('hex') };
    },
    'transcript.read': async (r) => {
      const run = runOf(r.runId);
      if (run.state !== 'done') throw new KeyceremonyError('CEREMONY_NOT_DONE', 'the transcript is written when the ceremony ends', 'finish the ceremony first');
      return { markdown: readFileSync(join(run.dir, 'transcript.md'), 'utf8'), html: readFileSync(join(run.dir, 'transcript.html'), 'utf8'), audit: readFileSync(join(run.dir, 'audit.jsonl'), 'utf8'),
        checkpoint: readFileSync(join(run.dir, 'audit.checkpoint.json'), 'utf8'), chain: run.chain.map((f) => readFileSync(join(run.dir, f), 'utf8')) };
    },
  };
}
