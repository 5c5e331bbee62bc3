/** app://keyceremony/<path> → a file inside the built renderer folder, or nothing. */
import { extname, join, normalize, sep } from 'node:path';
import { APP_HOST, APP_SCHEME } from './security.js';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.woff2': 'font/woff2', '.json': 'application/json',
};

/** The file for a URL, confined to `root`: other hosts, traversal, encoded separators and odd types give null. */
export function resolveAppFile(root: string, url: string): { path: string; type: string } | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  if (u.protocol !== `${APP_SCHEME}:` || u.host !== APP_HOST) return null;
  let rel: string;
  try {
    rel = decodeURIComponent(u.pathname);
  } catch {
    return null;
  }
  if (rel === '/' || rel === '') rel = '/index.html';
  if (rel.includes('\0') || rel.includes('\\') || rel.split('/').some((s) => s === '..')) return null;
  const path = normalize(join(root, rel));
  if (!path.startsWith(normalize(root) + sep)) return null;
  const type = TYPES[extname(path)];
  return type === undefined ? null : { path, type };
}
