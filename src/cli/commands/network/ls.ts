// `lodger network ls`: List user networks.
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../../base';
import { goTime, labelsText, renderFormatted, withLabelMethod, type ListFormat } from '../../formatted';

/** Docker's `network ls` fields and headers (docs.docker.com/reference/cli/docker/network/ls/#format). */
const NETWORK_FORMAT: ListFormat = {
  fields: { ID: 'NETWORK ID', Name: 'NAME', Driver: 'DRIVER', Scope: 'SCOPE', IPv6: 'IPV6', Internal: 'INTERNAL', Labels: 'LABELS', Label: 'LABEL', CreatedAt: 'CREATED' },
  defaultTable: 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}',
};

export class NetworkLsCommand extends LodgerCommand {
  static override paths = [['network', 'ls'], ['network', 'list']];
  static override usage = Command.Usage({
    description: 'List user networks',
    details: 'FORMAT is `table` (the default), `table TEMPLATE`, `json` (one object per line) or a Go template over ID, Name, Driver, Scope, IPv6, Internal, Labels, Label "KEY", CreatedAt.',
  });
  quiet = Option.Boolean('-q,--quiet', false, { description: 'Only network names' });
  noTrunc = Option.Boolean('--no-trunc', false, { description: 'Full network ids' });
  format = Option.String('--format', { description: 'table (default), table TEMPLATE, json, or a Go template' });
  async run(): Promise<number> {
    const { listNetworks } = await import('../../../network/userNetwork');
    const nets = listNetworks((await this.store()).root);
    if (this.quiet) { this.context.stdout.write(nets.map((n) => n.name + '\n').join('')); return 0; }
    const rows = nets.map((n) => withLabelMethod({
      ID: this.noTrunc ? n.id : n.id.slice(0, 12), Name: n.name, Driver: n.driver, Scope: 'local', IPv6: 'false',
      Internal: String(n.internal), Labels: labelsText(n.labels), CreatedAt: goTime(n.created),
    }, n.labels));
    this.context.stdout.write(renderFormatted(rows, this.format, NETWORK_FORMAT));
    return 0;
  }
}
