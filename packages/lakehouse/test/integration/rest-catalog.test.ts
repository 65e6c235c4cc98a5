/**
 * The REST catalog client against the real Iceberg REST catalog service (Iceberg 1.11.0's RESTCatalogAdapter, see
 * docs/decisions/0011-iceberg-rest-catalog-server.md): namespaces, create (with the server's fresh ids), load,
 * commits with requirements, a stale commit's 409, a 400, paging, drop with purge; a snapshot id beyond 2^53 through a
 * commit and back, exact (also as pyiceberg sees it); and `Table` on the REST catalog end to end — appends, two
 * concurrent writers, on local disk and on the S3 service — read back by pyiceberg through its own RestCatalog.
 * It fails, never skips, when a service is down.
 */
import { execFile } from 'node:child_process';
import { randomInt, randomUUID } from 'node:crypto';
import { readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { localObjectStore, s3ObjectStore } from '@tributary/connectors/s3';
import type { ObjectStore } from '@tributary/connectors/s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommitConflictError } from '../../src/catalog/catalog.js';
import type { Catalog, TableIdentifier } from '../../src/catalog/catalog.js';
import { restCatalog } from '../../src/catalog/rest-catalog.js';
import type { RestCatalogOptions } from '../../src/catalog/rest-catalog.js';
import { LakehouseError } from '../../src/errors.js';
import { writeManifestList } from '../../src/metadata/manifest.js';
import type { Snapshot } from '../../src/metadata/table-metadata.js';
import type { IcebergSchema } from '../../src/schema/types.js';
import { Table } from '../../src/table/table.js';
import { pyS3Properties } from '../support/pyiceberg.js';
import { services } from '../../../../test/support/services.js';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
/** Where the service keeps `file://` tables (scripts/services/iceberg-rest.sh): `<services dir>/iceberg-rest/warehouse`. */
const warehouseDir = path.join(path.resolve(repoRoot, process.env.TRIBUTARY_SERVICES_DIR ?? '.services'), 'iceberg-rest', 'warehouse');
const suffix = randomUUID().slice(0, 8);
const ns = `it_rest_${suffix}`;
const bucket = `tributary-rest-${suffix}`;

const warehouse = localObjectStore({ root: warehouseDir });
const s3 = s3ObjectStore({
  bucket,
  endpoint: services.s3Endpoint,
  region: services.s3Region,
  credentials: services.s3Credentials,
  forcePathStyle: true,
});
const admin = new S3Client({
  endpoint: services.s3Endpoint,
  region: services.s3Region,
  credentials: services.s3Credentials,
  forcePathStyle: true,
  maxAttempts: 1,
});
const stores: ObjectStore[] = [warehouse, s3];

const rest = (options: Partial<RestCatalogOptions> = {}): Catalog =>
  restCatalog({
    uri: services.icebergRestUrl,
    name: 'it-rest',
    io: (location) => (location.startsWith('s3://') ? s3 : warehouse),
    timeoutMs: 10_000,
    ...options,
  });

const failureOf = async (promise: Promise<unknown>): Promise<LakehouseError> => {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(LakehouseError);
    return error as LakehouseError;
  }
  throw new Error('expected a rejection');
};

// pyiceberg through its own RestCatalog: the independent view of what the catalog serves.
const pyRead = `
import json, sys
from pyiceberg.catalog.rest import RestCatalog
args = json.loads(sys.argv[1])
catalog = RestCatalog("tributary", **args["catalog"])
table = catalog.load_table(args["table"])
snapshot = table.current_snapshot()
rows = table.scan().to_arrow().to_pylist() if snapshot is not None else []
print(json.dumps({
    "uuid": str(table.metadata.table_uuid),
    "snapshot_id": None if snapshot is None else str(snapshot.snapshot_id),
    "snapshots": [str(s.snapshot_id) for s in table.snapshots()],
    "fields": [[f.field_id, f.name] for f in table.schema().fields],
    "identifier_field_ids": sorted(table.schema().identifier_field_ids),
    "rows": sorted(({k: (str(v) if isinstance(v, int) and not isinstance(v, bool) else v) for k, v in r.items()} for r in rows),
                   key=lambda r: int(r["id"])),
}))
`;
interface PyView {
  uuid: string;
  snapshot_id: string | null;
  snapshots: string[];
  fields: [number, string][];
  identifier_field_ids: number[];
  rows: Record<string, unknown>[];
}
async function pyiceberg(table: string, catalogProperties: Record<string, string> = {}): Promise<PyView> {
  const args = JSON.stringify({ table, catalog: { uri: services.icebergRestUrl, ...catalogProperties } });
  try {
    const { stdout } = await run(services.pythonBin, ['-c', pyRead, args], { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
    return JSON.parse(stdout.trim().split('\n').at(-1)!) as PyView;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`pyiceberg failed to read ${table}:\n${stderr.split('\n').slice(-15).join('\n')}`, { cause: error });
  }
}

/** The catalog, counting the commits it refused as conflicts. */
const countingConflicts = (catalog: Catalog, conflicts: { count: number }): Catalog => ({
  ...catalog,
  commitTable: async (...args) => {
    try {
      return await catalog.commitTable(...args);
    } catch (error) {
      if (error instanceof CommitConflictError) conflicts.count++;
      throw error;
    }
  },
});

/** Namespace removal (not part of the Catalog interface): the raw REST call. */
async function dropNamespace(namespace: string): Promise<void> {
  await fetch(`${services.icebergRestUrl}/v1/namespaces/${namespace}`, { method: 'DELETE', signal: AbortSignal.timeout(10_000) }).catch(
    () => undefined,
  );
}

const created: TableIdentifier[] = [];
let bucketCreated = false;

beforeAll(async () => {
  await admin.send(new CreateBucketCommand({ Bucket: bucket }));
  bucketCreated = true;
});

afterAll(async () => {
  try {
    const catalog = rest();
    for (const id of created) await catalog.dropTable(id, { purge: true }).catch(() => undefined);
    await dropNamespace(`${ns}%2Enested`);
    await dropNamespace(ns);
    await rm(path.join(warehouseDir, ns), { recursive: true, force: true });
    await Promise.all(stores.map((store) => store.close()));
    if (bucketCreated) {
      let token: string | undefined;
      do {
        const page = await admin.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
        const keys = (page.Contents ?? []).flatMap((object) => (object.Key === undefined ? [] : [{ Key: object.Key }]));
        if (keys.length > 0) await admin.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
        token = page.NextContinuationToken;
      } while (token !== undefined);
      await admin.send(new DeleteBucketCommand({ Bucket: bucket }));
    }
  } finally {
    admin.destroy();
  }
});

// Ids chosen apart from what the server assigns (it renumbers from 1), to show that callers must use the answer.
const requestedSchema: IcebergSchema = {
  type: 'struct',
  'schema-id': 0,
  'identifier-field-ids': [10],
  fields: [
    { id: 10, name: 'id', required: true, type: 'long' },
    { id: 20, name: 'name', required: false, type: 'string' },
    { id: 30, name: 'amount', required: false, type: 'double' },
  ],
};

describe('restCatalog against the Iceberg REST service', () => {
  it('creates, loads, commits (409 on a stale requirement, 400 on an invalid update), lists and drops tables', async () => {
    const catalog = rest();
    await catalog.createNamespace([ns], { owner: 'tributary-test' });
    await catalog.createNamespace([ns]); // exists: fine
    await catalog.createNamespace([ns, 'nested']);
    const namespaces = await catalog.listNamespaces();
    expect(namespaces).toContainEqual([ns]);
    expect(namespaces).toContainEqual([ns, 'nested']);

    const id: TableIdentifier = { namespace: [ns], name: 'events' };
    const table = await catalog.createTable(id, {
      schema: requestedSchema,
      partitionSpec: { 'spec-id': 0, fields: [{ 'source-id': 20, 'field-id': 1000, name: 'name', transform: 'identity' }] },
      properties: { 'tributary.test': 'rest' },
    });
    created.push(id);
    // The server assigned fresh ids and mapped the identifier field and the partition source by name.
    const schema = table.metadata.schemas.find((s) => s['schema-id'] === table.metadata['current-schema-id'])!;
    expect(schema.fields.map((f) => [f.id, f.name])).toEqual([
      [1, 'id'],
      [2, 'name'],
      [3, 'amount'],
    ]);
    expect(schema['identifier-field-ids']).toEqual([1]);
    expect(table.metadata['partition-specs'][0]!.fields).toEqual([{ 'source-id': 2, 'field-id': 1000, name: 'name', transform: 'identity' }]);
    expect(table.metadata['format-version']).toBe(2);
    expect(table.metadata.properties['tributary.test']).toBe('rest');
    expect(table.metadata.location).toBe(`${warehouse.location}${ns}/events`);
    expect(table.metadataLocation).toMatch(new RegExp(`^file:///.+/${ns}/events/metadata/00000-[0-9a-f-]+\\.metadata\\.json$`));
    expect((await stat(fileURLToPath(table.metadataLocation))).isFile()).toBe(true);
    expect(table.io.store).toBe(warehouse);

    expect((await failureOf(catalog.createTable(id, { schema: requestedSchema }))).code).toBe('TABLE_EXISTS');
    expect(await catalog.tableExists(id)).toBe(true);
    expect(await catalog.tableExists({ namespace: [ns], name: 'nope' })).toBe(false);
    expect((await failureOf(catalog.loadTable({ namespace: [ns], name: 'nope' }))).code).toBe('TABLE_NOT_FOUND');

    const loaded = await catalog.loadTable(id);
    expect(loaded.metadataLocation).toBe(table.metadataLocation);
    const uuid = loaded.metadata['table-uuid'];
    expect(uuid).toBe(table.metadata['table-uuid']);

    const committed = await catalog.commitTable(id, [{ type: 'assert-table-uuid', uuid }], [
      { action: 'set-properties', updates: { 'tributary.step': 'one' } },
    ]);
    expect(committed.metadata.properties['tributary.step']).toBe('one');
    expect(committed.metadataLocation).toMatch(/\/metadata\/00001-[0-9a-f-]+\.metadata\.json$/);
    expect((await catalog.loadTable(id)).metadata.properties['tributary.step']).toBe('one');

    const wrongUuid = await failureOf(
      catalog.commitTable(id, [{ type: 'assert-table-uuid', uuid: randomUUID() }], [{ action: 'set-properties', updates: { 'tributary.step': 'lost' } }]),
    );
    expect(wrongUuid).toBeInstanceOf(CommitConflictError);
    expect(wrongUuid.message).toMatch(/^Commit to table it_rest_\w+\.events in catalog it-rest conflicts .*HTTP 409: CommitFailedException: .*UUID does not match/);

    // 400: the server validates the updates; nothing is applied.
    const invalid = await failureOf(
      catalog.commitTable(id, [], [{ action: 'set-snapshot-ref', 'ref-name': 'main', type: 'branch', 'snapshot-id': 12n }]),
    );
    expect(invalid.code).toBe('INVALID_UPDATE');
    expect(invalid.message).toMatch(/HTTP 400: ValidationException: Cannot set main to unknown snapshot: 12\)/);
    expect(invalid.message).not.toMatch(/\tat |\.java:/);
    expect((await catalog.loadTable(id)).metadataLocation).toBe(committed.metadataLocation);

    // Paging: one table per page.
    const second: TableIdentifier = { namespace: [ns], name: 'second' };
    await catalog.createTable(second, { schema: requestedSchema });
    created.push(second);
    expect(await rest({ pageSize: 1 }).listTables([ns])).toEqual([id, second].sort((a, b) => a.name.localeCompare(b.name)));
    expect((await failureOf(catalog.listTables([`${ns}_missing`]))).code).toBe('NAMESPACE_NOT_FOUND');

    // Drop: without purge the files stay; with purge the server deletes what the metadata reaches.
    const secondLocation = (await catalog.loadTable(second)).metadataLocation;
    await catalog.dropTable(second);
    expect(await catalog.tableExists(second)).toBe(false);
    expect((await stat(fileURLToPath(secondLocation))).isFile()).toBe(true);
    await catalog.dropTable(id, { purge: true });
    expect(await catalog.tableExists(id)).toBe(false);
    await expect(stat(fileURLToPath(committed.metadataLocation))).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await failureOf(catalog.dropTable(id))).code).toBe('TABLE_NOT_FOUND');
    expect((await failureOf(catalog.commitTable(id, [], [{ action: 'set-properties', updates: { a: 'b' } }]))).code).toBe('TABLE_NOT_FOUND');
  });

  it('commits a snapshot whose id is beyond 2^53 and reads it back exactly (and so does pyiceberg)', async () => {
    const catalog = rest();
    const id: TableIdentifier = { namespace: [ns], name: 'big_ids' };
    const table = await catalog.createTable(id, { schema: requestedSchema });
    created.push(id);
    const snapshotId = 2n ** 62n + BigInt(randomInt(1, 2 ** 47)) * 2n + 1n; // odd and far above 2^53: a double cannot hold it
    expect(BigInt(Number(snapshotId))).not.toBe(snapshotId);
    const sequenceNumber = table.metadata['last-sequence-number'] + 1;
    const manifestList = `${table.metadata.location}/metadata/snap-${snapshotId}-1-${randomUUID()}.avro`;
    await table.io.write(manifestList, writeManifestList([], { snapshotId, parentSnapshotId: undefined, sequenceNumber }));
    const snapshot: Snapshot = {
      'snapshot-id': snapshotId,
      'sequence-number': sequenceNumber,
      'timestamp-ms': Date.now(),
      'manifest-list': manifestList,
      summary: { operation: 'append', 'added-records': '0', 'total-records': '0' },
      'schema-id': table.metadata['current-schema-id'],
    };
    const committed = await catalog.commitTable(
      id,
      [
        { type: 'assert-table-uuid', uuid: table.metadata['table-uuid'] },
        { type: 'assert-ref-snapshot-id', ref: 'main', 'snapshot-id': null },
      ],
      [
        { action: 'add-snapshot', snapshot },
        { action: 'set-snapshot-ref', 'ref-name': 'main', type: 'branch', 'snapshot-id': snapshotId },
      ],
    );
    expect(committed.metadata['current-snapshot-id']).toBe(snapshotId);

    const reloaded = await catalog.loadTable(id);
    expect(reloaded.metadata['current-snapshot-id']).toBe(snapshotId);
    expect(reloaded.metadata.refs.main).toEqual({ 'snapshot-id': snapshotId, type: 'branch' });
    expect(reloaded.metadata.snapshots.map((s) => s['snapshot-id'])).toEqual([snapshotId]);
    expect(reloaded.metadata['snapshot-log'].map((e) => e['snapshot-id'])).toEqual([snapshotId]);
    // The server stored the exact digits.
    const onDisk = await readFile(fileURLToPath(reloaded.metadataLocation), 'utf8');
    expect(onDisk).toMatch(new RegExp(`"current-snapshot-id"\\s*:\\s*${snapshotId}\\b`));

    // A writer that still thinks main is empty loses; one on the current snapshot wins.
    const stale = await failureOf(
      catalog.commitTable(id, [{ type: 'assert-ref-snapshot-id', ref: 'main', 'snapshot-id': null }], [
        { action: 'set-properties', updates: { 'tributary.step': 'stale' } },
      ]),
    );
    expect(stale).toBeInstanceOf(CommitConflictError);
    expect(stale.retriable).toBe(true);
    const fresh = await catalog.commitTable(id, [{ type: 'assert-ref-snapshot-id', ref: 'main', 'snapshot-id': snapshotId }], [
      { action: 'set-properties', updates: { 'tributary.step': 'fresh' } },
    ]);
    expect(fresh.metadata.properties['tributary.step']).toBe('fresh');

    const py = await pyiceberg(`${ns}.big_ids`);
    expect(py.snapshot_id).toBe(String(snapshotId));
    expect(py.snapshots).toEqual([String(snapshotId)]);
    expect(py.rows).toEqual([]);
  });

  it('Table on the REST catalog: appends and two concurrent writers land, pyiceberg reads them through RestCatalog', async () => {
    const catalog = rest();
    const name = `${ns}.orders`;
    const table = await Table.create(catalog, name, { schema: requestedSchema });
    created.push(table.identifier);
    expect(table.schema.fields.map((f) => f.id)).toEqual([1, 2, 3]);
    const first = await table.append([
      { id: 1, name: 'alpha', amount: 1.5 },
      { id: 2, name: 'beta', amount: null },
    ]);
    expect((await table.read()).map((r) => r.id).sort()).toEqual([1n, 2n]);

    // Two writers, each with its own catalog client, append at the same time: the loser of the race gets a 409,
    // reloads and commits on top of the winner.
    const conflicts = { count: 0 };
    const [writerA, writerB] = await Promise.all([Table.load(countingConflicts(rest(), conflicts), name), Table.load(countingConflicts(rest(), conflicts), name)]);
    const [a, b] = await Promise.all([
      writerA.append([{ id: 10, name: 'a', amount: 10 }]),
      writerB.append([{ id: 20, name: 'b', amount: 20 }]),
    ]);
    const final = await Table.load(catalog, name);
    const history = final.history().map((s) => s['snapshot-id']);
    expect(history).toHaveLength(3);
    expect(history[0]).toBe(first['snapshot-id']);
    expect(new Set(history.slice(1))).toEqual(new Set([a['snapshot-id'], b['snapshot-id']]));
    // Both started from the same base, so the second commit to arrive was refused at least once.
    expect(conflicts.count).toBeGreaterThanOrEqual(1);
    expect(final.currentSnapshot()?.summary['total-records']).toBe('4');
    expect((await final.read()).map((r) => r.id).sort((x, y) => Number(x) - Number(y))).toEqual([1n, 2n, 10n, 20n]);

    const py = await pyiceberg(name);
    expect(py.uuid).toBe(final.metadata['table-uuid']);
    expect(py.snapshot_id).toBe(String(final.currentSnapshot()!['snapshot-id']));
    expect(py.identifier_field_ids).toEqual([1]);
    expect(py.rows).toEqual([
      { id: '1', name: 'alpha', amount: 1.5 },
      { id: '2', name: 'beta', amount: null },
      { id: '10', name: 'a', amount: 10 },
      { id: '20', name: 'b', amount: 20 },
    ]);
  });

  it('Table on a REST table stored on S3: io resolves s3:// locations to the S3 store', async () => {
    const catalog = rest();
    const name = `${ns}.on_s3`;
    const location = `s3://${bucket}/${ns}/on_s3`;
    const table = await Table.create(catalog, name, { schema: requestedSchema, location });
    created.push(table.identifier);
    expect(table.metadata.location).toBe(location);
    expect(table.state.io.store).toBe(s3);
    await table.append([{ id: 7, name: 'seven', amount: 7.5 }]);
    const keys: string[] = [];
    for await (const info of s3.list(`${ns}/on_s3/data/`)) keys.push(info.key);
    expect(keys.length).toBeGreaterThan(0);
    const py = await pyiceberg(name, pyS3Properties);
    expect(py.rows).toEqual([{ id: '7', name: 'seven', amount: 7.5 }]);
  });
});
