/**
 * Real change data capture through the Debezium decoder: a mixed SQL workload on PostgreSQL -> the Debezium
 * PostgreSQL connector in the Kafka Connect worker of `scripts/services.sh up debezium` -> Kafka, read back with
 * kafkajs as raw bytes -> `decodeDebezium` -> `changesToIntents`. The test asserts that exactly the changes applied come
 * out, values and types included, and that replaying the intents gives the table's final state.
 *
 * It registers its own connector (unique name, slot, publication, topic prefix) over Connect's REST API and removes
 * everything it made afterwards. It fails, never skips, when a service is down.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import type { Admin, Consumer, KafkaMessage } from 'kafkajs';
import pg from 'pg';
import { z } from 'zod';
import type { Chunk, StreamRecord } from '@tributary/core';
import { dataOf, runOperator } from '@tributary/core/testing';
import { changesToIntents, decodeDebezium } from '@tributary/connectors/debezium';
import type { ChangeEvent, RowChangeEvent } from '@tributary/connectors/debezium';
import { services } from '../../../../test/support/services.js';
import { connect, postgresConnectorConfig, until } from '../../../../test/support/kafka-connect.js';

const id = randomBytes(4).toString('hex');
const prefix = `it_dbz_${id}`;
const slot = `it_dbz_${id}`;
const publication = `it_dbz_${id}_pub`;
const connector = `it-dbz-${id}`;
const group = `it-dbz-group-${id}`;
const orders = `dbz_orders_${id}`;
const docs = `dbz_docs_${id}`;
const ordersTopic = `${prefix}.public.${orders}`;
const docsTopic = `${prefix}.public.${docs}`;
const transactionTopic = `${prefix}.transaction`;
const topics = [ordersTopic, docsTopic, transactionTopic];

const Order = z.object({
  tenant: z.string(),
  order_id: z.number().int(),
  amount: z.string(),
  placed_at: z.string(),
  due: z.string().nullable(),
  attrs: z.unknown(),
  ref: z.uuid(),
});
type Order = z.output<typeof Order>;
const Doc = z.object({ id: z.number().int(), title: z.string(), body: z.string() });

interface ConnectorStatus {
  connector: { state: string };
  tasks: { id: number; state: string; trace?: string }[];
}

const toRecord = (topic: string, message: KafkaMessage): StreamRecord<unknown> => ({
  key: message.key?.toString('utf8') ?? null,
  value: message.value, // raw bytes: the decoder keeps int64s beyond 2^53 exact
  eventTime: Number(message.timestamp),
  position: { partition: `${topic}:0`, offset: Number(message.offset) },
  headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([name, value]) => [name, String(value)])),
});

const changesOf = (chunks: Chunk<unknown>[]) => dataOf(chunks as Chunk<ChangeEvent<Record<string, unknown>>>[]).map((record) => record.value);
const deadLettersOf = (chunks: Chunk<unknown>[]) => chunks.flatMap((chunk) => (chunk.kind === 'dead-letter' ? chunk.letters : []));

describe('Debezium decoder on real PostgreSQL change events', () => {
  const db = new pg.Client({ ...services.postgres });
  const kafka = new Kafka({
    clientId: `it-dbz-${id}`,
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
    if (registered) await connect('DELETE', `/connectors/${connector}`).catch(() => undefined);
    // The slot can only be dropped once the connector's WAL sender has let go of it.
    await until('replication slot to be released', 20_000, async () => {
      const { rows } = await db.query<{ active: boolean }>('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [slot]);
      return rows.length === 0 || !rows[0]!.active ? true : undefined;
    }).catch(() => undefined);
    await db.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1', [slot]).catch(() => undefined);
    await db.query(`DROP PUBLICATION IF EXISTS ${publication}`).catch(() => undefined);
    await db.query(`DROP TABLE IF EXISTS public.${orders}, public.${docs}`).catch(() => undefined);
    await db.end().catch(() => undefined);
    await admin?.deleteTopics({ topics, timeout: 5_000 }).catch(() => undefined);
    await admin?.deleteGroups([group]).catch(() => undefined);
    await admin?.disconnect().catch(() => undefined);
  });

  it('decodes a mixed workload into exactly the changes applied, values and types included', async () => {
    // Connecting inside the test (not in a hook): a service that is down fails this test instead of skipping it.
    await db.connect();
    admin = kafka.admin();
    await admin.connect();

    await db.query(`CREATE TABLE public.${orders} (
      tenant text NOT NULL, order_id integer NOT NULL, amount numeric(12,2) NOT NULL, placed_at timestamptz NOT NULL,
      due timestamp, attrs jsonb, ref uuid NOT NULL, PRIMARY KEY (tenant, order_id))`);
    await db.query(`ALTER TABLE public.${orders} REPLICA IDENTITY FULL`);
    // REPLICA IDENTITY DEFAULT: an update that leaves the TOASTed body alone does not log it.
    await db.query(`CREATE TABLE public.${docs} (id integer PRIMARY KEY, title text NOT NULL, body text NOT NULL)`);

    await admin.createTopics({ topics: topics.map((topic) => ({ topic, numPartitions: 1, replicationFactor: 1 })), waitForLeaders: true });
    consumer = kafka.consumer({ groupId: group, maxWaitTimeInMs: 200, allowAutoTopicCreation: false });
    await consumer.connect();
    await consumer.subscribe({ topics, fromBeginning: true });
    const received = new Map<string, KafkaMessage[]>(topics.map((topic) => [topic, []]));
    await consumer.run({
      eachMessage: ({ topic, message }) => {
        received.get(topic)!.push(message);
        return Promise.resolve();
      },
    });

    const created = await connect('POST', '/connectors', {
      name: connector,
      config: {
        ...postgresConnectorConfig({ prefix, slot, publication, tables: [`public.${orders}`, `public.${docs}`] }),
        'decimal.handling.mode': 'precise',
        'provide.transaction.metadata': 'true',
        // Debezium skips truncates unless told otherwise.
        'skipped.operations': 'none',
      },
    });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    registered = true;
    await until('connector task RUNNING with an active replication slot', 30_000, async () => {
      const status = await connect<ConnectorStatus>('GET', `/connectors/${connector}/status`);
      const task = status.json?.tasks?.[0];
      if (task?.state === 'FAILED') throw new Error(`connector task failed: ${task.trace}`);
      if (status.json?.connector?.state !== 'RUNNING' || task?.state !== 'RUNNING') return undefined;
      const { rows } = await db.query<{ active: boolean }>('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [slot]);
      return rows[0]?.active ? true : undefined;
    });

    // The workload: 7 transactions.
    const [ref1, ref2, ref3] = [randomUUID(), randomUUID(), randomUUID()];
    const body = randomBytes(12_000).toString('base64'); // incompressible, so PostgreSQL moves it out of line (TOAST)
    await db.query('BEGIN');
    await db.query(
      `INSERT INTO public.${orders} VALUES
        ('t1', 1, 1234.50, '2024-03-01 12:34:56.123456+02', '2024-03-31 23:59:59.999999', '{"items":[{"sku":"A","qty":2}],"big":12345678901234567890}', $1),
        ('t1', 2, -0.05, '1969-12-31 23:59:59.999999+00', NULL, NULL, $2)`,
      [ref1, ref2],
    );
    await db.query(`INSERT INTO public.${orders} VALUES ('t2', 1, 9999999999.99, '2024-03-01 00:00:00+00', '2024-01-01 00:00:00', '[]', $1)`, [ref3]);
    await db.query('COMMIT');
    await db.query(`INSERT INTO public.${docs} VALUES (1, 'draft', $1)`, [body]);
    await db.query(`UPDATE public.${docs} SET title = 'final' WHERE id = 1`);
    await db.query(`UPDATE public.${orders} SET amount = 10.10, attrs = '{"note":"paid"}' WHERE tenant = 't1' AND order_id = 2`);
    await db.query(`DELETE FROM public.${orders} WHERE tenant = 't2' AND order_id = 1`);
    await db.query(`UPDATE public.${orders} SET order_id = 3 WHERE tenant = 't1' AND order_id = 1`); // primary key change
    await db.query(`TRUNCATE public.${docs}`);

    // orders: 3 c, u, d + tombstone, (pk change) d + tombstone + c; docs: c, u, t; transaction topic: BEGIN/END x 7.
    const expected = { [ordersTopic]: 9, [docsTopic]: 3, [transactionTopic]: 14 };
    await until(`messages ${JSON.stringify(expected)}`, 30_000, () =>
      Promise.resolve(topics.every((topic) => received.get(topic)!.length >= expected[topic]!) ? true : undefined),
    );
    await new Promise((resolve) => setTimeout(resolve, 300)); // nothing unexpected trails behind
    for (const topic of topics) expect(received.get(topic)!.length, topic).toBe(expected[topic]);

    // ---- orders: decode with typed, checked rows (REPLICA IDENTITY FULL: before images are complete too).
    const ordersRecords = received.get(ordersTopic)!.map((message) => toRecord(ordersTopic, message));
    const ordersChunks = await runOperator(decodeDebezium({ name: 'decode-orders', row: Order, beforeRow: Order }), [{ kind: 'data', records: ordersRecords }]);
    expect(deadLettersOf(ordersChunks)).toEqual([]);
    const orderEvents = changesOf(ordersChunks);
    expect(orderEvents.map((event) => (event.kind === 'change' ? event.op : event.kind))).toEqual(['c', 'c', 'c', 'u', 'd', 'tombstone', 'd', 'tombstone', 'c']);
    const [c1, c2, c3, u, d, tombstone, pkDelete, , pkCreate] = orderEvents as RowChangeEvent<Order, Order>[];

    const order1: Order = {
      tenant: 't1',
      order_id: 1,
      amount: '1234.50',
      placed_at: '2024-03-01T10:34:56.123456Z',
      due: '2024-03-31T23:59:59.999999Z',
      attrs: { items: [{ sku: 'A', qty: 2 }], big: 12345678901234567890n },
      ref: ref1,
    };
    const order2: Order = { tenant: 't1', order_id: 2, amount: '-0.05', placed_at: '1969-12-31T23:59:59.999999Z', due: null, attrs: null, ref: ref2 };
    const order3: Order = { tenant: 't2', order_id: 1, amount: '9999999999.99', placed_at: '2024-03-01T00:00:00.000000Z', due: '2024-01-01T00:00:00.000000Z', attrs: [], ref: ref3 };
    expect(c1).toMatchObject({ op: 'c', before: null, after: order1, key: { tenant: 't1', order_id: 1 }, unavailable: [] });
    expect(typeof (c1!.after!.attrs as { big: unknown }).big).toBe('bigint');
    expect(c2).toMatchObject({ op: 'c', after: order2, key: { tenant: 't1', order_id: 2 } });
    expect(c3).toMatchObject({ op: 'c', after: order3, key: { tenant: 't2', order_id: 1 } });
    const order2Paid = { ...order2, amount: '10.10', attrs: { note: 'paid' } };
    expect(u).toMatchObject({ op: 'u', before: order2, after: order2Paid });
    expect(d).toMatchObject({ op: 'd', before: order3, after: null, key: { tenant: 't2', order_id: 1 } });
    expect(tombstone).toEqual({ kind: 'tombstone', key: { tenant: 't2', order_id: 1 } });
    expect(pkDelete).toMatchObject({ op: 'd', before: order1, key: { tenant: 't1', order_id: 1 } });
    expect(pkCreate).toMatchObject({ op: 'c', after: { ...order1, order_id: 3 }, key: { tenant: 't1', order_id: 3 } });
    expect(c1!.columns?.find((column) => column.name === 'amount')).toMatchObject({ logicalType: 'org.apache.kafka.connect.data.Decimal', parameters: { scale: '2' } });

    // The multi-row transaction: one id, orders 1..3; the source block of a real PostgreSQL event.
    expect([c1, c2, c3].map((event) => event!.transaction?.totalOrder)).toEqual([1, 2, 3]);
    // Debezium's PostgreSQL transaction id is "<txId>:<lsn>" with a per-event LSN: the txId identifies the transaction.
    const txId = c1!.source.txId;
    expect(typeof txId).toBe('number');
    for (const event of [c1, c2, c3]) {
      expect(event!.source.txId).toBe(txId);
      expect(event!.transaction!.id.startsWith(`${txId}:`)).toBe(true);
    }
    expect(u!.source.txId).not.toBe(txId);
    for (const event of [c1, c2, c3, u, d, pkDelete, pkCreate]) {
      expect(event!.source).toMatchObject({ connector: 'postgresql', name: prefix, db: 'tributary', schema: 'public', table: orders, snapshot: false });
      expect(event!.source.lsn).toBeGreaterThan(0);
      expect(Math.abs(Date.now() - event!.source.tsMs)).toBeLessThan(120_000);
    }
    expect(c1!.source.lsn).toBeLessThan(u!.source.lsn!);
    // Record keys become canonical JSON of the primary key, whatever the key converter wrote.
    expect(dataOf(ordersChunks).map((record) => record.key)).toEqual([
      '{"order_id":1,"tenant":"t1"}',
      '{"order_id":2,"tenant":"t1"}',
      '{"order_id":1,"tenant":"t2"}',
      '{"order_id":2,"tenant":"t1"}',
      '{"order_id":1,"tenant":"t2"}',
      '{"order_id":1,"tenant":"t2"}',
      '{"order_id":1,"tenant":"t1"}',
      '{"order_id":1,"tenant":"t1"}',
      '{"order_id":3,"tenant":"t1"}',
    ]);

    // ---- docs: the TOAST placeholder becomes an explicit marker; truncate.
    const docsRecords = received.get(docsTopic)!.map((message) => toRecord(docsTopic, message));
    const docsChunks = await runOperator(decodeDebezium({ row: Doc }), [{ kind: 'data', records: docsRecords }]);
    expect(deadLettersOf(docsChunks)).toEqual([]);
    const [docCreate, docUpdate, docTruncate] = changesOf(docsChunks);
    expect(docCreate).toMatchObject({ kind: 'change', op: 'c', after: { id: 1, title: 'draft', body }, unavailable: [] });
    expect(docUpdate).toMatchObject({ kind: 'change', op: 'u', before: null, after: { id: 1, title: 'final' }, unavailable: ['body'] });
    expect(Object.keys((docUpdate as RowChangeEvent).after!)).toEqual(['id', 'title']);
    expect(docTruncate).toMatchObject({ kind: 'truncate', op: 't', source: { table: docs } });

    // ---- transaction boundaries: one BEGIN and one END per transaction, END counting the events.
    const txRecords = received.get(transactionTopic)!.map((message) => toRecord(transactionTopic, message));
    const txEvents = changesOf(await runOperator(decodeDebezium({ kinds: ['transaction'] }), [{ kind: 'data', records: txRecords }]));
    expect(txEvents.map((event) => (event.kind === 'transaction' ? event.status : event.kind))).toEqual(Array.from({ length: 7 }, () => ['BEGIN', 'END']).flat());
    const firstEnd = txEvents[1]!;
    expect(firstEnd).toMatchObject({ kind: 'transaction', status: 'END', id: expect.stringMatching(new RegExp(`^${txId}:`)), eventCount: 3, dataCollections: [{ dataCollection: `public.${orders}`, eventCount: 3 }] });

    // ---- intents: replaying them gives the table's final state.
    const intentChunks = await runOperator(changesToIntents<Order, Order>({ key: ['tenant', 'order_id'] }), dataOf(ordersChunks as Chunk<ChangeEvent<Order, Order>>[]).map((record) => ({ kind: 'data' as const, records: [record] })));
    const intents = dataOf(intentChunks).map((record) => record.value);
    expect(intents.map((intent) => `${intent.kind} ${intent.kind === 'truncate' ? '' : intent.key}`)).toEqual([
      'upsert {"order_id":1,"tenant":"t1"}',
      'upsert {"order_id":2,"tenant":"t1"}',
      'upsert {"order_id":1,"tenant":"t2"}',
      'upsert {"order_id":2,"tenant":"t1"}',
      'delete {"order_id":1,"tenant":"t2"}',
      'delete {"order_id":1,"tenant":"t1"}',
      'upsert {"order_id":3,"tenant":"t1"}',
    ]);
    const state = new Map<string, Order>();
    for (const intent of intents) {
      if (intent.kind === 'upsert') state.set(intent.key, { ...state.get(intent.key), ...intent.row });
      else if (intent.kind === 'delete') state.delete(intent.key);
    }
    const { rows } = await db.query<{ tenant: string; order_id: number; amount: string }>(`SELECT tenant, order_id, amount::text FROM public.${orders} ORDER BY 1, 2`);
    expect([...state.values()].map((row) => ({ tenant: row.tenant, order_id: row.order_id, amount: row.amount })).sort((a, b) => a.order_id - b.order_id)).toEqual(rows);
    expect(state.get('{"order_id":3,"tenant":"t1"}')).toEqual({ ...order1, order_id: 3 });
    expect(state.get('{"order_id":2,"tenant":"t1"}')).toEqual(order2Paid);
  });
});
