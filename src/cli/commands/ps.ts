// `lodger ps`: list containers, with their real state (a dead process never shows as running).
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../base';
import { humanAge, statusText, table } from '../format';

export class PsCommand extends LodgerCommand {
  static override paths = [['ps'], ['container', 'ls'], ['container', 'list']];
  static override usage = Command.Usage({ description: 'List containers', examples: [['All, including exited', 'lodger ps -a']] });
  all = Option.Boolean('-a,--all', false, { description: 'Show all containers (default shows just running)' });
  quiet = Option.Boolean('-q,--quiet', false, { description: 'Only container ids' });
  noTrunc = Option.Boolean('--no-trunc', false);
  format = Option.String('--format', { description: 'table (default), json, or a Go template' });
  filter = Option.Array('-f,--filter', [], { description: 'Filter: status=, name=, id=, label=, ancestor=' });

  async run(): Promise<number> {
    const { listContainers } = await import('../../containers/list');
    const now = Date.now();
    // Docker's ps row: the status and ports worded for people, in the order `--format json` has always printed.
    const rows = listContainers(await this.store(), { all: this.all || this.filter.length > 0, filters: this.filter }).map((c) => ({
      Id: c.Id, Image: c.Image, Command: c.Command, Created: c.Created, State: c.State,
      // Docker's words for the health: "Up 3 minutes (healthy)", "(health: starting)".
      Status: statusText({ Status: c.State, StartedAt: c.StartedAt, FinishedAt: c.FinishedAt, ExitCode: c.ExitCode }, now) + (c.Health ? ` (${c.Health === 'starting' ? 'health: starting' : c.Health})` : ''),
      ExitCode: c.ExitCode, Ports: c.Ports.map((m) => `${m.hostIp || '0.0.0.0'}:${m.hostPort}->${m.containerPort}/${m.protocol}`).join(', '),
      Names: c.Names, Labels: c.Labels,
    }));
    if (this.quiet) {
      this.context.stdout.write(rows.map((r) => (this.noTrunc ? r.Id : r.Id.slice(0, 12)) + '\n').join(''));
      return 0;
    }
    if (this.format === 'json') {
      this.context.stdout.write(JSON.stringify(rows, null, 2) + '\n');
      return 0;
    }
    if (this.format && this.format !== 'table') {
      const { renderTemplate } = await import('../template');
      for (const r of rows) this.context.stdout.write(renderTemplate(this.format, r) + '\n');
      return 0;
    }
    const out = [['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES']];
    for (const r of rows) {
      const cmd = r.Command.length > 20 && !this.noTrunc ? r.Command.slice(0, 19) + '…' : r.Command;
      out.push([this.noTrunc ? r.Id : r.Id.slice(0, 12), r.Image, JSON.stringify(cmd), `${humanAge(r.Created)} ago`, r.Status, r.Ports, r.Names]);
    }
    this.context.stdout.write(table(out));
    return 0;
  }
}
