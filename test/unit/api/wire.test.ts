// The API's wire-level pieces: multiplexed framing, the version prefix, error statuses, listen URIs and the create body.
import { describe, expect, it } from 'vitest';
import { createOptionsFromBody, networkAliases } from '../../../src/api/engine/createBody';
import { ApiError, errorResponse, statusOfCode } from '../../../src/api/httpError';
import { Demuxer, frame } from '../../../src/api/mux';
import { activatedSocket, isLoopback, parseListenUri } from '../../../src/api/uri';
import { splitVersion } from '../../../src/api/version';
import { LodgerError } from '../../../src/errors';

describe('multiplexed stream framing', () => {
  it('writes Docker\'s 8-byte header: stream, three zeros, big-endian length', () => {
    const f = frame(2, Buffer.from('hello'));
    expect([...f.subarray(0, 8)]).toEqual([2, 0, 0, 0, 0, 0, 0, 5]);
    expect(f.subarray(8).toString()).toBe('hello');
    expect(frame(1, Buffer.alloc(70000)).readUInt32BE(4)).toBe(70000);
  });

  it('splits frames that arrive cut anywhere', () => {
    const all = Buffer.concat([frame(1, Buffer.from('out\n')), frame(2, Buffer.from('err\n')), frame(1, Buffer.alloc(0))]);
    const d = new Demuxer();
    const got = [];
    for (let i = 0; i < all.length; i += 3) got.push(...d.push(all.subarray(i, i + 3)));
    expect(got.map((g) => `${g.stream}:${g.payload.toString()}`)).toEqual(['1:out\n', '2:err\n', '1:']);
  });
});

describe('version prefix', () => {
  it('serves /v1.NN/ paths at that version and unprefixed ones at the newest', () => {
    expect(splitVersion('/v1.41/containers/json')).toEqual({ version: '1.41', path: '/containers/json' });
    expect(splitVersion('/v1.24/_ping')).toEqual({ version: '1.24', path: '/_ping' });
    expect(splitVersion('/containers/json')).toEqual({ version: '1.43', path: '/containers/json' });
    expect(splitVersion('/v1.47/info')).toEqual({ version: '1.43', path: '/info' });
  });

  it('refuses versions older than 1.24 with a 400', () => {
    expect(() => splitVersion('/v1.23/info')).toThrow(/too old/);
    try { splitVersion('/v1.12/info'); } catch (e) { expect((e as ApiError).status).toBe(400); }
  });
});

describe('error statuses', () => {
  it('maps engine error kinds as Docker\'s errdefs do', () => {
    expect(statusOfCode('NO_SUCH_CONTAINER')).toBe(404);
    expect(statusOfCode('IMAGE_NOT_FOUND')).toBe(404);
    expect(statusOfCode('NAME_IN_USE')).toBe(409);
    expect(statusOfCode('CONTAINER_RUNNING')).toBe(409);
    expect(statusOfCode('BAD_FILTER')).toBe(400);
    expect(statusOfCode('REFERENCE_INVALID')).toBe(400);
    expect(statusOfCode('WORKER_FAILED')).toBe(500);
  });

  it('answers {"message"} and never a stack', () => {
    const r = errorResponse(new LodgerError('NO_SUCH_CONTAINER', 'No such container: x'));
    expect(r).toEqual({ status: 404, body: { message: 'No such container: x' } });
    const internal = errorResponse(new TypeError('boom'));
    expect(internal.status).toBe(500);
    expect(internal.body.message).toBe('boom');
  });
});

describe('listen URIs', () => {
  it('takes unix:// paths and loopback tcp://, refuses other addresses', () => {
    expect(parseListenUri('unix:///run/user/1/x.sock')).toEqual({ kind: 'unix', path: '/run/user/1/x.sock' });
    expect(parseListenUri('tcp://127.0.0.1:2375')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 2375 });
    expect(parseListenUri('tcp://[::1]:2375')).toEqual({ kind: 'tcp', host: '::1', port: 2375 });
    expect(() => parseListenUri('tcp://0.0.0.0:2375')).toThrow(/non-loopback/);
    expect(() => parseListenUri('tcp://192.168.1.5:2375')).toThrow(/non-loopback/);
    expect(() => parseListenUri('unix://relative.sock')).toThrow(/absolute/);
    expect(() => parseListenUri('http://x')).toThrow(/unix:\/\//);
    expect(isLoopback('localhost')).toBe(true);
    expect(isLoopback('::ffff:127.0.0.1')).toBe(true);
    expect(isLoopback('10.0.0.1')).toBe(false);
  });

  it('takes a socket from systemd only when LISTEN_PID is this process', () => {
    expect(activatedSocket({ LISTEN_PID: String(process.pid), LISTEN_FDS: '1' })).toEqual({ kind: 'fd', fd: 3 });
    expect(activatedSocket({ LISTEN_PID: String(process.pid + 1), LISTEN_FDS: '1' })).toBeUndefined();
    expect(activatedSocket({})).toBeUndefined();
  });
});

describe('ContainerCreate body', () => {
  const status = (f: () => unknown) => { try { f(); return 0; } catch (e) { return e instanceof ApiError ? e.status : errorResponse(e).status; } };

  it('goes through the engine\'s option declarations, with "0" as any free host port', () => {
    const o = createOptionsFromBody('web', {
      Image: 'busybox', Cmd: ['httpd', '-f'], Env: ['A=1'], Labels: { team: 'api' },
      HostConfig: { Binds: ['/h:/c:ro'], AutoRemove: true, PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }], '443/tcp': [{ HostPort: '0' }] } },
    });
    expect(o).toMatchObject({ image: 'busybox', name: 'web', command: ['httpd', '-f'], env: ['A=1'], rm: true });
    expect(o.publish).toEqual(['127.0.0.1::80/tcp', '443/tcp']);
  });

  it('refuses bad names and bodies with a 400', () => {
    expect(status(() => createOptionsFromBody('bad name!', { Image: 'busybox' }))).toBe(400);
    expect(status(() => createOptionsFromBody(undefined, {}))).toBe(400);
    expect(status(() => createOptionsFromBody(undefined, { Image: 'busybox', HostConfig: { Binds: [1] } }))).toBe(400);
    expect(status(() => createOptionsFromBody(undefined, { Image: 'busybox', HostConfig: { CgroupParent: 'elsewhere.slice' } }))).toBe(400);
  });

  it('takes the network\'s aliases from NetworkingConfig, as Compose sends them', () => {
    const body = { Image: 'busybox', HostConfig: { NetworkMode: 'demo_default' }, NetworkingConfig: { EndpointsConfig: { demo_default: { Aliases: ['web', 'bad alias!'] } } } };
    expect(createOptionsFromBody(undefined, body).network).toBe('demo_default');
    expect(networkAliases(body, 'demo_default')).toEqual(['web']);
  });
});
