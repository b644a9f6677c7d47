// `lodger pull/push/login/logout/tag`: images to and from registries.
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../base';

/** --tls-verify, --cert-dir, --authfile, --creds: the options pull and push share. */
abstract class RegistryCommand extends LodgerCommand {
  tlsVerify = Option.String('--tls-verify', { description: 'Verify TLS (default true; loopback registries may use plain HTTP)' });
  certDir = Option.String('--cert-dir', { description: 'Directory of CA certificates and client keys (certs.d layout)' });
  authFile = Option.String('--authfile', { description: 'Credentials file to use' });
  creds = Option.String('--creds', { description: 'USER[:PASSWORD] for this request' });

  pullOptions() {
    return { tlsVerify: this.tlsVerify === undefined ? undefined : this.tlsVerify !== 'false', certDir: this.certDir, authFile: this.authFile, creds: this.creds };
  }
}

export class PullCommand extends RegistryCommand {
  static override paths = [['pull'], ['image', 'pull']];
  static override usage = Command.Usage({ description: 'Pull an image from a registry', examples: [['From a local registry', 'lodger pull 127.0.0.1:5000/debian:bookworm']] });
  quiet = Option.Boolean('-q,--quiet', false, { description: 'Print only the image id' });
  platform = Option.String('--platform', { description: 'os/arch[/variant] (default this machine)' });
  image = Option.String({ required: true });
  async run(): Promise<number> {
    const { pullImage } = await import('../../image/pull');
    const { progressReporter } = await import('../progress');
    const progress = this.quiet ? undefined : progressReporter(this.context.stderr as NodeJS.WriteStream);
    const img = await pullImage(await this.store(), this.image, { ...this.pullOptions(), platform: this.platform, progress: progress?.update });
    progress?.finish();
    this.context.stdout.write(`${this.quiet ? img.id : img.id}\n`);
    return 0;
  }
}

export class PushCommand extends RegistryCommand {
  static override paths = [['push'], ['image', 'push']];
  static override usage = Command.Usage({ description: 'Push an image to a registry', examples: [['Tag and push', 'lodger tag busybox 127.0.0.1:5000/me/busybox && lodger push 127.0.0.1:5000/me/busybox']] });
  quiet = Option.Boolean('-q,--quiet', false);
  image = Option.String({ required: true });
  destination = Option.String({ required: false });
  async run(): Promise<number> {
    const { pushImage } = await import('../../image/push');
    const r = await pushImage(await this.store(), this.image, this.destination, this.pullOptions());
    if (!this.quiet) for (const [d, how] of Object.entries(r.blobs)) this.context.stderr.write(`${how === 'uploaded' ? 'Copying' : how === 'mounted' ? 'Mounted' : 'Exists '} blob ${d.slice(7, 19)}\n`);
    this.context.stdout.write(`${r.reference}@${r.digest}\n`);
    return 0;
  }
}

export class LoginCommand extends LodgerCommand {
  static override paths = [['login']];
  static override usage = Command.Usage({ description: 'Log in to a registry (credentials are stored 0600 in ~/.config/lodger/auth.json)' });
  username = Option.String('-u,--username', { description: 'User name' });
  password = Option.String('-p,--password', { description: 'Password (prefer --password-stdin)' });
  passwordStdin = Option.Boolean('--password-stdin', false, { description: 'Read the password from stdin' });
  tlsVerify = Option.String('--tls-verify');
  certDir = Option.String('--cert-dir');
  authFile = Option.String('--authfile');
  registry = Option.String({ required: true });
  async run(): Promise<number> {
    const { login } = await import('../../image/registry/login');
    const { UsageError } = await import('clipanion');
    let password = this.password;
    if (this.passwordStdin) {
      const chunks: Buffer[] = [];
      for await (const c of this.context.stdin) chunks.push(c as Buffer);
      password = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
    }
    if (!this.username || password === undefined) throw new UsageError('login needs --username and --password or --password-stdin');
    const r = await login(this.registry, this.username, password, { tlsVerify: this.tlsVerify === undefined ? undefined : this.tlsVerify !== 'false', certDir: this.certDir, authFile: this.authFile });
    this.context.stdout.write(`Login Succeeded! (credentials for ${r.registry} saved in ${r.authFile})\n`);
    return 0;
  }
}

export class LogoutCommand extends LodgerCommand {
  static override paths = [['logout']];
  static override usage = Command.Usage({ description: 'Remove stored credentials for a registry' });
  authFile = Option.String('--authfile');
  registry = Option.String({ required: true });
  async run(): Promise<number> {
    const { logout } = await import('../../image/registry/login');
    const r = await logout(this.registry, { authFile: this.authFile });
    this.context.stdout.write(`Removed login credentials for ${r.registry}\n`);
    return 0;
  }
}

export class TagCommand extends LodgerCommand {
  static override paths = [['tag'], ['image', 'tag']];
  static override usage = Command.Usage({ description: 'Give an image another name' });
  source = Option.String({ required: true });
  targets = Option.Rest({ required: 1 });
  async run(): Promise<number> {
    const { findImage, addImage, qualifyLocalName } = await import('../../storage/images');
    const { parseReference, formatReference, isShortName } = await import('../../image/reference');
    const { LodgerError } = await import('../../errors');
    const p = await this.store();
    const img = findImage(p, this.source);
    if (!img) throw new LodgerError('IMAGE_NOT_FOUND', `tag: no such image ${this.source}`);
    // A name without a registry stays local (localhost/…), as import and load name them; one with a
    // registry is normalised as push will use it.
    const names = this.targets.map((t) => {
      if (isShortName(t)) return qualifyLocalName(t);
      const r = parseReference(t);
      return formatReference({ ...r, tag: r.tag ?? 'latest' });
    });
    await addImage(p, { ...img, names });
    return 0;
  }
}
