// ADD of a remote URL: fetched with the registry client's HTTP code (pooled agents, TLS settings, timeouts) into a private file.
//
// As Docker does: the file is named after the URL's last path segment, gets mode 0600 and the
// Last-Modified time when the server sends one, and is never unpacked even when it is an archive.
// It is fetched on every build; the cache key is its content, so an unchanged file still hits.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { describeNetworkError, drain, send } from '../image/registry/http';
import { BuildError } from './errors';

const MAX_REDIRECTS = 10;

/** Downloads URL into DIR; returns the file's path. */
export async function fetchRemote(url: string, dir: string): Promise<string> {
  let u: URL;
  try { u = new URL(url); } catch { throw new BuildError('BUILD_FETCH', `ADD ${url}: not a valid URL`); }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new BuildError('BUILD_FETCH', `ADD ${url}: only http and https URLs can be added`);
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    let res;
    try {
      res = await send({ method: 'GET', url: u, headers: { 'User-Agent': 'lodger' }, tls: { rejectUnauthorized: true }, timeoutMs: 60_000 });
    } catch (e) {
      throw new BuildError('BUILD_FETCH', `ADD ${url}: ${describeNetworkError(e)}`);
    }
    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400 && res.headers.location) {
      await drain(res);
      u = new URL(res.headers.location, u);
      continue;
    }
    if (status !== 200) {
      await drain(res);
      throw new BuildError('BUILD_FETCH', `ADD ${url}: the server answered ${status} ${res.statusMessage ?? ''}`.trim());
    }
    const name = decodeURIComponent(path.posix.basename(u.pathname)) || 'download';
    const file = path.join(dir, name.replace(/\//g, '_'));
    await pipeline(res, fs.createWriteStream(file, { mode: 0o600 }));
    const modified = res.headers['last-modified'] ? new Date(res.headers['last-modified']) : undefined;
    if (modified && !Number.isNaN(modified.getTime())) fs.utimesSync(file, modified, modified);
    return file;
  }
  throw new BuildError('BUILD_FETCH', `ADD ${url}: more than ${MAX_REDIRECTS} redirects`);
}
