// `--device`: host device nodes (`/dev/xyz[:/dev/abc][:rwm]`) and CDI devices (`vendor.com/class=name`) become binds, mounts and env of the container record.
//
// A user namespace cannot create device nodes (mknod(2) needs CAP_MKNOD in the initial namespace), so
// a device is the host's own node bound at its path in the container, as runc does rootless and as
// lodger does for /dev/null. Access is then whatever the host node's owner and mode allow the user.
// Docker's r/w/m permissions are enforced with the device cgroup — on cgroup v2 an eBPF program that
// only a privileged process can attach (cgroup-v2.rst, "Device controller") — so lodger cannot narrow
// access to a node it binds: a request for less than rw is refused rather than silently widened.
import type { MountFlag } from '../helper/plan';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LodgerError } from '../errors';
import type { MountRecord } from '../storage/containers';
import { cdiEdits, isCdiName, loadCdiRegistry, resolveCdiDevices, type DeviceBind } from './cdi';

export type { DeviceBind } from './cdi';

export interface DeviceRequests {
  devices: DeviceBind[];
  mounts: MountRecord[];
  env: string[];
  /** The CDI names asked for, as Docker records them (HostConfig.DeviceRequests, driver "cdi"). */
  cdi: string[];
}

function checkPermissions(perms: string, what: string): void {
  if (!/^[rwm]+$/.test(perms)) throw new LodgerError('BAD_DEVICE', `${what}: permissions "${perms}" may hold only r, w and m`);
  if (!perms.includes('r') || !perms.includes('w')) {
    throw new LodgerError('DEVICE_PERMISSIONS', `${what}: lodger cannot restrict a device to "${perms}" — that needs the device cgroup, which only root can program; give rw or rwm (or leave the permissions out) and rely on the host node's own mode`);
  }
}

/** The host node (or a directory of nodes, e.g. /dev/dri) to bind; symlinks (/dev/disk/by-id/…) are followed. */
function checkHostDevice(host: string, what: string): void {
  let st: fs.Stats;
  try { st = fs.statSync(host); } catch (e) {
    throw new LodgerError('DEVICE_NOT_FOUND', `${what}: ${host} does not exist on this host (${(e as NodeJS.ErrnoException).code}) — check the path, or load the driver that creates it`);
  }
  if (!st.isCharacterDevice() && !st.isBlockDevice() && !st.isDirectory()) {
    throw new LodgerError('NOT_A_DEVICE', `${what}: ${host} is not a device node — use -v to bind an ordinary file or directory`);
  }
}

/** Docker's `--device HOST[:CONTAINER][:PERMISSIONS]`. */
export function parseDeviceFlag(spec: string): DeviceBind {
  const what = `--device ${spec}`;
  const parts = spec.split(':');
  let [host, inside, perms] = [parts[0], parts[0], 'rwm'];
  if (parts.length === 2) {
    if (/^[rwm]+$/.test(parts[1])) perms = parts[1];
    else inside = parts[1];
  } else if (parts.length === 3) {
    [host, inside, perms] = parts;
  } else if (parts.length > 3) {
    throw new LodgerError('BAD_DEVICE', `${what}: expected HOST[:CONTAINER][:PERMISSIONS], e.g. /dev/fuse or /dev/sdb:/dev/xvdc:rwm`);
  }
  if (!host.startsWith('/')) throw new LodgerError('BAD_DEVICE', `${what}: the host device must be an absolute path (or a CDI name VENDOR/CLASS=NAME)`);
  if (!inside.startsWith('/')) throw new LodgerError('BAD_DEVICE', `${what}: the container path must be absolute`);
  checkPermissions(perms, what);
  checkHostDevice(host, what);
  return { PathOnHost: host, PathInContainer: path.posix.normalize(inside), CgroupPermissions: perms };
}

const MOUNT_FLAGS = ['ro', 'nosuid', 'nodev', 'noexec'];
const IGNORED_MOUNT_OPTIONS = ['rw', 'bind', 'rbind', 'private', 'rprivate', 'slave', 'rslave', 'relatime', 'norelatime'];

/** Resolves every --device value: paths directly, CDI names through the spec files (cdi.ts). */
export function resolveDeviceRequests(values: string[]): DeviceRequests {
  const out: DeviceRequests = { devices: [], mounts: [], env: [], cdi: [] };
  if (values.length === 0) return out;
  for (const v of values) {
    if (isCdiName(v)) out.cdi.push(v);
    else out.devices.push(parseDeviceFlag(v));
  }
  if (out.cdi.length === 0) return out;
  const reg = loadCdiRegistry();
  const edits = cdiEdits(resolveCdiDevices(reg, out.cdi));
  for (const d of edits.devices) {
    const what = `CDI device node ${d.PathInContainer}`;
    checkPermissions(d.CgroupPermissions, what);
    checkHostDevice(d.PathOnHost, what);
    out.devices.push(d);
  }
  for (const m of edits.mounts) {
    const what = `CDI mount ${m.destination}`;
    for (const o of m.options) {
      if (!MOUNT_FLAGS.includes(o) && !IGNORED_MOUNT_OPTIONS.includes(o)) throw new LodgerError('CDI_UNSUPPORTED', `${what}: mount option "${o}" is not supported — lodger carries out ${[...MOUNT_FLAGS, ...IGNORED_MOUNT_OPTIONS].join(', ')}`);
    }
    if (!fs.existsSync(m.source)) throw new LodgerError('BIND_SOURCE', `${what}: its host path ${m.source} does not exist — fix the CDI spec or install what it names`);
    const ro = m.options.includes('ro');
    const flags = m.options.filter((o) => MOUNT_FLAGS.includes(o) && o !== 'ro');
    out.mounts.push({ Type: 'bind', Source: m.source, Destination: path.posix.normalize(m.destination), Mode: [ro ? 'ro' : '', ...flags].filter(Boolean).join(','), RW: !ro, Propagation: 'rprivate' });
  }
  out.env.push(...edits.env);
  return out;
}

/** The helper's bind flags for a bind mount record: recursive, read-only unless RW, plus nosuid/nodev/noexec from its Mode. */
export function bindFlags(m: MountRecord): MountFlag[] {
  const extra = m.Mode.split(',').filter((o): o is MountFlag => o === 'nosuid' || o === 'nodev' || o === 'noexec');
  return ['rec', ...(m.RW ? [] : ['ro' as const]), ...extra];
}
