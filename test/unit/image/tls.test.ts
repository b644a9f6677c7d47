// Transport decisions: which scheme(s) a registry host gets, and the certs.d lookup (CA files, client certificate pairs, --cert-dir forms).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findHostCertDir, isLoopbackHost, loadCertDir, planTransport } from '../../../src/image/registry/tls';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'lodger-tls-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

describe('loopback', () => {
  it.each([['localhost', true], ['localhost:5000', true], ['127.0.0.1:5000', true], ['127.1.2.3', true], ['[::1]:5000', true],
    ['::1', true], ['128.0.0.1', false], ['localhost.example.com', false], ['127.0.0.1.nip.io', false], ['docker.io', false]])('%s → %s', (h, want) => {
    expect(isLoopbackHost(h)).toBe(want);
  });
});

describe('planTransport', () => {
  const home = path.join(scratch, 'empty-home');

  it('uses verified HTTPS, with HTTP as a fallback only for loopback or when verification is off', () => {
    expect(planTransport('quay.io', { home })).toMatchObject({ schemes: ['https'], tls: { rejectUnauthorized: true } });
    expect(planTransport('127.0.0.1:5000', { home })).toMatchObject({ schemes: ['https', 'http'], tls: { rejectUnauthorized: true } });
    expect(planTransport('127.0.0.1:5000', { home, tlsVerify: true })).toMatchObject({ schemes: ['https'] });
    expect(planTransport('quay.io', { home, tlsVerify: false })).toMatchObject({ schemes: ['https', 'http'], tls: { rejectUnauthorized: false } });
    expect(planTransport('quay.io', { home, insecure: true })).toMatchObject({ schemes: ['https', 'http'], tls: { rejectUnauthorized: false } });
    expect(planTransport('quay.io', { home, insecure: true, tlsVerify: true })).toMatchObject({ schemes: ['https'], tls: { rejectUnauthorized: true } });
  });

  it('loads the CA and client certificate from the host directory in ~/.config/containers/certs.d', () => {
    const dir = path.join(home, '.config/containers/certs.d/reg.example:5000');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'ca.crt'), 'CA PEM');
    fs.writeFileSync(path.join(dir, 'client.cert'), 'CLIENT CERT');
    fs.writeFileSync(path.join(dir, 'client.key'), 'CLIENT KEY');
    const plan = planTransport('reg.example:5000', { home });
    expect(plan.certFiles).toEqual([path.join(dir, 'ca.crt'), path.join(dir, 'client.cert')]);
    expect(plan.tls.ca?.map(String).at(-1)).toBe('CA PEM');
    expect(plan.tls.ca!.length).toBeGreaterThan(1); // system roots stay trusted
    expect(String(plan.tls.cert)).toBe('CLIENT CERT');
    expect(String(plan.tls.key)).toBe('CLIENT KEY');
    expect(planTransport('other:5000', { home }).tls.ca).toBeUndefined();
  });

  it('takes --cert-dir as a certs.d root or as the host directory itself', () => {
    const root = path.join(scratch, 'certs.d');
    fs.mkdirSync(path.join(root, 'h:1'), { recursive: true });
    fs.writeFileSync(path.join(root, 'h:1', 'ca.crt'), 'ROOTED');
    expect(findHostCertDir('h:1', { certDir: root }).dir).toBe(path.join(root, 'h:1'));
    expect(findHostCertDir('other', { certDir: path.join(root, 'h:1') }).dir).toBe(path.join(root, 'h:1'));
    expect(() => findHostCertDir('h:1', { certDir: path.join(scratch, 'missing') })).toThrow(/--cert-dir .*missing: not a directory/);
  });

  it('refuses half a client certificate pair', () => {
    const d1 = path.join(scratch, 'halves1');
    fs.mkdirSync(d1);
    fs.writeFileSync(path.join(d1, 'c.cert'), 'x');
    expect(() => loadCertDir(d1)).toThrow(/missing its key .*c\.key/);
    const d2 = path.join(scratch, 'halves2');
    fs.mkdirSync(d2);
    fs.writeFileSync(path.join(d2, 'c.key'), 'x');
    expect(() => loadCertDir(d2)).toThrow(/missing its certificate .*c\.cert/);
  });
});
