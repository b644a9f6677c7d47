// Unpacking hostile and ordinary layers inside a real user namespace: nothing outside the destination changes, and the destination holds what the OCI layer spec says.
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import * as esbuild from 'esbuild';
import * as tarStream from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toolFsOps } from '../../src/worker/xattr';
import { requirePrereq, subidRange, toolPath } from '../helpers/prereqs';

const REPO = path.resolve(__dirname, '../..');
const ADDON = path.join(REPO, 'build/Release/lodger_native.node');

/** Why these tests cannot run here, or '' when they can. */
function probe(): string {
  if (process.getuid?.() === 0) return 'run as an unprivileged user with a subuid range (e.g. runuser -u lodgertest)';
  for (const [tool, pkg] of [['unshare', 'util-linux'], ['newuidmap', 'uidmap'], ['setfattr', 'attr'], ['getfattr', 'attr']]) {
    if (!toolPath(tool)) return `${tool} is not installed (Debian package ${pkg}; scripts/setup-host.sh installs scripts/packages.txt)`;
  }
  const uids = subidRange('/etc/subuid');
  const gids = subidRange('/etc/subgid');
  if (!uids || !gids || uids.count < 65536 || gids.count < 65536) return `${os.userInfo().username} has no range of 65536 ids in /etc/subuid and /etc/subgid`;
  const r = spawnSync('unshare', ['--map-root-user', '--map-auto', 'true'], { encoding: 'utf8' });
  if (r.status !== 0) return `unshare --map-root-user --map-auto failed: ${r.stderr.trim()}`;
  if (!fs.existsSync(ADDON)) return `native addon not built (${ADDON}): run npm run build`;
  return '';
}

// In CI a missing prerequisite fails the file; elsewhere the tests are skipped, saying why.
const reason = probe();
const ready = requirePrereq(reason === '', reason);
const test = it.skipIf(!ready);

/** Host id of container id ID under --map-auto: 0 → the user, N → the subordinate range's start + N − 1 (user_namespaces(7)). */
const hostUid = (id: number) => (id === 0 ? process.getuid!() : subidRange('/etc/subuid')!.start + id - 1);
const hostGid = (id: number) => (id === 0 ? process.getgid!() : subidRange('/etc/subgid')!.start + id - 1);

let work = '';
let entryJs = '';
const tok = 'lodger-escape-' + randomBytes(6).toString('hex');

type Ops = 'native' | 'tools';

interface NsResult {
  ok: boolean;
  result?: { entries: number; notes: string[]; diffId?: string } & Record<string, unknown>;
  error?: { code: string; message: string };
}

/** Runs the bundled entry as root of a new user namespace mapping the user's subordinate ids. */
function inNs(args: string[], ops: Ops = 'native'): NsResult {
  const opsArg = ops === 'native' ? `--ops=native:${ADDON}` : '--ops=tools';
  // The bundled entry sits outside the package: it is told where the addon (which decodes layers) is.
  const r = spawnSync('unshare', ['--map-root-user', '--map-auto', process.execPath, entryJs, opsArg, ...args], { encoding: 'utf8', env: { ...process.env, LODGER_NATIVE: ADDON } });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as NsResult;
  } catch {
    throw new Error(`entry printed no result (status ${r.status}): ${r.stdout}\n${r.stderr}`);
  }
}

type EntrySpec = Partial<tarStream.Header> & { name: string; data?: string | Buffer; pax?: Record<string, string> };

/**
 * A tar built by tar-stream from SPECS. PATCHES replace text in pax records with raw bytes of the same
 * length — tar-stream writes pax values as UTF-8 text, and the point is binary values and names.
 */
async function makeTar(specs: EntrySpec[], patches: Array<[string, Buffer]> = []): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  const done = (async () => { for await (const c of pack as unknown as Readable) chunks.push(c as Buffer); })();
  for (const { data, ...h } of specs) {
    const header = { mtime: new Date(1_600_000_000_000), ...h } as Partial<tarStream.Header> & { name: string };
    if (data !== undefined) pack.entry(header, data);
    else pack.entry(header);
  }
  pack.finalize();
  await done;
  const tar = Buffer.concat(chunks);
  for (const [needle, bytes] of patches) {
    const at = tar.indexOf(needle);
    expect(at, `patch ${needle}`).toBeGreaterThanOrEqual(0);
    expect(tar.indexOf(needle, at + 1), `patch ${needle} is unique`).toBe(-1);
    expect(bytes.length).toBe(Buffer.byteLength(needle));
    bytes.copy(tar, at);
  }
  return tar;
}

interface Snap {
  type: string;
  mode: number;
  uid: number;
  nlink: number;
  mtimeMs: number;
  size: number;
  content?: string;
  target?: string;
  xattrs?: Record<string, string>;
}

/** Every path under DIR (but EXCEPT) with type, mode, owner, links, mtime, content hash, target and xattrs. */
function snapshot(dir: string, except: string): Record<string, Snap> {
  const out: Record<string, Snap> = {};
  const walk = (p: string) => {
    if (p === except) return;
    const st = fs.lstatSync(p);
    const s: Snap = {
      type: st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : 'other',
      mode: st.mode, uid: st.uid, nlink: st.nlink, mtimeMs: st.mtimeMs, size: st.size,
    };
    if (st.isFile()) s.content = createHash('sha256').update(fs.readFileSync(p)).digest('hex');
    if (st.isSymbolicLink()) s.target = fs.readlinkSync(p);
    if (st.isFile() || st.isDirectory()) {
      s.xattrs = Object.fromEntries(toolFsOps.listXattrs(p).map((n) => [n, toolFsOps.getXattr(p, n)!.toString('hex')]));
    }
    out[path.relative(dir, p) || '.'] = s;
    if (st.isDirectory()) for (const n of fs.readdirSync(p).sort()) walk(path.join(p, n));
  };
  walk(dir);
  return out;
}

let caseNo = 0;

/** A case directory: a sentinel tree `outside/`, an empty `dest/` for the layer. */
function newCase(): { dir: string; outside: string; dest: string } {
  const dir = path.join(work, `case${++caseNo}`);
  const outside = path.join(dir, 'outside');
  fs.mkdirSync(path.join(outside, 'dir'), { recursive: true });
  fs.writeFileSync(path.join(outside, 'secret'), 's3cret', { mode: 0o600 });
  fs.writeFileSync(path.join(outside, 'dir', 'file'), 'data');
  fs.symlinkSync('secret', path.join(outside, 'link'));
  toolFsOps.setXattr(path.join(outside, 'secret'), 'user.sentinel', Buffer.from('1'));
  const dest = path.join(dir, 'dest');
  fs.mkdirSync(dest);
  return { dir, outside, dest };
}

/**
 * Unpacks the tar of SPECS in a new case, inside the user namespace, and checks that nothing outside
 * dest changed — in the case directory (the sentinel tree, the tar itself) and in /tmp.
 */
async function unpackCase(specsOf: (outside: string) => EntrySpec[], opts: { ops?: Ops; patches?: Array<[string, Buffer]> } = {}) {
  const c = newCase();
  const tar = await makeTar(specsOf(c.outside), opts.patches);
  const tarPath = path.join(c.dir, 'layer.tar');
  fs.writeFileSync(tarPath, tar);
  const before = snapshot(c.dir, c.dest);
  const res = inNs(['unpack', tarPath, c.dest], opts.ops);
  expect(snapshot(c.dir, c.dest)).toEqual(before);
  for (const t of new Set(['/tmp', os.tmpdir()])) {
    expect(fs.readdirSync(t).filter((n) => n.startsWith(tok))).toEqual([]);
  }
  return { ...c, res, tar };
}

function notesOf(res: NsResult): string[] {
  expect(res.error).toBeUndefined();
  expect(res.ok).toBe(true);
  return res.result!.notes;
}

/** Paths under DIR, relative, sorted ('x/' for directories). */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    for (const n of fs.readdirSync(p).sort()) {
      const q = path.join(p, n);
      const st = fs.lstatSync(q);
      out.push(path.relative(dir, q) + (st.isDirectory() ? '/' : ''));
      if (st.isDirectory()) walk(q);
    }
  };
  walk(dir);
  return out;
}

function isWhiteout(p: string | Buffer): boolean {
  const st = fs.lstatSync(p, { throwIfNoEntry: false });
  return !!st && st.isCharacterDevice() && st.rdev === 0;
}

function nsXattrs(p: string, ops: Ops = 'native'): Record<string, string> {
  const r = inNs(['xattrs', p], ops);
  expect(r.error).toBeUndefined();
  return r.result as unknown as Record<string, string>;
}

beforeAll(async () => {
  if (!ready) return;
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'lodger-unpack-sec-'));
  entryJs = path.join(work, 'unpack-entry.js');
  await esbuild.build({
    entryPoints: [path.join(__dirname, 'unpack-entry.ts')],
    outfile: entryJs, bundle: true, platform: 'node', target: 'node20', format: 'cjs', logLevel: 'error',
  });
});

afterAll(() => {
  if (!work) return;
  // Files of the layers belong to subordinate ids: only root of the namespace may remove them.
  const r = inNs(['rm', work]);
  expect(r.ok).toBe(true);
  expect(fs.existsSync(work)).toBe(false);
});

describe('unpackLayer refuses to reach outside its destination', () => {
  test('names with ".." stay inside dest, rooted at it', async () => {
    const { dest, res } = await unpackCase(() => [
      { name: `../${tok}-a`, data: 'x' },
      { name: `a/../../${tok}-b`, data: 'x' },
      { name: '../outside/secret', data: 'pwned' },
      { name: `./../../../../../../../../../tmp/${tok}-c`, data: 'x' },
      { name: `../../${tok}-dir/`, type: 'directory' },
    ]);
    const notes = notesOf(res);
    expect(fs.readFileSync(path.join(dest, `${tok}-a`), 'utf8')).toBe('x');
    expect(fs.readFileSync(path.join(dest, `${tok}-b`), 'utf8')).toBe('x');
    expect(fs.readFileSync(path.join(dest, 'outside/secret'), 'utf8')).toBe('pwned');
    expect(fs.existsSync(path.join(dest, 'tmp', `${tok}-c`))).toBe(true);
    expect(fs.statSync(path.join(dest, `${tok}-dir`)).isDirectory()).toBe(true);
    expect(notes.filter((n) => /climbs above the layer's root/.test(n))).toHaveLength(5);
  });

  test('absolute names are taken relative to dest', async () => {
    const { dest, res, outside } = await unpackCase((outside) => [
      { name: `/${tok}-abs`, data: 'x' },
      { name: `${outside}/secret`, data: 'pwned' },
      { name: `${outside}/new`, data: 'x' },
      { name: `/tmp/${tok}`, data: 'x' },
    ]);
    expect(notesOf(res)).toEqual([]);
    expect(fs.readFileSync(path.join(dest, `${tok}-abs`), 'utf8')).toBe('x');
    expect(fs.readFileSync(path.join(dest, outside, 'secret'), 'utf8')).toBe('pwned');
    expect(fs.existsSync(path.join(dest, 'tmp', tok))).toBe(true);
  });

  test('a symlink planted earlier in the layer is never written through', async () => {
    const { dest, res, outside } = await unpackCase((outside) => [
      { name: 'evil', type: 'symlink', linkname: outside },
      { name: 'evil/secret', data: 'pwned' },
      { name: 'evil/new', data: 'x' },
      { name: 'evil/dir2/', type: 'directory' },
      { name: 'rel', type: 'symlink', linkname: '../outside' },
      { name: 'rel/new2', data: 'x' },
      { name: 'evilfile', type: 'symlink', linkname: `${outside}/secret` },
      // A later entry of the same name replaces the symlink itself, not what it points to.
      { name: 'evilfile', data: 'replaced', mode: 0o644 },
    ]);
    const notes = notesOf(res);
    expect(fs.readlinkSync(path.join(dest, 'evil'))).toBe(outside);
    expect(fs.readlinkSync(path.join(dest, 'rel'))).toBe('../outside');
    expect(fs.lstatSync(path.join(dest, 'evilfile')).isFile()).toBe(true);
    expect(fs.readFileSync(path.join(dest, 'evilfile'), 'utf8')).toBe('replaced');
    expect(tree(dest)).toEqual(['evil', 'evilfile', 'rel']);
    for (const p of ['/evil/secret', '/evil/new', '/evil/dir2', '/rel/new2']) {
      expect(notes.some((n) => n.startsWith(`refused ${p}: `) && n.includes('is a symlink'))).toBe(true);
    }
  });

  test('a symlink to / then directories and files under it', async () => {
    const { dest, res } = await unpackCase((outside) => [
      { name: 'root', type: 'symlink', linkname: '/' },
      { name: `root${outside}/newdir/`, type: 'directory' },
      { name: `root/tmp/${tok}/`, type: 'directory' },
      { name: `root/tmp/${tok}-f`, data: 'x' },
      { name: 'root/', type: 'directory', mode: 0o755 },
      { name: 'root/inside', data: 'fine' },
    ]);
    const notes = notesOf(res);
    expect(notes.filter((n) => n.includes('/root is a symlink'))).toHaveLength(3);
    // The directory entry "root/" replaces the symlink (a later entry of the same name); then "root/inside" is fine.
    expect(fs.lstatSync(path.join(dest, 'root')).isDirectory()).toBe(true);
    expect(tree(dest)).toEqual(['root/', 'root/inside']);
  });

  test('hardlinks to /etc/passwd, ../outside or an absolute path outside are refused', async () => {
    const { dest, res } = await unpackCase((outside) => [
      { name: 'pw', type: 'link', linkname: '/etc/passwd' },
      { name: 'out', type: 'link', linkname: '../outside/secret' },
      { name: 'abs', type: 'link', linkname: `${outside}/secret` },
      { name: 'etc/passwd', data: 'root:x:0:0::/root:/bin/sh\n' },
      // Now /etc/passwd of the layer exists: a link to it stays inside dest and is fine.
      { name: 'pw2', type: 'link', linkname: '/etc/passwd' },
    ]);
    const notes = notesOf(res);
    expect(tree(dest)).toEqual(['etc/', 'etc/passwd', 'pw2']);
    expect(fs.statSync(path.join(dest, 'pw2')).ino).toBe(fs.statSync(path.join(dest, 'etc/passwd')).ino);
    expect(fs.statSync(path.join(dest, 'pw2')).nlink).toBe(2);
    for (const p of ['/pw', '/out', '/abs']) expect(notes.some((n) => n.startsWith(`refused ${p}: a hardlink to `))).toBe(true);
  });

  test('hardlinks through a symlink, to a symlink or to a directory are refused', async () => {
    const { dest, res } = await unpackCase((outside) => [
      { name: 's', type: 'symlink', linkname: outside },
      { name: 'h', type: 'link', linkname: 's/secret' },
      { name: 'sl', type: 'symlink', linkname: `${outside}/secret` },
      { name: 'h2', type: 'link', linkname: 'sl' },
      { name: 'd/', type: 'directory' },
      { name: 'h3', type: 'link', linkname: 'd' },
    ]);
    const notes = notesOf(res);
    expect(tree(dest)).toEqual(['d/', 's', 'sl']);
    expect(notes.some((n) => n.startsWith('refused /h: ') && n.includes('through /s, which is a symlink'))).toBe(true);
    expect(notes.some((n) => n.startsWith('refused /h2: ') && n.includes('which is a symlink, not a regular file'))).toBe(true);
    expect(notes.some((n) => n.startsWith('refused /h3: ') && n.includes('which is a directory'))).toBe(true);
  });

  test('whiteouts named .wh., .wh.., .wh..., .wh.../x and aufs metadata are refused', async () => {
    const { dest, res } = await unpackCase(() => [
      { name: '.wh.', data: '' },
      { name: '.wh..', data: '' },
      { name: '.wh...', data: '' },
      { name: '.wh.../x', data: 'x' },
      { name: 'd/.wh...', data: '' },
      { name: 'd/.wh.../y', data: '' },
      { name: '.wh..wh.plnk/', type: 'directory' },
      { name: 'ok', data: 'ok' },
    ]);
    const notes = notesOf(res);
    expect(tree(dest)).toEqual(['ok']);
    expect(notes.filter((n) => n.startsWith('refused '))).toHaveLength(7);
  });

  test('a whiteout or opaque marker through a symlink is refused', async () => {
    const { dest, res } = await unpackCase((outside) => [
      { name: 's', type: 'symlink', linkname: outside },
      { name: 's/.wh.secret', data: '' },
      { name: 's/.wh..wh..opq', data: '' },
      { name: 's/dir/.wh.file', data: '' },
    ]);
    const notes = notesOf(res);
    expect(tree(dest)).toEqual(['s']);
    expect(notes.filter((n) => n.includes('/s is a symlink'))).toHaveLength(3);
  });

  test('device nodes are skipped with a note, and the rest of the layer applies', async () => {
    const { dest, res } = await unpackCase(() => [
      { name: 'dev/', type: 'directory' },
      { name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0, mode: 0o660 },
      { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
      { name: 'etc/hostname', data: 'box\n' },
    ]);
    const notes = notesOf(res);
    expect(notes).toEqual([
      'skipped device node /dev/sda: device nodes cannot be created without root',
      'skipped device node /dev/null: device nodes cannot be created without root',
    ]);
    expect(tree(dest)).toEqual(['dev/', 'etc/', 'etc/hostname']);
    expect(res.result!.entries).toBe(4);
  });

  test('a tar that ends early fails with LAYER_CORRUPT and writes nothing outside', async () => {
    const c = newCase();
    const tar = await makeTar([{ name: 'big', data: randomBytes(100_000) }]);
    fs.writeFileSync(path.join(c.dir, 'cut.tar'), tar.subarray(0, 50_000));
    const before = snapshot(c.dir, c.dest);
    const r = inNs(['unpack', path.join(c.dir, 'cut.tar'), c.dest]);
    expect(r.ok).toBe(false);
    expect(r.error!.code).toBe('LAYER_CORRUPT');
    expect(r.error!.message).toMatch(/cut\.tar.*not a valid tar archive/);
    expect(snapshot(c.dir, c.dest)).toEqual(before);
  });
});

const CAP_V2 = Buffer.from([
  // vfs_cap_data revision 2 (linux/capability.h): magic_etc = VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE,
  // then permitted/inheritable low and high words: CAP_SETUID (bit 7) permitted — a byte ≥ 0x80.
  0x01, 0x00, 0x00, 0x02, 0x80, 0x00, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
]);
const LONG = 'usr/share/' + 'very-long-directory-name/'.repeat(6) + 'file-with-a-long-name.txt';
const OLD = new Date('2001-02-03T04:05:06Z');

describe.each(['native', 'tools'] as const)('unpackLayer applies an ordinary layer exactly (%s xattr/mknod calls)', (ops) => {
  test('owners through the id mapping, modes, links, fifos, xattrs, names, times, whiteouts, opaque dirs', async () => {
    const { dest, res, tar } = await unpackCase(() => [
      { name: './', type: 'directory', mode: 0o755 },
      { name: 'etc/', type: 'directory', mode: 0o755 },
      { name: 'etc/owned', data: 'mine', uid: 1000, gid: 1000, mode: 0o640 },
      { name: 'usr/bin/su', data: '#!', mode: 0o4755 },
      { name: 'bin/sgid', data: '#!', mode: 0o2755, gid: 42 },
      { name: 'srv/shared/', type: 'directory', mode: 0o2775, uid: 1000, gid: 1000 },
      { name: 'tmp/', type: 'directory', mode: 0o1777 },
      { name: 'lib', type: 'symlink', linkname: 'usr/lib' },
      { name: 'abs', type: 'symlink', linkname: '/nonexistent/../target' },
      { name: 'usr/lib/a', data: 'shared', mode: 0o644 },
      { name: 'usr/lib/b', type: 'link', linkname: 'usr/lib/a' },
      { name: 'run/fifo', type: 'fifo', mode: 0o620 },
      { name: 'cap', data: 'binary', mode: 0o755, pax: { 'SCHILY.xattr.security.capability': 'C'.repeat(20), 'SCHILY.xattr.user.bin': 'BB', 'SCHILY.xattr.user.text': 'hello' } },
      { name: 'cafX', data: 'latin1 name', pax: {} as Record<string, string> },
      { name: LONG, data: 'long' },
      { name: 'old/', type: 'directory', mtime: OLD, mode: 0o755 },
      { name: 'old/child', data: 'c', mtime: OLD },
      { name: '.wh.gone', data: '' },
      { name: 'etc/.wh.removed', data: '' },
      { name: 'opq/kept-before', data: 'k' },
      { name: 'opq/.wh..wh..opq', data: '' },
      { name: 'opq/kept', data: 'k' },
      // Whiteout and opaque directory with non-UTF-8 names (bytes e9): the byte-safe paths of the xattr/mknod calls.
      { name: '.wh.whY', data: '', pax: {} as Record<string, string> },
      { name: 'dY/.wh..wh..opq', data: '', pax: {} as Record<string, string> },
    ], {
      ops,
      patches: [
        ['path=.wh.whY', Buffer.concat([Buffer.from('path=.wh.wh'), Buffer.from([0xe9])])],
        ['path=dY/', Buffer.concat([Buffer.from('path=d'), Buffer.from([0xe9]), Buffer.from('/')])],
        ['security.capability=' + 'C'.repeat(20), Buffer.concat([Buffer.from('security.capability='), CAP_V2])],
        ['user.bin=BB', Buffer.concat([Buffer.from('user.bin='), Buffer.from([0x00, 0xff])])],
        ['path=cafX', Buffer.concat([Buffer.from('path=caf'), Buffer.from([0xe9])])],
      ],
    });
    expect(notesOf(res)).toEqual([]);
    expect(res.result!.diffId).toBe('sha256:' + createHash('sha256').update(tar).digest('hex'));
    const st = (p: string) => fs.lstatSync(path.join(dest, p));

    // Ownership through the mapping: container 1000 is the 1000th subordinate id, container 0 the user.
    expect([st('etc/owned').uid, st('etc/owned').gid]).toEqual([hostUid(1000), hostGid(1000)]);
    expect(st('etc/owned').mode & 0o7777).toBe(0o640);
    expect([st('.').uid, st('usr/bin/su').uid]).toEqual([process.getuid!(), process.getuid!()]);
    expect(st('bin/sgid').gid).toBe(hostGid(42));
    // Special bits survive chown: set-user-ID, set-group-ID, sticky.
    expect(st('usr/bin/su').mode & 0o7777).toBe(0o4755);
    expect(st('bin/sgid').mode & 0o7777).toBe(0o2755);
    expect(st('srv/shared').mode & 0o7777).toBe(0o2775);
    expect(st('srv/shared').uid).toBe(hostUid(1000));
    expect(st('tmp').mode & 0o7777).toBe(0o1777);
    // Symlink targets verbatim, never resolved.
    expect(fs.readlinkSync(path.join(dest, 'lib'))).toBe('usr/lib');
    expect(fs.readlinkSync(path.join(dest, 'abs'))).toBe('/nonexistent/../target');
    // A hardlink within the layer.
    expect(st('usr/lib/b').ino).toBe(st('usr/lib/a').ino);
    expect(st('usr/lib/a').nlink).toBe(2);
    expect(st('run/fifo').isFIFO()).toBe(true);
    expect(st('run/fifo').mode & 0o7777).toBe(0o620);
    // xattrs with binary values, read back inside the namespace (where the capability reads as v2).
    expect(nsXattrs(path.join(dest, 'cap'), ops)).toEqual({
      'security.capability': CAP_V2.toString('hex'), 'user.bin': '00ff', 'user.text': Buffer.from('hello').toString('hex'),
    });
    // Names are bytes: a non-UTF-8 pax path arrives as those bytes.
    expect(fs.readdirSync(dest, { encoding: 'buffer' }).some((n) => n.equals(Buffer.from([0x63, 0x61, 0x66, 0xe9])))).toBe(true);
    expect(fs.readFileSync(path.join(dest, LONG), 'utf8')).toBe('long');
    // Times, directories' included although entries were created inside them afterwards.
    expect(st('old').mtimeMs).toBe(OLD.getTime());
    expect(st('old/child').mtimeMs).toBe(OLD.getTime());
    expect(st('etc/owned').mtimeMs).toBe(1_600_000_000_000);
    // Whiteouts as 0:0 character devices; the opaque marker as an xattr, hiding nothing of this layer.
    expect(isWhiteout(path.join(dest, 'gone'))).toBe(true);
    expect(isWhiteout(path.join(dest, 'etc/removed'))).toBe(true);
    expect(nsXattrs(path.join(dest, 'opq'), ops)).toEqual({ 'user.overlay.opaque': '79' });
    expect(fs.readdirSync(path.join(dest, 'opq')).sort()).toEqual(['kept', 'kept-before']);
    const latin1 = (rel: string) => Buffer.concat([Buffer.from(dest + '/'), Buffer.from(rel, 'latin1')]);
    expect(isWhiteout(latin1('wh\xe9'))).toBe(true);
    expect(toolFsOps.getXattr(latin1('d\xe9'), 'user.overlay.opaque')?.toString()).toBe('y');
  });

  test('a later entry replaces an earlier one of the same name; whiteouts never hide this layer', async () => {
    const { dest, res } = await unpackCase(() => [
      { name: 'a', data: 'file first' },
      { name: 'a/', type: 'directory', mode: 0o750 },
      { name: 'a/x', data: 'x' },
      { name: 'b/', type: 'directory' },
      { name: 'b/y', data: 'y' },
      { name: 'b', data: 'file now' },
      { name: 'c/', type: 'directory', mode: 0o755 },
      { name: 'c/z', data: 'z' },
      { name: 'c/', type: 'directory', mode: 0o750, uid: 1000 },
      { name: 'd', type: 'symlink', linkname: 'elsewhere' },
      { name: 'd', data: 'file over symlink' },
      { name: 'e', data: 'file' },
      { name: 'e', type: 'symlink', linkname: 'target' },
      // Whiteout then directory: the lower "f" is gone and this one is new — opaque.
      { name: '.wh.f', data: '' },
      { name: 'f/g', data: 'g' },
      // Directory then whiteout: same meaning, the directory's contents stay.
      { name: 'h/', type: 'directory' },
      { name: 'h/i', data: 'i' },
      { name: '.wh.h', data: '' },
      // File then whiteout: the file already hides the lower one and stays.
      { name: 'j', data: 'j' },
      { name: '.wh.j', data: '' },
    ], { ops });
    expect(notesOf(res)).toEqual([]);
    const st = (p: string) => fs.lstatSync(path.join(dest, p));
    expect(st('a').isDirectory()).toBe(true);
    expect(st('a').mode & 0o7777).toBe(0o750);
    expect(fs.readFileSync(path.join(dest, 'b'), 'utf8')).toBe('file now');
    expect(fs.readdirSync(path.join(dest, 'c'))).toEqual(['z']);
    expect([st('c').mode & 0o7777, st('c').uid]).toEqual([0o750, hostUid(1000)]);
    expect(fs.readFileSync(path.join(dest, 'd'), 'utf8')).toBe('file over symlink');
    expect(fs.readlinkSync(path.join(dest, 'e'))).toBe('target');
    expect(st('f').isDirectory()).toBe(true);
    expect(nsXattrs(path.join(dest, 'f'), ops)).toEqual({ 'user.overlay.opaque': '79' });
    expect(nsXattrs(path.join(dest, 'h'), ops)).toEqual({ 'user.overlay.opaque': '79' });
    expect(fs.readdirSync(path.join(dest, 'h'))).toEqual(['i']);
    expect(fs.readFileSync(path.join(dest, 'j'), 'utf8')).toBe('j');
    expect(tree(dest)).toEqual(['a/', 'a/x', 'b', 'c/', 'c/z', 'd', 'e', 'f/', 'f/g', 'h/', 'h/i', 'j']);
  });
});

describe.each(['native', 'tools'] as const)('applyLayerDir (vfs driver) copies layers as overlayfs would show them (%s xattr/mknod calls)', (ops) => {
  test('whiteouts remove lower files, opaque dirs hide lower contents, lower symlinks are not followed', async () => {
    const c = newCase();
    const lower = await makeTar([
      { name: 'etc/passwd', data: 'root:x:0:0' },
      { name: 'etc/group', data: 'root:x:0:' },
      { name: 'opq/old1', data: '1' },
      { name: 'opq/sub/old2', data: '2' },
      { name: 'sym', type: 'symlink', linkname: c.outside },
      { name: 'symdir', type: 'symlink', linkname: c.outside },
      { name: 'file-to-dir', data: 'f' },
      { name: 'dir-to-file/child', data: 'c' },
      { name: 'gone-dir/deep/file', data: 'x' },
    ]);
    const upper = await makeTar([
      { name: 'etc/.wh.passwd', data: '' },
      { name: '.wh.gone-dir', data: '' },
      { name: 'opq/.wh..wh..opq', data: '' },
      { name: 'opq/new', data: 'n' },
      { name: 'sym/', type: 'directory', mode: 0o755 },
      { name: 'sym/b', data: 'pwned?' },
      { name: 'symdir/.wh.secret', data: '' },
      { name: 'file-to-dir/', type: 'directory' },
      { name: 'file-to-dir/x', data: 'x' },
      { name: 'dir-to-file', data: 'now a file' },
      { name: 'bin/su', data: '#!', mode: 0o4755, uid: 1000, gid: 1000, pax: { 'SCHILY.xattr.user.note': 'kept' } },
      // As tar writers do, the link's header repeats the target's metadata (the link's header is applied).
      { name: 'bin/su2', type: 'link', linkname: 'bin/su', mode: 0o4755, uid: 1000, gid: 1000, pax: { 'SCHILY.xattr.user.note': 'kept' } },
      { name: 'run/fifo', type: 'fifo', mode: 0o600 },
      { name: 'link', type: 'symlink', linkname: '../../../outside/secret' },
      { name: 'old/', type: 'directory', mtime: OLD },
    ]);
    const lowerDir = path.join(c.dir, 'lower');
    const upperDir = path.join(c.dir, 'upper');
    const rootfs = path.join(c.dir, 'rootfs');
    for (const d of [lowerDir, upperDir, rootfs]) fs.mkdirSync(d);
    fs.writeFileSync(path.join(c.dir, 'lower.tar'), lower);
    fs.writeFileSync(path.join(c.dir, 'upper.tar'), upper);
    expect(notesOf(inNs(['unpack', path.join(c.dir, 'lower.tar'), lowerDir]))).toEqual([]);
    expect(notesOf(inNs(['unpack', path.join(c.dir, 'upper.tar'), upperDir]))).toEqual([]);
    const outsideBefore = snapshot(c.outside, '');
    const lowerBefore = snapshot(lowerDir, '');
    const upperBefore = snapshot(upperDir, '');

    expect(notesOf(inNs(['apply', lowerDir, rootfs], ops))).toEqual([]);
    expect(notesOf(inNs(['apply', upperDir, rootfs], ops))).toEqual([]);

    expect(snapshot(c.outside, '')).toEqual(outsideBefore);
    expect(snapshot(lowerDir, '')).toEqual(lowerBefore);
    expect(snapshot(upperDir, '')).toEqual(upperBefore);
    expect(tree(rootfs)).toEqual([
      'bin/', 'bin/su', 'bin/su2', 'dir-to-file', 'etc/', 'etc/group', 'file-to-dir/', 'file-to-dir/x', 'link',
      'old/', 'opq/', 'opq/new', 'run/', 'run/fifo', 'sym/', 'sym/b', 'symdir/',
    ]);
    const st = (p: string) => fs.lstatSync(path.join(rootfs, p));
    expect([st('bin/su').uid, st('bin/su').gid, st('bin/su').mode & 0o7777]).toEqual([hostUid(1000), hostGid(1000), 0o4755]);
    expect(st('bin/su2').ino).toBe(st('bin/su').ino);
    expect(st('run/fifo').isFIFO()).toBe(true);
    expect(fs.readlinkSync(path.join(rootfs, 'link'))).toBe('../../../outside/secret');
    expect(st('old').mtimeMs).toBe(OLD.getTime());
    expect(fs.readFileSync(path.join(rootfs, 'dir-to-file'), 'utf8')).toBe('now a file');
    // xattrs are copied, overlayfs' own are not: the rootfs is a plain tree.
    expect(nsXattrs(path.join(rootfs, 'bin/su'), ops)).toEqual({ 'user.note': Buffer.from('kept').toString('hex') });
    expect(nsXattrs(path.join(rootfs, 'opq'), ops)).toEqual({});
  });
});
