/**
 * Bad input: a row that breaks the table schema, an unknown table, a corrupt metadata file, an S3 error in the middle
 * of a commit. Each fails with a `LakehouseError` naming the table and the file (or column and row) involved, and
 * leaves the table readable at its last good snapshot — checked with pyiceberg, the independent reader. The S3 errors
 * come from a test double around the real S3 store that fails a chosen write.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, truncate, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toSink } from '@tributary/core';
import { TestDriver } from '@tributary/core/testing';
import { localObjectStore, S3RequestFailedError } from '@tributary/connectors/s3';
import type { ObjectBody, ObjectStore } from '@tributary/connectors/s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommitStateUnknownError } from '../../src/catalog/catalog.js';
import type { Catalog } from '../../src/catalog/catalog.js';
import { storageCatalog } from '../../src/catalog/storage-catalog.js';
import { LakehouseError } from '../../src/errors.js';
import type { IcebergSchema, Row } from '../../src/schema/types.js';
import { icebergSink, positionsSummaryKey } from '../../src/sink/iceberg-sink.js';
import { buildPartitionSpec } from '../../src/spec/partition-spec.js';
import { Table } from '../../src/table/table.js';
import { pyicebergRead, pyS3Properties } from '../support/pyiceberg.js';
import { TestBucket } from '../support/s3-bucket.js';

const schema: IcebergSchema = {
  type: 'struct',
  'schema-id': 0,
  'identifier-field-ids': [1],
  fields: [
    { id: 1, name: 'id', required: true, type: 'long' },
    { id: 2, name: 'name', required: true, type: 'string' },
    { id: 3, name: 'amount', required: false, type: 'decimal(10, 2)' },
    { id: 4, name: 'region', required: true, type: 'string' },
  ],
};
const byRegion = buildPartitionSpec(schema, [{ column: 'region', transform: 'identity' }]);

const rowsFrom = (start: number, count: number): Row[] =>
  Array.from({ length: count }, (_, i) => ({
    id: start + i,
    name: `n${start + i}`,
    amount: `${start + i}.50`,
    region: (start + i) % 2 === 0 ? 'eu' : 'us',
  }));

/** Ids pyiceberg reads from the table at `metadata`, sorted. */
async function idsOf(metadata: string, properties: Record<string, string> = {}): Promise<number[]> {
  const read = await pyicebergRead(metadata, { properties });
  return read.rows.map((row) => Number(row.id)).sort((a, b) => a - b);
}

const range = (start: number, count: number): number[] => Array.from({ length: count }, (_, i) => start + i);

/** The rejection of `promise`, failing the test when it resolves. */
async function rejection(promise: Promise<unknown>): Promise<LakehouseError> {
  try {
    await promise;
  } catch (error) {
    return error as LakehouseError;
  }
  throw new Error('expected a rejection');
}

let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tributary-bad-input-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A catalog on a fresh local warehouse, and the directory of `ns.<table>` in it. */
function localWarehouse(): { catalog: Catalog; dir: (table: string) => string } {
  const warehouse = join(root, randomUUID());
  return { catalog: storageCatalog({ store: localObjectStore({ root: warehouse }) }), dir: (table) => join(warehouse, ...table.split('.')) };
}

const filesIn = async (dir: string): Promise<string[]> => (await readdir(dir, { recursive: true }).catch(() => [])).filter((f) => f.includes('.')).sort();

describe('a row that violates the table schema', () => {
  it('Table.append fails with SCHEMA_VIOLATION naming table, column and row of the batch; nothing is written', async () => {
    const { catalog, dir } = localWarehouse();
    const name = `ns.schema_${randomUUID().slice(0, 8)}`;
    const table = await Table.create(catalog, name, { schema, partitionSpec: byRegion });
    await table.append(rowsFrom(0, 10));
    const before = { metadata: table.metadataLocation, files: await filesIn(dir(name)) };

    // Row 7 is in the second partition written ('us'): the first partition's file is already encoded by then.
    const batch = rowsFrom(100, 10);
    batch[7] = { ...batch[7]!, amount: 'twelve' };
    const error = await rejection(table.append(batch));
    expect(error).toBeInstanceOf(LakehouseError);
    expect(error).toMatchObject({ code: 'SCHEMA_VIOLATION', table: name, column: 'amount', rowIndex: 7 });
    expect(error.message).toContain(name);
    expect(error.message).toContain('"amount"');
    expect(error.message).toMatch(/^Row 7\b/);

    // Nothing new under data/ or metadata/, and the table (ours and pyiceberg's view) is where it was.
    expect(await filesIn(dir(name))).toEqual(before.files);
    expect((await table.refresh()).metadataLocation).toBe(before.metadata);
    expect(await idsOf(table.metadataLocation)).toEqual(range(0, 10));
  });

  it('through icebergSink in a topology: the bad record goes to dead letters with its source position, the rest commit', async () => {
    const { catalog } = localWarehouse();
    const name = `ns.sink_${randomUUID().slice(0, 8)}`;
    await Table.create(catalog, name, { schema });
    const sink = icebergSink<Row>({ catalog, table: name, name: 'orders-lake' });
    const driver = new TestDriver<Row>({ name: 'bad-input', pipeline: (source) => source.pipe(toSink(sink)) });
    const records = rowsFrom(0, 6);
    records[2] = { ...records[2]!, name: null };
    records[4] = { ...records[4]!, id: 'not-a-number' };
    await driver.sendMany(records.map((value, i) => ({ value, eventTime: 1_000 + i })));
    await driver.checkpoint();

    expect(driver.deadLetters.map((letter) => [letter.record.position, letter.error.code])).toEqual([
      [{ partition: 'p0', offset: 2 }, 'SCHEMA_VIOLATION'],
      [{ partition: 'p0', offset: 4 }, 'SCHEMA_VIOLATION'],
    ]);
    for (const [letter, column] of [
      [driver.deadLetters[0]!, '"name"'],
      [driver.deadLetters[1]!, '"id"'],
    ] as const) {
      expect(letter.stage).toBe('orders-lake');
      expect(letter.error.message).toContain(name);
      expect(letter.error.message).toContain(column);
    }
    const table = await Table.load(catalog, name);
    expect(await idsOf(table.metadataLocation)).toEqual([0, 1, 3, 5]);
    // The positions of the whole batch (dead letters included) are recorded with the commit.
    expect(JSON.parse(table.currentSnapshot()!.summary[positionsSummaryKey('orders-lake')]!)).toEqual({ p0: 6 });
    await driver.end();
  });
});

describe('an unknown table', () => {
  it('Table.load fails with TABLE_NOT_FOUND naming the table and where its metadata was looked for', async () => {
    const { catalog } = localWarehouse();
    const name = `ns.missing_${randomUUID().slice(0, 8)}`;
    const error = await rejection(Table.load(catalog, name));
    expect(error).toBeInstanceOf(LakehouseError);
    expect(error).toMatchObject({ code: 'TABLE_NOT_FOUND', table: name });
    expect(error.message).toContain(name);
    expect(error.file).toMatch(new RegExp(`^file:///.*/${name.replace('.', '/')}/metadata/?$`));
    expect(error.message).toContain(error.file!);
  });

  it('icebergSink without `create` fails to open with TABLE_NOT_FOUND', async () => {
    const { catalog } = localWarehouse();
    const name = `ns.missing_${randomUUID().slice(0, 8)}`;
    const driver = new TestDriver<Row>({ name: 'unknown-table', pipeline: (source) => source.pipe(toSink(icebergSink<Row>({ catalog, table: name }))) });
    const error = await rejection(driver.send(rowsFrom(0, 1)[0]!, { eventTime: 0 }));
    expect(error).toMatchObject({ code: 'TABLE_NOT_FOUND', table: name });
    expect(error.message).toContain(name);
  });
});

describe('a corrupt newest metadata file', () => {
  it('load fails with CORRUPT_METADATA naming the file and the last good version; writers do not overwrite it', async () => {
    const { catalog, dir } = localWarehouse();
    const name = `ns.corrupt_${randomUUID().slice(0, 8)}`;
    const table = await Table.create(catalog, name, { schema });
    await table.append(rowsFrom(0, 5)); // v2
    const writer = await Table.load(catalog, name);
    await table.append(rowsFrom(5, 5)); // v3
    const metadataDir = join(dir(name), 'metadata');
    const v2 = table.metadataLocation.replace(/v3\.metadata\.json$/, 'v2.metadata.json');
    expect(table.metadataLocation).toMatch(/\/v3\.metadata\.json$/);
    await truncate(join(metadataDir, 'v3.metadata.json'), 200);
    const damaged = await readFile(join(metadataDir, 'v3.metadata.json'));
    const dataBefore = await filesIn(join(dir(name), 'data'));

    const error = await rejection(Table.load(catalog, name));
    expect(error).toBeInstanceOf(LakehouseError);
    expect(error).toMatchObject({ code: 'CORRUPT_METADATA', table: name, file: table.metadataLocation });
    expect(error.message).toContain(table.metadataLocation);
    expect(error.message).toContain(name);
    expect(error.message).toContain(v2);

    // A writer that loaded the table earlier cannot commit over the damage, and cleans up after itself.
    const failed = await rejection(writer.append(rowsFrom(10, 5)));
    expect(failed).toMatchObject({ code: 'CORRUPT_METADATA', table: name, file: table.metadataLocation });
    expect(await readFile(join(metadataDir, 'v3.metadata.json'))).toEqual(damaged);
    expect((await readdir(metadataDir)).filter((f) => f.endsWith('.metadata.json')).sort()).toEqual([
      'v1.metadata.json',
      'v2.metadata.json',
      'v3.metadata.json',
    ]);
    expect(await filesIn(join(dir(name), 'data'))).toEqual(dataBefore);

    // Readers can still open the last good version by its path.
    expect(await idsOf(v2)).toEqual(range(0, 5));

    // Recovery as the message says: removing the damaged file puts the table back at v2, and writing resumes.
    await unlink(join(metadataDir, 'v3.metadata.json'));
    const recovered = await Table.load(catalog, name);
    expect(recovered.metadataLocation).toBe(v2);
    await recovered.append(rowsFrom(20, 5));
    expect(await idsOf(recovered.metadataLocation)).toEqual([...range(0, 5), ...range(20, 5)]);
  });
});

// ---- S3 errors in the middle of a commit ----

const s3 = new TestBucket('bad');

/** Which write fails, and how. */
interface Fault {
  readonly operation: 'put' | 'putIfAbsent';
  /** Keys the fault applies to. */
  readonly key: RegExp;
  /** Fail the nth matching call (1-based). Default 1. */
  readonly nth?: number;
  /**
   * `before`: nothing is stored; `after`: the object is stored, then the answer is lost; `late`: the call fails, and
   * the request still lands on the server — just after the writer's first read of the key found nothing.
   */
  readonly when: 'before' | 'after' | 'late';
  /** Reads of the failed key fail too (the server stays unreachable for it). */
  readonly unreadable?: boolean;
}

/** The real S3 store behind a double that fails one chosen write, as a dropped connection would. */
function faultyS3Store(prefix: string): { store: ObjectStore; inject: (fault: Fault) => void; failedKeys: string[] } {
  const inner = s3.store(prefix);
  let fault: Fault | undefined;
  let matched = 0;
  const failedKeys: string[] = [];
  const landsLate = new Map<string, ObjectBody>();
  const injected = (operation: string, key: string) =>
    new S3RequestFailedError(`${operation} of ${inner.uri(key)} failed: connection reset (injected)`, {
      connector: 's3',
      location: s3.name,
      operation,
      key,
      retriable: true,
      s3Code: 'ECONNRESET',
    });
  const trips = (operation: Fault['operation'], key: string): Fault | undefined => {
    if (fault === undefined || fault.operation !== operation || !fault.key.test(key)) return undefined;
    matched++;
    if (matched !== (fault.nth ?? 1)) return undefined;
    failedKeys.push(key);
    return fault;
  };
  const store: ObjectStore = {
    location: inner.location,
    uri: (key) => inner.uri(key),
    put: async (key, body, options) => {
      const tripped = trips('put', key);
      if (tripped?.when === 'before') throw injected('put', key);
      const result = await inner.put(key, body, options);
      if (tripped?.when === 'after') throw injected('put', key);
      return result;
    },
    putIfAbsent: async (key, body, options) => {
      const tripped = trips('putIfAbsent', key);
      if (tripped?.when === 'before') throw injected('putIfAbsent', key);
      if (tripped?.when === 'late') {
        landsLate.set(key, body);
        throw injected('putIfAbsent', key);
      }
      const result = await inner.putIfAbsent(key, body, options);
      if (tripped?.when === 'after') throw injected('putIfAbsent', key);
      return result;
    },
    get: async (key, options) => {
      if (fault?.unreadable === true && failedKeys.includes(key)) throw injected('get', key);
      const late = landsLate.get(key);
      if (late === undefined) return inner.get(key, options);
      landsLate.delete(key);
      try {
        return await inner.get(key, options);
      } finally {
        await inner.putIfAbsent(key, late);
      }
    },
    getRange: (key, start, end, options) => inner.getRange(key, start, end, options),
    head: (key, options) => inner.head(key, options),
    list: (prefixToList, options) => inner.list(prefixToList, options),
    delete: (key, options) => inner.delete(key, options),
    deleteMany: (keys, options) => inner.deleteMany(keys, options),
    close: () => inner.close(),
  };
  return {
    store,
    inject: (next) => {
      fault = next;
      matched = 0;
    },
    failedKeys,
  };
}

/** Keys under `prefix` in the bucket, relative to `prefix`. */
async function bucketKeys(prefix: string): Promise<string[]> {
  return (await s3.keys(`${prefix}/`)).map((key) => key.slice(prefix.length + 1));
}

describe('an S3 error in the middle of a commit', () => {
  beforeAll(() => s3.create());
  afterAll(() => s3.destroy());

  /** A partitioned table on the faulty store with one good commit (ids 0..9 in two data files). */
  async function tableWithOneCommit() {
    const prefix = `wh-${randomUUID()}`;
    const faulty = faultyS3Store(prefix);
    const catalog = storageCatalog({ store: faulty.store });
    const name = `ns.s3fault_${randomUUID().slice(0, 8)}`;
    const table = await Table.create(catalog, name, { schema, partitionSpec: byRegion });
    await table.append(rowsFrom(0, 10));
    const before = { metadata: table.metadataLocation, snapshot: table.currentSnapshot()!['snapshot-id'], keys: await bucketKeys(prefix) };
    /** Checks the table is still at the good commit, for us and for pyiceberg. */
    const expectUnchanged = async () => {
      const reloaded = await Table.load(catalog, name);
      expect(reloaded.metadataLocation).toBe(before.metadata);
      expect(reloaded.currentSnapshot()?.['snapshot-id']).toBe(before.snapshot);
      expect(await idsOf(reloaded.metadataLocation, pyS3Properties)).toEqual(range(0, 10));
    };
    return { prefix, faulty, catalog, name, table, before, expectUnchanged };
  }

  it('a failed upload of a data file, a manifest or a manifest list: an error naming table and file, the table unchanged, the commit\'s files removed', async () => {
    const { prefix, faulty, name, table, before, expectUnchanged } = await tableWithOneCommit();
    for (const [what, key] of [
      ['the second data file', /\/data\/region=us\/[^/]+\.parquet$/],
      ['the manifest', /\/metadata\/[^/]+-m\d+\.avro$/],
      ['the manifest list', /\/metadata\/snap-[^/]+\.avro$/],
    ] as const) {
      faulty.inject({ operation: 'put', key, when: 'before' });
      const error = await rejection(table.append(rowsFrom(10, 10)));
      const file = faulty.store.uri(faulty.failedKeys.at(-1)!);
      expect(file, what).toMatch(key);
      expect(error, what).toBeInstanceOf(LakehouseError);
      expect(error, what).toMatchObject({ code: 'FILE_WRITE_FAILED', table: name, file, retriable: true });
      expect(error.message, what).toContain(name);
      expect(error.message, what).toContain(file);
      expect(error.message, what).toContain('connection reset');
      // Every file this commit had written is gone again (data files, manifest).
      expect(await bucketKeys(prefix), what).toEqual(before.keys);
    }
    expect(faulty.failedKeys).toHaveLength(3);
    await expectUnchanged();
  });

  it('a metadata commit whose outcome is unknown: CommitStateUnknownError, and no file of the commit is deleted', async () => {
    const { prefix, faulty, name, table, before, expectUnchanged } = await tableWithOneCommit();
    faulty.inject({ operation: 'putIfAbsent', key: /\/v\d+\.metadata\.json$/, when: 'before', unreadable: true });
    const error = await rejection(table.append(rowsFrom(10, 10)));
    expect(error).toBeInstanceOf(CommitStateUnknownError);
    const file = faulty.store.uri(faulty.failedKeys[0]!);
    expect(error).toMatchObject({ code: 'COMMIT_STATE_UNKNOWN', table: name, file });
    expect(error.message).toContain(name);
    expect(error.message).toContain(file);
    // Everything the commit wrote is still there: two data files, a manifest, a manifest list.
    const added = (await bucketKeys(prefix)).filter((key) => !before.keys.includes(key));
    expect(added.filter((key) => key.endsWith('.parquet'))).toHaveLength(2);
    expect(added.filter((key) => /-m\d+\.avro$/.test(key))).toHaveLength(1);
    expect(added.filter((key) => /\/snap-[^/]+\.avro$/.test(key))).toHaveLength(1);
    expect(added.filter((key) => key.endsWith('.metadata.json'))).toEqual([]);
    faulty.inject({ operation: 'put', key: /^$/, when: 'before' });
    await expectUnchanged();
  });

  it('a metadata commit that landed but whose answer was lost, or failed before anything was stored: each committed once', async () => {
    const { faulty, catalog, name, table, before } = await tableWithOneCommit();
    // The answer is lost after the metadata file was stored: reading it back shows the commit landed.
    faulty.inject({ operation: 'putIfAbsent', key: /\/v\d+\.metadata\.json$/, when: 'after' });
    const landed = await table.append(rowsFrom(10, 10));
    // The request fails before anything is stored: the file is absent, so the commit is retried.
    faulty.inject({ operation: 'putIfAbsent', key: /\/v\d+\.metadata\.json$/, when: 'before' });
    const retried = await table.append(rowsFrom(20, 10));
    expect(faulty.failedKeys).toHaveLength(2);
    const reloaded = await Table.load(catalog, name);
    expect(reloaded.history().map((s) => s['snapshot-id'])).toEqual([before.snapshot, landed['snapshot-id'], retried['snapshot-id']]);
    expect(await idsOf(reloaded.metadataLocation, pyS3Properties)).toEqual(range(0, 30));
  });

  it('a metadata commit that fails but lands after the writer found nothing: recognised on the retry, committed once', async () => {
    const { faulty, catalog, name, table, before } = await tableWithOneCommit();
    faulty.inject({ operation: 'putIfAbsent', key: /\/v\d+\.metadata\.json$/, when: 'late' });
    const snapshot = await table.append(rowsFrom(10, 10));
    expect(faulty.failedKeys).toHaveLength(1);
    const reloaded = await Table.load(catalog, name);
    expect(reloaded.history().map((s) => s['snapshot-id'])).toEqual([before.snapshot, snapshot['snapshot-id']]);
    // The files the landed commit references are all there: pyiceberg reads every row.
    expect(await idsOf(reloaded.metadataLocation, pyS3Properties)).toEqual(range(0, 20));
  });
});
