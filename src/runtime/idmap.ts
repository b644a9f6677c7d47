// User-namespace id maps: the caller's ranges from /etc/subuid and /etc/subgid (subuid(5)), turned into maps.
import * as fs from 'node:fs';
import * as os from 'node:os';

export interface IdRange { start: number; count: number }
export interface IdMapLine { inside: number; outside: number; count: number }

export interface IdMapping {
  /** helper: newuidmap/newgidmap write the maps; direct: we write /proc/PID/{uid,gid}_map ourselves. */
  mode: 'helper' | 'direct';
  uid: IdMapLine[];
  gid: IdMapLine[];
  /** setgroups(2) must be denied before an unprivileged process writes a gid map of itself only. */
  setgroupsDeny: boolean;
  /** Set when the user has no subordinate range: what to tell them, once. */
  warning?: string;
  user: string;
}

/** Parses /etc/subuid-style text and returns the ranges for NAME or UID (entries may use either). */
export function parseSubIdFile(text: string, name: string, id: number): IdRange[] {
  const out: IdRange[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [who, start, count] = line.split(':');
    if (who !== name && who !== String(id)) continue;
    const s = Number(start), c = Number(count);
    if (Number.isInteger(s) && Number.isInteger(c) && c > 0) out.push({ start: s, count: c });
  }
  return out;
}

function readRanges(file: string, name: string, id: number): IdRange[] {
  try {
    return parseSubIdFile(fs.readFileSync(file, 'utf8'), name, id);
  } catch {
    return [];
  }
}

/** Maps container 0 to HOSTID, then container 1… onto the ranges in order. */
export function buildMap(hostId: number, ranges: IdRange[]): IdMapLine[] {
  const lines: IdMapLine[] = [{ inside: 0, outside: hostId, count: 1 }];
  let next = 1;
  for (const r of ranges) {
    lines.push({ inside: next, outside: r.start, count: r.count });
    next += r.count;
  }
  return lines;
}

export interface IdMapOptions { userns?: string; subuidFile?: string; subgidFile?: string }

/** The mapping for the invoking user: identity for root, subordinate ranges when present, else single-id. */
export function idMappingForCaller(opts: IdMapOptions = {}): IdMapping {
  const uid = process.getuid!();
  const gid = process.getgid!();
  let user: string;
  try { user = os.userInfo().username; } catch { user = String(uid); }
  if (uid === 0) {
    // Real root: an identity map over the whole id space, so the container's ids are the host's.
    const all = [{ inside: 0, outside: 0, count: 4294967295 }];
    return { mode: 'direct', uid: all, gid: all, setgroupsDeny: false, user };
  }
  const single = (warning?: string): IdMapping => ({
    mode: 'direct',
    uid: [{ inside: 0, outside: uid, count: 1 }],
    gid: [{ inside: 0, outside: gid, count: 1 }],
    setgroupsDeny: true,
    warning,
    user,
  });
  if (opts.userns === 'single') return single();
  // LODGER_SUBUID_FILE/LODGER_SUBGID_FILE: where an admin (or a test) keeps the ranges elsewhere.
  const subuid = readRanges(opts.subuidFile ?? process.env.LODGER_SUBUID_FILE ?? '/etc/subuid', user, uid);
  const subgid = readRanges(opts.subgidFile ?? process.env.LODGER_SUBGID_FILE ?? '/etc/subgid', user, uid);
  if (subuid.length === 0 || subgid.length === 0) {
    const file = subuid.length === 0 ? '/etc/subuid' : '/etc/subgid';
    return single(
      `no entry for "${user}" in ${file}: the container gets a single id mapping (only root inside is you), ` +
        `so changing ownership to other users or groups inside it will fail — ask an admin to add a range ` +
        `(usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${user}), or pass --userns=single to silence this`,
    );
  }
  return { mode: 'helper', uid: buildMap(uid, subuid), gid: buildMap(gid, subgid), setgroupsDeny: false, user };
}

/** Host id that container id ID maps to under LINES, or undefined when unmapped. */
export function hostIdFor(lines: IdMapLine[], id: number): number | undefined {
  for (const l of lines) if (id >= l.inside && id < l.inside + l.count) return l.outside + (id - l.inside);
  return undefined;
}

/** Number of container ids the mapping covers (65537 for a typical range, 1 for single). */
export function mappedCount(lines: IdMapLine[]): number {
  return lines.reduce((n, l) => n + l.count, 0);
}
