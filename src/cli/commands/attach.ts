// `lodger attach`: follow a running detached container's output until it exits, relaying signals to it.
import { Command, Option } from 'clipanion';
import { LodgerError } from '../../errors';
import { LodgerCommand } from '../base';

export class AttachCommand extends LodgerCommand {
  static override paths = [['attach'], ['container', 'attach']];
  static override usage = Command.Usage({
    description: "Attach to a running container's output",
    details: `
      Prints what the container writes from now on (stdout and stderr kept apart) until it stops for good —
      through the restarts of a restart policy — then exits with the container's exit status.

      SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent to lodger are sent on to the container (as
      \`lodger kill -s\` would) unless \`--sig-proxy=false\`; then Ctrl-C only ends the attach.

      Stdin is not attached: lodger does not keep a detached container's stdin (its monitor gives it
      /dev/null), so \`--no-stdin\` is what happens anyway. For a shell in the container use \`lodger exec -it\`.
    `,
    examples: [['Follow web until it exits', 'lodger attach web'], ['Watch without stopping it on Ctrl-C', 'lodger attach --sig-proxy=false web']],
  });
  noStdin = Option.Boolean('--no-stdin', false, { description: 'Do not attach stdin (never attached: see above)' });
  sigProxy = Option.String('--sig-proxy', { tolerateBoolean: true, description: 'Relay received signals to the container (default true)' });
  container = Option.String({ required: true });

  async run(): Promise<number> {
    const { attachContainer } = await import('../../runtime/attach');
    const { resolveContainer } = await import('../../storage/containers');
    const v = this.sigProxy;
    if (v !== undefined && typeof v !== 'boolean' && v !== 'true' && v !== 'false') {
      throw new LodgerError('BAD_FLAG', `--sig-proxy=${v}: use true or false`);
    }
    const p = await this.store();
    return attachContainer(p, resolveContainer(p, this.container), { sigProxy: v === undefined || v === true || v === 'true' }, this.context.stdout, this.context.stderr);
  }
}
