// `lodger build` (and `lodger image build`): build an image from a Dockerfile and a context, rendering the build's events for a terminal.
import * as fs from 'node:fs';
import { Command, Option, UsageError } from 'clipanion';
import { LodgerCommand } from '../base';
import type { BuildEvent, BuildInput } from '../../build/types';

function keyValues(list: string[], what: string, fromEnv: boolean): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    if (eq === 0) throw new UsageError(`${what} ${item}: expected KEY=VALUE`);
    if (eq < 0) {
      if (!fromEnv) throw new UsageError(`${what} ${item}: expected KEY=VALUE`);
      // Docker: --build-arg K takes K from the environment; unset there, it is left out.
      if (process.env[item] !== undefined) out[item] = process.env[item];
      continue;
    }
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

function parseSecret(s: string): { id: string; src: string } {
  const kv = Object.fromEntries(s.split(',').map((p) => { const i = p.indexOf('='); return i < 0 ? [p, ''] : [p.slice(0, i), p.slice(i + 1)]; }));
  const id = kv.id;
  const src = kv.src ?? kv.source ?? kv.env;
  if (!id || !src) throw new UsageError(`--secret ${s}: expected id=ID,src=PATH`);
  if (kv.env !== undefined && kv.src === undefined && kv.source === undefined) throw new UsageError(`--secret ${s}: env= secrets are not supported; give src=PATH`);
  if (!fs.existsSync(src)) throw new UsageError(`--secret ${s}: the file ${src} does not exist`);
  return { id, src };
}

export class BuildCommand extends LodgerCommand {
  static override paths = [['build'], ['image', 'build'], ['buildx', 'build']];
  static override usage = Command.Usage({
    description: 'Build an image from a Dockerfile',
    details: 'Builds the stages the target needs — independent ones at the same time — with one layer per RUN, COPY and ADD, reusing cached steps whose inputs did not change. RUN steps run rootless, in containers with the same user-namespace mapping as `lodger run`. CONTEXT is a directory, or - for a tar archive on stdin. See docs/BUILD.md.',
    examples: [
      ['Build and tag', 'lodger build -t redis:shell -f dockerfile_shell .'],
      ['Build one stage', 'lodger build --target builder -t app:build .'],
      ['Build from a tar on stdin', 'tar -c . | lodger build -t app -'],
    ],
  });
  tags = Option.Array('-t,--tag', [], { description: 'Name and optionally a tag (name:tag); may be given more than once' });
  file = Option.String('-f,--file', { description: 'The Dockerfile (default: CONTEXT/Dockerfile, else CONTEXT/Containerfile); - reads it from stdin' });
  buildArg = Option.Array('--build-arg', [], { description: 'Set a build argument (K=V, or K to take it from the environment)' });
  target = Option.String('--target', { description: 'Build this stage (and the stages it needs) only' });
  noCache = Option.Boolean('--no-cache', false, { description: 'Do not use the cache: run every step' });
  pull = Option.String('--pull', { tolerateBoolean: true, description: 'Pull the base images: always (also bare --pull), missing (default) or never' });
  label = Option.Array('--label', [], { description: 'Set a label on the image (K=V)' });
  secret = Option.Array('--secret', [], { description: 'A secret for RUN --mount=type=secret: id=ID,src=PATH' });
  network = Option.String('--network', 'default', { description: 'The network of RUN steps: default (the host\'s), host or none' });
  platform = Option.String('--platform', { description: 'The platform of the base images (default: this machine\'s)' });
  quiet = Option.Boolean('-q,--quiet', false, { description: 'Print only the image ID' });
  iidfile = Option.String('--iidfile', { description: 'Write the image ID to this file' });
  layers = Option.String('--layers', { tolerateBoolean: true, description: 'Cache intermediate layers (default true); --layers=false does not use the cache' });
  timestamp = Option.String('--timestamp', { description: 'Set every created time (and new files\' times) to these seconds since the epoch (default: $SOURCE_DATE_EPOCH)' });
  contextArg = Option.String({ required: true, name: 'CONTEXT' });

  async run(): Promise<number> {
    const given = this.pull as string | boolean | undefined;
    const pull = given === undefined ? 'missing' : given === true || given === '' || given === 'true' ? 'always' : given === false || given === 'false' ? 'missing' : given;
    if (!['always', 'missing', 'never'].includes(pull)) throw new UsageError(`--pull=${pull}: expected always, missing or never`);
    if (!['default', 'none', 'host'].includes(this.network)) throw new UsageError(`--network ${this.network}: expected default, none or host`);
    const layersOff = (this.layers as string | boolean | undefined) === 'false';
    const ts = this.timestamp ?? process.env.SOURCE_DATE_EPOCH;
    if (ts !== undefined && !/^\d+$/.test(ts)) throw new UsageError(`--timestamp ${ts}: expected seconds since the epoch`);
    if (this.contextArg === '-' && this.file === '-') throw new UsageError('the context and the Dockerfile cannot both come from stdin');
    const input: BuildInput = {
      context: this.contextArg === '-' ? { tar: process.stdin } : { dir: this.contextArg },
      dockerfile: this.file === '-' ? undefined : this.file,
      dockerfileText: this.file === '-' ? fs.readFileSync(0, 'utf8') : undefined,
      tags: this.tags,
      buildArgs: keyValues(this.buildArg, '--build-arg', true),
      target: this.target,
      noCache: this.noCache || layersOff,
      squashStages: layersOff,
      pull: pull as BuildInput['pull'],
      labels: keyValues(this.label, '--label', false) as Record<string, string>,
      secrets: this.secret.map(parseSecret),
      network: this.network as BuildInput['network'],
      platform: this.platform,
      timestamp: ts === undefined ? undefined : Number(ts),
    };
    const ac = new AbortController();
    input.signal = ac.signal;
    // Kept for the whole build (not once): a second Ctrl-C must not kill the CLI before it has cleaned up.
    const onSignal = () => ac.abort();
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const { buildImage } = await import('../../build/executor');
    const out = this.context.stdout;
    const err = this.context.stderr;
    const quiet = this.quiet;
    let lastStage = -1;
    const render = (e: BuildEvent) => {
      if (quiet) return;
      switch (e.type) {
        case 'step':
          if (e.stage !== lastStage && lastStage !== -1) out.write('\n');
          lastStage = e.stage;
          out.write(`[${e.stage + 1}] STEP ${e.step}/${e.total}: ${e.text}\n`);
          if (e.cached) out.write('--> Using cache\n');
          break;
        case 'output':
          (e.stream === 'stderr' ? err : out).write(e.data);
          break;
        case 'warning':
          err.write(`lodger: warning: ${e.message}\n`);
          break;
        case 'done':
          if (e.names.length) out.write(`COMMIT ${e.names.map((n) => n.replace(/^localhost\//, '')).join(', ')}\n`);
          break;
        default:
      }
    };
    try {
      const res = await buildImage(await this.store(), input, render);
      if (this.iidfile) fs.writeFileSync(this.iidfile, res.imageId);
      if (!quiet) for (const n of res.names) out.write(`Successfully tagged ${n}\n`);
      out.write(`${quiet ? res.imageId : res.imageId.slice(7)}\n`);
      return 0;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }
}
