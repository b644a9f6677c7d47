// `lodger logs`: a detached container's output.
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../base';

export class LogsCommand extends LodgerCommand {
  static override paths = [['logs'], ['container', 'logs']];
  static override usage = Command.Usage({ description: "Show a container's output", examples: [['Follow the last 10 lines', 'lodger logs -f --tail 10 web']] });
  follow = Option.Boolean('-f,--follow', false, { description: 'Keep printing new output until the container stops' });
  tail = Option.String('-n,--tail', { description: 'Only the last N lines (all by default)' });
  timestamps = Option.Boolean('-t,--timestamps', false, { description: 'Prefix each line with its time' });
  since = Option.String('--since', { description: 'Only output since a time or a duration ago (e.g. 10m)' });
  container = Option.String({ required: true });
  async run(): Promise<number> {
    const { streamLogs } = await import('../../containers/logs');
    const { resolveContainer } = await import('../../storage/containers');
    const p = await this.store();
    const tail = this.tail === undefined || this.tail === 'all' ? undefined : Number(this.tail);
    await streamLogs(p, resolveContainer(p, this.container), { follow: this.follow, tail, since: this.since, timestamps: this.timestamps }, this.context.stdout, this.context.stderr);
    return 0;
  }
}
