// `lodger version`: Show the lodger version.
import { Command } from 'clipanion';
import * as fs from 'node:fs';
import { LodgerCommand } from '../base';

export class VersionCommand extends LodgerCommand {
  static override paths = [['version'], ['--version']];
  static override usage = Command.Usage({ description: 'Show the lodger version' });
  async run(): Promise<number> {
    const { packageRoot } = await import('../../helper/native');
    const pkg = JSON.parse(fs.readFileSync(`${packageRoot()}/package.json`, 'utf8')) as { version: string };
    this.context.stdout.write(`lodger version ${pkg.version}\nnode ${process.version}\n`);
    return 0;
  }
}
