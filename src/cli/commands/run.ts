// `lodger run`: Run a command in a new container.
import { Command } from 'clipanion';
import { ContainerOptionsCommand } from '../containerOptions';

export class RunCommand extends ContainerOptionsCommand {
  static override paths = [['run'], ['container', 'run']];
  static override usage = Command.Usage({
    description: 'Run a command in a new container',
    details: 'Creates a container from IMAGE and runs COMMAND in it, attached to this terminal unless -d is given. The exit status is the container\'s; 125 means lodger itself failed, 126 that the command could not be invoked, 127 that it was not found.',
    examples: [
      ['Run a shell in busybox', 'lodger run --rm -it busybox sh'],
      ['Show who you are inside', "lodger run --rm busybox sh -c 'id; cat /proc/self/uid_map'"],
    ],
  });

  async run(): Promise<number> {
    const { runContainer } = await import('../../containers/run');
    const r = await runContainer(await this.store(), this.createOptions(), this.terminalIO());
    if (r.detached) this.context.stdout.write(r.id + '\n');
    return r.detached ? 0 : r.exitCode;
  }
}
