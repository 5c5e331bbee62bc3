/**
 * Issue 13 (found by a review): the inputs a run uses are the bytes it read when it began. A KMS
 * wrapping key swapped in the inputs folder while the run is under way (here: while the witness
 * confirms the master key's check value) never reaches the export step.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { DEMO_TEMPLATE } from '../../src/ceremony/demo.js';
import { runCeremony } from '../../src/ceremony/engine.js';
import { openRehearsalTokens } from '../../src/ceremony/rehearsal.js';
import { parseScript } from '../../src/ceremony/script.js';
import { templateText } from '../../src/ceremony/templates.js';
import { seedDeployment, seedKeks } from '../support/ceremony-state.js';

const root = mkdtempSync(join(tmpdir(), 'kc-pinned-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

test('a KMS wrapping key swapped during the run is not the one the export uses', async () => {
  const dir = join(root, 'run');
  seedKeks(dir);
  seedDeployment(dir, { identity: false }); // the recipient the script seals its secrets to
  const text = templateText(DEMO_TEMPLATE) as string;
  writeFileSync(join(dir, 'ceremony.json'), text);
  const script = parseScript(new TextEncoder().encode(text));
  const kek = join(dir, 'kms', readdirSync(join(dir, 'kms')).find((n) => n.startsWith('aws-rsaes-oaep-sha1'))!);
  const original = createHash('sha256').update(readFileSync(kek)).digest('hex');
  const swapped = generateKeyPairSync('rsa', { modulusLength: 3072 }).publicKey.export({ type: 'spki', format: 'der' });
  const r = openRehearsalTokens(script, dir);
  try {
    await runCeremony({ script, dir, inputs: dir, tokens: r.tokens, simulation: true, declared: [join(dir, 'ceremony.json')], say: () => undefined,
      confirm: async (q) => { if (q.what.startsWith('the check value of master-v1')) writeFileSync(kek, swapped); return true; } });
  } finally {
    r.close();
  }
  const rec = JSON.parse(readFileSync(join(dir, 'export', 'aws-rsaes-oaep-sha1', 'export.json'), 'utf8')) as { wrappingKeySha256: string };
  expect(createHash('sha256').update(readFileSync(kek)).digest('hex')).not.toBe(original); // the file on disk was swapped
  expect(rec.wrappingKeySha256).toBe(original); // the key file's SHA-256 when the run began: the wrap went to the original KMS key
}, 120_000);
