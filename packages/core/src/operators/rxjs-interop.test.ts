/**
 * Plain RxJS operators inside a topology see Chunk objects — batches of records and control chunks (watermarks,
 * barriers, dead letters, late records) — not records. These tests back the claims of
 * docs/guides/rxjs-in-topologies.md: operators that pass every chunk through once and in order keep a topology
 * correct; operators that drop, hold back or reorder chunks lose records or stall progress.
 *
 * Every test that can stall races its promise against a timer, so a broken expectation fails instead of hanging.
 */
import { asyncScheduler, bufferCount, catchError, concatAll, concatMap, debounceTime, filter as rxFilter, map as rxMap, mergeMap, observeOn, of, subscribeOn, take, tap, throwError, timer } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { Chunk } from '../record/chunk.js';
import { createRuntime } from '../runtime/runtime.js';
import { defineTopology } from '../runtime/topology.js';
import { memorySink } from '../sinks/memory-sink.js';
import { MemoryLog } from '../sources/memory-log.js';
import { memorySource } from '../sources/memory-source.js';
import { TestDriver } from '../testing/test-driver.js';
import { dedupe } from './dedupe.js';
import { filter } from './filter.js';
import { map } from './map.js';
import { toSink } from './to-sink.js';

interface Order {
  readonly id: string;
  readonly amount: number;
}

/** Resolves with whether `promise` settled within `ms` of real time. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<'settled' | 'timed out'> {
  let cancel: (() => void) | undefined;
  const timeout = new Promise<'timed out'>((resolve) => {
    const handle = setTimeout(() => resolve('timed out'), ms);
    cancel = () => clearTimeout(handle);
  });
  // A stalled promise may still reject later (e.g. when the test tears the pipeline down); that must not go unhandled.
  const settled = promise.then(
    () => 'settled' as const,
    () => 'settled' as const,
  );
  try {
    return await Promise.race([settled, timeout]);
  } finally {
    cancel?.();
  }
}

describe('plain RxJS operators that keep a topology correct', () => {
  it('tap sees every chunk once, in order, and changes nothing', async () => {
    const seen: string[] = [];
    const sink = memorySink<number>({ name: 'doubled' });
    const driver = new TestDriver<number>({
      name: 'tapped',
      pipeline: (orders) =>
        orders.pipe(
          tap((chunk: Chunk<number>) => seen.push(chunk.kind === 'barrier' ? `barrier ${chunk.id}` : chunk.kind)),
          map((n) => n * 2, { name: 'double' }),
          toSink(sink),
        ),
    });

    await driver.sendMany([
      { value: 1, eventTime: 1_000 },
      { value: 2, eventTime: 2_000 },
    ]);
    await driver.send(3, { eventTime: 3_000, partition: 'p1' });
    await driver.checkpoint();

    expect(sink.values).toEqual([2, 4, 6]);
    expect(driver.committedPositions).toEqual({ p0: 2, p1: 1 });
    // One data chunk per batch, followed by the progress barrier of that batch; the last barrier is the checkpoint's.
    expect(seen).toEqual(['data', 'barrier 1', 'data', 'barrier 2', 'barrier 3']);
  });

  it('observeOn(asyncScheduler) moves chunks to later macrotasks but keeps their order: nothing is lost, state survives a crash', async () => {
    const sink = memorySink<Order>({ name: 'unique-orders' });
    const driver = new TestDriver<Order>(
      {
        name: 'observed',
        pipeline: (orders) =>
          orders.pipe(
            observeOn(asyncScheduler),
            dedupe({ name: 'unique', key: (order) => order.id, within: { ttlMs: 60_000 } }),
            observeOn(asyncScheduler),
            toSink(sink),
          ),
      },
      { autoWatermarkOutOfOrdernessMs: 0 },
    );

    await driver.send({ id: 'a', amount: 5 }, { eventTime: 1_000 });
    // `send` resolves when the batch's barrier reached the end, which is after the record reached the sink.
    expect(sink.written.map((record) => record.value.id)).toEqual(['a']);
    await driver.send({ id: 'a', amount: 5 }, { eventTime: 2_000 }); // a duplicate
    await driver.send({ id: 'b', amount: 7 }, { eventTime: 3_000 });
    await driver.checkpoint();
    expect(sink.values.map((order) => order.id)).toEqual(['a', 'b']);
    expect(driver.committedPositions).toEqual({ p0: 3 });

    // The dedupe state was checkpointed with the positions: after a crash a repeat of 'a' is still a duplicate.
    await driver.crash();
    await driver.restart();
    await driver.send({ id: 'a', amount: 5 }, { eventTime: 4_000 });
    await driver.send({ id: 'c', amount: 1 }, { eventTime: 5_000 });
    await driver.checkpoint();
    expect(sink.values.map((order) => order.id)).toEqual(['a', 'b', 'c']);
    expect(driver.committedPositions).toEqual({ p0: 5 });
  });

  it('concatMap with asynchronous work is safe when it re-emits every chunk, control chunks included, exactly once', async () => {
    const sink = memorySink<number>({ name: 'out' });
    const driver = new TestDriver<number>({
      name: 'concat-mapped',
      pipeline: (numbers) =>
        numbers.pipe(
          // Slow work on data chunks, control chunks passed straight through: one chunk at a time, in order.
          concatMap((chunk: Chunk<number>) => (chunk.kind === 'data' ? timer(20).pipe(rxMap(() => chunk)) : of(chunk))),
          toSink(sink),
        ),
    });
    await driver.send(1, { eventTime: 1 });
    expect(sink.written.map((record) => record.value)).toEqual([1]);
    await driver.checkpoint();
    expect(sink.values).toEqual([1]);
    expect(driver.committedPositions).toEqual({ p0: 1 });
  });
});

describe('plain RxJS operators that break progress tracking', () => {
  it('filter on chunks that drops control chunks: the barrier never reaches the end, so sends and checkpoints stall', async () => {
    const sink = memorySink<number>({ name: 'out' });
    const driver = new TestDriver<number>({
      name: 'data-only',
      pipeline: (numbers) =>
        numbers.pipe(
          rxFilter((chunk: Chunk<number>) => chunk.kind === 'data'),
          toSink(sink),
        ),
    });

    expect(await settlesWithin(driver.send(1, { eventTime: 1 }), 200)).toBe('timed out');
    // The record itself reached the sink, but nobody will ever learn that it did.
    expect(sink.written.map((record) => record.value)).toEqual([1]);
    expect(await settlesWithin(driver.checkpoint(), 200)).toBe('timed out');
    expect(driver.committedPositions).toEqual({});
    expect(sink.committed).toEqual([]);
  });

  it('filter on chunks that drops data chunks: whole batches vanish — no dead letter — and their positions are committed', async () => {
    const rxjsSink = memorySink<Order>({ name: 'rxjs-filtered' });
    const rxjsDriver = new TestDriver<Order>({
      name: 'rxjs-filter',
      pipeline: (orders) =>
        orders.pipe(
          // Meant as "drop orders with a negative amount"; drops every batch holding one.
          rxFilter((chunk: Chunk<Order>) => chunk.kind !== 'data' || chunk.records.every((record) => record.value.amount >= 0)),
          toSink(rxjsSink),
        ),
    });
    const tributarySink = memorySink<Order>({ name: 'tributary-filtered' });
    const tributaryDriver = new TestDriver<Order>({
      name: 'tributary-filter',
      pipeline: (orders) => orders.pipe(filter((order) => order.amount >= 0, { name: 'non-negative' }), toSink(tributarySink)),
    });

    const batch = [
      { value: { id: 'good', amount: 5 }, eventTime: 1 },
      { value: { id: 'refund', amount: -1 }, eventTime: 2 },
    ];
    for (const driver of [rxjsDriver, tributaryDriver]) {
      await driver.sendMany(batch);
      await driver.checkpoint();
      expect(driver.committedPositions).toEqual({ p0: 2 });
      expect(driver.deadLetters).toEqual([]);
    }
    expect(rxjsSink.values).toEqual([]); // 'good' is gone for good: its position is committed
    expect(tributarySink.values.map((order) => order.id)).toEqual(['good']);
  });

  it('debounceTime keeps only the last chunk of a burst: the data chunk is dropped, its barrier passes, the position is committed', async () => {
    const sink = memorySink<number>({ name: 'out' });
    const driver = new TestDriver<number>({
      name: 'debounced',
      pipeline: (numbers) => numbers.pipe(debounceTime(5), toSink(sink)),
    });

    // A batch is pushed as [data, barrier] in one go; debounceTime emits only the barrier, 5 ms later.
    expect(await settlesWithin(driver.send(1, { eventTime: 1 }), 1_000)).toBe('settled');
    expect(await settlesWithin(driver.checkpoint(), 1_000)).toBe('settled');
    expect(driver.committedPositions).toEqual({ p0: 1 });
    expect(sink.written).toEqual([]);
    expect(sink.values).toEqual([]);
    expect(driver.deadLetters).toEqual([]);
  });

  it('debounceTime in a running topology: collapsed barriers leave records counted in flight forever, so a graceful stop never completes', async () => {
    const log = new MemoryLog<number>({ name: 'numbers', partitions: 1 });
    log.appendValues(0, [1, 2, 3, 4, 5, 6, 7, 8]);
    const sink = memorySink<number>({ name: 'out' });
    const runtime = createRuntime(
      defineTopology({
        name: 'debounced-runtime',
        source: memorySource(log, { batchSize: 1 }),
        pipeline: (numbers) => numbers.pipe(debounceTime(50), toSink(sink)),
      }),
      { maxInFlight: 100 },
    );
    await runtime.start();
    // Eight one-record batches are polled back to back; their barriers fall within one debounce period.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(runtime.status().inFlight).toBeGreaterThan(0);
    expect(await settlesWithin(runtime.stop(), 500)).toBe('timed out');
    expect(sink.values).toEqual([]);
    await runtime.abort();
  });

  it('mergeMap with asynchronous work lets the barrier overtake the data: a checkpoint commits positions of records no sink holds', async () => {
    const sink = memorySink<number>({ name: 'out' });
    const driver = new TestDriver<number>({
      name: 'merge-mapped',
      pipeline: (numbers) =>
        numbers.pipe(
          mergeMap((chunk: Chunk<number>) => (chunk.kind === 'data' ? timer(20).pipe(rxMap(() => chunk)) : of(chunk))),
          toSink(sink),
        ),
    });

    await driver.send(1, { eventTime: 1 });
    expect(sink.written).toEqual([]); // the send "completed" before the record reached the sink
    await driver.checkpoint();
    expect(driver.committedPositions).toEqual({ p0: 1 });
    expect(sink.committed).toEqual([]);

    // A crash now loses the record: the restarted driver resumes after it.
    await driver.crash();
    await driver.restart();
    await driver.checkpoint();
    expect(sink.values).toEqual([]);
    expect(driver.committedPositions).toEqual({ p0: 1 });
  });

  it('take completes the pipeline early: it detaches from the input, so every later batch and checkpoint stalls', async () => {
    const sink = memorySink<number>({ name: 'out' });
    const driver = new TestDriver<number>({ name: 'taken', pipeline: (numbers) => numbers.pipe(take(2), toSink(sink)) });

    // The first batch is two chunks, [data, barrier]: both pass, then take(2) completes.
    expect(await settlesWithin(driver.send(1, { eventTime: 1 }), 1_000)).toBe('settled');
    expect(await settlesWithin(driver.send(2, { eventTime: 2 }), 200)).toBe('timed out');
    expect(await settlesWithin(driver.checkpoint(), 200)).toBe('timed out');
    expect(driver.committedPositions).toEqual({});
  });

  it('bufferCount (flattened again) holds the checkpoint barrier until the buffer fills, which never happens: a checkpoint stalls', async () => {
    const sink = memorySink<number>({ name: 'out' });
    const driver = new TestDriver<number>({
      name: 'buffered',
      pipeline: (numbers) => numbers.pipe(bufferCount(3), concatAll(), toSink(sink)),
    });

    // [data, barrier] is two chunks; the buffer needs three.
    expect(await settlesWithin(driver.send(1, { eventTime: 1 }), 200)).toBe('timed out');
    // The checkpoint barrier is the third chunk: it releases the buffer, then the checkpoint completes...
    expect(await settlesWithin(driver.checkpoint(), 1_000)).toBe('settled');
    // ...but the next checkpoint pushes one barrier and nothing after it, so it waits forever.
    expect(await settlesWithin(driver.checkpoint(), 200)).toBe('timed out');
  });

  it('catchError that re-subscribes cannot swallow a fail policy: the re-subscription fails the topology, nothing is committed', async () => {
    const sink = memorySink<number>({ name: 'out' });
    let failures = 0;
    let resubscriptions = 0;
    const driver = new TestDriver<number>({
      name: 'caught',
      pipeline: (numbers) =>
        numbers.pipe(
          map(
            (n: number) => {
              if (n === 1 && failures++ === 0) throw new Error('transient');
              return n;
            },
            { name: 'flaky', onError: 'fail' }, // meant to stop the topology without committing the record
          ),
          // Tries to re-subscribe to the input and carry on (once: a selector that always re-subscribes loops forever).
          catchError((error: unknown, caught) => (resubscriptions++ < 1 ? caught : throwError(() => error))),
          toSink(sink),
        ),
    });

    // Re-subscribing would create every step a second time; the runtime refuses, so the failure is not swallowed.
    await expect(driver.send(1, { eventTime: 1 })).rejects.toThrow(/DUPLICATE|named "flaky"|subscribed twice/);
    expect(resubscriptions).toBeGreaterThan(0);
    expect(driver.committedPositions).toEqual({});
    expect(sink.values).toEqual([]);
  });

  it('subscribeOn delays the subscription of the sink past the start: the topology fails loudly instead of committing around the sink', async () => {
    const sink = memorySink<number>({ name: 'out' });
    const driver = new TestDriver<number>({
      name: 'subscribed-later',
      pipeline: (numbers) => numbers.pipe(map((n: number) => n * 2, { name: 'double' }), toSink(sink), subscribeOn(asyncScheduler)),
    });
    await new Promise((resolve) => setTimeout(resolve, 20)); // let the delayed subscription happen

    await expect(driver.send(1, { eventTime: 1 })).rejects.toThrow(/subscribed after topology "subscribed-later" started/);
    expect(driver.committedPositions).toEqual({});
    expect(sink.committed).toEqual([]);
  });
});
