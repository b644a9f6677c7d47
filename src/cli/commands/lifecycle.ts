// `lodger create/start/stop/kill/restart/wait`: the daemonless lifecycle of existing containers.
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../base';
import { ContainerOptionsCommand } from './run';

export class CreateCommand extends ContainerOptionsCommand {
  static override paths = [['create'], ['container', 'create']];
  static override usage = Command.Usage({ description: 'Create a container without starting it', examples: [['Create, then start', 'lodger create --name web busybox httpd -f && lodger start web']] });
  async run(): Promise<number> {
    const { createContainer } = await import('../../containers/create');
    const { callerMapping } = await import('../../helper/usernsWorker');
    const { warnMapping } = await import('../../containers/run');
    const mapping = callerMapping(this.userns);
    warnMapping(mapping);
    const { rec } = await createContainer(await this.store(), this.createOptions(), mapping);
    this.context.stdout.write(rec.Id + '\n');
    return 0;
  }
}

/** Runs FN for each container reference, printing the reference on success (Docker's style). */
export async function eachContainer(cmd: LodgerCommand, refs: string[], fn: (id: string) => Promise<void>): Promise<number> {
  const { resolveContainer } = await import('../../storage/containers');
  const p = await cmd.store();
  return cmd.eachRef(refs, async (ref) => { await fn(resolveContainer(p, ref)); return ref; });
}

export class StartCommand extends LodgerCommand {
  static override paths = [['start'], ['container', 'start']];
  static override usage = Command.Usage({ description: 'Start stopped containers (in the background, unless -a)' });
  attach = Option.Boolean('-a,--attach', false, { description: 'Attach to the output and wait for the exit' });
  interactive = Option.Boolean('-i,--interactive', false, { description: 'Attach stdin' });
  containers = Option.Rest({ required: 1 });
  async run(): Promise<number> {
    const { startExisting } = await import('../../containers/startExisting');
    if (this.attach || this.interactive) {
      const { resolveContainer } = await import('../../storage/containers');
      const p = await this.store();
      return startExisting(p, resolveContainer(p, this.containers[0]), true, this.interactive);
    }
    return eachContainer(this, this.containers, async (id) => { await startExisting(await this.store(), id, false, false); });
  }
}

export class StopCommand extends LodgerCommand {
  static override paths = [['stop'], ['container', 'stop']];
  static override usage = Command.Usage({ description: "Stop containers: the image's StopSignal (default SIGTERM), then SIGKILL after the timeout" });
  time = Option.String('-t,--time', { description: 'Seconds to wait before SIGKILL (default 10)' });
  containers = Option.Rest({ required: 1 });
  async run(): Promise<number> {
    const { stopContainer } = await import('../../containers/lifecycle');
    const p = await this.store();
    return eachContainer(this, this.containers, (id) => stopContainer(p, id, this.time === undefined ? undefined : Number(this.time)));
  }
}

export class KillCommand extends LodgerCommand {
  static override paths = [['kill'], ['container', 'kill']];
  static override usage = Command.Usage({ description: 'Send a signal (default SIGKILL) to containers' });
  signal = Option.String('-s,--signal', 'SIGKILL', { description: 'Signal name or number' });
  containers = Option.Rest({ required: 1 });
  async run(): Promise<number> {
    const { killContainer } = await import('../../containers/lifecycle');
    const p = await this.store();
    return eachContainer(this, this.containers, (id) => killContainer(p, id, this.signal));
  }
}

export class RestartCommand extends LodgerCommand {
  static override paths = [['restart'], ['container', 'restart']];
  static override usage = Command.Usage({ description: 'Stop then start containers' });
  time = Option.String('-t,--time', { description: 'Seconds to wait before SIGKILL (default 10)' });
  containers = Option.Rest({ required: 1 });
  async run(): Promise<number> {
    const { stopContainer } = await import('../../containers/lifecycle');
    const { startExisting } = await import('../../containers/startExisting');
    const p = await this.store();
    return eachContainer(this, this.containers, async (id) => {
      await stopContainer(p, id, this.time === undefined ? undefined : Number(this.time));
      await startExisting(p, id, false, false);
    });
  }
}

export class WaitCommand extends LodgerCommand {
  static override paths = [['wait'], ['container', 'wait']];
  static override usage = Command.Usage({ description: 'Block until containers stop, then print their exit codes' });
  containers = Option.Rest({ required: 1 });
  async run(): Promise<number> {
    const { waitContainer } = await import('../../containers/lifecycle');
    const { resolveContainer } = await import('../../storage/containers');
    const p = await this.store();
    for (const ref of this.containers) this.context.stdout.write(`${await waitContainer(p, resolveContainer(p, ref))}\n`);
    return 0;
  }
}
