/**
 * Broker restart mid-stream (issue #4): a private single-node broker (never the shared one) is SIGKILLed while two
 * pipelines use it — a kafkaSink producing into a topic and a kafkaSource reading that topic into an exactly-once
 * sink — and started again on the same ports and data after a pause. Neither pipeline may fail or be restarted: the
 * topic ends up with every record exactly once (idempotent producer, acks=all), and the exactly-once sink with every
 * record of the topic exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import type { Admin } from 'kafkajs';
import { MemoryLog, createRuntime, defineTopology, memorySink, memorySource, toSink } from '@tributary/core';
import type { Logger, Runtime } from '@tributary/core';
import { kafkaSink, kafkaSource } from '@tributary/connectors/kafka';
import { uniqueName, waitFor, within } from './kafka-helpers.js';
import { startPrivateBroker } from './private-broker.js';
import type { PrivateBroker } from './private-broker.js';

interface Event {
  id: number;
}

/** Warnings and errors of both pipelines, for the failure message and the log line. */
function recordingLogger(lines: string[]): Logger {
  const keep =
    (level: string) =>
    (fields: unknown, message?: string): void =>
      void lines.push(`${level} ${message ?? ''} ${JSON.stringify(fields, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`.slice(0, 400));
  const info = keep('info');
  // Of the info lines only the end of a commit outage, to pair it with the warning that began it.
  return { debug: () => undefined, info: (fields, message) => (message === 'kafka commits succeed again' ? info(fields, message) : undefined), warn: keep('warn'), error: keep('error') };
}

/** Fails at once (with the logs) when a runtime ended while the test still expects it to run. */
function watch(runtime: Runtime, label: string): () => void {
  let failure: unknown;
  runtime.done.catch((error: unknown) => void (failure = error));
  return () => {
    if (failure !== undefined) throw new Error(`the ${label} pipeline failed: ${failure instanceof Error ? failure.message : JSON.stringify(failure)}`);
  };
}

describe('Kafka broker restart mid-stream', () => {
  let broker: PrivateBroker;
  let admin: Admin;

  beforeAll(async () => {
    broker = await startPrivateBroker();
    admin = new Kafka({ clientId: 'broker-restart-test', brokers: [...broker.brokers], logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 200, maxRetryTime: 2_000 } }).admin();
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.disconnect().catch(() => undefined);
    await broker?.dispose();
  });

  it('SIGKILL and restart of the broker: the sink loses nothing, the exactly-once source pipeline holds every record once', async () => {
    const topic = uniqueName('restart');
    const groupId = uniqueName('restart-group');
    await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 1, configEntries: [{ name: 'retention.ms', value: '-1' }] }], waitForLeaders: true });
    const count = 3_000;
    const logs: string[] = [];
    const logger = recordingLogger(logs);
    const brokers = [...broker.brokers];

    // Producer pipeline: values appended to an in-memory log at a steady pace, produced to the topic by kafkaSink.
    const input = new MemoryLog<Event>({ partitions: 3 });
    const producing = createRuntime(
      defineTopology({
        name: 'broker-restart-produce',
        source: memorySource(input),
        pipeline: (events) =>
          events.pipe(
            toSink(
              kafkaSink<Event>({
                brokers,
                name: 'restart-out',
                topic,
                key: (record) => `k${record.value.id % 11}`,
                batchSize: 50,
                // A send fails once its retries are spent (the runtime then fails and replays after a restart): sized
                // here to outlast the outage (2 s pause + broker start on busy cores), ~20 s of back-off per send.
                retry: { retries: 10, initialRetryTimeMs: 300, maxRetryTimeMs: 3_000 },
                clientLogLevel: 'nothing',
              }),
            ),
          ),
      }),
      { checkpointIntervalMs: 100, maxBatch: 50, maxInFlight: 200, logger },
    );
    // Consumer pipeline: the topic into an exactly-once sink (positions stored with its commits).
    const sink = memorySink<Event>({ exactlyOnce: true, writeDelayMs: 2 });
    // Short retries on purpose: the consumer surely crashes during the outage and kafkajs restarts it (again and
    // again until the broker is back), so the pipeline meets the window in which kafkajs has no consumer group.
    const source = kafkaSource<Event>({
      brokers,
      topics: [topic],
      groupId,
      // The member a crash left behind holds the rebalance after the restart until its session expires: keep it short.
      sessionTimeoutMs: 6_000,
      heartbeatIntervalMs: 500,
      maxWaitTimeMs: 200,
      maxBufferedRecords: 200,
      retry: { retries: 3, initialRetryTimeMs: 100, maxRetryTimeMs: 1_000 },
      clientLogLevel: 'nothing',
    });
    const consuming = createRuntime(
      defineTopology({
        name: 'broker-restart-consume',
        source,
        pipeline: (events) => events.pipe(toSink(sink)),
      }),
      { checkpointIntervalMs: 100, maxBatch: 50, maxInFlight: 200, logger },
    );
    const producerFailed = watch(producing, 'producer');
    const consumerFailed = watch(consuming, 'consumer');
    const context = (): string => `${sink.committed.length}/${count} committed; producer ${producing.status().state}, consumer ${consuming.status().state}\n${logs.slice(-15).join('\n')}`;
    const check = (): void => {
      producerFailed();
      consumerFailed();
    };

    let appended = 0;
    let stopAppending = false;
    const appender = (async () => {
      // ~30 records every 40 ms: the stream still flows when the broker dies, and keeps flowing during the outage.
      while (appended < count && !stopAppending) {
        const chunk = Array.from({ length: Math.min(30, count - appended) }, (_, i) => ({ id: appended + i }));
        input.appendValues((appended / 30) % 3, chunk);
        appended += chunk.length;
        await new Promise((resolve) => setTimeout(resolve, 40));
      }
      input.end();
    })();

    try {
      await within(Promise.all([producing.start(), consuming.start()]), 30_000, 'both pipelines start');
      await waitFor(() => (check(), sink.committed.length >= count / 3), 30_000, context, 5);

      const atKill = sink.committed.length;
      const producedAtKill = appended;
      await broker.kill();
      const killedAt = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      await broker.start();
      const answeredAt = Date.now();
      const downMs = answeredAt - killedAt;
      check();

      await waitFor(() => (check(), sink.committed.length > atKill + 50), 40_000, context, 20);
      const resumedMs = Date.now() - answeredAt;
      const crashes = logs.filter((line) => line.includes('kafka consumer crashed')).length;
      await within(producing.done, 40_000, `the producer pipeline finishes: ${context()}`);
      await waitFor(() => (check(), sink.committed.length >= count), 40_000, context, 20);
      expect(consuming.status().state).toBe('running');
      await within(consuming.stop(), 20_000, 'consumer stop');
      // The outage ended within maxCommitOutageMs (default 5 min): the last commit went through, none is pending.
      const stats = source.stats();
      expect(stats).toMatchObject({ commitOutageMs: 0, commitsSkippedInOutage: 0 });
      expect(stats.lastCommitAt).toBeGreaterThanOrEqual(answeredAt);
      const skipWarnings = logs.filter((line) => line.startsWith('warn kafka commit skipped')).length;

      // The topic, read independently (end offsets): every produced record exactly once, none lost, none doubled.
      const ends = await admin.fetchTopicOffsets(topic);
      const inTopic = ends.reduce((sum, { high }) => sum + Number(high), 0);
      const ids = sink.committed.map((record) => record.value.id);
      const positions = new Set(sink.committed.map((record) => `${record.position.partition}@${record.position.offset}`));
      console.info(
        `[kafka-broker-restart] ${count} records; at SIGKILL ${atKill} committed by the consumer pipeline, ${producedAtKill} appended for the producer; ` +
          `broker down ${downMs} ms (kill to answering metadata); consumer progress resumed ${resumedMs} ms after the restart; ` +
          `consumer crashes restarted by kafkajs ${crashes}, commits skipped ${stats.commitsSkipped} (warned ${skipWarnings}×, once per outage); topic holds ${inTopic}; sink ${ids.length} (${ids.length - new Set(ids).size} duplicates)`,
      );
      expect(atKill).toBeLessThan(count);
      // The outage really hit the source: kafkajs gave up on the broker and restarted the consumer.
      expect(crashes).toBeGreaterThan(0);
      // Skipped commits are warned about once per outage (not per checkpoint), and every outage ended with a commit.
      const outagesEnded = logs.filter((line) => line.startsWith('info kafka commits succeed again')).length;
      expect(skipWarnings).toBe(outagesEnded);
      expect(skipWarnings).toBeLessThanOrEqual(stats.commitsSkipped);
      expect(logs.filter((line) => line.startsWith('error ') && line.includes('kafka commit'))).toEqual([]);
      expect(inTopic).toBe(count);
      expect(ids).toHaveLength(count);
      expect(positions.size).toBe(count);
      expect([...new Set(ids)].sort((a, b) => a - b)).toEqual(Array.from({ length: count }, (_, id) => id));
      // Kafka's own record of the group (independent of the sink): committed up to the end of every partition.
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      expect(Object.fromEntries((committed?.partitions ?? []).map(({ partition, offset }) => [partition, Number(offset)]))).toEqual(
        Object.fromEntries(ends.map(({ partition, high }) => [partition, Number(high)])),
      );
    } finally {
      stopAppending = true;
      await appender;
      await producing.abort().catch(() => undefined);
      await consuming.abort().catch(() => undefined);
    }
  });
});
