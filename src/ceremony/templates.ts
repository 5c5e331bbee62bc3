/**
 * Ceremony script templates for the seed's procedures (issue 7). Each is an ordinary script, to be
 * copied, reviewed, adapted (labels, participants, KMS wrapping keys) and rehearsed before it is
 * run. Kept as code so the app bundles them; `keyceremony ceremony template NAME` prints one.
 */
import { TARGETS } from '../export/targets.js';
import { SEED_INVENTORY } from '../manifest/inventory.js';
import { SCRIPT_SPEC } from './script.js';

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

/** A new master key (extractable: it is wrapped into its backup blob and exported) and its backup custody, 2-of-3. */
const custody = [
  { id: 'master-key', action: 'generate-key', actor: 'admin', witness: 'wendy', token: 'hsm', label: 'master-v1', extractable: true },
  { id: 'backup-custody', action: 'split-backup', actor: 'alice', token: 'hsm', backupKey: 'backup-v1', keys: ['master-v1'], threshold: 2, holders: custodians, signers: ['alice', 'bob'], out: 'custody' },
];

const ALL_KEYS = SEED_INVENTORY.map((e) => e.name);
const JWT_KEYS = ['JWT_SIGNING_SECRET', 'JWT_REFRESH_SALT'];

/** A manifest step: the keys at keyVersion in one phase, following `previous` (null: the first of its chain). */
const manifestStep = (m: { id: string; actor?: string; keyVersion: number; phase: string; keys?: readonly string[]; previous?: string | null; signers?: readonly string[]; out: string }): object => ({
  id: m.id, action: 'manifest', actor: m.actor ?? 'alice', keyVersion: m.keyVersion, phase: m.phase, keys: m.keys ?? ALL_KEYS, previous: m.previous ?? null, signers: m.signers ?? ['alice', 'bob'], out: m.out,
});

/** A restoration drill of the custody folder into the drill token: the two custodians present their shares and sign the report. */
const drillStep = (pair: readonly [string, string]): object => ({ id: 'restore-drill', action: 'drill', actor: 'admin', token: 'drill', custody: 'custody', presenters: [...pair], signers: [...pair], out: 'drill.json' });

/**
 * The later ceremonies of a rotation load the set the first one formed: its chain comes on the
 * ceremony media beside the script, with the earlier manifests; replace null by the root digest
 * pinned in the first ceremony's transcript (while null, the witness confirms it read aloud).
 */
const loadSet = { id: 'custodian-set', action: 'load-custodian-set', actor: 'admin', witness: 'wendy', chain: ['custodians.v1.json'], rootDigest: null };

/** One later phase of the quarterly rotation: a manifest for the same keys that follows the one before. */
const quarterlyPhase = (phase: string, n: number, title: string): object => ({
  spec: SCRIPT_SPEC, id: `2026-q4-master-${phase}`, title: `Quarterly master-key rotation: ${title}`,
  participants: people, tokens: cards,
  steps: [loadSet, manifestStep({ id: `${phase}-manifest`, keyVersion: 1, phase, previous: `rotation.${n - 1}.json`, out: `rotation.${n}.json` })],
});

export const TEMPLATES: Readonly<Record<string, object>> = {
  /** Quarterly master-key rotation, first ceremony: new master key, backup custody, prepare manifest, exports, drill. */
  'quarterly-master-rotation': {
    spec: SCRIPT_SPEC, id: '2026-q4-master-rotation', title: 'Quarterly master-key rotation: prepare',
    participants: people, tokens: [hsm, ...cards, drillToken],
    steps: [
      ...opening,
      ...custody,
      manifestStep({ id: 'prepare-manifest', keyVersion: 1, phase: 'prepare', out: 'rotation.1.json' }),
      { id: 'export', action: 'export', actor: 'admin', token: 'hsm', key: 'master-v1', out: 'export',
        targets: TARGETS.map((t) => ({ target: t.name, kek: kekPath(t.name, t.kekBits.includes(3072) ? 3072 : 4096), kekId: t.cloud === 'azure' ? 'https://ceremony-vault.vault.azure.net/keys/ceremony-kek/00000000000000000000000000000000' : null })) },
      drillStep(['alice', 'carol']),
    ],
  },
  /** The same rotation, second ceremony: dual-publish (both versions surfaced to the applications), following rotation.1.json. */
  'quarterly-master-dual-publish': quarterlyPhase('dual-publish', 2, 'dual-publish'),
  /** Third ceremony: cutover to the new versions once every downstream signer has rotated. */
  'quarterly-master-cutover': quarterlyPhase('cutover', 3, 'cutover'),
  /** Fourth ceremony: the superseded versions revoked. */
  'quarterly-master-revoke': quarterlyPhase('revoke', 4, 'revoke'),
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
  /** Monthly JWT rotation: a new JWT signing secret and refresh salt, approved by two custodians. */
  'monthly-jwt-rotation': {
    spec: SCRIPT_SPEC, id: '2026-12-jwt-rotation', title: 'Monthly JWT signing secret rotation',
    participants: people, tokens: [hsm, ...cards],
    steps: [...opening, manifestStep({ id: 'jwt-manifest', keyVersion: 2, phase: 'prepare', keys: JWT_KEYS, out: 'rotation.jwt.json' })],
  },
  /** Webhook secret rotation: dual-publish of webhook-vN so receivers accept both during the overlap. */
  'webhook-rotation': {
    spec: SCRIPT_SPEC, id: '2026-q4-webhook-rotation', title: 'Webhook signing secret rotation (dual-publish)',
    participants: people, tokens: [hsm, ...cards],
    steps: [...opening, manifestStep({ id: 'webhook-manifest', actor: 'bob', keyVersion: 4, phase: 'dual-publish', keys: ['WEBHOOK_SIGNING_SECRET'], out: 'rotation.webhook.json' })],
  },
  /** Incident response: compromise revocation, JWT secrets rotated (forcing logout), webhook secrets regenerated. */
  'incident-response': {
    spec: SCRIPT_SPEC, id: '2026-incident-1', title: 'Incident response: revoke, force logout, regenerate webhook secrets',
    participants: people, tokens: [hsm, ...cards],
    steps: [
      ...opening,
      manifestStep({ id: 'compromise', keyVersion: 3, phase: 'compromise', out: 'rotation.compromise.json' }),
      manifestStep({ id: 'jwt-rotate', keyVersion: 4, phase: 'prepare', keys: JWT_KEYS, previous: 'rotation.compromise.json', out: 'rotation.jwt.json' }),
      manifestStep({ id: 'webhook-regenerate', actor: 'bob', keyVersion: 4, phase: 'prepare', keys: ['WEBHOOK_SIGNING_SECRET'], previous: 'rotation.jwt.json', signers: ['alice', 'carol'], out: 'rotation.webhook.json' }),
    ],
  },
  /** Backup restoration drill: the backup key split, then restored into a drill token and proven. */
  'backup-drill': {
    spec: SCRIPT_SPEC, id: '2026-q4-backup-drill', title: 'Backup restoration drill',
    participants: people, tokens: [hsm, ...cards, drillToken],
    steps: [
      ...opening,
      ...custody,
      drillStep(['bob', 'carol']),
    ],
  },
};

export function templateText(name: string): string | undefined {
  const t = TEMPLATES[name];
  return t === undefined ? undefined : `${JSON.stringify(t, null, 2)}\n`;
}
