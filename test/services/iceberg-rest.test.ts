/**
 * Smoke test of the Iceberg REST catalog started by `scripts/services.sh up iceberg-rest`
 * (see docs/decisions/0011-iceberg-rest-catalog-server.md): the REST protocol as a client speaks it (config, namespaces,
 * create/load/list/drop table, commits with requirements and the 409 of a failed one, multi-table transactions), and
 * pyiceberg reading and appending to the same tables through the same catalog, on local disk and on the S3 service.
 * It fails, never skips, when a service is down.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { access, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { services } from '../support/services.js';

const run = promisify(execFile);
const id = randomUUID().slice(0, 8);
const ns = `smoke_ice_${id}`;
const bucket = `tributary-ice-${id}`;

interface RestResult<T> {
  status: number;
  etag: string | null;
  json: T | undefined;
  text: string;
}
interface ErrorModel {
  error: { message: string; type: string; code: number };
}
interface TableMetadata {
  'format-version': number;
  'table-uuid': string;
  location: string;
  'current-schema-id': number;
  schemas: { 'schema-id': number; fields: { id: number; name: string; required: boolean; type: string }[] }[];
  'default-spec-id': number;
  'partition-specs': { 'spec-id': number; fields: { name: string; transform: string; 'source-id': number; 'field-id': number }[] }[];
  properties: Record<string, string>;
  'current-snapshot-id'?: number | null;
  snapshots?: { 'snapshot-id': number; 'manifest-list': string }[];
  refs?: Record<string, { 'snapshot-id': number; type: string }>;
  'metadata-log': { 'metadata-file': string; 'timestamp-ms': number }[];
}
interface LoadTableResult {
  'metadata-location': string;
  metadata: TableMetadata;
  config?: Record<string, string>;
}

/** `body`: a value to JSON.stringify, or JSON text as is (for int64 ids that a JavaScript number cannot hold). */
async function rest<T>(method: 'GET' | 'POST' | 'DELETE' | 'HEAD', path: string, body?: unknown): Promise<RestResult<T>> {
  const res = await fetch(`${services.icebergRestUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  const json = text.startsWith('{') ? (JSON.parse(text) as T) : undefined;
  return { status: res.status, etag: res.headers.get('etag'), json, text };
}

/**
 * Snapshot ids are random int64s, mostly above 2^53: JSON.parse rounds them (2522843668112280668 came back as
 * ...600), so this test reads and writes them as text. The lakehouse REST client must parse them losslessly.
 */
const rawInt = (text: string, pattern: RegExp): string | undefined => pattern.exec(text)?.[1];

/** `file:/abs` (what the server's HadoopFileIO hands out for metadata files) and `file:///abs` are the same file. */
const localPath = (location: string): string => fileURLToPath(new URL(location));
const exists = (path: string): Promise<boolean> =>
  access(path).then(
    () => true,
    () => false,
  );

const schema = {
  type: 'struct',
  'schema-id': 0,
  'identifier-field-ids': [1],
  fields: [
    { id: 1, name: 'id', required: true, type: 'long' },
    { id: 2, name: 'name', required: false, type: 'string' },
    { id: 3, name: 'ts', required: false, type: 'timestamptz' },
  ],
};
const createTableRequest = (name: string, location?: string) => ({
  name,
  ...(location === undefined ? {} : { location }),
  schema,
  // identity, not day(ts): writing through a transform needs pyiceberg-core, which the python service does not install.
  'partition-spec': { 'spec-id': 0, fields: [{ 'source-id': 2, 'field-id': 1000, name: 'name', transform: 'identity' }] },
  'write-order': { 'order-id': 0, fields: [] },
  properties: { 'format-version': '2', 'tributary.created-by': 'smoke' },
});

// pyiceberg talks to the same catalog: loads the table, appends two rows (it writes the Parquet data file, manifest and
// manifest list itself, then commits through the REST API) and reads everything back.
const pyiceberg = `
import json, sys
from datetime import datetime, timezone
import pyarrow as pa
from pyiceberg.catalog.rest import RestCatalog
args = json.loads(sys.argv[1])
catalog = RestCatalog("tributary", **args["catalog"])
table = catalog.load_table(args["table"])
before = {"uuid": str(table.metadata.table_uuid), "properties": dict(table.properties),
          "fields": [f.name for f in table.schema().fields], "spec": str(table.spec())}
rows = pa.table({
    "id": pa.array([1, 2], pa.int64()),
    "name": pa.array(["alpha", "beta"], pa.string()),
    "ts": pa.array([datetime(2026, 1, 1, 12, tzinfo=timezone.utc), datetime(2026, 1, 2, 12, tzinfo=timezone.utc)],
                   pa.timestamp("us", tz="UTC")),
}, schema=pa.schema([pa.field("id", pa.int64(), nullable=False), pa.field("name", pa.string()),
                     pa.field("ts", pa.timestamp("us", tz="UTC"))]))
table.append(rows)
reloaded = catalog.load_table(args["table"])
scanned = reloaded.scan().to_arrow().sort_by("id")
print(json.dumps({**before,
    "snapshot_id": str(reloaded.current_snapshot().snapshot_id),
    "metadata_location": reloaded.metadata_location,
    "data_files": [t.file.file_path for t in reloaded.scan().plan_files()],
    "rows": [{"id": r["id"], "name": r["name"], "ts": r["ts"].isoformat()} for r in scanned.to_pylist()]}))
`;
interface PyResult {
  uuid: string;
  properties: Record<string, string>;
  fields: string[];
  spec: string;
  snapshot_id: string;
  metadata_location: string;
  data_files: string[];
  rows: { id: number; name: string; ts: string }[];
}
async function pyAppend(table: string, catalog: Record<string, string>): Promise<PyResult> {
  const { stdout } = await run(services.pythonBin, ['-c', pyiceberg, JSON.stringify({ table, catalog })], { timeout: 60_000 });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as PyResult;
}
const expectedRows = [
  { id: 1, name: 'alpha', ts: '2026-01-01T12:00:00+00:00' },
  { id: 2, name: 'beta', ts: '2026-01-02T12:00:00+00:00' },
];

const s3 = new S3Client({
  endpoint: services.s3Endpoint,
  region: services.s3Region,
  credentials: services.s3Credentials,
  forcePathStyle: true,
  maxAttempts: 1,
});
let bucketCreated = false;
let namespaceLocation: string | undefined;
const tablesToDrop: string[] = [];

afterAll(async () => {
  try {
    // purgeRequested: the server deletes the metadata and data files it can find through the table's manifests.
    for (const table of tablesToDrop) {
      await rest('DELETE', `/v1/namespaces/${ns}/tables/${table}?purgeRequested=true`).catch(() => undefined);
    }
    await rest('DELETE', `/v1/namespaces/${ns}`).catch(() => undefined);
    if (namespaceLocation?.startsWith('file:')) await rm(localPath(namespaceLocation), { recursive: true, force: true });
    if (bucketCreated) {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
      for (const o of page.Contents ?? []) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key }));
      await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
    }
  } finally {
    s3.destroy();
  }
});

describe('iceberg-rest service', () => {
  it('serves the REST catalog protocol: config, namespace, create/load/commit/list table, and pyiceberg through it', async () => {
    // Config: no prefix (paths are /v1/namespaces/...), '.' (%2E) joins the levels of a namespace in a path.
    const config = await rest<{ defaults: Record<string, string>; overrides: Record<string, string>; endpoints: string[] }>(
      'GET',
      '/v1/config',
    );
    expect(config.status).toBe(200);
    expect(config.json!.overrides).toEqual({ 'namespace-separator': '%2E' });
    expect(config.json!.overrides.prefix).toBeUndefined();
    expect(config.json!.endpoints).toEqual(
      expect.arrayContaining([
        'POST /v1/{prefix}/namespaces',
        'POST /v1/{prefix}/namespaces/{namespace}/tables',
        'GET /v1/{prefix}/namespaces/{namespace}/tables/{table}',
        'POST /v1/{prefix}/namespaces/{namespace}/tables/{table}',
        'DELETE /v1/{prefix}/namespaces/{namespace}/tables/{table}',
        'POST /v1/{prefix}/transactions/commit',
      ]),
    );

    const createdNs = await rest<{ namespace: string[]; properties: Record<string, string> }>('POST', '/v1/namespaces', {
      namespace: [ns],
      properties: { owner: 'tributary' },
    });
    expect(createdNs.status, createdNs.text).toBe(200);
    expect(createdNs.json!.namespace).toEqual([ns]);
    namespaceLocation = createdNs.json!.properties.location;
    expect(namespaceLocation).toMatch(new RegExp(`^file:///.+/warehouse/${ns}$`));
    expect((await rest<ErrorModel>('POST', '/v1/namespaces', { namespace: [ns] })).status).toBe(409);

    // Create: the server assigns the location (<warehouse>/<ns>/<table>) and writes metadata version 0 itself.
    const created = await rest<LoadTableResult>('POST', `/v1/namespaces/${ns}/tables`, createTableRequest('events'));
    expect(created.status, created.text).toBe(200);
    tablesToDrop.push('events');
    const meta0 = created.json!.metadata;
    expect(meta0['format-version']).toBe(2);
    expect(meta0.location).toBe(`${namespaceLocation}/events`);
    expect(meta0.schemas[0]!.fields.map((f) => f.name)).toEqual(['id', 'name', 'ts']);
    expect(meta0['partition-specs'][0]!.fields).toEqual([{ name: 'name', transform: 'identity', 'source-id': 2, 'field-id': 1000 }]);
    expect(meta0.properties['tributary.created-by']).toBe('smoke');
    // The metadata file: `file:/abs/...` (one slash) while the table location is `file:///abs/...`.
    const location0 = created.json!['metadata-location'];
    expect(location0).toMatch(new RegExp(`^file:/[^/].*/${ns}/events/metadata/00000-[0-9a-f-]+\\.metadata\\.json$`));
    expect(await exists(localPath(location0))).toBe(true);
    expect((await rest<ErrorModel>('POST', `/v1/namespaces/${ns}/tables`, createTableRequest('events'))).status).toBe(409);

    const loaded = await rest<LoadTableResult>('GET', `/v1/namespaces/${ns}/tables/events`);
    expect(loaded.status).toBe(200);
    expect(loaded.etag).toBeTruthy();
    expect(loaded.json!['metadata-location']).toBe(location0);
    const uuid = loaded.json!.metadata['table-uuid'];
    expect(uuid).toBe(meta0['table-uuid']);

    // Commit: requirements are checked against the current metadata, then the updates apply; the answer is the new
    // metadata. A failed requirement is a 409 CommitFailedException and changes nothing.
    const commit = await rest<LoadTableResult>('POST', `/v1/namespaces/${ns}/tables/events`, {
      identifier: { namespace: [ns], name: 'events' },
      requirements: [{ type: 'assert-table-uuid', uuid }],
      updates: [{ action: 'set-properties', updates: { 'tributary.step': 'one' } }],
    });
    expect(commit.status, commit.text).toBe(200);
    const location1 = commit.json!['metadata-location'];
    expect(location1).toMatch(/\/metadata\/00001-[0-9a-f-]+\.metadata\.json$/);
    expect(commit.json!.metadata.properties['tributary.step']).toBe('one');
    expect(commit.json!.metadata['metadata-log'].map((e) => e['metadata-file'])).toEqual([location0]);

    const stale = await rest<ErrorModel>('POST', `/v1/namespaces/${ns}/tables/events`, {
      requirements: [{ type: 'assert-table-uuid', uuid: randomUUID() }],
      updates: [{ action: 'set-properties', updates: { 'tributary.step': 'lost' } }],
    });
    expect(stale.status).toBe(409);
    expect(stale.json!.error).toMatchObject({ type: 'CommitFailedException', code: 409 });
    expect(stale.json!.error.message).toMatch(/UUID does not match/);
    const afterStale = await rest<LoadTableResult>('GET', `/v1/namespaces/${ns}/tables/events`);
    expect(afterStale.json!['metadata-location']).toBe(location1);
    expect(afterStale.json!.metadata.properties['tributary.step']).toBe('one');

    const list = await rest<{ identifiers: { namespace: string[]; name: string }[] }>('GET', `/v1/namespaces/${ns}/tables`);
    expect(list.status).toBe(200);
    expect(list.json!.identifiers).toEqual([{ namespace: [ns], name: 'events' }]);

    // pyiceberg loads the same table through the same catalog, writes a data file and commits a snapshot.
    const py = await pyAppend(`${ns}.events`, { uri: services.icebergRestUrl });
    expect(py.uuid).toBe(uuid);
    expect(py.properties['tributary.step']).toBe('one');
    expect(py.fields).toEqual(['id', 'name', 'ts']);
    expect(py.spec).toMatch(/name.*identity/);
    expect(py.rows).toEqual(expectedRows);
    expect(py.data_files).toHaveLength(2); // one per partition
    for (const file of py.data_files) {
      expect(file.startsWith(`${meta0.location}/data/name=`)).toBe(true);
      expect(await exists(localPath(file))).toBe(true);
    }

    // The snapshot pyiceberg committed is what the catalog now serves; a writer that still assumes an empty `main`
    // (assert-ref-snapshot-id null: the optimistic check of an append) loses with 409.
    const afterPy = await rest<LoadTableResult>('GET', `/v1/namespaces/${ns}/tables/events`);
    expect(afterPy.json!['metadata-location']).toBe(py.metadata_location);
    expect(py.snapshot_id).toMatch(/^\d+$/);
    expect(rawInt(afterPy.text, /"current-snapshot-id"\s*:\s*(\d+)/)).toBe(py.snapshot_id);
    expect(rawInt(afterPy.text, /"main"\s*:\s*\{[^}]*"snapshot-id"\s*:\s*(\d+)/)).toBe(py.snapshot_id);
    expect(afterPy.json!.metadata.refs!.main!.type).toBe('branch');
    const lostRace = await rest<ErrorModel>('POST', `/v1/namespaces/${ns}/tables/events`, {
      requirements: [{ type: 'assert-ref-snapshot-id', ref: 'main', 'snapshot-id': null }],
      updates: [{ action: 'set-properties', updates: { 'tributary.step': 'lost' } }],
    });
    expect(lostRace.status).toBe(409);
    expect(lostRace.json!.error.type).toBe('CommitFailedException');

    // Multi-table commit: 204 without a body; the change is there afterwards.
    const tx = await rest(
      'POST',
      '/v1/transactions/commit',
      JSON.stringify({
        'table-changes': [
          {
            identifier: { namespace: [ns], name: 'events' },
            requirements: [{ type: 'assert-ref-snapshot-id', ref: 'main', 'snapshot-id': '@SNAPSHOT_ID@' }],
            updates: [{ action: 'set-properties', updates: { 'tributary.step': 'tx' } }],
          },
        ],
      }).replace('"@SNAPSHOT_ID@"', py.snapshot_id),
    );
    expect(tx.status, tx.text).toBe(204);
    const afterTx = await rest<LoadTableResult>('GET', `/v1/namespaces/${ns}/tables/events`);
    expect(afterTx.json!.metadata.properties['tributary.step']).toBe('tx');

    // Drop: 204, then 404 for load and for a second drop.
    expect((await rest('DELETE', `/v1/namespaces/${ns}/tables/events?purgeRequested=true`)).status).toBe(204);
    expect((await rest('GET', `/v1/namespaces/${ns}/tables/events`)).status).toBe(404);
    expect((await rest('DELETE', `/v1/namespaces/${ns}/tables/events`)).status).toBe(404);
  });

  it('keeps a table on the S3 service when the create request names an s3:// location', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    bucketCreated = true;
    const ensured = await rest('POST', '/v1/namespaces', { namespace: [ns] });
    expect([200, 409]).toContain(ensured.status);

    const location = `s3://${bucket}/${ns}/on_s3`;
    const created = await rest<LoadTableResult>('POST', `/v1/namespaces/${ns}/tables`, createTableRequest('on_s3', location));
    expect(created.status, created.text).toBe(200);
    tablesToDrop.push('on_s3');
    expect(created.json!.metadata.location).toBe(location);
    const metadataLocation = created.json!['metadata-location'];
    expect(metadataLocation).toMatch(new RegExp(`^${location}/metadata/00000-[0-9a-f-]+\\.metadata\\.json$`));
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: metadataLocation.slice(`s3://${bucket}/`.length) }));
    expect(head.ContentLength).toBeGreaterThan(0);

    // The client brings its own S3 settings (the server hands none out in the load-table `config`).
    expect(created.json!.config ?? {}).toEqual({});
    const py = await pyAppend(`${ns}.on_s3`, {
      uri: services.icebergRestUrl,
      's3.endpoint': services.s3Endpoint,
      's3.access-key-id': services.s3Credentials.accessKeyId,
      's3.secret-access-key': services.s3Credentials.secretAccessKey,
      's3.region': services.s3Region,
    });
    expect(py.rows).toEqual(expectedRows);
    expect(py.metadata_location.startsWith(`${location}/metadata/00001-`)).toBe(true);
    for (const file of py.data_files) expect(file.startsWith(`${location}/data/`)).toBe(true);
  });
});
