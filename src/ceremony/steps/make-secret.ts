/**
 * A new version of an inventory secret (issue 17), made in the ceremony:
 *  - kept in the token: generated there (sensitive, extractable only wrapped, for a cloud KMS's
 *    HMAC import), its FORMATS.md §4 binding computed there with CKM_SHA256_HMAC;
 *  - delivered: 32 bytes drawn from the token's RNG into memory of their own, the binding computed,
 *    sealed at once to the deployment's age recipients (an input file of `age1…` lines) and zeroed.
 *    That moment in host memory is recorded in the journal. The sealed file's plaintext is exactly
 *    the secret's bytes; encodings happen only when a deployment writes them.
 * The manifest step after it carries the binding, and the KCV as its first 3 bytes.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { encrypt, parseRecipient } from '../../age/age.js';
import { KeyceremonyError } from '../../errors.js';
import { readInput } from '../../files.js';
import { keyBinding } from '../../manifest/manifest.js';
import { SEED_INVENTORY } from '../../manifest/inventory.js';
import { findSecret, generateSecret, tokenBinding } from '../../pkcs11/secrets.js';
import { withSession } from '../../pkcs11/session.js';
import { pinOf, provenKey, resumeMismatch } from '../context.js';
import type { StepContext, StepResult } from '../context.js';
import type { Preflight, StepKind, StepOf } from './kind.js';

type S = StepOf<'make-secret'>;

/** 32 random bytes, the project's length for every inventory secret (README). */
export const SECRET_BYTES = 32;
const RECIPIENT = /^age1[02-9ac-hj-np-z]{58}$/;

const idOf = (step: S): string => `${(SEED_INVENTORY.find((e) => e.name === step.name) as { prefix: string }).prefix}-v${step.keyVersion}`;
const sealedName = (step: S): string => `${step.out as string}/${idOf(step)}.age`;

/** The deployment's recipients, one `age1…` per line (blank lines and # comments skipped). */
function recipients(bytes: Uint8Array, step: S): string[] {
  const text = Buffer.from(bytes).toString('utf8');
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  // each parsed as encrypt() will parse it (checksum, a low-order point), here where the file is checked before the run
  const bad = lines.filter((l) => {
    if (!RECIPIENT.test(l)) return true;
    try { parseRecipient(l); return false; } catch { return true; }
  });
  if (new Set(lines).size !== lines.length) {
    throw new KeyceremonyError('CEREMONY_RECIPIENTS_INVALID', `${step.recipients as string} lists a recipient twice`, 'list each of the deployment\'s age recipients once');
  }
  if (lines.length === 0 || bad.length > 0) {
    throw new KeyceremonyError('CEREMONY_RECIPIENTS_INVALID', `${step.recipients as string} must hold one or more age X25519 recipients (age1…), one per line${bad.length > 0 ? `; ${bad.length} line(s) are not` : ''}`, 'put the deployment\'s age recipients in the file, as age-keygen -y prints them');
  }
  return lines;
}

function result(ctx: StepContext, step: S, binding: string, sealed: string | null): StepResult {
  const id = idOf(step);
  const kcv = binding.slice('hmac-sha256:'.length, 'hmac-sha256:'.length + 6);
  ctx.bindings.set(id, binding);
  ctx.kcvs.set(id, kcv);
  const where = step.keep === 'token' ? `kept in "${ctx.token(step.token).token.label}"` : `sealed to the deployment in ${sealedName(step)}`;
  return { title: `Make ${id} (${step.name}), ${where}`, outcome: `binding ${binding}`, lines: [], keys: [id],
    details: { token: ctx.token(step.token).token.label, kcv, binding, keep: step.keep, ...(sealed === null ? {} : { sealed, hostMemory: 'drawn from the token RNG, sealed, zeroed' }) } };
}

async function kept(ctx: StepContext, step: S, make: boolean): Promise<StepResult> {
  const t = ctx.token(step.token);
  const id = idOf(step);
  const binding = await withSession(t.token, await pinOf(t), async (s) => {
    let h = findSecret(s, id);
    if (h !== null && make) ctx.requireBegun(step, `the secret ${id} on token "${t.token.label}"`);
    if (h === null && !make) throw new KeyceremonyError('HSM_OBJECT_NOT_FOUND', `no secret "${id}" on token "${t.token.label}"`, 'bring the token the step used');
    h ??= generateSecret(s, { label: id, bytes: SECRET_BYTES });
    return tokenBinding(s, h, id);
  });
  return result(ctx, step, binding, null);
}

async function deliver(ctx: StepContext, step: S): Promise<StepResult> {
  const to = recipients(ctx.input(step.recipients as string), step); // the bytes pinned when the run began
  const t = ctx.token(step.token);
  const id = idOf(step);
  const secret = await withSession(t.token, await pinOf(t), async (s) => s.random(SECRET_BYTES));
  let sealed: Uint8Array;
  let binding: string;
  try {
    binding = keyBinding(secret, id);
    sealed = encrypt(secret, to);
  } finally {
    secret.fill(0);
  }
  if (!ctx.folder.exists(step.out as string)) ctx.folder.mkdir(step.out as string);
  ctx.write(sealedName(step), sealed);
  return result(ctx, step, binding, createHash('sha256').update(sealed).digest('hex'));
}

export const makeSecret: StepKind<S> = {
  inputs: (step) => (step.recipients === null ? [] : [step.recipients]),
  checkInputs: (p: Preflight, step: S) => (step.recipients === null ? [] : [{ what: `step ${step.id}, ${step.recipients}`, run: () => { recipients(readInput(join(p.inputs, step.recipients as string), 'the age recipients', 64 * 1024), step); } }]),
  needs: (step) => (step.keep === 'token' ? [{ token: step.token, need: 'secret-keys' }, { token: step.token, need: 'hmac-sha256' }] : [{ token: step.token, need: 'random' }]),
  outputs: (step) => (step.out === null ? [] : [step.out]),
  proof: (step) => (step.keep === 'token' ? `${idOf(step)} on token ${step.token}, its binding computed again by the token` : `${sealedName(step)} against the digest the journal holds`),
  async perform(ctx, step) {
    if (step.keep === 'token') return kept(ctx, step, true);
    // an interrupted delivery is never adopted: its secret is gone from memory, so a new one is made and sealed
    if (ctx.folder.exists(sealedName(step))) { ctx.requireBegun(step, sealedName(step)); ctx.folder.remove(sealedName(step)); }
    return deliver(ctx, step);
  },
  async adopt(ctx, step) {
    if (step.keep === 'token') return provenKey(step.id, idOf(step), ctx.token(step.token).token.label, () => kept(ctx, step, false));
    const said = ctx.recorded(step);
    const digest = createHash('sha256').update(ctx.folder.read(sealedName(step), 'the sealed secret', 64 * 1024)).digest('hex');
    if (digest !== said.sealed || typeof said.binding !== 'string') throw resumeMismatch(step.id, `the sealed file ${sealedName(step)}`, said.sealed, digest);
    return result(ctx, step, said.binding, digest);
  },
};
