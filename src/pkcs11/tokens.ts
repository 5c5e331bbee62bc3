/**
 * Tokens with their identity, flags and capabilities. Tokens are named by label or serial,
 * never by slot id (slot ids are not stable: SoftHSM2 renumbers them, readers reorder them).
 */
import { KeyceremonyError } from '../errors.js';
import { CKM_AES_KEY_WRAP_KWP, CKM_AES_KEY_WRAP_PAD, CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_EC_MONTGOMERY_KEY_PAIR_GEN, CKM_EDDSA, CKM_RSA_AES_KEY_WRAP, pkcs11js } from './binding.js';
import type { Handle } from './binding.js';
import { fromPkcs11, hsmError } from './errors.js';
import type { PinState } from './errors.js';
import { trimField } from './module.js';
import type { Pkcs11Module } from './module.js';

export interface TokenFlags {
  readonly initialized: boolean;
  readonly loginRequired: boolean;
  readonly userPinInitialized: boolean;
  readonly pinCountLow: boolean;
  readonly pinFinalTry: boolean;
  readonly pinLocked: boolean;
  readonly pinToBeChanged: boolean;
  readonly writeProtected: boolean;
  readonly rng: boolean;
  readonly protectedAuthenticationPath: boolean;
  readonly soPinLocked: boolean;
}

export interface TokenInfo {
  readonly label: string;
  readonly serial: string;
  readonly manufacturer: string;
  readonly model: string;
  readonly flags: TokenFlags;
  readonly minPinLength: number;
  readonly maxPinLength: number;
}

export class Token {
  readonly module: Pkcs11Module;
  /** The slot handle: internal only, never shown or accepted as a name. */
  readonly slot: Handle;
  readonly info: TokenInfo;

  constructor(module: Pkcs11Module, slot: Handle, info: TokenInfo) {
    this.module = module;
    this.slot = slot;
    this.info = info;
  }

  get label(): string {
    return this.info.label;
  }

  /** Fresh PIN flags (they change after every wrong PIN). */
  pinState(): PinState {
    const f = readTokenInfo(this.module, this.slot).flags;
    return { countLow: f.pinCountLow, finalTry: f.pinFinalTry, locked: f.pinLocked };
  }
}

export function readTokenInfo(mod: Pkcs11Module, slot: Handle): TokenInfo {
  const B = pkcs11js();
  let t;
  try {
    t = mod.api.C_GetTokenInfo(slot);
  } catch (err) {
    throw fromPkcs11(err, { what: 'reading token information' });
  }
  const has = (flag: number): boolean => (t.flags & flag) !== 0;
  return Object.freeze({
    label: trimField(t.label),
    serial: trimField(t.serialNumber),
    manufacturer: trimField(t.manufacturerID),
    model: trimField(t.model),
    minPinLength: t.minPinLen,
    maxPinLength: t.maxPinLen,
    flags: Object.freeze({
      initialized: has(B.CKF_TOKEN_INITIALIZED),
      loginRequired: has(B.CKF_LOGIN_REQUIRED),
      userPinInitialized: has(B.CKF_USER_PIN_INITIALIZED),
      pinCountLow: has(B.CKF_USER_PIN_COUNT_LOW),
      pinFinalTry: has(B.CKF_USER_PIN_FINAL_TRY),
      pinLocked: has(B.CKF_USER_PIN_LOCKED),
      pinToBeChanged: has(B.CKF_USER_PIN_TO_BE_CHANGED),
      writeProtected: has(B.CKF_WRITE_PROTECTED),
      rng: has(B.CKF_RNG),
      protectedAuthenticationPath: has(B.CKF_PROTECTED_AUTHENTICATION_PATH),
      soPinLocked: has(B.CKF_SO_PIN_LOCKED),
    }),
  });
}

/** Every slot with a token present, initialised or not. */
export function listTokens(mod: Pkcs11Module): Token[] {
  let slots: Handle[];
  try {
    slots = mod.api.C_GetSlotList(true);
  } catch (err) {
    throw fromPkcs11(err, { what: 'listing slots' });
  }
  return slots.map((slot) => new Token(mod, slot, readTokenInfo(mod, slot)));
}

export interface TokenSelector {
  readonly label?: string | undefined;
  readonly serial?: string | undefined;
}

/** The one initialised token matching label and/or serial; errors name what was looked for. */
export function findToken(mod: Pkcs11Module, sel: TokenSelector): Token {
  const usable = listTokens(mod).filter((t) => t.info.flags.initialized);
  if (sel.label === undefined && sel.serial === undefined) {
    if (usable.length === 1) return usable[0] as Token;
    throw new KeyceremonyError(usable.length === 0 ? 'HSM_TOKEN_NOT_PRESENT' : 'HSM_TOKEN_AMBIGUOUS',
      usable.length === 0 ? 'no initialised token is present' : `${usable.length} tokens are present and none was named`,
      usable.length === 0 ? 'insert the token and run again' : 'name the token in the URI with token=LABEL or serial=SERIAL');
  }
  const hits = usable.filter((t) => (sel.label === undefined || t.info.label === sel.label) && (sel.serial === undefined || t.info.serial === sel.serial));
  const what = [sel.label === undefined ? '' : `label "${sel.label}"`, sel.serial === undefined ? '' : `serial "${sel.serial}"`].filter(Boolean).join(' and ');
  if (hits.length === 0) {
    throw hsmError('HSM_TOKEN_NOT_FOUND', `no token with ${what} is present (present: ${usable.map((t) => `"${t.label}"`).join(', ') || 'none'})`,
      'insert the right token, or check the label with `keyceremony tokens`');
  }
  if (hits.length > 1) {
    throw new KeyceremonyError('HSM_TOKEN_AMBIGUOUS', `${hits.length} tokens match ${what}`, 'name the token by serial=SERIAL as well');
  }
  return hits[0] as Token;
}

export interface MechanismCapability {
  readonly id: number;
  readonly name: string;
  readonly minKeySize: number;
  readonly maxKeySize: number;
  readonly flags: readonly string[];
}

const EXTRA_NAMES: ReadonlyMap<number, string> = new Map([
  [0x1040, 'CKM_EC_KEY_PAIR_GEN'],
  [CKM_EC_EDWARDS_KEY_PAIR_GEN, 'CKM_EC_EDWARDS_KEY_PAIR_GEN'],
  [CKM_EC_MONTGOMERY_KEY_PAIR_GEN, 'CKM_EC_MONTGOMERY_KEY_PAIR_GEN'],
  [CKM_EDDSA, 'CKM_EDDSA'],
  [CKM_RSA_AES_KEY_WRAP, 'CKM_RSA_AES_KEY_WRAP'],
  [CKM_AES_KEY_WRAP_PAD, 'CKM_AES_KEY_WRAP_PAD'],
  [CKM_AES_KEY_WRAP_KWP, 'CKM_AES_KEY_WRAP_KWP'],
]);

let mechanismNames: Map<number, string> | undefined;

export function mechanismName(id: number): string {
  if (mechanismNames === undefined) {
    mechanismNames = new Map();
    for (const [k, v] of Object.entries(pkcs11js())) {
      if (k.startsWith('CKM_') && typeof v === 'number' && !mechanismNames.has(v)) mechanismNames.set(v, k);
    }
    for (const [v, k] of EXTRA_NAMES) mechanismNames.set(v, k);
  }
  return mechanismNames.get(id) ?? `CKM_0x${id.toString(16).padStart(8, '0')}`;
}

const MECH_FLAGS: readonly (readonly [string, string])[] = [
  ['CKF_HW', 'hw'], ['CKF_ENCRYPT', 'encrypt'], ['CKF_DECRYPT', 'decrypt'], ['CKF_DIGEST', 'digest'],
  ['CKF_SIGN', 'sign'], ['CKF_VERIFY', 'verify'], ['CKF_GENERATE', 'generate'],
  ['CKF_GENERATE_KEY_PAIR', 'generate-key-pair'], ['CKF_WRAP', 'wrap'], ['CKF_UNWRAP', 'unwrap'], ['CKF_DERIVE', 'derive'],
];

/** The capability probe: what the token can do, as reported by C_GetMechanismList/Info. */
export function mechanisms(token: Token): MechanismCapability[] {
  const B = pkcs11js() as unknown as Record<string, number>;
  const api = token.module.api;
  let ids: number[];
  try {
    ids = api.C_GetMechanismList(token.slot);
  } catch (err) {
    throw fromPkcs11(err, { token: token.label, what: 'listing mechanisms' });
  }
  return ids.map((id) => {
    const info = api.C_GetMechanismInfo(token.slot, id);
    return Object.freeze({
      id,
      name: mechanismName(id),
      minKeySize: info.minKeySize,
      maxKeySize: info.maxKeySize,
      flags: Object.freeze(MECH_FLAGS.filter(([c]) => (info.flags & (B[c] ?? 0)) !== 0).map(([, n]) => n)),
    });
  }).sort((a, b) => a.id - b.id);
}

export function hasMechanism(caps: readonly MechanismCapability[], id: number, flag?: string): boolean {
  return caps.some((m) => m.id === id && (flag === undefined || m.flags.includes(flag)));
}
