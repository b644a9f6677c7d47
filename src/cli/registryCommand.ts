// The options `pull` and `push` share: --tls-verify, --cert-dir, --authfile, --creds.
import { Option } from 'clipanion';
import { LodgerCommand } from './base';

/** --tls-verify, --cert-dir, --authfile, --creds: the options pull and push share. */
export abstract class RegistryCommand extends LodgerCommand {
  tlsVerify = Option.String('--tls-verify', { description: 'Verify TLS (default true; loopback registries may use plain HTTP)' });
  certDir = Option.String('--cert-dir', { description: 'Directory of CA certificates and client keys (certs.d layout)' });
  authFile = Option.String('--authfile', { description: 'Credentials file to use' });
  creds = Option.String('--creds', { description: 'USER[:PASSWORD] for this request' });

  pullOptions() {
    return { tlsVerify: this.tlsVerify === undefined ? undefined : this.tlsVerify !== 'false', certDir: this.certDir, authFile: this.authFile, creds: this.creds };
  }
}
