import { describe, expect, it, vi } from 'vitest';
import { InvalidOptionsError, TributaryError } from '@tributary/core';
import type { AlertRule } from '@tributary/core';
import { kafkaAlertRules } from './kafka-alert-rules.js';
import type { KafkaAlertRulesOptions } from './kafka-alert-rules.js';

/**
 * A stand-in for kafkajs holding one partition of the rules topic in memory. The test decides which records the
 * consumer fetches (`deliver`), so a consumer restart that re-reads the topic from its start can be replayed exactly.
 * The option and validation tests below never reach it (they fail before connecting).
 */
const fake = vi.hoisted(() => {
  type Listener = (event: { payload: Record<string, unknown> }) => void;
  interface Stored {
    key: string;
    value: string | null;
  }
  const log: Stored[] = [];
  class FakeConsumer {
    readonly events = { END_BATCH_PROCESS: 'end_batch_process', CRASH: 'crash' };
    readonly listeners = new Map<string, Listener[]>();
    eachBatch: ((payload: { batch: unknown }) => Promise<void>) | undefined;
    on(name: string, listener: Listener): void {
      this.listeners.set(name, [...(this.listeners.get(name) ?? []), listener]);
    }
    emit(name: string, payload: Record<string, unknown>): void {
      for (const listener of this.listeners.get(name) ?? []) listener({ payload });
    }
    connect = (): Promise<void> => Promise.resolve();
    subscribe = (): Promise<void> => Promise.resolve();
    run({ eachBatch }: { eachBatch: (payload: { batch: unknown }) => Promise<void> }): Promise<void> {
      this.eachBatch = eachBatch;
      return Promise.resolve();
    }
    disconnect = (): Promise<void> => Promise.resolve();
    /** One fetched batch of offsets [from, to), then END_BATCH_PROCESS as kafkajs emits it. */
    async deliver(from: number, to = log.length): Promise<void> {
      const messages = log.slice(from, to).map((record, i) => ({
        offset: String(from + i),
        key: Buffer.from(record.key),
        value: record.value === null ? null : Buffer.from(record.value),
        timestamp: '0',
        headers: {},
      }));
      await this.eachBatch!({ batch: { topic: 'rules', partition: 0, messages } });
      this.emit('end_batch_process', { partition: 0, lastOffset: String(to - 1) });
    }
  }
  const consumers: FakeConsumer[] = [];
  class Kafka {
    admin() {
      return {
        connect: () => Promise.resolve(),
        disconnect: () => Promise.resolve(),
        createTopics: () => Promise.resolve(true),
        fetchTopicOffsets: () => Promise.resolve([{ partition: 0, low: '0', high: String(log.length), offset: String(log.length) }]),
        deleteGroups: () => Promise.resolve([]),
      };
    }
    consumer() {
      const consumer = new FakeConsumer();
      consumers.push(consumer);
      return consumer;
    }
    producer() {
      return {
        connect: () => Promise.resolve(),
        disconnect: () => Promise.resolve(),
        send({ messages }: { messages: Stored[] }) {
          const baseOffset = log.length;
          log.push(...messages);
          const consumer = consumers.at(-1)!;
          // The consumer fetches the write shortly after the broker acknowledged it.
          setImmediate(() => void consumer.deliver(baseOffset));
          return Promise.resolve([{ topicName: 'rules', partition: 0, errorCode: 0, baseOffset: String(baseOffset) }]);
        },
      };
    }
  }
  const logLevel = { NOTHING: 0, ERROR: 1, WARN: 2, INFO: 4, DEBUG: 5 };
  const ConfigResourceTypes = { TOPIC: 2 };
  return { Kafka, logLevel, ConfigResourceTypes, log, consumers };
});

vi.mock('kafkajs', () => {
  const module = { Kafka: fake.Kafka, logLevel: fake.logLevel, ConfigResourceTypes: fake.ConfigResourceTypes };
  return { ...module, default: module };
});

// Nothing listens here: every check below must fail before a connection is attempted.
const offline: KafkaAlertRulesOptions = { brokers: ['127.0.0.1:1'], topic: 'alert-rules', retry: { retries: 0 }, connectionTimeoutMs: 200 };
const rule: AlertRule = { id: 'revenue-drop', metric: 'revenue', condition: '<', threshold: 100, severity: 'warning' };

async function rejection(promise: Promise<unknown>): Promise<InvalidOptionsError> {
  const error: unknown = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(InvalidOptionsError);
  return error as InvalidOptionsError;
}

describe('kafkaAlertRules options', () => {
  it('refuses a missing topic, an invalid topic name and absurd values, naming each field', () => {
    expect(() => kafkaAlertRules({ brokers: ['127.0.0.1:9092'] } as never)).toThrow(/topic/);
    expect(() => kafkaAlertRules({ ...offline, topic: 'bad topic!' })).toThrow(/topic: must be 1-249 characters/);
    expect(() => kafkaAlertRules({ ...offline, partitions: 0 })).toThrow(/partitions: must be a positive integer/);
    expect(() => kafkaAlertRules({ ...offline, catchUpTimeoutMs: -5 })).toThrow(/catchUpTimeoutMs/);
    expect(() => kafkaAlertRules({ ...offline, brokers: [] })).toThrow(/brokers: must name at least one broker/);
  });

  it('keeps the connection security rules of the other Kafka factories', () => {
    expect(() => kafkaAlertRules({ ...offline, sasl: { mechanism: 'plain', username: 'u', password: 'p' } })).toThrow(/PLAIN without TLS/);
  });
});

describe('KafkaAlertRules before start', () => {
  it('current() says to call start() first instead of returning an empty rule set', () => {
    const rules = kafkaAlertRules(offline);
    expect(() => rules.current()).toThrow(TributaryError);
    expect(() => rules.current()).toThrow(/call and await start\(\)/);
  });

  it('put validates the rule before touching Kafka and names every invalid field', async () => {
    const rules = kafkaAlertRules(offline);
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...rule, id: 'has space' }, /id: must be 1-64 letters/],
      [{ ...rule, id: 'x'.repeat(65) }, /id: must be 1-64 letters/],
      [{ ...rule, id: '' }, /id: /],
      [{ ...rule, metric: '' }, /metric: must be a non-empty string/],
      [{ ...rule, condition: '!=' }, /condition: must be one of/],
      [{ ...rule, threshold: Number.POSITIVE_INFINITY }, /threshold: must be a finite number/],
      [{ ...rule, threshold: Number.NaN }, /threshold: must be a finite number/],
      [{ ...rule, threshold: '5' }, /threshold: must be a finite number/],
      [{ ...rule, severity: 'fatal' }, /severity: must be 'info', 'warning' or 'critical'/],
      [{ ...rule, key: '' }, /key: must be a non-empty string/],
      [{ ...rule, extra: true }, /extra/],
    ];
    for (const [input, message] of cases) {
      const error = await rejection(rules.put(input as unknown as AlertRule));
      expect(error.message, JSON.stringify(input)).toMatch(message);
    }
    const both = await rejection(rules.put({ ...rule, metric: '', severity: 'fatal' } as unknown as AlertRule));
    expect(both.issues).toHaveLength(2);
  });

  it('delete refuses an invalid id before touching Kafka', async () => {
    const rules = kafkaAlertRules(offline);
    expect((await rejection(rules.delete('../etc'))).message).toMatch(/kafkaAlertRules.delete/);
  });

  it('a closed store refuses to start', async () => {
    const rules = kafkaAlertRules(offline);
    await rules.close();
    await expect(rules.start()).rejects.toThrow(/was closed/);
  });
});

describe('KafkaAlertRules after a consumer restart (fake kafkajs consumer)', () => {
  const rule = (id: string, threshold: number): AlertRule => ({ id, metric: 'revenue', condition: '<', threshold, severity: 'warning' });
  const put = (value: AlertRule): { key: string; value: string } => ({ key: value.id, value: JSON.stringify(value) });

  it('skips records it applied already when kafkajs re-reads the topic from its start: deleted and replaced rules stay gone', async () => {
    fake.log.splice(0, fake.log.length, put(rule('a', 1)), put(rule('b', 1)), { key: 'a', value: null }, put(rule('b', 2)), put(rule('c', 3)), { key: 'c', value: '{broken' });
    const warnings: string[] = [];
    const logger = { debug: () => undefined, info: () => undefined, warn: (_fields: unknown, message: string) => void warnings.push(message), error: () => undefined };
    const rules = kafkaAlertRules({ brokers: ['127.0.0.1:1'], topic: 'rules', logger });
    const starting = rules.start();
    await vi.waitFor(() => expect(fake.consumers.at(-1)?.eachBatch).toBeDefined());
    const consumer = fake.consumers.at(-1)!;
    await consumer.deliver(0);
    await starting;
    const settled = rules.current();
    expect(settled).toEqual([rule('b', 2)]);
    expect(warnings.filter((message) => /not JSON/.test(message))).toHaveLength(1);

    // kafkajs restarts the crashed consumer; with no committed offsets it fetches the topic from offset 0 again, in
    // small batches: after the first two records an unguarded store would hold a (deleted) and b at threshold 1.
    consumer.emit('crash', { error: new Error('Connection error: ECONNREFUSED'), restart: true });
    await consumer.deliver(0, 2);
    expect(rules.current()).toBe(settled);
    await consumer.deliver(2, 4);
    expect(rules.current()).toBe(settled);
    await consumer.deliver(4);
    expect(rules.current()).toBe(settled);
    // The broken record was not applied (nor logged) a second time.
    expect(warnings.filter((message) => /not JSON/.test(message))).toHaveLength(1);
    expect(warnings.filter((message) => /crashed; kafkajs restarts it/.test(message))).toHaveLength(1);

    // Records after the position still apply, whether written here or by another instance.
    await rules.put(rule('d', 4));
    expect(rules.current()).toEqual([rule('b', 2), rule('d', 4)]);
    fake.log.push({ key: 'b', value: null });
    await consumer.deliver(fake.log.length - 1);
    expect(rules.current()).toEqual([rule('d', 4)]);
    await rules.close();
  });
});
