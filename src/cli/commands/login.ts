// `lodger login`: Log in to a registry (credentials are stored 0600 in ~/.config/lodger/auth.json).
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../base';

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
