/**
 * The ceremony transcript (issue 7): a readable record of who took part in which role, each step
 * and its outcome, fingerprints and KCVs, every file with its SHA-256, exceptions, and lines for
 * the participants' signatures. Rendered as Markdown and as one self-contained HTML page (no
 * script, no external resource; the app prints it to PDF). It holds no secret: it is built only
 * from what the audit log may hold.
 */
export interface TranscriptModel {
  readonly title: string;
  readonly ceremony: string;
  readonly started: string;
  readonly finished: string;
  readonly simulation: boolean;
  readonly participants: readonly { readonly id: string; readonly name: string; readonly role: string }[];
  /** The script's tokens, each with the PKCS#11 library it was used through (issue 16: one room, several libraries). */
  readonly tokens?: readonly { readonly name: string; readonly label: string; readonly library: string }[];
  readonly steps: readonly { readonly title: string; readonly actor: string; readonly outcome: string; readonly lines: readonly string[] }[];
  readonly fingerprints: readonly { readonly who: string; readonly hex: string; readonly words: readonly string[] }[];
  readonly kcvs: readonly { readonly key: string; readonly kcv: string }[];
  readonly files: readonly { readonly path: string; readonly sha256: string; readonly bytes: number }[];
  readonly exceptions: readonly string[];
  readonly audit: { readonly log: string; readonly entries: number; readonly head: string } | null;
}

/** A rehearsal's tokens are throw-away ones, on SoftHSM2 or NSS softokn (the Tokens table says which). */
const SIMULATION = 'Simulation tokens (throw-away SoftHSM2 or NSS softokn tokens): not a real ceremony.';

const md = (s: string): string => s.replace(/([\\`*_[\]|<>])/g, '\\$1');

export function transcriptMarkdown(t: TranscriptModel): string {
  const out: string[] = [];
  out.push(`# ${md(t.title)}`, '', `Ceremony \`${t.ceremony}\`, ${t.started} to ${t.finished} (UTC).${t.simulation ? ` **${SIMULATION}**` : ''}`, '');
  out.push('## Participants', '', '| id | name | role |', '| --- | --- | --- |', ...t.participants.map((p) => `| ${md(p.id)} | ${md(p.name)} | ${md(p.role)} |`), '');
  if (t.tokens !== undefined) out.push('## Tokens and their libraries', '', '| token | label | PKCS#11 library |', '| --- | --- | --- |', ...t.tokens.map((k) => `| ${md(k.name)} | ${md(k.label)} | ${md(k.library)} |`), '');
  out.push('## Steps', '');
  t.steps.forEach((s, i) => {
    out.push(`${i + 1}. **${md(s.title)}** (${md(s.actor)}): ${md(s.outcome)}`);
    for (const l of s.lines) out.push(`   - ${md(l)}`);
  });
  out.push('', '## Fingerprints read aloud', '', '| who | SHA-256 | words |', '| --- | --- | --- |', ...t.fingerprints.map((f) => `| ${md(f.who)} | \`${f.hex}\` | ${md(f.words.join(' '))} |`), '');
  out.push('## Key check values', '', '| key | KCV |', '| --- | --- |', ...t.kcvs.map((k) => `| ${md(k.key)} | \`${k.kcv}\` |`), '');
  out.push('## Files', '', '| file | bytes | SHA-256 |', '| --- | --- | --- |', ...t.files.map((f) => `| ${md(f.path)} | ${f.bytes} | \`${f.sha256}\` |`), '');
  out.push('## Exceptions', '', ...(t.exceptions.length === 0 ? ['None.'] : t.exceptions.map((e) => `- ${md(e)}`)), '');
  if (t.audit !== null) out.push('## Audit log', '', `Log \`${t.audit.log}\`: ${t.audit.entries} entries, head \`${t.audit.head}\`. Check it with \`keyceremony audit verify audit.jsonl --custodians …\`.`, '');
  out.push('## Signatures', '', ...t.participants.map((p) => `${md(p.name)} (${md(p.role)}): ______________________________  date: ____________`), '');
  return out.join('\n');
}

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function transcriptHtml(t: TranscriptModel): string {
  const rows = (cells: readonly string[][]): string => cells.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>${esc(t.title)}</title>
<style>body{font:11pt/1.4 sans-serif;margin:2cm;color:#111}table{border-collapse:collapse;width:100%;margin:8px 0}td,th{border:1px solid #999;padding:3px 6px;text-align:left;vertical-align:top}
code{font:9pt monospace;word-break:break-all}.sim{color:#8a5a00;font-weight:bold}.sig{margin:28px 0 0}h2{page-break-after:avoid}@media print{body{margin:1cm}}</style></head><body>
<h1>${esc(t.title)}</h1>
<p>Ceremony <code>${esc(t.ceremony)}</code>, ${esc(t.started)} to ${esc(t.finished)} (UTC).${t.simulation ? ` <span class="sim">${esc(SIMULATION)}</span>` : ''}</p>
<h2>Participants</h2><table><tr><th>id</th><th>name</th><th>role</th></tr>
${rows(t.participants.map((p) => [esc(p.id), esc(p.name), esc(p.role)]))}</table>
${t.tokens === undefined ? '' : `<h2>Tokens and their libraries</h2><table><tr><th>token</th><th>label</th><th>PKCS#11 library</th></tr>
${rows(t.tokens.map((k) => [esc(k.name), esc(k.label), esc(k.library)]))}</table>`}
<h2>Steps</h2><ol>
${t.steps.map((s) => `<li><b>${esc(s.title)}</b> (${esc(s.actor)}): ${esc(s.outcome)}${s.lines.length > 0 ? `<ul>${s.lines.map((l) => `<li>${esc(l)}</li>`).join('')}</ul>` : ''}</li>`).join('\n')}
</ol>
<h2>Fingerprints read aloud</h2><table><tr><th>who</th><th>SHA-256</th><th>words</th></tr>
${rows(t.fingerprints.map((f) => [esc(f.who), `<code>${esc(f.hex)}</code>`, esc(f.words.join(' '))]))}</table>
<h2>Key check values</h2><table><tr><th>key</th><th>KCV</th></tr>
${rows(t.kcvs.map((k) => [esc(k.key), `<code>${esc(k.kcv)}</code>`]))}</table>
<h2>Files</h2><table><tr><th>file</th><th>bytes</th><th>SHA-256</th></tr>
${rows(t.files.map((f) => [esc(f.path), String(f.bytes), `<code>${esc(f.sha256)}</code>`]))}</table>
<h2>Exceptions</h2>${t.exceptions.length === 0 ? '<p>None.</p>' : `<ul>${t.exceptions.map((e) => `<li>${esc(e)}</li>`).join('')}</ul>`}
${t.audit === null ? '' : `<h2>Audit log</h2><p>Log <code>${esc(t.audit.log)}</code>: ${t.audit.entries} entries, head <code>${esc(t.audit.head)}</code>.</p>`}
<h2>Signatures</h2>
${t.participants.map((p) => `<p class="sig">${esc(p.name)} (${esc(p.role)}): ______________________________ date: ____________</p>`).join('\n')}
</body></html>
`;
}
