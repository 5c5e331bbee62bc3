/** The step kinds of a ceremony script, one module each, chosen by the step's action. */
import type { Action, Step } from '../script.js';
import { custodianKeys } from './custodian-keys.js';
import { custodianSet } from './custodian-set.js';
import { drillStep } from './drill.js';
import { exportStep } from './export.js';
import { generateKey } from './generate-key.js';
import type { StepKind, StepOf } from './kind.js';
import { loadCustodianSet } from './load-custodian-set.js';
import { makeSecret } from './make-secret.js';
import { manifest } from './manifest.js';
import { rotateCustodianSet } from './rotate-custodian-set.js';
import { splitBackup } from './split-backup.js';

const STEPS: { readonly [A in Action]: StepKind<StepOf<A>> } = {
  'custodian-keys': custodianKeys,
  'custodian-set': custodianSet,
  'load-custodian-set': loadCustodianSet,
  'rotate-custodian-set': rotateCustodianSet,
  'generate-key': generateKey,
  'make-secret': makeSecret,
  'split-backup': splitBackup,
  manifest,
  export: exportStep,
  drill: drillStep,
};

export function kindOf(step: Step): StepKind<Step> {
  return STEPS[step.action] as unknown as StepKind<Step>;
}
