// Errors as the front doors see them: each refusal carries a kind the CLI and the API map (exit code, HTTP status).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { httpStatusOf, kindOf, kindOfCode, LodgerError } from '../../../src/errors';
import { parseDetachKeys } from '../../../src/containers/attach';
import { listContainers } from '../../../src/containers/list';
import { applyChanges } from '../../../src/image/changes';
import { createContainerRecord, resolveContainer, type ContainerRecord } from '../../../src/storage/containers';
import { storePaths } from '../../../src/storage/paths';
import { lodgerErrorOf } from '../../helpers/errors';

let dir: string | undefined;
afterEach(() => { delete process.env.LODGER_CONTAINER_DIR; if (dir) fs.rmSync(dir, { recursive: true, force: true }); dir = undefined; });

function emptyStore() {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lodger-kinds-'));
  return storePaths(path.join(dir, 'root'));
}

describe('error kinds', () => {
  it('no such container: not-found, 404; the CLI still exits 125', () => {
    const p = emptyStore();
    const e = lodgerErrorOf(() => resolveContainer(p, 'nosuch'));
    expect(e.code).toBe('NO_SUCH_CONTAINER');
    expect(e.kind).toBe('not-found');
    expect(httpStatusOf(e)).toBe(404);
    expect(e.exitCode).toBe(125);
  });

  it('a name in use: conflict, 409', async () => {
    const p = emptyStore();
    // Containers beside the store, as on a local disk (the filesystem probe is not needed for this).
    process.env.LODGER_CONTAINER_DIR = path.join(dir!, 'containers');
    const rec = (id: string) => ({ Id: id, Name: 'web', Created: new Date().toISOString(), Config: {}, HostConfig: {} }) as unknown as ContainerRecord;
    await createContainerRecord(p, rec('a'.repeat(64)), () => undefined);
    let err: unknown;
    try { await createContainerRecord(p, rec('b'.repeat(64)), () => undefined); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(LodgerError);
    expect((err as LodgerError).code).toBe('NAME_IN_USE');
    expect(httpStatusOf(err)).toBe(409);
  });

  it('bad input: invalid, 400 (a --change the engine cannot read, bad detach keys, an unknown filter)', () => {
    const p = emptyStore();
    for (const fn of [() => applyChanges({}, ['FROB x']), () => applyChanges({}, ['nonsense']), () => parseDetachKeys('ctrl-1'), () => listContainers(p, { all: true, filters: ['nokey'] })]) {
      const e = lodgerErrorOf(fn);
      expect([e.code, e.kind, httpStatusOf(e)]).toEqual([e.code, 'invalid', 400]);
    }
  });

  it('codes are judged by shape when the table has none; anything not a LodgerError is internal, 500', () => {
    expect(kindOfCode('BAD_ANYTHING')).toBe('invalid');
    expect(kindOfCode('NETWORK_MODE_INVALID')).toBe('invalid');
    expect(kindOfCode('WIDGET_NOT_FOUND')).toBe('not-found');
    expect(kindOfCode('IDMAP_FAILED')).toBe('internal');
    expect(kindOf(new Error('boom'))).toBe('internal');
    expect(httpStatusOf(new TypeError('x'))).toBe(500);
  });

  it('details given at the throw site win over the table, and the old (code, message, exitCode) form still works', () => {
    const e = new LodgerError('NO_SUCH_CONTAINER', 'gone', { kind: 'conflict', operation: 'rm', object: 'web', hint: 'wait', exitCode: 1 });
    expect([e.kind, e.operation, e.object, e.hint, e.exitCode]).toEqual(['conflict', 'rm', 'web', 'wait', 1]);
    const old = new LodgerError('EXEC_NOT_FOUND', 'no sh', 127);
    expect([old.exitCode, old.kind, httpStatusOf(old)]).toEqual([127, 'not-found', 404]);
    expect(new LodgerError('ALREADY_RUNNING', 'up').kind).toBe('not-modified');
    expect(httpStatusOf(new LodgerError('ALREADY_RUNNING', 'up'))).toBe(304);
  });
});
