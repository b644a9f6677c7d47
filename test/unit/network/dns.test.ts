// Unit tests for the DNS wire format and the user-network responder, over real UDP sockets on 127.0.0.1.
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildQuery, buildReply, parseAnswerAddresses, parseQuery, RCODE_NOERROR, RCODE_NXDOMAIN, RCODE_SERVFAIL, TYPE_A, TYPE_AAAA } from '../../../src/network/dnsMessage';
import { lookupName, namesFromRecord, startDnsResponder, type DnsResponder } from '../../../src/network/dnsServer';

function ask(port: number, query: Buffer): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    const t = setTimeout(() => {
      s.close();
      resolve(null);
    }, 3000);
    s.on('message', (m) => {
      clearTimeout(t);
      s.close();
      resolve(m);
    });
    s.send(query, port, '127.0.0.1');
  });
}

describe('DNS messages', () => {
  it('round-trips a query and an A answer', () => {
    const q = buildQuery(0x1234, 'Web.Example.');
    const parsed = parseQuery(q)!;
    expect(parsed).toMatchObject({ id: 0x1234, name: 'web.example', type: TYPE_A, klass: 1 });
    const reply = buildReply(q, parsed, RCODE_NOERROR, ['10.89.0.2', '10.89.0.3']);
    expect(reply.readUInt16BE(0)).toBe(0x1234);
    expect(reply.readUInt16BE(2) & 0x8000).toBe(0x8000); // QR
    expect(reply.readUInt16BE(2) & 0x0100).toBe(0x0100); // RD echoed
    expect(parseAnswerAddresses(reply)).toEqual({ rcode: RCODE_NOERROR, addresses: ['10.89.0.2', '10.89.0.3'] });
  });

  it('refuses what is not a one-question query', () => {
    expect(parseQuery(Buffer.alloc(5))).toBeNull();
    const q = buildQuery(1, 'a');
    const asReply = Buffer.from(q);
    asReply.writeUInt16BE(0x8100, 2);
    expect(parseQuery(asReply)).toBeNull();
    expect(parseQuery(q.subarray(0, q.length - 2))).toBeNull();
  });
});

describe('responder', () => {
  let dir = '';
  let records = '';
  let responder: DnsResponder;
  let upstream: Socket;
  let upstreamPort = 0;
  const upstreamSeen: string[] = [];

  const writeRecord = (containers: Record<string, { name: string; ip: string; aliases: string[] }>): void => {
    // as userNetwork.saveNetwork does: a new file renamed over the old one
    writeFileSync(`${records}.tmp`, JSON.stringify({ name: 'n', containers }));
    renameSync(`${records}.tmp`, records);
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lodger-dns-'));
    records = join(dir, 'n.json');
    writeRecord({ ['ab'.repeat(32)]: { name: 'web', ip: '10.89.0.2', aliases: ['www'] } });
    // A fake upstream on loopback that answers every name with 192.0.2.7.
    upstream = createSocket('udp4');
    upstream.on('message', (m, r) => {
      const q = parseQuery(m)!;
      upstreamSeen.push(q.name);
      upstream.send(buildReply(m, q, RCODE_NOERROR, ['192.0.2.7']), r.port, r.address);
    });
    await new Promise<void>((r) => upstream.bind(0, '127.0.0.1', () => r()));
    upstreamPort = upstream.address().port;
    responder = await startDnsResponder({ listen: '127.0.0.1', port: 0, recordsFile: records, upstream: ['127.0.0.1'], upstreamPort });
  });

  afterAll(async () => {
    await responder?.close();
    upstream?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers container names, aliases, short ids and the network domain, case-insensitively', async () => {
    for (const name of ['web', 'WWW', 'abababababab', 'web.dns.lodger']) {
      const r = await ask(responder.port, buildQuery(7, name));
      expect(parseAnswerAddresses(r!)).toEqual({ rcode: RCODE_NOERROR, addresses: ['10.89.0.2'] });
    }
    const aaaa = await ask(responder.port, buildQuery(8, 'web', TYPE_AAAA));
    expect(parseAnswerAddresses(aaaa!)).toEqual({ rcode: RCODE_NOERROR, addresses: [] });
  });

  it('says NXDOMAIN itself for unknown single-label and network-domain names', async () => {
    for (const name of ['nosuch', 'nosuch.dns.lodger']) {
      expect(parseAnswerAddresses((await ask(responder.port, buildQuery(9, name)))!).rcode).toBe(RCODE_NXDOMAIN);
    }
    expect(upstreamSeen).toEqual([]);
  });

  it('forwards other names upstream and relays the answer', async () => {
    const r = await ask(responder.port, buildQuery(10, 'example.org'));
    expect(r!.readUInt16BE(0)).toBe(10);
    expect(parseAnswerAddresses(r!)).toEqual({ rcode: RCODE_NOERROR, addresses: ['192.0.2.7'] });
    expect(upstreamSeen).toEqual(['example.org']);
  });

  it('follows changes of the record file', async () => {
    writeRecord({ ['cd'.repeat(32)]: { name: 'db', ip: '10.89.0.9', aliases: [] } });
    expect(parseAnswerAddresses((await ask(responder.port, buildQuery(11, 'db')))!).addresses).toEqual(['10.89.0.9']);
    expect(parseAnswerAddresses((await ask(responder.port, buildQuery(12, 'web')))!).rcode).toBe(RCODE_NXDOMAIN);
  });

  it('answers SERVFAIL when no upstream replies', async () => {
    const silent = await startDnsResponder({ listen: '127.0.0.1', port: 0, recordsFile: records, upstream: ['127.0.0.1'], upstreamPort: 9, upstreamTimeoutMs: 200 });
    try {
      expect(parseAnswerAddresses((await ask(silent.port, buildQuery(13, 'example.org')))!).rcode).toBe(RCODE_SERVFAIL);
    } finally {
      await silent.close();
    }
  });

  it('builds the name table from a record', () => {
    const names = namesFromRecord({ containers: { ['ef'.repeat(32)]: { name: 'A', ip: '10.0.0.1', aliases: ['b'] }, x: { name: 'noip' } } });
    expect(lookupName(names, 'a')).toEqual(['10.0.0.1']);
    expect(lookupName(names, 'b.dns.lodger')).toEqual(['10.0.0.1']);
    expect(lookupName(names, 'noip')).toBeNull();
  });
});
