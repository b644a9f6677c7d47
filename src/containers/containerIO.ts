// A container's own stdio as a front door hands it over: fds or streams, a terminal size, and who relays signals (types only).
import type { Stream } from 'node:stream';
import type { Reporter } from '../events';

/**
 * One of the container's stdin, stdout or stderr: an fd the helper inherits (the CLI passes its own
 * 0, 1, 2), a stream with an fd (the API's hijacked socket), or 'ignore' (/dev/null).
 */
export type StdioEnd = number | Stream | 'ignore';

/** Stops relaying; called once the process has exited. */
export type StopRelay = () => void;

/**
 * What runs a container or an exec'd process in the foreground needs from the front door. Nothing
 * here is process-wide: the CLI gives its terminal and its own signals, the API a socket and none.
 */
export interface ContainerIO {
  stdin: StdioEnd;
  stdout: StdioEnd;
  stderr: StdioEnd;
  /** The size of the terminal a -t process gets (rows × columns); 24×80 when not given. */
  ttySize?: { rows: number; cols: number };
  /**
   * Called once the process runs, with SEND, which delivers a signal to it as a stop would (SIGTERM:
   * SIGKILL after a grace). The CLI relays the signals it receives; returns what undoes that.
   */
  relaySignals?: (send: (sig: NodeJS.Signals) => void) => StopRelay;
  /** This start's notes and warnings (default: the store's reporter). */
  report?: Reporter;
}

