// `lodger commit`: make an image from a container's changes.
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../base';

export class CommitCommand extends LodgerCommand {
  static override paths = [['commit'], ['container', 'commit']];
  static override usage = Command.Usage({
    description: "Create a new image from a container's changes",
    details: "The container's writable layer becomes a new layer on top of its image's; the new image runs as the container was run (its command, environment, user and working directory), changed by any -c instructions. A running container is paused meanwhile when it has a cgroup of its own.",
    examples: [
      ['Commit under a name', 'lodger commit web mysite:v2'],
      ['Change the command', `lodger commit -c 'CMD ["httpd", "-f"]' -m 'added pages' web mysite:v3`],
    ],
  });
  change = Option.Array('-c,--change', [], { description: 'Apply a Dockerfile instruction (CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE, STOPSIGNAL)' });
  message = Option.String('-m,--message', { description: 'Commit message' });
  author = Option.String('-a,--author', { description: 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")' });
  pause = Option.Boolean('-p,--pause', true, { description: 'Pause the container during commit (default true)' });
  container = Option.String({ required: true, name: 'CONTAINER' });
  image = Option.String({ required: false, name: 'REPOSITORY[:TAG]' });

  async run(): Promise<number> {
    const { commitContainer } = await import('../../containers/commit');
    const img = await commitContainer(await this.store(), this.container, this.image, { changes: this.change, message: this.message, author: this.author, pause: this.pause });
    this.context.stdout.write(`${img.id}\n`);
    return 0;
  }
}
