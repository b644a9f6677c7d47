// The lodger CLI proper: clipanion with every command, registered only as far as this invocation needs.
import { Builtins, Cli, type CommandClass } from 'clipanion';
import { setAllCommandsLoader } from './allCommands';

/**
 * The command modules, one per command (src/cli/commands mirrors the command paths). Each is loaded
 * only when the command line's first word is one of its own (BY_WORD): a module's imports (the
 * registry client, the network code, …) take start-up time a `run` should not pay. Help and a typo
 * load them all.
 */
export const COMMAND_MODULES = {
  attach: async () => [(await import('./commands/attach')).AttachCommand],
  build: async () => [(await import('./commands/build')).BuildCommand],
  builderPrune: async () => [(await import('./commands/builder/prune')).BuilderPruneCommand],
  commit: async () => [(await import('./commands/commit')).CommitCommand],
  completion: async () => { const m = await import('./commands/completion'); return [m.CompletionCommand, m.CompleteNamesCommand]; },
  containerPrune: async () => [(await import('./commands/container/prune')).ContainerPruneCommand],
  cp: async () => [(await import('./commands/cp')).CpCommand],
  create: async () => [(await import('./commands/create')).CreateCommand],
  exec: async () => [(await import('./commands/exec')).ExecCommand],
  export: async () => [(await import('./commands/export')).ExportCommand],
  imagePrune: async () => [(await import('./commands/image/prune')).ImagePruneCommand],
  images: async () => [(await import('./commands/images')).ImagesCommand],
  import: async () => [(await import('./commands/import')).ImportCommand],
  info: async () => [(await import('./commands/info')).InfoCommand],
  inspect: async () => [(await import('./commands/inspect')).InspectCommand],
  kill: async () => [(await import('./commands/kill')).KillCommand],
  load: async () => [(await import('./commands/load')).LoadCommand],
  login: async () => [(await import('./commands/login')).LoginCommand],
  logout: async () => [(await import('./commands/logout')).LogoutCommand],
  logs: async () => [(await import('./commands/logs')).LogsCommand],
  networkCreate: async () => [(await import('./commands/network/create')).NetworkCreateCommand],
  networkInspect: async () => [(await import('./commands/network/inspect')).NetworkInspectCommand],
  networkLs: async () => [(await import('./commands/network/ls')).NetworkLsCommand],
  networkRm: async () => [(await import('./commands/network/rm')).NetworkRmCommand],
  pause: async () => [(await import('./commands/pause')).PauseCommand],
  port: async () => [(await import('./commands/port')).PortCommand],
  ps: async () => [(await import('./commands/ps')).PsCommand],
  pull: async () => [(await import('./commands/pull')).PullCommand],
  push: async () => [(await import('./commands/push')).PushCommand],
  rename: async () => [(await import('./commands/rename')).RenameCommand],
  restart: async () => [(await import('./commands/restart')).RestartCommand],
  rm: async () => [(await import('./commands/rm')).RmCommand],
  rmi: async () => [(await import('./commands/rmi')).RmiCommand],
  run: async () => [(await import('./commands/run')).RunCommand],
  save: async () => [(await import('./commands/save')).SaveCommand],
  start: async () => [(await import('./commands/start')).StartCommand],
  stats: async () => [(await import('./commands/stats')).StatsCommand],
  stop: async () => [(await import('./commands/stop')).StopCommand],
  systemDf: async () => [(await import('./commands/system/df')).SystemDfCommand],
  systemService: async () => [(await import('./commands/system/service')).SystemServiceCommand],
  tag: async () => [(await import('./commands/tag')).TagCommand],
  top: async () => [(await import('./commands/top')).TopCommand],
  unpause: async () => [(await import('./commands/unpause')).UnpauseCommand],
  version: async () => [(await import('./commands/version')).VersionCommand],
  volumeCreate: async () => [(await import('./commands/volume/create')).VolumeCreateCommand],
  volumeInspect: async () => [(await import('./commands/volume/inspect')).VolumeInspectCommand],
  volumeLs: async () => [(await import('./commands/volume/ls')).VolumeLsCommand],
  volumePrune: async () => [(await import('./commands/volume/prune')).VolumePruneCommand],
  volumeRm: async () => [(await import('./commands/volume/rm')).VolumeRmCommand],
  wait: async () => [(await import('./commands/wait')).WaitCommand],
} satisfies Record<string, () => Promise<CommandClass[]>>;

export type CommandModule = keyof typeof COMMAND_MODULES;

/** The modules whose commands start with a word; test/unit/cli/commandModules.test.ts checks it against every command's paths. */
export const BY_WORD: Record<string, CommandModule[]> = {
  '--version': ['version'],
  attach: ['attach'],
  build: ['build'],
  builder: ['builderPrune'],
  buildx: ['build'],
  commit: ['commit'],
  completion: ['completion'],
  __complete: ['completion'],
  container: ['attach', 'commit', 'containerPrune', 'cp', 'create', 'exec', 'export', 'inspect', 'kill', 'logs', 'pause', 'port', 'ps', 'rename', 'restart', 'rm', 'run', 'start', 'stats', 'stop', 'top', 'unpause', 'wait'],
  cp: ['cp'],
  create: ['create'],
  exec: ['exec'],
  export: ['export'],
  image: ['build', 'imagePrune', 'images', 'import', 'inspect', 'load', 'pull', 'push', 'rmi', 'save', 'tag'],
  images: ['images'],
  import: ['import'],
  info: ['info'],
  inspect: ['inspect'],
  kill: ['kill'],
  load: ['load'],
  login: ['login'],
  logout: ['logout'],
  logs: ['logs'],
  network: ['networkCreate', 'networkInspect', 'networkLs', 'networkRm'],
  pause: ['pause'],
  port: ['port'],
  ps: ['ps'],
  pull: ['pull'],
  push: ['push'],
  rename: ['rename'],
  restart: ['restart'],
  rm: ['rm'],
  rmi: ['rmi'],
  run: ['run'],
  save: ['save'],
  start: ['start'],
  stats: ['stats'],
  stop: ['stop'],
  system: ['info', 'systemDf', 'systemService'],
  tag: ['tag'],
  top: ['top'],
  unpause: ['unpause'],
  version: ['version'],
  volume: ['volumeCreate', 'volumeInspect', 'volumeLs', 'volumePrune', 'volumeRm'],
  wait: ['wait'],
};

/** The command classes for a command line starting with WORD (every one when WORD is not a command's). */
export async function commandsFor(word: string | undefined): Promise<CommandClass[]> {
  const names = (word !== undefined && Object.hasOwn(BY_WORD, word) ? BY_WORD[word] : Object.keys(COMMAND_MODULES)) as CommandModule[];
  return (await Promise.all(names.map((n) => COMMAND_MODULES[n]()))).flat();
}

/** Parses ARGV (without node and the script) and runs the command it names; resolves to the exit code. */
export async function runCli(argv: string[]): Promise<number> {
  setAllCommandsLoader(() => commandsFor(undefined));
  // Docker-style global options before the command: --root DIR / --root=DIR, --log-level LEVEL.
  const globals: Record<string, string> = { '--root': 'LODGER_ROOT', '--log-level': 'LODGER_LOG_LEVEL' };
  for (let g = /^--[a-z-]+/.exec(argv[0] ?? '')?.[0]; g && Object.hasOwn(globals, g); g = /^--[a-z-]+/.exec(argv[0] ?? '')?.[0]) {
    if (argv[0].includes('=')) process.env[globals[g]] = argv.shift()!.split('=').slice(1).join('=');
    else { argv.shift(); process.env[globals[g]] = argv.shift(); }
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
