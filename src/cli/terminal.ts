// This process's terminal as a container attach uses it: raw mode on stdin, the size of stdout and its changes (SIGWINCH).
import type * as tty from 'node:tty';
import type { TerminalControl } from '../containers/containerIO';

/** STDIN/STDOUT's terminal: raw mode only where stdin is a terminal, a size only where stdout is one whose size is set. */
export function terminalControl(stdin: NodeJS.ReadableStream, stdout: NodeJS.WritableStream): TerminalControl {
  const input = stdin as tty.ReadStream;
  const output = stdout as tty.WriteStream;
  const canRaw = input.isTTY === true && typeof input.setRawMode === 'function';
  return {
    setRaw(on) { if (canRaw) input.setRawMode(on); },
    // A terminal whose size nobody set says 0×0: then the container's pty keeps its own.
    size() { return output.isTTY && output.rows > 0 && output.columns > 0 ? { rows: output.rows, cols: output.columns } : undefined; },
    onResize(cb) {
      // Node turns SIGWINCH into 'resize' on a terminal's WriteStream (tty(4)).
      if (!output.isTTY) return () => undefined;
      output.on('resize', cb);
      return () => { output.off('resize', cb); };
    },
  };
}
