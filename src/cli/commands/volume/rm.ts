// `lodger volume rm`: Remove volumes; one a container uses is kept unless -f (and a running container's always).
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../../base';

export class VolumeRmCommand extends LodgerCommand {
  static override paths = [['volume', 'rm'], ['volume', 'remove']];
  static override usage = Command.Usage({
    description: 'Remove one or more volumes',
    details: 'A volume some container uses is refused; -f removes it when those containers are stopped. A running container\'s volume is never removed.',
  });
  force = Option.Boolean('-f,--force', false, { description: 'Also a volume stopped containers use' });
  volumes = Option.Rest({ required: 1 });
  async run(): Promise<number> {
    const { removeVolume } = await import('../../../volumes/volumes');
    const p = await this.store();
    return this.eachRef(this.volumes, async (n) => { await removeVolume(p, n, { force: this.force }); return n; }, 1);
  }
}
