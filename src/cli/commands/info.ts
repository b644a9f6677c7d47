// `lodger info`: Show what this host gives lodger: id maps, storage driver, cgroups, network.
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../base';

export class InfoCommand extends LodgerCommand {
  static override paths = [['info'], ['system', 'info']];
  static override usage = Command.Usage({ description: 'Show what this host gives lodger: id maps, storage driver, cgroups, network' });
  format = Option.String('--format', { description: 'json for machine-readable output' });

  async run(): Promise<number> {
    const { gatherInfo } = await import('../../system/info');
    const info = await gatherInfo(await this.store());
    if (this.format === 'json') this.context.stdout.write(JSON.stringify(info, null, 2) + '\n');
    else if (this.format) {
      const { renderTemplate } = await import('../template');
      this.context.stdout.write(renderTemplate(this.format, info) + '\n');
    } else {
      const lines: string[] = [];
      const walk = (o: Record<string, unknown>, indent: string) => {
        for (const [k, v] of Object.entries(o)) {
          if (v && typeof v === 'object' && !Array.isArray(v)) { lines.push(`${indent}${k}:`); walk(v as Record<string, unknown>, indent + '  '); }
          else lines.push(`${indent}${k}: ${Array.isArray(v) ? v.join(', ') : String(v)}`);
        }
      };
      walk(info as unknown as Record<string, unknown>, '');
      this.context.stdout.write(lines.join('\n') + '\n');
    }
    return 0;
  }
}
