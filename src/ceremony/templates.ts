/**
 * Ceremony script templates for the seed's procedures (issues 7 and 17). Each is an ordinary
 * script, to be copied, reviewed, adapted (labels, participants, versions, KMS wrapping keys, the
 * file names of the chain) and rehearsed before it is run. Kept as code so the app bundles them;
 * `keyceremony ceremony template NAME` prints one. Together they follow FORMATS.md §8: one chain
 * of manifests per deployment (see TEMPLATES).
 */
import { TARGETS } from '../export/targets.js';
import { SEED_INVENTORY } from '../manifest/inventory.js';
import { SCRIPT_SPEC, SECRET_NAMES } from './script.js';

const people = [
  { id: 'admin', name: 'Ceremony administrator', role: 'administrator' },
  { id: 'wendy', name: 'Internal witness', role: 'witness' },
  { id: 'alice', name: 'Alice, custodian', role: 'custodian' },
  { id: 'bob', name: 'Bob, custodian', role: 'custodian' },
  { id: 'carol', name: 'Carol, custodian', role: 'custodian' },
  { id: 'audrey', name: 'Auditor', role: 'auditor' },
];
const custodians = ['alice', 'bob', 'carol'];
const cards = custodians.map((c) => ({ name: `card-${c}`, label: `custodian-${c}`, serial: null, holder: c }));
const hsm = { name: 'hsm', label: 'Ceremony HSM', serial: null, holder: null };
const drillToken = { name: 'drill', label: 'Drill token', serial: null, holder: null };
/** The KMS wrapping key each target's import job gave, placed beside the script before the ceremony. */
export const kekPath = (target: string, bits: number): string => `kms/${target}.rsa-${bits}.spki.der`;

const opening = [
  { id: 'custodian-keys', action: 'custodian-keys', actor: 'admin', witness: 'wendy', custodians },
  { id: 'custodian-set', action: 'custodian-set', actor: 'alice', threshold: 2, members: custodians, signers: custodians, out: 'custodians.v1.json' },
];

/**
 * A new master key (extractable: it is wrapped into its backup blob and exported) and its backup
 * custody, 2-of-3. The custody folder's manifest is a record of its own, outside the key chain.
 */
const custody = (master: string, backup: string): object[] => [
  { id: 'master-key', action: 'generate-key', actor: 'admin', witness: 'wendy', token: 'hsm', label: master, extractable: true },
  { id: 'backup-custody', action: 'split-backup', actor: 'alice', token: 'hsm', backupKey: backup, keys: [master], threshold: 2, holders: custodians, signers: ['alice', 'bob'], out: 'custody' },
];

const ALL_KEYS = SEED_INVENTORY.map((e) => e.name);
/**
 * The keys a deployment acts on, and so the keys of its chain: every inventory name but the backup
 * key, which no application loads. Backup custody is kept out of the key chain: the custody folder's
 * manifest is a record of its own (README, "One chain per deployment").
 */
const DEPLOYED = ALL_KEYS.filter((n) => n !== 'BACKUP_KEY');
const JWT_KEYS = ['JWT_SIGNING_SECRET', 'JWT_REFRESH_SALT'];
const WEBHOOK = ['WEBHOOK_SIGNING_SECRET'];
/** The deployment's age recipients (age1… lines, `age-keygen -y` of its identity), placed beside the script; sealed secrets go to `sealed/<id>.age`. */
export const RECIPIENTS = 'deployment/recipients.txt';
export const SEALED = 'sealed';

interface ManifestTemplate {
  readonly id: string; readonly actor?: string; readonly keyVersion: number; readonly phase: string; readonly keys?: readonly string[]; readonly previous?: string | null;
  readonly signers?: readonly string[]; readonly out: string; readonly supersedes?: 'previous' | 'none'; readonly notBefore?: string;
}

/** A manifest step: the keys at keyVersion in one phase, following `previous` (null: the first of the deployment's chain). */
const manifestStep = (m: ManifestTemplate): object => ({
  id: m.id, action: 'manifest', actor: m.actor ?? 'alice', keyVersion: m.keyVersion, phase: m.phase, keys: m.keys ?? DEPLOYED, previous: m.previous ?? null, signers: m.signers ?? ['alice', 'bob'], out: m.out,
  ...(m.supersedes === undefined ? {} : { supersedes: m.supersedes }), ...(m.notBefore === undefined ? {} : { notBefore: m.notBefore }),
});

/** The file of the deployment chain's manifest n: the templates below are one deployment's story, and each names its manifests by their sequence in it. */
const rotation = (n: number): string => `rotation.${n}.json`;

/**
 * A rotation made in one ceremony, on a schedule: prepare now, dual-publish `dual` later, cutover
 * `overlap` after that, then (`revoke`, when given) the version before revoked. The prepare
 * manifest is the chain's `first` and follows the one before it (none when `first` is 1); each
 * manifest after it follows the one before.
 */
function scheduled(o: { keys: readonly string[]; keyVersion: number; first: number; dual: string; overlap: string; revoke: string | null; actor?: string }): object[] {
  const common = { keys: o.keys, keyVersion: o.keyVersion, ...(o.actor === undefined ? {} : { actor: o.actor }) };
  const steps = [
    manifestStep({ ...common, id: 'prepare-manifest', phase: 'prepare', previous: o.first === 1 ? null : rotation(o.first - 1), out: rotation(o.first) }),
    manifestStep({ ...common, id: 'dual-publish-manifest', phase: 'dual-publish', previous: rotation(o.first), out: rotation(o.first + 1), notBefore: o.dual }),
    manifestStep({ ...common, id: 'cutover-manifest', phase: 'cutover', previous: rotation(o.first + 1), out: rotation(o.first + 2), notBefore: o.overlap }),
  ];
  if (o.revoke !== null) steps.push(manifestStep({ ...common, id: 'revoke-manifest', phase: 'revoke', previous: rotation(o.first + 2), out: rotation(o.first + 3), notBefore: o.revoke }));
  return steps;
}

/** A new version of an inventory secret drawn from the HSM's RNG and sealed at once to the deployment's recipients. */
const deliver = (name: string, keyVersion: number): object => {
  const prefix = (SEED_INVENTORY.find((e) => e.name === name) as { prefix: string }).prefix;
  return { id: `make-${prefix}`, action: 'make-secret', actor: 'admin', witness: 'wendy', token: 'hsm', name, keyVersion, keep: 'deliver', recipients: RECIPIENTS, out: SEALED };
};

/** A restoration drill of the custody folder into the drill token: the two custodians present their shares and sign the report. */
const drillStep = (pair: readonly [string, string]): object => ({ id: 'restore-drill', action: 'drill', actor: 'admin', token: 'drill', custody: 'custody', presenters: [...pair], signers: [...pair], out: 'drill.json' });

const exportStep = (key: string): object => ({
  id: 'export', action: 'export', actor: 'admin', token: 'hsm', key, out: 'export',
  targets: TARGETS.map((t) => ({ target: t.name, kek: kekPath(t.name, t.kekBits.includes(3072) ? 3072 : 4096), kekId: t.cloud === 'azure' ? 'https://ceremony-vault.vault.azure.net/keys/ceremony-kek/00000000000000000000000000000000' : null })),
});

/**
 * The later ceremonies of a deployment load the set its first one formed: its chain comes on the
 * ceremony media beside the script, with the last manifest of the deployment's chain; replace null
 * by the root digest pinned in the first ceremony's transcript (while null, the witness confirms it
 * read aloud).
 */
const loadSet = { id: 'custodian-set', action: 'load-custodian-set', actor: 'admin', witness: 'wendy', chain: ['custodians.v1.json'], rootDigest: null };

/** One later phase of the quarterly rotation: MASTER_KEY v2 moved one phase, in a manifest that follows the chain's last one. */
const quarterlyPhase = (phase: string, n: number, title: string, notBefore?: string): object => ({
  spec: SCRIPT_SPEC, id: `2026-q4-master-${phase}`, title: `Quarterly master-key rotation: ${title}`,
  participants: people, tokens: cards,
  steps: [loadSet, manifestStep({ id: `${phase}-manifest`, keyVersion: 2, phase, keys: ['MASTER_KEY'], previous: rotation(n - 1), out: rotation(n), ...(notBefore === undefined ? {} : { notBefore }) })],
});

/**
 * The seed's procedures, as one deployment's story: its chain begins with `new-deployment` (or,
 * when its keys are already in use, `keys-in-use`: rotation.1 to 3), and every later ceremony's
 * first manifest follows the last manifest of the ceremony before (FORMATS.md §8: one sequence per
 * deployment): the quarterly rotation (4 to 7), the monthly JWT rotation (8 to 11), the webhook
 * rotation (12 to 15), incident response (16 to 19). No two manifests move the same version the same way.
 */
export const TEMPLATES: Readonly<Record<string, object>> = {
  /**
   * A new deployment's first ceremony (the demo): the custodian set, the master key and its backup
   * custody, every delivered secret of the inventory made at version 1 and sealed to the deployment,
   * and the chain begun: prepare now, dual-publish in an hour, cutover a day later; exports and a drill.
   */
  'new-deployment': {
    spec: SCRIPT_SPEC, id: '2026-q4-new-deployment', title: 'A new deployment: custodians, master key and custody, its secrets made, its chain begun',
    participants: people, tokens: [hsm, ...cards, drillToken],
    steps: [
      ...opening,
      ...custody('master-v1', 'backup-v1'),
      ...SECRET_NAMES.map((n) => deliver(n, 1)),
      ...scheduled({ keys: DEPLOYED, keyVersion: 1, first: 1, dual: 'PT1H', overlap: 'PT24H', revoke: null }),
      exportStep('master-v1'),
      drillStep(['alice', 'carol']),
    ],
  },
  /**
   * A deployment whose keys are already in use begins its chain: their current versions (here v1)
   * join it by prepare, dual-publish and cutover, one manifest each, all with one notBefore an hour
   * after the first is signed (FORMATS.md §8), superseding nothing. No key is made: the entries carry
   * no check value and no binding, so `keyceremony deploy` surfaces none of them until a rotation
   * makes a bound version (README).
   */
  'keys-in-use': {
    spec: SCRIPT_SPEC, id: '2026-q3-keys-in-use', title: 'Keys already in use join a new chain',
    participants: people, tokens: [hsm, ...cards],
    steps: [
      ...opening,
      manifestStep({ id: 'prepare-manifest', keyVersion: 1, phase: 'prepare', supersedes: 'none', notBefore: 'PT1H', out: rotation(1) }),
      manifestStep({ id: 'dual-publish-manifest', keyVersion: 1, phase: 'dual-publish', supersedes: 'none', notBefore: 'PT0S', previous: rotation(1), out: rotation(2) }),
      manifestStep({ id: 'cutover-manifest', keyVersion: 1, phase: 'cutover', supersedes: 'none', notBefore: 'PT0S', previous: rotation(2), out: rotation(3) }),
    ],
  },
  /** Quarterly master-key rotation, first ceremony: master-v2 made beside master-v1 with its backup custody, prepared, exported, drilled. */
  'quarterly-master-rotation': {
    spec: SCRIPT_SPEC, id: '2026-q4-master-rotation', title: 'Quarterly master-key rotation: prepare',
    participants: people, tokens: [hsm, ...cards, drillToken],
    steps: [
      loadSet,
      ...custody('master-v2', 'backup-v2'),
      manifestStep({ id: 'prepare-manifest', keyVersion: 2, phase: 'prepare', keys: ['MASTER_KEY'], previous: rotation(3), out: rotation(4) }),
      exportStep('master-v2'),
      drillStep(['alice', 'carol']),
    ],
  },
  /** Second ceremony: master-v2 dual-published (both versions surfaced to the applications), following the prepare. */
  'quarterly-master-dual-publish': quarterlyPhase('dual-publish', 5, 'dual-publish', 'PT0S'),
  /** Third ceremony: cutover to master-v2 (master-v1 retired), no earlier than the dual-publish plus the overlap. */
  'quarterly-master-cutover': quarterlyPhase('cutover', 6, 'cutover', 'PT24H'),
  /** Fourth ceremony: master-v1 revoked (it must be destroyed), no earlier than the cutover. */
  'quarterly-master-revoke': quarterlyPhase('revoke', 7, 'revoke of master-v1', 'PT0S'),
  /** Custodian set rotation: dave joins with a key made on his card, and the set becomes 3-of-4, signed by the 2-of-3 in force and by the new 3-of-4. */
  'custodian-set-rotation': {
    spec: SCRIPT_SPEC, id: '2026-custodian-set-v2', title: 'Custodian set rotation: dave joins, 3-of-4',
    participants: [...people, { id: 'dave', name: 'Dave, custodian', role: 'custodian' }], tokens: [...cards, { name: 'card-dave', label: 'custodian-dave', serial: null, holder: 'dave' }],
    steps: [
      loadSet,
      { id: 'dave-key', action: 'custodian-keys', actor: 'admin', witness: 'wendy', custodians: ['dave'] },
      { id: 'set-v2', action: 'rotate-custodian-set', actor: 'alice', threshold: 3, members: [...custodians, 'dave'], signers: [...custodians, 'dave'], out: 'custodians.v2.json' },
    ],
  },
  /**
   * Monthly JWT rotation: a new JWT signing secret and refresh-token salt (v2) made and sealed to the
   * deployment, prepared now, dual-published in an hour, cut over a day later (every session then
   * signs with v2), and v1 revoked a day after that.
   */
  'monthly-jwt-rotation': {
    spec: SCRIPT_SPEC, id: '2026-12-jwt-rotation', title: 'Monthly JWT signing secret rotation',
    participants: people, tokens: [hsm, ...cards],
    steps: [loadSet, ...JWT_KEYS.map((n) => deliver(n, 2)), ...scheduled({ keys: JWT_KEYS, keyVersion: 2, first: 8, dual: 'PT1H', overlap: 'PT24H', revoke: 'P1D' })],
  },
  /**
   * Webhook secret rotation: webhook-v2 made and sealed to the deployment (and to the senders that
   * sign with it, when their recipients are listed too), dual-published in an hour so receivers
   * accept both, cut over a week later once every sender has rotated, webhook-v1 revoked a day after.
   */
  'webhook-rotation': {
    spec: SCRIPT_SPEC, id: '2026-q4-webhook-rotation', title: 'Webhook signing secret rotation',
    participants: people, tokens: [hsm, ...cards],
    steps: [loadSet, deliver('WEBHOOK_SIGNING_SECRET', 2), ...scheduled({ keys: WEBHOOK, keyVersion: 2, first: 12, dual: 'PT1H', overlap: 'P7D', revoke: 'P1D', actor: 'bob' })],
  },
  /**
   * Incident response: the JWT and webhook versions in use (v2) marked compromised at once (never
   * accepted again: every session is logged out, every webhook refused), new versions (v3) made and
   * sealed, and brought in within ten minutes: prepare, dual-publish and cutover with one notBefore,
   * superseding nothing, since the names have no current version left.
   */
  'incident-response': {
    spec: SCRIPT_SPEC, id: '2026-incident-1', title: 'Incident response: compromised versions withdrawn, JWT secrets and webhook secret made anew',
    participants: people, tokens: [hsm, ...cards],
    steps: [
      loadSet,
      manifestStep({ id: 'compromise', keyVersion: 2, phase: 'compromise', keys: [...WEBHOOK, ...JWT_KEYS], previous: rotation(15), signers: ['alice', 'carol'], out: rotation(16) }),
      ...[...WEBHOOK, ...JWT_KEYS].map((n) => deliver(n, 3)),
      manifestStep({ id: 'prepare-manifest', keyVersion: 3, phase: 'prepare', keys: [...WEBHOOK, ...JWT_KEYS], supersedes: 'none', notBefore: 'PT10M', previous: rotation(16), out: rotation(17) }),
      manifestStep({ id: 'dual-publish-manifest', keyVersion: 3, phase: 'dual-publish', keys: [...WEBHOOK, ...JWT_KEYS], supersedes: 'none', notBefore: 'PT0S', previous: rotation(17), out: rotation(18) }),
      manifestStep({ id: 'cutover-manifest', keyVersion: 3, phase: 'cutover', keys: [...WEBHOOK, ...JWT_KEYS], supersedes: 'none', notBefore: 'PT0S', previous: rotation(18), out: rotation(19) }),
    ],
  },
  /** Backup restoration drill: the backup key split, then restored into a drill token and proven. */
  'backup-drill': {
    spec: SCRIPT_SPEC, id: '2026-q4-backup-drill', title: 'Backup restoration drill',
    participants: people, tokens: [hsm, ...cards, drillToken],
    steps: [
      ...opening,
      ...custody('master-v1', 'backup-v1'),
      drillStep(['bob', 'carol']),
    ],
  },
};

export function templateText(name: string): string | undefined {
  const t = TEMPLATES[name];
  return t === undefined ? undefined : `${JSON.stringify(t, null, 2)}\n`;
}
