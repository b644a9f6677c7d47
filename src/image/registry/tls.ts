// How to reach a registry host: plain HTTP or HTTPS, whether certificates are verified, and which CA and client certificate to use (certs.d).
//
// certs.d layout (containers-certs.d(5), Docker's "Verify repository client with certificates"):
// `<dir>/<host[:port]>/*.crt` are CA certificates, `*.cert` + `*.key` (same basename) a client
// certificate. Default dirs, first that has the host: ~/.config/containers/certs.d,
// /etc/containers/certs.d, /etc/docker/certs.d. --cert-dir replaces them; it may be a certs.d
// root (with a <host> subdirectory) or the host's directory itself (podman's meaning).
//
// Loopback registries (127.0.0.0/8, ::1, localhost) are reachable over plain HTTP without being
// told, as Docker allows (dockerd's default insecure-registries includes 127.0.0.0/8). We still try
// HTTPS first and fall back to HTTP only when the server plainly does not speak TLS, so a loopback
// registry that does speak TLS keeps its certificate checked.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { LodgerError, fsError } from '../../errors';
import { userConfigDir } from '../../config/dirs';

export interface TlsSettings {
  rejectUnauthorized: boolean;
  /** Replaces Node's default CAs, so it includes them (tls.rootCertificates) plus the certs.d ones. */
  ca?: (string | Buffer)[];
  cert?: Buffer;
  key?: Buffer;
}

export interface TransportPlan {
  /** Schemes to try in order; the second is used only if the server does not speak the first. */
  schemes: ('https' | 'http')[];
  tls: TlsSettings;
  /** Files whose certificates were loaded, for messages. */
  certFiles: string[];
  /** Where we looked for certs.d entries, for messages. */
  certDirsSearched: string[];
}

export interface TransportOptions {
  /** --tls-verify: false turns verification off (and allows HTTP); true forces verified HTTPS even on loopback. */
  tlsVerify?: boolean;
  /** --cert-dir. */
  certDir?: string;
  /** registries.conf `insecure = true` for this host. */
  insecure?: boolean;
  home?: string;
}

/** True for localhost, 127.0.0.0/8 and ::1, with or without a port. */
export function isLoopbackHost(host: string): boolean {
  let h = host;
  const v6 = /^\[([^\]]+)\](?::[0-9]+)?$/.exec(h);
  if (v6) h = v6[1];
  else if (h.split(':').length === 2) h = h.replace(/:[0-9]+$/, '');
  h = h.toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$/.test(h);
}

export function defaultCertDirs(home?: string): string[] {
  return [path.join(userConfigDir(home), 'containers', 'certs.d'), '/etc/containers/certs.d', '/etc/docker/certs.d'];
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** The certs.d directory that applies to `host`, or undefined; also returns what was searched. */
export function findHostCertDir(host: string, opts: TransportOptions): { dir?: string; searched: string[] } {
  if (opts.certDir) {
    const sub = path.join(opts.certDir, host);
    if (isDir(sub)) return { dir: sub, searched: [sub] };
    if (!isDir(opts.certDir)) {
      throw new LodgerError('CERT_DIR_INVALID', `use --cert-dir ${opts.certDir}: not a directory — give a certs.d directory holding ${host}/ca.crt, or the directory holding ca.crt`);
    }
    return { dir: opts.certDir, searched: [opts.certDir] };
  }
  const searched = defaultCertDirs(opts.home).map((d) => path.join(d, host));
  return { dir: searched.find(isDir), searched };
}

function readCertFile(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw fsError('read certificate', file, e, 'check its permissions or remove it from the certs.d directory');
  }
}

/** Loads CAs and the client certificate from a host's certs.d directory. */
export function loadCertDir(dir: string): { ca: Buffer[]; cert?: Buffer; key?: Buffer; files: string[] } {
  let names: string[];
  try {
    names = fs.readdirSync(dir).sort();
  } catch (e) {
    throw fsError('read certificate directory', dir, e);
  }
  const ca: Buffer[] = [];
  const files: string[] = [];
  let cert: Buffer | undefined;
  let key: Buffer | undefined;
  for (const n of names) {
    const full = path.join(dir, n);
    if (n.endsWith('.crt')) {
      ca.push(readCertFile(full));
      files.push(full);
    } else if (n.endsWith('.cert')) {
      const keyName = n.slice(0, -'.cert'.length) + '.key';
      if (!names.includes(keyName)) throw new LodgerError('CERT_DIR_INVALID', `use client certificate ${full}: missing its key ${path.join(dir, keyName)} — add the key or remove the certificate`);
      if (!cert) {
        cert = readCertFile(full);
        key = readCertFile(path.join(dir, keyName));
        files.push(full);
      }
    } else if (n.endsWith('.key')) {
      const certName = n.slice(0, -'.key'.length) + '.cert';
      if (!names.includes(certName)) throw new LodgerError('CERT_DIR_INVALID', `use client key ${full}: missing its certificate ${path.join(dir, certName)} — add the certificate or remove the key`);
    }
  }
  return { ca, cert, key, files };
}

/** Decides scheme(s) and TLS settings for `host` (host[:port], as in the reference). */
export function planTransport(host: string, opts: TransportOptions = {}): TransportPlan {
  const { dir, searched } = findHostCertDir(host, opts);
  const loaded = dir ? loadCertDir(dir) : { ca: [], files: [] as string[], cert: undefined, key: undefined };
  const verifyOff = opts.tlsVerify === false || (opts.tlsVerify === undefined && opts.insecure === true);
  const tlsSettings: TlsSettings = { rejectUnauthorized: !verifyOff };
  if (loaded.ca.length) tlsSettings.ca = [...tls.rootCertificates, ...loaded.ca];
  if (loaded.cert && loaded.key) { tlsSettings.cert = loaded.cert; tlsSettings.key = loaded.key; }
  let schemes: TransportPlan['schemes'] = ['https'];
  if (verifyOff || (opts.tlsVerify === undefined && isLoopbackHost(host))) schemes = ['https', 'http'];
  return { schemes, tls: tlsSettings, certFiles: loaded.files, certDirsSearched: searched };
}
