// The service's answers, from a real engine on a fresh store, checked against Docker's v1.41 schema.
import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requirePrereq } from '../../helpers/prereqs';
import { SWAGGER_FILE, SwaggerChecker } from './swagger';
import { request, startTestService, type TestService } from './service';

const ok = requirePrereq(fs.existsSync(SWAGGER_FILE), `Docker's API schema at ${SWAGGER_FILE} (Debian docker-doc)`);
let svc: TestService;
let swagger: SwaggerChecker;

beforeAll(async () => {
  if (!ok) return;
  swagger = new SwaggerChecker();
  svc = await startTestService();
});
afterAll(async () => { await svc?.stop(); });

/** Each answer checked: [method, our path, the swagger's path, status]. */
const CASES: Array<[string, string, string, number]> = [
  ['GET', '/v1.41/version', '/version', 200],
  ['GET', '/v1.41/info', '/info', 200],
  ['GET', '/v1.41/system/df', '/system/df', 200],
  ['GET', '/v1.41/containers/json?all=1', '/containers/json', 200],
  ['GET', '/v1.41/images/json', '/images/json', 200],
  ['GET', '/v1.41/networks', '/networks', 200],
  ['GET', '/v1.41/networks/bridge', '/networks/{id}', 200],
  ['GET', '/v1.41/volumes', '/volumes', 200],
  ['POST', '/v1.41/containers/prune', '/containers/prune', 200],
  ['GET', '/v1.41/containers/nonexistent/json', '/containers/{id}/json', 404],
  ['POST', '/v1.41/containers/create', '/containers/create', 400],
  ['GET', '/v1.41/images/nonexistent/json', '/images/{name}/json', 404],
];

describe.skipIf(!ok)('responses match Docker\'s Engine API schema (v1.41)', () => {
  for (const [method, ours, theirs, status] of CASES) {
    it(`${method} ${theirs} → ${status}`, async () => {
      const r = await request(svc.socket, method, ours, method === 'POST' && ours.endsWith('/create') ? '{"Image": 1}' : undefined);
      expect(r.status).toBe(status);
      expect(swagger.errors(method, theirs, status, JSON.parse(r.body.toString()))).toEqual([]);
    });
  }

  it('a wrong shape is caught (the checker is not vacuous)', () => {
    expect(swagger.errors('GET', '/containers/json', 200, [{ Id: 'x', Created: '2026-01-01T00:00:00Z', Names: 'x' }]).length).toBeGreaterThan(0);
    expect(swagger.errors('GET', '/version', 200, { ApiVersion: 1.41 }).length).toBeGreaterThan(0);
  });
});

