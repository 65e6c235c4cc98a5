/**
 * The sandbox alone, without the statement validator in front of it: DuckDB itself must refuse every way out to files,
 * the network or extension code. (The validator refuses these earlier; this proves the second layer holds.)
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSandbox } from './sandbox.js';
import type { Sandbox } from './sandbox.js';

let dir: string;
let sandbox: Sandbox;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tributary-sql-sandbox-'));
  await writeFile(join(dir, 'secret.csv'), 'a,b\n1,2\n');
  sandbox = await openSandbox();
});

afterAll(async () => {
  sandbox?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

async function duckdbError(sql: string): Promise<string> {
  try {
    await sandbox.connection.run(sql);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`DuckDB ran ${sql}`);
}

describe('sandbox (DuckDB settings, no validator)', () => {
  const permissionDenied = /disabled by configuration|Permission Error/;
  it.each([
    ["SELECT * FROM read_csv('/etc/passwd')"],
    ['SELECT * FROM read_csv(?)'.replace('?', "'SECRET'")],
    ["SELECT * FROM read_text('/etc/passwd')"],
    ["SELECT * FROM read_blob('/etc/hostname')"],
    ["SELECT * FROM read_parquet('SECRET')"],
    ["SELECT * FROM read_json('SECRET')"],
    ["SELECT * FROM glob('/etc/*')"],
    ["ATTACH 'DIR/x.db' AS x"],
    ['INSTALL httpfs'],
    ["SELECT * FROM read_csv('http://127.0.0.1:19000/any.csv')"],
  ])('refuses %s', async (template) => {
    const sql = template.replace('SECRET', join(dir, 'secret.csv')).replace('DIR', dir);
    expect(await duckdbError(sql)).toMatch(permissionDenied);
  });

  it('refuses loading extensions', async () => {
    expect(await duckdbError('LOAD httpfs')).toMatch(/disabled/);
  });

  it('refuses COPY TO and EXPORT DATABASE, and writes nothing', async () => {
    const target = join(dir, `out-${randomUUID()}`);
    expect(await duckdbError(`COPY (SELECT 1) TO '${target}.csv'`)).toMatch(permissionDenied);
    expect(await duckdbError(`EXPORT DATABASE '${target}'`)).toMatch(permissionDenied);
    expect(existsSync(`${target}.csv`)).toBe(false);
    expect(existsSync(target)).toBe(false);
  });

  it('refuses changing its configuration back (locked)', async () => {
    expect(await duckdbError('SET enable_external_access = true')).toMatch(/locked/);
    expect(await duckdbError("SET memory_limit = '100GB'")).toMatch(/locked/);
    expect(await duckdbError('SET autoload_known_extensions = true')).toMatch(/locked/);
  });

  it('still computes: plain SELECTs and range() run', async () => {
    const reader = await sandbox.connection.runAndReadAll('SELECT sum(range) AS s FROM range(10)');
    expect(reader.getRowObjectsJson()).toEqual([{ s: '45' }]);
  });
});
