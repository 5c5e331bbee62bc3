/**
 * The ceremony engine (issues 7 and 13): the loop over a validated script's steps, the journal and
 * the context. Each step kind lives in ./steps/ behind one interface. The audit log is the
 * write-ahead journal: `step.begin` is fsynced before a step touches a token and `step.done`, with
 * the step's results, after; every entry is MACed by a key the journal token holds for this run
 * (./journal.ts).
 *
 * Re-running over the same folder resumes, and trusts nothing the folder holds until it is proven:
 * the folder may hold only what this run wrote (./folder.ts); the log must be this script's and
 * every entry's MAC must check out; a person confirms the resume, seeing what each done step will
 * be checked against; then each done step is proven again from the tokens and files (`adopt`),
 * and a result that differs from the journal stops the run. A step that began but did not finish
 * adopts what it already made, or destroys what was half made, so a crash never repeats a key
 * generation, a signature or an export. The checkpoint is signed only after the custodians see
 * what it covers.
 */
import { existsSync, lstatSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isLineProblem, MAX_LOG_BYTES, parseLine } from '../audit/log.js';
import type { AuditEntry, DetailValue } from '../audit/log.js';
import { crashpoint } from '../crashpoint.js';
import { formatTime } from '../docs/fields.js';
import { MAX_ENVELOPE_BYTES, parseEnvelope, serializeEnvelope } from '../dsse/envelope.js';
import { verifyAuditLog } from '../audit/verify.js';
import { KeyceremonyError } from '../errors.js';
import { Folder } from '../files.js';
import { withSession } from '../pkcs11/session.js';
import type { Session } from '../pkcs11/session.js';
import { pinOf, resumeMismatch, StepContext } from './context.js';
import type { Question, ResolvedToken, StepResult } from './context.js';
import { checkFolder, CHECKPOINT, JOURNAL, TRANSCRIPTS } from './folder.js';
import { checkLogScript, doneOf, Journal, journalToken } from './journal.js';
import { mediaRule } from './media.js';
import { REHEARSAL_STORE } from './rehearsal.js';
import { checkCapabilities, checkInputs, checkInputsUnchanged, inputDigests, pinInputs } from './preflight.js';
import type { CeremonyScript } from './script.js';
import { kindOf } from './steps/index.js';
import { transcriptHtml, transcriptMarkdown } from './transcript.js';
import { buildTranscript } from './transcript-model.js';
import { describeLibrary } from '../pkcs11/module.js';

export { checkInputs } from './preflight.js';
export { pinOf } from './context.js';
export type { ResolvedToken } from './context.js';

export interface RunOptions {
  readonly script: CeremonyScript;
  /** The ceremony folder: every output, the audit log, the transcript. */
  readonly dir: string;
  /** The folder the script's input paths (KMS wrapping keys, earlier ceremonies' files) are relative to. */
  readonly inputs: string;
  readonly tokens: ReadonlyMap<string, ResolvedToken>;
  /** A witness confirms words read aloud (or the clock, a resume, a checkpoint): typed words or yes. */
  readonly confirm: (q: Question) => Promise<boolean>;
  readonly say: (line: string) => void;
  readonly simulation: boolean;
  readonly now?: () => number;
  readonly env?: NodeJS.ProcessEnv;
  /** Files the caller read from the ceremony folder (the script, a profile, a rehearsal record), absolute paths. */
  readonly declared?: readonly string[];
  /** Names the caller made in the ceremony folder for this run and checked itself; a rehearsal's token store by default. */
  readonly own?: readonly string[];
  /** Recorded in the log before the first step (rehearsal, network allowed, no rehearsal). */
  readonly notes?: readonly { readonly action: string; readonly details: Record<string, DetailValue> }[];
}

export interface RunResult {
  readonly dir: string;
  readonly resumed: boolean;
  readonly steps: readonly { readonly id: string; readonly title: string; readonly outcome: string; readonly skipped: boolean }[];
  readonly audit: { readonly file: string; readonly entries: number; readonly log: string };
  readonly transcript: { readonly markdown: string; readonly html: string };
}

type Summary = RunResult['steps'][number];
/** Each step with the result proven in this run (performed, or adopted from the tokens and files). */
type Proven = { readonly summary: Summary; readonly actor: string; readonly result: StepResult }[];

/** The custodian set files in force at the end of a ceremony's log (relative to its folder), root first; [] before any set step is done. */
export function chainInForce(auditFile: string): string[] {
  let chain: string[] = [];
  if (!existsSync(auditFile)) return chain;
  for (const line of readFileSync(auditFile, 'utf8').split('\n')) {
    if (line === '') continue;
    const e = parseLine(line);
    if (!isLineProblem(e) && e.action === 'step.done' && Array.isArray(e.details.chain)) chain = e.details.chain as string[];
  }
  return chain;
}

/** What an interruption left (hidden temporaries, staging folders) goes, links as links, never followed. */
function removeLeftBehind(dir: string, rels: readonly string[]): string[] {
  const f = Folder.open(dir);
  for (const r of rels) f.remove(r);
  return [...rels];
}

function adminOf(script: CeremonyScript): string {
  return script.participants.find((p) => p.role === 'administrator')?.id ?? script.participants[0]?.id ?? 'admin';
}

/** A first run: the folder holds only what may be there; a journal left empty by a crash before its first entry is no journal. */
function journalState(o: RunPlan): 'none' | 'empty' | 'present' {
  let st;
  try { st = lstatSync(join(o.dir, JOURNAL)); } catch { return 'none'; }
  return st.isFile() && st.size === 0 ? 'empty' : 'present';
}

export type RunPlan = Pick<RunOptions, 'script' | 'dir' | 'inputs' | 'simulation' | 'now' | 'env' | 'declared' | 'own'>;

/**
 * Everything a run checks before a token store is opened or anything is written: the input files,
 * the removable-media rule, and what the folder holds. Callers that make something in the folder
 * for the run (a rehearsal's token store) call it first; the run calls it again.
 */
export function preflightRun(o: RunPlan): { resume: boolean; emptyJournal: boolean; leftBehind: string[]; media: ReturnType<typeof mediaRule>; own: readonly string[] } {
  checkInputs(o.script, o.inputs, (o.now ?? Date.now)());
  const media = mediaRule(o.dir, { steps: o.script.steps, simulation: o.simulation, env: o.env ?? process.env });
  if (!existsSync(o.dir)) return { resume: false, emptyJournal: false, leftBehind: [], media, own: [] };
  // a journal left empty by a crash before its first entry is no journal: the run starts afresh, once the folder checks out
  const journal = journalState(o);
  const resume = journal === 'present';
  const own = o.own ?? (o.simulation ? [REHEARSAL_STORE] : []);
  const declared = [...(o.declared ?? []), ...(journal === 'empty' ? [join(o.dir, JOURNAL)] : [])];
  const leftBehind = checkFolder({ script: o.script, dir: o.dir, inputs: o.inputs, simulation: o.simulation, declared, own }, resume);
  if (resume) checkLogScript(join(o.dir, JOURNAL), Journal.entriesOf(join(o.dir, JOURNAL)), o.script);
  if (resume && o.simulation && own.includes(REHEARSAL_STORE) && !existsSync(join(o.dir, REHEARSAL_STORE))) {
    // a rehearsal's journal key lives in its own token store: a log without one is not this run's
    throw new KeyceremonyError('CEREMONY_LOG_UNAUTHENTIC', `the log in ${o.dir} has no rehearsal token store beside it: no rehearsal wrote it`, 'nothing was done: keep the folder as evidence and rehearse in a new folder');
  }
  return { resume, emptyJournal: journal === 'empty', leftBehind, media, own };
}

export async function runCeremony(o: RunOptions): Promise<RunResult> {
  const now = o.now ?? (() => Date.now());
  const env = o.env ?? process.env;
  const { resume, emptyJournal, leftBehind, media } = preflightRun(o);
  mkdirSync(o.dir, { recursive: true });
  if (emptyJournal) Folder.open(o.dir).remove(JOURNAL);
  const ctx = new StepContext({ ...o, env, now }, pinInputs(o.script, o.inputs));
  checkCapabilities(o.script, o.tokens);
  const jt = ctx.token(journalToken(o.script).name);
  const notes = [...(o.notes ?? []), ...(media === null ? [] : [media])];
  return withSession(jt.token, await pinOf(jt), async (s) => {
    if (!resume) return finish(ctx, await begin(ctx, s, notes), false);
    const j = Journal.resume(join(o.dir, JOURNAL), s, { script: o.script, admin: adminOf(o.script), now });
    const removed = j === null ? [] : removeLeftBehind(o.dir, leftBehind); // only once the log proved to be this run's
    const entries = j?.entries ?? Journal.entriesOf(join(o.dir, JOURNAL));
    if (entries.at(-1)?.action === 'checkpoint') return proveSealed(ctx, entries, j);
    if (j === null) {
      throw new KeyceremonyError('CEREMONY_LOG_UNAUTHENTIC', `the log in ${o.dir} is unfinished and its journal key is not on token "${jt.token.label}": this run did not write it`,
        'nothing was done: keep the folder as evidence and run the ceremony in a new folder');
    }
    return finish(ctx, await continueRun(ctx, j, removed), true);
  });
}

async function begin(ctx: StepContext, s: Session, notes: NonNullable<RunOptions['notes']>): Promise<Journal> {
  const admin = adminOf(ctx.script);
  const t = formatTime(ctx.now());
  if (!(await ctx.confirm({ who: admin, what: `the ceremony clock reads ${t} UTC`, kind: 'clock' }))) throw new KeyceremonyError('CEREMONY_CLOCK_REFUSED', `the clock (${t} UTC) was not confirmed`, 'set the clock to UTC and start again');
  const j = Journal.create(join(ctx.dir, JOURNAL), s, { ceremony: ctx.script.id, admin, now: () => ctx.now() });
  j.writer.append({ actor: admin, action: 'ceremony.start', keys: [], details: { ceremony: ctx.script.id, script: ctx.script.digest, clock: t, simulation: ctx.simulation, journalToken: s.token.label,
    inputs: inputDigests(ctx.pinned) } });
  for (const n of notes) j.writer.append({ actor: admin, action: n.action, keys: [], details: n.details });
  return j;
}

/** A person confirms the resume, seeing the steps the journal says are done and what each will be checked against. */
async function continueRun(ctx: StepContext, j: Journal, removed: readonly string[]): Promise<Journal> {
  const admin = adminOf(ctx.script);
  checkInputsUnchanged(j.entries.find((e) => e.action === 'ceremony.start'), inputDigests(ctx.pinned));
  ctx.begun = new Set(j.entries.filter((e) => e.action === 'step.begin').map((e) => String(e.details.step)));
  ctx.done = new Map([...j.done].map(([id, e]) => [id, e.details]));
  const done = ctx.script.steps.filter((s) => j.done.has(s.id));
  const list = done.map((s) => `${s.id}: ${kindOf(s).proof(s)}`);
  ctx.say(`Resuming: the journal says ${done.length} of ${ctx.script.steps.length} steps are done; each is checked before the run goes on:${list.map((l) => `\n  - ${l}`).join('')}`);
  if (!(await ctx.confirm({ who: admin, what: `resuming this ceremony with ${done.length} step(s) done (${done.map((s) => s.id).join(', ') || 'none'}), each checked against its tokens and files`, kind: 'resume' }))) {
    throw new KeyceremonyError('CEREMONY_RESUME_REFUSED', 'the resume was not confirmed; nothing was done', 'inspect the folder and its log; run again to resume, or start in a new folder');
  }
  j.writer.append({ actor: admin, action: 'ceremony.resume', keys: [], details: { ceremony: ctx.script.id, script: ctx.script.digest, done: done.map((s) => s.id), removed: [...removed] } });
  return j;
}

/** The journal's result for a done step against the one proven from the tokens and files now. */
function compareWithJournal(stepId: string, entry: AuditEntry, r: StepResult): void {
  const journal = { title: entry.details.title, outcome: entry.details.outcome, lines: entry.details.lines ?? [], keys: entry.keys };
  const found = { title: r.title, outcome: r.outcome, lines: r.lines, keys: r.keys };
  for (const k of Object.keys(found) as (keyof typeof found)[]) if (JSON.stringify(journal[k]) !== JSON.stringify(found[k])) throw resumeMismatch(stepId, k, journal[k], found[k]);
  for (const [k, v] of Object.entries(r.details)) if (JSON.stringify(entry.details[k]) !== JSON.stringify(v)) throw resumeMismatch(stepId, k, entry.details[k], v);
}

async function runSteps(ctx: StepContext, j: Journal): Promise<Proven> {
  const summary: Proven = [];
  const done = j.done;
  for (const [i, step] of ctx.script.steps.entries()) {
    const kind = kindOf(step);
    const prior = done.get(step.id);
    if (prior !== undefined) {
      const r = await kind.adopt(ctx, step);
      compareWithJournal(step.id, prior, r);
      summary.push({ summary: { id: step.id, title: r.title, outcome: r.outcome, skipped: true }, actor: prior.actor, result: r });
      ctx.say(`Step ${i + 1} (${step.id}): done before, proven again from the tokens and files`);
      continue;
    }
    ctx.say(`Step ${i + 1} (${step.id}): ${step.action}, ${step.actor} acts now`);
    j.writer.append({ actor: step.actor, action: 'step.begin', keys: [], details: { step: step.id, kind: step.action } });
    crashpoint(`step:${step.id}:begin`);
    const r = await kind.perform(ctx, step);
    crashpoint(`step:${step.id}:performed`);
    j.writer.append({ actor: step.actor, action: 'step.done', keys: r.keys, details: { step: step.id, title: r.title, outcome: r.outcome, lines: r.lines, ...r.details } });
    summary.push({ summary: { id: step.id, title: r.title, outcome: r.outcome, skipped: false }, actor: step.actor, result: r });
  }
  return summary;
}

/** The checkpoint: the custodians present see what it covers, then the set's threshold of them signs the log as it stands. */
async function checkpoint(ctx: StepContext, j: Journal, resumed: boolean): Promise<void> {
  const c = ctx.requireSet().chain.newest;
  const signers = c.custodians.filter((x) => ctx.script.tokens.some((t) => t.holder === x.id)).slice(0, c.threshold).map((x) => x.id);
  const w = j.writer;
  const covers = `the audit log ${w.log}: ${w.entries} entries, head ${w.lastHash}, ${resumed ? 'resumed after an interruption' : 'run without interruption'}`;
  ctx.say(`Checkpoint: ${covers}`);
  if (!(await ctx.confirm({ who: signers.join(', '), what: `the checkpoint they sign covers ${covers}`, kind: 'checkpoint' }))) {
    throw new KeyceremonyError('CEREMONY_CHECKPOINT_REFUSED', 'the custodians did not confirm what the checkpoint covers; nothing was signed', 'read the log with keyceremony audit verify, then run again to sign the checkpoint');
  }
  let env = w.checkpointEnvelope(c.version);
  for (const s of signers) env = await ctx.signOn(env, s);
  crashpoint('checkpoint:signed');
  w.appendCheckpoint(adminOf(ctx.script), env);
  ctx.write(CHECKPOINT, serializeEnvelope(env));
}

/** A file the run writes once: written when absent, else it must be byte for byte what the run would write. */
function writeOnce(ctx: StepContext, rel: string, text: string): void {
  if (!ctx.folder.exists(rel)) { ctx.write(rel, text); return; }
  if (Buffer.from(ctx.folder.read(rel, 'the transcript', 16 * 1024 * 1024)).toString('utf8') !== text) {
    throw new KeyceremonyError('CEREMONY_FILE_CONFLICT', `${join(ctx.dir, rel)} is already in the ceremony folder and is not what this run writes`, 'nothing was overwritten: move that file away, then run again');
  }
}

async function finish(ctx: StepContext, j: Journal, resumed: boolean): Promise<RunResult> {
  const steps = await runSteps(ctx, j);
  await checkpoint(ctx, j, resumed);
  const r = writeTranscripts(ctx, resumed, steps, j.writer.log);
  j.close(); // sealed by the custodians' checkpoint: the key that could extend the log goes
  return r;
}

function writeTranscripts(ctx: StepContext, resumed: boolean, proven: Proven, log: string): RunResult {
  const auditFile = join(ctx.dir, JOURNAL);
  const entries = Journal.entriesOf(auditFile);
  const steps = proven.map((p) => p.summary);
  const t = buildTranscript({ script: ctx.script, dir: ctx.dir, simulation: ctx.simulation, entries, admin: adminOf(ctx.script),
    libraries: new Map(ctx.script.tokens.map((t) => [t.name, describeLibrary(ctx.token(t.name).token.module)])), results: proven.map((p) => ({ actor: p.actor, ...p.result })) });
  const [md, html] = TRANSCRIPTS;
  writeOnce(ctx, md, transcriptMarkdown(t));
  writeOnce(ctx, html, transcriptHtml(t));
  return { dir: ctx.dir, resumed, steps, audit: { file: auditFile, entries: entries.length, log }, transcript: { markdown: join(ctx.dir, md), html: join(ctx.dir, html) } };
}

/**
 * A finished run, its log ending with the custodians' checkpoint (its journal key destroyed, or
 * not yet when the run stopped just before): every step is proven again from the tokens and
 * files, and nothing is written but what the run had not written yet (the checkpoint file from the
 * authenticated log, the transcripts).
 */
async function proveSealed(ctx: StepContext, entries: readonly AuditEntry[], j: Journal | null): Promise<RunResult> {
  const done = doneOf(entries);
  const missing = ctx.script.steps.filter((s) => !done.has(s.id)).map((s) => s.id);
  const file = join(ctx.dir, CHECKPOINT);
  if (missing.length > 0 || (j === null && !existsSync(file))) {
    throw new KeyceremonyError('CEREMONY_LOG_UNAUTHENTIC', `the log in ${ctx.dir} ends with a checkpoint, yet ${missing.length > 0 ? `steps ${missing.join(', ')} are not done` : 'the checkpoint file is missing'}`,
      'nothing was done: keep the folder as evidence and run the ceremony in a new folder');
  }
  checkInputsUnchanged(entries.find((e) => e.action === 'ceremony.start'), inputDigests(ctx.pinned));
  ctx.begun = new Set(done.keys());
  ctx.done = new Map([...done].map(([id, e]) => [id, e.details]));
  const proven: Proven = [];
  for (const step of ctx.script.steps) {
    const prior = done.get(step.id) as AuditEntry;
    const r = await kindOf(step).adopt(ctx, step);
    compareWithJournal(step.id, prior, r);
    proven.push({ summary: { id: step.id, title: r.title, outcome: r.outcome, skipped: true }, actor: prior.actor, result: r });
  }
  if (!existsSync(file)) ctx.write(CHECKPOINT, serializeEnvelope(parseEnvelope(new TextEncoder().encode(String(entries.at(-1)?.details.envelope)))), false);
  requireSealedBy(ctx, file);
  ctx.say(`The ceremony in ${ctx.dir} is complete: every step proven again from the tokens and files`);
  const r = writeTranscripts(ctx, true, proven, String(entries[0]?.details.log ?? ''));
  j?.close();
  return r;
}

/** The finished log verifies whole, and its checkpoint (kept in the folder too) is signed by the set in force and covers its last entry. */
function requireSealedBy(ctx: StepContext, checkpointFile: string): void {
  const log = ctx.folder.read(JOURNAL, 'the audit log', MAX_LOG_BYTES);
  const v = verifyAuditLog(log, { chain: ctx.requireSet().chain, external: [ctx.folder.read(CHECKPOINT, 'the checkpoint', MAX_ENVELOPE_BYTES)], requireCheckpointAtEnd: true });
  if (!v.valid) {
    throw new KeyceremonyError('CEREMONY_LOG_UNAUTHENTIC', `the finished log in ${ctx.dir} is not the one its checkpoint ${checkpointFile} seals: ${v.problems.map((p) => `entry ${p.seq}: ${p.code}`).join('; ')}`,
      'nothing was done: keep the folder as evidence; the ceremony\'s record is the checkpoint kept apart');
  }
}
