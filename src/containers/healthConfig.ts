// Health check settings as Docker records them (Config.Healthcheck) from --health-* and the image's HEALTHCHECK — pure, for the option declarations too.
import { LodgerError } from '../errors';

/** Docker's Config.Healthcheck: durations in nanoseconds, 0 meaning the default. Test ["NONE"] turns it off. */
export interface HealthConfig { Test: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; StartInterval?: number; Retries?: number }

const SECOND = 1e9;
/** Docker's defaults for what Config.Healthcheck leaves 0. */
export const DEFAULTS = { Interval: 30 * SECOND, Timeout: 30 * SECOND, StartPeriod: 0, StartInterval: 5 * SECOND, Retries: 3 };

/** A Go duration (time.ParseDuration) as --health-interval takes it: "30s", "1m30s", "500ms"; nanoseconds. */
export function parseDuration(flag: string, v: string): number {
  const units: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  if (v === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let i = 0;
  while (i < v.length) {
    re.lastIndex = i;
    const m = re.exec(v);
    if (!m) throw new LodgerError('BAD_DURATION', `${flag} ${v}: expected a duration such as 30s, 1m30s or 500ms`);
    total += Number(m[1]) * units[m[2]];
    i = re.lastIndex;
  }
  if (v === '') throw new LodgerError('BAD_DURATION', `${flag}: empty duration`);
  return Math.round(total);
}

export interface HealthFlags {
  cmd?: string; interval?: string; timeout?: string; startPeriod?: string; startInterval?: string; retries?: string; none?: boolean;
}

/** The container's health check: the flags over the image's HEALTHCHECK, as Docker merges them; undefined when there is none. */
export function healthConfig(f: HealthFlags, image: HealthConfig | undefined): HealthConfig | undefined {
  const given = f.cmd !== undefined || f.interval !== undefined || f.timeout !== undefined || f.startPeriod !== undefined || f.retries !== undefined || f.startInterval !== undefined;
  if (f.none) {
    if (given) throw new LodgerError('BAD_OPTIONS', '--no-healthcheck conflicts with the --health-* options');
    return { Test: ['NONE'] };
  }
  if (!given) return image;
  const hc: HealthConfig = { ...(image ?? { Test: [] }) };
  if (f.cmd !== undefined) hc.Test = f.cmd === '' ? [] : ['CMD-SHELL', f.cmd];
  const dur = (flag: string, v: string | undefined, key: 'Interval' | 'Timeout' | 'StartPeriod' | 'StartInterval') => {
    if (v === undefined) return;
    const n = parseDuration(flag, v);
    if (n !== 0 && n < 1e6) throw new LodgerError('BAD_DURATION', `${flag} ${v}: must be at least 1ms`);
    hc[key] = n;
  };
  dur('--health-interval', f.interval, 'Interval');
  dur('--health-timeout', f.timeout, 'Timeout');
  dur('--health-start-period', f.startPeriod, 'StartPeriod');
  dur('--health-start-interval', f.startInterval, 'StartInterval');
  if (f.retries !== undefined) {
    if (!/^\d+$/.test(f.retries)) throw new LodgerError('BAD_OPTIONS', `--health-retries ${f.retries}: expected a whole number`);
    hc.Retries = Number(f.retries);
  }
  if (hc.Test.length === 0) throw new LodgerError('BAD_OPTIONS', 'the --health-* options need a command: give --health-cmd, or use an image with a HEALTHCHECK');
  return hc;
}

export function healthEnabled(hc: HealthConfig | undefined): hc is HealthConfig {
  return !!hc && hc.Test.length > 0 && hc.Test[0] !== 'NONE';
}
