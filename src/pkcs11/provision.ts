/**
 * Initialising tokens, for throw-away simulation tokens only (demo and rehearsals): a real
 * HSM or smartcard is initialised by its security officer with the vendor's tools, never here.
 * SoftHSM2 tokens are made with C_InitToken in a free slot; an NSS softokn token exists as soon as
 * the library is initialised over its database folder (src/pkcs11/nss.ts), and is given its PIN.
 */
import { KeyceremonyError } from '../errors.js';
import { pkcs11js } from './binding.js';
import { fromPkcs11 } from './errors.js';
import type { Pkcs11Module } from './module.js';
import { findToken, listTokens } from './tokens.js';
import type { Token } from './tokens.js';

/** CK_TOKEN_INFO.label is 32 bytes blank-padded (PKCS#11 2.40 §3.2); pkcs11js pads with NUL, so pad here. */
export function padLabel(label: string): string {
  const bytes = Buffer.byteLength(label, 'utf8');
  if (bytes === 0 || bytes > 32) throw new KeyceremonyError('TOKEN_LABEL_INVALID', `a token label is 1 to 32 bytes, ${JSON.stringify(label)} has ${bytes}`, 'choose a shorter label', { exit: 2 });
  return label + ' '.repeat(32 - bytes);
}

export function initSimulationToken(mod: Pkcs11Module, label: string, soPin: Uint8Array, userPin: Uint8Array): Token {
  if (!mod.isSoftHsm) {
    throw new KeyceremonyError('TOKEN_INIT_REFUSED', `keyceremony initialises simulation tokens only, and ${mod.path} is ${mod.info.manufacturer}`, 'initialise real tokens with the vendor tools');
  }
  const B = pkcs11js();
  const free = listTokens(mod).find((t) => !t.info.flags.initialized);
  if (free === undefined) throw new KeyceremonyError('TOKEN_NO_FREE_SLOT', 'SoftHSM2 offers no free slot', 'check the SoftHSM2 configuration (SOFTHSM2_CONF)');
  const api = mod.api;
  try {
    api.C_InitToken(free.slot, Buffer.from(soPin).toString('utf8'), padLabel(label));
    const token = findToken(mod, { label });
    const session = api.C_OpenSession(token.slot, B.CKF_SERIAL_SESSION | B.CKF_RW_SESSION);
    try {
      api.C_Login(session, B.CKU_SO, Buffer.from(soPin).toString('utf8'));
      api.C_InitPIN(session, Buffer.from(userPin).toString('utf8'));
      api.C_Logout(session);
    } finally {
      api.C_CloseSession(session);
    }
    return findToken(mod, { label });
  } catch (err) {
    throw fromPkcs11(err, { token: label, what: 'initialising a simulation token' });
  }
}

/**
 * The throw-away NSS softokn token labelled `label`, with `userPin` set on first use the way NSS
 * wants it (KMS-NOTES.md): log in as security officer with the empty PIN, C_InitPIN. A token whose
 * PIN is set already (a resumed rehearsal) is taken as it is: the PIN is proven at the first login.
 */
export function initNssSimulationToken(mod: Pkcs11Module, label: string, userPin: Uint8Array): Token {
  if (mod.implementation !== 'nss-softokn') {
    throw new KeyceremonyError('TOKEN_INIT_REFUSED', `keyceremony sets up NSS simulation tokens only, and ${mod.path} is ${mod.info.manufacturer} ${mod.info.description}`, 'initialise real tokens with the vendor tools');
  }
  const B = pkcs11js();
  const found = listTokens(mod).filter((t) => t.label === label);
  if (found.length !== 1) {
    throw new KeyceremonyError('TOKEN_NO_FREE_SLOT', `NSS softokn at ${mod.path} offers ${found.length} tokens labelled "${label}"`, 'check the parameters the library was initialised with: each rehearsal token is named there once');
  }
  const t = found[0] as Token;
  if (t.info.flags.userPinInitialized) return findToken(mod, { label });
  const api = mod.api;
  try {
    const session = api.C_OpenSession(t.slot, B.CKF_SERIAL_SESSION | B.CKF_RW_SESSION);
    try {
      api.C_Login(session, B.CKU_SO, '');
      api.C_InitPIN(session, Buffer.from(userPin).toString('utf8'));
      api.C_Logout(session);
    } finally {
      api.C_CloseSession(session);
    }
  } catch (err) {
    throw fromPkcs11(err, { token: label, what: 'setting the PIN of a simulation token' });
  }
  return findToken(mod, { label });
}
