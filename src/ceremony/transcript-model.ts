/**
 * The transcript's content: each step's result as this run proved it (performed, or adopted from
 * the tokens and files), the times and exceptions from the authenticated log, and the files in the
 * folder, hashed now. A resumed ceremony gets the
 * same transcript as an uninterrupted one.
 */
import { join } from 'node:path';
import type { AuditEntry } from '../audit/log.js';
import { fingerprint } from '../crypto/fingerprint.js';
import { filesUnder } from '../files.js';
import { sha256File } from '../manifest/artifacts.js';
import type { StepResult } from './context.js';
import type { CeremonyScript } from './script.js';
import type { TranscriptModel } from './transcript.js';

const EXCEPTIONS = new Set(['ceremony.resume', 'log.recover', 'airgap.override', 'rehearsal.skipped', 'media.fixed-disk', 'app.unsandboxed']);

export function buildTranscript(o: {
  script: CeremonyScript; dir: string; simulation: boolean; entries: readonly AuditEntry[]; admin: string; results: readonly (StepResult & { readonly actor: string })[];
  /** Each token's library as this run opened it (token name → src/pkcs11/module.ts describeLibrary); else what the steps recorded. */
  libraries?: ReadonlyMap<string, string>;
}): TranscriptModel {
  const entries = o.entries;
  const start = entries.find((e) => e.action === 'ceremony.start');
  const last = entries[entries.length - 1];
  // steps, fingerprints and check values from the results proven in this run; times and exceptions from the authenticated log
  const steps = o.results.map((r) => ({ title: r.title, actor: r.actor, outcome: r.outcome, lines: [...r.lines] }));
  const fingerprints = o.results.flatMap((r) => (Array.isArray(r.details.publicKeys) ? (r.details.publicKeys as string[]) : [])).map((k) => {
    const [who, hex] = k.split(':') as [string, string];
    const fp = fingerprint(new Uint8Array(Buffer.from(hex, 'hex')));
    return { who, hex: fp.hex, words: fp.words };
  });
  // each token's library, as the steps that used it recorded it (`name: library`), in the script's order of tokens
  const libraries = new Map<string, string>(o.libraries ?? []);
  for (const r of o.results) {
    for (const l of Array.isArray(r.details.libraries) ? (r.details.libraries as string[]) : []) {
      const at = l.indexOf(': ');
      if (at > 0 && !libraries.has(l.slice(0, at))) libraries.set(l.slice(0, at), l.slice(at + 2));
    }
  }
  const tokens = o.script.tokens.map((t) => ({ name: t.name, label: t.label, library: libraries.get(t.name) ?? 'not used by a step that records its library' }));
  const kcvs = o.results.filter((r) => typeof r.details.kcv === 'string').map((r) => ({ key: r.keys[0] ?? '', kcv: `ecb:${String(r.details.kcv)}` }));
  const files = filesUnder(o.dir, ['softhsm', 'audit.jsonl', 'transcript.md', 'transcript.html']).map((path) => ({ path, ...sha256File(join(o.dir, path)) }));
  return {
    title: o.script.title, ceremony: o.script.id, started: start?.time ?? '', finished: last?.time ?? '', simulation: o.simulation,
    participants: o.script.participants.map((p) => ({ id: p.id, name: p.name, role: p.role })), tokens, steps, fingerprints, kcvs, files,
    exceptions: entries.filter((e) => EXCEPTIONS.has(e.action))
      .map((e) => `${e.time}: ${e.action}${e.action === 'ceremony.resume' ? ' after an interruption' : ''} (recorded by ${e.actor === o.admin ? 'the administrator' : e.actor})`),
    audit: { log: String(entries[0]?.details.log ?? ''), entries: entries.length, head: last?.hash ?? '' },
  };
}
