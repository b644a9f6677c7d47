// `lodger volume create`: Create a volume (a name that exists already is returned as it is, as Docker does).
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../../base';

export class VolumeCreateCommand extends LodgerCommand {
  static override paths = [['volume', 'create']];
  static override usage = Command.Usage({
    description: 'Create a volume',
    details: 'Without a name the volume gets a random 64-hex one. Only the "local" driver exists; its mount options (-o type=/device=) need root and are refused.',
    examples: [['A named volume', 'lodger volume create data && lodger run --rm -v data:/data busybox ls /data']],
  });
  driver = Option.String('-d,--driver', 'local', { description: 'Volume driver (only "local")' });
  label = Option.Array('--label', [], { description: 'Set a label K=V' });
  opt = Option.Array('-o,--opt', [], { description: 'Driver options (none supported)' });
  name = Option.String({ required: false });
  async run(): Promise<number> {
    const { createVolume } = await import('../../../volumes/volumes');
    const kv = (l: string) => [l.split('=')[0], l.split('=').slice(1).join('=')];
    const v = await createVolume(await this.store(), this.name, {
      driver: this.driver, labels: Object.fromEntries(this.label.map(kv)), options: Object.fromEntries(this.opt.map(kv)),
    });
    this.context.stdout.write(v.Name + '\n');
    return 0;
  }
}
