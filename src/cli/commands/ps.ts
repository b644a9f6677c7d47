// `lodger ps`: list containers, with their real state (a dead process never shows as running).
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../base';
import { humanAge, statusText } from '../format';
import { goTime, labelsText, renderFormatted, withLabelMethod, type ListFormat } from '../formatted';
import type { ContainerSummary } from '../../containers/list';

/** Docker's `ps` fields and headers (docs.docker.com/reference/cli/docker/container/ls/#format). */
export const PS_FORMAT: ListFormat = {
  fields: {
    ID: 'CONTAINER ID', Image: 'IMAGE', Command: 'COMMAND', CreatedAt: 'CREATED AT', RunningFor: 'CREATED', Ports: 'PORTS',
    State: 'STATE', Status: 'STATUS', Size: 'SIZE', Names: 'NAMES', Labels: 'LABELS', Label: 'LABEL', Mounts: 'MOUNTS',
    Networks: 'NETWORKS', LocalVolumes: 'LOCAL VOLUMES',
  },
  defaultTable: 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}',
};

/** A row as Docker's formatter shows it: short id and quoted, shortened command unless --no-trunc. */
export function psRow(r: ContainerSummary, trunc: boolean, now = Date.now()): Record<string, string> {
  const cmd = trunc && [...r.Command].length > 20 ? [...r.Command].slice(0, 19).join('') + '…' : r.Command;
  return withLabelMethod({
    ID: trunc ? r.Id.slice(0, 12) : r.Id,
    Image: r.Image,
    Command: JSON.stringify(cmd),
    CreatedAt: goTime(r.Created),
    RunningFor: `${humanAge(r.Created, now)} ago`,
    Ports: r.Ports.map((m) => `${m.hostIp || '0.0.0.0'}:${m.hostPort}->${m.containerPort}/${m.protocol}`).join(', '),
    State: r.State,
    // Docker's words for the health: "Up 3 minutes (healthy)", "(health: starting)".
    Status: statusText({ Status: r.State, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt, ExitCode: r.ExitCode }, now) + (r.Health ? ` (${r.Health === 'starting' ? 'health: starting' : r.Health})` : ''),
    // Sizes cost a walk of each upper directory: `lodger system df -v` has them.
    Size: 'N/A',
    Names: r.Names,
    Labels: labelsText(r.Labels),
    Mounts: r.Mounts.map((m) => (m.Type === 'volume' ? m.Source.split('/').slice(-2, -1)[0] || m.Source : m.Source)).join(','),
    Networks: r.NetworkMode,
    LocalVolumes: String(r.Mounts.filter((m) => m.Type === 'volume').length),
  }, r.Labels);
}

export class PsCommand extends LodgerCommand {
  static override paths = [['ps'], ['container', 'ls'], ['container', 'list']];
  static override usage = Command.Usage({
    description: 'List containers',
    details: 'FORMAT is `table` (the default), `table TEMPLATE`, `json` (one object per line) or a Go template over ID, Image, Command, CreatedAt, RunningFor, Ports, State, Status, Size, Names, Labels, Label "KEY", Mounts, Networks, LocalVolumes. Filters: status=, name= (a regular expression), id=, label=KEY[=VALUE], ancestor=IMAGE, exited=CODE, before=CONTAINER, since=CONTAINER; one key given twice matches either value.',
    examples: [['All, including exited', 'lodger ps -a'], ['Names and states', "lodger ps -a --format '{{.Names}} {{.State}}'"], ['Exited with status 1', 'lodger ps -a --filter exited=1']],
  });
  all = Option.Boolean('-a,--all', false, { description: 'Show all containers (default shows just running)' });
  quiet = Option.Boolean('-q,--quiet', false, { description: 'Only container ids' });
  noTrunc = Option.Boolean('--no-trunc', false, { description: 'Full ids and commands' });
  latest = Option.Boolean('-l,--latest', false, { description: 'Only the latest created container' });
  last = Option.String('-n,--last', { description: 'Only the N latest created containers' });
  format = Option.String('--format', { description: 'table (default), table TEMPLATE, json, or a Go template' });
  filter = Option.Array('-f,--filter', [], { description: 'Filter: status=, name=, id=, label=, ancestor=, exited=, before=, since=' });

  async run(): Promise<number> {
    const { listContainers } = await import('../../containers/list');
    const { UsageError } = await import('clipanion');
    const n = this.latest ? 1 : this.last === undefined ? -1 : Number(this.last);
    if (!Number.isInteger(n)) throw new UsageError(`--last ${this.last}: expected a number`);
    let rows = listContainers(await this.store(), { all: this.all || this.filter.length > 0 || n >= 0, filters: this.filter });
    if (n >= 0) rows = rows.slice(0, n);
    if (this.quiet) {
      this.context.stdout.write(rows.map((r) => (this.noTrunc ? r.Id : r.Id.slice(0, 12)) + '\n').join(''));
      return 0;
    }
    const now = Date.now();
    this.context.stdout.write(renderFormatted(rows.map((r) => psRow(r, !this.noTrunc, now)), this.format, PS_FORMAT));
    return 0;
  }
}
