/**
 * The Markdown the engine writes (src/ceremony/transcript.ts), rendered as the room reads it
 * (issue 15): headings, pipe tables, numbered lists with nested bullets, paragraphs; inline code,
 * bold and backslash escapes. Everything becomes React text nodes: nothing in the document is
 * ever parsed as HTML, and links or images are shown as the text they are.
 */
import type { ReactNode } from 'react';

/** Inline: `code`, **bold**, \x escapes; the rest is text. */
export function inline(s: string): ReactNode[] {
  const out: ReactNode[] = [];
  let text = '';
  let bold: ReactNode[] | null = null;
  const push = (n: ReactNode) => { (bold ?? out).push(n); };
  const flush = () => { if (text !== '') { push(text); text = ''; } };
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (c === '\\' && i + 1 < s.length) { text += s[++i]; continue; }
    if (c === '`') {
      const end = s.indexOf('`', i + 1);
      if (end !== -1) { flush(); push(<code key={`c${i}`}>{s.slice(i + 1, end)}</code>); i = end; continue; }
    }
    if (c === '*' && s[i + 1] === '*') {
      flush();
      if (bold === null) bold = [];
      else { const b = bold; bold = null; out.push(<strong key={`b${i}`}>{b}</strong>); }
      i++;
      continue;
    }
    text += c;
  }
  flush();
  if (bold !== null) out.push('**', ...bold);
  return out;
}

/** A table row's cells: split on pipes that are not escaped. */
function cells(line: string): string[] {
  const row = line.trim().replace(/^\|/, '').replace(/(?<!\\)\|$/, '');
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < row.length; i++) {
    if (row[i] === '\\' && i + 1 < row.length) { cur += row.slice(i, i + 2); i++; continue; }
    if (row[i] === '|') { out.push(cur.trim()); cur = ''; continue; }
    cur += row[i];
  }
  out.push(cur.trim());
  return out;
}

const SEPARATOR = /^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$/;

/** Block structure; heading levels start at `level` (# becomes h<level>). */
export function Markdown({ text, level = 3 }: { text: string; level?: 3 | 4 }) {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  const blocks: ReactNode[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i] as string;
    const key = `k${i}`;
    const h = /^(#{1,4})\s+(.*)$/.exec(line);
    if (line.trim() === '') { i++; continue; }
    if (h !== null) {
      const n = Math.min(6, level + (h[1] as string).length - 1);
      const Tag = `h${n}` as 'h3';
      blocks.push(<Tag key={key}>{inline(h[2] as string)}</Tag>);
      i++;
      continue;
    }
    if (line.trimStart().startsWith('|') && SEPARATOR.test(lines[i + 1] ?? '')) {
      const head = cells(line);
      const rows: string[][] = [];
      i += 2;
      while (i < lines.length && (lines[i] as string).trimStart().startsWith('|')) rows.push(cells(lines[i++] as string));
      blocks.push(
        <div className="md-table" key={key}>
          <table>
            <thead><tr>{head.map((c, j) => <th key={j} scope="col">{inline(c)}</th>)}</tr></thead>
            <tbody>{rows.map((r, k) => <tr key={k}>{head.map((_, j) => <td key={j}>{inline(r[j] ?? '')}</td>)}</tr>)}</tbody>
          </table>
        </div>,
      );
      continue;
    }
    const item = /^(\d+)\.\s+(.*)$|^-\s+(.*)$/.exec(line);
    if (item !== null) {
      const ordered = item[1] !== undefined;
      const items: { text: string; sub: string[] }[] = [];
      while (i < lines.length) {
        const l = lines[i] as string;
        const top = ordered ? /^\d+\.\s+(.*)$/.exec(l) : /^-\s+(.*)$/.exec(l);
        const sub = /^\s{2,}-\s+(.*)$/.exec(l);
        if (top !== null) items.push({ text: top[1] as string, sub: [] });
        else if (sub !== null && items.length > 0) items[items.length - 1]!.sub.push(sub[1] as string);
        else break;
        i++;
      }
      const lis = items.map((it, k) => (
        <li key={k}>{inline(it.text)}{it.sub.length > 0 && <ul>{it.sub.map((s, j) => <li key={j}>{inline(s)}</li>)}</ul>}</li>
      ));
      blocks.push(ordered ? <ol key={key}>{lis}</ol> : <ul key={key}>{lis}</ul>);
      continue;
    }
    // a paragraph: lines up to a blank line or another block
    const para: string[] = [];
    while (i < lines.length && (lines[i] as string).trim() !== '' && !/^(#{1,4}\s|\d+\.\s|-\s|\s*\|)/.test(lines[i] as string)) para.push(lines[i++] as string);
    if (para.length === 0) { para.push(line); i++; }
    // the transcript's lines stay lines (the signature lines are one per participant)
    blocks.push(<p key={key}>{para.map((l, j) => <span key={j}>{j > 0 && <br />}{inline(l)}</span>)}</p>);
  }
  return <>{blocks}</>;
}
