// DNS wire format (RFC 1035 §4) for the user-network responder: reading one question, writing A answers and error replies.
export const TYPE_A = 1;
export const TYPE_AAAA = 28;
export const TYPE_ANY = 255;
export const CLASS_IN = 1;
export const RCODE_NOERROR = 0;
export const RCODE_FORMERR = 1;
export const RCODE_SERVFAIL = 2;
export const RCODE_NXDOMAIN = 3;
export const RCODE_NOTIMP = 4;
export const RCODE_REFUSED = 5;

export interface DnsQuestion {
  id: number;
  /** RD and opcode bits of the query, echoed in the reply. */
  flags: number;
  /** Lower-cased, without the trailing dot. */
  name: string;
  type: number;
  klass: number;
  /** Byte offset just after the question section (answers are appended there). */
  questionEnd: number;
}

/** Parses a standard query with exactly one question; null when it is not one (a reply, truncated, compressed name). */
export function parseQuery(msg: Buffer): DnsQuestion | null {
  if (msg.length < 12) return null;
  const id = msg.readUInt16BE(0);
  const flags = msg.readUInt16BE(2);
  if (flags & 0x8000) return null; // QR set: a response, not a query
  if (msg.readUInt16BE(4) !== 1) return null;
  const labels: string[] = [];
  let off = 12;
  for (;;) {
    if (off >= msg.length) return null;
    const len = msg[off];
    if (len === 0) {
      off += 1;
      break;
    }
    if (len & 0xc0) return null; // compression pointers do not occur in a question we can answer
    if (off + 1 + len > msg.length) return null;
    labels.push(msg.toString('latin1', off + 1, off + 1 + len));
    off += 1 + len;
  }
  if (off + 4 > msg.length) return null;
  return { id, flags, name: labels.join('.').toLowerCase(), type: msg.readUInt16BE(off), klass: msg.readUInt16BE(off + 2), questionEnd: off + 4 };
}

/**
 * A reply to `query` (its header and question copied) with `rcode` and one A record per address.
 * RA is set because the responder forwards what it cannot answer; AA because container names are ours.
 */
export function buildReply(query: Buffer, q: DnsQuestion, rcode: number, addresses: string[] = [], ttl = 10): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(q.id, 0);
  // QR=1, opcode and RD from the query, AA=1, RA=1, rcode.
  header.writeUInt16BE(0x8000 | (q.flags & 0x7900) | 0x0400 | 0x0080 | (rcode & 0xf), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(addresses.length, 6);
  const answers = addresses.map((ip) => {
    const rr = Buffer.alloc(16);
    rr.writeUInt16BE(0xc00c, 0); // pointer to the question's name at offset 12
    rr.writeUInt16BE(TYPE_A, 2);
    rr.writeUInt16BE(CLASS_IN, 4);
    rr.writeUInt32BE(ttl, 6);
    rr.writeUInt16BE(4, 10);
    ip.split('.').forEach((part, i) => rr.writeUInt8(Number(part), 12 + i));
    return rr;
  });
  return Buffer.concat([header, query.subarray(12, q.questionEnd), ...answers]);
}

/** A minimal query (used by tests and health checks): one question, RD set. */
export function buildQuery(id: number, name: string, type = TYPE_A): Buffer {
  const parts = name.replace(/\.$/, '').split('.').filter(Boolean);
  const qname = Buffer.concat([...parts.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p, 'latin1')])), Buffer.from([0])]);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x0100, 2);
  header.writeUInt16BE(1, 4);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(type, 0);
  tail.writeUInt16BE(CLASS_IN, 2);
  return Buffer.concat([header, qname, tail]);
}

/** Reads the rcode and the A records of a reply (for tests and callers checking an answer). */
export function parseAnswerAddresses(msg: Buffer): { rcode: number; addresses: string[] } {
  const rcode = msg.readUInt16BE(2) & 0xf;
  const qd = msg.readUInt16BE(4);
  const an = msg.readUInt16BE(6);
  let off = 12;
  const skipName = (): void => {
    for (;;) {
      const len = msg[off];
      if (len === 0) {
        off += 1;
        return;
      }
      if ((len & 0xc0) === 0xc0) {
        off += 2;
        return;
      }
      off += 1 + len;
    }
  };
  for (let i = 0; i < qd; i++) {
    skipName();
    off += 4;
  }
  const addresses: string[] = [];
  for (let i = 0; i < an && off < msg.length; i++) {
    skipName();
    const type = msg.readUInt16BE(off);
    const rdlen = msg.readUInt16BE(off + 8);
    off += 10;
    if (type === TYPE_A && rdlen === 4) addresses.push([0, 1, 2, 3].map((k) => msg[off + k]).join('.'));
    off += rdlen;
  }
  return { rcode, addresses };
}
