/**
 * The transcript's content, from the audit log of a run whose every done step was proven again
 * from the tokens and files before this is called (the engine compares each step's result with
 * its journal entry), and from the files in the folder, hashed now. A resumed ceremony gets the
 * same transcript as an uninterrupted one.
 */
import { join } from 'node:path';
import type { AuditEntry } from '../audit/log.js';
import { fingerprint } from '../crypto/fingerprint.js';
import { filesUnder } from '../files.js';
import { sha256File } from '../manifest/artifacts.js';
import type { CeremonyScript } from './script.js';
import type { TranscriptModel } from './transcript.js';

const EXCEPTIONS = new Set(['ceremony.resume', 'log.recover', 'airgap.override', 'rehearsal.skipped', 'media.fixed-disk']);

export function buildTranscript(o: { script: CeremonyScript; dir: string; simulation: boolean; entries: readonly AuditEntry[]; admin: string }): TranscriptModel {
  const entries = o.entries;
  const start = entries.find((e) => e.action === 'ceremony.start');
  const last = entries[entries.length - 1];
  const steps = o.script.steps.flatMap((s) => {
    const e = [...entries].reverse().find((x) => x.action === 'step.done' && x.details.step === s.id);
    return e === undefined ? [] : [{ title: String(e.details.title), actor: e.actor, outcome: String(e.details.outcome), lines: (e.details.lines as string[] | undefined) ?? [] }];
  });
  const fingerprints = entries.flatMap((e) => (Array.isArray(e.details.publicKeys) ? (e.details.publicKeys as string[]) : [])).map((k) => {
    const [who, hex] = k.split(':') as [string, string];
    const fp = fingerprint(new Uint8Array(Buffer.from(hex, 'hex')));
    return { who, hex: fp.hex, words: fp.words };
  });
  const kcvs = entries.filter((e) => e.action === 'step.done' && typeof e.details.kcv === 'string').map((e) => ({ key: e.keys[0] ?? '', kcv: `ecb:${String(e.details.kcv)}` }));
  const files = filesUnder(o.dir, ['softhsm', 'audit.jsonl', 'transcript.md', 'transcript.html']).map((path) => ({ path, ...sha256File(join(o.dir, path)) }));
  return {
    title: o.script.title, ceremony: o.script.id, started: start?.time ?? '', finished: last?.time ?? '', simulation: o.simulation,
    participants: o.script.participants.map((p) => ({ id: p.id, name: p.name, role: p.role })), steps, fingerprints, kcvs, files,
    exceptions: entries.filter((e) => EXCEPTIONS.has(e.action))
      .map((e) => `${e.time}: ${e.action}${e.action === 'ceremony.resume' ? ' after an interruption' : ''} (recorded by ${e.actor === o.admin ? 'the administrator' : e.actor})`),
    audit: { log: String(entries[0]?.details.log ?? ''), entries: entries.length, head: last?.hash ?? '' },
  };
}
