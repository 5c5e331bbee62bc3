/**
 * Keys over time (issue 17 item 5): the chain of a deployment read from media, verified and laid
 * out on a time line. The renderer names the folder only by a handle (./folders.ts): a drive from
 * the list, or a folder chosen in the dialog to read a chain from, and optionally one folder on it.
 * The folder's own `.json` files are read (not its subfolders: a custody record kept beside the
 * chain, in custody/, is no part of it), bounded in number and size, through the folder layer that
 * never follows a link; each is classified by its payloadType, never by its name. The chain is
 * then FORMATS.md §8's to judge (src/state/timeline.ts over keyStatesAt): a chain that is not
 * valid now is refused as STATE_CHAIN_INVALID with its reasons, and no time line is shown.
 */
import { parseCustodianSet } from '../custodians/set.js';
import { formatTime } from '../docs/fields.js';
import { DocumentError } from '../docs/problems.js';
import { kindOfPayloadType, PAYLOAD_TYPES } from '../docs/types.js';
import { MAX_ENVELOPE_BYTES, parseEnvelope } from '../dsse/envelope.js';
import { KeyceremonyError } from '../errors.js';
import { Folder } from '../files.js';
import { keyTimeline } from '../state/timeline.js';
import type { ChannelHandlers, Responses, TimelineFileView } from './contract.js';
import type { FolderHandles } from './folders.js';

export interface StateDeps {
  readonly now: () => number;
  /** The folders the renderer may name, by handle (./folders.ts). */
  readonly folders: FolderHandles;
}

/** A folder listing longer than this is refused before a file is read (a drive full of files is not a chain). */
const MAX_NAMES = 4096;
/** At most this many custodian sets (the document API's chain bound) and manifests in one folder. */
const MAX_SETS = 32;
const MAX_MANIFESTS = 256;
/** All the documents read, together. */
const MAX_TOTAL_BYTES = 64 * 1024 * 1024;
/** At most this many reasons in a refusal's message; the rest are counted. */
const MAX_REASONS_SHOWN = 8;

const tooLarge = (dir: string, what: string): KeyceremonyError => new KeyceremonyError('STATE_FOLDER_TOO_LARGE', `${dir} holds ${what}, more than one chain can`,
  'copy the chain alone (its custodian sets and rotation manifests) into a folder of its own');

interface ChainFiles {
  readonly sets: { readonly name: string; readonly bytes: Uint8Array; readonly version: number }[];
  readonly manifests: { readonly name: string; readonly bytes: Uint8Array }[];
  readonly files: TimelineFileView[];
}

/** The top-level `.json` files of `dir`, each a custodian set, a manifest, or skipped with why. Hidden names (temporary files) are not looked at. */
function readChainFolder(dir: string): ChainFiles {
  const folder = Folder.open(dir);
  const names = folder.list();
  if (names.length > MAX_NAMES) throw tooLarge(dir, `${names.length} names`);
  const out: ChainFiles = { sets: [], manifests: [], files: [] };
  let total = 0;
  const skip = (name: string, why: string) => out.files.push({ name, use: 'skipped', why });
  for (const name of names.filter((n) => !n.startsWith('.') && n.toLowerCase().endsWith('.json'))) {
    let bytes: Uint8Array;
    try {
      if (folder.kind(name) !== 'file') { skip(name, 'a folder'); continue; }
      bytes = folder.read(name, 'the document', MAX_ENVELOPE_BYTES);
    } catch (err) {
      if (!(err instanceof KeyceremonyError)) throw err;
      skip(name, err.code === 'FOLDER_LINK_REFUSED' ? 'a symbolic link, never followed' : err.code === 'FOLDER_FILE_TOO_LARGE' ? 'larger than a signed document can be' : `not read (${err.code})`);
      continue;
    }
    total += bytes.length;
    if (total > MAX_TOTAL_BYTES) throw tooLarge(dir, `more than ${MAX_TOTAL_BYTES / 1024 / 1024} MiB of documents`);
    let payloadType: string;
    try {
      payloadType = parseEnvelope(bytes).payloadType;
    } catch (err) {
      if (!(err instanceof DocumentError)) throw err;
      skip(name, 'not a signed document');
      continue;
    }
    if (payloadType === PAYLOAD_TYPES.custodians) {
      out.sets.push({ name, bytes, version: setVersion(bytes) });
      out.files.push({ name, use: 'custodian-set', why: null });
    } else if (payloadType === PAYLOAD_TYPES.rotation) {
      out.manifests.push({ name, bytes });
      out.files.push({ name, use: 'manifest', why: null });
    } else {
      const kind = kindOfPayloadType(payloadType);
      skip(name, kind === null ? 'a signed document of another type' : `a ${kind} document, no part of a key chain`);
    }
    if (out.sets.length > MAX_SETS) throw tooLarge(dir, `more than ${MAX_SETS} custodian sets`);
    if (out.manifests.length > MAX_MANIFESTS) throw tooLarge(dir, `more than ${MAX_MANIFESTS} rotation manifests`);
  }
  // the chain from the root, one version after another (§3.3); a set that does not parse goes last, where §8 reports it
  out.sets.sort((a, b) => a.version - b.version);
  return out;
}

/** A custodian set's version, or +Infinity when its payload does not parse (keyState then says why). */
function setVersion(bytes: Uint8Array): number {
  try {
    return parseCustodianSet(parseEnvelope(bytes).payload).version;
  } catch (err) {
    if (err instanceof DocumentError) return Number.POSITIVE_INFINITY;
    throw err;
  }
}

export function stateHandlers(d: StateDeps): ChannelHandlers<'state.timeline'> {
  return {
    'state.timeline': async (r): Promise<Responses['state.timeline']> => {
      const dir = d.folders.chainFolder(r.source, r.folder);
      const read = readChainFolder(dir);
      if (read.sets.length === 0 && read.manifests.length === 0) {
        throw new KeyceremonyError('STATE_NO_CHAIN_FILES', `${dir} holds no custodian set and no rotation manifest`, 'choose the folder that holds the chain: custodians.v1.json and the rotation manifests');
      }
      const at = d.now();
      const t = keyTimeline(read.sets.map((s) => s.bytes), read.manifests.map((m) => m.bytes), { at, rootDigest: r.rootDigest });
      const { result } = t;
      if (!result.valid) {
        const more = result.reasons.length - MAX_REASONS_SHOWN;
        throw new KeyceremonyError('STATE_CHAIN_INVALID', `the chain in ${dir} does not verify: ${result.reasons.slice(0, MAX_REASONS_SHOWN).join('; ')}${more > 0 ? `; and ${more} more` : ''}`,
          'read the reasons: load every custodian set from the trusted root and every rotation manifest of the chain, as they were signed; a chain with an impossible step is never shown');
      }
      const when = (i: number): string | null => (i < t.changes.length ? formatTime(t.changes[i] as number) : null);
      return {
        folder: dir, at: result.at, sequence: result.sequence as number, tip: result.tip as string, rootPinned: r.rootDigest !== undefined,
        changes: t.changes.map(formatTime),
        names: t.names.map((n) => ({ name: n.name, now: n.now, versions: n.versions.map((v) => ({ id: v.id, segments: v.segments.map((s) => ({
          state: s.state, from: s.from, to: s.to, since: when(s.from) as string, until: when(s.to), scheduled: s.scheduled,
          moves: s.moves.map((m) => ({ sequence: m.sequence, index: m.index, phase: m.phase, notBefore: formatTime(m.notBefore), as: m.as })) })) })) })),
        manifests: t.manifests.map((m) => ({ sequence: m.sequence, digest: m.digest, ceremony: m.ceremony, actor: m.actor, issued: formatTime(m.issued), expires: formatTime(m.expires),
          custodianSet: m.custodianSet, threshold: m.threshold, signers: m.signers, file: read.manifests[m.file]?.name ?? '' })),
        files: read.files,
        warnings: result.warnings,
      };
    },
  };
}
