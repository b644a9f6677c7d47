// `lodger unpause`: Thaw paused containers.
import { Command } from 'clipanion';
import { FreezeCommand } from '../freezeCommand';

export class UnpauseCommand extends FreezeCommand {
  static override paths = [['unpause'], ['container', 'unpause']];
  static override usage = Command.Usage({ description: 'Thaw paused containers' });
  readonly freeze = false;
}
