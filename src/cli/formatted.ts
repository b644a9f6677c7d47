// --format for every listing and document command, as Docker reads it: `table …`, `json`, or a Go template.
import { compileTemplate, TemplateError, type TemplateOptions } from './template';
import { table } from './format';

/** What a listing command shows: its rows' Docker field names with their table headers, and its default table. */
export interface ListFormat {
  /** Field → column header, e.g. { ID: 'CONTAINER ID', Image: 'IMAGE' }; a method field (Label) maps to its header too. */
  fields: Record<string, string>;
  /** What is shown without --format, e.g. 'table {{.ID}}\t{{.Image}}'. */
  defaultTable: string;
  /** Where the user has the `quiet` form: the field printed by -q (Docker's ID). */
  maps?: TemplateOptions['maps'];
}

/**
 * The text of ROWS under FORMAT: undefined, '' or 'table' is the default table; 'table TEMPLATE' a table
 * whose header is the template with each field replaced by its header; 'json' one JSON object per row
 * and line (Docker's `--format json`); anything else a Go template, rendered once per row. An unknown
 * field is an error (Docker's rows are Go structs) before anything is printed.
 */
export function renderFormatted(rows: object[], format: string | undefined, spec: ListFormat): string {
  let f = format ?? '';
  if (f === '' || f === 'table') f = spec.defaultTable;
  if (f === 'json') return rows.map((r) => JSON.stringify(r) + '\n').join('');
  const isTable = /^table(\s|$)/.test(f);
  const body = isTable ? f.slice(5).trim() || spec.defaultTable.slice(5).trim() : f;
  const t = compileTemplate(body, { maps: spec.maps });
  // Each field's value is checked even with no rows: a typo fails on an empty list too.
  t.render(headerRow(spec.fields));
  const lines = rows.map((r) => t.render(r));
  if (!isTable) return lines.map((l) => l + '\n').join('');
  const header = t.render(headerRow(spec.fields));
  return table([header, ...lines].map((l) => l.split('\t')));
}

/** A row whose every field is its header: rendering the template over it gives the table's header line. */
function headerRow(fields: Record<string, string>): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  for (const [k, h] of Object.entries(fields)) row[k] = k === 'Label' ? (name: unknown) => String(name) : h;
  return row;
}

/**
 * One document per object (inspect, info, version): 'json' (or no format, when JSON is the default) is
 * the JSON, as Docker prints it; a template is rendered per document. `table` makes no sense here.
 */
export function renderDocuments(docs: unknown[], format: string | undefined, o: { array: boolean; indent?: number; maps?: TemplateOptions['maps'] }): string {
  if (format === undefined || format === '' || format === 'json') {
    const indent = o.indent ?? 4;
    return o.array ? JSON.stringify(docs, null, indent) + '\n' : docs.map((d) => JSON.stringify(d, null, indent) + '\n').join('');
  }
  if (/^table(\s|$)/.test(format)) throw new TemplateError('`table` lays out lists; give a template for one object, e.g. {{.Name}}, or json');
  const t = compileTemplate(format, { maps: o.maps });
  return docs.map((d) => t.render(d) + '\n').join('');
}

/** A label map as Docker's listing rows show it: `k=v,k2=v2`, keys sorted. */
export function labelsText(labels: Record<string, string> | undefined): string {
  return Object.keys(labels ?? {}).sort().map((k) => `${k}=${labels![k]}`).join(',');
}

/** Go's time.Time String() of an ISO time in UTC, which Docker's CreatedAt shows: `2006-01-02 15:04:05 +0000 UTC`. */
export function goTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 19).replace('T', ' ')} +0000 UTC`;
}

/** Adds Docker's `{{.Label "key"}}` method to ROW (not enumerable, so `json` leaves it out). */
export function withLabelMethod<T extends object>(row: T, labels: Record<string, string> | undefined): T {
  Object.defineProperty(row, 'Label', { value: (key: unknown) => labels?.[String(key)] ?? '', enumerable: false });
  return row;
}
