/**
 * What a step records about the tokens it used (issue 16), for its journal entry and the
 * transcript: which PKCS#11 library each token is in (a room may run its HSM on the vendor's
 * library and the cards on OpenSC's, a rehearsal the HSM on NSS softokn and the cards on SoftHSM2),
 * and, for a step that wraps or unwraps with AES key wrap, which mechanism gives RFC 5649 on that
 * token by known answer (0x210A on SoftHSM2, 0x210B on NSS: src/pkcs11/capabilities.ts). Both are
 * read from the tokens now, so a resumed run proves them again and finds any difference.
 */
import { describeKnownAnswer, rfc5649Mechanism } from '../../pkcs11/capabilities.js';
import type { KwpChoice } from '../../pkcs11/capabilities.js';
import { describeLibrary } from '../../pkcs11/module.js';
import { withSession } from '../../pkcs11/session.js';
import { pinOf } from '../context.js';
import type { StepContext } from '../context.js';

/** `name: library` for each of these script tokens, once each, in order (the journal's `libraries`). */
export function librariesOf(ctx: StepContext, names: readonly string[]): string[] {
  return [...new Set(names)].map((n) => `${n}: ${describeLibrary(ctx.token(n).token.module)}`);
}

/** The known answer on a token: which mechanism gives RFC 5649 there, and a line and details saying so. */
export interface KeyWrapRecord {
  readonly choice: KwpChoice;
  /** The line for the step's result (and so the transcript). */
  readonly line: string;
  /** The journal's details: the mechanism chosen ("none" when no candidate gives RFC 5649) and what each candidate gave. */
  readonly details: { readonly keyWrap: string; readonly keyWrapKnownAnswer: string };
}

export async function keyWrapByKnownAnswer(ctx: StepContext, tokenName: string): Promise<KeyWrapRecord> {
  const t = ctx.token(tokenName);
  const choice = await withSession(t.token, await pinOf(t), (s) => rfc5649Mechanism(s));
  const tried = describeKnownAnswer(choice);
  const verdict = choice.name === null ? 'no mechanism gives RFC 5649' : `${choice.name} gives RFC 5649`;
  return {
    choice,
    line: `AES key wrap on "${t.token.label}", by known answer: ${verdict} (${tried})`,
    details: { keyWrap: choice.name ?? 'none', keyWrapKnownAnswer: tried },
  };
}
