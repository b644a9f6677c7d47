// `--change` instructions for import/commit (CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE, STOPSIGNAL), as Docker takes them.
import { LodgerError } from '../errors';
import type { ImageRuntimeConfig } from '../oci/config';

/** JSON-array form (exec form) or a shell string run by /bin/sh -c, as in a Dockerfile. */
function commandForm(arg: string): string[] {
  const t = arg.trim();
  if (t.startsWith('[')) {
    try {
      const v = JSON.parse(t);
      if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
    } catch { /* fall through */ }
  }
  return ['/bin/sh', '-c', t];
}

export function applyChanges(base: ImageRuntimeConfig, changes: string[]): ImageRuntimeConfig {
  const c: ImageRuntimeConfig = { ...base };
  for (const change of changes) {
    const m = /^\s*([A-Za-z]+)\s+(.*)$/s.exec(change);
    if (!m) throw new LodgerError('BAD_CHANGE', `--change ${JSON.stringify(change)}: expected an instruction like 'CMD ["/bin/sh"]'`);
    const [, instr, arg] = m;
    switch (instr.toUpperCase()) {
      case 'CMD': c.Cmd = commandForm(arg); break;
      case 'ENTRYPOINT': c.Entrypoint = commandForm(arg); break;
      case 'WORKDIR': c.WorkingDir = arg.trim(); break;
      case 'USER': c.User = arg.trim(); break;
      case 'STOPSIGNAL': c.StopSignal = arg.trim(); break;
      case 'ENV': {
        const kv = arg.includes('=') ? arg.trim() : arg.trim().replace(/\s+/, '=');
        const key = kv.split('=')[0];
        c.Env = [...(c.Env ?? []).filter((e) => e.split('=')[0] !== key), kv];
        break;
      }
      case 'LABEL': {
        const [k, ...v] = arg.trim().split('=');
        c.Labels = { ...(c.Labels ?? {}), [k]: v.join('=').replace(/^"|"$/g, '') };
        break;
      }
      case 'EXPOSE':
        for (const port of arg.trim().split(/\s+/)) c.ExposedPorts = { ...(c.ExposedPorts ?? {}), [port.includes('/') ? port : `${port}/tcp`]: {} };
        break;
      default:
        throw new LodgerError('BAD_CHANGE', `--change ${JSON.stringify(change)}: ${instr} is not supported (use CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE or STOPSIGNAL)`);
    }
  }
  return c;
}
