// `lodger network inspect`: Show details of user networks.
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../../base';

export class NetworkInspectCommand extends LodgerCommand {
  static override paths = [['network', 'inspect']];
  static override usage = Command.Usage({ description: 'Show details of user networks' });
  format = Option.String('-f,--format', { description: 'json (default) or a Go template, e.g. {{.IPAM.Config}}' });
  networks = Option.Rest({ required: 1 });
  async run(): Promise<number> {
    const { inspectNetwork, formatNetworkInspect } = await import('../../../network/userNetwork');
    const p = await this.store();
    const docs = this.networks.map((n) => formatNetworkInspect(inspectNetwork(p.root, n)));
    const { renderDocuments } = await import('../../formatted');
    this.context.stdout.write(renderDocuments(docs, this.format, { array: true }));
    return 0;
  }
}
