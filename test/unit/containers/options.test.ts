// The run/create flags generated from the option declarations parse as the hand-written ones did: every flag, short and long, repeated lists, aliases.
import { Cli } from 'clipanion';
import { describe, expect, it } from 'vitest';
import { RunCommand } from '../../../src/cli/commands/run';
import { CreateCommand } from '../../../src/cli/commands/create';
import { CONTAINER_OPTIONS, defaultCreateOptions, resourceFlags, type CreateOptions } from '../../../src/containers/options';

const cli = Cli.from([RunCommand, CreateCommand]);

function parse(argv: string[]): CreateOptions {
  const cmd = cli.process(argv) as RunCommand;
  return cmd.createOptions();
}

/** The CreateOptions `run IMAGE` makes with no flags: what the hand-written createOptions() gave (resources now flat). */
const NONE: CreateOptions = {
  image: 'busybox', command: [], detach: false, rm: false, interactive: false, tty: false, env: [], envFile: [], volumes: [], devices: [],
  init: false, readOnly: false, network: '', privileged: false, publish: [], publishAll: false, dns: [], dnsSearch: [], dnsOption: [],
  addHost: [], restart: 'no', labels: [], capAdd: [], capDrop: [], securityOpt: [],
  mounts: [], tmpfs: [], volumesFrom: [], ulimits: [], sysctls: [], groupAdd: [], noHealthcheck: false, logOpts: [], attach: [],
};

describe('run/create flags from the declarations', () => {
  it('no flags give the defaults, and defaultCreateOptions is the same', () => {
    expect(parse(['run', 'busybox'])).toEqual(NONE);
    expect(parse(['create', 'busybox'])).toEqual(NONE);
    expect(defaultCreateOptions('busybox')).toEqual(NONE);
  });

  it('every long flag sets its option', () => {
    const o = parse(['run', '--detach', '--rm', '--name', 'web', '--interactive', '--tty', '--env', 'A=1', '--env-file', '/tmp/e',
      '--workdir', '/w', '--user', '1:2', '--volume', '/a:/b:ro', '--device', '/dev/fuse', '--entrypoint', '/bin/sh', '--init', '--read-only',
      '--hostname', 'h', '--network', 'none', '--storage-driver', 'vfs', '--userns', 'keep-id', '--privileged', '--publish', '80',
      '--publish-all', '--dns', '1.1.1.1', '--dns-search', 'x.org', '--dns-option', 'ndots:2', '--add-host', 'db:10.0.0.2',
      '--restart', 'on-failure:3', '--label', 'a=b', '--cap-add', 'NET_ADMIN', '--cap-drop', 'CHOWN', '--security-opt', 'no-new-privileges',
      '--memory', '512m', '--memory-swap', '1g', '--memory-reservation', '256m', '--cpus', '1.5', '--cpu-shares', '512', '--cpuset-cpus', '0-1',
      '--pids-limit', '100', '--blkio-weight', '300', '--cgroups', 'disabled', '--platform', 'linux/arm64', '--pull', 'never',
      '--mount', 'type=tmpfs,dst=/t', '--tmpfs', '/u', '--volumes-from', 'other', '--ulimit', 'nofile=10', '--sysctl', 'net.a=1',
      '--group-add', 'audio', '--stop-signal', 'SIGUSR1', '--stop-timeout', '3', '--shm-size', '1m', '--cidfile', '/tmp/c', '--pid', 'host',
      '--ipc', 'host', '--uts', 'host', '--health-cmd', 'true', '--health-interval', '1s', '--health-timeout', '2s', '--health-retries', '4',
      '--health-start-period', '5s', '--health-start-interval', '1s', '--no-healthcheck', '--log-opt', 'max-size=1m', '--attach', 'stdout',
      'busybox', 'sh', '-c', 'echo hi']);
    expect(o).toEqual({
      image: 'busybox', command: ['sh', '-c', 'echo hi'], detach: true, rm: true, name: 'web', interactive: true, tty: true, env: ['A=1'],
      envFile: ['/tmp/e'], workdir: '/w', user: '1:2', volumes: ['/a:/b:ro'], devices: ['/dev/fuse'], entrypoint: '/bin/sh', init: true,
      readOnly: true, hostname: 'h', network: 'none', storageDriver: 'vfs', userns: 'keep-id', privileged: true, publish: ['80'],
      publishAll: true, dns: ['1.1.1.1'], dnsSearch: ['x.org'], dnsOption: ['ndots:2'], addHost: ['db:10.0.0.2'], restart: 'on-failure:3',
      labels: ['a=b'], capAdd: ['NET_ADMIN'], capDrop: ['CHOWN'], securityOpt: ['no-new-privileges'], memory: '512m', memorySwap: '1g',
      memoryReservation: '256m', cpus: '1.5', cpuShares: '512', cpusetCpus: '0-1', pidsLimit: '100', blkioWeight: '300', cgroups: 'disabled',
      platform: 'linux/arm64', pull: 'never',
      mounts: ['type=tmpfs,dst=/t'], tmpfs: ['/u'], volumesFrom: ['other'], ulimits: ['nofile=10'], sysctls: ['net.a=1'], groupAdd: ['audio'],
      stopSignal: 'SIGUSR1', stopTimeout: '3', shmSize: '1m', cidfile: '/tmp/c', pid: 'host', ipc: 'host', uts: 'host', healthCmd: 'true',
      healthInterval: '1s', healthTimeout: '2s', healthRetries: '4', healthStartPeriod: '5s', healthStartInterval: '1s', noHealthcheck: true,
      logOpts: ['max-size=1m'], attach: ['stdout'],
    });
    expect(resourceFlags(o)).toEqual({ memory: '512m', memorySwap: '1g', memoryReservation: '256m', cpus: '1.5', cpuShares: '512', cpusetCpus: '0-1', pidsLimit: '100', blkioWeight: '300' });
  });

  it('short spellings, combined short booleans and --flag=value', () => {
    const o = parse(['create', '-dit', '-e', 'A=1', '-w', '/w', '-u', 'nobody', '-v', '/a:/b', '-p', '8080:80', '-P', '-l', 'k=v', '-m', '64m', '-c', '2',
      '--name=x', '--restart=always', 'busybox']);
    expect(o).toMatchObject({ detach: true, interactive: true, tty: true, env: ['A=1'], workdir: '/w', user: 'nobody', volumes: ['/a:/b'],
      publish: ['8080:80'], publishAll: true, labels: ['k=v'], memory: '64m', cpuShares: '2', name: 'x', restart: 'always' });
  });

  it('list flags repeat, in order, mixing short and long spellings', () => {
    const o = parse(['run', '-e', 'A=1', '--env', 'B=2', '-e', 'C', '-v', '/a:/a', '--volume', '/b:/b', '-p', '1', '--publish', '2/udp',
      '--dns', '1.1.1.1', '--dns', '8.8.8.8', '--cap-add', 'A', '--cap-add', 'B', '--device', '/dev/fuse', '--device', 'x.com/gpu=all', 'busybox']);
    expect(o.env).toEqual(['A=1', 'B=2', 'C']);
    expect(o.volumes).toEqual(['/a:/a', '/b:/b']);
    expect(o.publish).toEqual(['1', '2/udp']);
    expect(o.dns).toEqual(['1.1.1.1', '8.8.8.8']);
    expect(o.capAdd).toEqual(['A', 'B']);
    expect(o.devices).toEqual(['/dev/fuse', 'x.com/gpu=all']);
  });

  it('--net is --network, and `container run`/`container create` are the same commands', () => {
    expect(parse(['run', '--net', 'host', 'busybox']).network).toBe('host');
    expect(parse(['run', '--net=pasta', 'busybox']).network).toBe('pasta');
    expect(parse(['container', 'run', '--network', 'none', 'busybox']).network).toBe('none');
    expect(parse(['container', 'create', '--rm', 'busybox', 'true'])).toEqual({ ...NONE, rm: true, command: ['true'] });
  });

  it('flags after the image belong to the command', () => {
    const o = parse(['run', '--rm', 'busybox', 'ls', '-l', '--rm', '-e', 'X']);
    expect(o.rm).toBe(true);
    expect(o.env).toEqual([]);
    expect(o.command).toEqual(['ls', '-l', '--rm', '-e', 'X']);
  });

  it('an unknown flag and a missing image are usage errors', () => {
    expect(() => cli.process(['run', '--no-such-flag', 'busybox'])).toThrow();
    expect(() => cli.process(['run'])).toThrow();
    expect(() => cli.process(['run', '--memory'])).toThrow();
  });

  it('every declaration has a flag, help text and a place in the Docker body (or says why not)', () => {
    const spellings = new Set<string>();
    for (const [name, d] of Object.entries(CONTAINER_OPTIONS)) {
      expect(d.description, name).not.toBe('');
      for (const f of d.flags.split(',')) {
        expect(f, name).toMatch(/^(-[a-zA-Z]|--[a-z][a-z0-9-]+)$/);
        expect(spellings.has(f), `${f} declared twice`).toBe(false);
        spellings.add(f);
      }
      const b = d.body as { to?: unknown; from?: unknown; notInBody?: string; query?: string };
      expect(Boolean(b.to && b.from) || Boolean(b.notInBody) || Boolean(b.query), name).toBe(true);
    }
  });
});
