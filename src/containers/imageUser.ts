// Resolves `-u`/the image's User to uid, gid and supplementary groups from the image's /etc/passwd and /etc/group.
import { LodgerError } from '../errors';

export interface ResolvedUser { uid: number; gid: number; groups: number[]; home: string; name?: string }

interface PasswdEntry { name: string; uid: number; gid: number; home: string }
interface GroupEntry { name: string; gid: number; members: string[] }

export function parsePasswd(text: string | undefined): PasswdEntry[] {
  if (!text) return [];
  return text.split('\n').map((l) => l.split(':')).filter((f) => f.length >= 7 && /^\d+$/.test(f[2]) && /^\d+$/.test(f[3]))
    .map((f) => ({ name: f[0], uid: Number(f[2]), gid: Number(f[3]), home: f[5] }));
}

export function parseGroup(text: string | undefined): GroupEntry[] {
  if (!text) return [];
  return text.split('\n').map((l) => l.split(':')).filter((f) => f.length >= 4 && /^\d+$/.test(f[2]))
    .map((f) => ({ name: f[0], gid: Number(f[2]), members: f[3] ? f[3].split(',').filter(Boolean) : [] }));
}

/**
 * Docker's rules: "user", "uid", "user:group", "uid:gid"; a name must exist in the image's passwd
 * (a number need not); the primary gid comes from passwd unless given; supplementary groups are
 * the groups listing the user by name.
 */
export function resolveUser(spec: string, passwdText: string | undefined, groupText: string | undefined): ResolvedUser {
  const passwd = parsePasswd(passwdText);
  const groups = parseGroup(groupText);
  const [userPart, groupPart] = (spec || '0').split(':', 2);
  let entry: PasswdEntry | undefined;
  let uid: number;
  if (/^\d+$/.test(userPart)) {
    uid = Number(userPart);
    entry = passwd.find((e) => e.uid === uid);
  } else {
    entry = passwd.find((e) => e.name === userPart);
    if (!entry) throw new LodgerError('NO_SUCH_USER', `user "${userPart}" is not in the image's /etc/passwd — use a numeric uid (-u 1000) or an existing user`);
    uid = entry.uid;
  }
  let gid = entry?.gid ?? 0;
  if (groupPart !== undefined && groupPart !== '') {
    if (/^\d+$/.test(groupPart)) gid = Number(groupPart);
    else {
      const g = groups.find((x) => x.name === groupPart);
      if (!g) throw new LodgerError('NO_SUCH_GROUP', `group "${groupPart}" is not in the image's /etc/group — use a numeric gid or an existing group`);
      gid = g.gid;
    }
  }
  const supplementary = entry ? groups.filter((g) => g.members.includes(entry!.name)).map((g) => g.gid) : [];
  return { uid, gid, groups: [...new Set([gid, ...supplementary])], home: entry?.home || '/', name: entry?.name };
}
