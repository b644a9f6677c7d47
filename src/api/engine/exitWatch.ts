// Container exits seen by the API's events: the store's states polled every second while an events client listens, a `die` for each run that ended.
import { containerEntries, ZERO_TIME } from '../../storage/containers';
import type { StorePaths } from '../../storage/paths';

/** What a container's last poll showed: enough to tell that a run ended, and to name it once it is gone. */
interface Seen { running: boolean; startedAt: string; finishedAt: string; exitCode: number; name: string; image: string; labels: Record<string, string> }

/** Reports a container's exit: its id, its exit code when known, and its name, image and labels. */
export type OnDie = (id: string, attrs: Record<string, string>) => void;

/** How often the states are read: Docker reports a die at once; a second is the delay we accept. */
const POLL_MS = 1000;

/**
 * Containers exit under their monitors, which no daemon waits on: the service learns of it only by
 * looking. Polling the states (one small state.json per container a second, only while an events client
 * is connected) was chosen over fs.watch: the monitor replaces state.json by rename(2) into the
 * container's directory, so a watch per directory would have to follow containers as they come and go,
 * and inotify's per-user watch limit is shared with the rest of the user's session; a missed or
 * coalesced inotify event would lose a die, where a poll compares what it sees with what it last saw.
 */
export class ExitWatch {
  private seen = new Map<string, Seen>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly p: StorePaths, private readonly onDie: OnDie) {}

  /** Starts polling (the states now are the baseline: nothing before it is reported). */
  start(): void {
    if (this.timer) return;
    this.seen = this.look();
    this.timer = setInterval(() => this.poll(), POLL_MS);
    // The service's lifetime is its listener's and its clients': this timer does not hold it open.
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.seen.clear();
  }

  private look(): Map<string, Seen> {
    const now = new Map<string, Seen>();
    for (const { rec, state } of containerEntries(this.p)) {
      now.set(rec.Id, { running: state.Running, startedAt: state.StartedAt, finishedAt: state.FinishedAt, exitCode: state.ExitCode, name: rec.Name, image: rec.Image, labels: rec.Config.Labels ?? {} });
    }
    return now;
  }

  /** One poll: a die for each run that ended since the last one (each run once). */
  poll(): void {
    let now: Map<string, Seen>;
    try { now = this.look(); } catch { return; }  // a store being changed under us: the next poll sees it
    for (const [id, cur] of now) {
      const prev = this.seen.get(id);
      if (ended(prev, cur)) this.onDie(id, { ...cur.labels, name: cur.name, image: cur.image, exitCode: String(cur.exitCode) });
    }
    for (const [id, prev] of this.seen) {
      // Removed (--rm) since the last poll while it ran: its exit code went with its directory.
      if (!now.has(id) && prev.running) this.onDie(id, { ...prev.labels, name: prev.name, image: prev.image });
    }
    this.seen = now;
  }
}

/** Whether a run ended between PREV (undefined: the container is new since the last poll) and CUR. */
function ended(prev: Seen | undefined, cur: Seen): boolean {
  // Stopped running; or restarted between two polls (a new run: the previous one ended).
  if (prev?.running) return !cur.running || cur.startedAt !== prev.startedAt;
  // A run that began and ended between two polls: its finish time is new.
  return !cur.running && cur.finishedAt !== ZERO_TIME && cur.finishedAt !== (prev?.finishedAt ?? ZERO_TIME);
}
