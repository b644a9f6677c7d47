// `lodger stats`: Show CPU, memory, pids, network and block I/O of running containers.
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../base';
import { humanSize } from '../format';
import { renderFormatted, type ListFormat } from '../formatted';
import type { StatsSample } from '../../containers/stats';

/** Docker's `stats` fields and headers (docs.docker.com/reference/cli/docker/container/stats/#format). */
const STATS_FORMAT: ListFormat = {
  fields: { Container: 'CONTAINER', Name: 'NAME', ID: 'CONTAINER ID', CPUPerc: 'CPU %', MemUsage: 'MEM USAGE / LIMIT', MemPerc: 'MEM %', NetIO: 'NET I/O', BlockIO: 'BLOCK I/O', PIDs: 'PIDS' },
  defaultTable: 'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}',
};

/** Docker's stats row: the sample worded for people, then its numbers (the fields `--format json` has always printed, in order). */
function statsRow(s: StatsSample) {
  const mem = s.memoryCurrent;
  return {
    Container: s.name || s.id.slice(0, 12),
    ID: s.id.slice(0, 12), Name: s.name,
    CPUPerc: `${s.cpuPercent.toFixed(2)}%`,
    MemUsage: mem === undefined ? '-- / --' : `${humanSize(mem)} / ${humanSize(s.memoryLimit)}`,
    MemPerc: mem === undefined ? '--' : `${((mem / s.memoryLimit) * 100).toFixed(2)}%`,
    NetIO: `${humanSize(s.netRx)} / ${humanSize(s.netTx)}`,
    BlockIO: s.ioReadBytes === undefined ? '-- / --' : `${humanSize(s.ioReadBytes)} / ${humanSize(s.ioWriteBytes ?? 0)}`,
    PIDs: String(s.pids),
    cpuPercent: s.cpuPercent, memoryCurrent: mem, memoryMax: s.memoryMax, pids: s.pids, netRx: s.netRx, netTx: s.netTx,
  };
}

export class StatsCommand extends LodgerCommand {
  static override paths = [['stats'], ['container', 'stats']];
  static override usage = Command.Usage({ description: 'Show CPU, memory, pids, network and block I/O of running containers', examples: [['Once, as JSON', 'lodger stats --no-stream --format json web']] });
  noStream = Option.Boolean('--no-stream', false, { description: 'Print one sample and exit' });
  format = Option.String('--format', { description: 'table (default), table TEMPLATE, json (one object per line), or a Go template over Container, Name, ID, CPUPerc, MemUsage, MemPerc, NetIO, BlockIO, PIDs' });
  all = Option.Boolean('-a,--all', false);
  containers = Option.Rest();
  async run(): Promise<number> {
    const { sampleStats } = await import('../../containers/stats');
    const { resolveContainer } = await import('../../storage/containers');
    const { runningContainerIds } = await import('../../containers/list');
    const p = await this.store();
    const ids = this.containers.length ? this.containers.map((c) => resolveContainer(p, c)) : runningContainerIds(p);
    for (;;) {
      const rows = (await sampleStats(p, ids, this.noStream ? 500 : 1000)).map(statsRow);
      const text = renderFormatted(rows, this.format, STATS_FORMAT);
      if (!this.noStream && (!this.format || this.format.startsWith('table'))) this.context.stdout.write('\x1b[2J\x1b[H');
      this.context.stdout.write(text);
      if (this.noStream) return 0;
    }
  }
}
