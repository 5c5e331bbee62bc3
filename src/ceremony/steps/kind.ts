/**
 * The one interface every step kind implements (issue 13), chosen through the table in ./index.ts:
 * the engine is a loop over it. Like a Terraform resource or a controller's reconcile:
 *  - `perform` does the step; what an interrupted attempt already made is found, checked and
 *    adopted, never made twice;
 *  - `adopt` answers for a step the journal says is done: it re-derives the step's result from the
 *    tokens and files alone (a key's check value from the token, a document verified against the
 *    set in force, an export folder against its export.json) and writes nothing. The engine then
 *    compares that result with the journal's; where they differ, the tokens and files win and the
 *    run stops.
 */
import type { StepContext, StepResult } from '../context.js';
import type { Need } from '../../pkcs11/capabilities.js';
import type { CeremonyScript, Step } from '../script.js';

/** What the input preflight gives a step: the script, the inputs folder, the time. */
export interface Preflight { readonly script: CeremonyScript; readonly inputs: string; readonly at: number }

export interface StepKind<S extends Step> {
  /** Input files the step reads, relative to the inputs folder. */
  inputs(step: S, script: CeremonyScript): readonly string[];
  /** The checks of those files, run before the first token operation; each throws a KeyceremonyError. */
  checkInputs(p: Preflight, step: S): readonly InputCheck[];
  /** What the step writes in the ceremony folder, as relative paths. */
  outputs(step: S, simulation: boolean): readonly string[];
  /** What the step asks of each token (by the script's token name), for the capability preflight. */
  needs(step: S, script: CeremonyScript): readonly TokenNeed[];
  /** For the resume confirmation: what a done step will be checked against. */
  proof(step: S): string;
  perform(ctx: StepContext, step: S): Promise<StepResult>;
  adopt(ctx: StepContext, step: S): Promise<StepResult>;
}

/** One input file (or set of files) and its check, named for the preflight's one list of problems. */
export interface InputCheck { readonly what: string; readonly run: () => void }

/** A token of the script and one thing a step needs it to do. */
export interface TokenNeed { readonly token: string; readonly need: Need }

/** The cards of these custodians, each needing `need`. */
export function cardsNeed(script: CeremonyScript, custodians: readonly string[], need: Need): TokenNeed[] {
  return script.tokens.filter((t) => t.holder !== null && custodians.includes(t.holder)).map((t) => ({ token: t.name, need }));
}

export type StepOf<A extends Step['action']> = Extract<Step, { action: A }>;

export const noInputs = { inputs: (): readonly string[] => [], checkInputs: (): readonly InputCheck[] => [] };
