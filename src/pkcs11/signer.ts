/** A Signer backed by an Ed25519 key on a token (an HSM or a custodian's smartcard), inside an open session. */
import { keyIdOf } from '../crypto/ed25519.js';
import type { Signer } from '../dsse/sign.js';
import { findEd25519Pair, signEd25519 } from './keys.js';
import type { ObjectQuery } from './keys.js';
import type { Session } from './session.js';

export function tokenSigner(s: Session, key: ObjectQuery): Signer {
  const { publicKey } = findEd25519Pair(s, key);
  return {
    publicKey,
    keyid: keyIdOf(publicKey),
    description: `token "${s.token.label}", key ${key.label ?? key.id ?? ''}`,
    // signEd25519 checks that the card's key is still this one and verifies the signature
    sign: async (message) => (await signEd25519(s, key, message, publicKey)).signature,
  };
}
