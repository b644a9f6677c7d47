// `rename`: a container's name changes under the store lock, so two renames (or a create) can never end with one name twice.
import * as path from 'node:path';
import { LodgerError } from '../errors';
import { writeJsonAtomic } from '../storage/atomic';
import { containerDir, listContainerIds, readContainer, resolveContainer } from '../storage/containers';
import { withStoreLock } from '../storage/lock';
import type { StorePaths } from '../storage/paths';

export async function renameContainer(p: StorePaths, ref: string, newName: string): Promise<void> {
  const name = newName.replace(/^\//, '');
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) {
    throw new LodgerError('BAD_NAME', `rename: invalid container name ${JSON.stringify(newName)}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  }
  await withStoreLock(p, () => {
    // Resolved inside the lock: the name or prefix must mean the same container when we write.
    const id = resolveContainer(p, ref);
    const rec = readContainer(p, id);
    if (!rec) throw new LodgerError('NO_SUCH_CONTAINER', `no such container: ${ref}`);
    if (rec.Name === name) throw new LodgerError('RENAME_SAME', `rename: container ${ref} is already named "${name}" — give a different name`);
    const holder = listContainerIds(p).find((other) => other !== id && readContainer(p, other)?.Name === name);
    if (holder) throw new LodgerError('NAME_IN_USE', `rename: the container name "${name}" is already in use by container ${holder.slice(0, 12)} — remove or rename that container first, or choose another name`);
    rec.Name = name;
    writeJsonAtomic(path.join(containerDir(p, id), 'container.json'), rec);
  });
}
