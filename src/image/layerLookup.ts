// Reads a file of an image straight from its stacked layer directories, as overlayfs would show it, never
// following a symlink out of the image (an /etc/passwd pointing at the host's /etc/shadow reads as absent).
import * as fs from 'node:fs';
import * as path from 'node:path';

const MAX_LINKS = 40;  // as the kernel's path walk (path_resolution(7))

/** Is NAME in LAYER a whiteout (0:0 character device) — the canonical form lodger stores? */
function isWhiteout(st: fs.Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

function isOpaque(dir: string): boolean {
  try {
    const { native } = require('../helper/native') as typeof import('../helper/native');
    const v = native().lgetxattr(dir, 'user.overlay.opaque');
    return v !== null && v.toString() === 'y';
  } catch {
    return false;
  }
}

/**
 * Resolves image path P (absolute, inside the image) over LAYERS (top first) to a host path of a
 * regular file or directory, resolving symlinks inside the image's namespace. Undefined when absent.
 */
export function resolveInLayers(layers: string[], p: string, depth = 0): { host: string; stat: fs.Stats } | undefined {
  if (depth > MAX_LINKS) return undefined;
  const parts = p.split('/').filter((x) => x && x !== '.');
  const resolved: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (part === '..') { resolved.pop(); continue; }
    const rel = [...resolved, part].join('/');
    const hit = topmost(layers, rel);
    if (!hit) return undefined;
    if (hit.stat.isSymbolicLink()) {
      const target = fs.readlinkSync(hit.host);
      const base = target.startsWith('/') ? '' : resolved.join('/');
      const rest = parts.slice(i + 1).join('/');
      return resolveInLayers(layers, `/${base}/${target}/${rest}`, depth + 1);
    }
    resolved.push(part);
    if (i === parts.length - 1) return hit;
    if (!hit.stat.isDirectory()) return undefined;
  }
  return parts.length === 0 ? { host: layers[0], stat: fs.statSync(layers[0]) } : topmost(layers, resolved.join('/'));
}

/** The topmost layer entry for REL, honouring whiteouts and opaque directories on the way down. */
function topmost(layers: string[], rel: string): { host: string; stat: fs.Stats } | undefined {
  const comps = rel.split('/');
  for (const layer of layers) {
    // A whiteout or opaque dir at any ancestor in this layer hides everything below it.
    let hidden = false;
    for (let j = 1; j < comps.length && !hidden; j++) {
      const anc = path.join(layer, ...comps.slice(0, j));
      let st: fs.Stats | undefined;
      try { st = fs.lstatSync(anc); } catch { break; }
      if (isWhiteout(st) || !st.isDirectory()) hidden = true;
      else if (isOpaque(anc)) {
        const full = path.join(layer, rel);
        try { const s = fs.lstatSync(full); return isWhiteout(s) ? undefined : { host: full, stat: s }; } catch { return undefined; }
      }
    }
    if (hidden) return undefined;
    const full = path.join(layer, rel);
    let st: fs.Stats;
    try { st = fs.lstatSync(full); } catch { continue; }
    if (isWhiteout(st)) return undefined;
    return { host: full, stat: st };
  }
  return undefined;
}

/** Contents of image file P, or undefined when absent, not a regular file, or unreadable to us. */
export function readImageFile(layers: string[], p: string, maxBytes = 4 << 20): string | undefined {
  const hit = resolveInLayers(layers, p);
  if (!hit || !hit.stat.isFile() || hit.stat.size > maxBytes) return undefined;
  try {
    // O_NOFOLLOW: the resolved host path is a regular file in a layer; never let it become a link now.
    const fd = fs.openSync(hit.host, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try { return fs.readFileSync(fd, 'utf8'); } finally { fs.closeSync(fd); }
  } catch {
    return undefined;
  }
}
