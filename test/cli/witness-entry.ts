/**
 * Asks each question of argv[2] (a JSON list of Question) with the command line's askWitness on
 * this process's own terminal, then prints `answers: [...]` (true, false, or an error's code).
 * Run by test/cli/witness.test.ts under test/support/pty-run.py, a real pseudo-terminal.
 */
import type { Question } from '../../src/ceremony/context.js';
import { processIo } from '../../src/cli/io.js';
import { askWitness } from '../../src/cli/witness.js';
import { isKeyceremonyError } from '../../src/errors.js';

const questions = JSON.parse(process.argv[2] ?? '[]') as Question[];
const answers: (boolean | string)[] = [];
try {
  for (const q of questions) answers.push(await askWitness(processIo(), q));
} catch (err) {
  if (!isKeyceremonyError(err)) throw err;
  answers.push(err.code);
}
process.stdout.write(`answers: ${JSON.stringify(answers)}\n`);
