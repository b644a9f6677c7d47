// One engine, two front doors: no domain module prints, reads the terminal, takes the process's signals or reaches for the CLI library.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(__dirname, '../../../src');

/**
 * Modules outside src/cli/ that may use the process's own stdio and signals, each for one reason:
 * they are the entry points of other processes, whose stdio is a protocol, not a user's terminal.
 */
const SEPARATE_PROCESSES: Record<string, RegExp> = {
  // `lodger __worker OP`: its stdout carries the one JSON line of its result (helper/usernsWorker.ts reads it).
  'worker/main.ts': /process\.stdout\.write\(JSON\.stringify\(/,
  // `lodger __dns-responder`: a user network's name server; it ends on SIGTERM from the network's holder.
  'network/dnsServer.ts': /process\.on\('SIGTERM'/,
  // A script pasta's netns holder runs as its own node process (a string here: PASTA_HOLDER_SCRIPT).
  'network/pasta.ts': /"process\.on\('SIGTERM'/,
};

const FORBIDDEN: Array<[RegExp, string]> = [
  [/process\.(stdout|stderr)\b/, 'writes to (or asks about) the process\'s stdout/stderr: report an event (src/events.ts) or take a stream (containers/containerIO.ts)'],
  [/process\.stdin\b/, 'reads the process\'s stdin: take the input from the caller (containers/containerIO.ts)'],
  [/\bconsole\.(log|error|warn|info|debug)\(/, 'prints with console: report an event (src/events.ts)'],
  [/process\.(on|once|off)\(\s*['"]SIG/, 'handles the process\'s signals: the front door relays them (ContainerIO.relaySignals)'],
  [/\bsetRawMode\b/, 'changes the terminal\'s mode: the CLI\'s terminal is its own (ContainerIO/AttachIO.terminal)'],
  [/from ['"]clipanion['"]|require\(['"]clipanion['"]\)/, 'imports clipanion: throw a LodgerError (kind invalid) instead of UsageError'],
  [/from ['"][./]*cli\/|require\(['"][./]*cli\//, 'imports the CLI: formatting belongs to the front doors'],
];

function domainFiles(dir = SRC): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return full === path.join(SRC, 'cli') ? [] : domainFiles(full);
    return /\.(ts|js)$/.test(e.name) && !e.name.endsWith('.d.ts') ? [full] : [];
  });
}

/** Code lines only: comments may name what the code must not do. */
function codeLines(text: string): Array<[number, string]> {
  return text.split('\n').map((l, i) => [i + 1, l] as [number, string]).filter(([, l]) => !/^\s*(\/\/|\*|\/\*)/.test(l));
}

describe('domain code outside src/cli/', () => {
  const files = domainFiles();

  it('finds the domain modules (the walk itself works)', () => {
    const rel = files.map((f) => path.relative(SRC, f));
    expect(rel).toEqual(expect.arrayContaining(['containers/run.ts', 'containers/attach.ts', 'image/pull.ts', 'storage/layers.ts', 'worker/main.ts']));
    expect(rel.some((f) => f.startsWith('cli/'))).toBe(false);
  });

  it('never prints, reads the terminal, handles signals or imports the CLI (separate processes excepted, each for its own line)', () => {
    const offences: string[] = [];
    for (const f of files) {
      const rel = path.relative(SRC, f);
      const allowed = SEPARATE_PROCESSES[rel];
      for (const [n, line] of codeLines(fs.readFileSync(f, 'utf8'))) {
        if (allowed?.test(line)) continue;
        for (const [rx, why] of FORBIDDEN) if (rx.test(line)) offences.push(`src/${rel}:${n}: ${why}\n    ${line.trim()}`);
      }
    }
    expect(offences.join('\n')).toBe('');
  });

  it('each exception is still needed: the line it excuses is there', () => {
    for (const [rel, rx] of Object.entries(SEPARATE_PROCESSES)) {
      expect(codeLines(fs.readFileSync(path.join(SRC, rel), 'utf8')).some(([, l]) => rx.test(l)), rel).toBe(true);
    }
  });
});
