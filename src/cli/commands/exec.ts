// `lodger exec`: run a command in a running container.
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../base';

export class ExecCommand extends LodgerCommand {
  static override paths = [['exec'], ['container', 'exec']];
  static override usage = Command.Usage({ description: 'Run a command in a running container', examples: [['A shell', 'lodger exec -it web sh']] });
  interactive = Option.Boolean('-i,--interactive', false, { description: 'Keep stdin open' });
  tty = Option.Boolean('-t,--tty', false, { description: 'Allocate a pseudo-terminal' });
  detach = Option.Boolean('-d,--detach', false, { description: 'Run in the background' });
  env = Option.Array('-e,--env', [], { description: 'Set an environment variable' });
  envFile = Option.Array('--env-file', [], { description: 'Read environment variables from a file' });
  user = Option.String('-u,--user', { description: 'User (name|uid[:group|gid])' });
  workdir = Option.String('-w,--workdir', { description: 'Working directory' });
  privileged = Option.Boolean('--privileged', false);
  container = Option.String({ required: true });
  command = Option.Proxy();
  async run(): Promise<number> {
    const { execInContainer } = await import('../../containers/exec');
    const { resolveContainer } = await import('../../storage/containers');
    const p = await this.store();
    return execInContainer(p, resolveContainer(p, this.container), {
      command: this.command, interactive: this.interactive, tty: this.tty, env: this.env, envFile: this.envFile,
      user: this.user, workdir: this.workdir, detach: this.detach, privileged: this.privileged,
    }, this.terminalIO());
  }
}
