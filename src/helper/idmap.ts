// User-namespace id maps: the caller's ranges from /etc/subuid and /etc/subgid (subuid(5)), turned into maps (default, single, keep-id).
import * as fs from 'node:fs';
import * as os from 'node:os';
import { LodgerError } from '../errors';

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
  /** --userns=keep-id: who the user is inside, and the default maps the store's files were written with. */
  keepId?: KeepId;
}

export interface KeepId {
  uid: number;
  gid: number;
  name: string;
  group: string;
  home: string;
  /** The default mapping (container 0 = the user): layers on disk are owned by what it maps ids to. */
  storage: { uid: IdMapLine[]; gid: IdMapLine[] };
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

/**
 * podman's --userns=keep-id shape: container id INSIDEID (the user's own uid) maps to HOSTID, and the
 * subordinate ids fill container ids 0, 1, … skipping INSIDEID — so 0..U-1 and U+1.. are subordinate
 * ids. With fewer subordinate ids than U the ids between them and U stay unmapped.
 */
export function buildKeepIdMap(hostId: number, ranges: IdRange[], insideId: number): IdMapLine[] {
  const lines: IdMapLine[] = [];
  let next = 0;
  for (const r of ranges) {
    let start = r.start;
    let count = r.count;
    while (count > 0) {
      if (next === insideId) next++;
      const n = next < insideId ? Math.min(count, insideId - next) : count;
      lines.push({ inside: next, outside: start, count: n });
      next += n; start += n; count -= n;
    }
  }
  lines.push({ inside: insideId, outside: hostId, count: 1 });
  return lines.sort((a, b) => a.inside - b.inside);
}

/**
 * How ids translate between two maps of the same host ids: for each host id both map, a line whose
 * `inside` is the id in the RUNTIME namespace and `outside` the id in the STORAGE namespace. Under
 * keep-id, a layer file owned by storage id N (host id H) is seen by fuse-overlayfs — which runs in the
 * container's namespace — as runtime id K; the translation says K ↔ N.
 */
export function translateIds(storage: IdMapLine[], runtime: IdMapLine[]): IdMapLine[] {
  const out: IdMapLine[] = [];
  for (const s of storage) {
    for (const r of runtime) {
      const lo = Math.max(s.outside, r.outside);
      const hi = Math.min(s.outside + s.count, r.outside + r.count);
      if (lo < hi) out.push({ inside: r.inside + (lo - r.outside), outside: s.inside + (lo - s.outside), count: hi - lo });
    }
  }
  return out.sort((a, b) => a.inside - b.inside);
}

/**
 * fuse-overlayfs options that undo keep-id's shift for the image's layers, or '' for other mappings.
 * fuse-overlayfs(1): `uidmapping=UID:MAPPED-UID:LEN[:…]` — UID is the id a file has on disk as the
 * fuse-overlayfs process sees it (here: the container's namespace, runtime id K), MAPPED-UID the id
 * the mount shows for it (the storage id N the layer was written with). Files it creates in the upper
 * layer are chowned through the same map backwards, so the upper layer stays in the store's default
 * ownership too (commit and other mappings read it unchanged). Verified on fuse-overlayfs 1.10.
 */
export function fuseIdMapOptions(m: IdMapping): string {
  if (!m.keepId) return '';
  const fmt = (lines: IdMapLine[]) => lines.map((l) => `${l.inside}:${l.outside}:${l.count}`).join(':');
  return `uidmapping=${fmt(translateIds(m.keepId.storage.uid, m.uid))},gidmapping=${fmt(translateIds(m.keepId.storage.gid, m.gid))}`;
}

/** The name of group GID from /etc/group (NSS-only groups fall back to the user's name). */
function groupName(gid: number, fallback: string): string {
  try {
    for (const line of fs.readFileSync('/etc/group', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f.length >= 3 && f[2] === String(gid) && f[0]) return f[0];
    }
  } catch { /* no /etc/group */ }
  return fallback;
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
    if (opts.userns === 'keep-id') {
      throw new LodgerError('KEEP_ID_NO_SUBIDS',
        `--userns=keep-id: no entry for "${user}" in ${file} — keep-id maps your own id to yours inside, so root in the ` +
          `container (which mounts its filesystems) and the image's other users need subordinate ids; ask an admin ` +
          `for a range (usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${user}), or run without ` +
          `--userns=keep-id (you are then root inside, and files you create in bind mounts are still yours)`);
    }
    return single(
      `no entry for "${user}" in ${file}: the container gets a single id mapping (only root inside is you), ` +
        `so changing ownership to other users or groups inside it will fail — ask an admin to add a range ` +
        `(usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${user}), or pass --userns=single to silence this`,
    );
  }
  const storage = { uid: buildMap(uid, subuid), gid: buildMap(gid, subgid) };
  if (opts.userns === 'keep-id') {
    let home = '/';
    try { home = os.userInfo().homedir || '/'; } catch { /* no passwd entry */ }
    return {
      mode: 'helper', uid: buildKeepIdMap(uid, subuid, uid), gid: buildKeepIdMap(gid, subgid, gid), setgroupsDeny: false, user,
      keepId: { uid, gid, name: user, group: groupName(gid, user), home, storage },
    };
  }
  return { mode: 'helper', uid: storage.uid, gid: storage.gid, setgroupsDeny: false, user };
}

/** Host id that container id ID maps to under LINES, or undefined when unmapped. */
export function hostIdFor(lines: IdMapLine[], id: number): number | undefined {
  for (const l of lines) if (id >= l.inside && id < l.inside + l.count) return l.outside + (id - l.inside);
  return undefined;
}

/** Whether host id HOST has a container id under LINES (a file it owns shows as that id, not as nobody). */
export function mapsHostId(lines: IdMapLine[], host: number): boolean {
  return lines.some((l) => host >= l.outside && host < l.outside + l.count);
}

/** Number of container ids the mapping covers (65537 for a typical range, 1 for single). */
export function mappedCount(lines: IdMapLine[]): number {
  return lines.reduce((n, l) => n + l.count, 0);
}

/**
 * Refuses, before anything starts, a container user the mapping cannot represent: setuid(2) to an id
 * with no mapping fails with EINVAL (user_namespaces(7)). Names the range that is missing and whose.
 */
export function checkUserMapped(m: IdMapping, uid: number, gid: number, groups: number[] = []): void {
  const missing = (kind: 'uid' | 'gid', id: number) => {
    const file = kind === 'uid' ? process.env.LODGER_SUBUID_FILE || '/etc/subuid' : process.env.LODGER_SUBGID_FILE || '/etc/subgid';
    const have = m.setgroupsDeny ? 'a single-id mapping (only root, 0, exists inside)' : `${mappedCount(kind === 'uid' ? m.uid : m.gid)} mapped ${kind}s`;
    return new LodgerError('USER_NOT_MAPPED',
      `run as ${kind} ${id}: the container's user namespace has ${have}, so ${kind} ${id} has no host id — ` +
        `${m.setgroupsDeny ? `there is no range for "${m.user}" in ${file}` : `the range for "${m.user}" in ${file} is too small`}; ` +
        `ask an admin for one (usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${m.user}), or run as root inside (-u 0)`);
  };
  if (hostIdFor(m.uid, uid) === undefined) throw missing('uid', uid);
  // With setgroups denied (single mapping) supplementary groups are not set at all, so only GID counts.
  for (const g of m.setgroupsDeny ? [gid] : [gid, ...groups]) if (hostIdFor(m.gid, g) === undefined) throw missing('gid', g);
}
