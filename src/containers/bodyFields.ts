// Reads and writes the fields of a Docker ContainerCreate body by path ("HostConfig.Memory"), checking the types a client sent.
//
// The body is JSON from a client (docker CLI, compose, testcontainers…), so every read checks what it got:
// Docker's API answers a wrongly typed field with 400, and so does lodger (BAD_CREATE_BODY). Go's JSON
// decoder gives a missing field and `null` the same zero value, so both read as "not given" here.
import { LodgerError } from '../errors';

/**
 * The top level of POST /containers/create (Docker Engine API v1.41+, "ContainerCreate"): the container's
 * Config fields, with HostConfig and NetworkingConfig beside them. Only what lodger reads is named;
 * anything else a client sends is carried along untouched.
 */
export interface ContainerCreateBody {
  Image?: string;
  Cmd?: string[] | string | null;
  Entrypoint?: string[] | string | null;
  HostConfig?: Record<string, unknown> | null;
  NetworkingConfig?: { EndpointsConfig?: Record<string, Record<string, unknown> | null> | null } | null;
  [field: string]: unknown;
}

/** The value at PATH ("HostConfig.Memory"), or undefined when it or a parent is missing or null. */
export function getField(body: ContainerCreateBody, path: string): unknown {
  let v: unknown = body;
  for (const k of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v === null ? undefined : v;
}

/** Sets PATH in BODY, making the objects on the way. */
export function setField(body: ContainerCreateBody, path: string, value: unknown): void {
  const keys = path.split('.');
  let o = body as Record<string, unknown>;
  for (const k of keys.slice(0, -1)) {
    if (o[k] === null || typeof o[k] !== 'object') o[k] = {};
    o = o[k] as Record<string, unknown>;
  }
  o[keys[keys.length - 1]] = value;
}

export function badBody(path: string, want: string, got: unknown): LodgerError {
  return new LodgerError('BAD_CREATE_BODY', `container create: ${path} must be ${want}, not ${JSON.stringify(got)}`);
}

export function readBool(body: ContainerCreateBody, path: string): boolean {
  const v = getField(body, path);
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw badBody(path, 'true or false', v);
  return v;
}

/** A string; the empty string reads as not given (Docker's zero value). */
export function readString(body: ContainerCreateBody, path: string): string | undefined {
  const v = getField(body, path);
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string') throw badBody(path, 'a string', v);
  return v;
}

/** A list of strings; Docker's StrSlice fields (Cmd, Entrypoint) also take one string. */
export function readStrings(body: ContainerCreateBody, path: string, oneString = false): string[] {
  const v = getField(body, path);
  if (v === undefined) return [];
  if (oneString && typeof v === 'string') return [v];
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) throw badBody(path, 'a list of strings', v);
  return v as string[];
}

/** An integer (Go int64 fields); 0 reads as not given, as Docker's zero value. */
export function readInt(body: ContainerCreateBody, path: string): number | undefined {
  const v = getField(body, path);
  if (v === undefined || v === 0) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw badBody(path, 'an integer', v);
  return v;
}

/** An object whose values are strings (Labels), as KEY=VALUE items in the object's order. */
export function readStringMap(body: ContainerCreateBody, path: string): string[] {
  const v = getField(body, path);
  if (v === undefined) return [];
  if (typeof v !== 'object' || Array.isArray(v)) throw badBody(path, 'an object of strings', v);
  return Object.entries(v as Record<string, unknown>).map(([k, s]) => {
    if (typeof s !== 'string') throw badBody(`${path}.${k}`, 'a string', s);
    return `${k}=${s}`;
  });
}

/** An object (ExposedPorts, PortBindings…), or undefined. */
export function readObject(body: ContainerCreateBody, path: string): Record<string, unknown> | undefined {
  const v = getField(body, path);
  if (v === undefined) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw badBody(path, 'an object', v);
  return v as Record<string, unknown>;
}
