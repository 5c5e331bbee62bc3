/**
 * The input preflight: every input file the script names, read and checked before the first token
 * operation (KMS wrapping keys for their targets, the chain of a loaded set, earlier ceremonies'
 * manifests), so a missing or wrong file stops the ceremony before anything is made. All that
 * cannot be used are listed in one refusal.
 */
import { KeyceremonyError, isKeyceremonyError } from '../errors.js';
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
