// Image reference parsing and formatting: Docker's normalisation rules, tags, digests, and the familiar display form.
import { describe, expect, it } from 'vitest';
import { LodgerError } from '../../../src/errors';
import {
  familiarString, formatReference, isShortName, manifestReference, parseReference, parseReferenceParts,
} from '../../../src/image/reference';

const D = `sha256:${'0123456789abcdef'.repeat(4)}`;

describe('parseReference', () => {
  it.each([
    ['alpine', 'docker.io/library/alpine:latest'],
    ['alpine:3.19', 'docker.io/library/alpine:3.19'],
    ['user/app', 'docker.io/user/app:latest'],
    ['docker.io/alpine', 'docker.io/library/alpine:latest'],
    ['index.docker.io/library/alpine:edge', 'docker.io/library/alpine:edge'],
    ['localhost/x', 'localhost/x:latest'],
    ['localhost:5000/x', 'localhost:5000/x:latest'],
    ['127.0.0.1:5000/a/b/c:tag', '127.0.0.1:5000/a/b/c:tag'],
    ['quay.io/org/repo', 'quay.io/org/repo:latest'],
    ['[::1]:5000/x:1', '[::1]:5000/x:1'],
    [`host.example.com/a/b:tag@${D}`, `host.example.com/a/b:tag@${D}`],
    [`alpine@${D}`, `docker.io/library/alpine@${D}`],
    ['a__b/c-d.e_f:T_1.x-y', 'docker.io/a__b/c-d.e_f:T_1.x-y'],
    ['Registry/x', 'Registry/x:latest'],
  ])('%s → %s', (input, want) => {
    expect(formatReference(parseReference(input))).toBe(want);
  });

  it('splits the parts', () => {
    expect(parseReference(`localhost:5000/team/app:v2@${D}`)).toEqual({ domain: 'localhost:5000', path: 'team/app', tag: 'v2', digest: D });
  });

  it('asks the registry for the digest when both tag and digest are given', () => {
    expect(manifestReference(parseReference(`x.io/a:v1@${D}`))).toBe(D);
    expect(manifestReference(parseReference('x.io/a:v1'))).toBe('v1');
  });

  it.each([
    ['', /empty reference/],
    ['Alpine', /must be lowercase/],
    ['docker.io/Library/alpine', /must be lowercase/],
    ['alpine:', /bad tag/],
    ['alpine:-x', /bad tag/],
    [`alpine:${'t'.repeat(129)}`, /bad tag/],
    ['alpine@sha256:abc', /bad digest/],
    [`alpine@sha256:${'A'.repeat(64)}`, /bad digest/],
    [`alpine@md5:${'a'.repeat(32)}`, /bad digest/],
    ['a//b', /empty path component/],
    ['a/b/', /empty path component/],
    ['a..b', /bad path component/],
    ['-a', /bad path component/],
    ['exa_mple.com:80/x', /bad registry host/],
    [`${'a'.repeat(64).replace(/a/g, 'f')}`, /image ID/],
    [`x.io/${'a'.repeat(260)}`, /longer than 255/],
  ])('refuses %j', (input, why) => {
    let err: unknown;
    try { parseReference(input); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(LodgerError);
    expect((err as LodgerError).code).toBe('REFERENCE_INVALID');
    expect((err as LodgerError).message).toMatch(why);
    expect((err as LodgerError).message).toContain('parse image reference');
  });
});

describe('familiar form', () => {
  it.each([
    ['alpine', 'alpine:latest'],
    ['docker.io/library/alpine:3', 'alpine:3'],
    ['docker.io/library/a/b', 'library/a/b:latest'],
    ['user/app:1', 'user/app:1'],
    ['localhost:5000/x', 'localhost:5000/x:latest'],
    [`quay.io/a/b@${D}`, `quay.io/a/b@${D}`],
  ])('%s shows as %s', (input, want) => {
    expect(familiarString(parseReference(input))).toBe(want);
  });
});

describe('short names', () => {
  it('knows whether a registry was given', () => {
    expect(isShortName('alpine')).toBe(true);
    expect(isShortName('user/app:1')).toBe(true);
    expect(isShortName('docker.io/alpine')).toBe(false);
    expect(isShortName('localhost/x')).toBe(false);
    expect(parseReferenceParts('user/app:1')).toEqual({ domain: undefined, path: 'user/app', tag: '1', digest: undefined });
  });

  it('takes a path as is when the domain is known (location rewrites)', () => {
    expect(parseReferenceParts('example.com/x:1', 'mirror')).toEqual({ domain: 'mirror', path: 'example.com/x', tag: '1', digest: undefined });
  });
});
