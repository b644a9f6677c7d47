// Every command class, for the commands that describe the others (completion): app.ts hands its loader in at start-up, so they need not import app.ts back.
import type { CommandClass } from 'clipanion';

let loader: (() => Promise<CommandClass[]>) | undefined;

/** Called once by app.ts with the loader of every command module. */
export function setAllCommandsLoader(load: () => Promise<CommandClass[]>): void {
  loader = load;
}

/** Every command class lodger has (each module loaded on this call). */
export async function allCommands(): Promise<CommandClass[]> {
  if (!loader) throw new Error('allCommands: the CLI has not registered its command table');
  return loader();
}
