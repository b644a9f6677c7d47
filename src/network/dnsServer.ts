// The user-network DNS responder: answers container names from the network record, forwards every other query upstream.
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { Socket } from 'node:net';
import { readFileSync, statSync } from 'node:fs';
import { LodgerError } from '../errors';
import { buildReply, parseQuery, CLASS_IN, RCODE_FORMERR, RCODE_NOERROR, RCODE_NXDOMAIN, RCODE_SERVFAIL, TYPE_A, TYPE_ANY } from './dnsMessage';

/** Names also answer with this suffix, so a resolv.conf `search dns.lodger` line can make short names unambiguous. */
export const NETWORK_DOMAIN = 'dns.lodger';

export interface DnsResponderOptions {
  listen: string;
  port?: number;
  /** The network's record file ($root/networks/NAME.json); re-read whenever it changes. */
  recordsFile: string;
  /** Resolvers for every other name (slirp4netns's 10.0.2.3 inside the network namespace). */
  upstream: string[];
  upstreamPort?: number;
  upstreamTimeoutMs?: number;
}

export interface DnsResponder {
  port: number;
  close(): Promise<void>;
}

interface RecordContainers {
  containers?: Record<string, { name?: string; ip?: string; aliases?: string[] }>;
}

/** name → addresses: each container's name, aliases, full id and 12-character short id (docker answers those). */
export function namesFromRecord(record: RecordContainers): Map<string, string[]> {
  const map = new Map<string, string[]>();
  const add = (name: string | undefined, ip: string): void => {
    if (!name) return;
    const key = name.toLowerCase();
    const list = map.get(key) || [];
    if (!list.includes(ip)) list.push(ip);
    map.set(key, list);
  };
  for (const [id, c] of Object.entries(record.containers || {})) {
    if (!c || !c.ip) continue;
    add(c.name, c.ip);
    for (const a of c.aliases || []) add(a, c.ip);
    add(id, c.ip);
    add(id.slice(0, 12), c.ip);
  }
  return map;
}

/** Looks a query name up, with or without the network domain suffix. */
export function lookupName(names: Map<string, string[]>, qname: string): string[] | null {
  const suffix = `.${NETWORK_DOMAIN}`;
  const bare = qname.endsWith(suffix) ? qname.slice(0, -suffix.length) : qname;
  return names.get(bare) || null;
}

class RecordCache {
  private stamp = '';
  private names = new Map<string, string[]>();
  constructor(private readonly file: string) {}

  get(): Map<string, string[]> {
    try {
      const st = statSync(this.file);
      const stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
      if (stamp !== this.stamp) {
        this.names = namesFromRecord(JSON.parse(readFileSync(this.file, 'utf8')) as RecordContainers);
        this.stamp = stamp;
      }
    } catch {
      // mid-rename or removed: keep answering from the last good copy
    }
    return this.names;
  }
}

function forward(query: Buffer, upstream: string[], port: number, timeoutMs: number): Promise<Buffer | null> {
  return new Promise((resolve) => {
    let i = 0;
    const sock = createSocket('udp4');
    let timer: NodeJS.Timeout | null = null;
    const finish = (reply: Buffer | null): void => {
      if (timer) clearTimeout(timer);
      sock.close();
      resolve(reply);
    };
    const tryNext = (): void => {
      if (i >= upstream.length) return finish(null);
      const server = upstream[i++];
      timer = setTimeout(tryNext, timeoutMs);
      sock.send(query, port, server, (err) => {
        if (err) {
          if (timer) clearTimeout(timer);
          tryNext();
        }
      });
    };
    sock.on('message', (msg, rinfo) => {
      // Only a reply from the server asked, carrying the query's id, is taken.
      if (upstream.includes(rinfo.address) && msg.length >= 2 && msg.readUInt16BE(0) === query.readUInt16BE(0)) finish(msg);
    });
    sock.on('error', () => finish(null));
    tryNext();
  });
}

/** Starts the responder on listen:port (port 0 picks one, for tests). */
export function startDnsResponder(o: DnsResponderOptions): Promise<DnsResponder> {
  const records = new RecordCache(o.recordsFile);
  const server: UdpSocket = createSocket('udp4');
  const upstreamPort = o.upstreamPort ?? 53;
  const timeoutMs = o.upstreamTimeoutMs ?? 2000;
  const reply = (msg: Buffer, to: RemoteInfo): void => {
    server.send(msg, to.port, to.address);
  };
  server.on('message', (msg, rinfo) => {
    const q = parseQuery(msg);
    if (!q) {
      // Not something we can parse: let an upstream judge it, or say FORMERR.
      if (msg.length >= 12 && !(msg.readUInt16BE(2) & 0x8000)) {
        const fake = { id: msg.readUInt16BE(0), flags: msg.readUInt16BE(2), name: '', type: 0, klass: 0, questionEnd: 12 };
        reply(buildReply(msg.subarray(0, 12), fake, RCODE_FORMERR), rinfo);
      }
      return;
    }
    const hit = q.klass === CLASS_IN ? lookupName(records.get(), q.name) : null;
    if (hit) {
      // A container name: A records for A/ANY, an empty NOERROR for other types (no AAAA on these networks).
      reply(buildReply(msg, q, RCODE_NOERROR, q.type === TYPE_A || q.type === TYPE_ANY ? hit : []), rinfo);
      return;
    }
    // Single-label names and the network's own domain belong to the network: an unknown one does not
    // exist, and asking the host's resolvers about it would only leak container names and add delay.
    if (!o.upstream.length || !q.name.includes('.') || q.name === NETWORK_DOMAIN || q.name.endsWith(`.${NETWORK_DOMAIN}`)) {
      reply(buildReply(msg, q, RCODE_NXDOMAIN), rinfo);
      return;
    }
    void forward(msg, o.upstream, upstreamPort, timeoutMs).then((answer) => reply(answer || buildReply(msg, q, RCODE_SERVFAIL), rinfo));
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new LodgerError('NETWORK_DNS_FAILED', `start the network DNS responder on ${o.listen}:${o.port ?? 53}: ${err.code || err.message}`)),
    );
    server.bind({ address: o.listen, port: o.port ?? 53 }, () => {
      resolve({
        port: server.address().port,
        close: () => new Promise<void>((r) => server.close(() => r())),
      });
    });
  });
}

/**
 * Entry point for the responder process, started by the infra code inside the network namespace
 * (`nsenter … <lodger> <hidden command> --listen GW --records FILE --upstream 10.0.2.3 --lifetime-fd 3`):
 * it exits when the lifetime fd reaches end-of-file, i.e. when the namespace holder is gone.
 */
export async function dnsResponderMain(argv: string[]): Promise<void> {
  const opts: DnsResponderOptions = { listen: '', recordsFile: '', upstream: [] };
  let lifetimeFd: number | null = null;
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    switch (argv[i]) {
      case '--listen':
        opts.listen = value;
        i++;
        break;
      case '--port':
        opts.port = Number(value);
        i++;
        break;
      case '--records':
        opts.recordsFile = value;
        i++;
        break;
      case '--upstream':
        opts.upstream.push(value);
        i++;
        break;
      case '--lifetime-fd':
        lifetimeFd = Number(value);
        i++;
        break;
      default:
        throw new LodgerError('NETWORK_DNS_FAILED', `start the network DNS responder: unknown argument ${argv[i]}`);
    }
  }
  if (!opts.listen || !opts.recordsFile) {
    throw new LodgerError('NETWORK_DNS_FAILED', 'start the network DNS responder: --listen and --records are required');
  }
  const responder = await startDnsResponder(opts);
  if (lifetimeFd !== null) {
    const life = new Socket({ fd: lifetimeFd, readable: true, writable: false });
    const quit = (): void => {
      void responder.close().then(() => process.exit(0));
    };
    life.on('end', quit);
    life.on('close', quit);
    life.on('error', quit);
    life.resume();
  }
  process.on('SIGTERM', () => void responder.close().then(() => process.exit(0)));
}
