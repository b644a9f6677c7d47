// `lodger rename`: give a container a new name.
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../base';

export class RenameCommand extends LodgerCommand {
  static override paths = [['rename'], ['container', 'rename']];
  static override usage = Command.Usage({ description: 'Rename a container', examples: [['Rename', 'lodger rename happy_guest7 web']] });
  container = Option.String({ required: true, name: 'CONTAINER' });
  newName = Option.String({ required: true, name: 'NEW_NAME' });

  async run(): Promise<number> {
    const { renameContainer } = await import('../../containers/rename');
    await renameContainer(await this.store(), this.container, this.newName);
    return 0;
  }
}
