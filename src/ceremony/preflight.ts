/**
 * The input preflight: every input file the script names, read and checked before the first token
 * operation (KMS wrapping keys for their targets, the chain of a loaded set, earlier ceremonies'
 * manifests), so a missing or wrong file stops the ceremony before anything is made. All that
 * cannot be used are listed in one refusal.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { AuditEntry } from '../audit/log.js';
import { KeyceremonyError, isKeyceremonyError } from '../errors.js';
import { readInput } from '../files.js';
import { missingNeeds } from '../pkcs11/capabilities.js';
import type { Need } from '../pkcs11/capabilities.js';
import type { ResolvedToken } from './context.js';
import { journalToken } from './journal.js';
import type { CeremonyScript } from './script.js';
import { kindOf } from './steps/index.js';

export function checkInputs(script: CeremonyScript, inputs: string, at: number): void {
  const problems: string[] = [];
  let unreadable = false;
  for (const step of script.steps) {
    for (const c of kindOf(step).checkInputs({ script, inputs, at }, step)) {
      try {
        c.run();
      } catch (err) {
        if (!isKeyceremonyError(err)) throw err;
        unreadable ||= err.exit === 2;
        problems.push(`${c.what}: ${err.code}: ${err.message}`);
      }
    }
  }
  if (problems.length > 0) {
    // a file that is missing or cannot be read is a usage error (CLI.md: exit 2); one that reads but does not check out, a refusal (exit 1)
    throw new KeyceremonyError('CEREMONY_INPUTS_INVALID', `${problems.length} input file(s) of the script cannot be used: ${problems.join(' | ')}`,
      `put the files the script names in ${inputs} (the KMS wrapping keys, the earlier ceremonies' custodian sets and manifests), then start again`, { exit: unreadable ? 2 : 1 });
  }
}

/** Input files are bounded like every document; a KMS key is far smaller. */
const MAX_INPUT_BYTES = 1024 * 1024;

/**
 * `path:sha256` of every input file the script names, recorded (MACed) when the ceremony starts: a
 * resumed run uses exactly the inputs the run began with (a KMS wrapping key swapped between a
 * crash and its resume would otherwise receive the master key).
 */
export function inputDigests(pinned: ReadonlyMap<string, Uint8Array>): string[] {
  return [...pinned.keys()].sort().map((p) => `${p}:${createHash('sha256').update(pinned.get(p) as Uint8Array).digest('hex')}`);
}

/**
 * Every input file the script names, read once when the run begins: the steps use these bytes,
 * never the disk again, so a file swapped in the inputs folder during the run (a KMS wrapping key,
 * the deployment's recipients) cannot reach a step; their digests go into ceremony.start.
 */
export function pinInputs(script: CeremonyScript, inputs: string): Map<string, Uint8Array> {
  const paths = [...new Set(script.steps.flatMap((s) => kindOf(s).inputs(s, script)))].sort();
  return new Map(paths.map((p) => [p, readInput(join(inputs, p), 'an input file of the script', MAX_INPUT_BYTES)]));
}

/** The inputs now are the ones the run began with (its ceremony.start entry). */
export function checkInputsUnchanged(start: AuditEntry | undefined, now: readonly string[]): void {
  const then = start?.details.inputs;
  const changed = Array.isArray(then) ? now.filter((d) => !then.includes(d)).map((d) => d.slice(0, d.lastIndexOf(':'))) : ['(the run recorded none)'];
  if (changed.length === 0 && Array.isArray(then) && then.length === now.length) return;
  throw new KeyceremonyError('CEREMONY_INPUT_CHANGED', `input files changed since the ceremony began: ${changed.join(', ') || 'one was removed'}`,
    'stop: put back the files the ceremony began with (the KMS wrapping keys, the earlier sets and manifests), or keep the folder as evidence and start again in a new folder');
}

/**
 * The capability preflight (issue 16): before the first key is made or signature asked, every
 * step's needs are checked on the tokens it names (and the journal's on the journal token), from
 * what each token lists; all that are missing are listed in one refusal, by token.
 */
export function checkCapabilities(script: CeremonyScript, tokens: ReadonlyMap<string, ResolvedToken>): void {
  const needs = new Map<string, Need[]>();
  const add = (token: string, need: Need): void => { needs.set(token, [...(needs.get(token) ?? []), need]); };
  const journal = journalToken(script).name;
  add(journal, 'secret-keys');
  add(journal, 'hmac-sha256');
  for (const step of script.steps) for (const n of kindOf(step).needs(step, script)) add(n.token, n.need);
  const gaps: string[] = [];
  for (const [name, list] of needs) {
    const t = tokens.get(name);
    if (t === undefined) continue; // an unresolved token is named by the step that needs it
    const missing = missingNeeds(t.token, list);
    if (missing.length > 0) gaps.push(`token ${name} ("${t.token.label}") lacks ${missing.join(', ')}`);
  }
  if (gaps.length > 0) {
    throw new KeyceremonyError('CEREMONY_CAPABILITIES_MISSING', `the script needs what its tokens do not offer: ${gaps.join('; ')}`,
      'nothing was done: use tokens that offer these mechanisms (keyceremony tokens lists what each offers), or change the script');
  }
}
