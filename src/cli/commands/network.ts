// `lodger port` and `lodger network create|ls|rm|inspect`: published ports and rootless user networks.
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../base';
import { table } from '../format';

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
    const { createNetwork } = await import('../../network/userNetwork');
    const p = await this.store();
    const labels = Object.fromEntries(this.label.map((l) => [l.split('=')[0], l.split('=').slice(1).join('=')]));
    const rec = await createNetwork(p.root, this.name, { subnet: this.subnet, gateway: this.gateway, internal: this.internal, disableDns: this.disableDns, labels });
    this.context.stdout.write(rec.name + '\n');
    return 0;
  }
}

export class NetworkLsCommand extends LodgerCommand {
  static override paths = [['network', 'ls'], ['network', 'list']];
  static override usage = Command.Usage({ description: 'List user networks' });
  quiet = Option.Boolean('-q,--quiet', false);
  format = Option.String('--format', { description: 'table (default) or json' });
  async run(): Promise<number> {
    const { listNetworks, formatNetworkList, formatNetworkInspect } = await import('../../network/userNetwork');
    const nets = listNetworks((await this.store()).root);
    if (this.quiet) this.context.stdout.write(nets.map((n) => n.name + '\n').join(''));
    else if (this.format === 'json') this.context.stdout.write(JSON.stringify(nets.map(formatNetworkInspect), null, 2) + '\n');
    else this.context.stdout.write(table(formatNetworkList(nets)));
    return 0;
  }
}

export class NetworkRmCommand extends LodgerCommand {
  static override paths = [['network', 'rm'], ['network', 'remove']];
  static override usage = Command.Usage({ description: 'Remove user networks' });
  force = Option.Boolean('-f,--force', false, { description: 'Also when containers are attached' });
  networks = Option.Rest({ required: 1 });
  async run(): Promise<number> {
    const { deleteNetwork } = await import('../../network/userAttach');
    const p = await this.store();
    return this.eachRef(this.networks, async (n) => (await deleteNetwork(p.root, p.runtime, n, { force: this.force })).name);
  }
}

export class NetworkInspectCommand extends LodgerCommand {
  static override paths = [['network', 'inspect']];
  static override usage = Command.Usage({ description: 'Show details of user networks' });
  format = Option.String('-f,--format', { description: 'Go template' });
  networks = Option.Rest({ required: 1 });
  async run(): Promise<number> {
    const { inspectNetwork, formatNetworkInspect } = await import('../../network/userNetwork');
    const p = await this.store();
    const docs = this.networks.map((n) => formatNetworkInspect(inspectNetwork(p.root, n)));
    if (this.format) {
      const { renderTemplate } = await import('../template');
      for (const d of docs) this.context.stdout.write(renderTemplate(this.format, d) + '\n');
    } else this.context.stdout.write(JSON.stringify(docs, null, 4) + '\n');
    return 0;
  }
}
