import { describe, expect, it, vi } from 'vitest';
import { InvalidOptionsError, StepFailedError } from '../errors.js';
import { filter } from '../operators/filter.js';
import { map } from '../operators/map.js';
import { toSink } from '../operators/to-sink.js';
import type { DeadLetter } from '../record/dead-letter.js';
import type { Positions, StreamRecord } from '../record/stream-record.js';
import { memorySink } from '../sinks/memory-sink.js';
import type { Sink } from '../sinks/sink.js';
import { iterableSource } from '../sources/iterable-source.js';
import { MemoryLog } from '../sources/memory-log.js';
import { memorySource } from '../sources/memory-source.js';
import { MemoryStateStore } from '../state/memory-state-store.js';
import { PrometheusMetrics } from './metrics.js';
import { createRuntime } from './runtime.js';
import { defineTopology } from './topology.js';

interface Order {
  id: number;
  amount: number;
}

function orderLog(count: number, partitions = 2): MemoryLog<Order> {
  const log = new MemoryLog<Order>({ name: 'orders', partitions });
  for (let id = 0; id < count; id++) log.append(id % partitions, { value: { id, amount: id % 100 }, eventTime: 1_000 * id, key: String(id) });
  return log;
}

const ids = (records: readonly StreamRecord<Order>[]): number[] => records.map((record) => record.value.id).sort((a, b) => a - b);
const range = (count: number): number[] => Array.from({ length: count }, (_, index) => index);

describe('runtime', () => {
  it('runs a bounded source to the end and commits the final positions after the sink committed', async () => {
    const log = orderLog(5_000);
    log.end();
    const sink = memorySink<Order>();
    const job = defineTopology({
      name: 'bounded',
      source: memorySource(log),
      pipeline: (orders) => orders.pipe(map((order: Order) => ({ ...order, amount: order.amount * 2 })), toSink(sink)),
    });
    const runtime = createRuntime(job, { maxBatch: 300 });
    await runtime.start();
    await runtime.done;
    expect(ids(sink.committed)).toEqual(range(5_000));
    expect(sink.written).toHaveLength(0);
    expect(log.committed('default')).toEqual({ 'orders:0': 2_500, 'orders:1': 2_500 });
    expect(runtime.status().state).toBe('finished');
  });

  it('takes a checkpoint when a sink asks for one, without waiting for the interval', async () => {
    const log = orderLog(1_000, 1);
    const inner = memorySink<Order>();
    const reasons: string[] = [];
    let requestCheckpoint: (() => void) | undefined;
    let buffered = 0;
    const sink: Sink<Order> = {
      name: 'eager',
      open: (context) => {
        requestCheckpoint = context.requestCheckpoint;
      },
      write: (records) => {
        void inner.write(records);
        buffered += records.length;
        if (buffered >= 200) requestCheckpoint?.();
      },
      commit: (checkpoint) => {
        reasons.push(checkpoint.reason);
        buffered = 0;
        return inner.commit(checkpoint);
      },
    };
    const job = defineTopology({ name: 'eager', source: memorySource(log), pipeline: (orders) => orders.pipe(toSink(sink)) });
    const runtime = createRuntime(job, { maxBatch: 100, checkpointIntervalMs: 3_600_000 });
    await runtime.start();
    await vi.waitFor(() => expect(inner.committed).toHaveLength(1_000), { timeout: 5_000 });
    await runtime.stop();
    expect(requestCheckpoint).toBeTypeOf('function');
    expect(reasons.filter((reason) => reason === 'request').length).toBeGreaterThanOrEqual(4);
  });

  it('commits source positions only after every sink committed them', async () => {
    const log = orderLog(2_000);
    log.end();
    const events: string[] = [];
    const inner = memorySink<Order>({ writeDelayMs: 1 });
    const tracing: Sink<Order> = {
      name: 'tracing',
      open: (context) => inner.open(context),
      write: (records) => inner.write(records),
      commit: async (checkpoint) => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        events.push(`sink-commit:${JSON.stringify(checkpoint.positions)}`);
        await inner.commit(checkpoint);
      },
    };
    const source = memorySource(log);
    const commit = source.commit.bind(source);
    source.commit = async (positions: Positions) => {
      events.push(`source-commit:${JSON.stringify(positions)}`);
      await commit(positions);
    };
    const runtime = createRuntime(defineTopology({ name: 'ordering', source, pipeline: (s) => s.pipe(toSink(tracing)) }), {
      maxBatch: 100,
      maxInFlight: 200,
      checkpointIntervalMs: 1,
    });
    await runtime.start();
    await runtime.done;
    expect(events.length).toBeGreaterThanOrEqual(6);
    for (let index = 0; index < events.length; index += 2) {
      expect(events[index]).toMatch(/^sink-commit:/);
      expect(events[index + 1]).toBe(events[index]!.replace('sink-commit', 'source-commit'));
    }
  });

  it('pauses the source when a slow sink fills the in-flight budget, and in-flight stays bounded', async () => {
    const maxInFlight = 200;
    let produced = 0;
    let delivered = 0;
    let maxOutstanding = 0;
    function* generate(): Generator<Order> {
      for (let id = 0; id < 5_000; id++) {
        produced++;
        yield { id, amount: 1 };
      }
    }
    const slow = memorySink<Order>({ writeDelayMs: 2 });
    const observing: Sink<Order> = {
      name: 'observing',
      open: (context) => slow.open(context),
      write: (records) => {
        delivered += records.length;
        maxOutstanding = Math.max(maxOutstanding, produced - delivered);
        return slow.write(records);
      },
      commit: (checkpoint) => slow.commit(checkpoint),
    };
    const source = iterableSource(generate, { eventTime: (order) => order.id, batchSize: 50 });
    const pauses: number[] = [];
    const pause = source.pause?.bind(source);
    source.pause = () => {
      pauses.push(runtime.status().inFlight);
      pause?.();
    };
    const runtime = createRuntime(defineTopology({ name: 'slow', source, pipeline: (s) => s.pipe(toSink(observing)) }), {
      maxInFlight,
      maxBatch: 50,
    });
    await runtime.start();
    await runtime.done;
    expect(slow.committed).toHaveLength(5_000);
    expect(pauses.length).toBeGreaterThan(0);
    for (const inFlight of pauses) expect(inFlight).toBeLessThanOrEqual(maxInFlight);
    // Memory is bounded by construction: the source never ran ahead of the sink by more than the budget plus one
    // prefetched batch, whatever the input size.
    expect(maxOutstanding).toBeLessThanOrEqual(maxInFlight + 50);
  });

  it('after a crash, a restart from committed positions loses nothing (at-least-once)', async () => {
    const log = orderLog(3_000);
    log.end();
    const sink = memorySink<Order>({ writeDelayMs: 1 });
    const store = new MemoryStateStore();
    let crash: (() => void) | undefined;
    const crashed = new Promise<void>((resolve) => (crash = resolve));
    // Crashes right after the third sink commit, before that checkpoint's source commit: mid-stream by construction.
    const crashingSink: Sink<Order> = {
      name: 'orders',
      write: (records) => sink.write(records),
      commit: async (checkpoint) => {
        await sink.commit(checkpoint);
        if (sink.commits.length === 3) {
          crash?.();
          await new Promise(() => undefined);
        }
      },
      abort: () => sink.abort(),
    };
    const make = (target: Sink<Order>) =>
      createRuntime(defineTopology({ name: 'alo', source: memorySource(log), pipeline: (s) => s.pipe(toSink(target)) }), {
        maxBatch: 100,
        maxInFlight: 200,
        checkpointIntervalMs: 1,
        stateStore: store,
      });
    const first = make(crashingSink);
    await first.start();
    await crashed;
    await first.abort();
    const committedBefore = sink.committed.length;
    expect(committedBefore).toBeGreaterThan(0);
    expect(committedBefore).toBeLessThan(3_000);
    expect(Object.values(log.committed('default')).reduce((a, b) => a + b, 0)).toBeLessThan(committedBefore);

    const second = make(sink);
    await second.start();
    await second.done;
    const seen = new Set(sink.committed.map((record) => record.value.id));
    expect([...seen].sort((a, b) => a - b)).toEqual(range(3_000));
    // At-least-once: what the crash left uncommitted at the source was delivered again.
    expect(sink.committed.length).toBeGreaterThan(3_000);
  });

  it('with an exactly-once sink, a crash between the sink commit and the source commit duplicates nothing', async () => {
    const log = orderLog(3_000);
    log.end();
    const sink = memorySink<Order>({ exactlyOnce: true, writeDelayMs: 1 });
    const store = new MemoryStateStore();
    let crash: (() => void) | undefined;
    const crashed = new Promise<void>((resolve) => (crash = resolve));
    let sourceCommits = 0;
    const make = (crashAfter: number) => {
      const source = memorySource(log);
      const commit = source.commit.bind(source);
      // The source commit after `crashAfter` successful ones never completes: the sink already holds that checkpoint.
      source.commit = (positions) => {
        if (++sourceCommits <= crashAfter) return commit(positions);
        crash?.();
        return new Promise<void>(() => undefined);
      };
      return createRuntime(defineTopology({ name: 'eos', source, pipeline: (s) => s.pipe(toSink(sink)) }), {
        maxBatch: 100,
        maxInFlight: 200,
        checkpointIntervalMs: 1,
        stateStore: store,
      });
    };
    const first = make(2);
    await first.start();
    await crashed;
    await first.abort();
    const sinkPositions = (await sink.committedPositions!())!.positions;
    expect(log.committed('default')).not.toEqual(sinkPositions);
    expect(sink.committed.length).toBeLessThan(3_000);

    sourceCommits = Number.NEGATIVE_INFINITY;
    const second = make(Number.POSITIVE_INFINITY);
    await second.start();
    await second.done;
    expect(ids(sink.committed)).toEqual(range(3_000));
  });

  it('a step with policy fail stops the runtime without committing the failing record', async () => {
    const log = orderLog(500, 1);
    log.end();
    const sink = memorySink<Order>();
    const job = defineTopology({
      name: 'failing',
      source: memorySource(log, { batchSize: 50 }),
      pipeline: (s) =>
        s.pipe(
          map(
            (order: Order) => {
              if (order.id === 321) throw new Error('cannot price order 321');
              return order;
            },
            { name: 'price', onError: 'fail' },
          ),
          toSink(sink),
        ),
    });
    const runtime = createRuntime(job, { maxBatch: 50, checkpointIntervalMs: 1 });
    await runtime.start();
    const error = await runtime.done.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(StepFailedError);
    expect(error).toMatchObject({ stage: 'price', partition: 'orders:0', offset: 321 });
    expect(log.committed('default')['orders:0'] ?? 0).toBeLessThanOrEqual(321);
    expect(runtime.status().state).toBe('failed');
  });

  it('sends dead letters to the dead-letter sink with stage and position, and keeps going', async () => {
    const log = orderLog(100, 1);
    log.end();
    const sink = memorySink<Order>();
    const deadLetters = memorySink<DeadLetter>();
    const job = defineTopology({
      name: 'dlq',
      source: memorySource(log),
      pipeline: (s) =>
        s.pipe(
          map(
            (order: Order) => {
              if (order.id % 10 === 0) throw new Error(`bad order ${order.id}`);
              return order;
            },
            { name: 'check' },
          ),
          filter((order: Order) => order.amount >= 0),
          toSink(sink),
        ),
    });
    const runtime = createRuntime(job, { deadLetters });
    await runtime.start();
    await runtime.done;
    expect(sink.committed).toHaveLength(90);
    expect(deadLetters.committed.map((record) => record.value.record.position.offset)).toEqual(range(10).map((n) => n * 10));
    expect(deadLetters.committed[0]!.value).toMatchObject({ stage: 'check', error: { message: 'bad order 0' } });
    expect(runtime.status().deadLetters).toBe(10);
  });

  it('exposes Prometheus metrics for steps, watermark, in-flight and commits', async () => {
    const log = orderLog(100, 1);
    log.end();
    const metrics = new PrometheusMetrics();
    const runtime = createRuntime(
      defineTopology({ name: 'metered', source: memorySource(log), pipeline: (s) => s.pipe(map((o: Order) => o, { name: 'identity' }), toSink(memorySink())) }),
      { metrics },
    );
    await runtime.start();
    await runtime.done;
    const text = metrics.expose();
    expect(text).toContain('tributary_records_in_total{step="identity",topology="metered"} 100');
    expect(text).toContain('tributary_records_out_total{step="identity",topology="metered"} 100');
    expect(text).toContain('# TYPE tributary_commit_latency_seconds histogram');
    expect(text).toMatch(/tributary_checkpoints_total\{topology="metered"\} [1-9]/);
    expect(text).toContain('tributary_in_flight_records{topology="metered"} 0');
  });

  it('rejects invalid options at construction, naming the field', () => {
    const job = defineTopology({ name: 'x', source: memorySource<Order>([]), pipeline: (s) => s.pipe(toSink(memorySink())) });
    expect(() => createRuntime(job, { maxInFlight: 0 })).toThrow(InvalidOptionsError);
    expect(() => createRuntime(job, { maxInFlight: 0 })).toThrow(/maxInFlight/);
    expect(() => createRuntime(job, { watermark: { outOfOrdernessMs: -1 } })).toThrow(/watermark\.outOfOrdernessMs/);
    expect(() => createRuntime(job, { clock: {} as never })).toThrow(/clock/);
    expect(() => defineTopology({ name: 'bad name!', source: memorySource<Order>([]), pipeline: (s) => s.pipe(toSink(memorySink())) })).toThrow(/name/);
  });
});
