import { describe, expect, it, vi } from 'vitest';
import { silentLogger, systemClock } from '@tributary/core';
import type { Clock, Logger, SourceContext } from '@tributary/core';
import { kafkaSource } from './kafka-source.js';
import type { KafkaSource } from './kafka-source.js';

/**
 * A stand-in for kafkajs, enough for a source to open, be assigned partition t:0 and commit: the commit policy is
 * tested against the failures kafkajs reports, without a broker.
 */
const fake = vi.hoisted(() => {
  type Listener = (event: { payload: Record<string, unknown> }) => void;
  class FakeConsumer {
    readonly events = { GROUP_JOIN: 'group_join', COMMIT_OFFSETS: 'commit_offsets', CRASH: 'crash', STOP: 'stop', REBALANCING: 'rebalancing' };
    readonly listeners = new Map<string, Listener[]>();
    readonly commits: unknown[] = [];
    /** What the next commitOffsets does; by default it commits (and kafkajs emits COMMIT_OFFSETS). */
    onCommit: (offsets: unknown) => Promise<void> = (offsets) => {
      this.commits.push(offsets);
      this.emit('commit_offsets', {});
      return Promise.resolve();
    };
    on(name: string, listener: Listener): void {
      this.listeners.set(name, [...(this.listeners.get(name) ?? []), listener]);
    }
    emit(name: string, payload: Record<string, unknown>): void {
      for (const listener of this.listeners.get(name) ?? []) listener({ payload });
    }
    connect = (): Promise<void> => Promise.resolve();
    subscribe = (): Promise<void> => Promise.resolve();
    run(): Promise<void> {
      setImmediate(() => this.emit('group_join', { memberAssignment: { t: [0] } }));
      return Promise.resolve();
    }
    commitOffsets = (offsets: unknown): Promise<void> => this.onCommit(offsets);
    seek = (): void => undefined;
    pause = (): void => undefined;
    resume = (): void => undefined;
    disconnect = (): Promise<void> => Promise.resolve();
  }
  const consumers: FakeConsumer[] = [];
  class Kafka {
    admin() {
      return {
        connect: () => Promise.resolve(),
        disconnect: () => Promise.resolve(),
        listTopics: () => Promise.resolve(['t']),
        fetchOffsets: () => Promise.resolve([{ topic: 't', partitions: [{ partition: 0, offset: '-1' }] }]),
        fetchTopicOffsets: () => Promise.resolve([{ partition: 0, low: '0', high: '0', offset: '0' }]),
      };
    }
    consumer() {
      const consumer = new FakeConsumer();
      consumers.push(consumer);
      return consumer;
    }
  }
  const logLevel = { NOTHING: 0, ERROR: 1, WARN: 2, INFO: 4, DEBUG: 5 };
  return { Kafka, logLevel, consumers };
});

vi.mock('kafkajs', () => ({ Kafka: fake.Kafka, logLevel: fake.logLevel, default: { Kafka: fake.Kafka, logLevel: fake.logLevel } }));

const context = (withDeadLetters: boolean, clock: Clock = systemClock, logger: Logger = silentLogger): SourceContext => ({
  clock,
  logger,
  signal: new AbortController().signal,
  assigned: () => Promise.resolve({}),
  revoked: () => Promise.resolve(),
  ...(withDeadLetters ? { deadLetters: () => undefined } : {}),
});

/** kafkajs's shapes: a request timeout (retriable) and an authorization failure (not retriable). */
const retriable = (): Error => Object.assign(new Error('Request commitOffsets timed out'), { name: 'KafkaJSRequestTimeoutError', retriable: true });
const fatal = (): Error => Object.assign(new Error('Not authorized to access group'), { name: 'KafkaJSProtocolError', type: 'GROUP_AUTHORIZATION_FAILED', retriable: false });

interface Harness {
  source: KafkaSource<unknown>;
  consumer: (typeof fake.consumers)[number];
  advance: (ms: number) => void;
  logs: { level: string; message: string }[];
}

async function openSource(maxCommitOutageMs?: number): Promise<Harness> {
  let now = 1_700_000_000_000;
  const clock: Clock = { now: () => now, setTimer: (delayMs, callback) => systemClock.setTimer(delayMs, callback) };
  const logs: { level: string; message: string }[] = [];
  const keep = (level: string) => (_fields: unknown, message?: string) => void logs.push({ level, message: message ?? '' });
  const logger: Logger = { debug: keep('debug'), info: keep('info'), warn: keep('warn'), error: keep('error') };
  const source = kafkaSource({ brokers: ['127.0.0.1:1'], topics: ['t'], groupId: 'g', ...(maxCommitOutageMs === undefined ? {} : { maxCommitOutageMs }) });
  await source.open(context(true, clock, logger));
  const consumer = fake.consumers.at(-1)!;
  return { source, consumer, advance: (ms) => void (now += ms), logs };
}

const count = (logs: Harness['logs'], level: string, pattern: RegExp): number => logs.filter((line) => line.level === level && pattern.test(line.message)).length;

describe('kafkaSource lifecycle without a broker', () => {
  it('refuses a context without deadLetters before connecting (undecodable records would be lost)', async () => {
    const source = kafkaSource({ brokers: ['127.0.0.1:1'], topics: ['t'], groupId: 'g' });
    await expect(source.open(context(false))).rejects.toMatchObject({ code: 'SOURCE_NEEDS_DEAD_LETTERS' });
  });

  it('poll before open throws; commit before open (or after close) is refused', async () => {
    const source = kafkaSource({ brokers: ['127.0.0.1:1'], topics: ['t'], groupId: 'g' });
    await expect(source.poll(10, new AbortController().signal)).rejects.toMatchObject({ code: 'SOURCE_NOT_OPEN' });
    await expect(source.commit({ 't:0': 1 })).rejects.toMatchObject({ code: 'KAFKA_SOURCE_CLOSED' });
    await source.close();
    await expect(source.commit({ 't:0': 1 })).rejects.toMatchObject({ code: 'KAFKA_SOURCE_CLOSED' });
    expect(source.partitions()).toEqual([]);
    expect(source.stats()).toMatchObject({ pauses: 0, buffered: 0, lateRevokes: 0, commitsSkipped: 0, commitOutageMs: 0 });
  });

  it('refuses a maxCommitOutageMs that is not a positive number of milliseconds', () => {
    expect(() => kafkaSource({ brokers: ['127.0.0.1:1'], topics: ['t'], groupId: 'g', maxCommitOutageMs: 0 })).toThrow(/maxCommitOutageMs/);
    expect(() => kafkaSource({ brokers: ['127.0.0.1:1'], topics: ['t'], groupId: 'g', maxCommitOutageMs: 1.5 })).toThrow(/maxCommitOutageMs/);
  });
});

describe('kafkaSource commit outage (fake kafkajs consumer)', () => {
  it('skips retriable commit failures within maxCommitOutageMs, then fails with a retriable KAFKA_COMMIT_FAILED', async () => {
    const { source, consumer, advance, logs } = await openSource(60_000);
    try {
      await source.commit({ 't:0': 10 });
      expect(consumer.commits).toHaveLength(1);
      const committedAt = source.stats().lastCommitAt;
      expect(committedAt).toBeTypeOf('number');
      expect(source.stats()).toMatchObject({ commitsSkipped: 0, commitsSkippedInOutage: 0, commitOutageMs: 0, sinceLastCommitMs: 0 });

      consumer.onCommit = () => Promise.reject(retriable());
      advance(5_000);
      await source.commit({ 't:0': 20 }); // outage starts: skipped, not thrown
      advance(20_000);
      await source.commit({ 't:0': 30 });
      expect(source.stats()).toMatchObject({ commitsSkipped: 2, commitsSkippedInOutage: 2, commitOutageMs: 20_000, sinceLastCommitMs: 25_000, lastCommitAt: committedAt });
      expect(count(logs, 'warn', /kafka commit skipped/)).toBe(1); // once per outage, not per checkpoint
      expect(count(logs, 'error', /still failing/)).toBe(0);

      advance(29_000); // 49 s into the outage: past 80 % of the bound
      await source.commit({ 't:0': 40 });
      advance(1_000);
      await source.commit({ 't:0': 40 });
      expect(count(logs, 'error', /still failing after 49000 ms: the source fails in 11000 ms/)).toBe(1);
      expect(count(logs, 'warn', /kafka commit skipped/)).toBe(1);

      advance(10_000); // 60 s: the bound
      const failure = await source.commit({ 't:0': 50 }).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toMatchObject({ code: 'KAFKA_COMMIT_FAILED', retriable: true });
      expect((failure as Error).message).toMatch(/no offset commit of group "g" succeeded for 60000 ms \(4 skipped; maxCommitOutageMs is 60000\).*timed out/);
      expect(source.stats()).toMatchObject({ commitsSkipped: 4, commitOutageMs: 60_000, sinceLastCommitMs: 65_000 });
    } finally {
      await source.close();
    }
  });

  it('a successful commit ends the outage: the next outage gets a fresh bound and a fresh warning', async () => {
    const { source, consumer, advance, logs } = await openSource(10_000);
    try {
      const commit = consumer.onCommit;
      consumer.onCommit = () => Promise.reject(retriable());
      await source.commit({ 't:0': 1 });
      advance(9_000);
      await source.commit({ 't:0': 2 });
      consumer.onCommit = commit;
      advance(500);
      await source.commit({ 't:0': 3 });
      expect(source.stats()).toMatchObject({ commitsSkipped: 2, commitsSkippedInOutage: 0, commitOutageMs: 0, sinceLastCommitMs: 0 });
      expect(count(logs, 'info', /commits succeed again/)).toBe(1);

      consumer.onCommit = () => Promise.reject(retriable());
      advance(5_000);
      await source.commit({ 't:0': 4 }); // 14.5 s after the first outage began, but a new outage
      advance(9_999);
      await source.commit({ 't:0': 5 });
      expect(count(logs, 'warn', /kafka commit skipped/)).toBe(2);
      advance(1);
      await expect(source.commit({ 't:0': 6 })).rejects.toMatchObject({ code: 'KAFKA_COMMIT_FAILED' });
    } finally {
      await source.close();
    }
  });

  it('while kafkajs restarts a crashed consumer commits are skipped (bounded too); after GROUP_JOIN they go through again', async () => {
    const { source, consumer, advance } = await openSource(30_000);
    try {
      consumer.emit('stop', {});
      consumer.emit('crash', { error: retriable(), restart: true });
      await source.commit({ 't:0': 7 });
      expect(consumer.commits).toHaveLength(0); // never handed to a consumer without a group
      expect(source.stats().commitsSkippedInOutage).toBe(1);
      advance(30_000);
      await expect(source.commit({ 't:0': 8 })).rejects.toMatchObject({ code: 'KAFKA_COMMIT_FAILED', retriable: true });

      consumer.emit('group_join', { memberAssignment: { t: [0] } });
      await vi.waitFor(() => expect(source.partitions()).toEqual(['t:0']));
      await source.commit({ 't:0': 9 });
      expect(consumer.commits).toHaveLength(1);
      expect(source.stats()).toMatchObject({ commitOutageMs: 0, commitsSkippedInOutage: 0 });
    } finally {
      await source.close();
    }
  });

  it('after a crash kafkajs does not restart from, commit rejects with the stored failure instead of reporting success', async () => {
    for (const withStop of [true, false]) {
      const { source, consumer } = await openSource();
      try {
        // kafkajs emits STOP before CRASH; without it the stored failure must still win over a commit that "works".
        if (withStop) consumer.emit('stop', {});
        consumer.emit('crash', { error: fatal(), restart: false });
        await expect(source.commit({ 't:0': 5 })).rejects.toMatchObject({ code: 'KAFKA_CONSUMER_FAILED' });
        await expect(source.commit({ 't:0': 5 })).rejects.toMatchObject({ code: 'KAFKA_CONSUMER_FAILED' });
        expect(consumer.commits).toHaveLength(0);
        expect(source.stats().commitsSkipped).toBe(0);
      } finally {
        await source.close();
      }
    }
  });

  it('a crash kafkajs gives up on while a commit is retrying: that commit rejects with the failure, not a skip', async () => {
    const { source, consumer } = await openSource();
    try {
      consumer.onCommit = () => {
        consumer.emit('stop', {});
        consumer.emit('crash', { error: fatal(), restart: false });
        return Promise.reject(retriable());
      };
      await expect(source.commit({ 't:0': 5 })).rejects.toMatchObject({ code: 'KAFKA_CONSUMER_FAILED' });
      expect(source.stats().commitsSkipped).toBe(0);
    } finally {
      await source.close();
    }
  });

  it('a non-retriable commit failure rejects at once, without starting an outage', async () => {
    const { source, consumer } = await openSource();
    try {
      consumer.onCommit = () => Promise.reject(fatal());
      await expect(source.commit({ 't:0': 5 })).rejects.toMatchObject({ code: 'KAFKA_COMMIT_FAILED', retriable: false });
      expect(source.stats()).toMatchObject({ commitsSkipped: 0, commitOutageMs: 0 });
    } finally {
      await source.close();
    }
  });

  it('uses a 5-minute bound by default', async () => {
    const { source, consumer, advance } = await openSource();
    try {
      consumer.onCommit = () => Promise.reject(retriable());
      await source.commit({ 't:0': 1 });
      advance(299_999);
      await source.commit({ 't:0': 2 });
      advance(1);
      await expect(source.commit({ 't:0': 3 })).rejects.toMatchObject({ code: 'KAFKA_COMMIT_FAILED' });
    } finally {
      await source.close();
    }
  });
});
