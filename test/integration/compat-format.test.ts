// Issue 16 point 4: --format (Go templates with Docker's field names, `table …`, json) on every listing and
// document command, Docker's filters for `images` and `ps`, and an error for an unknown field or filter.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runLodger, runLodgerOk, type Store } from '../helpers/cli';
import { busyboxStore, dropStore, lifecyclePrereqs } from './lifecycle-common';

const ok = lifecyclePrereqs();
let store: Store;
const lodger = (args: string[]) => runLodger(args, { store });
const out = async (args: string[]) => (await runLodgerOk(args, { store })).stdout;
const lines = async (args: string[]) => (await out(args)).split('\n').filter(Boolean);

describe.skipIf(!ok)('--format and --filter', () => {
  let upId = '';
  beforeAll(async () => {
    store = await busyboxStore('lodger-format-');
    await runLodgerOk(['import', '-c', 'LABEL tier=base', inject('lodger').busybox!.tar, 'labelled:1'], { store });
    await runLodgerOk(['tag', 'busybox', 'localhost/other/thing:2'], { store });
    await lodger(['run', '--name', 'f-exit3', '--label', 'role=batch', 'busybox', 'sh', '-c', 'exit 3']);
    await runLodgerOk(['run', '--name', 'f-exit0', 'labelled:1', 'true'], { store });
    upId = (await out(['run', '-d', '--name', 'f-up', '--label', 'role=web', 'busybox', 'sleep', '600'])).trim();
    // commit without a name: an untagged (dangling) image
    await runLodgerOk(['commit', 'f-exit0'], { store });
  }, 120_000);
  afterAll(() => dropStore(store));

  it('images: a template with Docker\'s fields, one line per name; -a is accepted', async () => {
    expect((await lines(['images', '--format', '{{.Repository}}:{{.Tag}}'])).sort()).toEqual(
      ['<none>:<none>', 'localhost/busybox:latest', 'localhost/labelled:1', 'localhost/other/thing:2'],
    );
    expect(await out(['images', '-a', '--format', '{{.Repository}}'])).toBe(await out(['images', '--format', '{{.Repository}}']));
    const [header, ...rows] = await lines(['images', '--format', 'table {{.Repository}}\\t{{.ID}}\\t{{.CreatedSince}}']);
    expect(header.split(/\s{2,}/)).toEqual(['REPOSITORY', 'IMAGE ID', 'CREATED']);
    expect(rows).toHaveLength(4);
    expect(rows[0]).toMatch(/^\S+\s+[0-9a-f]{12}\s+.* ago$/);
  });

  it('images --format json: one object per line with Docker\'s keys', async () => {
    const rows = (await lines(['images', '--format', 'json'])).map((l) => JSON.parse(l) as Record<string, string>);
    expect(Object.keys(rows[0])).toEqual(expect.arrayContaining(['ID', 'Repository', 'Tag', 'Digest', 'CreatedSince', 'CreatedAt', 'Size', 'Containers']));
    expect(rows.find((r) => r.Repository === 'localhost/labelled')).toMatchObject({ Tag: '1', Containers: '1', Digest: '<none>' });
    expect(rows[0].CreatedAt).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 UTC$/);
  });

  it('images --filter dangling=, reference= (a glob), label=, before=, since=', async () => {
    const names = (f: string[]) => lines(['images', ...f.flatMap((x) => ['--filter', x]), '--format', '{{.Repository}}:{{.Tag}}']).then((l) => l.sort());
    expect(await names(['dangling=true'])).toEqual(['<none>:<none>']);
    expect(await names(['dangling=false'])).toHaveLength(3);
    expect(await names(['reference=busybox'])).toEqual(['localhost/busybox:latest']);
    expect(await names(['reference=other/*'])).toEqual(['localhost/other/thing:2']);
    expect(await names(['reference=*'])).toEqual(['localhost/busybox:latest', 'localhost/labelled:1']);
    expect(await names(['reference=busybox', 'reference=labelled:1'])).toEqual(['localhost/busybox:latest', 'localhost/labelled:1']);
    // the committed image keeps the label of the image its container ran
    expect(await names(['label=tier=base'])).toEqual(['<none>:<none>', 'localhost/labelled:1']);
    expect(await names(['label=tier=other'])).toEqual([]);
    expect(await names(['since=busybox'])).toEqual(['<none>:<none>', 'localhost/labelled:1']);
    expect(await names(['before=labelled:1'])).toEqual(['localhost/busybox:latest', 'localhost/other/thing:2']);
    expect(await lines(['images', '-q', 'busybox'])).toHaveLength(1);
  });

  it('ps: Docker\'s fields, table with headers, json lines, and the Label method', async () => {
    expect(await lines(['ps', '--format', '{{.Names}} {{.State}} {{.Label "role"}} {{.Labels}}'])).toEqual(['f-up running web role=web']);
    const [header, ...rows] = await lines(['ps', '-a', '--format', 'table {{.ID}}\\t{{.Names}}\\t{{.Command}}\\t{{.RunningFor}}']);
    expect(header.split(/\s{2,}/)).toEqual(['CONTAINER ID', 'NAMES', 'COMMAND', 'CREATED']);
    expect(rows.find((r) => r.includes('f-up'))).toMatch(new RegExp(`^${upId.slice(0, 12)}\\s+f-up\\s+"sleep 600"\\s+.* ago$`));
    const json = (await lines(['ps', '--format', 'json'])).map((l) => JSON.parse(l) as Record<string, string>);
    expect(json).toEqual([expect.objectContaining({ ID: upId.slice(0, 12), Names: 'f-up', Image: 'busybox', State: 'running', Command: '"sleep 600"', Labels: 'role=web', Networks: expect.any(String), Mounts: '' })]);
    expect(json[0].CreatedAt).toMatch(/ \+0000 UTC$/);
    expect(await out(['ps', '--format', '{{json .Names}}'])).toBe('"f-up"\n');
  });

  it('ps --filter status=, name=, label=, ancestor=, exited= (a key twice: either value)', async () => {
    const names = (f: string[]) => lines(['ps', '-a', ...f.flatMap((x) => ['--filter', x]), '--format', '{{.Names}}']).then((l) => l.sort());
    expect(await names(['status=exited'])).toEqual(['f-exit0', 'f-exit3']);
    expect(await names(['status=running'])).toEqual(['f-up']);
    expect(await names(['status=running', 'status=exited'])).toEqual(['f-exit0', 'f-exit3', 'f-up']);
    expect(await names(['name=^f-exit'])).toEqual(['f-exit0', 'f-exit3']);
    expect(await names(['label=role'])).toEqual(['f-exit3', 'f-up']);
    expect(await names(['label=role=batch'])).toEqual(['f-exit3']);
    expect(await names(['ancestor=labelled:1'])).toEqual(['f-exit0']);
    expect(await names(['ancestor=busybox'])).toEqual(['f-exit3', 'f-up']);
    expect(await names(['exited=3'])).toEqual(['f-exit3']);
    expect(await names(['exited=3', 'name=f-up'])).toEqual([]);
  });

  it('an unknown field, filter or status is an error (125) that names it, and nothing is printed', async () => {
    for (const [args, msg] of [
      [['images', '--format', '{{.Repo}}'], /no field Repo \(fields: ID, Repository, Tag/],
      [['ps', '-a', '--format', '{{.Name}}'], /no field Name .*Names/],
      [['images', '--filter', 'colour=red'], /unknown filter colour \(use dangling, reference, label, before, since\)/],
      [['ps', '--filter', 'colour=red'], /unknown filter colour/],
      [['ps', '--filter', 'status=sleeping'], /status=sleeping: not a status/],
      [['images', '--filter', 'dangling=maybe'], /dangling=maybe: expected true or false/],
      [['inspect', '--format', '{{.Stat.Status}}', 'f-up'], /no field Stat/],
      [['network', 'ls', '--format', '{{.Nme}}'], /no field Nme/],
      [['system', 'df', '--format', '{{.Total}}'], /no field Total/],
      [['info', '--format', '{{.Drivr}}'], /no field Drivr/],
      [['version', '--format', '{{.Client.Vers}}'], /no field Vers/],
    ] as Array<[string[], RegExp]>) {
      const r = await lodger(args);
      expect(r.code, args.join(' ')).toBe(125);
      expect(r.stderr).toMatch(msg);
      expect(r.stdout).toBe('');
    }
  });

  it('inspect, network ls/inspect, system df, info and version take templates and json', async () => {
    expect(await out(['inspect', '--format', '{{.State.Status}} {{.Config.Labels.role}} {{.Config.Labels.nope}}', 'f-up'])).toBe('running web <no value>\n');
    expect(JSON.parse(await out(['inspect', '--format', 'json', 'f-up']))[0].Id).toBe(upId);
    expect(await out(['image', 'inspect', '--format', '{{index .Config.Labels "tier"}}', 'labelled:1'])).toBe('base\n');
    await runLodgerOk(['network', 'create', 'fmtnet'], { store });
    expect(await out(['network', 'ls', '--format', '{{.Name}} {{.Driver}} {{.Scope}}'])).toBe('fmtnet bridge local\n');
    expect(JSON.parse(await out(['network', 'ls', '--format', 'json'])).Name).toBe('fmtnet');
    expect((await lines(['network', 'ls', '--format', 'table {{.Name}}']))[0]).toBe('NAME');
    expect(await out(['network', 'inspect', '--format', '{{.Name}} {{.Driver}}', 'fmtnet'])).toBe('fmtnet bridge\n');
    await runLodgerOk(['network', 'rm', 'fmtnet'], { store });
    expect(await lines(['system', 'df', '--format', '{{.Type}}:{{.TotalCount}}'])).toEqual(expect.arrayContaining(['Images:3', 'Containers:3']));
    expect((await lines(['system', 'df', '--format', 'table {{.Type}}\\t{{.Active}}']))[0].split(/\s{2,}/)).toEqual(['TYPE', 'ACTIVE']);
    expect(await out(['info', '--format', '{{.Containers}} {{.ContainersRunning}} {{.Images}} {{.OSType}}'])).toBe('3 1 3 linux\n');
    expect(await out(['info', '--format', '{{.Driver}}'])).toBe(`${JSON.parse(await out(['info', '--format', 'json'])).store.storageDriver}\n`);
    const v = JSON.parse(await out(['version', '--format', 'json']));
    expect(await out(['version', '--format', '{{.Client.Version}}'])).toBe(`${v.Client.Version}\n`);
  });

  it('stats takes Docker\'s fields', async () => {
    const r = await lodger(['stats', '--no-stream', '--format', '{{.Name}} {{.ID}} {{.PIDs}}', 'f-up']);
    // stats needs a cgroup: where the host delegates none it says so.
    if (r.code === 0) expect(r.stdout).toBe(`f-up ${upId.slice(0, 12)} 1\n`);
    else expect(r.stderr).toMatch(/cgroup/);
    expect((await lodger(['stats', '--no-stream', '--format', '{{.Nope}}', 'f-up'])).stderr).toMatch(/no field Nope|cgroup/);
  });
});
