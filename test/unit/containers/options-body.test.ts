// Docker ContainerCreate bodies (captured from the docker CLI, and as compose/testcontainers send them) become the CreateOptions the CLI flags would; round trips; refusals.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createOptionsFromDockerBody, dockerBodyFromCreateOptions, type ContainerCreateBody } from '../../../src/containers/createBody';
import { defaultCreateOptions, type CreateOptions } from '../../../src/containers/options';
import { checkSecurityOptions } from '../../../src/security/security';
import { parsePublish } from '../../../src/network/ports';
import { parseNetworkMode } from '../../../src/network/mode';
import { LodgerError } from '../../../src/errors';

interface Captured { command: string; url: string; body: ContainerCreateBody }
const fixture = (name: string): Captured => JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', `${name}.json`), 'utf8'));
const queryOf = (url: string) => Object.fromEntries(new URL(url, 'http://x').searchParams);

/** Drops Docker's zero values (null, '', 0, false, [], {}) so bodies compare by what they ask for. */
function zeroless(v: unknown): unknown {
  if (Array.isArray(v)) return v.length ? v.map(zeroless) : undefined;
  if (v && typeof v === 'object') {
    const out = Object.fromEntries(Object.entries(v).map(([k, x]) => [k, zeroless(x)]).filter(([, x]) => x !== undefined));
    return Object.keys(out).length ? out : undefined;
  }
  return v === null || v === '' || v === 0 || v === false ? undefined : v;
}

function refusal(body: unknown): LodgerError {
  try { createOptionsFromDockerBody(body); } catch (e) { return e as LodgerError; }
  throw new Error('expected a refusal');
}

describe('Docker ContainerCreate body → CreateOptions', () => {
  it('docker run --rm busybox true (captured): the options `lodger run --rm busybox true` makes', () => {
    const c = fixture('docker28-run-rm-busybox-true');
    expect(createOptionsFromDockerBody(c.body, queryOf(c.url))).toEqual({ ...defaultCreateOptions('busybox', ['true']), rm: true });
  });

  it('docker run -d --device CDI (captured): detached, the CDI name as --device', () => {
    const c = fixture('docker28-run-detach-cdi');
    const o = createOptionsFromDockerBody(c.body, queryOf(c.url));
    expect(o).toEqual({ ...defaultCreateOptions('busybox', ['sleep', '1']), detach: true, devices: ['vendor.com/class=name'] });
  });

  it('docker run with every lodger flag (captured): each field read, sizes in bytes, CPUs from NanoCpus', () => {
    const c = fixture('docker28-run-every-flag');
    const o = createOptionsFromDockerBody(c.body, queryOf(c.url));
    expect(o).toEqual({
      image: 'busybox', command: ['-c', 'echo hi'], name: 'web', platform: 'linux/amd64',
      detach: false, rm: false, interactive: true, tty: false,
      // The docker CLI read --env-file and -e B itself.
      env: ['FROMFILE=1', 'A=1', 'B=1'], envFile: [], workdir: '/tmp', user: '1000:1000', volumes: ['/tmp:/data:ro'],
      devices: ['/dev/fuse:/dev/fuse:rwm'], entrypoint: '/bin/sh', init: true, readOnly: true, hostname: 'h1', network: 'none',
      privileged: true, publish: ['53/udp', '127.0.0.1:8080:80/tcp'], publishAll: true, dns: ['1.1.1.1'], dnsSearch: ['example.com'],
      dnsOption: ['ndots:2'], addHost: ['db:10.0.0.2'], restart: 'on-failure:3', labels: ['a=b', 'c='], capAdd: ['CAP_NET_ADMIN'],
      capDrop: ['CAP_CHOWN'], securityOpt: ['no-new-privileges'], memory: '536870912', memorySwap: '1073741824',
      memoryReservation: '268435456', cpus: '1.5', cpuShares: '512', cpusetCpus: '0-1', pidsLimit: '100', blkioWeight: '300',
      mounts: [], tmpfs: [], volumesFrom: [], ulimits: [], sysctls: [], groupAdd: [], noHealthcheck: false, logOpts: [], attach: [],
    });
    // The checks create makes accept them as they accept the CLI's.
    expect(() => checkSecurityOptions(o)).not.toThrow();
    expect(o.publish.flatMap(parsePublish)).toHaveLength(2);
    expect(parseNetworkMode(o.network)).toEqual({ kind: 'none' });
  });

  it('each captured body comes back from its options as the docker CLI sent it (every field lodger sets)', () => {
    for (const name of ['docker28-run-rm-busybox-true', 'docker28-run-detach-cdi', 'docker28-run-every-flag']) {
      const c = fixture(name);
      const back = dockerBodyFromCreateOptions(createOptionsFromDockerBody(c.body, queryOf(c.url)));
      expect(zeroless(c.body), name).toMatchObject(zeroless(back) as object);
    }
  });

  it('the CLI form and the body form meet: -m 512m --cpus 1.5 -p 8080:80 make the body docker does', () => {
    const o: CreateOptions = { ...defaultCreateOptions('busybox', ['true']), memory: '512m', cpus: '1.5', publish: ['8080:80'], restart: 'on-failure:2', labels: ['a=b', 'c'] };
    const body = dockerBodyFromCreateOptions(o);
    expect(body.HostConfig).toMatchObject({ Memory: 536870912, NanoCpus: 1500000000, PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '8080' }] }, RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 2 } });
    expect(body).toMatchObject({ ExposedPorts: { '80/tcp': {} }, Labels: { a: 'b', c: '' } });
    // options → body → options → body is stable.
    const again = createOptionsFromDockerBody(body);
    expect(dockerBodyFromCreateOptions(again)).toEqual(body);
    expect(again).toMatchObject({ memory: '536870912', cpus: '1.5', publish: ['8080:80/tcp'], restart: 'on-failure:2', labels: ['a=b', 'c='] });
  });

  it('docker-compose 1.29 up (captured): project network, list entrypoint before Cmd, bind destinations also in Volumes', () => {
    const c = fixture('compose129-up');
    const o = createOptionsFromDockerBody(c.body, queryOf(c.url));
    expect(o).toMatchObject({
      image: 'busybox', name: 'proj_web_1', network: 'proj_default', entrypoint: 'sh', command: ['-c', 'exec "$@"', '--', 'httpd', '-f', '-p', '8080'],
      hostname: 'webhost', user: '1000', workdir: '/tmp', env: ['A=1'], volumes: ['/tmp:/data:ro'], publish: ['127.0.0.1:18080:8080/tcp'],
      restart: 'unless-stopped', readOnly: true, init: true, capAdd: ['NET_ADMIN'], dns: ['1.1.1.1'], addHost: ['db:10.0.0.2'], detach: true,
    });
    expect(o.labels).toContain('com.docker.compose.service=web');
    // The same body with a Volumes path no bind covers asks for an anonymous volume there (and only there).
    const anon = createOptionsFromDockerBody({ ...c.body, Volumes: { '/data': {}, '/cache': {} } });
    expect(anon.volumes).toEqual(['/tmp:/data:ro', '/cache']);
  });

  it('a compose 1.29 body: the project network from NetworkMode, a list entrypoint before Cmd, labels', () => {
    const o = createOptionsFromDockerBody({
      Image: 'busybox', Cmd: ['echo hi'], Entrypoint: ['sh', '-c'], Env: ['A=1'], Labels: { 'com.docker.compose.project': 'p', 'com.docker.compose.service': 'web' },
      Volumes: {}, Hostname: null, Tty: false, OpenStdin: false, StdinOnce: false, AttachStdin: false, AttachStdout: false, AttachStderr: false,
      HostConfig: { NetworkMode: 'p_default', Binds: [], PortBindings: {}, Links: [], LogConfig: { Type: '', Config: {} }, VolumesFrom: [], IpcMode: null, Privileged: false, Init: null },
      NetworkingConfig: { EndpointsConfig: { p_default: { Aliases: ['web', 'abc123'], IPAMConfig: {} } } },
    }, { name: 'p_web_1' });
    expect(o).toMatchObject({ name: 'p_web_1', network: 'p_default', entrypoint: 'sh', command: ['-c', 'echo hi'], env: ['A=1'], detach: true,
      labels: ['com.docker.compose.project=p', 'com.docker.compose.service=web'] });
  });

  it('a testcontainers body: an empty HostPort asks for a free port; the network may be named only in NetworkingConfig', () => {
    const o = createOptionsFromDockerBody({
      Image: 'redis:7', ExposedPorts: { '6379/tcp': {} }, HostConfig: { PortBindings: { '6379/tcp': [{ HostPort: '' }] }, AutoRemove: false },
      NetworkingConfig: { EndpointsConfig: { mynet: {} } }, Labels: { 'org.testcontainers': 'true' },
    });
    expect(o).toMatchObject({ image: 'redis:7', command: [], publish: ['6379/tcp'], network: 'mynet', labels: ['org.testcontainers=true'] });
  });

  it('one-string Cmd and Entrypoint, NetworkDisabled, a bare Env name, fields Docker would ignore', () => {
    const o = createOptionsFromDockerBody({ Image: 'busybox', Cmd: 'true', Entrypoint: '', NetworkDisabled: true, Env: ['HOME_OF_THE_API', 'A=1'], Shell: ['sh'], Whatever: { x: 1 }, HostConfig: { ConsoleSize: [24, 80], NoSuchField: true } });
    expect(o).toMatchObject({ command: ['true'], entrypoint: '', network: 'none', env: ['A=1'] });
    expect(createOptionsFromDockerBody({ Image: 'busybox', HostConfig: { UsernsMode: 'keep-id' } }).userns).toBe('keep-id');
  });

  it('refuses what lodger cannot do, naming the docker flag', () => {
    const cases: Array<[object, string]> = [
      [{ HostConfig: { DeviceRequests: [{ Driver: '', Count: -1, Capabilities: [['gpu']] }] } }, '--gpus'],
      [{ HostConfig: { Links: ['db:db'] } }, '--link'],
      [{ HostConfig: { UsernsMode: 'host' } }, '--userns'],
      [{ HostConfig: { VolumeDriver: 'nfs' } }, '--volume-driver'],
      [{ NetworkingConfig: { EndpointsConfig: { a: {}, b: {} } } }, 'more than one network'],
      [{ NetworkingConfig: { EndpointsConfig: { a: { IPAMConfig: { IPv4Address: '10.0.0.9' } } } } }, '--ip'],
    ];
    for (const [extra, flag] of cases) {
      const e = refusal({ Image: 'busybox', ...extra });
      expect(e, flag).toBeInstanceOf(LodgerError);
      expect(e.code, flag).toBe('UNSUPPORTED_OPTION');
      expect(e.message, flag).toContain(flag);
    }
    // Docker's zero values and no-op forms pass.
    expect(() => createOptionsFromDockerBody({ Image: 'busybox', Healthcheck: { Test: ['NONE'] }, HostConfig: { ShmSize: 67108864, IpcMode: 'private', MemorySwappiness: -1, Mounts: null } })).not.toThrow();
  });

  it('mounts, tmpfs, anonymous volumes, ulimits, sysctls, namespaces, stop and health fields come through as their flags', () => {
    const o = createOptionsFromDockerBody({
      Image: 'busybox', Volumes: { '/anon': {} }, StopSignal: 'SIGUSR1', StopTimeout: 3,
      Healthcheck: { Test: ['CMD-SHELL', 'test -f /ok'], Interval: 200e6, Retries: 2 },
      HostConfig: {
        Binds: ['data:/data'], Tmpfs: { '/run': 'size=1m' }, ShmSize: 1 << 20, GroupAdd: ['audio'], Sysctls: { 'net.a': '1' }, PidMode: 'host',
        IpcMode: 'host', UTSMode: 'host', VolumesFrom: ['c1:ro'], Ulimits: [{ Name: 'nofile', Soft: 10, Hard: 20 }],
        Mounts: [{ Type: 'volume', Source: 'v', Target: '/v', ReadOnly: true, VolumeOptions: { NoCopy: true } }, { Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1024, Mode: 0o700 } }],
      },
    });
    expect(o).toMatchObject({
      volumes: ['data:/data', '/anon'], tmpfs: ['/run:size=1m'], shmSize: String(1 << 20), groupAdd: ['audio'], sysctls: ['net.a=1'], pid: 'host',
      ipc: 'host', uts: 'host', volumesFrom: ['c1:ro'], ulimits: ['nofile=10:20'], stopSignal: 'SIGUSR1', stopTimeout: '3',
      mounts: ['type=volume,src=v,dst=/v,readonly,volume-nocopy', 'type=tmpfs,dst=/t,tmpfs-size=1024,tmpfs-mode=700'],
      healthCmd: 'test -f /ok', healthInterval: '200000000ns', healthRetries: '2',
    });
    // And back: the body the docker CLI would send for those flags.
    const back = dockerBodyFromCreateOptions(o);
    expect(back.Volumes).toEqual({ '/anon': {} });
    expect(back.HostConfig).toMatchObject({ Binds: ['data:/data'], Ulimits: [{ Name: 'nofile', Soft: 10, Hard: 20 }], ShmSize: 1 << 20, Tmpfs: { '/run': 'size=1m' } });
    expect((back.HostConfig as { Mounts: unknown }).Mounts).toEqual([{ Type: 'volume', Source: 'v', Target: '/v', ReadOnly: true, VolumeOptions: { NoCopy: true } }, { Type: 'tmpfs', Source: '', Target: '/t', ReadOnly: false, TmpfsOptions: { SizeBytes: 1024, Mode: 0o700 } }]);
    expect(back.Healthcheck).toEqual({ Test: ['CMD-SHELL', 'test -f /ok'], Interval: 200e6, Retries: 2 });
  });

  it('PidMode and IpcMode "container:X" (compose\'s pid/ipc: "service:…", docker run --pid container:X) are --pid/--ipc container:X, and back', () => {
    const o = createOptionsFromDockerBody({ Image: 'busybox', HostConfig: { PidMode: 'container:0123abcd', IpcMode: 'container:db' } });
    expect([o.pid, o.ipc]).toEqual(['container:0123abcd', 'container:db']);
    const back = dockerBodyFromCreateOptions(o);
    expect([back.HostConfig?.PidMode, back.HostConfig?.IpcMode]).toEqual(['container:0123abcd', 'container:db']);
  });

  it('refuses a malformed body with BAD_CREATE_BODY, saying which field', () => {
    const cases: Array<[unknown, string]> = [
      [null, 'JSON object'], [[], 'JSON object'], [{}, 'Image'], [{ Image: 'b', HostConfig: { Memory: '512m' } }, 'HostConfig.Memory'],
      [{ Image: 'b', Env: 'A=1' }, 'Env'], [{ Image: 'b', Tty: 'yes' }, 'Tty'], [{ Image: 'b', Labels: { a: 1 } }, 'Labels.a'],
      [{ Image: 'b', HostConfig: { RestartPolicy: { Name: 'sometimes' } } }, 'RestartPolicy'],
    ];
    for (const [body, field] of cases) {
      const e = refusal(body);
      expect(e.code, field).toBe('BAD_CREATE_BODY');
      expect(e.message, field).toContain(field);
    }
  });
});
