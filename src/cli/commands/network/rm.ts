// `lodger network rm`: Remove user networks.
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../../base';

export class NetworkRmCommand extends LodgerCommand {
  static override paths = [['network', 'rm'], ['network', 'remove']];
  static override usage = Command.Usage({ description: 'Remove user networks' });
  force = Option.Boolean('-f,--force', false, { description: 'Also when containers are attached' });
  networks = Option.Rest({ required: 1 });
  async run(): Promise<number> {
    const { deleteNetwork } = await import('../../../network/userAttach');
    const p = await this.store();
    return this.eachRef(this.networks, async (n) => (await deleteNetwork(p.root, p.runtime, n, { force: this.force })).name);
  }
}
