// Unit tests of the pure parts of cp/top/prune/commit: cp argument splitting, ps column selection, prune filters, and the tar writer's byte-exact output.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import * as tarStream from 'tar-stream';
import { afterEach, describe, expect, it } from 'vitest';
import { parseCpArg } from '../../../src/containers/copy';
import { matchesFilters, parsePruneFilters, untilTime } from '../../../src/storage/pruneFilters';
import { topColumns, topTable, type ProcInfo } from '../../../src/containers/top';
import { TarWriter } from '../../../src/worker/tarWriter';

describe('cp arguments', () => {
  it('splits CONTAINER:PATH as Docker does', () => {
    expect(parseCpArg('web:/etc/passwd')).toEqual({ container: 'web', path: '/etc/passwd' });
    expect(parseCpArg('web:relative')).toEqual({ container: 'web', path: 'relative' });
    expect(parseCpArg('/abs/with:colon')).toEqual({ path: '/abs/with:colon' });
    expect(parseCpArg('./local:file')).toEqual({ path: './local:file' });
    expect(parseCpArg('plainfile')).toEqual({ path: 'plainfile' });
    expect(parseCpArg('-')).toEqual({ path: '-' });
  });
});

describe('top columns', () => {
  const proc: ProcInfo = { pid: 42, ppid: 7, uid: 1000, user: 'app', state: 'S', ttyNr: (136 << 8) | 3, cpuTicks: 250, start: 1_000, vszKiB: 2000, rssKiB: 900, comm: 'sleep', args: 'sleep 60' };

  it('defaults to ps -ef', () => {
    const t = topTable([proc], [], 1_010);
    expect(t.Titles).toEqual(['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD']);
    expect(t.Processes[0]).toEqual(['app', '42', '7', '25', expect.stringMatching(/^\d\d:\d\d$/), 'pts/3', '00:00:02', 'sleep 60']);
  });

  it('takes aux and -o lists, with headers after "="', () => {
    expect(topTable([proc], ['aux'], 1_010).Titles[0]).toBe('USER');
    expect(topTable([proc], ['-o', 'pid,comm=NAME'], 1_010)).toEqual({ Titles: ['PID', 'NAME'], Processes: [['42', 'sleep']] });
    expect(topColumns(['-opid,etime']).map((c) => c.header)).toEqual(['PID', 'ELAPSED']);
  });

  it('refuses what it cannot show', () => {
    expect(() => topColumns(['-o', 'pid,wchan'])).toThrow(/unknown ps field "wchan"/);
    expect(() => topColumns(['--forest'])).toThrow(/not supported/);
  });
});

describe('prune filters', () => {
  it('parses until= and label filters', () => {
    expect(parsePruneFilters(['until=24h', 'label=a=b', 'label!=c'])).toEqual([
      { key: 'until', value: '24h' }, { key: 'label', value: 'a=b' }, { key: 'label!', value: 'c' },
    ]);
    expect(() => parsePruneFilters(['dangling=true'])).toThrow(/--filter dangling=true/);
  });

  it('matches ages and labels', () => {
    const now = Date.parse('2026-01-02T00:00:00Z');
    expect(untilTime('1h30m', now)).toBe(now - 5_400_000);
    expect(untilTime('1700000000', now)).toBe(1_700_000_000_000);
    expect(untilTime('2026-01-01T00:00:00Z', now)).toBe(Date.parse('2026-01-01T00:00:00Z'));
    const old = new Date(Date.now() - 2 * 3_600_000).toISOString();
    expect(matchesFilters(old, {}, parsePruneFilters(['until=1h']))).toBe(true);
    expect(matchesFilters(new Date().toISOString(), {}, parsePruneFilters(['until=1h']))).toBe(false);
    expect(matchesFilters(old, { a: 'b' }, parsePruneFilters(['label=a=b', 'label!=keep']))).toBe(true);
    expect(matchesFilters(old, { keep: '' }, parsePruneFilters(['label!=keep']))).toBe(false);
  });
});

describe('TarWriter', () => {
  let dir: string | undefined;
  afterEach(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); dir = undefined; });

  function writeTar(fill: (w: TarWriter, dataFd: number) => void): string {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lodger-tarwriter-'));
    const data = path.join(dir, 'data');
    fs.writeFileSync(data, 'content\n');
    const out = path.join(dir, 'out.tar');
    const fd = fs.openSync(out, 'w');
    const dfd = fs.openSync(data, 'r');
    try {
      const w = new TarWriter(fd);
      fill(w, dfd);
      w.finish();
    } finally {
      fs.closeSync(fd);
      fs.closeSync(dfd);
    }
    return out;
  }

  async function readBack(file: string): Promise<Array<{ name: Buffer; header: tarStream.Header; body: Buffer }>> {
    const ex = tarStream.extract({ filenameEncoding: 'latin1' } as Parameters<typeof tarStream.extract>[0]);
    fs.createReadStream(file).pipe(ex);
    const out: Array<{ name: Buffer; header: tarStream.Header; body: Buffer }> = [];
    for await (const e of ex) {
      const chunks: Buffer[] = [];
      for await (const c of e) chunks.push(c as Buffer);
      out.push({ name: Buffer.from(e.header.name, 'latin1'), header: e.header, body: Buffer.concat(chunks) });
    }
    return out;
  }

  it('keeps long and non-UTF-8 names byte for byte, with owners, modes, links and data', async () => {
    const long = Buffer.from('d/' + 'x'.repeat(150));
    const latin = Buffer.from([0x61, 0xff, 0x62]);
    const file = writeTar((w, fd) => {
      w.add({ name: Buffer.from('d'), type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime: 1_700_000_000 });
      w.add({ name: long, type: 'file', mode: 0o640, uid: 1000, gid: 1001, mtime: 1_700_000_000, size: 8 }, fd);
      w.add({ name: latin, type: 'symlink', mode: 0o777, uid: 0, gid: 0, mtime: 0, linkname: Buffer.from('/' + 'y'.repeat(120)) });
      w.add({ name: Buffer.from('hard'), type: 'link', mode: 0o640, uid: 1000, gid: 1001, mtime: 0, linkname: long });
      w.add({ name: Buffer.from('big-ids'), type: 'fifo', mode: 0o600, uid: 3_000_000, gid: 3_000_001, mtime: 0 });
    });
    const entries = await readBack(file);
    expect(entries.map((e) => e.header.type)).toEqual(['directory', 'file', 'symlink', 'link', 'fifo']);
    expect(entries[0].name.toString()).toBe('d/');
    expect(entries[1].name.equals(long)).toBe(true);
    expect(entries[1].body.toString()).toBe('content\n');
    expect([entries[1].header.mode, entries[1].header.uid, entries[1].header.gid]).toEqual([0o640, 1000, 1001]);
    // tar-stream decodes pax values as UTF-8 (layerUnpack.ts reads them raw), so look at the bytes.
    expect(fs.readFileSync(file).includes(Buffer.concat([Buffer.from(' path='), latin, Buffer.from('\n')]))).toBe(true);
    expect(entries[2].header.linkname).toBe('/' + 'y'.repeat(120));
    expect(Buffer.from(entries[3].header.linkname!, 'latin1').equals(long)).toBe(true);
    // GNU tar, the reference reader, agrees.
    const gnu = spawnSync('tar', ['-tvf', file], { encoding: 'utf8' });
    expect(gnu.status, gnu.stderr).toBe(0);
    expect(gnu.stdout).toContain('x'.repeat(150));
    expect(gnu.stdout).toMatch(/1000\/1001\s+8 /);
    // Ids beyond ustar's 7 octal digits travel in pax records (tar-stream ignores those; GNU tar does not).
    expect(gnu.stdout).toMatch(/3000000\/3000001 .* big-ids/);
  });

  it('writes xattrs as SCHILY.xattr pax records with their exact bytes', async () => {
    const value = Buffer.from([0x01, 0x00, 0x00, 0x02, 0xff, 0x0a]);
    const file = writeTar((w, fd) => {
      w.add({ name: Buffer.from('cap'), type: 'file', mode: 0o755, uid: 0, gid: 0, mtime: 0, size: 8, xattrs: new Map([['security.capability', value]]) }, fd);
    });
    const raw = fs.readFileSync(file);
    const rec = Buffer.concat([Buffer.from(' SCHILY.xattr.security.capability='), value, Buffer.from('\n')]);
    const at = raw.indexOf(rec);
    expect(at).toBeGreaterThan(0);
    // The record's length prefix counts the whole record, its own digits included (pax(1)).
    const lenStart = Math.floor(at / 512) * 512;  // the only record, at the start of the pax data block
    const len = Number(raw.subarray(lenStart, at).toString());
    expect(len).toBe(at - lenStart + rec.length);
  });
});
