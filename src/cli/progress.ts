// Pull progress: a bar per layer on a terminal (redrawn in place), plain lines otherwise.
import type { LayerPhase } from '../events';
import { humanSize } from './format';

export interface ProgressReporter {
  update: (digest: string, done: number, total: number, phase: LayerPhase) => void;
  finish: () => void;
}

export function progressReporter(out: NodeJS.WriteStream): ProgressReporter {
  const tty = !!out.isTTY;
  const order: string[] = [];
  const state = new Map<string, { done: number; total: number; phase: string }>();
  let drawn = 0;
  let last = 0;
  const line = (d: string) => {
    const s = state.get(d)!;
    const id = d.slice(7, 19);
    if (s.phase === 'exists') return `${id}: Already exists`;
    if (s.phase === 'done') return `${id}: Pull complete (${humanSize(s.total)})`;
    const width = 30;
    const frac = s.total ? Math.min(1, s.done / s.total) : 0;
    const bar = '='.repeat(Math.floor(frac * width)).padEnd(width, ' ');
    return `${id}: Downloading [${bar}] ${humanSize(s.done)}/${humanSize(s.total)}`;
  };
  const redraw = () => {
    if (drawn) out.write(`\x1b[${drawn}A`);
    for (const d of order) out.write(`\x1b[2K${line(d)}\n`);
    drawn = order.length;
  };
  return {
    update(digest, done, total, phase) {
      if (!state.has(digest)) order.push(digest);
      const prev = state.get(digest);
      state.set(digest, { done, total, phase });
      if (tty) {
        const now = Date.now();
        if (phase !== 'downloading' || now - last > 100) { last = now; redraw(); }
      } else if (!prev || prev.phase !== phase) {
        if (phase !== 'downloading' || !prev) out.write(line(digest) + '\n');
      }
    },
    finish() { if (tty) redraw(); },
  };
}
