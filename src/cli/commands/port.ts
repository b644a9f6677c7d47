// `lodger port`: .
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../base';

export class PortCommand extends LodgerCommand {
  static override paths = [['port'], ['container', 'port']];
  static override usage = Command.Usage({ description: "List a container's published ports, or where one port is published", examples: [['One port', 'lodger port web 80/tcp']] });
  container = Option.String({ required: true });
  port = Option.String({ required: false });
  async run(): Promise<number> {
    const { resolveContainer } = await import('../../storage/containers');
    const { readNetworkInfo } = await import('../../containers/networkSetup');
    const { formatPortMappings, lookupPublishedPort } = await import('../../network/ports');
    const p = await this.store();
    const id = resolveContainer(p, this.container);
    const mappings = readNetworkInfo(p, id)?.Mappings ?? [];
    const lines = this.port ? lookupPublishedPort(mappings, this.port, this.container) : formatPortMappings(mappings);
    for (const l of lines) this.context.stdout.write(l + '\n');
    return 0;
  }
}
