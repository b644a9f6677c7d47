// Unit tests for the one table of helper records and failure steps: steps.def (read by C) and steps.ts (read by TypeScript) say the same.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FAILURES, RECORDS } from '../../../src/helper/steps';

const helperDir = path.join(__dirname, '../../../addon/helper');
const def = fs.readFileSync(path.join(helperDir, 'steps.def'), 'utf8');
const cSources = fs.readdirSync(helperDir).filter((f) => f.endsWith('.c')).map((f) => ({ file: f, text: fs.readFileSync(path.join(helperDir, f), 'utf8') }));

const defRecords = [...def.matchAll(/^(SETTING|STEP)\((\w+), "([^"]+)", "([^"]*)"\)$/gm)].map(([, macro, id, name, kinds]) => ({ macro, id, name, kinds }));
const defFailures = [...def.matchAll(/^FAILURE\((\w+), "([^"]+)"\)$/gm)].map(([, id, name]) => ({ id, name }));

describe('steps.def and steps.ts', () => {
  it('every entry of steps.def is read (one per line, no line the patterns miss)', () => {
    const entries = def.split('\n').filter((l) => /^(SETTING|STEP|FAILURE)\(/.test(l));
    expect(entries).toHaveLength(defRecords.length + defFailures.length);
    expect(defRecords.length).toBeGreaterThan(40);
  });

  it('name the same records, with the same argument kinds, the same ones as steps', () => {
    const fromDef = Object.fromEntries(defRecords.map((r) => [r.name, { kinds: r.kinds, step: r.macro === 'STEP' }]));
    expect(RECORDS).toEqual(fromDef);
  });

  it('name the same failure steps', () => {
    expect([...FAILURES].sort()).toEqual(defFailures.map((f) => f.name).sort());
    expect(new Set(FAILURES).size).toBe(FAILURES.length);
  });

  it('use only the kinds the decoder knows', () => {
    for (const r of defRecords) expect(r.kinds, r.name).toMatch(/^[siof]*[*+]?$/);
    for (const r of defRecords) if (/[*+]$/.test(r.kinds)) expect(r.kinds.length, r.name).toBeGreaterThan(1);
  });

  it('give C identifiers that are unique per kind', () => {
    expect(new Set(defRecords.map((r) => r.id)).size).toBe(defRecords.length);
    expect(new Set(defFailures.map((f) => f.id)).size).toBe(defFailures.length);
    expect(new Set(defRecords.map((r) => r.name)).size).toBe(defRecords.length);
  });
});

/** fcntl(2) and access(2) constants that share the F_ prefix. */
const LIBC_F = new Set(['GETFD', 'SETFD', 'GETFL', 'SETFL', 'OK', 'DUPFD', 'DUPFD_CLOEXEC']);

describe('the C helper and the table', () => {
  it('reports failures only under step names of the table', () => {
    const ids = new Set(defFailures.map((f) => f.id));
    const names = new Set<string>(FAILURES);
    for (const { file, text } of cSources) {
      for (const [, id] of text.matchAll(/\bF_([A-Z0-9_]+)\b/g)) if (!LIBC_F.has(id)) expect(ids.has(id), `${file}: F_${id}`).toBe(true);
      // Files that still spell a name as a literal (kept to stay out of others' way) must spell one of the table's.
      for (const [, name] of text.matchAll(/\bfailf?\([^,()]+, (?:[^,"]*\? )?"([^"]+)"/g)) expect(names.has(name), `${file}: "${name}"`).toBe(true);
      for (const [, a, b] of text.matchAll(/\bfailf?\([^,()]+, [^,"]*\? "([^"]+)" : "([^"]+)"/g)) expect(names.has(a) && names.has(b), `${file}: ${a}/${b}`).toBe(true);
    }
  });

  it('uses every failure step of the table, so the table does not rot', () => {
    const all = cSources.map((c) => c.text).join('\n');
    for (const f of defFailures) expect(all.includes(`F_${f.id}`) || all.includes(`"${f.name}"`), f.name).toBe(true);
  });

  it('dispatches records by their id, never by comparing their names', () => {
    for (const { file, text } of cSources) expect(text, file).not.toMatch(/strcmp\((s->op|r->op|st\.op|tok\[0\]|op, "(phase|ns|mount|bind|caps|seccomp))/);
    const all = cSources.map((c) => c.text).join('\n');
    for (const r of defRecords) expect(all.includes(`R_${r.id}`), `R_${r.id}`).toBe(true);
  });
});
