/**
 * A ceremony profile (issue 7): where the script's tokens are and where their PINs come from,
 * kept apart from the reviewed script so the script that was rehearsed is the one that runs.
 * PINs themselves are never in it: each token names an environment variable, or nothing (then
 * the PIN is asked for on the terminal).
 */
import { Fields } from '../docs/fields.js';
import { DocumentError } from '../docs/problems.js';
import { readJson } from '../dsse/envelope.js';
import type { CeremonyScript } from './script.js';

export const PROFILE_SPEC = 'keyceremony/ceremony-profile@1';

export interface CeremonyProfile {
  readonly module: string;
  readonly tokens: ReadonlyMap<string, { readonly pinEnv: string | null }>;
}

export function parseProfile(bytes: Uint8Array, script: CeremonyScript): CeremonyProfile {
  const json = readJson(bytes, 64 * 1024, 'the ceremony profile');
  const f = new Fields();
  const o = f.object(json, '$', ['spec', 'module', 'tokens']);
  if (o === undefined) throw new DocumentError(f.problems, 'the ceremony profile');
  if (f.string(o.spec, 'spec') !== PROFILE_SPEC) f.add('DOCUMENT_WRONG_SPEC', 'spec', `expected "${PROFILE_SPEC}"`);
  const module = f.string(o.module, 'module', { pattern: /^\/[^\u0000]{1,4095}$/, what: 'the absolute path of the PKCS#11 library' });
  const tokens = new Map<string, { pinEnv: string | null }>();
  const to = f.object(o.tokens, 'tokens', script.tokens.map((t) => t.name));
  if (to !== undefined) {
    for (const t of script.tokens) {
      const e = f.object(to[t.name], `tokens.${t.name}`, ['pinEnv']);
      if (e === undefined) continue;
      const pinEnv = f.nullableString(e.pinEnv, `tokens.${t.name}.pinEnv`, { pattern: /^[A-Za-z_][A-Za-z0-9_]{0,127}$/, what: 'the NAME of an environment variable (never the PIN), or null to be asked' });
      if (pinEnv !== undefined) tokens.set(t.name, { pinEnv });
    }
  }
  if (f.problems.length > 0 || module === undefined) throw new DocumentError(f.problems, 'the ceremony profile');
  return { module, tokens };
}
