/**
 * Smoke test of real change data capture: PostgreSQL (logical replication, pgoutput) -> Debezium PostgreSQL connector in
 * the Kafka Connect worker of `scripts/services.sh up debezium` -> Kafka, read back with kafkajs.
 * The test registers its own connector (unique name, slot, publication, topic prefix) over Connect's REST API and removes
 * everything it made afterwards. It fails, never skips, when a service is down.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import type { Admin, Consumer } from 'kafkajs';
import pg from 'pg';
import { services } from '../support/services.js';
import { connect, postgresConnectorConfig, until as untilEvery } from '../support/kafka-connect.js';

const until: typeof untilEvery = (what, timeoutMs, probe) => untilEvery(what, timeoutMs, probe, 200);
const id = randomBytes(4).toString('hex');
const table = `smoke_dbz_${id}`;
const prefix = `smoke_dbz_${id}`; // topic.prefix, also the logical server name in `source.name`
const slot = `smoke_dbz_${id}`;
const publication = `smoke_dbz_${id}_pub`;
const connector = `smoke-dbz-${id}`;
const topic = `${prefix}.public.${table}`;

interface ConnectJson<T> {
  schema: { type: string; name?: string; fields?: { field: string }[] };
  payload: T;
}
interface Row {
  id: number;
  name: string;
  qty: number;
}
interface Envelope {
  op: 'c' | 'u' | 'd' | 'r' | 't';
  before: Row | null;
  after: Row | null;
  ts_ms: number;
  source: {
    version: string;
    connector: string;
    name: string;
    ts_ms: number;
    snapshot: string;
    db: string;
    schema: string;
    table: string;
    txId: number;
    lsn: number;
  };
}
interface ConnectorStatus {
  connector: { state: string };
  tasks: { id: number; state: string; trace?: string }[];
}
interface Received {
  key: ConnectJson<{ id: number }>;
  value: ConnectJson<Envelope> | null;
  offset: string;
}

describe('debezium service (Postgres -> Kafka Connect -> Kafka)', () => {
  const db = new pg.Client({ ...services.postgres });
  const kafka = new Kafka({
    clientId: `smoke-dbz-${id}`,
    brokers: [...services.kafkaBrokers],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3_000,
    retry: { retries: 2, initialRetryTime: 200 },
  });
  let admin: Admin | undefined;
  let consumer: Consumer | undefined;
  let registered = false;

  afterAll(async () => {
    await consumer?.disconnect().catch(() => undefined);
    if (registered) {
      await connect('DELETE', `/connectors/${connector}`).catch(() => undefined);
    }
    // The slot can only be dropped once the connector's WAL sender has let go of it.
    await until('replication slot to be released', 20_000, async () => {
      const { rows } = await db.query<{ active: boolean }>('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [slot]);
      return rows.length === 0 || !rows[0]!.active ? true : undefined;
    }).catch(() => undefined);
    await db
      .query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1', [slot])
      .catch(() => undefined);
    await db.query(`DROP PUBLICATION IF EXISTS ${publication}`).catch(() => undefined);
    await db.query(`DROP TABLE IF EXISTS public.${table}`).catch(() => undefined);
    await db.end().catch(() => undefined);
    await admin?.deleteTopics({ topics: [topic], timeout: 5_000 }).catch(() => undefined);
    await admin?.deleteGroups([`smoke-dbz-group-${id}`]).catch(() => undefined);
    await admin?.disconnect().catch(() => undefined);
  });

  it('streams INSERT, UPDATE and DELETE as Debezium envelopes c, u, d (+ tombstone)', async () => {
    // Connecting inside the test (not in a hook): a service that is down fails this test instead of skipping it.
    await db.connect();
    admin = kafka.admin();
    await admin.connect();
    // The Connect worker is up and has the Debezium plugin.
    const plugins = await connect<{ class: string; type: string; version: string }[]>('GET', '/connector-plugins');
    expect(plugins.status).toBe(200);
    expect(plugins.json!.map((p) => p.class)).toContain('io.debezium.connector.postgresql.PostgresConnector');

    await db.query(`CREATE TABLE public.${table} (id integer PRIMARY KEY, name text NOT NULL, qty integer NOT NULL)`);
    await db.query(`ALTER TABLE public.${table} REPLICA IDENTITY FULL`);

    // Topic first (one partition: one total order), then a consumer group reading it from the beginning.
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
    consumer = kafka.consumer({ groupId: `smoke-dbz-group-${id}`, maxWaitTimeInMs: 500, allowAutoTopicCreation: false });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const received: Received[] = [];
    await consumer.run({
      eachMessage: ({ message }) => {
        received.push({
          key: JSON.parse(message.key!.toString()),
          value: message.value === null ? null : JSON.parse(message.value.toString()),
          offset: message.offset,
        });
        return Promise.resolve();
      },
    });

    const created = await connect('POST', '/connectors', {
      name: connector,
      config: {
        // The table starts empty and we want c/u/d, not snapshot reads (op r): stream from the slot's creation on.
        ...postgresConnectorConfig({ prefix, slot, publication, tables: [`public.${table}`] }),
      },
    });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    registered = true;

    // Streaming has started once the task runs and holds the replication slot.
    await until('connector task RUNNING with an active replication slot', 30_000, async () => {
      const status = await connect<ConnectorStatus>('GET', `/connectors/${connector}/status`);
      const task = status.json?.tasks?.[0];
      if (task?.state === 'FAILED') throw new Error(`connector task failed: ${task.trace}`);
      if (status.json?.connector?.state !== 'RUNNING' || task?.state !== 'RUNNING') return undefined;
      const { rows } = await db.query<{ active: boolean }>('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [slot]);
      return rows[0]?.active ? true : undefined;
    });

    // Three transactions.
    await db.query(`INSERT INTO public.${table} (id, name, qty) VALUES (1, 'alpha', 10)`);
    await db.query(`UPDATE public.${table} SET name = 'beta', qty = 11 WHERE id = 1`);
    await db.query(`DELETE FROM public.${table} WHERE id = 1`);

    await until('4 messages (c, u, d, tombstone)', 30_000, () => Promise.resolve(received.length >= 4 ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 300)); // nothing unexpected trails behind
    expect(received.map((m) => m.value?.payload.op ?? 'tombstone')).toEqual(['c', 'u', 'd', 'tombstone']);
    expect(received.map((m) => m.offset)).toEqual(['0', '1', '2', '3']);

    // Keys: the primary key, as a Connect JSON struct.
    for (const m of received) {
      expect(m.key.payload).toEqual({ id: 1 });
      expect(m.key.schema.name).toBe(`${prefix}.public.${table}.Key`);
    }

    const [c, u, d] = received.map((m) => m.value!);
    for (const v of [c!, u!, d!]) {
      expect(v.schema.type).toBe('struct');
      expect(v.schema.name).toBe(`${prefix}.public.${table}.Envelope`);
      expect(v.schema.fields!.map((f) => f.field)).toEqual(expect.arrayContaining(['before', 'after', 'source', 'op', 'ts_ms']));
      const { source, ts_ms } = v.payload;
      expect(source).toMatchObject({ connector: 'postgresql', name: prefix, db: 'tributary', schema: 'public', table, snapshot: 'false' });
      expect(source.version).toMatch(/^\d+\.\d+\.\d+\./);
      expect(typeof source.lsn).toBe('number');
      expect(source.lsn).toBeGreaterThan(0);
      expect(typeof source.txId).toBe('number');
      expect(typeof source.ts_ms).toBe('number');
      expect(typeof ts_ms).toBe('number');
      expect(ts_ms).toBeGreaterThanOrEqual(source.ts_ms);
      expect(Math.abs(Date.now() - ts_ms)).toBeLessThan(120_000);
    }
    expect(c!.payload.before).toBeNull();
    expect(c!.payload.after).toEqual({ id: 1, name: 'alpha', qty: 10 });
    // REPLICA IDENTITY FULL: the old row is complete in updates and deletes.
    expect(u!.payload.before).toEqual({ id: 1, name: 'alpha', qty: 10 });
    expect(u!.payload.after).toEqual({ id: 1, name: 'beta', qty: 11 });
    expect(d!.payload.before).toEqual({ id: 1, name: 'beta', qty: 11 });
    expect(d!.payload.after).toBeNull();
    // Three transactions, in commit order.
    expect(c!.payload.source.lsn).toBeLessThan(u!.payload.source.lsn);
    expect(u!.payload.source.lsn).toBeLessThan(d!.payload.source.lsn);
    expect(new Set([c, u, d].map((v) => v!.payload.source.txId)).size).toBe(3);
  });
});
