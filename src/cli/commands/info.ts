// `lodger info`: Show what this host gives lodger: id maps, storage driver, cgroups, network.
import { Command, Option } from 'clipanion';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { LodgerCommand } from '../base';

export class InfoCommand extends LodgerCommand {
  static override paths = [['info'], ['system', 'info']];
  static override usage = Command.Usage({
    description: 'Show what this host gives lodger: id maps, storage driver, cgroups, network',
    details: 'FORMAT is `json` or a Go template. Besides lodger\'s sections (host, user, store, cgroups, network) the document has Docker\'s fields: ID, Name, Containers, ContainersRunning, ContainersPaused, ContainersStopped, Images, Driver, DockerRootDir, ServerVersion, KernelVersion, OperatingSystem, OSType, Architecture, NCPU, MemTotal.',
    examples: [['The storage driver', "lodger info --format '{{.Driver}}'"]],
  });
  format = Option.String('-f,--format', { description: 'json, or a Go template, e.g. {{.Driver}}' });

  async run(): Promise<number> {
    const { gatherInfo } = await import('../../system/info');
    const p = await this.store();
    const info = await gatherInfo(p);
    if (this.format !== undefined) {
      const { renderDocuments } = await import('../formatted');
      this.context.stdout.write(renderDocuments([{ ...(await dockerFields(p, info)), ...info }], this.format, { array: false, indent: 2 }));
      return 0;
    }
    const lines: string[] = [];
    const walk = (o: Record<string, unknown>, indent: string) => {
      for (const [k, v] of Object.entries(o)) {
        if (v && typeof v === 'object' && !Array.isArray(v)) { lines.push(`${indent}${k}:`); walk(v as Record<string, unknown>, indent + '  '); }
        else lines.push(`${indent}${k}: ${Array.isArray(v) ? v.join(', ') : String(v)}`);
      }
    };
    walk(info as unknown as Record<string, unknown>, '');
    this.context.stdout.write(lines.join('\n') + '\n');
    return 0;
  }
}

/** The fields of Docker's `info` that have a meaning here, for templates written against Docker. */
async function dockerFields(p: Awaited<ReturnType<LodgerCommand['store']>>, info: Record<string, unknown>): Promise<Record<string, unknown>> {
  const { containerEntries } = await import('../../storage/containers');
  const { readIndex } = await import('../../storage/images');
  const { packageRoot } = await import('../../helper/native');
  const states = containerEntries(p).map((c) => c.state.Status);
  const count = (s: string) => states.filter((x) => x === s).length;
  let osName = 'Linux';
  try { osName = /^PRETTY_NAME="?([^"\n]*)/m.exec(fs.readFileSync('/etc/os-release', 'utf8'))?.[1] ?? osName; } catch { /* no os-release */ }
  const store = info.store as { storageDriver?: string; root?: string };
  return {
    ID: '', Name: os.hostname(),
    Containers: states.length, ContainersRunning: count('running'), ContainersPaused: count('paused'), ContainersStopped: states.length - count('running') - count('paused'),
    Images: readIndex(p).length, Driver: store.storageDriver ?? '', DockerRootDir: store.root ?? p.root,
    ServerVersion: (JSON.parse(fs.readFileSync(`${packageRoot()}/package.json`, 'utf8')) as { version: string }).version,
    KernelVersion: os.release(), OperatingSystem: osName, OSType: 'linux', Architecture: os.machine(), NCPU: os.cpus().length, MemTotal: os.totalmem(),
  };
}
