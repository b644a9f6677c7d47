// `lodger pause`: Freeze all processes of containers (cgroup.freeze).
import { Command } from 'clipanion';
import { FreezeCommand } from '../freezeCommand';

export class PauseCommand extends FreezeCommand {
  static override paths = [['pause'], ['container', 'pause']];
  static override usage = Command.Usage({ description: 'Freeze all processes of containers (cgroup.freeze)' });
  readonly freeze = true;
}
