// `logs`: reads the monitor's json-file log (one {"log","stream","time"} per line), with --tail, --since, -t and -f.
import * as fs from 'node:fs';
import { LodgerError } from '../errors';
import { liveState, readState } from '../storage/containers';
import type { StorePaths } from '../storage/paths';
import { logPath } from './detach';

export interface LogOptions { follow: boolean; tail?: number; since?: string; timestamps: boolean }
interface Line { log: string; stream: 'stdout' | 'stderr'; time: string }

/** --since: an RFC 3339 time, a Unix timestamp, or a duration before now (10m, 1h30m, 45s). */
export function parseSince(s: string, now = Date.now()): number {
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  const d = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$/.exec(s);
  if (d && (d[1] || d[2] || d[3])) return now - ((Number(d[1] ?? 0) * 60 + Number(d[2] ?? 0)) * 60 + Number(d[3] ?? 0)) * 1000;
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new LodgerError('BAD_SINCE', `--since ${s}: give a time (2026-01-02T15:04:05Z), a Unix timestamp or a duration (10m)`);
  return t;
}

export async function streamLogs(p: StorePaths, id: string, o: LogOptions, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<void> {
  const file = logPath(p, id);
  const since = o.since ? parseSince(o.since) : 0;
  const emit = (l: Line) => {
    if (since && Date.parse(l.time) < since) return;
    (l.stream === 'stderr' ? err : out).write(o.timestamps ? `${l.time} ${l.log}` : l.log);
  };
  const parse = (text: string): Line[] => text.split('\n').filter(Boolean).flatMap((s) => { try { return [JSON.parse(s) as Line]; } catch { return []; } });
  let offset = 0;
  let text = '';
  try { text = fs.readFileSync(file, 'utf8'); } catch { /* no output yet */ }
  offset = Buffer.byteLength(text);
  let lines = parse(text);
  if (o.tail !== undefined && o.tail >= 0) lines = lines.slice(Math.max(0, lines.length - o.tail));
  lines.forEach(emit);
  if (!o.follow) return;
  let partial = '';
  for (;;) {
    const running = liveState(readState(p, id)).Running;
    let st: fs.Stats | undefined;
    try { st = fs.statSync(file); } catch { /* not yet */ }
    // Rotated or truncated by the monitor (--log-opt max-size): follow the new file from its start.
    if (st && st.size < offset) { offset = 0; partial = ''; }
    if (st && st.size > offset) {
      const fd = fs.openSync(file, 'r');
      const buf = Buffer.alloc(st.size - offset);
      fs.readSync(fd, buf, 0, buf.length, offset);
      fs.closeSync(fd);
      offset = st.size;
      const chunk = partial + buf.toString('utf8');
      const cut = chunk.lastIndexOf('\n');
      partial = chunk.slice(cut + 1);
      parse(chunk.slice(0, cut + 1)).forEach(emit);
      continue;
    }
    if (!running) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}
