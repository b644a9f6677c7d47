// --format: the Go template subset Docker's users write, the table/json forms, and errors for unknown fields.
import { describe, expect, it } from 'vitest';
import { LodgerError } from '../../../src/errors';
import { renderTemplate } from '../../../src/cli/template';
import { renderDocuments, renderFormatted, withLabelMethod } from '../../../src/cli/formatted';

const ctr = { ID: 'abc', Names: 'web', State: 'running', Labels: 'a=1', Count: 3, List: ['x', 'y'], Map: { b: 2, a: 1 } };

describe('Go templates', () => {
  it('fields, literal text and the \\t \\n escapes a shell passes through', () => {
    expect(renderTemplate('{{.ID}}\\t{{ .Names }}\\n', ctr)).toBe('abc\tweb\n');
  });
  it('pipelines, json, printf, len, index, join and Docker\'s string functions', () => {
    expect(renderTemplate('{{json .List}} {{.Names | upper}} {{printf "%-5s|%03d" .Names .Count}} {{len .List}} {{index .List 1}} {{join .List ","}}', ctr)).toBe('["x","y"] WEB web  |003 2 y x,y');
    expect(renderTemplate('{{json .}}', { A: 1 })).toBe('{"A":1}');
    expect(renderTemplate('{{truncate .Names 2}}{{pad .Names 1 1}}{{title "ab cd"}}{{lower "X"}}{{split "a:b" ":"}}', ctr)).toBe('we web Ab Cdx[a b]');
    expect(renderTemplate('{{(index .List 0) | printf "<%s>"}}', ctr)).toBe('<x>');
  });
  it('if / else if / else, with, range with $ and else, eq/ne/lt and and/or/not', () => {
    const t = '{{if eq .State "exited"}}E{{else if eq .State "running"}}R{{else}}?{{end}}';
    expect(renderTemplate(t, ctr)).toBe('R');
    expect(renderTemplate('{{range .List}}{{.}}{{$.Names}};{{else}}none{{end}}', ctr)).toBe('xweb;yweb;');
    expect(renderTemplate('{{range .Empty}}x{{else}}none{{end}}', { Empty: [] })).toBe('none');
    expect(renderTemplate('{{with .Map}}{{.a}}{{end}}{{range .Map}}{{.}}{{end}}', ctr)).toBe('112');
    expect(renderTemplate('{{if and (gt .Count 2) (not .Missing) (ne .ID "x")}}yes{{end}}', { ...ctr, Missing: '' })).toBe('yes');
    expect(renderTemplate('{{or .Missing "dflt"}}', { Missing: '' })).toBe('dflt');
  });
  it('{{- and -}} trim the spaces beside an action', () => {
    expect(renderTemplate('a  {{- .ID -}}  \n b', ctr)).toBe('aabcb');
  });
  it('values print as Go prints them: maps sorted, lists in brackets, a missing map key as <no value>', () => {
    expect(renderTemplate('{{.Map}} {{.List}}', ctr)).toBe('map[a:1 b:2] [x y]');
    expect(renderTemplate('{{.Labels.nope}}|{{index .Labels "k"}}', { Labels: { k: 'v' } })).toBe('<no value>|v');
  });
  it('an unknown field is an error that lists the fields there are', () => {
    const e = (() => { try { renderTemplate('{{.Nmes}}', ctr); } catch (x) { return x; } })() as LodgerError;
    expect(e).toBeInstanceOf(LodgerError);
    expect(e.code).toBe('BAD_FORMAT');
    expect(e.message).toMatch(/no field Nmes \(fields: ID, Names, State/);
    expect(() => renderTemplate('{{.Config.Nope}}', { Config: { A: 1 } })).toThrow(/no field Nope/);
  });
  it('syntax errors name what is wrong', () => {
    expect(() => renderTemplate('{{.ID', ctr)).toThrow(/unclosed action/);
    expect(() => renderTemplate('{{if .ID}}x', ctr)).toThrow(/missing \{\{end\}\}/);
    expect(() => renderTemplate('{{end}}', ctr)).toThrow(/without a matching/);
    expect(() => renderTemplate('{{nosuch .ID}}', ctr)).toThrow(/no function nosuch/);
    expect(() => renderTemplate('{{$x := 1}}', ctr)).toThrow(/variables/);
  });
});

describe('renderFormatted', () => {
  const spec = { fields: { ID: 'CONTAINER ID', Names: 'NAMES', Label: 'LABEL' }, defaultTable: 'table {{.ID}}\t{{.Names}}' };
  const rows = [withLabelMethod({ ID: 'abc', Names: 'web' }, { tier: 'front' }), withLabelMethod({ ID: 'defghijkl', Names: 'db' }, {})];
  it('no format and `table` give the default table; `table T` puts each field\'s header on top', () => {
    expect(renderFormatted(rows, undefined, spec)).toBe('CONTAINER ID   NAMES\nabc            web\ndefghijkl      db\n');
    expect(renderFormatted(rows, 'table', spec)).toBe(renderFormatted(rows, undefined, spec));
    expect(renderFormatted(rows, 'table {{.Names}}\\t{{.Label "tier"}}', spec)).toBe('NAMES   tier\nweb     front\ndb\n');
  });
  it('json is one object per line, without methods; a template is one line per row', () => {
    expect(renderFormatted(rows, 'json', spec)).toBe('{"ID":"abc","Names":"web"}\n{"ID":"defghijkl","Names":"db"}\n');
    expect(renderFormatted(rows, '{{.Names}}:{{.Label "tier"}}', spec)).toBe('web:front\ndb:\n');
  });
  it('an unknown field fails even when there are no rows', () => {
    expect(() => renderFormatted([], '{{.Repo}}', spec)).toThrow(/no field Repo/);
  });
  it('documents: JSON by default or for json, a template each, and no table', () => {
    expect(renderDocuments([{ A: 1 }], undefined, { array: true, indent: 0 })).toBe('[{"A":1}]\n');
    expect(renderDocuments([{ A: 1 }, { A: 2 }], '{{.A}}', { array: true })).toBe('1\n2\n');
    expect(() => renderDocuments([{ A: 1 }], 'table {{.A}}', { array: true })).toThrow(/table/);
  });
});
