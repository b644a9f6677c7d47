// `lodger version`: Show the lodger version.
import { Command, Option } from 'clipanion';
import * as fs from 'node:fs';
import { LodgerCommand } from '../base';

export class VersionCommand extends LodgerCommand {
  static override paths = [['version'], ['--version']];
  static override usage = Command.Usage({
    description: 'Show the lodger version',
    details: 'FORMAT is `json` or a Go template over Docker\'s shape: Client and Server (the same engine: lodger has no daemon), each with Version, ApiVersion, NodeVersion, Os, Arch.',
    examples: [['Just the number', "lodger version --format '{{.Client.Version}}'"]],
  });
  format = Option.String('-f,--format', { description: 'json or a Go template, e.g. {{.Client.Version}}' });
  async run(): Promise<number> {
    const { packageRoot } = await import('../../helper/native');
    const pkg = JSON.parse(fs.readFileSync(`${packageRoot()}/package.json`, 'utf8')) as { version: string };
    if (this.format === undefined) {
      this.context.stdout.write(`lodger version ${pkg.version}\nnode ${process.version}\n`);
      return 0;
    }
    const side = { Version: pkg.version, ApiVersion: '1.41', NodeVersion: process.version, Os: process.platform, Arch: process.arch === 'x64' ? 'amd64' : process.arch };
    const { renderDocuments } = await import('../formatted');
    this.context.stdout.write(renderDocuments([{ Client: side, Server: side }], this.format, { array: false, indent: 0 }));
    return 0;
  }
}
