/**
 * Issue 8: no secret in any output. The demo runs; then every secret it had is gathered from where
 * it legitimately lives: the throw-away tokens' PINs, each custodian's share (read from their card
 * with OpenSC's pkcs11-tool), the backup key (recombined here from two shares) and the master key
 * (unwrapped here from the backup blob with node:crypto). Every output (stdout, stderr, the audit
 * log, the transcripts, every document, the custody folder and the export folders except the
 * wrapped key files themselves) is scanned for each, as text, hex, base64 and base64url: none is found.
 */
import { execFileSync } from 'node:child_process';
import { createDecipheriv } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { combine } from 'shamir-secret-sharing';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { runCli } from '../support/cli.js';
import { softHsmModule } from '../support/softhsm.js';

let dir: string;
let out: { stdout: string; stderr: string };
const WRAPPED_FILES = new Set(['EncryptedKeyMaterial.bin', 'wrapped-key.bin', 'key.byok', 'ciphertext.txt']);

beforeAll(() => {
  dir = join(mkdtempSync(join(tmpdir(), 'kc-secrets-')), 'demo');
  const r = runCli(['demo', '--dir', dir], process.env);
  expect(r.status).toBe(0);
  out = r;
}, 120_000);
afterAll(() => rmSync(join(dir, '..'), { recursive: true, force: true }));

function outputs(): { name: string; bytes: Buffer }[] {
  const files: { name: string; bytes: Buffer }[] = [{ name: 'stdout', bytes: Buffer.from(out.stdout) }, { name: 'stderr', bytes: Buffer.from(out.stderr) }];
  const walk = (rel: string): void => {
    for (const n of readdirSync(join(dir, rel))) {
      const r = rel === '' ? n : `${rel}/${n}`;
      if (r === 'softhsm') continue; // the token store itself (and the rehearsal's PIN file) is where secrets belong
      if (statSync(join(dir, r)).isDirectory()) walk(r);
      else if (!WRAPPED_FILES.has(n)) files.push({ name: r, bytes: readFileSync(join(dir, r)) });
    }
  };
  walk('');
  return files;
}

function spellings(secret: Buffer): string[] {
  const s = [secret.toString('hex'), secret.toString('hex').toUpperCase(), secret.toString('base64').replace(/=+$/, ''), secret.toString('base64url')];
  if (/^[\x20-\x7e]+$/.test(secret.toString('latin1'))) s.push(secret.toString('latin1'));
  // base64 of the same bytes at another offset inside a longer run (3-byte alignment) is caught by a middle slice
  if (secret.length >= 12) s.push(secret.subarray(3, secret.length - 3).toString('base64').replace(/=+$/, '').slice(1, -1));
  return s;
}

test('the demo leaves every secret where it belongs: none in any output, in any spelling', async () => {
  const env = { ...process.env, SOFTHSM2_CONF: join(dir, 'softhsm', 'softhsm2.conf') };
  const pins = JSON.parse(readFileSync(join(dir, 'softhsm', 'rehearsal-pins.json'), 'utf8')) as Record<string, { so: string; user: string }>;
  const secrets: { what: string; bytes: Buffer }[] = Object.entries(pins).flatMap(([t, p]) => [{ what: `${t} user PIN`, bytes: Buffer.from(p.user) }, { what: `${t} SO PIN`, bytes: Buffer.from(p.so) }]);
  const shares: Uint8Array[] = [];
  for (const c of ['alice', 'bob', 'carol']) {
    const file = join(dir, '..', `${c}.share`);
    execFileSync('pkcs11-tool', ['--module', softHsmModule(), '--token-label', `custodian-${c}`, '--login', '--pin', pins[`card-${c}`]!.user, '--read-object', '--type', 'data', '--label', 'share:backup-v1', '--output-file', file], { env, stdio: 'pipe' });
    const record = readFileSync(file);
    const share = Buffer.from((JSON.parse(record.toString('utf8')) as { share: string }).share, 'base64');
    shares.push(new Uint8Array(share));
    secrets.push({ what: `${c}'s share`, bytes: share }, { what: `${c}'s share record`, bytes: record });
  }
  const backupKey = Buffer.from(await combine(shares.slice(0, 2)));
  expect(backupKey).toHaveLength(32);
  const blob = JSON.parse(readFileSync(join(dir, 'custody', 'backup', 'master-v1.blob.json'), 'utf8')) as { wrapped: string };
  const d = createDecipheriv('id-aes256-wrap-pad', backupKey, Buffer.from('A65959A6', 'hex'));
  const masterKey = Buffer.concat([d.update(Buffer.from(blob.wrapped, 'base64')), d.final()]);
  expect(masterKey).toHaveLength(32);
  secrets.push({ what: 'the backup key', bytes: backupKey }, { what: 'the master key', bytes: masterKey });

  const files = outputs();
  expect(files.map((f) => f.name)).toEqual(expect.arrayContaining(['stdout', 'audit.jsonl', 'transcript.md', 'transcript.html', 'custody/rotation.json', 'export/aws-rsaes-oaep-sha1/export.json']));
  const found: string[] = [];
  for (const f of files) {
    const text = f.bytes.toString('latin1');
    for (const s of secrets) {
      if (f.bytes.includes(s.bytes)) found.push(`${s.what} (raw) in ${f.name}`);
      for (const sp of spellings(s.bytes)) if (sp.length >= 8 && text.includes(sp)) found.push(`${s.what} (${sp.slice(0, 6)}…) in ${f.name}`);
    }
  }
  expect(found).toEqual([]);
  // and the scan does find a secret where one is: the card's share is in the record read from it
  expect(readFileSync(join(dir, '..', 'alice.share')).toString('latin1')).toContain(Buffer.from(shares[0]!).toString('base64').replace(/=+$/, ''));
});
