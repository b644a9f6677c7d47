// `lodger network ls`: List user networks.
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../../base';
import { table } from '../../format';

export class NetworkLsCommand extends LodgerCommand {
  static override paths = [['network', 'ls'], ['network', 'list']];
  static override usage = Command.Usage({ description: 'List user networks' });
  quiet = Option.Boolean('-q,--quiet', false);
  format = Option.String('--format', { description: 'table (default) or json' });
  async run(): Promise<number> {
    const { listNetworks, formatNetworkList, formatNetworkInspect } = await import('../../../network/userNetwork');
    const nets = listNetworks((await this.store()).root);
    if (this.quiet) this.context.stdout.write(nets.map((n) => n.name + '\n').join(''));
    else if (this.format === 'json') this.context.stdout.write(JSON.stringify(nets.map(formatNetworkInspect), null, 2) + '\n');
    else this.context.stdout.write(table(formatNetworkList(nets)));
    return 0;
  }
}
