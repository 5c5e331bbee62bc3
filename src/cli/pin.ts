/**
 * PINs come from the environment variable the user names (--pin-env NAME) or from a prompt on
 * the terminal without echo. Never from argv, never logged. Returned as a Buffer the caller
 * zeroes after use.
 */
import { sanitizeText } from '../docs/sanitize.js';
import { KeyceremonyError, usageError } from '../errors.js';
import type { Io } from './io.js';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const MAX_PIN_BYTES = 256;

export async function readPin(io: Io, envName: string | undefined, tokenLabel: string): Promise<Buffer> {
  return readSecret(io, envName, { flag: '--pin-env', what: 'PIN', of: `token "${tokenLabel}"` });
}

/** The security officer's PIN of a token, from the variable named by --so-pin-env or a prompt naming it. */
export async function readSoPin(io: Io, envName: string | undefined, tokenLabel: string): Promise<Buffer> {
  return readSecret(io, envName, { flag: '--so-pin-env', what: 'SO PIN', of: `token "${tokenLabel}"` });
}

/** A paper share's passphrase, from the variable named by passphrase-env= or a prompt. */
export async function readPassphrase(io: Io, envName: string | undefined, custodian: string): Promise<Buffer> {
  return readSecret(io, envName, { flag: 'passphrase-env=', what: 'passphrase', of: `the paper share of ${custodian}` });
}

async function readSecret(io: Io, envName: string | undefined, s: { flag: string; what: string; of: string }): Promise<Buffer> {
  if (envName !== undefined) {
    if (!ENV_NAME.test(envName)) throw usageError('PIN_ENV_INVALID', `${s.flag} takes the NAME of an environment variable, not ${envName.length > 0 ? 'a value' : 'an empty string'}`, 'export KEYCEREMONY_PIN=… then pass --pin-env KEYCEREMONY_PIN');
    const value = io.env[envName];
    if (value === undefined || value === '') throw usageError('PIN_ENV_UNSET', `the environment variable ${envName} named by ${s.flag} is not set`, `set ${envName} to the ${s.what} of ${s.of}, or leave out ${s.flag} to be asked`);
    return checked(ownBuffer(Buffer.from(value, 'utf8')));
  }
  const stdin = io.stdin;
  if (!stdin.isTTY || typeof stdin.setRawMode !== 'function') {
    throw usageError('PIN_UNAVAILABLE', `there is no terminal to ask for the ${s.what} of ${s.of}`, `pass ${s.flag} NAME naming an environment variable that holds it`);
  }
  return checked(await prompt(io, `${s.what === 'passphrase' ? 'Passphrase' : s.what} for ${s.of}: `));
}

/** The bytes in memory of their own (Buffer.alloc), the pooled copy zeroed: a secret from the environment. */
function ownBuffer(pooled: Buffer): Buffer {
  const own = Buffer.alloc(pooled.length);
  pooled.copy(own);
  pooled.fill(0);
  return own;
}

function checked(pin: Buffer): Buffer {
  if (pin.length > MAX_PIN_BYTES) {
    pin.fill(0);
    throw usageError('PIN_INVALID', `the PIN is longer than ${MAX_PIN_BYTES} bytes`, 'enter the PIN of the token');
  }
  return pin;
}

/** Raw-mode terminal read: no echo, backspace works, Ctrl-C and Ctrl-D cancel. */
function prompt(io: Io, question: string): Promise<Buffer> {
  const stdin = io.stdin;
  const buf = Buffer.alloc(MAX_PIN_BYTES + 1);
  let len = 0;
  return new Promise<Buffer>((resolve, reject) => {
    const done = (err: Error | null): void => {
      stdin.removeListener('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      io.stderr.write('\n');
      if (err !== null) {
        buf.fill(0);
        reject(err);
      } else {
        const pin = Buffer.alloc(len); // its own memory, never Node's shared pool, so zeroing it leaves no copy
        buf.copy(pin, 0, 0, len);
        buf.fill(0);
        resolve(pin);
      }
    };
    const onData = (chunk: Buffer): void => {
      for (const byte of chunk) {
        if (byte === 0x0d || byte === 0x0a) return done(null);
        if (byte === 0x03 || byte === 0x04) return done(new KeyceremonyError('PIN_ENTRY_CANCELLED', 'PIN entry was cancelled', 'run the command again when ready'));
        if (byte === 0x7f || byte === 0x08) { if (len > 0) buf[--len] = 0; continue; }
        if (len <= MAX_PIN_BYTES) buf[len++] = byte;
      }
      chunk.fill(0);
    };
    // Echo off before the prompt appears, so nothing typed early is echoed.
    stdin.setRawMode(true);
    stdin.on('data', onData);
    stdin.resume();
    io.stderr.write(sanitizeText(question)); // a token label comes from the device
  });
}
