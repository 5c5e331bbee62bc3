/**
 * Cloud KMS import targets (CLI.md `export`; KMS-NOTES.md). Each target fixes the construction
 * (direct RSAES-OAEP of the key material, or OAEP of an ephemeral AES-256 key followed by
 * AES-KWP of the key material, RFC 5649), the OAEP hash (MGF1 with the same hash, empty label),
 * the wrapping-key sizes it accepts, and the file it writes.
 */
export type Construction = 'oaep' | 'oaep+kwp';
export type OaepHash = 'sha1' | 'sha256';

export interface Target {
  readonly name: string;
  readonly cloud: 'aws' | 'gcp' | 'azure' | 'vault';
  readonly construction: Construction;
  /** null: chosen with --hash (Vault). */
  readonly hash: OaepHash | null;
  readonly kekBits: readonly number[];
  readonly file: string;
}

const AWS_BITS = [2048, 3072, 4096];
const t = (name: string, cloud: Target['cloud'], construction: Construction, hash: OaepHash | null, kekBits: readonly number[], file: string): Target =>
  Object.freeze({ name, cloud, construction, hash, kekBits: Object.freeze([...kekBits]), file });

export const TARGETS: readonly Target[] = Object.freeze([
  t('aws-rsaes-oaep-sha1', 'aws', 'oaep', 'sha1', AWS_BITS, 'EncryptedKeyMaterial.bin'),
  t('aws-rsaes-oaep-sha256', 'aws', 'oaep', 'sha256', AWS_BITS, 'EncryptedKeyMaterial.bin'),
  t('aws-rsa-aes-key-wrap-sha1', 'aws', 'oaep+kwp', 'sha1', AWS_BITS, 'EncryptedKeyMaterial.bin'),
  t('aws-rsa-aes-key-wrap-sha256', 'aws', 'oaep+kwp', 'sha256', AWS_BITS, 'EncryptedKeyMaterial.bin'),
  t('gcp-rsa-oaep-3072-sha1-aes-256', 'gcp', 'oaep+kwp', 'sha1', [3072], 'wrapped-key.bin'),
  t('gcp-rsa-oaep-4096-sha1-aes-256', 'gcp', 'oaep+kwp', 'sha1', [4096], 'wrapped-key.bin'),
  t('gcp-rsa-oaep-3072-sha256-aes-256', 'gcp', 'oaep+kwp', 'sha256', [3072], 'wrapped-key.bin'),
  t('gcp-rsa-oaep-4096-sha256-aes-256', 'gcp', 'oaep+kwp', 'sha256', [4096], 'wrapped-key.bin'),
  t('gcp-rsa-oaep-3072-sha256', 'gcp', 'oaep', 'sha256', [3072], 'wrapped-key.bin'),
  t('gcp-rsa-oaep-4096-sha256', 'gcp', 'oaep', 'sha256', [4096], 'wrapped-key.bin'),
  // Azure BYOK is CKM_RSA_AES_KEY_WRAP with OAEP SHA-1 (KMS-NOTES.md)
  t('azure-byok', 'azure', 'oaep+kwp', 'sha1', AWS_BITS, 'key.byok'),
  t('vault-transit', 'vault', 'oaep+kwp', null, [4096], 'ciphertext.txt'),
]);

export function findTarget(name: string): Target | undefined {
  return TARGETS.find((x) => x.name === name);
}

/** Direct OAEP can carry at most k - 2·hLen - 2 bytes (RFC 8017 §7.1.1). */
export function oaepCapacity(bits: number, hash: OaepHash): number {
  return bits / 8 - 2 * (hash === 'sha1' ? 20 : 32) - 2;
}
