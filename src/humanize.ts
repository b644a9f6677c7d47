// Docker's texts for people: sizes (12.3MB), ages (5 minutes), short ids and a container's status (Up 5 minutes).
// Shown by both front doors (the CLI's tables, the API's "Status" fields); domain code returns numbers
// and dates and never imports this (.dependency-cruiser.cjs: only-front-doors-humanize).

export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) { v /= 1000; u++; }
  return `${u === 0 ? v : v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)}${units[u]}`;
}

export function humanAge(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 1) return 'Less than a second';
  if (s < 60) return `${s} second${s === 1 ? '' : 's'}`;
  const m = Math.round(s / 60);
  if (m < 60) return m === 1 ? 'About a minute' : `${m} minutes`;
  const h = Math.round(m / 60);
  if (h < 48) return h === 1 ? 'About an hour' : `${h} hours`;
  const d = Math.round(h / 24);
  if (d < 14) return `${d} days`;
  const w = Math.round(d / 7);
  if (d < 60) return `${w} weeks`;
  return `${Math.round(d / 30)} months`;
}

export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

/** The zero time Go (and the container records) use for "never". */
const ZERO_TIME = '0001-01-01T00:00:00Z';

/** Docker's STATUS of a container: "Up 5 minutes", "Exited (0) 2 hours ago", "Created"… */
export function statusText(st: { Status: string; StartedAt: string; FinishedAt: string; ExitCode: number }, now = Date.now()): string {
  switch (st.Status) {
    case 'running': return `Up ${humanAge(st.StartedAt, now)}`;
    case 'paused': return `Up ${humanAge(st.StartedAt, now)} (Paused)`;
    // A container whose supervisor was killed has no recorded finish time: no age rather than 2000 years.
    case 'exited': return st.FinishedAt === ZERO_TIME ? `Exited (${st.ExitCode})` : `Exited (${st.ExitCode}) ${humanAge(st.FinishedAt, now)} ago`;
    case 'dead': return 'Dead';
    default: return 'Created';
  }
}
