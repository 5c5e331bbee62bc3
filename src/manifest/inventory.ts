/**
 * The key inventory of the seed policy ("Inventory keys": SECRET_KEY, WEBHOOK_SIGNING_SECRET as
 * webhook-vN, the Redis and Celery credentials, the JWT signing secret and refresh-token salt,
 * the encryption master key and the separate backup key). Each name is the environment variable a
 * deployment writes the secret's bytes to (FORMATS.md §4).
 */
import type { Algorithm, ManifestDraft } from './manifest.js';
import { splitKeyId } from './manifest.js';

export interface InventoryEntry {
  readonly name: string;
  readonly prefix: string;
  readonly algorithm: Algorithm;
  readonly what: string;
}

export const SEED_INVENTORY: readonly InventoryEntry[] = Object.freeze([
  { name: 'SECRET_KEY', prefix: 'secret-key', algorithm: 'HMAC-SHA256', what: 'application secret (FastAPI)' },
  { name: 'WEBHOOK_SIGNING_SECRET', prefix: 'webhook', algorithm: 'HMAC-SHA256', what: 'webhook signatures (HMAC-SHA256)' },
  // the Redis and Celery credentials are named for what they hold, a token, not the seed's REDIS_URL and
  // CELERY_BROKER_URL: the deployment writes NAME=<hex of the secret>, and composes the URLs around
  // the token itself (README, "The seed's inventory")
  { name: 'REDIS_AUTH_TOKEN', prefix: 'redis-auth', algorithm: 'TOKEN', what: 'Redis auth token (composed into REDIS_URL by the deployment)' },
  { name: 'CELERY_BROKER_TOKEN', prefix: 'celery-broker', algorithm: 'TOKEN', what: 'Celery broker credential (composed into CELERY_BROKER_URL by the deployment)' },
  { name: 'JWT_SIGNING_SECRET', prefix: 'jwt', algorithm: 'JWT-HS256', what: 'JWT signing secret' },
  { name: 'JWT_REFRESH_SALT', prefix: 'jwt-refresh-salt', algorithm: 'TOKEN', what: 'refresh-token salt' },
  { name: 'MASTER_KEY', prefix: 'master', algorithm: 'AES-256-GCM', what: 'encryption master key (AES-256-GCM)' },
  { name: 'BACKUP_KEY', prefix: 'backup', algorithm: 'AES-256-GCM', what: 'separate backup key' },
]);

/** `webhook-v4` supersedes `webhook-v3`; a version 1 key supersedes nothing. */
export function defaultSupersedes(id: string): string | null {
  const p = splitKeyId(id);
  return p === null || p.version < 2 ? null : `${p.prefix}-v${p.version - 1}`;
}

/** The seed inventory's keys at one version and phase, with the KCVs known for some of them. */
export function inventoryKeys(version: number, phase: string, notBefore: string, kcvs: ReadonlyMap<string, string> = new Map()): ManifestDraft['keys'][number][] {
  return SEED_INVENTORY.map((e) => {
    const id = `${e.prefix}-v${version}`;
    return { name: e.name, id, algorithm: e.algorithm, phase, supersedes: defaultSupersedes(id), kcv: kcvs.get(id) ?? null, notBefore };
  });
}
