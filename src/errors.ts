/**
 * One error class for the whole core. Every failure a custodian can meet carries a stable
 * `code` (tests and programs branch on it, never on the text), a sentence saying what
 * happened, and a sentence saying what to do. The CLI prints
 * `keyceremony: <code>: <message>; <fix>` and exits with `exit` (CLI.md, common rules):
 * 1 = the documents or tokens said no, 2 = usage or unreadable input, 3 = a bug.
 */
export type ExitCode = 1 | 2 | 3;

export class KeyceremonyError extends Error {
  override readonly name = 'KeyceremonyError';
  readonly code: string;
  readonly fix: string;
  readonly exit: ExitCode;

  constructor(code: string, message: string, fix: string, options: { exit?: ExitCode; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.fix = fix;
    this.exit = options.exit ?? 1;
  }
}

/** A usage error: unknown option, missing argument, unreadable input (exit 2). */
export function usageError(code: string, message: string, fix: string, cause?: unknown): KeyceremonyError {
  return new KeyceremonyError(code, message, fix, { exit: 2, cause });
}

export function isKeyceremonyError(e: unknown): e is KeyceremonyError {
  return e instanceof KeyceremonyError;
}
