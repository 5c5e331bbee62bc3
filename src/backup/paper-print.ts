/**
 * The printable page of a paper share: one self-contained HTML file (no script, no external
 * resource, a CSP that forbids both) with the sealed share as a QR code and as text in short
 * groups, the checksum to compare when typing it back, and what the custodian must do. It holds
 * no passphrase and nothing in clear: printing it exposes only the sealed share.
 */
import encodeQR from 'qr';
import { encodePaperShare } from './paper.js';
import type { PaperShare } from './paper.js';
import { PASSPHRASE_BITS, PASSPHRASE_WORDS } from './passphrase.js';

const escape = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The QR symbol of the sealed share (ECC medium: a creased or stained print still scans). */
export function paperShareQrSvg(p: PaperShare): string {
  return encodeQR(encodePaperShare(p), 'svg', { ecc: 'medium', border: 4 });
}

export function paperShareHtml(p: PaperShare): string {
  const text = encodePaperShare(p);
  const groups = text.match(/.{1,64}/g) ?? [];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>Paper share of ${escape(p.custodian)} for ${escape(p.backupKey)}</title>
<style>body{font-family:sans-serif;margin:2cm}pre{font:10pt monospace;white-space:pre-wrap;word-break:break-all}svg{width:9cm;height:9cm}
table td{padding:2px 12px 2px 0}</style></head><body>
<h1>Backup key share: ${escape(p.custodian)}</h1>
<table>
<tr><td>Ceremony</td><td>${escape(p.ceremony)}</td></tr>
<tr><td>Backup key</td><td>${escape(p.backupKey)}</td></tr>
<tr><td>Share</td><td>${p.index} of ${p.total} (any ${p.threshold} restore the key)</td></tr>
<tr><td>Checksum</td><td><b>${escape(p.checksum)}</b></td></tr>
</table>
${paperShareQrSvg(p)}
<p>The share is sealed under the ${PASSPHRASE_WORDS} words keyceremony showed ${escape(p.custodian)} when it was made (${PASSPHRASE_BITS} bits; scrypt N=${p.kdf.N}, AES-256-GCM).
Keep this page where the custody policy says, apart from the words; never write the words on it. At a drill or a restore, scan the code or type the text below;
the checksum must match, then ${escape(p.custodian)} types the words.</p>
<pre>${groups.map(escape).join('\n')}</pre>
</body></html>
`;
}
