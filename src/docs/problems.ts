/**
 * Problems found in a signed document: each has a stable code, the path of the field
 * (`signatures[1].sig`, tuf-js style) and a sentence. A parser reports every problem it finds,
 * not just the first; the verifier turns them into `reasons`.
 */
import { KeyceremonyError } from '../errors.js';
import { sanitizeText } from './sanitize.js';

export interface Problem {
  readonly code: string;
  readonly path: string;
  readonly message: string;
}

/**
 * Paths and messages quote the document (member names, values), so both are sanitised here,
 * where a problem is made: whoever shows one, as a line or inside JSON, shows no control or bidi
 * character of the document's (src/docs/sanitize.ts).
 */
export function problem(code: string, path: string, message: string): Problem {
  return { code, path: sanitizeText(path), message: sanitizeText(message) };
}

/** One line; sanitised again, for problems written as object literals elsewhere. */
export function formatProblem(p: Problem): string {
  const text = p.path === '' || p.path === '$' ? `${p.code}: ${p.message}` : `${p.code}: ${p.path}: ${p.message}`;
  return sanitizeText(text);
}

/** A document that could not be read: exit 1 (the document said no), with every problem. */
export class DocumentError extends KeyceremonyError {
  readonly problems: readonly Problem[];
  constructor(problems: readonly Problem[], what: string) {
    const first = problems[0] ?? problem('DOCUMENT_MALFORMED', '$', 'malformed');
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : '';
    super(first.code, `${what}: ${formatProblem(first).slice(first.code.length + 2)}${more}`, 'the document is malformed or was changed; ask for a fresh copy from its author', { exit: 1 });
    this.problems = problems;
  }
}
