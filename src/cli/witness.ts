/**
 * A witness confirms a value at the terminal (issue 15) by the rule the app uses too
 * (src/ceremony/witness.ts): a fingerprint, a check value or a digest is confirmed only by typing
 * its words, each at its own prompt (`word 3 of 12: `), never by yes; the clock, a resume and a
 * checkpoint are yes or no.
 *
 * - A value made in this run: its words are shown to the reader, who reads them aloud; on Enter the
 *   terminal is cleared and the witness types what they heard, slot by slot.
 * - A value from an earlier ceremony's record (source `record`): its words are never shown; the
 *   witness types them from that ceremony's printed transcript.
 * - A slot that differs is named (`slot 3 differs`); the witness types the differing slots again
 *   (a value of this run is shown to its reader again first, those slots only) or refuses with `no`.
 *
 * What clearing can do, honestly: CLEAR_SCREEN erases what the terminal shows (ECMA-48 ED 2) and
 * the lines it keeps above the screen (ED 3, xterm's extension, which VTE, Konsole, iTerm2, kitty,
 * Windows Terminal and the Linux console honour; a terminal without it keeps its scrollback), then
 * homes the cursor. It cannot reach copies the terminal does not own: a multiplexer's own history
 * (tmux, screen), a session log (`script`, a terminal's logging), a serial console's paper, a camera.
 * A live ceremony runs in a plain terminal without them. The engine's progress lines on stdout
 * carry the value too (its fingerprint, check value or digest), so clearing also takes those off
 * the screen; stdout sent to a file keeps them, which is why the screen, not a file, is where a
 * witness may not look.
 */
import { StringDecoder } from 'node:string_decoder';
import type { Question } from '../ceremony/context.js';
import { expectedWords, withoutValue, wrongSlots } from '../ceremony/witness.js';
import type { Expected } from '../ceremony/witness.js';
import { KeyceremonyError } from '../errors.js';
import { writeLines } from './io.js';
import type { Io } from './io.js';

/** Erase the screen (ED 2) and the scrollback (ED 3), cursor to the top left (CUP). */
export const CLEAR_SCREEN = '\x1b[2J\x1b[3J\x1b[H';

/**
 * Rounds of typing before a witness check gives up: naming the slot that differs would otherwise let
 * a guess be walked to the answer one slot at a time, 256 tries a slot.
 */
export const MAX_ROUNDS = 3;

/** The kinds confirmed only by their words; one of them without words is a bug, never a yes/no. */
const WORDS_ONLY: ReadonlySet<string> = new Set(['fingerprint', 'check-value', 'digest']);

/** Asks the witness `q.who` to confirm `q` at the terminal: true when confirmed, false when refused. */
export async function askWitness(io: Io, q: Question): Promise<boolean> {
  const stderr = io.stderr as Partial<NodeJS.WriteStream>;
  if (io.stdin.isTTY !== true || stderr.isTTY !== true) {
    throw new KeyceremonyError('CEREMONY_NO_TERMINAL', `${q.who} must confirm ${withoutValue(q)}, and there is no terminal`, 'run the ceremony at a terminal (or rehearse with --yes)');
  }
  const expected = expectedWords(q);
  if (expected.length === 0 && q.kind !== undefined && WORDS_ONLY.has(q.kind)) {
    throw new KeyceremonyError('CEREMONY_WITNESS_NO_WORDS', `${withoutValue(q)} came with no words to type`, 'this is a bug: report it', { exit: 3 });
  }
  const lines = new TypedLines(io.stdin);
  try {
    return expected.length === 0 ? await yesOrNo(io, lines, q) : await bySlots(io, lines, q, expected);
  } finally {
    lines.close();
  }
}

/** A yes/no question: asked again until the answer is yes or no; input that ends is a no. */
async function yesOrNo(io: Io, lines: TypedLines, q: Question): Promise<boolean> {
  writeLines(io.stderr, [`${q.who}: confirm ${q.what}`]);
  for (;;) {
    io.stderr.write('  type yes or no: ');
    const answer = (await lines.next())?.trim().toLowerCase() ?? 'no';
    if (answer === 'yes' || answer === 'no') return answer === 'yes';
  }
}

/** Each slot typed at its own prompt; the differing slots named and typed again, up to MAX_ROUNDS rounds. */
async function bySlots(io: Io, lines: TypedLines, q: Question, expected: Expected): Promise<boolean> {
  const what = withoutValue(q);
  const fromRecord = q.source === 'record';
  const typed = expected.map(() => '');
  let ask = expected.map((_, i) => i + 1);
  for (let round = 1; ; round++) {
    if (fromRecord) io.stderr.write(CLEAR_SCREEN); // the engine's progress line above may show the value
    else if (!(await showToReader(io, lines, q, what, expected, ask, round > 1))) return refused(io, q, what);
    writeLines(io.stderr, [round > 1 ? `${q.who}: type ${slotNames(ask)} again${fromRecord ? ' from the printed transcript' : ''} (or no to stop)`
      : fromRecord ? `${q.who}: type the ${expected.length} words of ${what} from the printed transcript of the ceremony that made it, one at each prompt (a word, or its byte as two hex digits; no stops)`
        : `${q.who}: type the ${expected.length} words of ${what} as you heard them, one at each prompt (a word, or its byte as two hex digits; no stops)`]);
    for (const slot of ask) {
      const word = await slotAnswer(io, lines, slot, expected.length);
      if (word === null) return refused(io, q, what);
      typed[slot - 1] = word;
    }
    ask = wrongSlots(expected, typed);
    if (ask.length === 0) {
      writeLines(io.stderr, [`  ${q.who} confirmed ${what}: all ${expected.length} words match`]);
      return true;
    }
    writeLines(io.stderr, [`  ${slotNames(ask)} ${ask.length === 1 ? 'differs' : 'differ'}`]);
    if (round === MAX_ROUNDS) {
      writeLines(io.stderr, [`  ${q.who} typed words that still differ after ${MAX_ROUNDS} rounds: not confirmed`]);
      return false;
    }
  }
}

/**
 * The words of the given slots on the screen for the reader, until Enter; then the screen is
 * cleared. False when the reader types no (or input ends).
 */
async function showToReader(io: Io, lines: TypedLines, q: Question, what: string, expected: Expected, slots: readonly number[], again: boolean): Promise<boolean> {
  const cells = slots.map((s) => `${String(s).padStart(4)} ${(expected[s - 1]?.word ?? '').padEnd(12)}`);
  const rows: string[] = [];
  for (let i = 0; i < cells.length; i += 4) rows.push(cells.slice(i, i + 4).join('').trimEnd());
  writeLines(io.stderr, [
    `Reader: say ${again ? `${slotNames(slots)} of ${what} again` : `these ${expected.length} words of ${what}`} to ${q.who}, who does not look at this screen:`,
    ...rows,
  ]);
  for (;;) {
    io.stderr.write('Press Enter when they have been read (the screen is then cleared), or type no to stop: ');
    const answer = (await lines.next())?.trim().toLowerCase() ?? 'no';
    if (answer === 'no') return false;
    if (answer === '') {
      io.stderr.write(CLEAR_SCREEN);
      return true;
    }
  }
}

/** What the witness typed at `word N of M: `; null when they refuse (no) or input ends. Empty and yes are asked again. */
async function slotAnswer(io: Io, lines: TypedLines, slot: number, of: number): Promise<string | null> {
  for (;;) {
    io.stderr.write(`word ${slot} of ${of}: `);
    const line = await lines.next();
    if (line === null) return null;
    const word = line.trim().toLowerCase();
    if (word === 'no') return null;
    if (word === 'yes') writeLines(io.stderr, [`  yes does not confirm words: type word ${slot} as you heard it, or no to stop`]);
    else if (word !== '') return word;
  }
}

function refused(io: Io, q: Question, what: string): false {
  writeLines(io.stderr, [`  ${q.who} did not confirm ${what}`]);
  return false;
}

const slotNames = (slots: readonly number[]): string => (slots.length === 1 ? `slot ${slots[0] ?? ''}` : `slots ${slots.join(', ')}`);

/**
 * Lines typed at the terminal, one per next(): the terminal is left in its own line mode, so it
 * echoes and edits (backspace) what is typed, and Ctrl-C interrupts as everywhere. Input typed
 * ahead of a prompt answers it; whatever is left when the question ends is dropped, never carried
 * to the next question. null once input has ended (Ctrl-D).
 */
class TypedLines {
  private buffer = '';
  private ended: boolean;
  private waiting: ((line: string | null) => void) | null = null;
  private readonly decoder = new StringDecoder('utf8');
  private readonly onData = (chunk: Buffer | string): void => {
    this.buffer += typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    this.deliver();
  };
  private readonly onEnd = (): void => {
    this.ended = true;
    this.deliver();
  };

  constructor(private readonly stdin: NodeJS.ReadStream) {
    this.ended = stdin.readableEnded;
    stdin.on('data', this.onData);
    stdin.on('end', this.onEnd);
    stdin.resume();
  }

  next(): Promise<string | null> {
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.deliver();
    });
  }

  close(): void {
    this.stdin.removeListener('data', this.onData);
    this.stdin.removeListener('end', this.onEnd);
    this.stdin.pause();
    this.buffer = '';
  }

  private deliver(): void {
    const waiting = this.waiting;
    if (waiting === null) return;
    const nl = this.buffer.indexOf('\n');
    if (nl < 0 && !this.ended) return;
    this.waiting = null;
    if (nl < 0) {
      waiting(null);
      return;
    }
    const line = this.buffer.slice(0, nl).replace(/\r$/, '');
    this.buffer = this.buffer.slice(nl + 1);
    waiting(line);
  }
}
