// --platform and FROM --platform for a build: only this machine's own platform is built (lodger runs RUN natively, with no emulator).
import { formatPlatform, hostPlatform, parsePlatform } from '../image/platform';
import { BuildError } from './errors';

/**
 * Checks that SPEC (one platform, or a comma-separated list as `docker buildx build` takes) names this
 * machine's OS and architecture. Another one would need an emulator (binfmt_misc + qemu-user) to run
 * its RUN steps, which lodger does not provide: it is refused rather than built wrong.
 */
export function checkBuildPlatform(spec: string, where: string): void {
  const host = hostPlatform();
  for (const one of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    let want;
    try {
      want = parsePlatform(one);
    } catch (e) {
      throw new BuildError('BUILD_SYNTAX', `${where}: ${(e as Error).message}`);
    }
    const sameVariant = !want.variant || want.variant === host.variant;
    if (want.os !== host.os || want.architecture !== host.architecture || !sameVariant) {
      throw new BuildError('BUILD_UNSUPPORTED', `${where} ${one}: lodger builds only for this machine's platform (${formatPlatform(host)}); it does not emulate other architectures or operating systems — build on a ${formatPlatform(want)} machine, or drop --platform`);
    }
  }
}
