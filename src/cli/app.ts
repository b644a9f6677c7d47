// The lodger CLI proper: clipanion with every command, registered only as far as this invocation needs.
import { Builtins, Cli, type CommandClass } from 'clipanion';

/**
 * The command modules. Each is loaded only when the command line's first word is one of its own
 * (BY_WORD): a module's imports (the registry client, the network code, …) take start-up time a
 * `run` should not pay. Help, a typo and the `container`/`image` groups load them all.
 */
export const COMMAND_MODULES = {
  run: async () => [(await import('./commands/run')).RunCommand],
  lifecycle: async () => {
    const m = await import('./commands/lifecycle');
    return [m.CreateCommand, m.StartCommand, m.StopCommand, m.KillCommand, m.RestartCommand, m.WaitCommand];
  },
  network: async () => {
    const m = await import('./commands/network');
    return [m.PortCommand, m.NetworkCreateCommand, m.NetworkLsCommand, m.NetworkRmCommand, m.NetworkInspectCommand];
  },
  stats: async () => {
    const m = await import('./commands/stats');
    return [m.StatsCommand, m.PauseCommand, m.UnpauseCommand];
  },
  registry: async () => {
    const m = await import('./commands/registry');
    return [m.PullCommand, m.PushCommand, m.LoginCommand, m.LogoutCommand, m.TagCommand];
  },
  logs: async () => [(await import('./commands/logs')).LogsCommand],
  attach: async () => [(await import('./commands/attach')).AttachCommand],
  exec: async () => [(await import('./commands/exec')).ExecCommand],
  inspect: async () => [(await import('./commands/inspect')).InspectCommand],
  import: async () => [(await import('./commands/import')).ImportCommand],
  images: async () => [(await import('./commands/images')).ImagesCommand],
  ps: async () => [(await import('./commands/ps')).PsCommand],
  rm: async () => [(await import('./commands/rm')).RmCommand],
  rmi: async () => [(await import('./commands/rmi')).RmiCommand],
  load: async () => [(await import('./commands/load')).LoadCommand],
  info: async () => {
    const m = await import('./commands/info');
    return [m.InfoCommand, m.VersionCommand];
  },
  cp: async () => [(await import('./commands/cp')).CpCommand],
  commit: async () => [(await import('./commands/commit')).CommitCommand],
  export: async () => [(await import('./commands/export')).ExportCommand],
  save: async () => [(await import('./commands/save')).SaveCommand],
  top: async () => [(await import('./commands/top')).TopCommand],
  rename: async () => [(await import('./commands/rename')).RenameCommand],
  prune: async () => {
    const m = await import('./commands/prune');
    return [m.ContainerPruneCommand, m.ImagePruneCommand];
  },
  systemDf: async () => [(await import('./commands/systemDf')).SystemDfCommand],
} satisfies Record<string, () => Promise<CommandClass[]>>;

export type CommandModule = keyof typeof COMMAND_MODULES;

/** The modules whose commands start with a word; test/unit/cli/commandModules.test.ts checks it against every command's paths. */
export const BY_WORD: Record<string, CommandModule[]> = {
  run: ['run'],
  create: ['lifecycle'], start: ['lifecycle'], stop: ['lifecycle'], kill: ['lifecycle'], restart: ['lifecycle'], wait: ['lifecycle'],
  port: ['network'], network: ['network'],
  stats: ['stats'], pause: ['stats'], unpause: ['stats'],
  pull: ['registry'], push: ['registry'], login: ['registry'], logout: ['registry'], tag: ['registry'],
  logs: ['logs'], attach: ['attach'], exec: ['exec'], inspect: ['inspect'], import: ['import'], images: ['images'],
  ps: ['ps'], rm: ['rm'], rmi: ['rmi'], load: ['load'], info: ['info'], version: ['info'], '--version': ['info'],
  cp: ['cp'], commit: ['commit'], export: ['export'], save: ['save'], top: ['top'], rename: ['rename'],
  system: ['info', 'systemDf'],
};

/** The command classes for a command line starting with WORD (every one when WORD is not a command's). */
export async function commandsFor(word: string | undefined): Promise<CommandClass[]> {
  const names = (word !== undefined && Object.hasOwn(BY_WORD, word) ? BY_WORD[word] : Object.keys(COMMAND_MODULES)) as CommandModule[];
  return (await Promise.all(names.map((n) => COMMAND_MODULES[n]()))).flat();
}

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
  const loaded = await commandsFor(argv[0]);
  const matching = loaded.filter((c) => c.paths?.some((path) => path[0] === argv[0]));
  for (const c of matching.length ? matching : loaded) cli.register(c);
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
