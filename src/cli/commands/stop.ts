// `lodger stop`: Seconds to wait before SIGKILL (default 10).
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../base';

export class StopCommand extends LodgerCommand {
  static override paths = [['stop'], ['container', 'stop']];
  static override usage = Command.Usage({ description: "Stop containers: the image's StopSignal (default SIGTERM), then SIGKILL after the timeout" });
  time = Option.String('-t,--time', { description: 'Seconds to wait before SIGKILL (default 10)' });
  containers = Option.Rest({ required: 1 });
  async run(): Promise<number> {
    const { stopContainer } = await import('../../containers/lifecycle');
    const p = await this.store();
    return this.eachContainer(this.containers, (id) => stopContainer(p, id, this.time === undefined ? undefined : Number(this.time)));
  }
}
