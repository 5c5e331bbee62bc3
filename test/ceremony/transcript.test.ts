/** The transcript renders hostile names inertly: Markdown escaped, HTML escaped under a CSP with no script. */
import { describe, expect, test } from 'vitest';
import { transcriptHtml, transcriptMarkdown } from '../../src/ceremony/transcript.js';
import type { TranscriptModel } from '../../src/ceremony/transcript.js';

const hostile = '<img src=x onerror=alert(1)> | *bold* `code`';
const model: TranscriptModel = {
  title: 'Q4 rotation', ceremony: '2026-q4', started: '2026-11-28T10:00:00Z', finished: '2026-11-28T11:00:00Z', simulation: false,
  participants: [{ id: 'alice', name: hostile, role: 'custodian' }],
  steps: [{ title: 'Generate', actor: 'admin', outcome: hostile, lines: [hostile] }],
  fingerprints: [{ who: 'alice', hex: 'ab'.repeat(32), words: ['reform', 'tomorrow'] }],
  kcvs: [{ key: 'master-v1', kcv: 'ecb:abcdef' }],
  files: [{ path: 'drill.json', sha256: 'cd'.repeat(32), bytes: 1234 }],
  exceptions: [], audit: { log: 'ef'.repeat(16), entries: 12, head: `sha256:${'01'.repeat(32)}` },
};

describe('transcript', () => {
  test('HTML: everything escaped, a CSP with no script or external resource, signature lines for each participant', () => {
    const html = transcriptHtml(model);
    expect(html).not.toContain('<img');
    expect(html).toContain('&#60;img src=x onerror=alert(1)&#62;');
    expect(html).toContain("content=\"default-src 'none'; style-src 'unsafe-inline'\"");
    expect(html).not.toMatch(/<script|src=["']?http|href=/i);
    expect(html.match(/class="sig"/g)).toHaveLength(1);
    expect(html).toContain('<td>drill.json</td><td>1234</td>');
  });
  test('Markdown: table cells cannot be broken out of, and every section is there', () => {
    const text = transcriptMarkdown(model);
    expect(text).toContain('\\<img src=x onerror=alert(1)\\> \\| \\*bold\\* \\`code\\`');
    for (const h of ['## Participants', '## Steps', '## Fingerprints read aloud', '## Key check values', '## Files', '## Exceptions', '## Audit log', '## Signatures']) expect(text).toContain(h);
    expect(text).toContain('None.');
  });
});
