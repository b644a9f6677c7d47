// The image `run`/`create` will use: pulled when missing (or --pull=always), and pulled again when --platform asks for another platform than the local one's.
import { LodgerError } from '../errors';
import type { Reporter } from '../events';
import { formatPlatform, normalizePlatform, parsePlatform, type Platform } from '../image/platform';
import { isSquashfsRef } from '../image/squashfsImage';
import { findImage, imageConfig, type ImageRecord } from '../storage/images';
import type { StorePaths } from '../storage/paths';
import type { CreateOptions } from './options';

/** The platform an image in the store is for (its config's os/architecture/variant). */
export function imagePlatform(p: StorePaths, img: ImageRecord): Platform {
  const cfg = imageConfig(p, img);
  return normalizePlatform({ os: cfg.os || 'linux', architecture: cfg.architecture || 'amd64', variant: cfg.variant });
}

function samePlatform(a: Platform, b: Platform): boolean {
  return formatPlatform(normalizePlatform(a)) === formatPlatform(normalizePlatform(b));
}

/**
 * Makes sure O's image is in the store for the platform asked. As `pull --platform` does, a local image
 * of another platform is replaced by the requested one (the name then points at it): Docker's classic
 * store behaves so, and running the wrong architecture silently is the worse surprise.
 */
export async function ensureRunImage(p: StorePaths, o: Pick<CreateOptions, 'image' | 'pull' | 'platform'>, report?: Reporter): Promise<void> {
  // A squashfs file given by its path is never pulled (squashfsImage.ts).
  if (isSquashfsRef(o.image)) return;
  const want = o.platform ? parsePlatform(o.platform) : undefined;
  const local = findImage(p, o.image);
  const other = local && want && !samePlatform(imagePlatform(p, local), want) ? imagePlatform(p, local) : undefined;
  if (o.pull === 'never') {
    if (other) throw new LodgerError('PLATFORM_MISMATCH', `image ${o.image} is here for ${formatPlatform(other)}, not ${formatPlatform(want!)}, and --pull=never was given — pull it ("lodger pull --platform ${formatPlatform(want!)} ${o.image}")`);
    return;
  }
  if (o.pull === 'always' || !local || other) {
    const { ensureImage } = await import('../image/pull');
    await ensureImage(p, o.image, 'always', { platform: o.platform, report });
  }
}
