// The images of a store as tests look at them: `images -q --no-trunc`, then `image inspect` of each.
import { runLodgerOk, type LodgerOptions } from './cli';

export interface ImageDoc {
  Id: string;
  /** RepoTags, under the name older tests used. */
  Names: string[];
  RepoTags: string[];
  RepoDigests: string[];
  Digest: string;
  Size: number;
  Layers: string[];
  Created: string;
}

/** Every image, newest first, one entry per image (not per name as the `images` table). */
export async function imageDocs(opts: LodgerOptions): Promise<ImageDoc[]> {
  const ids = (await runLodgerOk(['images', '-q', '--no-trunc'], opts)).stdout.split('\n').filter(Boolean);
  if (!ids.length) return [];
  const docs = JSON.parse((await runLodgerOk(['image', 'inspect', ...ids], opts)).stdout) as Array<Record<string, any>>;
  return docs.map((d) => ({
    Id: d.Id, Names: d.RepoTags, RepoTags: d.RepoTags, RepoDigests: d.RepoDigests, Digest: d.Digest, Size: d.Size, Layers: d.RootFS.Layers, Created: d.Created,
  }));
}
