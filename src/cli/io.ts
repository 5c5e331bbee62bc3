/** What a command may touch of the outside world; tests and the app pass their own. */
export interface Io {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly stdin: NodeJS.ReadStream;
  readonly env: NodeJS.ProcessEnv;
}

export function processIo(): Io {
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env };
}

/** Set-once warnings on stderr (CLI.md: warn once that a simulation token is used). */
export class Warnings {
  private readonly said = new Set<string>();
  constructor(private readonly io: Io) {}
  warn(text: string): void {
    if (this.said.has(text)) return;
    this.said.add(text);
    this.io.stderr.write(`keyceremony: warning: ${text}\n`);
  }
}
