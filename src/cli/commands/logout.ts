// `lodger logout`: Remove stored credentials for a registry.
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../base';

export class LogoutCommand extends LodgerCommand {
  static override paths = [['logout']];
  static override usage = Command.Usage({ description: 'Remove stored credentials for a registry' });
  authFile = Option.String('--authfile');
  registry = Option.String({ required: true });
  async run(): Promise<number> {
    const { logout } = await import('../../image/registry/login');
    const r = await logout(this.registry, { authFile: this.authFile });
    this.context.stdout.write(`Removed login credentials for ${r.registry}\n`);
    return 0;
  }
}
