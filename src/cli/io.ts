/**
 * What a command may touch of the outside world (tests and the app pass their own), and the only
 * ways a command prints (issue 14, item 3). Text from a document or a device (custodian names,
 * member names, token labels, mount points) can hold control, C1 and bidi characters that a
 * terminal obeys, so nothing reaches stdout or stderr raw:
 *
 * - `writeJson`: the one `--json` printer, one object on stdout (CLI.md) through safeJson, so such
 *   characters appear only as `\u` escapes, which are the same characters to a JSON reader;
 * - `writeLines`: lines for a person, each through sanitizeText, so a value cannot start a line of
 *   its own, move the cursor or reorder what is shown; the tool adds each line's end.
 */
import { safeJson, sanitizeText } from '../docs/sanitize.js';

export interface Io {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly stdin: NodeJS.ReadStream;
  readonly env: NodeJS.ProcessEnv;
}

export function processIo(): Io {
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env };
}

/** `--json` output: exactly one JSON object and a newline on stdout. */
export function writeJson(io: Io, value: object, indent?: number): void {
  io.stdout.write(`${safeJson(value, indent)}\n`);
}

/** Each line sanitised (a newline inside one is escaped too) and ended with the tool's own newline. */
export function writeLines(stream: NodeJS.WritableStream, lines: readonly string[]): void {
  if (lines.length > 0) stream.write(lines.map((l) => `${sanitizeText(l)}\n`).join(''));
}

/**
 * Text built by the core with its own line breaks (the engine's and the demo's progress lines):
 * split at them, each part sanitised. Every control, C1 and bidi character is escaped except the
 * newline, since a newline a value carried into such text cannot be told from the core's own:
 * text that quotes a document goes through writeLines, line by line, instead.
 */
export function writeText(stream: NodeJS.WritableStream, text: string): void {
  writeLines(stream, text.split('\n'));
}

/** Set-once warnings on stderr (CLI.md: warn once that a simulation token is used). */
export class Warnings {
  private readonly said = new Set<string>();
  constructor(private readonly io: Io) {}
  warn(text: string): void {
    if (this.said.has(text)) return;
    this.said.add(text);
    writeLines(this.io.stderr, [`keyceremony: warning: ${text}`]);
  }
}
