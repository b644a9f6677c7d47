// Where the user's configuration lives: $XDG_CONFIG_HOME or ~/.config (XDG Base Directory Specification).
import * as os from 'node:os';
import * as path from 'node:path';

/** The user's configuration directory; HOME names another user's home (tests, a shared set-up). */
export function userConfigDir(home?: string): string {
  if (home !== undefined) return path.join(home, '.config');
  const xdg = process.env.XDG_CONFIG_HOME;
  // The specification says a relative value is invalid and must be ignored.
  return xdg && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.config');
}
