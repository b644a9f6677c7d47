// `images` and `tag`: the images a user can run (theirs, then the shared stores' they lack), filtered as Docker filters them, and new names for one of them.
import { LodgerError } from '../errors';
import { addImage, findImage, imageConfig, qualifyLocalName, readIndex, readOnlyImages, type ImageRecord } from '../storage/images';
import type { StorePaths } from '../storage/paths';
import { formatReference, isShortName, parseReference } from './reference';

export const IMAGE_FILTERS = ['dangling', 'reference', 'label', 'before', 'since'] as const;

export interface ImageListOptions { filters?: string[] }

/** Docker's path.Match-style glob (`*` and `?` stop at `/`, `[…]` a class) as a whole-string RegExp. */
function globRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) throw new LodgerError('BAD_FILTER', `--filter reference=${glob}: unclosed [`);
      re += `[${glob.slice(i + 1, end).replace(/^\^/, '^').replace(/\\/g, '\\\\')}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** The short forms a name also goes by: docker.io/library/x:t is x:t, docker.io/u/x:t is u/x:t. */
function familiarForms(name: string): string[] {
  const out = [name];
  if (name.startsWith('docker.io/library/')) out.push(name.slice('docker.io/library/'.length));
  if (name.startsWith('docker.io/')) out.push(name.slice('docker.io/'.length));
  if (name.startsWith('localhost/')) out.push(name.slice('localhost/'.length));
  return out;
}

/** Whether NAME (repo:tag) matches reference=PATTERN: the pattern against the repository, or against repo:tag. */
function referenceMatches(pattern: RegExp, name: string): boolean {
  return familiarForms(name).some((n) => {
    const colon = n.lastIndexOf(':');
    const repo = colon > n.lastIndexOf('/') ? n.slice(0, colon) : n;
    return pattern.test(n) || pattern.test(repo);
  });
}

function parse(filters: string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const f of filters) {
    const i = f.indexOf('=');
    if (i <= 0) throw new LodgerError('BAD_FILTER', `--filter ${JSON.stringify(f)}: expected KEY=VALUE (keys: ${IMAGE_FILTERS.join(', ')})`);
    const k = f.slice(0, i);
    if (!(IMAGE_FILTERS as readonly string[]).includes(k)) throw new LodgerError('BAD_FILTER', `--filter ${JSON.stringify(f)}: unknown filter ${k} (use ${IMAGE_FILTERS.join(', ')})`);
    out.set(k, [...(out.get(k) ?? []), f.slice(i + 1)]);
  }
  return out;
}

/**
 * Ours, then those of the additional read-only stores that we do not have ourselves, newest first,
 * keeping those every filter key passes (values of one key are alternatives). A filtered-out image's
 * names are dropped only as a whole: reference= keeps an image and narrows its names to those matching.
 */
export function listImages(p: StorePaths, o: ImageListOptions = {}): ImageRecord[] {
  const f = parse(o.filters ?? []);
  const own = readIndex(p);
  const ids = new Set(own.map((i) => i.id));
  let images = [...own, ...readOnlyImages(p).filter((i) => !ids.has(i.id))].sort((a, b) => b.created.localeCompare(a.created));
  for (const d of f.get('dangling') ?? []) {
    if (d !== 'true' && d !== 'false') throw new LodgerError('BAD_FILTER', `--filter dangling=${d}: expected true or false`);
  }
  const dangling = f.get('dangling');
  if (dangling) images = images.filter((i) => dangling.includes(String(i.names.length === 0)));
  const refs = f.get('reference');
  if (refs) {
    const pats = refs.map(globRegExp);
    images = images
      .map((i) => ({ ...i, names: i.names.filter((n) => pats.some((r) => referenceMatches(r, n))) }))
      .filter((i) => i.names.length > 0);
  }
  const labels = f.get('label');
  if (labels) {
    images = images.filter((i) => {
      let have: Record<string, string>;
      try { have = imageConfig(p, i).config?.Labels ?? {}; } catch { return false; }
      return labels.some((l) => {
        const eq = l.indexOf('=');
        return eq < 0 ? l in have : have[l.slice(0, eq)] === l.slice(eq + 1);
      });
    });
  }
  for (const [k, keep] of [['before', (a: string, b: string) => a < b], ['since', (a: string, b: string) => a > b]] as const) {
    for (const ref of f.get(k) ?? []) {
      const at = findImage(p, ref);
      if (!at) throw new LodgerError('BAD_FILTER', `--filter ${k}=${ref}: no such image`);
      images = images.filter((i) => keep(i.created, at.created));
    }
  }
  return images;
}

/**
 * Gives image SOURCE the names TARGETS. A name without a registry stays local (localhost/…), as import
 * and load name them; one with a registry is normalised as push will use it.
 */
export async function tagImage(p: StorePaths, source: string, targets: string[]): Promise<ImageRecord> {
  const img = findImage(p, source);
  if (!img) throw new LodgerError('IMAGE_NOT_FOUND', `tag: no such image ${source}`, { operation: 'tag', object: source });
  const names = targets.map((t) => {
    if (isShortName(t)) return qualifyLocalName(t);
    const r = parseReference(t);
    return formatReference({ ...r, tag: r.tag ?? 'latest' });
  });
  return addImage(p, { ...img, names });
}
