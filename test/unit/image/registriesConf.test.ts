// registries.conf: v2 and v1 tables, drop-ins, prefix matching, location rewrites, mirrors, blocked registries and short-name resolution.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LodgerError } from '../../../src/errors';
import { formatReference, parseReference } from '../../../src/image/reference';
import {
  RegistriesConf, emptyRegistriesConf, findRegistry, isInsecureHost, loadRegistriesConf, parseRegistriesConf, pullSources,
  pushDestination, resolveShortName,
} from '../../../src/image/registriesConf';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'lodger-regconf-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

function conf(text: string): RegistriesConf {
  const c = emptyRegistriesConf();
  const p = parseRegistriesConf(text, '/etc/test.conf');
  c.unqualifiedSearchRegistries = p.unqualifiedSearchRegistries ?? [];
  c.registries = p.registries;
  c.aliases = p.aliases;
  c.files = [p.file];
  return c;
}

const names = (refs: { reference: ReturnType<typeof parseReference> }[]): string[] => refs.map((r) => formatReference(r.reference));

describe('registries.conf', () => {
  const c = conf(`
unqualified-search-registries = ["quay.io", "docker.io"]
[[registry]]
prefix = "docker.io"
location = "docker.io"
[[registry.mirror]]
location = "mirror.local:5000"
[[registry.mirror]]
location = "digests.local/hub"
pull-from-mirror = "digest-only"
[[registry]]
prefix = "example.com/team"
location = "internal.example.com:5000/mirrored-team"
[[registry]]
prefix = "example.com/team/secret"
blocked = true
location = "example.com/team/secret"
[[registry]]
prefix = "*.corp.example"
insecure = true
[[registry]]
location = "insecure.local:5000"
insecure = true
[aliases]
"fedora" = "registry.fedoraproject.org/fedora"
"pinned" = "quay.io/org/pinned:v1"
`);

  it('matches the longest prefix on component boundaries', () => {
    expect(findRegistry(c, 'example.com/team/app:1')?.location).toBe('internal.example.com:5000/mirrored-team');
    expect(findRegistry(c, 'example.com/team/secret/x')?.blocked).toBe(true);
    expect(findRegistry(c, 'example.com/teamster/x')).toBeUndefined();
    expect(findRegistry(c, 'a.corp.example:443/x')?.insecure).toBe(true);
    expect(findRegistry(c, 'corp.example/x')).toBeUndefined();
    expect(isInsecureHost(c, 'insecure.local:5000')).toBe(true);
    expect(isInsecureHost(c, 'docker.io')).toBe(false);
  });

  it('rewrites locations and lists mirrors first, as pull-from-mirror allows', () => {
    expect(names(pullSources(c, parseReference('example.com/team/app:1')))).toEqual(['internal.example.com:5000/mirrored-team/app:1']);
    expect(names(pullSources(c, parseReference('alpine')))).toEqual(['mirror.local:5000/library/alpine:latest', 'docker.io/library/alpine:latest']);
    const D = `sha256:${'a'.repeat(64)}`;
    expect(names(pullSources(c, parseReference(`alpine@${D}`)))).toEqual([
      `mirror.local:5000/library/alpine@${D}`, `digests.local/hub/library/alpine@${D}`, `docker.io/library/alpine@${D}`,
    ]);
    expect(pullSources(c, parseReference('alpine')).map((s) => s.mirror)).toEqual([true, false]);
    expect(formatReference(pushDestination(c, parseReference('example.com/team/app:1')).reference)).toBe('internal.example.com:5000/mirrored-team/app:1');
    expect(formatReference(pushDestination(c, parseReference('alpine')).reference)).toBe('docker.io/library/alpine:latest');
  });

  it('refuses blocked registries, naming the file', () => {
    for (const f of [() => pullSources(c, parseReference('example.com/team/secret/x')), () => pushDestination(c, parseReference('example.com/team/secret/x'))]) {
      let err: unknown;
      try { f(); } catch (e) { err = e; }
      expect((err as LodgerError).code).toBe('REGISTRY_BLOCKED');
      expect((err as LodgerError).message).toMatch(/blocked in \/etc\/test\.conf/);
    }
  });

  it('resolves short names through aliases, then the search list; qualified names stand for themselves', () => {
    expect(resolveShortName('fedora', c).map(formatReference)).toEqual(['registry.fedoraproject.org/fedora:latest']);
    expect(resolveShortName('fedora:40', c).map(formatReference)).toEqual(['registry.fedoraproject.org/fedora:40']);
    expect(resolveShortName('pinned', c).map(formatReference)).toEqual(['quay.io/org/pinned:v1']);
    expect(resolveShortName('alpine:3', c).map(formatReference)).toEqual(['quay.io/alpine:3', 'docker.io/library/alpine:3']);
    expect(resolveShortName('localhost:5000/x', c).map(formatReference)).toEqual(['localhost:5000/x:latest']);
    expect(resolveShortName('alpine', emptyRegistriesConf()).map(formatReference)).toEqual(['docker.io/library/alpine:latest']);
  });

  it.each([
    ['unqualified-search-registries = "docker.io"', /must be an array of strings/],
    ['unqualified-search-registries = ["https://docker.io"]', /must not include a scheme/],
    ['unqualified-search-registries = ["docker.io/library"]', /without a path/],
    ['[[registry]]\ninsecure = true', /needs a prefix or a location/],
    ['[[registry]]\nprefix = "*.x.io"\nlocation = "y.io"', /wildcard/],
    ['[[registry]]\nlocation = "x.io"\ninsecure = "yes"', /must be true or false/],
    ['[[registry]]\nlocation = "x.io"\n[[registry.mirror]]\ninsecure = true', /needs a location/],
    ['[[registry]]\nlocation = "x.io"\n[[registry.mirror]]\nlocation = "m"\npull-from-mirror = "some"', /pull-from-mirror/],
    ['a = [', /line 1/],
  ])('refuses %j with the file name', (text, why) => {
    let err: unknown;
    try { parseRegistriesConf(text, '/home/u/.config/lodger/registries.conf'); } catch (e) { err = e; }
    expect((err as LodgerError).code).toBe('REGISTRIES_CONF_INVALID');
    expect((err as LodgerError).message).toMatch(/^read \/home\/u\/\.config\/lodger\/registries\.conf: /);
    expect((err as LodgerError).message).toMatch(why);
    expect((err as LodgerError).message).toMatch(/containers-registries\.conf\(5\)/);
  });

  it('reads version 1 tables', () => {
    const v1 = conf('[registries.search]\nregistries = ["a.io"]\n[registries.insecure]\nregistries = ["b.io:5000"]\n[registries.block]\nregistries = ["c.io"]');
    expect(v1.unqualifiedSearchRegistries).toEqual(['a.io']);
    expect(isInsecureHost(v1, 'b.io:5000')).toBe(true);
    expect(() => pullSources(v1, parseReference('c.io/x'))).toThrow(/blocked/);
  });
});

describe('loadRegistriesConf', () => {
  it('prefers ~/.config/lodger/registries.conf, then merges its drop-ins in order', () => {
    const home = path.join(scratch, 'home');
    const dir = path.join(home, '.config', 'lodger');
    fs.mkdirSync(path.join(dir, 'registries.conf.d'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'registries.conf'), 'unqualified-search-registries = ["a.io"]\n[[registry]]\nlocation = "x.io"\n[aliases]\none = "a.io/one"\n');
    fs.writeFileSync(path.join(dir, 'registries.conf.d', '10-b.conf'), 'unqualified-search-registries = ["b.io"]\n[[registry]]\nlocation = "x.io"\ninsecure = true\n');
    fs.writeFileSync(path.join(dir, 'registries.conf.d', '20-c.conf'), '[aliases]\ntwo = "c.io/two"\n');
    fs.writeFileSync(path.join(dir, 'registries.conf.d', 'ignored.txt'), 'not toml [');
    const saved = process.env.CONTAINERS_REGISTRIES_CONF;
    delete process.env.CONTAINERS_REGISTRIES_CONF;
    try {
      const c = loadRegistriesConf({ home });
      expect(c.files.map((f) => path.basename(f))).toEqual(['registries.conf', '10-b.conf', '20-c.conf']);
      expect(c.unqualifiedSearchRegistries).toEqual(['b.io']);
      expect(c.registries).toHaveLength(1);
      expect(c.registries[0].insecure).toBe(true);
      expect(c.aliases).toEqual({ one: 'a.io/one', two: 'c.io/two' });
      const only = loadRegistriesConf({ file: path.join(dir, 'registries.conf.d', '20-c.conf') });
      expect(only.aliases).toEqual({ two: 'c.io/two' });
    } finally {
      if (saved !== undefined) process.env.CONTAINERS_REGISTRIES_CONF = saved;
    }
  });
});
