// `lodger top`: show the processes running in a container.
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../base';
import { table } from '../format';

export class TopCommand extends LodgerCommand {
  static override paths = [['top'], ['container', 'top']];
  static override usage = Command.Usage({
    description: 'Display the running processes of a container',
    details: "Columns are those of `ps -ef` by default; `aux` or `-o FIELD,…` choose others (user, uid, pid, ppid, c, pcpu, pmem, vsz, rss, tty, stat, stime, time, etime, comm, args). PIDs are the host's, users are the container's.",
    examples: [['As ps -ef', 'lodger top web'], ['Chosen columns', 'lodger top web -o pid,user,args']],
  });
  container = Option.String({ required: true, name: 'CONTAINER' });
  psArgs = Option.Proxy({ name: 'ps OPTIONS' });

  async run(): Promise<number> {
    const { containerProcesses, topTable } = await import('../../containers/top');
    const t = topTable(containerProcesses(await this.store(), this.container), this.psArgs);
    this.context.stdout.write(table([t.Titles, ...t.Processes]));
    return 0;
  }
}
