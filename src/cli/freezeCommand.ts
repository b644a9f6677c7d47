// The shared run of `pause` and `unpause`: freeze or thaw each named container through its cgroup.
import { Option } from 'clipanion';
import { LodgerCommand } from './base';

export abstract class FreezeCommand extends LodgerCommand {
  abstract readonly freeze: boolean;
  containers = Option.Rest({ required: 1 });
  async run(): Promise<number> {
    const { pauseContainer } = await import('../containers/stats');
    const p = await this.store();
    return this.eachContainer(this.containers, (id) => pauseContainer(p, id, this.freeze));
  }
}
