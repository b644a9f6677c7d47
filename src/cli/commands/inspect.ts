// `lodger inspect`: Docker-shaped JSON for containers and images, or a Go template over it (-f).
import { Command, Option } from 'clipanion';
import { LodgerCommand } from '../base';

export class InspectCommand extends LodgerCommand {
  static override paths = [['inspect'], ['container', 'inspect'], ['image', 'inspect']];
  static override usage = Command.Usage({ description: 'Show details of containers or images', examples: [['Just the status', "lodger inspect -f '{{.State.Status}}' web"]] });
  format = Option.String('-f,--format', { description: 'json (default) or a Go template, e.g. {{.State.Status}} or {{json .Config}}' });
  type = Option.String('--type', { description: 'container or image' });
  objects = Option.Rest({ required: 1 });
  async run(): Promise<number> {
    const { inspectContainer, inspectImage } = await import('../../containers/inspect');
    const { resolveContainer, readContainer } = await import('../../storage/containers');
    const { findImage } = await import('../../storage/images');
    const { LodgerError } = await import('../../errors');
    const p = await this.store();
    const kind = this.type ?? (this.path[1] === 'inspect' ? this.path[0] : undefined);
    const docs: Record<string, unknown>[] = [];
    let code = 0;
    for (const ref of this.objects) {
      let doc: Record<string, unknown> | undefined;
      if (kind !== 'image') {
        try { doc = inspectContainer(p, readContainer(p, resolveContainer(p, ref))!); } catch (e) { if (!(e instanceof LodgerError)) throw e; }
      }
      if (!doc && kind !== 'container') {
        const img = findImage(p, ref);
        if (img) doc = inspectImage(p, img);
      }
      if (!doc) { this.context.stderr.write(`lodger: no such object: ${ref}\n`); code = 125; continue; }
      docs.push(doc);
    }
    const { renderDocuments } = await import('../formatted');
    this.context.stdout.write(renderDocuments(docs, this.format, { array: true }));
    return code;
  }
}
