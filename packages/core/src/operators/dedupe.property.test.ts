import fc from 'fast-check';
import { Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { dataOf } from '../internal/run-operator.js';
import { makeStepContext, withStepHost } from '../internal/step-host.js';
import type { StepHost, WorkingState } from '../internal/step-host.js';
import type { Chunk } from '../record/chunk.js';
import type { StreamRecord } from '../record/stream-record.js';
import { silentLogger } from '../runtime/logger.js';
import type { Operator } from './define-operator.js';
import { dedupe } from './dedupe.js';

/** One arrival: a record (ending the current batch when `endsBatch`) or a watermark. */
type Item =
  | { kind: 'record'; key: string; partition: string; time: number; endsBatch: boolean; clockStep: number }
  | { kind: 'watermark'; time: number };

interface Value {
  key: string;
  seq: number;
}

const keyArb = fc.constantFrom('a', 'b', 'c');
const partitionArb = fc.constantFrom('p0', 'p1');

/** Times anywhere in a range, watermarks anywhere too (they may even go backwards): many late records. */
const chaoticItems = fc.array(
  fc.oneof(
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('record' as const), key: keyArb, partition: partitionArb, time: fc.integer({ min: -500, max: 3000 }), endsBatch: fc.boolean(), clockStep: fc.nat(600) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('watermark' as const), time: fc.integer({ min: -500, max: 3000 }) }) },
  ),
  { maxLength: 120 },
);

/**
 * Small steps in a small domain, two keys in one partition: the watermark creeps up a few ms at a time and records land
 * mostly a little behind it, so exact boundaries (t = first + ttl, watermark = first + ttl) and late records meeting
 * firsts that are forgotten but not yet removed happen often.
 */
const denseItems = fc
  .array(
    fc.oneof(
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('record' as const), key: fc.constantFrom('a', 'b'), partition: fc.constant('p0'), offset: fc.integer({ min: -25, max: 10 }), endsBatch: fc.boolean(), clockStep: fc.nat(8) }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('watermark' as const), step: fc.nat(10) }) },
    ),
    { maxLength: 120 },
  )
  .map((steps) => {
    let watermark = 0;
    return steps.map((step): Item => {
      if (step.kind === 'watermark') {
        watermark += step.step;
        return { kind: 'watermark', time: watermark };
      }
      return { kind: 'record', key: step.key, partition: step.partition, time: watermark + step.offset, endsBatch: step.endsBatch, clockStep: step.clockStep };
    });
  });

/** A source with bounded out-of-orderness: times drift upwards with jitter, watermarks trail the drift. */
const driftingItems = fc
  .array(
    fc.record({
      key: keyArb,
      partition: partitionArb,
      delta: fc.nat(40),
      jitter: fc.integer({ min: -250, max: 250 }),
      watermarkLag: fc.option(fc.nat(400), { freq: 4 }),
      endsBatch: fc.boolean(),
      clockStep: fc.nat(300),
    }),
    { maxLength: 150 },
  )
  .map((steps) => {
    const items: Item[] = [];
    let base = 0;
    for (const step of steps) {
      base += step.delta;
      items.push({ kind: 'record', key: step.key, partition: step.partition, time: base + step.jitter, endsBatch: step.endsBatch, clockStep: step.clockStep });
      if (step.watermarkLag !== null) items.push({ kind: 'watermark', time: base - step.watermarkLag });
    }
    return items;
  });

const withoutWatermarks = (items: Item[]) => items.filter((item) => item.kind === 'record');

interface Arrival {
  seq: number;
  key: string;
  partition: string;
  time: number;
  /** The watermark when the record arrived (the highest seen so far). */
  watermark: number;
  /** Processing time of its batch. */
  now: number;
}

/**
 * Feeds `items` through `operator` in batches (a batch ends at `endsBatch` or a watermark), advancing a virtual clock by
 * each record's `clockStep` before its batch. Returns the arrivals, the seqs emitted, and the state left after a final
 * watermark far in the future.
 */
function run(operator: Operator<Value, Value>, items: Item[]) {
  let now = 0;
  const states = new Map<string, WorkingState<unknown>>();
  const host: StepHost = {
    reserveStepName: (kind, name, fallback) => name ?? fallback ?? kind,
    createStepContext: (kind, name) =>
      makeStepContext({
        stepName: name ?? kind,
        clock: { now: () => now, setTimer: () => () => undefined },
        logger: silentLogger,
        metrics: { recordsIn: () => undefined, recordsOut: () => undefined, deadLetters: () => undefined, late: () => undefined },
        states,
      }),
    registerSink: () => ({ skip: () => undefined }),
  };
  const input = new Subject<Chunk<Value>>();
  const output: Chunk<Value>[] = [];
  withStepHost(host, () => input.pipe(operator).subscribe({ next: (chunk) => void output.push(chunk), error: (error) => { throw error; } }));

  const arrivals: Arrival[] = [];
  let batch: StreamRecord<Value>[] = [];
  let watermark = -Infinity;
  const flush = () => {
    if (batch.length > 0) input.next({ kind: 'data', records: batch });
    batch = [];
  };
  for (const item of items) {
    if (item.kind === 'watermark') {
      flush();
      watermark = Math.max(watermark, item.time);
      input.next({ kind: 'watermark', time: item.time });
      continue;
    }
    if (batch.length === 0) now += item.clockStep; // a batch arrives at one processing time
    const seq = arrivals.length;
    arrivals.push({ seq, key: item.key, partition: item.partition, time: item.time, watermark, now });
    batch.push({ key: item.key, value: { key: item.key, seq }, eventTime: item.time, position: { partition: item.partition, offset: seq }, headers: {} });
    if (item.endsBatch) flush();
  }
  flush();
  const emittedSeqs = dataOf(output).map((record) => record.value.seq);
  input.next({ kind: 'watermark', time: 1e12 });
  now += 1e12;
  input.next({ kind: 'data', records: [] });
  const leftover = [...states.values()].reduce((total, state) => total + state.size, 0);
  return { arrivals, emittedSeqs, leftover };
}

const sameKey = (a: Arrival, b: Arrival) => a.key === b.key && a.partition === b.partition;

/** Brute force over the arrival order, with unlimited memory, following the rules documented on `dedupe`. */
function referenceTtl(arrivals: Arrival[], ttl: number, time: 'event' | 'processing'): number[] {
  const remembered: Arrival[] = [];
  const emitted: number[] = [];
  for (const arrival of arrivals) {
    const t = time === 'event' ? arrival.time : arrival.now;
    const w = time === 'event' ? arrival.watermark : -Infinity;
    const tOf = (first: Arrival) => (time === 'event' ? first.time : first.now);
    const duplicate = remembered.some((first) => sameKey(first, arrival) && Math.abs(t - tOf(first)) < ttl && tOf(first) + ttl > w);
    if (duplicate) continue;
    emitted.push(arrival.seq);
    if (t >= w) remembered.push(arrival);
  }
  return emitted;
}

function referenceWindow(arrivals: Arrival[], size: number): number[] {
  const seen = new Set<string>();
  const emitted: number[] = [];
  for (const arrival of arrivals) {
    const start = Math.floor(arrival.time / size) * size;
    if (start + size <= arrival.watermark) {
      emitted.push(arrival.seq); // window closed: passed on unjudged
      continue;
    }
    const id = `${arrival.partition}|${arrival.key}|${start}`;
    if (seen.has(id)) continue;
    seen.add(id);
    emitted.push(arrival.seq);
  }
  return emitted;
}

/** Properties that hold whatever the reference says: they pin the meaning of "once per TTL period". */
function checkTtlInvariants(arrivals: Arrival[], emittedSeqs: number[], ttl: number, time: 'event' | 'processing') {
  const t = (a: Arrival) => (time === 'event' ? a.time : a.now);
  const emitted = new Set(emittedSeqs);
  const onTime = (a: Arrival) => time === 'processing' || a.time >= a.watermark;
  for (const arrival of arrivals) {
    const earlierEmitted = arrivals.filter((other) => other.seq < arrival.seq && emitted.has(other.seq) && sameKey(other, arrival));
    if (emitted.has(arrival.seq)) {
      // At most once per period: an emitted on-time record is not within ttl of an earlier emitted on-time record.
      if (onTime(arrival)) {
        const clash = earlierEmitted.find((other) => onTime(other) && Math.abs(t(other) - t(arrival)) < ttl);
        expect(clash, `record ${arrival.seq} emitted within ${ttl} of ${clash?.seq}`).toBeUndefined();
      }
    } else {
      // Never drops a first: a dropped record is within ttl of an earlier emitted record of its key.
      const cover = earlierEmitted.find((other) => Math.abs(t(other) - t(arrival)) < ttl);
      expect(cover, `record ${arrival.seq} dropped with no emitted record within ${ttl}`).toBeDefined();
    }
  }
}

function checkWindowInvariants(arrivals: Arrival[], emittedSeqs: number[], size: number) {
  const emitted = new Set(emittedSeqs);
  const window = (a: Arrival) => Math.floor(a.time / size);
  const open = (a: Arrival) => (window(a) + 1) * size > a.watermark;
  for (const arrival of arrivals) {
    const sameWindowEmitted = arrivals.filter(
      (other) => other.seq < arrival.seq && emitted.has(other.seq) && sameKey(other, arrival) && window(other) === window(arrival),
    );
    if (emitted.has(arrival.seq)) {
      if (open(arrival)) expect(sameWindowEmitted.filter(open), `record ${arrival.seq} is a second emission in its window`).toEqual([]);
    } else {
      expect(sameWindowEmitted.length, `record ${arrival.seq} dropped although nothing of its window was emitted`).toBeGreaterThan(0);
    }
  }
}


describe('dedupe (properties)', () => {
  for (const [label, items, ttlArb, runs] of [
    ['chaotic times and watermarks', chaoticItems, fc.integer({ min: 1, max: 700 }), { numRuns: 300 }],
    // The rare interleavings (a first forgotten but not yet removed, then a late record it would match) need many runs.
    ['creeping watermark, exact boundaries', denseItems, fc.integer({ min: 1, max: 20 }), { numRuns: 2500 }],
    ['bounded out-of-orderness', driftingItems, fc.integer({ min: 1, max: 700 }), { numRuns: 300 }],
  ] as const) {
    describe(label, () => {
      it('within ttlMs, event time: matches the brute-force reference, emits once per TTL period, never drops a first', () => {
        fc.assert(
          fc.property(items, ttlArb, (sequence, ttl) => {
            const result = run(dedupe({ key: (v: Value) => v.key, within: { ttlMs: ttl } }), sequence);
            expect(result.emittedSeqs).toEqual(referenceTtl(result.arrivals, ttl, 'event'));
            checkTtlInvariants(result.arrivals, result.emittedSeqs, ttl, 'event');
            expect(result.leftover, 'state left after a final watermark').toBe(0);
          }),
          runs,
        );
      });

      it('within ttlMs, processing time: matches the reference and the invariants', () => {
        fc.assert(
          fc.property(items, ttlArb, (sequence, ttl) => {
            const result = run(dedupe({ key: (v: Value) => v.key, within: { ttlMs: ttl, time: 'processing' } }), sequence);
            expect(result.emittedSeqs).toEqual(referenceTtl(result.arrivals, ttl, 'processing'));
            checkTtlInvariants(result.arrivals, result.emittedSeqs, ttl, 'processing');
            expect(result.leftover, 'state left after the clock moved past every TTL').toBe(0);
          }),
          runs,
        );
      });

      it('per window: matches the reference, emits once per key per open window, never drops a first', () => {
        fc.assert(
          fc.property(items, ttlArb, (sequence, size) => {
            const result = run(dedupe({ key: (v: Value) => v.key, window: { sizeMs: size } }), sequence);
            expect(result.emittedSeqs).toEqual(referenceWindow(result.arrivals, size));
            checkWindowInvariants(result.arrivals, result.emittedSeqs, size);
            expect(result.leftover, 'state left after a final watermark').toBe(0);
          }),
          runs,
        );
      });

      it('without watermarks: exactly the records no earlier emitted record covers (unlimited-memory dedupe)', () => {
        fc.assert(
          fc.property(items.map(withoutWatermarks), ttlArb, (sequence, ttl) => {
            const ttlResult = run(dedupe({ key: (v: Value) => v.key, within: { ttlMs: ttl } }), sequence);
            const greedy: Arrival[] = [];
            for (const arrival of ttlResult.arrivals) {
              if (!greedy.some((first) => sameKey(first, arrival) && Math.abs(first.time - arrival.time) < ttl)) greedy.push(arrival);
            }
            expect(ttlResult.emittedSeqs).toEqual(greedy.map((a) => a.seq));

            const windowResult = run(dedupe({ key: (v: Value) => v.key, window: { sizeMs: ttl } }), sequence);
            const firstPerWindow = new Map<string, number>();
            for (const a of windowResult.arrivals) {
              const id = `${a.partition}|${a.key}|${Math.floor(a.time / ttl)}`;
              if (!firstPerWindow.has(id)) firstPerWindow.set(id, a.seq);
            }
            expect(windowResult.emittedSeqs).toEqual([...firstPerWindow.values()].sort((x, y) => x - y));
          }),
          runs,
        );
      });
    });
  }
});
