// --userns=keep-id: the container's /etc/passwd and /etc/group — the image's plus the user's own entries — kept in the container's directory.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readImageFile } from '../image/layerLookup';
import type { KeepId } from '../helper/idmap';

/** Lines of TEXT (an /etc/passwd or /etc/group) without those whose name or numeric id (field 3) is NAME or ID. */
function withoutEntry(text: string | undefined, name: string, id: number): string[] {
  return (text ?? '').split('\n').filter((l) => {
    if (!l.trim()) return false;
    const f = l.split(':');
    return f[0] !== name && f[2] !== String(id);
  });
}

/**
 * Writes passwd and group into DIR: the image's files (read from LAYERS, top first, as overlayfs shows
 * them) with the user's own entries in place of any of the same name or id — so `id`, `ls -l` and
 * `whoami` inside name the user as the host does (podman's keep-id does the same, see
 * podman-run(1) --userns). The shell is /bin/sh: the host's login shell may not exist in the image.
 */
export function writeKeepIdEtc(dir: string, layers: string[], k: KeepId): void {
  const passwd = withoutEntry(readImageFile(layers, '/etc/passwd'), k.name, k.uid);
  passwd.push(`${k.name}:x:${k.uid}:${k.gid}:${k.name}:${k.home}:/bin/sh`);
  const group = withoutEntry(readImageFile(layers, '/etc/group'), k.group, k.gid);
  group.push(`${k.group}:x:${k.gid}:${k.name}`);
  fs.writeFileSync(path.join(dir, 'passwd'), passwd.join('\n') + '\n', { mode: 0o644 });
  fs.writeFileSync(path.join(dir, 'group'), group.join('\n') + '\n', { mode: 0o644 });
}

/** The generated files of a keep-id container, as [host path, container path], when it has them. */
export function keepIdEtcFiles(dir: string): Array<[string, string]> {
  return ['passwd', 'group'].map((f) => [path.join(dir, f), `/etc/${f}`] as [string, string]).filter(([h]) => fs.existsSync(h));
}

/** The text of the generated /etc/FILE of a keep-id container (what its processes see), or undefined. */
export function keepIdEtcText(dir: string, file: 'passwd' | 'group'): string | undefined {
  try { return fs.readFileSync(path.join(dir, file), 'utf8'); } catch { return undefined; }
}
