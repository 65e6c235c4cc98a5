/**
 * The CDC vertical slice: a SQL workload on PostgreSQL -> the Debezium PostgreSQL connector (Kafka Connect) -> Kafka
 * -> a Tributary topology (kafkaSource -> decodeDebezium -> changesToIntents -> upsert/delete row changes ->
 * icebergSink in upsert mode) -> an Iceberg table on the S3-compatible server (storage catalog over s3ObjectStore).
 * Afterwards pyiceberg's read of the table (through S3) must equal `SELECT *` of the Postgres table, row for row.
 *
 * The workload runs in phases; after each, the topology catches up and commits, so later updates and deletes hit rows
 * of earlier snapshots (position deletes across commits), and some rows change several times within one commit.
 *
 * It registers its own connector (unique name, slot, publication, topic prefix), bucket, topics and group, removes
 * them afterwards, and fails (never skips) when a service is down.
 */
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { createRuntime, defineTopology, map, toSink } from '@tributary/core';
import type { Runtime } from '@tributary/core';
import { changesToIntents, decodeDebezium } from '@tributary/connectors/debezium';
import type { ChangeIntent } from '@tributary/connectors/debezium';
import { kafkaSource } from '@tributary/connectors/kafka';
import { s3ObjectStore } from '@tributary/connectors/s3';
import { Kafka, logLevel } from 'kafkajs';
import type { Admin } from 'kafkajs';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { storageCatalog } from '../../src/catalog/storage-catalog.js';
import type { IcebergSchema, Row } from '../../src/schema/types.js';
import { icebergSink } from '../../src/sink/iceberg-sink.js';
import type { RowChange } from '../../src/sink/iceberg-sink.js';
import { Table } from '../../src/table/table.js';
import { services } from '../../../../test/support/services.js';
import { connect, postgresConnectorConfig, until as untilEvery } from '../../../../test/support/kafka-connect.js';
import { pyicebergRead, pyS3Properties } from '../support/pyiceberg.js';

const until: typeof untilEvery = (what, timeoutMs, probe) => untilEvery(what, timeoutMs, probe, 50);
const id = randomBytes(4).toString('hex');
const prefix = `it_lake_${id}`;
const slot = `it_lake_${id}`;
const publication = `it_lake_${id}_pub`;
const connector = `it-lake-${id}`;
const group = `it-lake-group-${id}`;
const pgTable = `lake_items_${id}`;
const topic = `${prefix}.public.${pgTable}`;
const bucket = `tributary-cdc-${id}`;
const TABLE = 'silver.items';

/** The silver table: the Postgres columns with their Iceberg types. */
const schema: IcebergSchema = {
  type: 'struct',
  'schema-id': 0,
  'identifier-field-ids': [1],
  fields: [
    { id: 1, name: 'id', required: true, type: 'int' },
    { id: 2, name: 'big', required: false, type: 'long' },
    { id: 3, name: 'name', required: false, type: 'string' },
    { id: 4, name: 'amount', required: false, type: 'decimal(12, 2)' },
    { id: 5, name: 'updated_at', required: false, type: 'timestamptz' },
    { id: 6, name: 'active', required: false, type: 'boolean' },
  ],
};
const columns = schema.fields.map((field) => field.name);

const s3 = new S3Client({ endpoint: services.s3Endpoint, region: services.s3Region, credentials: services.s3Credentials, forcePathStyle: true, maxAttempts: 2 });

async function emptyAndDeleteBucket(): Promise<void> {
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    const keys = (page.Contents ?? []).flatMap((object) => (object.Key === undefined ? [] : [{ Key: object.Key }]));
    if (keys.length > 0) await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
    token = page.NextContinuationToken;
  } while (token !== undefined);
  await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
}

/** `2024-03-01 10:34:56.123456+00` (PostgreSQL's text form in a UTC session) as epoch microseconds. */
function pgTimestamptzMicros(text: string): string {
  const match = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?\+00$/.exec(text);
  if (match === null) throw new Error(`unexpected timestamptz text ${text} (is the session in UTC?)`);
  const [, y, mo, d, h, mi, s, fraction] = match;
  const date = new Date(0);
  // setUTCFullYear, not Date.UTC: Date.UTC maps years 0-99 to 1900-1999.
  date.setUTCFullYear(Number(y), Number(mo) - 1, Number(d));
  date.setUTCHours(Number(h), Number(mi), Number(s), 0);
  const seconds = BigInt(date.getTime()) / 1000n;
  return String(seconds * 1_000_000n + BigInt((fraction ?? '').padEnd(6, '0')));
}

/**
 * `SELECT *` of the Postgres table with every value as PostgreSQL's own text, normalized to pyiceberg's canonical
 * form (see pyiceberg_read.py): int as number, bigint as string, numeric as string with its scale, timestamptz as
 * epoch microseconds, boolean as boolean.
 */
async function postgresRows(db: pg.Client): Promise<Record<string, unknown>[]> {
  const raw = (value: string) => value;
  type Text = string | null;
  const result = await db.query<{ id: string; big: Text; name: Text; amount: Text; updated_at: Text; active: Text }>({
    text: `SELECT * FROM public.${pgTable} ORDER BY id`,
    types: { getTypeParser: () => raw },
  });
  expect(result.fields.map((field) => field.name)).toEqual(columns);
  return result.rows.map((row) => ({
    id: Number(row.id),
    big: row.big,
    name: row.name,
    amount: row.amount,
    updated_at: row.updated_at === null ? null : pgTimestamptzMicros(row.updated_at),
    active: row.active === null ? null : row.active === 't',
  }));
}

/** A Debezium row image as a silver row (Debezium's values are already what the Iceberg writer takes). */
function silverRow(image: Record<string, unknown>): Row {
  return { id: image.id, big: image.big, name: image.name, amount: image.amount, updated_at: image.updated_at, active: image.active };
}

function rowChange(intent: ChangeIntent): RowChange {
  if (intent.kind === 'upsert') {
    // An upsert replaces the whole row: a column Postgres did not send (unchanged TOAST) would be lost.
    if (intent.unavailable.length > 0) throw new Error(`columns ${intent.unavailable.join(', ')} unavailable for ${intent.key}`);
    return { op: 'upsert', row: silverRow(intent.row) };
  }
  if (intent.kind === 'delete') return { op: 'delete', row: JSON.parse(intent.key) as Row };
  throw new Error(`unexpected ${intent.kind} intent`);
}

describe('CDC vertical slice: PostgreSQL -> Debezium -> Kafka -> Tributary -> Iceberg on S3', () => {
  const db = new pg.Client({ ...services.postgres });
  const kafka = new Kafka({ clientId: `it-lake-${id}`, brokers: [...services.kafkaBrokers], logLevel: logLevel.NOTHING, connectionTimeout: 3_000, retry: { retries: 2 } });
  let admin: Admin | undefined;
  let runtime: Runtime | undefined;
  let registered = false;
  let bucketCreated = false;

  afterAll(async () => {
    await runtime?.abort().catch(() => undefined);
    if (registered) await connect('DELETE', `/connectors/${connector}`).catch(() => undefined);
    // The slot can only be dropped once the connector's WAL sender has let go of it.
    await until(() => 'the replication slot to be released', 20_000, async () => {
      const { rows } = await db.query<{ active: boolean }>('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [slot]);
      return rows.length === 0 || !rows[0]!.active ? true : undefined;
    }).catch(() => undefined);
    await db.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1', [slot]).catch(() => undefined);
    await db.query(`DROP PUBLICATION IF EXISTS ${publication}`).catch(() => undefined);
    await db.query(`DROP TABLE IF EXISTS public.${pgTable}`).catch(() => undefined);
    await db.end().catch(() => undefined);
    await admin?.deleteTopics({ topics: [topic], timeout: 5_000 }).catch(() => undefined);
    await admin?.deleteGroups([group]).catch(() => undefined);
    await admin?.disconnect().catch(() => undefined);
    if (bucketCreated) await emptyAndDeleteBucket().catch(() => undefined);
    s3.destroy();
  });

  it("pyiceberg's read of the silver table equals SELECT * of the Postgres table", async () => {
    const started = Date.now();
    // Connecting inside the test (not in a hook): a service that is down fails the test instead of skipping it.
    await db.connect();
    await db.query("SET TIME ZONE 'UTC'");
    admin = kafka.admin();
    await admin.connect();
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    bucketCreated = true;

    await db.query(`CREATE TABLE public.${pgTable} (
      id integer PRIMARY KEY, big bigint, name text, amount numeric(12,2), updated_at timestamptz, active boolean)`);
    // Two partitions: Debezium keys messages by primary key, so each row's changes stay in order within one of them.
    await admin.createTopics({ topics: [{ topic, numPartitions: 2, replicationFactor: 1 }], waitForLeaders: true });

    const created = await connect('POST', '/connectors', {
      name: connector,
      config: {
        ...postgresConnectorConfig({ prefix, slot, publication, tables: [`public.${pgTable}`] }),
        'decimal.handling.mode': 'precise',
      },
    });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    registered = true;
    await until(() => 'connector task RUNNING with an active replication slot', 30_000, async () => {
      const status = await connect<{ connector: { state: string }; tasks: { state: string; trace?: string }[] }>('GET', `/connectors/${connector}/status`);
      const task = status.json?.tasks?.[0];
      if (task?.state === 'FAILED') throw new Error(`connector task failed: ${task.trace}`);
      if (status.json?.connector?.state !== 'RUNNING' || task?.state !== 'RUNNING') return undefined;
      const { rows } = await db.query<{ active: boolean }>('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [slot]);
      return rows[0]?.active ? true : undefined;
    });
    const connectorReady = Date.now();

    // ---- the topology, running while the workload runs.
    const catalog = storageCatalog({
      store: s3ObjectStore({ bucket, prefix: 'lake', endpoint: services.s3Endpoint, region: services.s3Region, forcePathStyle: true, credentials: services.s3Credentials }),
      name: 'cdc',
    });
    const source = kafkaSource<Buffer | null>({
      brokers: [...services.kafkaBrokers],
      topics: [topic],
      groupId: group,
      // Raw bytes: the decoder parses them itself and keeps int64 beyond 2^53 exact.
      deserializer: 'bytes',
      sessionTimeoutMs: 10_000,
      heartbeatIntervalMs: 500,
      maxWaitTimeMs: 100,
      pollIntervalMs: 20,
    });
    runtime = createRuntime(
      defineTopology({
        name: `lake-cdc-${id}`,
        source,
        pipeline: (records) =>
          records.pipe(
            decodeDebezium({ name: 'decode', kinds: ['change'], onError: 'fail' }),
            changesToIntents({ name: 'intents', key: ['id'], onError: 'fail' }),
            map(rowChange, { name: 'to-row-change', onError: 'fail' }),
            toSink(icebergSink<RowChange>({ catalog, table: TABLE, create: { schema }, mode: 'upsert', toChange: (record) => record.value })),
          ),
      }),
      { checkpointIntervalMs: 60_000, maxBatch: 200 },
    );
    await runtime.start();
    const live = runtime;

    // ---- the workload, in phases. `messages` counts the Kafka messages Debezium must produce for it.
    let messages = 0;
    const run = async (sql: string, perRow: number, params: unknown[] = []): Promise<void> => {
      const result = await db.query(sql, params);
      messages += (result.rowCount ?? 0) * perRow;
    };
    const insert = (sql: string, params?: unknown[]) => run(sql, 1, params); // c
    const update = (sql: string, params?: unknown[]) => run(sql, 1, params); // u
    const remove = (sql: string, params?: unknown[]) => run(sql, 2, params); // d + tombstone
    const changeKey = (sql: string, params?: unknown[]) => run(sql, 3, params); // d + tombstone + c
    /** Waits until Debezium produced every message so far and the topology consumed them, then checkpoints. */
    const catchUp = async (phase: string): Promise<void> => {
      const end = await until(() => `${messages} messages from Debezium after ${phase}`, 20_000, async () => {
        const offsets = await admin!.fetchTopicOffsets(topic);
        const total = offsets.reduce((sum, { high }) => sum + Number(high), 0);
        if (total > messages) throw new Error(`Debezium produced ${total} messages after ${phase}, expected ${messages}`);
        return total === messages ? Object.fromEntries(offsets.map(({ partition, high }) => [`${topic}:${partition}`, Number(high)])) : undefined;
      });
      await until(
        () => `the topology to consume ${JSON.stringify(end)} after ${phase} (polled ${JSON.stringify(live.status().polled)})`,
        20_000,
        () => {
          const status = live.status();
          return status.inFlight === 0 && Object.entries(end).every(([partition, offset]) => (status.polled[partition] ?? 0) >= offset) ? true : undefined;
        },
      );
      await live.checkpoint();
    };

    // Phase 1: inserts, in one transaction and one by one. Edge values: int64 beyond 2^53, negative and maximal
    // numerics, timestamps before 1970 and with microseconds, NULLs.
    await db.query('BEGIN');
    await insert(
      `INSERT INTO public.${pgTable}
       SELECT i, i * 1000000007::bigint, 'item ' || i, (i * 12.34)::numeric(12,2),
              timestamptz '2024-03-01 12:34:56.123456+02' + i * interval '1 hour 0.000001 second', i % 2 = 0
       FROM generate_series(1, 40) AS i`,
    );
    await insert(`INSERT INTO public.${pgTable} VALUES (41, 9007199254740993, 'beyond 2^53', -0.05, '1969-12-31 23:59:59.999999+00', NULL)`);
    await insert(`INSERT INTO public.${pgTable} VALUES (42, -9223372036854775808, '', 9999999999.99, '0001-01-01 00:00:00+00', true)`);
    await db.query('COMMIT');
    await insert(`INSERT INTO public.${pgTable} VALUES (43, NULL, NULL, NULL, NULL, NULL)`);
    await insert(`INSERT INTO public.${pgTable} VALUES (44, 9223372036854775807, 'Grüße, 世界 👋', 0.00, '2262-04-11 23:47:16.854775+00', false)`);
    await insert(`INSERT INTO public.${pgTable} VALUES (45, 0, 'five', 1.10, now(), true)`);
    await catchUp('phase 1');

    // Phase 2: updates of non-key columns (some rows twice in one transaction), deletes.
    await db.query('BEGIN');
    await update(`UPDATE public.${pgTable} SET amount = amount + 1, name = name || ' v2' WHERE id BETWEEN 1 AND 10`);
    await update(`UPDATE public.${pgTable} SET amount = amount * 2, updated_at = updated_at + interval '1 day' WHERE id BETWEEN 1 AND 5`);
    await remove(`DELETE FROM public.${pgTable} WHERE id BETWEEN 11 AND 13`);
    await db.query('COMMIT');
    await update(`UPDATE public.${pgTable} SET active = NOT active WHERE id % 3 = 0`);
    await update(`UPDATE public.${pgTable} SET big = NULL, name = NULL WHERE id = 41`);
    await catchUp('phase 2');

    // Phase 3: rows changed several times in one transaction, an insert deleted in the same transaction, a primary key
    // change, a re-insert of a deleted key, updates of rows written by phase 2.
    await db.query('BEGIN');
    await insert(`INSERT INTO public.${pgTable} SELECT i, i, 'late ' || i, i, now(), true FROM generate_series(46, 55) AS i`);
    for (let round = 1; round <= 4; round++) {
      await update(`UPDATE public.${pgTable} SET amount = amount + $1, active = NOT active WHERE id IN (2, 46, 50)`, [round]);
    }
    await remove(`DELETE FROM public.${pgTable} WHERE id = 47`);
    await changeKey(`UPDATE public.${pgTable} SET id = 100 WHERE id = 1`);
    await db.query('COMMIT');
    await insert(`INSERT INTO public.${pgTable} VALUES (11, 11, 'back again', 11.11, '2030-01-01 00:00:00+00', NULL)`);
    for (let round = 1; round <= 3; round++) await update(`UPDATE public.${pgTable} SET name = $1 WHERE id = 3`, [`third ${round}`]);
    await remove(`DELETE FROM public.${pgTable} WHERE id IN (14, 100, 44)`);
    await update(`UPDATE public.${pgTable} SET big = big + 1, updated_at = NULL WHERE id BETWEEN 20 AND 30`);
    await catchUp('phase 3');
    const workloadDone = Date.now();

    await runtime.stop();
    expect(runtime.status().state).toBe('stopped');
    expect(runtime.status().deadLetters).toBe(0);

    // ---- pyiceberg (through S3) against SELECT *.
    const table = await Table.load(catalog, TABLE);
    const read = await pyicebergRead(table.metadataLocation, { properties: pyS3Properties });
    expect(read.columns).toEqual(columns);
    const lake = [...read.rows].sort((a, b) => Number(a.id) - Number(b.id));
    const expected = await postgresRows(db);
    expect(expected.length).toBeGreaterThan(40);
    expect(lake).toEqual(expected);

    // The phases really went through several commits with position deletes across them.
    const snapshots = table.history();
    expect(snapshots.length).toBeGreaterThanOrEqual(3);
    expect(Number(table.currentSnapshot()!.summary['total-position-deletes'])).toBeGreaterThan(0);
    console.info(
      `[cdc] ${messages} change messages -> ${lake.length} rows in ${snapshots.length} snapshots; connector ready in ${connectorReady - started} ms, ` +
        `workload + catch-up ${workloadDone - connectorReady} ms, total ${Date.now() - started} ms`,
    );
  });
});
