// `lodger attach`: follow a running detached container's output until it exits, relaying signals and (created with -i) stdin to it.
import { Command, Option } from 'clipanion';
import { LodgerError } from '../../errors';
import { LodgerCommand, relayProcessSignals } from '../base';

export class AttachCommand extends LodgerCommand {
  static override paths = [['attach'], ['container', 'attach']];
  static override usage = Command.Usage({
    description: "Attach to a running container's input and output",
    details: `
      Prints what the container writes from now on (stdout and stderr kept apart) until it stops for good —
      through the restarts of a restart policy — then exits with the container's exit status.

      A container created with \`-i\` (\`run -d -i\`, \`run -dit\`, \`create -i\` then \`start\`) also gets this
      terminal's stdin, unless \`--no-stdin\`: its monitor keeps the container's stdin open while nobody is
      attached, and the end of our input does not close it (attach goes on showing the output). Up to 8
      attaches at once may give input.

      With \`-t\` as well, the terminal is put in raw mode and keys go to the container's terminal (Ctrl-C
      included); the detach keys (\`--detach-keys\`, ctrl-p,ctrl-q by default) end the attach and leave the
      container running: lodger prints "read escape sequence", as Docker does, and exits 0.

      Stdin is not attached to a container created without \`-i\`: only its output is shown.

      SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent to lodger are sent on to a container without a
      tty (as \`lodger kill -s\` would) unless \`--sig-proxy=false\`; then Ctrl-C only ends the attach.
    `,
    examples: [
      ['Follow web until it exits', 'lodger attach web'],
      ['Watch without stopping it on Ctrl-C', 'lodger attach --sig-proxy=false web'],
      ['Type into a shell started with run -dit; leave with Ctrl-P Ctrl-Q', 'lodger attach sh1'],
      ['Feed a line to a container started with run -d -i', 'echo hello | lodger attach cat1'],
    ],
  });
  noStdin = Option.Boolean('--no-stdin', false, { description: 'Do not attach stdin' });
  detachKeys = Option.String('--detach-keys', { description: 'Keys that detach, e.g. ctrl-p,ctrl-q (the default); "" for none' });
  sigProxy = Option.String('--sig-proxy', { tolerateBoolean: true, description: 'Relay received signals to the container (default true)' });
  container = Option.String({ required: true });

  async run(): Promise<number> {
    const { attachContainer, parseDetachKeys } = await import('../../containers/attach');
    const { resolveContainer } = await import('../../storage/containers');
    const v = this.sigProxy;
    if (v !== undefined && typeof v !== 'boolean' && v !== 'true' && v !== 'false') {
      throw new LodgerError('BAD_FLAG', `--sig-proxy=${v}: use true or false`);
    }
    if (this.detachKeys !== undefined) parseDetachKeys(this.detachKeys);  // a bad value fails before attaching
    const { terminalControl } = await import('../terminal');
    const p = await this.store();
    const { stdin, stdout, stderr } = this.context;
    const r = await attachContainer(p, resolveContainer(p, this.container), {
      sigProxy: v === undefined || v === true || v === 'true', stdin: !this.noStdin, detachKeys: this.detachKeys,
    }, {
      stdout, stderr, stdin, typed: (stdin as { isTTY?: boolean }).isTTY === true,
      terminal: terminalControl(stdin, stdout), relaySignals: relayProcessSignals, report: this.reporter(),
    });
    if (!r.detached) return r.exitCode;
    // Docker's words when the detach keys were typed (docs: container_attach.md); the container runs on.
    stderr.write('read escape sequence\n');
    return 0;
  }
}
