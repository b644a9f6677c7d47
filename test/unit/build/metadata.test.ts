// Metadata instructions on the image config, as the Dockerfile reference describes them (shell vs exec form, ENTRYPOINT and CMD, HEALTHCHECK durations).
import { describe, expect, it } from 'vitest';
import { parseDockerfile } from '../../../src/build/dockerfile';
import { applyMetadata, parseDuration, type BuildRuntimeConfig } from '../../../src/build/metadata';

function apply(lines: string[], base: BuildRuntimeConfig = {}, vars = new Map<string, string>()): { config: BuildRuntimeConfig; history: string[] } {
  const df = parseDockerfile(`FROM x\n${lines.join('\n')}\n`);
  let config = base;
  const history: string[] = [];
  let cmdSet = false;
  for (const ins of df.stages[0].instructions) {
    const r = applyMetadata(config, ins, { escape: df.escape, vars, cmdSetInStage: cmdSet });
    if (ins.keyword === 'CMD') cmdSet = true;
    config = r.config;
    history.push(r.history);
  }
  return { config, history };
}

describe('applyMetadata', () => {
  it('records shell form with the shell and exec form as written (CMD redis-server → /bin/sh -c)', () => {
    expect(apply(['CMD redis-server']).config.Cmd).toEqual(['/bin/sh', '-c', 'redis-server']);
    expect(apply(['CMD ["redis-server", "--port", "1"]']).config.Cmd).toEqual(['redis-server', '--port', '1']);
    expect(apply(['SHELL ["/bin/bash", "-o", "pipefail", "-c"]', 'ENTRYPOINT exec app']).config.Entrypoint).toEqual(['/bin/bash', '-o', 'pipefail', '-c', 'exec app']);
    // Not JSON after all: shell form, brackets and all.
    expect(apply(['CMD [not json']).config.Cmd).toEqual(['/bin/sh', '-c', '[not json']);
  });

  it('ENTRYPOINT drops a CMD inherited from the base image but keeps one set earlier in the stage', () => {
    expect(apply(['ENTRYPOINT ["/e"]'], { Cmd: ['base'] }).config.Cmd).toBeNull();
    expect(apply(['CMD ["mine"]', 'ENTRYPOINT ["/e"]'], { Cmd: ['base'] }).config.Cmd).toEqual(['mine']);
  });

  it('ENV replaces a key in place and expands with the values before the instruction', () => {
    const r = apply(['ENV abc=bye def=$abc', 'ENV ghi=$abc'], { Env: ['PATH=/bin', 'abc=hello'] }, new Map([['abc', 'hello']]));
    expect(r.config.Env).toEqual(['PATH=/bin', 'abc=bye', 'def=hello', 'ghi=hello']);
    expect(r.history[0]).toBe('/bin/sh -c #(nop) ENV abc=bye def=hello');
  });

  it('WORKDIR resolves relative paths against the previous one; EXPOSE defaults to tcp and takes ranges', () => {
    expect(apply(['WORKDIR /a', 'WORKDIR b', 'WORKDIR ../c']).config.WorkingDir).toBe('/a/c');
    expect(apply(['EXPOSE 80 53/UDP 8000-8001']).config.ExposedPorts).toEqual({ '80/tcp': {}, '53/udp': {}, '8000/tcp': {}, '8001/tcp': {} });
    expect(() => apply(['EXPOSE http'])).toThrow(/EXPOSE http: expected PORT/);
  });

  it('LABEL, USER, VOLUME (JSON or words), STOPSIGNAL, ONBUILD', () => {
    const r = apply(['LABEL a=1 "b c"="d e"', 'USER app:staff', 'VOLUME ["/v1", "/v2"]', 'VOLUME /v3 /v4', 'STOPSIGNAL SIGINT', 'ONBUILD COPY . /src']);
    expect(r.config).toMatchObject({ Labels: { a: '1', 'b c': 'd e' }, User: 'app:staff', StopSignal: 'SIGINT', OnBuild: ['COPY . /src'] });
    expect(Object.keys(r.config.Volumes!)).toEqual(['/v1', '/v2', '/v3', '/v4']);
    expect(() => apply(['ONBUILD FROM x'])).toThrow(/ONBUILD FROM is not allowed/);
  });

  it('HEALTHCHECK: CMD-SHELL or CMD, durations in nanoseconds, NONE', () => {
    expect(apply(['HEALTHCHECK --interval=1m30s --timeout=5s --start-period=100ms --retries=3 CMD curl -f http://x/ || exit 1']).config.Healthcheck).toEqual({
      Test: ['CMD-SHELL', 'curl -f http://x/ || exit 1'], Interval: 90e9, Timeout: 5e9, StartPeriod: 100e6, Retries: 3,
    });
    expect(apply(['HEALTHCHECK CMD ["/bin/check", "-q"]']).config.Healthcheck).toEqual({ Test: ['CMD', '/bin/check', '-q'] });
    expect(apply(['HEALTHCHECK NONE']).config.Healthcheck).toEqual({ Test: ['NONE'] });
    expect(() => apply(['HEALTHCHECK --interval=soon CMD true'])).toThrow(/not a duration/);
    expect(parseDuration('1h2m3.5s', 'x')).toBe(3723.5e9);
  });

  it('refuses flags an instruction does not take', () => {
    expect(() => apply(['ENV --bogus=1 A=1'])).toThrow(/ENV does not take the flag --bogus/);
  });
});
