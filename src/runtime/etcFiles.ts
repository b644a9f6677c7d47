// The files lodger generates for a container's /etc: hostname, hosts and resolv.conf.
import * as fs from 'node:fs';

export interface EtcInputs {
  hostname: string;
  name: string;
  network: string;
  ip?: string;
  extraHosts?: string[];
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
  /** Address of the backend's DNS forwarder, replacing loopback resolvers of the host. */
  dnsForwarder?: string;
}

export function hostsFile(i: EtcInputs): string {
  if (i.network === 'host') {
    let host = '';
    try { host = fs.readFileSync('/etc/hosts', 'utf8'); } catch { /* none */ }
    return host + (i.extraHosts ?? []).map((h) => `${h.split(':').slice(1).join(':')}\t${h.split(':')[0]}\n`).join('');
  }
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback'];
  lines.push(`${i.ip ?? '127.0.1.1'}\t${i.hostname} ${i.name}`);
  for (const h of i.extraHosts ?? []) {
    const idx = h.indexOf(':');
    lines.push(`${h.slice(idx + 1)}\t${h.slice(0, idx)}`);
  }
  return lines.join('\n') + '\n';
}

const LOOPBACK = /^(127\.|::1$|0\.0\.0\.0$)/;

export function resolvConf(i: EtcInputs): string {
  let host = '';
  for (const f of ['/etc/resolv.conf']) { try { host = fs.readFileSync(f, 'utf8'); break; } catch { /* none */ } }
  const lines = host.split('\n');
  let servers = lines.filter((l) => /^\s*nameserver\s/.test(l)).map((l) => l.trim().split(/\s+/)[1]);
  let search = lines.filter((l) => /^\s*(search|domain)\s/.test(l)).flatMap((l) => l.trim().split(/\s+/).slice(1));
  let options = lines.filter((l) => /^\s*options\s/.test(l)).flatMap((l) => l.trim().split(/\s+/).slice(1));
  if (i.network !== 'host') {
    // A loopback resolver of the host is unreachable from the container's own network namespace.
    const hadLoopback = servers.some((s) => LOOPBACK.test(s));
    servers = servers.filter((s) => !LOOPBACK.test(s));
    if (hadLoopback && i.dnsForwarder) servers.unshift(i.dnsForwarder);
  }
  if (i.dns?.length) servers = i.dns;
  if (i.dnsSearch?.length) search = i.dnsSearch;
  if (i.dnsOptions?.length) options = i.dnsOptions;
  const out: string[] = [];
  if (search.length) out.push(`search ${search.join(' ')}`);
  for (const s of servers) out.push(`nameserver ${s}`);
  if (options.length) out.push(`options ${options.join(' ')}`);
  return out.join('\n') + '\n';
}
