// A container's own stdio as a front door hands it over: fds or streams, a terminal size, and who relays signals (types only).
import type { Stream } from 'node:stream';
import type { Reporter } from '../events';

/**
 * One of the container's stdin, stdout or stderr: an fd the helper inherits (the CLI passes its own
 * 0, 1, 2), a stream with an fd (the API's hijacked socket) the container uses directly, any other
 * stream (copied through a pipe: a build's PassThrough), or 'ignore' (/dev/null).
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

/** The front door's terminal, for attaching to a container with a tty (the CLI's: tty.ReadStream/WriteStream). */
export interface TerminalControl {
  /** Raw mode on (keys go to the container's pty one by one, Ctrl-C included) or back off. */
  setRaw(on: boolean): void;
  /** Its size now; undefined when unknown (a terminal whose size nobody set says 0×0). */
  size(): { rows: number; cols: number } | undefined;
  /** Calls CB whenever the size changes (SIGWINCH); returns what stops that. */
  onResize(cb: () => void): StopRelay;
}

/** What attaching to a running container's stdio needs from the front door. */
export interface AttachIO {
  /** Where the container's stdout and stderr go (kept apart). */
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Input for a container created with -i; its end ends this attach's input only. */
  stdin?: NodeJS.ReadableStream;
  /** STDIN is typed by a person: the detach keys are watched in it (piped input goes through as it is). */
  typed?: boolean;
  /** The terminal behind STDIN/STDOUT, for a container with a tty. */
  terminal?: TerminalControl;
  /** As ContainerIO's: used when signals are proxied (AttachOptions.sigProxy, no tty). */
  relaySignals?: (send: (sig: NodeJS.Signals) => void) => StopRelay;
  /** Warnings of this attach (stdin could not be attached); default: the store's reporter. */
  report?: Reporter;
}

