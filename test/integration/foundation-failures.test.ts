// Issue 2, failures a user meets: an image whose /etc/passwd is a symlink out of the image (to the host's
// /etc/shadow, or to a host file lodger could read), and lodger's own refusals with Docker's exit codes.
// (A user without a subuid range: foundation-userns; 126/127 and a missing -v source: foundation-process.)
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeTree, requirePrereq, requireTool, runLodger, runLodgerOk, type Store } from '../helpers/cli';
import { buildOciLayout, ociToDockerArchive } from '../helpers/fixtures';
import { bbsh, busyboxFixture, busyboxStore, expectLodgerFailure, haveSubids, psAllIds } from './foundation-common';

const ok = haveSubids() && requireTool('skopeo');

let store: Store;
let work: string;
/** A host file that looks like a passwd with "someuser" in it, readable by the test user. */
let bait: string;

/** busybox whose /etc/passwd (and /etc/group) are symlinks to TARGET(S) outside the image. */
async function loadSymlinkedPasswd(tag: string, passwdTarget: string, groupTarget: string | null, user?: string): Promise<string> {
  const oci = path.join(work, `oci-${tag}`);
  const files = [{ path: 'etc/passwd', type: 'symlink' as const, target: passwdTarget }];
  if (groupTarget) files.push({ path: 'etc/group', type: 'symlink' as const, target: groupTarget });
  await buildOciLayout(oci, {
    tag,
    layers: [{ tarFile: busyboxFixture()!.tar }, { files }],
    config: { Cmd: ['id'], User: user },
  });
  const ref = `localhost/symlinked:${tag}`;
  await runLodgerOk(['load', '-i', await ociToDockerArchive(oci, tag, path.join(work, `${tag}.tar`), ref)], { store });
  return ref;
}

beforeAll(async () => {
  if (!ok) return;
  store = await busyboxStore();
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'lodger-fnd-fail-'));
  bait = path.join(work, 'bait-passwd');
  fs.writeFileSync(bait, 'root:x:0:0:root:/root:/bin/sh\nsomeuser:x:4321:4321:bait:/:/bin/sh\n');
  fs.chmodSync(work, 0o755);
});
afterAll(async () => {
  await store?.cleanup();
  if (work) await removeTree(work);
});

describe.skipIf(!ok)('an image whose /etc/passwd is a symlink out of the image', () => {
  const shadowUnreadable = (() => {
    try {
      fs.accessSync('/etc/shadow', fs.constants.R_OK);
      return false;
    } catch {
      return true;
    }
  })();

  it.skipIf(!requirePrereq(shadowUnreadable, 'the test user must not be able to read /etc/shadow'))(
    '→ /etc/shadow: `-u someuser` fails saying the user is not in the image\'s passwd; `-u 0` works',
    async () => {
      const ref = await loadSymlinkedPasswd('shadow', '/etc/shadow', '/etc/gshadow');
      const r = await runLodger(['run', '--rm', '-u', 'someuser', ref], { store });
      expectLodgerFailure(r, /someuser/);
      expect(r.stderr).toMatch(/not in the image's \/etc\/passwd/);
      // Had lodger opened the host's file it would have said so (permission denied), not "not in passwd".
      expect(r.stderr).not.toMatch(/permission denied|EACCES|shadow/i);
      const root = await runLodger(['run', '--rm', '-u', '0', ref], { store });
      expect(root.code, root.stderr).toBe(0);
      expect(root.stdout).toMatch(/^uid=0\b/);
    },
  );

  it('→ a host file lodger could read that lists "someuser": still not a user of the image', async () => {
    const ref = await loadSymlinkedPasswd('bait', bait, null);
    const r = await runLodger(['run', '--rm', '-u', 'someuser', ref], { store });
    expectLodgerFailure(r, /someuser/);
    expect(r.stdout).not.toMatch(/4321/);
    const root = await runLodger(['run', '--rm', '-u', '0', ref], { store });
    expect(root.code, root.stderr).toBe(0);
  });

  it('→ a relative symlink climbing out (../../..): the same', async () => {
    const rel = `../../../../../../../..${bait}`;
    const ref = await loadSymlinkedPasswd('relative', rel, null);
    const r = await runLodger(['run', '--rm', '-u', 'someuser', ref], { store });
    expectLodgerFailure(r, /someuser/);
    expect(r.stdout).not.toMatch(/4321/);
  });

  it('the image\'s own User naming such a user fails the same way, and leaves no --rm container', async () => {
    const before = await psAllIds(store);
    const ref = await loadSymlinkedPasswd('imguser', bait, null, 'someuser');
    const r = await runLodger(['run', '--rm', ref], { store });
    expectLodgerFailure(r, /someuser/);
    expect(await psAllIds(store)).toEqual(before);
  });

  it('a numeric -u needs no passwd: the container runs as that uid', async () => {
    const ref = await loadSymlinkedPasswd('numeric', bait, null);
    const r = await runLodger(['run', '--rm', '-u', '4321', ref, 'id', '-u'], { store });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('4321\n');
  });
});

describe.skipIf(!ok)('lodger\'s own refusals exit 125 with one clear line', () => {
  it('an unknown storage driver', async () => {
    expectLodgerFailure(await bbsh(store, 'true', ['--storage-driver', 'zfs']), /zfs/);
  });

  it('an unsupported --userns mode', async () => {
    expectLodgerFailure(await bbsh(store, 'true', ['--userns', 'keep-id:uid=5']), /userns/);
  });

  it('a -v with a relative container path', async () => {
    expectLodgerFailure(await bbsh(store, 'true', ['-v', `${os.tmpdir()}:relative`]), /absolute/);
  });

  it('an image that is not in the store, with --pull never', async () => {
    expectLodgerFailure(await runLodger(['run', '--rm', '--pull', 'never', 'localhost/absent:1', 'true'], { store }), /absent/);
  });

  it('no command at all (an image without Cmd or Entrypoint, none given)', async () => {
    const oci = path.join(work, 'oci-nocmd');
    await buildOciLayout(oci, { tag: 'nocmd', layers: [{ tarFile: busyboxFixture()!.tar }] });
    await runLodgerOk(['load', '-i', await ociToDockerArchive(oci, 'nocmd', path.join(work, 'nocmd.tar'), 'localhost/nocmd:1')], { store });
    expectLodgerFailure(await runLodger(['run', '--rm', 'localhost/nocmd:1'], { store }), /command/);
  });

  it('a working directory that is not a directory', async () => {
    const r = await bbsh(store, 'true', ['-w', '/etc/passwd']);
    expectLodgerFailure(r, /\/etc\/passwd/);
  });
});
