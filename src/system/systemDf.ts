// `system df`: how much space images, containers and layers take in the store, and how much removing unused ones would free.
import { liveState, type ContainerRecord, type ContainerState } from '../storage/containers';
import { readIndex, type ImageRecord } from '../storage/images';
import { listLayers } from '../storage/layers';
import type { StorePaths } from '../storage/paths';
import { containerEntries } from '../storage/containers';
import { writableLayerSizes } from '../containers/prune';
import { allVolumes, volumeSizes, volumeUsers } from '../volumes/volumes';

export interface DfImage { id: string; names: string[]; created: string; size: number; sharedSize: number; uniqueSize: number; containers: number }
export interface DfContainer { id: string; name: string; image: string; command: string; created: string; state: ContainerState; running: boolean; size: number }
export interface DfLayer { diffId: string; size: number; images: number; containers: number }
export interface DfSummary { Type: string; TotalCount: number; Active: number; Size: number; Reclaimable: number }
export interface DfVolume { name: string; links: number; size: number }
export interface DfReport { images: DfImage[]; containers: DfContainer[]; layers: DfLayer[]; volumes: DfVolume[]; summary: DfSummary[] }

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

export async function diskUsage(p: StorePaths): Promise<DfReport> {
  const images: ImageRecord[] = readIndex(p);
  const entries = containerEntries(p);
  const recs: ContainerRecord[] = entries.map((e) => e.rec);
  const layerSize = new Map(listLayers(p).map((l) => [l.diffId, l.size]));
  const imagesOf = new Map<string, number>();
  const containersOf = new Map<string, number>();
  for (const img of images) for (const l of new Set(img.layers)) imagesOf.set(l, (imagesOf.get(l) ?? 0) + 1);
  for (const r of recs) for (const l of new Set(r.Layers)) containersOf.set(l, (containersOf.get(l) ?? 0) + 1);

  const dfImages = images.map((img): DfImage => {
    const own = [...new Set(img.layers)];
    const size = sum(own.map((l) => layerSize.get(l) ?? 0));
    const sharedSize = sum(own.filter((l) => (imagesOf.get(l) ?? 0) > 1).map((l) => layerSize.get(l) ?? 0));
    return { id: img.id, names: img.names, created: img.created, size, sharedSize, uniqueSize: size - sharedSize, containers: recs.filter((r) => r.ImageID === img.id).length };
  });
  const sizes = await writableLayerSizes(p, recs);
  const dfContainers = entries.map(({ rec, state }, i): DfContainer => ({
    id: rec.Id, name: rec.Name, image: rec.Image, command: [...(rec.Config.Entrypoint ?? []), ...(rec.Config.Cmd ?? [])].join(' '),
    created: rec.Created, state: liveState(state), running: state.Running, size: sizes[i] ?? 0,
  }));
  const dfLayers = [...layerSize].map(([diffId, size]) => ({ diffId, size, images: imagesOf.get(diffId) ?? 0, containers: containersOf.get(diffId) ?? 0 }));

  // Volumes: how many containers mount each (Docker's "LINKS") and their files' size.
  const vols = allVolumes(p);
  const users = volumeUsers(p);
  const vSizes = await volumeSizes(p, vols.map((v) => v.Name));
  const dfVolumes = vols.map((v, i): DfVolume => ({ name: v.Name, links: users.get(v.Name)?.length ?? 0, size: vSizes[i] ?? 0 }));

  // What removing every unused image would free: the layers no used image and no container holds.
  const activeImages = new Set(dfImages.filter((i) => i.containers > 0).map((i) => i.id));
  const kept = new Set<string>([...images.filter((i) => activeImages.has(i.id)).flatMap((i) => i.layers), ...recs.flatMap((r) => r.Layers)]);
  const imageLayers = new Set(images.flatMap((i) => i.layers));
  const imagesSize = sum([...imageLayers].map((l) => layerSize.get(l) ?? 0));
  const imagesReclaimable = sum([...imageLayers].filter((l) => !kept.has(l)).map((l) => layerSize.get(l) ?? 0));
  const summary: DfSummary[] = [
    { Type: 'Images', TotalCount: images.length, Active: activeImages.size, Size: imagesSize, Reclaimable: imagesReclaimable },
    { Type: 'Containers', TotalCount: recs.length, Active: dfContainers.filter((c) => c.running).length, Size: sum(dfContainers.map((c) => c.size)), Reclaimable: sum(dfContainers.filter((c) => !c.running).map((c) => c.size)) },
    { Type: 'Layers', TotalCount: dfLayers.length, Active: dfLayers.filter((l) => l.containers > 0).length, Size: sum(dfLayers.map((l) => l.size)), Reclaimable: sum(dfLayers.filter((l) => l.images === 0 && l.containers === 0).map((l) => l.size)) },
    { Type: 'Local Volumes', TotalCount: dfVolumes.length, Active: dfVolumes.filter((v) => v.links > 0).length, Size: sum(dfVolumes.map((v) => v.size)), Reclaimable: sum(dfVolumes.filter((v) => v.links === 0).map((v) => v.size)) },
    // lodger has no build cache; the row keeps Docker's shape for scripts that read it.
    { Type: 'Build Cache', TotalCount: 0, Active: 0, Size: 0, Reclaimable: 0 },
  ];
  return { images: dfImages, containers: dfContainers, layers: dfLayers, volumes: dfVolumes, summary };
}
