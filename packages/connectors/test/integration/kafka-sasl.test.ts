/**
 * SASL against a real broker (issue #4): a private single-node broker (private-broker.ts) with a SASL_PLAINTEXT
 * listener accepting PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 and OAUTHBEARER (unsecured JWS). For every mechanism,
 * kafkaAdmin (declare and list topics), kafkaSink (produce) and kafkaSource (consume) work with the right credentials;
 * a wrong password or an invalid token fails fast with a clear ConnectorError naming the mechanism and the broker;
 * and no log line (ours, or kafkajs's at debug level routed through our logger) contains a password or token.
 * Results are checked with an independent kafkajs client on the broker's PLAINTEXT listener.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import type { Admin } from 'kafkajs';
import { systemClock } from '@tributary/core';
import type { LogFields, Logger, SinkContext, SourceContext, StreamRecord } from '@tributary/core';
import { ConnectorError } from '@tributary/connectors';
import { kafkaAdmin, kafkaSink, kafkaSource } from '@tributary/connectors/kafka';
import type { KafkaConnectionOptions, KafkaSource } from '@tributary/connectors/kafka';
import { fastGroup, uniqueName, waitFor, within } from './kafka-helpers.js';
import { startPrivateBroker, unsecuredJws } from './private-broker.js';
import type { PrivateBroker } from './private-broker.js';

interface Reading {
  id: number;
}

function capturingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const log = (level: string) => (fields: LogFields, message: string) =>
    void lines.push(JSON.stringify({ level, message, fields }, (_, value: unknown) => (typeof value === 'bigint' ? String(value) : value)));
  return { lines, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

const secret = (): string => `pw-${randomBytes(12).toString('hex')}`;
const alice = { username: 'alice', password: secret() };
const bob = { username: 'bob', password: secret() };
// Tokens handed out by the OAUTHBEARER providers below: none may appear in a log line either.
const tokens: string[] = [];
const issue = (sub: string, lifetimeMs?: number): string => {
  const token = unsecuredJws(sub, lifetimeMs);
  tokens.push(token);
  return token;
};

type Sasl = NonNullable<KafkaConnectionOptions['sasl']>;

const mechanisms: readonly { name: string; sasl: () => Sasl; wrong: () => Sasl }[] = [
  {
    name: 'PLAIN',
    sasl: () => ({ mechanism: 'plain', ...alice }),
    wrong: () => ({ mechanism: 'plain', username: alice.username, password: bob.password }),
  },
  {
    name: 'SCRAM-SHA-256',
    sasl: () => ({ mechanism: 'scram-sha-256', ...bob }),
    wrong: () => ({ mechanism: 'scram-sha-256', username: bob.username, password: alice.password }),
  },
  {
    name: 'SCRAM-SHA-512',
    sasl: () => ({ mechanism: 'scram-sha-512', ...alice }),
    wrong: () => ({ mechanism: 'scram-sha-512', username: alice.username, password: bob.password }),
  },
  {
    name: 'OAUTHBEARER',
    sasl: () => ({ mechanism: 'oauthbearer', oauthBearerProvider: () => Promise.resolve({ value: issue('carol') }) }),
    // Expired an hour ago: the broker's validator refuses it.
    wrong: () => ({ mechanism: 'oauthbearer', oauthBearerProvider: () => Promise.resolve({ value: issue('carol', -3_600_000) }) }),
  },
];

const secrets = (): string[] => [alice.password, bob.password, ...tokens];

function sourceContext(logger: Logger): SourceContext {
  return {
    clock: systemClock,
    logger,
    signal: new AbortController().signal,
    assigned: () => Promise.resolve({}),
    revoked: () => Promise.resolve(),
    deadLetters: () => undefined,
  };
}

describe('Kafka SASL against a real broker', () => {
  let broker: PrivateBroker;
  let saslBrokers: string[];
  let plain: Admin;
  const timings: string[] = [];

  beforeAll(async () => {
    const started = Date.now();
    broker = await startPrivateBroker({ sasl: { users: [alice, bob], oauthBearer: true } });
    saslBrokers = [...broker.saslBrokers!];
    timings.push(`broker ${Date.now() - started} ms`);
    plain = new Kafka({ clientId: 'sasl-test-check', brokers: [...broker.brokers], logLevel: logLevel.NOTHING }).admin();
    await plain.connect();
  });
  afterAll(async () => {
    await plain?.disconnect().catch(() => undefined);
    await broker?.dispose();
    console.info(`[kafka-sasl] ${timings.join(', ')}`);
  });

  for (const mechanism of mechanisms) {
    it(`${mechanism.name}: admin declares and lists topics, the sink produces, the source consumes; no secret in any log line`, async () => {
      const started = Date.now();
      const logger = capturingLogger();
      const connection = {
        brokers: saslBrokers,
        sasl: mechanism.sasl(),
        allowSaslPlainWithoutTls: true,
        clientLogLevel: 'debug',
        retry: { retries: 2, initialRetryTimeMs: 100, maxRetryTimeMs: 500 },
      } satisfies KafkaConnectionOptions;
      const topic = uniqueName(`sasl-${mechanism.name.toLowerCase()}`);

      const admin = kafkaAdmin({ ...connection, logger });
      try {
        const declared = await within(admin.declareTopics([{ name: topic, partitions: 2, config: { 'retention.ms': '-1' } }]), 20_000, 'declareTopics');
        expect(declared).toMatchObject([{ name: topic, action: 'created' }]);
        expect(await within(admin.listTopics(), 10_000, 'listTopics')).toContain(topic);
      } finally {
        await admin.close();
      }
      // Independently: the topic exists with 2 partitions.
      const [metadata] = (await plain.fetchTopicMetadata({ topics: [topic] })).topics;
      expect(metadata?.partitions).toHaveLength(2);

      const count = 20;
      const sink = kafkaSink<Reading>({ ...connection, topic });
      const sinkContext: SinkContext = { stepName: 'sasl-sink', clock: systemClock, logger, signal: new AbortController().signal };
      await within(Promise.resolve(sink.open(sinkContext)), 20_000, 'sink.open');
      const now = Date.now();
      await sink.write(Array.from({ length: count }, (_, id): StreamRecord<Reading> => ({ key: `k${id}`, value: { id }, eventTime: now, position: { partition: 'p', offset: id }, headers: {} })));
      await within(Promise.resolve(sink.commit({ id: 1, positions: {}, reason: 'interval' })), 20_000, 'sink.commit');
      await sink.close();
      // Independently: the high watermarks add up to what was produced.
      const offsets = await plain.fetchTopicOffsets(topic);
      expect(offsets.reduce((sum, partition) => sum + Number(partition.high), 0)).toBe(count);

      const source: KafkaSource<Reading> = kafkaSource<Reading>({ ...connection, ...fastGroup, retry: connection.retry, topics: [topic], groupId: uniqueName('sasl-group'), startFrom: 'earliest' });
      try {
        await within(source.open(sourceContext(logger)), 30_000, 'source.open');
        const records: StreamRecord<Reading>[] = [];
        const signal = new AbortController().signal;
        await waitFor(
          async () => {
            records.push(...((await source.poll(500, signal)) ?? []));
            return records.length >= count;
          },
          20_000,
          () => `${records.length}/${count} records polled`,
          0,
        );
        expect(records.map((r) => r.value.id).sort((a, b) => a - b)).toEqual([...Array(count).keys()]);
      } finally {
        await source.close();
      }

      // kafkajs really authenticated with this mechanism (its debug line came through our logger)...
      expect(logger.lines.some((line) => line.includes(`SASL ${mechanism.name.replace("SCRAM-SHA-", "SCRAM SHA")} authentication successful`))).toBe(true);
      // ...and no line carries a password or token.
      expect(logger.lines.length).toBeGreaterThan(20);
      for (const line of logger.lines) for (const value of secrets()) expect(line).not.toContain(value);
      timings.push(`${mechanism.name} ok ${Date.now() - started} ms (${logger.lines.length} log lines)`);
    });
  }

  for (const mechanism of mechanisms) {
    it(`${mechanism.name}: wrong credentials fail fast with a clear error for admin, sink and source, without the secret`, async () => {
      const started = Date.now();
      const logger = capturingLogger();
      const connection = {
        brokers: saslBrokers,
        sasl: mechanism.wrong(),
        allowSaslPlainWithoutTls: true,
        clientLogLevel: 'debug',
        retry: { retries: 2, initialRetryTimeMs: 100, maxRetryTimeMs: 500 },
      } satisfies KafkaConnectionOptions;
      const failures: unknown[] = [];
      const admin = kafkaAdmin({ ...connection, logger });
      failures.push(await within(admin.listTopics().then(() => undefined, (error: unknown) => error), 15_000, 'admin.listTopics with wrong credentials'));
      await admin.close();
      const sink = kafkaSink<Reading>({ ...connection, topic: uniqueName('sasl-never') });
      const sinkContext: SinkContext = { stepName: 'sasl-sink', clock: systemClock, logger, signal: new AbortController().signal };
      failures.push(await within(Promise.resolve(sink.open(sinkContext)).then(() => undefined, (error: unknown) => error), 15_000, 'sink.open with wrong credentials'));
      const source = kafkaSource<Reading>({ ...connection, ...fastGroup, retry: connection.retry, topics: [uniqueName('sasl-never')], groupId: uniqueName('sasl-group') });
      failures.push(await within(source.open(sourceContext(logger)).then(() => undefined, (error: unknown) => error), 15_000, 'source.open with wrong credentials'));
      await source.close().catch(() => undefined);
      const elapsed = Date.now() - started;

      for (const failure of failures) {
        expect(failure).toBeInstanceOf(ConnectorError);
        const error = failure as ConnectorError;
        expect(error).toMatchObject({ code: 'KAFKA_AUTHENTICATION_FAILED', connector: 'kafka', retriable: false });
        expect(error.message).toContain(mechanism.name);
        expect(error.message).toContain(saslBrokers[0]);
        for (const value of secrets()) {
          expect(error.message).not.toContain(value);
          expect(String(error.cause)).not.toContain(value);
        }
      }
      for (const line of logger.lines) for (const value of secrets()) expect(line).not.toContain(value);
      // Not retried as if the broker were down: three clients rejected well within kafkajs's retry budget.
      expect(elapsed).toBeLessThan(10_000);
      timings.push(`${mechanism.name} refused ${elapsed} ms`);
    });
  }
});
