/**
 * Signing an envelope: one Signer interface (`sign(bytes) → signature`), so HSM, smartcard and
 * software signers plug into the same call and this module never imports pkcs11js. The signed
 * bytes are always PAE(payloadType, payload), never JSON; each signature is verified at once.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { zero } from '../bytes.js';
import { keyIdOf, verifyStrict } from '../crypto/ed25519.js';
import { KeyceremonyError } from '../errors.js';
import { pae, samePayload } from './envelope.js';
import type { Envelope } from './envelope.js';

export interface Signer {
  readonly publicKey: Uint8Array;
  readonly keyid: string;
  /** Where the key lives, for messages: `token "custodian-alice", key alice-sign-v1`. */
  readonly description: string;
  sign(message: Uint8Array): Promise<Uint8Array>;
}

export async function addSignature(env: Envelope, signer: Signer): Promise<Envelope> {
  const message = pae(env.payloadType, env.payload);
  if (env.signatures.some((s) => s.keyid === signer.keyid && verifyStrict(s.sig, message, signer.publicKey))) {
    throw new KeyceremonyError('SIGNER_ALREADY_SIGNED', `the key of ${signer.description} has already signed this document`, 'nothing to do: pass the document to the next custodian');
  }
  const sig = await signer.sign(message);
  if (!verifyStrict(sig, message, signer.publicKey)) {
    throw new KeyceremonyError('SIGNATURE_CHECK_FAILED', `the signature made by ${signer.description} does not verify`, 'stop: the signing device is faulty; nothing was written');
  }
  return Object.freeze({ ...env, signatures: Object.freeze([...env.signatures, { keyid: signer.keyid, sig }]) });
}

/**
 * A software signer for development and tests: the Ed25519 seed is held in memory, so it is
 * never used for a real ceremony (the CLI warns). `dispose()` zeroes the seed.
 */
export class SoftwareSigner implements Signer {
  readonly publicKey: Uint8Array;
  readonly keyid: string;
  readonly description: string;
  private readonly seed: Uint8Array;

  constructor(seed: Uint8Array, description = 'a software key') {
    if (!(seed instanceof Uint8Array) || seed.length !== 32) throw new RangeError(`"seed" expected 32 bytes, got ${seed instanceof Uint8Array ? seed.length : typeof seed}`);
    this.seed = new Uint8Array(seed);
    this.publicKey = ed25519.getPublicKey(this.seed);
    this.keyid = keyIdOf(this.publicKey);
    this.description = description;
  }

  async sign(message: Uint8Array): Promise<Uint8Array> {
    return ed25519.sign(message, this.seed);
  }

  dispose(): void {
    zero(this.seed);
  }
}

/** Offline collection: the union of the signatures of copies of one document; different payloads are refused. */
export function mergeEnvelopes(envs: readonly Envelope[], names: readonly string[] = envs.map((_, i) => `copy ${i + 1}`)): Envelope {
  const first = envs[0];
  if (first === undefined) throw new KeyceremonyError('MERGE_NOTHING', 'no documents to merge', 'give two or more signed copies of the same document');
  envs.forEach((e, i) => {
    if (!samePayload(first, e)) {
      throw new KeyceremonyError('MERGE_PAYLOAD_MISMATCH', `${names[i] ?? `copy ${i + 1}`} carries a different payload from ${names[0] ?? 'copy 1'}`, 'merge only copies of the same document; someone signed another version');
    }
  });
  const seen = new Set<string>();
  const signatures = envs.flatMap((e) => e.signatures).filter((s) => {
    const k = `${s.keyid}:${Buffer.from(s.sig).toString('hex')}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  return Object.freeze({ ...first, signatures: Object.freeze(signatures) });
}
