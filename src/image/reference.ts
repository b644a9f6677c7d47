// Image references: parsing with Docker's normalisation (alpine → docker.io/library/alpine:latest), formatting, and the familiar short form for display.
//
// Grammar from distribution's reference package (reference/regexp.go, reference/normalize.go):
//   reference := name [ ":" tag ] [ "@" digest ]
//   name      := [domain "/"] path-component ("/" path-component)*
//   the first component is a domain only if it contains "." or ":", is "localhost", or has an
//   upper-case letter (a path component never does); otherwise the domain is docker.io, and a
//   one-component docker.io path gets "library/" in front.
// Digests are held to digest.ts's strict rule (sha256/sha512, lowercase hex) rather than the
// grammar's looser one, because the reference's digest ends up in URLs and store paths.
import { LodgerError, EXIT_LODGER_FAILED } from '../errors';
import { isValidDigest } from '../oci/digest';

export const DEFAULT_DOMAIN = 'docker.io';
export const DEFAULT_TAG = 'latest';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_REPO_PREFIX = 'library/';

/** A fully-qualified image reference. At least one of tag and digest is set. */
export interface Reference {
  /** Registry host with optional port, e.g. `docker.io`, `localhost:5000`, `[::1]:5000`. */
  readonly domain: string;
  /** Repository path inside the registry, e.g. `library/alpine`. */
  readonly path: string;
  readonly tag?: string;
  readonly digest?: string;
}

/** What the user typed, split but not completed: `domain` is absent for a short name. */
export interface ReferenceParts {
  domain?: string;
  path: string;
  tag?: string;
  digest?: string;
}

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN = /^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const NAME_MAX = 255;

function invalid(input: string, why: string): LodgerError {
  return new LodgerError('REFERENCE_INVALID', `parse image reference ${JSON.stringify(input)}: ${why}`, EXIT_LODGER_FAILED);
}

/**
 * Splits `input` into its parts, validating each, without applying any default. With
 * `knownDomain`, `input` is taken as `path[:tag][@digest]` on that registry (no domain detection):
 * used when registries.conf rewrites a prefix to a location.
 */
export function parseReferenceParts(input: string, knownDomain?: string): ReferenceParts {
  if (input === '') throw invalid(input, 'empty reference — give an image name such as alpine or registry.example.com/team/app:1.0');
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isValidDigest(digest)) {
      throw invalid(input, `bad digest ${JSON.stringify(digest)} — a digest is sha256:<64 lowercase hex digits> or sha512:<128 lowercase hex digits>`);
    }
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw invalid(input, `bad tag ${JSON.stringify(tag)} — a tag is up to 128 letters, digits, "_", "." and "-", not starting with "." or "-"`);
  }
  if (rest === '') throw invalid(input, 'missing repository name');
  if (rest.length > NAME_MAX) throw invalid(input, `repository name longer than ${NAME_MAX} characters`);

  let domain: string | undefined = knownDomain;
  let path = rest;
  if (domain !== undefined && !DOMAIN.test(domain)) throw invalid(input, `bad registry host ${JSON.stringify(domain)}`);
  const slash = rest.indexOf('/');
  if (domain === undefined && slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase()) {
      domain = first;
      path = rest.slice(slash + 1);
      if (!DOMAIN.test(domain)) throw invalid(input, `bad registry host ${JSON.stringify(domain)}`);
    }
  }
  for (const component of path.split('/')) {
    if (component === '') throw invalid(input, 'empty path component (doubled or trailing "/")');
    if (!PATH_COMPONENT.test(component)) {
      if (component !== component.toLowerCase()) throw invalid(input, 'repository name must be lowercase');
      throw invalid(input, `bad path component ${JSON.stringify(component)} — use lowercase letters, digits and single separators ".", "_", "__" or "-"`);
    }
  }
  // Docker refuses a bare 64-hex name: it would be ambiguous with an image ID.
  if (!domain && /^[a-f0-9]{64}$/.test(path)) throw invalid(input, 'a 64-hex-digit name looks like an image ID — use the ID directly or add a tag');
  return { domain, path, tag, digest };
}

/** Completes parts with Docker's defaults: domain docker.io, `library/` for official images, tag `latest` when neither tag nor digest is given. */
export function normalizeParts(parts: ReferenceParts): Reference {
  let domain = parts.domain ?? DEFAULT_DOMAIN;
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  let path = parts.path;
  if (domain === DEFAULT_DOMAIN && !path.includes('/')) path = OFFICIAL_REPO_PREFIX + path;
  const tag = parts.tag ?? (parts.digest ? undefined : DEFAULT_TAG);
  return { domain, path, ...(tag !== undefined ? { tag } : {}), ...(parts.digest ? { digest: parts.digest } : {}) };
}

/** Parses and normalises the way `docker pull` does: `alpine` → docker.io/library/alpine:latest. */
export function parseReference(input: string): Reference {
  return normalizeParts(parseReferenceParts(input));
}

/** True if the user gave no registry host (the name needs short-name resolution). */
export function isShortName(input: string): boolean {
  return parseReferenceParts(input).domain === undefined;
}

/** `domain/path`: the repository's full name. */
export function repositoryName(ref: Pick<Reference, 'domain' | 'path'>): string {
  return `${ref.domain}/${ref.path}`;
}

/** The canonical string: `docker.io/library/alpine:latest`, `host:5000/a/b:tag@sha256:…`. */
export function formatReference(ref: Reference): string {
  return repositoryName(ref) + (ref.tag !== undefined ? `:${ref.tag}` : '') + (ref.digest ? `@${ref.digest}` : '');
}

/** The repository as users write it: `alpine`, `user/app`, `quay.io/x/y`. */
export function familiarName(ref: Pick<Reference, 'domain' | 'path'>): string {
  if (ref.domain !== DEFAULT_DOMAIN) return repositoryName(ref);
  if (ref.path.startsWith(OFFICIAL_REPO_PREFIX) && !ref.path.slice(OFFICIAL_REPO_PREFIX.length).includes('/')) {
    return ref.path.slice(OFFICIAL_REPO_PREFIX.length);
  }
  return ref.path;
}

/** The familiar form for display: `alpine:latest`, `localhost:5000/x@sha256:…`. */
export function familiarString(ref: Reference): string {
  return familiarName(ref) + (ref.tag !== undefined ? `:${ref.tag}` : '') + (ref.digest ? `@${ref.digest}` : '');
}

/** A copy of `ref` naming the given digest (and keeping the tag for display). */
export function withDigest(ref: Reference, digest: string): Reference {
  return { ...ref, digest };
}

/** What to ask the registry for: the digest if there is one (Docker pulls by digest when both are given), else the tag. */
export function manifestReference(ref: Reference): string {
  return ref.digest ?? ref.tag ?? DEFAULT_TAG;
}
