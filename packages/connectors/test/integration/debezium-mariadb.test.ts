/**
 * Real change data capture from MariaDB through the Debezium decoder: Debian's MariaDB (`scripts/services.sh up
 * mariadb`, binlog in ROW format) -> the Debezium MariaDB connector in the Kafka Connect worker -> Kafka, read back with
 * kafkajs as raw bytes -> `decodeDebezium` -> `changesToIntents`.
 *
 * Needs the worker to carry the `io.debezium.connector.mariadb.MariaDbConnector` plugin (see
 * docs/decisions/0009-debezium-decoding.md). SQL goes through Debian's `mariadb` command-line client (no MySQL driver
 * is a dependency of the repository). It registers its own connector (unique name, server id, topic prefix, database)
 * and removes everything it made. It fails, never skips, when a service is down.
 */
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import type { Admin, Consumer, KafkaMessage } from 'kafkajs';
import type { Chunk, StreamRecord } from '@tributary/core';
import { dataOf, runOperator } from '@tributary/core/testing';
import { changesToIntents, decodeDebezium } from '@tributary/connectors/debezium';
import type { ChangeEvent, RowChangeEvent, SchemaChangeEvent, TransactionEvent } from '@tributary/connectors/debezium';
import { services } from '../../../../test/support/services.js';
import { connect, until } from '../../../../test/support/kafka-connect.js';

const mariadb = { host: '127.0.0.1', port: Number(process.env.TRIBUTARY_MARIADB_PORT ?? '13306'), user: 'tributary', password: 'tributary' };
const run = promisify(execFile);

const id = randomBytes(4).toString('hex');
const prefix = `it_mdb_${id}`;
const database = `it_mdb_${id}`;
const connector = `it-mdb-${id}`;
const group = `it-mdb-group-${id}`;
const ordersTopic = `${prefix}.${database}.orders`;
const transactionTopic = `${prefix}.transaction`;
const schemaTopic = prefix;
const historyTopic = `${prefix}.schema-history`;
const topics = [ordersTopic, transactionTopic, schemaTopic];

async function sql(statements: string): Promise<string> {
  const { stdout } = await run(
    'mariadb',
    [`-h${mariadb.host}`, `-P${mariadb.port}`, `-u${mariadb.user}`, '--batch', '--skip-column-names', '-e', statements],
    { env: { ...process.env, MYSQL_PWD: mariadb.password }, timeout: 10_000 },
  );
  return stdout;
}

const toRecord = (topic: string, message: KafkaMessage): StreamRecord<unknown> => ({
  key: message.key?.toString('utf8') ?? null,
  value: message.value,
  eventTime: Number(message.timestamp),
  position: { partition: `${topic}:0`, offset: Number(message.offset) },
  headers: {},
});

async function decodeAll(topic: string, messages: KafkaMessage[]): Promise<ChangeEvent[]> {
  const chunks = await runOperator(decodeDebezium(), [{ kind: 'data', records: messages.map((message) => toRecord(topic, message)) }]);
  expect(chunks.flatMap((chunk) => (chunk.kind === 'dead-letter' ? chunk.letters : []))).toEqual([]);
  return dataOf(chunks).map((record) => record.value);
}

describe('Debezium decoder on real MariaDB change events', () => {
  const kafka = new Kafka({
    clientId: `it-mdb-${id}`,
    brokers: [...services.kafkaBrokers],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3_000,
    retry: { retries: 2, initialRetryTime: 200 },
  });
  let admin: Admin | undefined;
  let consumer: Consumer | undefined;
  let registered = false;
  let created = false;
  let received: Map<string, KafkaMessage[]> | undefined;

  afterAll(async () => {
    // Drop the database while the connector still runs and wait for its DDL: after that the task has nothing left to
    // write, so deleting it and then its topics leaves nothing behind (a task that is still stopping could otherwise
    // re-create a topic after it was deleted, through the broker's auto-creation).
    if (created) {
      await sql(`DROP DATABASE IF EXISTS ${database}`).catch(() => undefined);
      if (registered && received) {
        await until('the DROP DATABASE event', 10_000, () =>
          Promise.resolve(received!.get(schemaTopic)!.some((message) => message.value?.toString('utf8').includes(`DROP DATABASE IF EXISTS ${database}`)) ? true : undefined),
        ).catch(() => undefined);
      }
    }
    await consumer?.disconnect().catch(() => undefined);
    if (registered) {
      await connect('DELETE', `/connectors/${connector}`).catch(() => undefined);
      await until('the connector to be gone', 10_000, async () => ((await connect('GET', `/connectors/${connector}/status`)).status === 404 ? true : undefined)).catch(
        () => undefined,
      );
    }
    if (admin) {
      const ours = (names: string[]) => names.filter((name) => name === prefix || name.startsWith(`${prefix}.`));
      let absent = 0;
      await until('the test topics to be deleted', 15_000, async () => {
        const left = ours(await admin!.listTopics());
        if (left.length > 0) await admin!.deleteTopics({ topics: left, timeout: 5_000 }).catch(() => undefined);
        absent = left.length === 0 ? absent + 1 : 0;
        return absent >= 3 ? true : undefined;
      }).catch(() => undefined);
      await admin.deleteGroups([group]).catch(() => undefined);
      await admin.disconnect().catch(() => undefined);
    }
  });

  it('decodes inserts, updates, deletes, a key change, transactions and DDL with binlog positions and GTIDs', async () => {
    const plugins = await connect<{ class: string }[]>('GET', '/connector-plugins');
    expect(
      plugins.json?.map((plugin) => plugin.class),
      `the Connect worker at ${services.kafkaConnectUrl} has no MariaDB connector plugin: see docs/decisions/0009-debezium-decoding.md`,
    ).toContain('io.debezium.connector.mariadb.MariaDbConnector');
    admin = kafka.admin();
    await admin.connect();
    expect((await sql('SELECT @@binlog_format, @@binlog_row_image')).trim()).toBe('ROW\tFULL');

    await sql(`CREATE DATABASE ${database}; CREATE TABLE ${database}.orders (
      tenant varchar(10) NOT NULL, order_id int NOT NULL, amount decimal(12,2) NOT NULL, placed_at timestamp(6) NOT NULL,
      due datetime(3), day date, span time(6), big bigint, status enum('placed','paid'), PRIMARY KEY (tenant, order_id))`);
    created = true;
    await admin.createTopics({ topics: topics.map((topic) => ({ topic, numPartitions: 1, replicationFactor: 1 })), waitForLeaders: true });
    consumer = kafka.consumer({ groupId: group, maxWaitTimeInMs: 200, allowAutoTopicCreation: false });
    await consumer.connect();
    await consumer.subscribe({ topics, fromBeginning: true });
    const inbox = (received = new Map<string, KafkaMessage[]>(topics.map((topic) => [topic, []])));
    await consumer.run({
      eachMessage: ({ topic, message }) => {
        inbox.get(topic)!.push(message);
        return Promise.resolve();
      },
    });

    const registration = await connect('POST', '/connectors', {
      name: connector,
      config: {
        'connector.class': 'io.debezium.connector.mariadb.MariaDbConnector',
        'tasks.max': '1',
        'database.hostname': mariadb.host,
        'database.port': String(mariadb.port),
        'database.user': mariadb.user,
        'database.password': mariadb.password,
        'database.ssl.mode': 'disable',
        // Each connector is a replica with its own server id.
        'database.server.id': String(100_000 + Number.parseInt(id.slice(0, 5), 16)),
        'topic.prefix': prefix,
        'database.include.list': database,
        'table.include.list': `${database}.orders`,
        'schema.history.internal.kafka.bootstrap.servers': services.kafkaBrokers.join(','),
        'schema.history.internal.kafka.topic': historyTopic,
        'snapshot.mode': 'no_data',
        'include.schema.changes': 'true',
        'provide.transaction.metadata': 'true',
        'decimal.handling.mode': 'precise',
        'topic.creation.default.replication.factor': '1',
        'topic.creation.default.partitions': '1',
      },
    });
    expect(registration.status, JSON.stringify(registration.json)).toBe(201);
    registered = true;
    // Streaming has started once the DDL of the (empty) snapshot reached the schema change topic.
    await until('connector streaming (snapshot DDL on the schema change topic)', 30_000, async () => {
      const status = await connect<{ tasks?: { state: string; trace?: string }[] }>('GET', `/connectors/${connector}/status`);
      const task = status.json?.tasks?.[0];
      if (task?.state === 'FAILED') throw new Error(`connector task failed: ${task.trace}`);
      if (task?.state !== 'RUNNING') return undefined;
      const ddl = await decodeAll(schemaTopic, inbox.get(schemaTopic)!);
      return ddl.some((event) => event.kind === 'schema-change' && event.source?.snapshotMarker === 'last') ? true : undefined;
    });
    const snapshotDdl = inbox.get(schemaTopic)!.length;

    await sql(`BEGIN;
      INSERT INTO ${database}.orders VALUES ('t1', 1, 1234.50, '2024-03-01 10:34:56.123456', '2024-03-31 23:59:59.999', '1969-07-20', '-838:59:59.000001', 9007199254740993, 'placed'),
        ('t1', 2, -0.05, '2024-03-01 00:00:00', NULL, NULL, NULL, NULL, NULL);
      COMMIT;`);
    await sql(`UPDATE ${database}.orders SET amount = 10.10, status = 'paid' WHERE tenant = 't1' AND order_id = 2`);
    await sql(`DELETE FROM ${database}.orders WHERE tenant = 't1' AND order_id = 2`);
    await sql(`UPDATE ${database}.orders SET order_id = 3 WHERE tenant = 't1' AND order_id = 1`);
    await sql(`ALTER TABLE ${database}.orders ADD COLUMN note varchar(20)`);

    // orders: c, c, u, d + tombstone, (key change) d + tombstone + c; DDL: 1 more; transactions: BEGIN/END x 4, and
    // a BEGIN without END for the DDL (Debezium opens a transaction for the ALTER's GTID but emits no row events in it).
    const expected = { [ordersTopic]: 8, [transactionTopic]: 9, [schemaTopic]: snapshotDdl + 1 };
    await until(`messages ${JSON.stringify(expected)}`, 30_000, () =>
      Promise.resolve(topics.every((topic) => inbox.get(topic)!.length >= expected[topic]!) ? true : undefined),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const topic of topics) expect(inbox.get(topic)!.length, topic).toBe(expected[topic]);

    const events = await decodeAll(ordersTopic, inbox.get(ordersTopic)!);
    expect(events.map((event) => (event.kind === 'change' ? event.op : event.kind))).toEqual(['c', 'c', 'u', 'd', 'tombstone', 'd', 'tombstone', 'c']);
    const [c1, c2, u, d, , keyDelete, , keyCreate] = events as RowChangeEvent[];
    const order1 = {
      tenant: 't1',
      order_id: 1,
      amount: '1234.50',
      placed_at: '2024-03-01T10:34:56.123456Z', // TIMESTAMP: ZonedTimestamp (the server runs in UTC)
      due: '2024-03-31T23:59:59.999Z', // DATETIME(3): Timestamp, ms
      day: '1969-07-20',
      span: '-838:59:59.000001', // TIME is a duration
      big: 9007199254740993n,
      status: 'placed',
    };
    const order2 = { tenant: 't1', order_id: 2, amount: '-0.05', placed_at: '2024-03-01T00:00:00.000000Z', due: null, day: null, span: null, big: null, status: null };
    expect(c1).toMatchObject({ op: 'c', before: null, after: order1, key: { tenant: 't1', order_id: 1 } });
    expect(c2).toMatchObject({ op: 'c', after: order2 });
    // binlog_row_image=FULL: complete before images.
    expect(u).toMatchObject({ op: 'u', before: order2, after: { ...order2, amount: '10.10', status: 'paid' } });
    expect(d).toMatchObject({ op: 'd', before: { ...order2, amount: '10.10', status: 'paid' }, after: null });
    expect(keyDelete).toMatchObject({ op: 'd', before: order1 });
    expect(keyCreate).toMatchObject({ op: 'c', after: { ...order1, order_id: 3 } });

    for (const event of [c1, c2, u, d, keyDelete, keyCreate]) {
      expect(event!.source).toMatchObject({ connector: 'mariadb', name: prefix, db: database, table: 'orders', schema: undefined, serverId: 1, snapshot: false });
      expect(event!.source.file).toMatch(/^mariadb-bin\.\d{6}$/);
      expect(event!.source.pos).toBeGreaterThan(0);
      expect(event!.source.gtid).toMatch(/^0-1-\d+$/);
      expect(event!.source.lsn).toBeUndefined();
      // The MariaDB transaction id is the GTID.
      expect(event!.transaction?.id).toBe(event!.source.gtid);
    }
    // One binlog rows event for the two-row INSERT: same GTID and position, rows 0 and 1.
    expect([c1!.source.gtid, c1!.source.pos, c1!.source.row, c2!.source.row]).toEqual([c2!.source.gtid, c2!.source.pos, 0, 1]);
    expect([c1!.transaction!.totalOrder, c2!.transaction!.totalOrder]).toEqual([1, 2]);
    expect(c1!.source.pos).toBeLessThan(u!.source.pos!);

    const boundaries = (await decodeAll(transactionTopic, inbox.get(transactionTopic)!)) as TransactionEvent[];
    expect(boundaries.map((event) => event.status)).toEqual(['BEGIN', 'END', 'BEGIN', 'END', 'BEGIN', 'END', 'BEGIN', 'END', 'BEGIN']);
    expect(boundaries[1]).toMatchObject({ id: c1!.source.gtid, eventCount: 2, dataCollections: [{ dataCollection: `${database}.orders`, eventCount: 2 }] });

    const ddl = (await decodeAll(schemaTopic, inbox.get(schemaTopic)!)).at(-1) as SchemaChangeEvent;
    expect(ddl).toMatchObject({ kind: 'schema-change', databaseName: database, ddl: `ALTER TABLE ${database}.orders ADD COLUMN note varchar(20)`, source: { connector: 'mariadb' } });
    expect(ddl.tableChanges).toEqual([expect.objectContaining({ type: 'ALTER' })]);

    const intentChunks = await runOperator(changesToIntents({ key: ['tenant', 'order_id'] }), [{ kind: 'data', records: events.map((value, offset) => ({ key: null, value, eventTime: 0, position: { partition: 'p', offset }, headers: {} })) }] as Chunk<ChangeEvent>[]);
    expect(dataOf(intentChunks).map((record) => `${record.value.kind} ${record.key}`)).toEqual([
      'upsert {"order_id":1,"tenant":"t1"}',
      'upsert {"order_id":2,"tenant":"t1"}',
      'upsert {"order_id":2,"tenant":"t1"}',
      'delete {"order_id":2,"tenant":"t1"}',
      'delete {"order_id":1,"tenant":"t1"}',
      'upsert {"order_id":3,"tenant":"t1"}',
    ]);
    expect((await sql(`SELECT tenant, order_id, amount FROM ${database}.orders`)).trim()).toBe('t1\t3\t1234.50');
  });
});
