// `lodger network create`: Create a user network: containers on it reach each other by name and address.
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../../base';

export class NetworkCreateCommand extends LodgerCommand {
  static override paths = [['network', 'create']];
  static override usage = Command.Usage({ description: 'Create a user network: containers on it reach each other by name and address', examples: [['A network', 'lodger network create app && lodger run -d --network app --name db busybox sleep 1d']] });
  subnet = Option.String('--subnet', { description: 'IPv4 subnet, e.g. 10.89.1.0/24' });
  gateway = Option.String('--gateway', { description: 'Gateway address in the subnet' });
  internal = Option.Boolean('--internal', false, { description: 'No outbound access' });
  disableDns = Option.Boolean('--disable-dns', false, { description: 'No name resolution of containers' });
  label = Option.Array('-l,--label', [], { description: 'Label K=V' });
  name = Option.String({ required: true });
  async run(): Promise<number> {
    const { createNetwork } = await import('../../../network/userNetwork');
    const p = await this.store();
    const labels = Object.fromEntries(this.label.map((l) => [l.split('=')[0], l.split('=').slice(1).join('=')]));
    const rec = await createNetwork(p.root, this.name, { subnet: this.subnet, gateway: this.gateway, internal: this.internal, disableDns: this.disableDns, labels });
    this.context.stdout.write(rec.name + '\n');
    return 0;
  }
}
