// What the metadata instructions (ENV, LABEL, CMD, ENTRYPOINT, …) do to an image config, and how each is recorded in its history.
//
// Shell form becomes the stage's SHELL plus the text (`CMD redis-server` → ["/bin/sh","-c","redis-server"]),
// exec form is kept as written; which instructions expand variables follows the Dockerfile reference
// ("Environment replacement": ADD COPY ENV EXPOSE FROM LABEL STOPSIGNAL USER VOLUME WORKDIR ONBUILD).
import * as path from 'node:path';
import type { ImageRuntimeConfig } from '../oci/config';
import { checkFlags, parseJsonForm, type Instruction } from './dockerfile';
import { BuildError } from './errors';
import { expandWord, nameValuePairs, splitWords, type Env } from './words';

export const DEFAULT_SHELL = ['/bin/sh', '-c'];

export interface Healthcheck {
  Test: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

/** The runtime config a build writes: the OCI one plus Docker's extensions (Healthcheck, OnBuild, Shell). */
export interface BuildRuntimeConfig extends ImageRuntimeConfig {
  Healthcheck?: Healthcheck;
  OnBuild?: string[];
  Shell?: string[];
}

export interface MetaContext {
  escape: string;
  /** Variables for expansion: the stage's ARGs overlaid by its ENV. */
  vars: Env;
  used?: Set<string>;
  /** Whether a CMD came earlier in this stage (an ENTRYPOINT then keeps it). */
  cmdSetInStage?: boolean;
}

/** Shell form → SHELL + text; exec form as given. */
export function commandOf(ins: Instruction, shell: string[]): string[] {
  return ins.json ?? [...shell, ins.args];
}

export function envMap(env: string[] | undefined): Map<string, string> {
  const m = new Map<string, string>();
  for (const kv of env ?? []) {
    const eq = kv.indexOf('=');
    m.set(eq < 0 ? kv : kv.slice(0, eq), eq < 0 ? '' : kv.slice(eq + 1));
  }
  return m;
}

/** Sets K=V in an Env list: an existing key keeps its place, as Docker's ENV does. */
export function setEnv(env: string[] | undefined, k: string, v: string): string[] {
  const out = [...(env ?? [])];
  const i = out.findIndex((kv) => kv === k || kv.startsWith(k + '='));
  if (i >= 0) out[i] = `${k}=${v}`; else out.push(`${k}=${v}`);
  return out;
}

/** Go's time.ParseDuration for the HEALTHCHECK flags, in nanoseconds (the unit Docker stores). */
export function parseDuration(s: string, what: string): number {
  const unit: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let m: RegExpExecArray | null;
  let pos = 0;
  if (s === '0') return 0;
  while ((m = re.exec(s))) { total += Number(m[1]) * unit[m[2]]; pos = re.lastIndex; }
  if (pos !== s.length || pos === 0) throw new BuildError('BUILD_SYNTAX', `${what}: ${JSON.stringify(s)} is not a duration (e.g. 30s, 1m30s)`);
  return Math.round(total);
}

function words(ins: Instruction, c: MetaContext): string[] {
  const list = ins.json ?? ins.args.split(/\s+/).filter(Boolean);
  return list.map((w) => expandWord(w, c.vars, c));
}

/** `${keyword} ${text}` as podman/the classic builder record a metadata step: `/bin/sh -c #(nop) ENV A=1`. */
export function nopHistory(text: string): string {
  return `/bin/sh -c #(nop) ${text}`;
}

/**
 * Applies metadata instruction INS to CFG (a copy is returned). WORKDIR's directory and the stage's
 * SHELL are part of the config; ARG and ONBUILD triggers are handled by the stage executor.
 */
export function applyMetadata(cfg: BuildRuntimeConfig, ins: Instruction, c: MetaContext): { config: BuildRuntimeConfig; history: string } {
  const out: BuildRuntimeConfig = { ...cfg };
  const shell = cfg.Shell ?? DEFAULT_SHELL;
  switch (ins.keyword) {
    case 'ENV': {
      checkFlags(ins, []);
      const pairs = nameValuePairs(ins.args, c.vars, c, true);
      if (pairs.length === 0) throw new BuildError('BUILD_SYNTAX', `line ${ins.line}: ENV needs at least one NAME=VALUE`);
      // Every value is expanded with the variables as they were before this instruction (the reference's example: ENV abc=bye def=$abc gives def=hello).
      for (const [k, v] of pairs) out.Env = setEnv(out.Env, k, v);
      return { config: out, history: nopHistory(`ENV ${pairs.map(([k, v]) => `${k}=${v}`).join(' ')}`) };
    }
    case 'LABEL': {
      checkFlags(ins, []);
      const pairs = nameValuePairs(ins.args, c.vars, c, true);
      if (pairs.length === 0) throw new BuildError('BUILD_SYNTAX', `line ${ins.line}: LABEL needs at least one NAME=VALUE`);
      out.Labels = { ...(cfg.Labels ?? {}) };
      for (const [k, v] of pairs) out.Labels[k] = v;
      return { config: out, history: nopHistory(`LABEL ${pairs.map(([k, v]) => `${k}=${v}`).join(' ')}`) };
    }
    case 'MAINTAINER':
      return { config: out, history: nopHistory(`MAINTAINER ${ins.args}`) };
    case 'EXPOSE': {
      checkFlags(ins, []);
      out.ExposedPorts = { ...(cfg.ExposedPorts ?? {}) };
      const ports = words(ins, c);
      for (const p of ports) {
        const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(p);
        if (!m) throw new BuildError('BUILD_SYNTAX', `line ${ins.line}: EXPOSE ${p}: expected PORT[/PROTOCOL] (e.g. 80, 53/udp)`);
        const proto = (m[3] ?? 'tcp').toLowerCase();
        const last = m[2] ? Number(m[2]) : Number(m[1]);
        for (let n = Number(m[1]); n <= last; n++) out.ExposedPorts[`${n}/${proto}`] = {};
      }
      return { config: out, history: nopHistory(`EXPOSE ${ports.map((p) => (p.includes('/') ? p : `${p}/tcp`)).join(' ')}`) };
    }
    case 'WORKDIR': {
      checkFlags(ins, []);
      const dir = expandWord(ins.args, c.vars, c);
      if (!dir) throw new BuildError('BUILD_SYNTAX', `line ${ins.line}: WORKDIR needs a directory`);
      out.WorkingDir = path.posix.resolve(cfg.WorkingDir || '/', dir);
      return { config: out, history: nopHistory(`WORKDIR ${out.WorkingDir}`) };
    }
    case 'USER': {
      checkFlags(ins, []);
      const user = expandWord(ins.args, c.vars, c);
      if (!user) throw new BuildError('BUILD_SYNTAX', `line ${ins.line}: USER needs a user (name or id, optionally :group)`);
      out.User = user;
      return { config: out, history: nopHistory(`USER ${user}`) };
    }
    case 'VOLUME': {
      checkFlags(ins, []);
      const vols = words(ins, c);
      if (vols.length === 0) throw new BuildError('BUILD_SYNTAX', `line ${ins.line}: VOLUME needs a path`);
      out.Volumes = { ...(cfg.Volumes ?? {}) };
      for (const v of vols) out.Volumes[v] = {};
      return { config: out, history: nopHistory(`VOLUME [${vols.join(' ')}]`) };
    }
    case 'STOPSIGNAL': {
      checkFlags(ins, []);
      const sig = expandWord(ins.args, c.vars, c);
      if (!/^(SIG)?[A-Z0-9+-]+$|^\d+$/.test(sig)) throw new BuildError('BUILD_SYNTAX', `line ${ins.line}: STOPSIGNAL ${sig}: expected a signal name or number`);
      out.StopSignal = sig;
      return { config: out, history: nopHistory(`STOPSIGNAL ${sig}`) };
    }
    case 'SHELL': {
      checkFlags(ins, []);
      if (!ins.json || ins.json.length === 0) throw new BuildError('BUILD_SYNTAX', `line ${ins.line}: SHELL must be written in JSON form, e.g. SHELL ["/bin/bash", "-c"]`);
      out.Shell = ins.json;
      return { config: out, history: nopHistory(`SHELL [${ins.json.join(' ')}]`) };
    }
    case 'CMD': {
      checkFlags(ins, []);
      out.Cmd = commandOf(ins, shell);
      return { config: out, history: nopHistory(`CMD ${JSON.stringify(out.Cmd)}`) };
    }
    case 'ENTRYPOINT': {
      checkFlags(ins, []);
      out.Entrypoint = ins.args === '' ? null : commandOf(ins, shell);
      // Docker: an ENTRYPOINT resets a CMD inherited from the base image (not one set in this stage before it).
      if (cfg.Cmd !== undefined && !c.cmdSetInStage) out.Cmd = null;
      return { config: out, history: nopHistory(`ENTRYPOINT ${JSON.stringify(out.Entrypoint)}`) };
    }
    case 'HEALTHCHECK': {
      checkFlags(ins, ['interval', 'timeout', 'start-period', 'start-interval', 'retries']);
      const [kind, ...rest] = ins.args.split(/\s+/);
      const upper = (kind ?? '').toUpperCase();
      if (upper === 'NONE') {
        if (rest.length || ins.flags.length) throw new BuildError('BUILD_SYNTAX', `line ${ins.line}: HEALTHCHECK NONE takes no arguments`);
        out.Healthcheck = { Test: ['NONE'] };
        return { config: out, history: nopHistory('HEALTHCHECK NONE') };
      }
      if (upper !== 'CMD') throw new BuildError('BUILD_SYNTAX', `line ${ins.line}: HEALTHCHECK must be followed by CMD or NONE`);
      const text = ins.args.slice(kind.length).trim();
      const json = parseJsonForm(text);
      const hc: Healthcheck = { Test: json ? ['CMD', ...json] : ['CMD-SHELL', text] };
      for (const f of ins.flags) {
        const v = f.value ?? '';
        if (f.name === 'retries') {
          if (!/^\d+$/.test(v)) throw new BuildError('BUILD_SYNTAX', `line ${ins.line}: HEALTHCHECK --retries ${v}: expected a whole number`);
          hc.Retries = Number(v);
        } else {
          const ns = parseDuration(v, `line ${ins.line}: HEALTHCHECK --${f.name}`);
          if (f.name === 'interval') hc.Interval = ns;
          else if (f.name === 'timeout') hc.Timeout = ns;
          else if (f.name === 'start-period') hc.StartPeriod = ns;
          else hc.StartInterval = ns;
        }
      }
      out.Healthcheck = hc;
      return { config: out, history: nopHistory(`HEALTHCHECK &{${JSON.stringify(hc.Test)}}`) };
    }
    case 'ONBUILD': {
      checkFlags(ins, []);
      const trigger = ins.args.trim();
      const kw = trigger.split(/\s+/)[0]?.toUpperCase();
      if (!kw) throw new BuildError('BUILD_SYNTAX', `line ${ins.line}: ONBUILD needs an instruction`);
      if (['ONBUILD', 'FROM', 'MAINTAINER'].includes(kw)) throw new BuildError('BUILD_SYNTAX', `line ${ins.line}: ONBUILD ${kw} is not allowed`);
      out.OnBuild = [...(cfg.OnBuild ?? []), trigger];
      return { config: out, history: nopHistory(`ONBUILD ${trigger}`) };
    }
    default:
      throw new BuildError('BUILD_UNSUPPORTED', `line ${ins.line}: ${ins.keyword} is not a metadata instruction`);
  }
}

/** Splits `ARG name[=default]` (one or more), keeping the default unexpanded for the caller. */
export function argDeclarations(ins: Instruction, escape: string): Array<{ name: string; def?: string }> {
  return splitWords(ins.args, escape).map((w) => {
    const eq = w.indexOf('=');
    const name = eq < 0 ? w : w.slice(0, eq);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new BuildError('BUILD_SYNTAX', `line ${ins.line}: ARG ${w}: invalid name`);
    return eq < 0 ? { name } : { name, def: w.slice(eq + 1) };
  });
}
