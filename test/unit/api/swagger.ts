// Checks API responses against Docker's published Engine API schema (Debian's docker-doc ships the v1.41 swagger).
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import Ajv, { type ValidateFunction } from 'ajv';
import { parse } from 'yaml';

export const SWAGGER_FILE = '/usr/share/doc/docker-doc/api/v1.41.yaml.gz';

type Schema = Record<string, unknown>;

/** Swagger 2's x-nullable becomes a JSON-schema type that admits null. */
function nullable(s: unknown): unknown {
  if (Array.isArray(s)) return s.map(nullable);
  if (!s || typeof s !== 'object') return s;
  const out: Schema = {};
  for (const [k, v] of Object.entries(s as Schema)) out[k] = k === 'example' || k === 'x-go-name' ? v : nullable(v);
  if (out['x-nullable'] === true && typeof out.type === 'string') out.type = [out.type, 'null'];
  return out;
}

export class SwaggerChecker {
  private readonly doc: { paths: Record<string, Record<string, { responses: Record<string, { schema?: Schema }> }>>; definitions: Schema };
  private readonly ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  private readonly cache = new Map<string, ValidateFunction>();

  constructor(file = SWAGGER_FILE) {
    this.doc = nullable(parse(zlib.gunzipSync(fs.readFileSync(file)).toString('utf8'))) as typeof this.doc;
  }

  /** The response schema of METHOD PATH (as the swagger writes it, e.g. /containers/{id}/json) for STATUS. */
  schemaOf(method: string, path: string, status: number): Schema {
    const op = this.doc.paths[path]?.[method.toLowerCase()];
    if (!op) throw new Error(`the swagger has no ${method} ${path}`);
    const schema = op.responses[String(status)]?.schema;
    if (!schema) throw new Error(`the swagger has no schema for ${method} ${path} ${status}`);
    return schema;
  }

  /** Schema errors of BODY as the answer to METHOD PATH with STATUS (empty: it conforms). */
  errors(method: string, path: string, status: number, body: unknown): string[] {
    const key = `${method} ${path} ${status}`;
    let v = this.cache.get(key);
    if (!v) {
      v = this.ajv.compile({ ...this.schemaOf(method, path, status), definitions: this.doc.definitions });
      this.cache.set(key, v);
    }
    return v(body) ? [] : (v.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`);
  }
}
