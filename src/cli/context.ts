/** Turning CLI arguments into a loaded module, a token and an object name (CLI.md common rules). */
import { usageError } from '../errors.js';
import { chooseModule, Pkcs11Module } from '../pkcs11/module.js';
import { findToken } from '../pkcs11/tokens.js';
import type { Token } from '../pkcs11/tokens.js';
import { parsePkcs11Uri } from '../pkcs11/uri.js';
import type { Pkcs11Uri } from '../pkcs11/uri.js';
import type { Io } from './io.js';
import { Warnings } from './io.js';

/** How a command was told its default library: `--module PATH` and `--module-params STRING`. */
export interface ModuleFlags {
  readonly module?: string | undefined;
  readonly 'module-params'?: string | undefined;
}

function flagsOf(flags: string | undefined | ModuleFlags): ModuleFlags {
  return typeof flags === 'object' ? flags : { module: flags };
}

/**
 * The library of a token (CLI.md common rules): the URI's module-path, else the default library
 * (--module, else KEYCEREMONY_PKCS11_MODULE, else SoftHSM2 with one warning) with its parameters
 * (--module-params, else KEYCEREMONY_PKCS11_MODULE_PARAMS). Each library is opened once per process.
 * `flags` is the --module value, or both flags (commands that take --module-params).
 */
export function openModule(io: Io, warnings: Warnings, flags: string | undefined | ModuleFlags, uriModulePath?: string): Pkcs11Module {
  const f = flagsOf(flags);
  const choice = chooseModule({ flag: f.module, paramsFlag: f['module-params'], env: io.env, uriModulePath });
  const mod = Pkcs11Module.open(choice.path, choice.params);
  if (choice.source === 'auto') {
    warnings.warn(`no PKCS#11 module was named; using SoftHSM2 at ${choice.path}, a simulation token: keys made here are not protected by hardware`);
  }
  return mod;
}

/** A PKCS#11 URI, or a bare word taken as an object label on the only token present. */
export function objectArgument(arg: string): Pkcs11Uri {
  if (/^pkcs11:/i.test(arg)) return parsePkcs11Uri(arg);
  if (arg.startsWith('-') || arg.includes(':')) {
    throw usageError('URI_INVALID', `${JSON.stringify(arg)} is neither a PKCS#11 URI nor a label`, 'write pkcs11:token=LABEL;object=NAME, or a bare label when one token is present');
  }
  return { object: arg };
}

export interface Target {
  readonly mod: Pkcs11Module;
  readonly token: Token;
  readonly uri: Pkcs11Uri;
}

export function resolveTarget(io: Io, warnings: Warnings, arg: string, moduleFlags: string | undefined | ModuleFlags): Target {
  const uri = objectArgument(arg);
  const mod = openModule(io, warnings, moduleFlags, uri.modulePath);
  const token = findToken(mod, { label: uri.token, serial: uri.serial });
  return { mod, token, uri };
}
