/**
 * `npm run bench:kafka`: consume throughput from a real Kafka broker. Pre-loads a fresh 6-partition topic with N
 * schema-less Debezium JSON change events (~500 bytes each, an `orders` table), then reads the whole topic three times,
 * each from the start with a fresh consumer group, in one process:
 *
 *   1. kafkajs raw: `eachBatch` counting messages, nothing else (autoCommit off) — the floor Tributary builds on;
 *   2. Tributary: `kafkaSource` (json) -> `decodeDebezium` -> a counting sink, run by `createRuntime`;
 *   3. @platformatic/kafka raw: a consumer stream counting messages — a reference ceiling for a Node Kafka client.
 *
 * Each figure is events / s from the first record received to the N-th (group join excluded); the time including
 * connect and group join is printed too. Prints a table and, as its last line, one JSON object. A benchmark, not a
 * test: it asserts nothing about speed, only that every reader saw N records. Deletes its topic and groups at the end.
 *
 *   node packages/connectors/bench/kafka.ts [--events 1000000] [--brokers 127.0.0.1:19092]
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Kafka, logLevel, CompressionTypes } from 'kafkajs';
import type { Message } from 'kafkajs';
import { Consumer as PlatformaticConsumer, MessagesStreamModes } from '@platformatic/kafka';
import { createRuntime, defineTopology, toSink } from '@tributary/core';
import type { Sink, StreamRecord } from '@tributary/core';
import { kafkaSource } from '@tributary/connectors/kafka';
import { decodeDebezium } from '@tributary/connectors/debezium';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    brokers: { type: 'string', default: `127.0.0.1:${process.env.TRIBUTARY_KAFKA_PORT ?? '19092'}` },
  },
});
const EVENTS = Number(args.events);
const BROKERS = args.brokers.split(',');
const PARTITIONS = 6;
const TIMEOUT_MS = 300_000;

// Fetch tuning shared by all three readers: up to 4 MiB per partition, 24 MiB per fetch, answer as soon as 1 byte
// is there (the topic is pre-loaded, so fetches come back full anyway), wait at most 500 ms.
const FETCH = { maxBytesPerPartition: 4 * 1_048_576, maxBytes: 24 * 1_048_576, minBytes: 1, maxWaitTimeMs: 500 };
// Tributary runtime: polls of up to 5,000 records, up to 50,000 in flight, source buffer 50,000, checkpoint every 5 s.
const RUNTIME = { maxBatch: 5_000, maxInFlight: 50_000, checkpointIntervalMs: 5_000 };
const SOURCE_BUFFER = 50_000;

const id = randomBytes(4).toString('hex');
const topic = `bench-kafka-${id}.public.orders`;
const groups = { kafkajs: `bench-kafka-${id}-kafkajs`, tributary: `bench-kafka-${id}-tributary`, platformatic: `bench-kafka-${id}-platformatic` };

const kafka = new Kafka({ clientId: `bench-kafka-${id}`, brokers: BROKERS, logLevel: logLevel.NOTHING });
const admin = kafka.admin();

/** One schema-less Debezium PostgreSQL envelope (JsonConverter, schemas.enable=false) for row `n` of `orders`. */
function changeEvent(n: number): Message {
  const orderId = Math.floor(n / 2) + 1;
  const op = n % 2 === 0 ? 'c' : 'u';
  const tsMs = 1_700_000_000_000 + n;
  const row = (status: string, amount: number) => ({
    id: orderId,
    customer_id: 10_000 + (orderId % 9_973),
    status,
    currency: 'EUR',
    amount,
    items: 1 + (orderId % 7),
    created_at: tsMs * 1_000,
    updated_at: (tsMs + (op === 'u' ? 1 : 0)) * 1_000,
  });
  const amount = Math.round(((orderId * 7_919) % 100_000)) / 100;
  const envelope = {
    before: op === 'u' ? row('pending', amount) : null,
    after: row(op === 'u' ? 'paid' : 'pending', amount),
    source: {
      version: '3.1.0.Final',
      connector: 'postgresql',
      name: 'bench',
      ts_ms: tsMs,
      snapshot: 'false',
      db: 'shop',
      sequence: `["${22_000_000 + n * 64}","${22_000_000 + n * 64 + 32}"]`,
      schema: 'public',
      table: 'orders',
      txId: 700 + n,
      lsn: 22_000_000 + n * 64 + 32,
      xmin: null,
    },
    op,
    ts_ms: tsMs + 5,
    transaction: null,
  };
  return { key: `{"id":${orderId}}`, value: JSON.stringify(envelope) };
}

async function preload(): Promise<{ ms: number; valueBytes: number }> {
  // Pre-loading only: acks=1 (leader only) and no compression, big batches, several requests in flight. Correctness
  // of the load is checked by the readers, which must each see exactly EVENTS records.
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const BATCH = 6_000; // ~1,000 messages (~500 KB) per partition per request: under the broker's 1 MiB batch limit
  const PARALLEL = 8;
  let next = 0;
  let valueBytes = 0;
  const started = performance.now();
  const worker = async () => {
    for (;;) {
      const from = next;
      if (from >= EVENTS) return;
      next = Math.min(EVENTS, from + BATCH);
      const messages: Message[] = [];
      for (let n = from; n < next; n++) {
        const message = changeEvent(n);
        valueBytes += (message.value as string).length;
        messages.push(message);
      }
      await producer.send({ topic, messages, acks: 1, compression: CompressionTypes.None });
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  const ms = performance.now() - started;
  await producer.disconnect();
  return { ms, valueBytes };
}

interface Reading {
  /** From starting the reader (connect, group join) to the N-th record. */
  totalMs: number;
  /** From the first record received to the N-th. */
  steadyMs: number;
  count: number;
}

/** Counts until EVENTS, recording when the first and the last arrived. */
class Counter {
  count = 0;
  firstAt = 0;
  lastAt = 0;
  #resolve: () => void = () => {};
  #reject: (error: unknown) => void = () => {};
  readonly done = new Promise<void>((resolve, reject) => {
    this.#resolve = resolve;
    this.#reject = reject;
  });
  add(n: number): void {
    if (n === 0) return;
    if (this.count === 0) this.firstAt = performance.now();
    this.count += n;
    if (this.count >= EVENTS && this.lastAt === 0) {
      this.lastAt = performance.now();
      this.#resolve();
    }
  }
  fail(error: unknown): void {
    this.#reject(error);
  }
  reading(started: number): Reading {
    return { totalMs: this.lastAt - started, steadyMs: this.lastAt - this.firstAt, count: this.count };
  }
}

async function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out after ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function kafkajsRaw(): Promise<Reading> {
  const counter = new Counter();
  const consumer = kafka.consumer({
    groupId: groups.kafkajs,
    maxBytesPerPartition: FETCH.maxBytesPerPartition,
    maxBytes: FETCH.maxBytes,
    minBytes: FETCH.minBytes,
    maxWaitTimeInMs: FETCH.maxWaitTimeMs,
  });
  const started = performance.now();
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    partitionsConsumedConcurrently: PARTITIONS,
    eachBatchAutoResolve: true,
    eachBatch: ({ batch }) => {
      counter.add(batch.messages.length);
      return Promise.resolve();
    },
  });
  try {
    await within(counter.done, 'kafkajs raw');
  } finally {
    await consumer.disconnect();
  }
  return counter.reading(started);
}

async function tributary(): Promise<Reading> {
  const counter = new Counter();
  const sink: Sink<unknown> = {
    name: 'count',
    write(records: readonly StreamRecord<unknown>[]) {
      counter.add(records.length);
    },
    commit() {},
  };
  const source = kafkaSource({
    brokers: BROKERS,
    topics: [topic],
    groupId: groups.tributary,
    deserializer: 'json',
    maxBufferedRecords: SOURCE_BUFFER,
    maxBytesPerPartition: FETCH.maxBytesPerPartition,
    maxBytes: FETCH.maxBytes,
    maxWaitTimeMs: FETCH.maxWaitTimeMs,
  });
  const job = defineTopology({
    name: 'bench-kafka',
    source,
    pipeline: (input) => input.pipe(decodeDebezium({ onError: 'fail', kinds: ['change'] }), toSink(sink)),
  });
  const runtime = createRuntime(job, RUNTIME);
  const started = performance.now();
  await runtime.start();
  runtime.done.then(
    () => counter.fail(new Error(`tributary: runtime finished after ${counter.count} records`)),
    (error: unknown) => counter.fail(error),
  );
  try {
    await within(counter.done, 'tributary');
  } finally {
    await runtime.stop();
  }
  return counter.reading(started);
}

async function platformaticRaw(): Promise<Reading> {
  const counter = new Counter();
  const consumer = new PlatformaticConsumer({
    groupId: groups.platformatic,
    clientId: `bench-kafka-${id}-platformatic`,
    bootstrapBrokers: BROKERS,
  });
  const started = performance.now();
  const stream = await consumer.consume({
    topics: [topic],
    mode: MessagesStreamModes.EARLIEST,
    autocommit: false,
    maxBytesPerPartition: FETCH.maxBytesPerPartition,
    maxBytes: FETCH.maxBytes,
    minBytes: FETCH.minBytes,
    maxWaitTime: FETCH.maxWaitTimeMs,
  });
  stream.on('data', () => counter.add(1));
  stream.on('error', (error: unknown) => counter.fail(error));
  try {
    await within(counter.done, '@platformatic/kafka raw');
  } finally {
    await stream.close();
    await consumer.close(true);
  }
  return counter.reading(started);
}

const perSecond = (reading: Reading, ms: number) => Math.round(reading.count / (ms / 1_000));

await admin.connect();
const readings: Record<'kafkajs' | 'tributary' | 'platformatic', Reading | undefined> = { kafkajs: undefined, tributary: undefined, platformatic: undefined };
let load: { ms: number; valueBytes: number } | undefined;
try {
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }], waitForLeaders: true });
  load = await preload();
  console.log(`preloaded ${EVENTS} events (${Math.round(load.valueBytes / EVENTS)} B/value avg) into ${topic} in ${load.ms.toFixed(0)} ms`);
  readings.kafkajs = await kafkajsRaw();
  console.log(`kafkajs raw done`);
  readings.tributary = await tributary();
  console.log(`tributary done`);
  readings.platformatic = await platformaticRaw();
  console.log(`@platformatic/kafka raw done`);
} finally {
  await admin.deleteGroups(Object.values(groups)).catch((error: unknown) => console.error(`could not delete groups: ${String(error)}`));
  await admin.deleteTopics({ topics: [topic] }).catch((error: unknown) => console.error(`could not delete topic: ${String(error)}`));
  await admin.disconnect();
}

const rows = [
  ['kafkajs raw (eachBatch, count)', readings.kafkajs],
  ['tributary (kafkaSource json -> decodeDebezium -> count)', readings.tributary],
  ['@platformatic/kafka raw (stream, count)', readings.platformatic],
] as const;
console.log('');
console.log(`${'reader'.padEnd(58)}${'records'.padStart(10)}${'steady ms'.padStart(11)}${'events/s'.padStart(11)}${'incl. join ms'.padStart(15)}${'events/s'.padStart(11)}`);
for (const [name, reading] of rows) {
  console.log(
    `${name.padEnd(58)}${String(reading.count).padStart(10)}${reading.steadyMs.toFixed(0).padStart(11)}${String(perSecond(reading, reading.steadyMs)).padStart(11)}` +
      `${reading.totalMs.toFixed(0).padStart(15)}${String(perSecond(reading, reading.totalMs)).padStart(11)}`,
  );
}
const kafkajsPerSecond = perSecond(readings.kafkajs, readings.kafkajs.steadyMs);
const tributaryPerSecond = perSecond(readings.tributary, readings.tributary.steadyMs);
const referencePerSecond = perSecond(readings.platformatic, readings.platformatic.steadyMs);
console.log(
  JSON.stringify({
    events: EVENTS,
    partitions: PARTITIONS,
    avg_value_bytes: Math.round(load.valueBytes / EVENTS),
    preload_events_per_s: Math.round(EVENTS / (load.ms / 1_000)),
    kafkajs_raw_events_per_s: kafkajsPerSecond,
    tributary_events_per_s: tributaryPerSecond,
    reference_raw_events_per_s: referencePerSecond,
    ratio_vs_kafkajs: Math.round((tributaryPerSecond / kafkajsPerSecond) * 1_000) / 1_000,
    ratio_vs_reference: Math.round((tributaryPerSecond / referencePerSecond) * 1_000) / 1_000,
    kafkajs_raw_incl_join_events_per_s: perSecond(readings.kafkajs, readings.kafkajs.totalMs),
    tributary_incl_join_events_per_s: perSecond(readings.tributary, readings.tributary.totalMs),
    reference_raw_incl_join_events_per_s: perSecond(readings.platformatic, readings.platformatic.totalMs),
    runtime: RUNTIME,
    source_max_buffered_records: SOURCE_BUFFER,
    fetch: FETCH,
    node: process.version,
  }),
);
