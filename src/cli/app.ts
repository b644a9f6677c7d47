// The lodger CLI proper: clipanion with every command, registered only as far as this invocation needs.
import { Builtins, Cli } from 'clipanion';
import { ImportCommand } from './commands/import';
import { ImagesCommand } from './commands/images';
import { InfoCommand, VersionCommand } from './commands/info';
import { LoadCommand } from './commands/load';
import { PsCommand } from './commands/ps';
import { RmCommand } from './commands/rm';
import { RmiCommand } from './commands/rmi';
import { RunCommand } from './commands/run';
import { CpCommand } from './commands/cp';
import { CommitCommand } from './commands/commit';
import { ExportCommand } from './commands/export';
import { SaveCommand } from './commands/save';
import { TopCommand } from './commands/top';
import { RenameCommand } from './commands/rename';
import { ContainerPruneCommand, ImagePruneCommand } from './commands/prune';
import { SystemDfCommand } from './commands/systemDf';
import { CreateCommand, KillCommand, RestartCommand, StartCommand, StopCommand, WaitCommand } from './commands/lifecycle';
import { LogsCommand } from './commands/logs';
import { AttachCommand } from './commands/attach';
import { ExecCommand } from './commands/exec';
import { InspectCommand } from './commands/inspect';
import { NetworkCreateCommand, NetworkInspectCommand, NetworkLsCommand, NetworkRmCommand, PortCommand } from './commands/network';
import { PauseCommand, StatsCommand, UnpauseCommand } from './commands/stats';
import { LoginCommand, LogoutCommand, PullCommand, PushCommand, TagCommand } from './commands/registry';

export const COMMANDS = [RunCommand, PortCommand, NetworkCreateCommand, NetworkLsCommand, NetworkRmCommand, NetworkInspectCommand, StatsCommand, PauseCommand, UnpauseCommand, PullCommand, PushCommand, LoginCommand, LogoutCommand, TagCommand, CreateCommand, StartCommand, StopCommand, KillCommand, RestartCommand, WaitCommand, LogsCommand, AttachCommand, ExecCommand, InspectCommand, ImportCommand, ImagesCommand, PsCommand, RmCommand, RmiCommand, LoadCommand, InfoCommand, VersionCommand, CpCommand, CommitCommand, ExportCommand, SaveCommand, TopCommand, RenameCommand, ContainerPruneCommand, ImagePruneCommand, SystemDfCommand];

/** Parses ARGV (without node and the script) and runs the command it names; resolves to the exit code. */
export async function runCli(argv: string[]): Promise<number> {
  // Docker-style global options before the command: --root DIR / --root=DIR.
  while (argv[0]?.startsWith('--root')) {
    if (argv[0].includes('=')) process.env.LODGER_ROOT = argv.shift()!.split('=').slice(1).join('=');
    else { argv.shift(); process.env.LODGER_ROOT = argv.shift(); }
  }
  const cli = new Cli({ binaryLabel: 'lodger — rootless containers', binaryName: 'lodger', binaryVersion: '0.1.0', enableColors: false });
  // Building clipanion's parser costs time per registered command and option: register only the
  // commands whose path starts with this invocation's first word (all of them for help or a typo).
  const matching = COMMANDS.filter((c) => c.paths?.some((path) => path[0] === argv[0]));
  for (const c of matching.length ? matching : COMMANDS) cli.register(c);
  cli.register(Builtins.HelpCommand);
  const context = { ...Cli.defaultContext, stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };
  let command;
  try {
    command = cli.process(argv, context);
  } catch (e) {
    // A mistake on the command line is lodger's failure, not the container's: 125 as Docker.
    process.stderr.write(cli.error(e as Error, { command: null }));
    return 125;
  }
  // cli.run gives the command its `cli` (help, usage) and context, and answers --help itself.
  return cli.run(command, context);
}
