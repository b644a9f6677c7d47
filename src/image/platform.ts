// Platforms (os/arch/variant): the host's in OCI names, parsing --platform, and choosing an image from a manifest list or OCI index.
//
// Names follow the OCI image index spec (image-index.md, "platform"), which uses Go's GOOS/GOARCH
// values; variants for ARM follow the same document (v6, v7, v8).
import * as os from 'node:os';
import { LodgerError } from '../errors';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** Node's process.arch → GOARCH. ppc64 is little-endian on every Linux Node supports (ppc64le). */
const NODE_ARCH: Record<string, string> = {
  x64: 'amd64', ia32: '386', arm: 'arm', arm64: 'arm64', ppc64: 'ppc64le', s390x: 's390x',
  riscv64: 'riscv64', loong64: 'loong64', mips: 'mips', mipsel: 'mipsle', mips64el: 'mips64le',
};

/** Aliases people type (uname -m, Debian arch names) → GOARCH, with the variant they imply. */
const ARCH_ALIASES: Record<string, { architecture: string; variant?: string }> = {
  x86_64: { architecture: 'amd64' }, 'x86-64': { architecture: 'amd64' }, i386: { architecture: '386' }, i686: { architecture: '386' },
  aarch64: { architecture: 'arm64' }, armhf: { architecture: 'arm', variant: 'v7' }, armel: { architecture: 'arm', variant: 'v6' },
  armv7l: { architecture: 'arm', variant: 'v7' }, armv6l: { architecture: 'arm', variant: 'v6' }, ppc64el: { architecture: 'ppc64le' },
};

/** Normalises architecture and variant so equal platforms compare equal (arm64's default variant is v8). */
export function normalizePlatform(p: Platform): Platform {
  const os_ = p.os.toLowerCase();
  let architecture = p.architecture.toLowerCase();
  let variant = p.variant ? p.variant.toLowerCase() : undefined;
  const alias = ARCH_ALIASES[architecture];
  if (alias) { architecture = alias.architecture; variant = variant ?? alias.variant; }
  if (variant && /^[0-9]+$/.test(variant)) variant = `v${variant}`;
  if (architecture === 'arm64' && (variant === 'v8' || variant === '8')) variant = undefined;
  return variant ? { os: os_, architecture, variant } : { os: os_, architecture };
}

/** The platform this process runs on, e.g. linux/amd64 or linux/arm/v7. */
export function hostPlatform(): Platform {
  const architecture = NODE_ARCH[process.arch] ?? process.arch;
  let variant: string | undefined;
  if (architecture === 'arm') {
    const v = (process.config.variables as Record<string, unknown>).arm_version;
    variant = v ? `v${v}` : 'v7';
  }
  return normalizePlatform({ os: os.platform() === 'win32' ? 'windows' : os.platform(), architecture, variant });
}

/** Parses `os/arch[/variant]` as given to --platform. */
export function parsePlatform(s: string): Platform {
  const parts = s.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((x) => !/^[A-Za-z0-9_.-]+$/.test(x))) {
    throw new LodgerError('PLATFORM_INVALID', `parse platform ${JSON.stringify(s)}: expected os/arch or os/arch/variant, e.g. linux/amd64 or linux/arm/v7`);
  }
  return normalizePlatform({ os: parts[0], architecture: parts[1], variant: parts[2] });
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/**
 * The variants `want` can run, best first: the exact one, then older ARM revisions (v7 runs v6
 * and v5 binaries), then an entry that names no variant.
 */
function acceptableVariants(want: Platform): (string | undefined)[] {
  const out: (string | undefined)[] = [want.variant];
  if (want.architecture === 'arm' && want.variant) {
    const n = parseInt(want.variant.slice(1), 10);
    for (let v = n - 1; v >= 5; v--) out.push(`v${v}`);
  }
  if (want.variant !== undefined) out.push(undefined);
  return out;
}

export interface PlatformCandidate {
  platform?: Partial<Platform> & Record<string, unknown>;
}

/**
 * Picks the entry of a manifest list / index that runs on `want`. An entry without a platform
 * (e.g. a buildkit attestation or an artifact) never matches. When `want` has no variant, any
 * variant of the right os/arch matches. Returns the index into `entries`, or -1.
 */
export function choosePlatformIndex(entries: readonly PlatformCandidate[], wantIn: Platform): number {
  const want = normalizePlatform(wantIn);
  const norm = entries.map((e) => {
    const p = e.platform;
    if (!p || typeof p.os !== 'string' || typeof p.architecture !== 'string') return undefined;
    return normalizePlatform({ os: p.os, architecture: p.architecture, variant: typeof p.variant === 'string' ? p.variant : undefined });
  });
  const sameArch = (p: Platform | undefined): p is Platform => !!p && p.os === want.os && p.architecture === want.architecture;
  if (want.variant === undefined) return norm.findIndex(sameArch);
  for (const variant of acceptableVariants(want)) {
    const i = norm.findIndex((p) => sameArch(p) && p.variant === variant);
    if (i >= 0) return i;
  }
  return -1;
}

/** Human list of the platforms an index offers, for "no match" messages. */
export function describePlatforms(entries: readonly PlatformCandidate[]): string {
  const names = entries
    .map((e) => e.platform)
    .filter((p): p is Partial<Platform> => !!p && typeof p.os === 'string' && typeof p.architecture === 'string' && p.os !== 'unknown')
    .map((p) => formatPlatform(normalizePlatform(p as Platform)));
  return names.length ? [...new Set(names)].join(', ') : 'none';
}
