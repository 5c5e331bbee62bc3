/**
 * Adversarial review of issue 17's script fields: a make-secret step is checked against the steps
 * around it. A version made twice, or made after a manifest of the script already approved it
 * (signed without the binding FORMATS.md §4 requires of a secret made in the ceremony), is a script
 * error found before the ceremony, not a refusal half-way or a version the deployment cannot load.
 */
import { describe, expect, test } from 'vitest';
import { parseScript } from '../../src/ceremony/script.js';
import { TEMPLATES } from '../../src/ceremony/templates.js';

type Script = { steps: Record<string, unknown>[] };
const problems = (s: Script): string[] => {
  try { parseScript(new TextEncoder().encode(JSON.stringify(s))); return []; } catch (e) { return (e as { problems: { code: string; path: string }[] }).problems.map((p) => `${p.code} ${p.path}`); }
};
const jwt = (): Script => JSON.parse(JSON.stringify(TEMPLATES['monthly-jwt-rotation'])) as Script;

describe('make-secret steps against the script around them', () => {
  test('every template passes', () => {
    for (const t of Object.values(TEMPLATES)) expect(problems(JSON.parse(JSON.stringify(t)) as Script)).toEqual([]);
  });
  test('a version made twice is refused', () => {
    const t = jwt();
    t.steps.splice(2, 0, { ...t.steps[1], id: 'make-jwt-again' });
    expect(problems(t)).toEqual(['SCRIPT_DUPLICATE steps[2].name']);
  });
  test('a version made after a manifest of the script approved it is refused; another version is not', () => {
    const t = jwt();
    const [load, a, b, ...manifests] = t.steps;
    expect(problems({ ...t, steps: [load!, a!, ...manifests, b!] })).toEqual(['SCRIPT_STEP_ORDER steps[6].name']);
    expect(problems({ ...t, steps: [load!, a!, b!, ...manifests, { ...b!, id: 'make-v3', keyVersion: 3 }] })).toEqual([]);
  });
});
