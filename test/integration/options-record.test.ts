// The same `create` command line gives lodger's record the Config/HostConfig fields the docker CLI sends Docker for it (options declared once).
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Store } from '../helpers/cli';
import { runCommand } from '../helpers/exec';
import { requireTool } from '../helpers/prereqs';
import { busyboxStore, cliFor, dropStore, lifecyclePrereqs } from './lifecycle-common';

const ready = lifecyclePrereqs() && requireTool('docker');
let store: Store;
let dir: string;
const { lodgerOk } = cliFor(() => store);

beforeAll(async () => {
  if (!ready) return;
  store = await busyboxStore('lodger-opts-');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lodger-opts-'));
});
afterAll(() => { dropStore(store); if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

/**
 * What the real docker CLI sends for `docker ARGS`: a listener on a unix socket answers /_ping and keeps
 * the POST /containers/create body (then answers 500, which ends the CLI).
 */
async function dockerCreateBody(args: string[]): Promise<Record<string, unknown>> {
  const sock = path.join(dir, 'docker.sock');
  fs.rmSync(sock, { force: true });
  let body: Record<string, unknown> | undefined;
  const server = http.createServer((req, res) => {
    let text = '';
    req.on('data', (c) => { text += c; });
    req.on('end', () => {
      if (req.url?.endsWith('/_ping')) { res.writeHead(200, { 'Api-Version': '1.47', 'Content-Type': 'text/plain' }); res.end('OK'); return; }
      if (req.url?.includes('/containers/create')) body = JSON.parse(text);
      res.writeHead(500, { 'Content-Type': 'application/json' });
      res.end('{"message":"captured"}');
    });
  });
  await new Promise<void>((resolve) => server.listen(sock, resolve));
  try {
    await runCommand('docker', ['-H', `unix://${sock}`, ...args], { env: { ...process.env, DOCKER_CONFIG: dir } });
  } finally {
    server.close();
  }
  if (!body) throw new Error(`docker ${args.join(' ')} sent no create body`);
  return body;
}

const pick = (o: Record<string, unknown>, keys: string[]) => Object.fromEntries(keys.map((k) => [k, o[k]]));

describe.skipIf(!ready)('the record holds what docker would send', () => {
  it('create with flags of every kind: the Docker fields of the record equal the docker CLI\'s body', async () => {
    const flags = ['-i', '-t', '--rm', '-w', '/tmp', '-u', '1000:1000', '-v', `${dir}:/data:ro`, '--init', '--read-only', '--hostname', 'h1',
      '--network', 'none', '-P', '--dns', '1.1.1.1', '--dns-search', 'example.com', '--dns-option', 'ndots:2', '--add-host', 'db:10.0.0.2',
      '-l', 'a=b', '-l', 'c', '--security-opt', 'no-new-privileges'];
    const sent = await dockerCreateBody(['create', ...flags, 'busybox', 'true']);
    await lodgerOk(['create', '--name', 'opts', ...flags, 'busybox', 'true']);
    const rec = JSON.parse((await lodgerOk(['inspect', 'opts'])).stdout)[0];
    const config = ['Hostname', 'User', 'AttachStdin', 'AttachStdout', 'AttachStderr', 'Tty', 'OpenStdin', 'StdinOnce', 'WorkingDir', 'Labels', 'Cmd'];
    expect(pick(rec.Config, config)).toEqual(pick(sent, config));
    const host = ['Binds', 'NetworkMode', 'AutoRemove', 'ReadonlyRootfs', 'Init', 'PublishAllPorts', 'Dns', 'DnsSearch', 'DnsOptions', 'ExtraHosts', 'RestartPolicy'];
    expect(pick(rec.HostConfig, host)).toEqual(pick(sent.HostConfig as Record<string, unknown>, host));
  });

  it('-p and --restart: PortBindings and RestartPolicy as docker sends them', async () => {
    const flags = ['-p', '127.0.0.1:18080:80', '-p', '53/udp', '--restart', 'on-failure:3'];
    const sent = await dockerCreateBody(['create', ...flags, 'busybox', 'true']);
    await lodgerOk(['create', '--name', 'ports', ...flags, 'busybox', 'true']);
    const rec = JSON.parse((await lodgerOk(['inspect', 'ports'])).stdout)[0];
    const hostConfig = sent.HostConfig as Record<string, unknown>;
    expect(rec.HostConfig.PortBindings).toEqual(hostConfig.PortBindings);
    expect(rec.HostConfig.RestartPolicy).toEqual(hostConfig.RestartPolicy);
    expect(rec.HostConfig.PortBindings).toEqual({ '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '18080' }], '53/udp': [{ HostIp: '', HostPort: '' }] });
  });
});
