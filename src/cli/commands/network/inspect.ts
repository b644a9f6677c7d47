// `lodger network inspect`: Show details of user networks.
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../../base';

export class NetworkInspectCommand extends LodgerCommand {
  static override paths = [['network', 'inspect']];
  static override usage = Command.Usage({ description: 'Show details of user networks' });
  format = Option.String('-f,--format', { description: 'Go template' });
  networks = Option.Rest({ required: 1 });
  async run(): Promise<number> {
    const { inspectNetwork, formatNetworkInspect } = await import('../../../network/userNetwork');
    const p = await this.store();
    const docs = this.networks.map((n) => formatNetworkInspect(inspectNetwork(p.root, n)));
    if (this.format) {
      const { renderTemplate } = await import('../../template');
      for (const d of docs) this.context.stdout.write(renderTemplate(this.format, d) + '\n');
    } else this.context.stdout.write(JSON.stringify(docs, null, 4) + '\n');
    return 0;
  }
}
