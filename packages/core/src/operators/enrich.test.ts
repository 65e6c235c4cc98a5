import fc from 'fast-check';
import { Subject } from 'rxjs';
import type { Observable } from 'rxjs';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { InvalidOptionsError, StepFailedError } from '../errors.js';
import { dataOf, runOperator, testRecord } from '../internal/run-operator.js';
import { currentStepHost, makeStepContext, withStepHost } from '../internal/step-host.js';
import type { StepHost } from '../internal/step-host.js';
import type { Chunk, DataChunk } from '../record/chunk.js';
import type { DeadLetter } from '../record/dead-letter.js';
import type { StreamRecord } from '../record/stream-record.js';
import type { Clock } from '../runtime/clock.js';
import { silentLogger } from '../runtime/logger.js';
import type { Operator } from './define-operator.js';
import { enrich } from './enrich.js';

/** A processing-time clock that moves only when the test advances it, firing due timers in time order. */
class FakeClock implements Clock {
  time = 1_000_000;
  private timers: { at: number; callback: () => void }[] = [];

  now(): number {
    return this.time;
  }

  setTimer(delayMs: number, callback: () => void): () => void {
    const timer = { at: this.time + delayMs, callback };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((t) => t !== timer);
    };
  }

  advance(ms: number): void {
    this.time += ms;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= this.time).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) return;
      this.timers = this.timers.filter((t) => t !== due);
      due.callback();
    }
  }

  get pendingTimers(): number {
    return this.timers.length;
  }
}

const noMetrics = { recordsIn: () => undefined, recordsOut: () => undefined, deadLetters: () => undefined, late: () => undefined };

/** The standalone host, with every step on `clock`. */
const hostWith = (clock: Clock): StepHost => ({
  ...currentStepHost(),
  createStepContext: (kind, name) =>
    makeStepContext({ stepName: name ?? `${kind}-1`, clock, logger: silentLogger, metrics: noMetrics, states: new Map() }),
});

/** Drives an operator chunk by chunk on `clock`, keeping everything it emitted. */
function start<In, Out>(operator: Operator<In, Out>, clock: Clock) {
  const input = new Subject<Chunk<In>>();
  const output: Chunk<Out>[] = [];
  const state = { error: undefined as unknown, completed: false };
  withStepHost(hostWith(clock), () =>
    input.pipe(operator).subscribe({
      next: (chunk) => output.push(chunk),
      error: (error: unknown) => (state.error = error),
      complete: () => (state.completed = true),
    }),
  );
  return { input, output, state };
}

/** Lets pending promise chains run (lookups that resolved, the operator's continuation). */
const settle = async (): Promise<void> => {
  for (let round = 0; round < 5; round++) await new Promise<void>((resolve) => setImmediate(resolve));
};

const data = <V>(records: StreamRecord<V>[]): DataChunk<V> => ({ kind: 'data', records });
const recordsFor = (keys: readonly string[], firstOffset = 0): StreamRecord<string>[] =>
  keys.map((key, index) => testRecord(key, firstOffset + index));
const lettersOf = (chunks: readonly Chunk<unknown>[]): DeadLetter[] => chunks.flatMap((c) => (c.kind === 'dead-letter' ? c.letters : []));
const upper = (keys: readonly string[]) => new Map(keys.map((key) => [key, key.toUpperCase()]));

/** A lookup that records each call's keys and answers with the keys upper-cased (absent: keys starting with "missing"). */
function countingLookup() {
  const calls: string[][] = [];
  const lookup = async (keys: readonly string[]) => {
    calls.push([...keys]);
    await Promise.resolve();
    return new Map(keys.filter((key) => !key.startsWith('missing')).map((key) => [key, key.toUpperCase()]));
  };
  return { calls, lookup };
}

const byKey = (value: string) => value;
const joinFound = (value: string, found: string | undefined) => `${value}=${found ?? '?'}`;

describe('enrich', () => {
  it('merges what the lookup found into each value, keeping key, event time, position and headers', async () => {
    const input = [
      { ...testRecord({ customerId: 'c1', amount: 5 }, 7, 500, 'order-1'), headers: { source: 'pos' } },
      testRecord({ customerId: 'c2', amount: 9 }, 8, 900, 'order-2'),
    ];
    const operator = enrich({
      key: (order: { customerId: string; amount: number }) => order.customerId,
      lookup: (ids) => Promise.resolve(Object.fromEntries(ids.map((id) => [id, { tier: id === 'c1' ? 'gold' : 'silver' }]))),
      merge: (order, customer) => ({ ...order, tier: customer?.tier }),
    });
    const out = dataOf(await runOperator(operator, [data(input)]));
    expect(out.map((r) => r.value)).toEqual([
      { customerId: 'c1', amount: 5, tier: 'gold' },
      { customerId: 'c2', amount: 9, tier: 'silver' },
    ]);
    expect(out.map((r) => [r.key, r.eventTime, r.position.offset, r.headers])).toEqual([
      ['order-1', 500, 7, { source: 'pos' }],
      ['order-2', 900, 8, {}],
    ]);
  });

  it('infers the output type from key, lookup and merge', () => {
    interface Order {
      id: string;
      customerId: string | null;
    }
    const orders = new Subject<Chunk<Order>>();
    const enriched = orders.pipe(
      enrich({
        key: (order) => order.customerId,
        lookup: (ids) => Promise.resolve(new Map(ids.map((id) => [id, { id, tier: 'gold' as const }]))),
        merge: (order, customer) => ({ ...order, tier: customer?.tier }),
      }),
    );
    expectTypeOf(enriched).toEqualTypeOf<Observable<Chunk<{ tier: 'gold' | undefined; id: string; customerId: string | null }>>>();
  });

  it('batches the distinct missing keys of a chunk into calls of at most maxBatchKeys, each key asked once', async () => {
    const { calls, lookup } = countingLookup();
    const keys = ['a', 'b', 'a', 'c', 'd', 'b', 'e', 'f', 'a', 'g', 'g', 'c'];
    const out = dataOf(await runOperator(enrich({ key: byKey, lookup, merge: joinFound, maxBatchKeys: 3 }), [data(recordsFor(keys))]));
    expect(calls.map((call) => call.length)).toEqual([3, 3, 1]);
    expect(calls.flat().sort()).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
    expect(out.map((r) => r.value)).toEqual(keys.map((key) => `${key}=${key.toUpperCase()}`));
  });

  it('runs at most `concurrency` lookup calls at once, and does reach that many', async () => {
    const measure = async (concurrency: number) => {
      let inFlight = 0;
      let maxInFlight = 0;
      let calls = 0;
      const lookup = async (keys: readonly string[]) => {
        calls++;
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        await new Promise((resolve) => setTimeout(resolve, 2));
        inFlight--;
        return upper(keys);
      };
      const keys = Array.from({ length: 12 }, (_, index) => `k${index}`);
      await runOperator(enrich({ key: byKey, lookup, merge: joinFound, maxBatchKeys: 1, concurrency }), [
        data(recordsFor(keys.slice(0, 6))),
        data(recordsFor(keys.slice(6), 6)),
      ]);
      return { calls, maxInFlight };
    };
    expect(await measure(3)).toEqual({ calls: 12, maxInFlight: 3 });
    expect(await measure(1)).toEqual({ calls: 12, maxInFlight: 1 });
  });

  it('emits records in input order whatever order the lookups resolve in', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.array(fc.array(fc.integer({ min: 0, max: 9 }), { maxLength: 12 }), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 3 }),
        async (scheduler, chunkKeys, maxBatchKeys, concurrency) => {
          let offset = 0;
          const chunks = chunkKeys.map((keys) => data(keys.map((key) => testRecord(`k${key}`, offset++))));
          const operator = enrich({
            key: byKey,
            lookup: (keys: readonly string[]) => scheduler.schedule(Promise.resolve(upper(keys))),
            merge: (value: string, found: string | undefined, record) => `${record.position.offset}:${value}=${found}`,
            maxBatchKeys,
            concurrency,
          });
          const out = await scheduler.waitFor(runOperator(operator, chunks));
          expect(dataOf(out).map((r) => r.value)).toEqual(
            chunks.flatMap((chunk) => chunk.records.map((r) => `${r.position.offset}:${r.value}=${r.value.toUpperCase()}`)),
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it('keeps input order with randomly delayed lookups', async () => {
    const keys = Array.from({ length: 300 }, (_, index) => `k${(index * 7) % 41}`);
    const lookup = async (batch: readonly string[]) => {
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 5));
      return upper(batch);
    };
    const out = dataOf(
      await runOperator(enrich({ key: byKey, lookup, merge: joinFound, maxBatchKeys: 3, concurrency: 4 }), [
        data(recordsFor(keys.slice(0, 150))),
        data(recordsFor(keys.slice(150), 150)),
      ]),
    );
    expect(out.map((r) => r.position.offset)).toEqual(keys.map((_, index) => index));
    expect(out.map((r) => r.value)).toEqual(keys.map((key) => `${key}=${key.toUpperCase()}`));
  });

  it('serves repeated keys from the cache without asking the lookup again', async () => {
    const cached = countingLookup();
    const chunks = [data(recordsFor(['a', 'b'])), data(recordsFor(['b', 'a', 'c'], 2))];
    const out = dataOf(await runOperator(enrich({ key: byKey, lookup: cached.lookup, merge: joinFound, cache: {} }), chunks));
    expect(cached.calls).toEqual([['a', 'b'], ['c']]);
    expect(out.map((r) => r.value)).toEqual(['a=A', 'b=B', 'b=B', 'a=A', 'c=C']);

    const uncached = countingLookup();
    await runOperator(enrich({ key: byKey, lookup: uncached.lookup, merge: joinFound }), chunks);
    expect(uncached.calls).toEqual([
      ['a', 'b'],
      ['b', 'a', 'c'],
    ]);
  });

  it('expires cached entries after ttlMs of processing time on the step clock', async () => {
    const clock = new FakeClock();
    const { calls, lookup } = countingLookup();
    const run = start(enrich({ key: byKey, lookup, merge: joinFound, cache: { ttlMs: 1_000 } }), clock);
    run.input.next(data(recordsFor(['a'])));
    await settle();
    clock.advance(999);
    run.input.next(data(recordsFor(['a'], 1)));
    await settle();
    expect(calls).toEqual([['a']]);
    clock.advance(1);
    run.input.next(data(recordsFor(['a'], 2)));
    await settle();
    expect(calls).toEqual([['a'], ['a']]);
    expect(dataOf(run.output).map((r) => r.value)).toEqual(['a=A', 'a=A', 'a=A']);
  });

  it('caches misses unless cacheMisses is false', async () => {
    const chunks = [data(recordsFor(['missing-1'])), data(recordsFor(['missing-1'], 1))];
    const withMisses = countingLookup();
    await runOperator(enrich({ key: byKey, lookup: withMisses.lookup, merge: joinFound, cache: {} }), chunks);
    expect(withMisses.calls).toEqual([['missing-1']]);
    const withoutMisses = countingLookup();
    const out = await runOperator(enrich({ key: byKey, lookup: withoutMisses.lookup, merge: joinFound, cache: { cacheMisses: false } }), chunks);
    expect(withoutMisses.calls).toEqual([['missing-1'], ['missing-1']]);
    expect(dataOf(out).map((r) => r.value)).toEqual(['missing-1=?', 'missing-1=?']);
  });

  it('evicts the least recently used cache entry beyond maxEntries', async () => {
    const { calls, lookup } = countingLookup();
    const sequence = ['a', 'b', 'a', 'c', 'a', 'b'];
    await runOperator(
      enrich({ key: byKey, lookup, merge: joinFound, cache: { maxEntries: 2 } }),
      sequence.map((key, offset) => data(recordsFor([key], offset))),
    );
    // a, b cached; a read (most recent); c evicts b; a still cached; b asked again.
    expect(calls).toEqual([['a'], ['b'], ['c'], ['b']]);
  });

  it('sends only the records of a failed call to dead letters, with stage and position, and does not cache the failure', async () => {
    let failing = true;
    const calls: string[][] = [];
    const lookup = async (keys: readonly string[]) => {
      calls.push([...keys]);
      await Promise.resolve();
      if (failing && keys.includes('c')) throw new Error('customers service unavailable');
      return upper(keys);
    };
    const clock = new FakeClock();
    const run = start(enrich({ name: 'add-customer', key: byKey, lookup, merge: joinFound, maxBatchKeys: 2, cache: {} }), clock);
    run.input.next(data(recordsFor(['a', 'b', 'c', 'a', 'd', 'e'])));
    await settle();
    expect(calls).toEqual([
      ['a', 'b'],
      ['c', 'd'],
      ['e'],
    ]);
    expect(dataOf(run.output).map((r) => [r.position.offset, r.value])).toEqual([
      [0, 'a=A'],
      [1, 'b=B'],
      [3, 'a=A'],
      [5, 'e=E'],
    ]);
    const letters = lettersOf(run.output);
    expect(letters.map((l) => [l.stage, l.record.position.partition, l.record.position.offset, l.error.message, l.failedAt])).toEqual([
      ['add-customer', 'p0', 2, 'customers service unavailable', clock.time],
      ['add-customer', 'p0', 4, 'customers service unavailable', clock.time],
    ]);
    failing = false;
    run.input.next(data(recordsFor(['c', 'a'], 6)));
    await settle();
    expect(calls.at(-1)).toEqual(['c']);
    expect(dataOf(run.output).slice(-2).map((r) => r.value)).toEqual(['c=C', 'a=A']);
  });

  it('fails the step on a failed call when onError is fail', async () => {
    const lookup = () => Promise.reject(new Error('down'));
    const run = runOperator(enrich({ key: byKey, lookup, merge: joinFound, onError: 'fail' }), [data(recordsFor(['a']))]);
    await expect(run).rejects.toBeInstanceOf(StepFailedError);
    await expect(run).rejects.toThrow(/down/);
  });

  it('times a call out on the step clock, aborts its signal and sends its records to dead letters', async () => {
    const clock = new FakeClock();
    let slowSignal: AbortSignal | undefined;
    const lookup = (keys: readonly string[], signal: AbortSignal) => {
      if (keys[0] !== 'slow') return upper(keys);
      slowSignal = signal;
      return new Promise<Map<string, string>>(() => undefined);
    };
    const run = start(enrich({ name: 'slow-lookup', key: byKey, lookup, merge: joinFound, maxBatchKeys: 1, timeoutMs: 5_000 }), clock);
    run.input.next(data(recordsFor(['fast', 'slow', 'quick'])));
    run.input.next({ kind: 'barrier', id: 1, checkpoint: undefined });
    await settle();
    expect(run.output).toEqual([]);
    expect(clock.pendingTimers).toBe(1); // the answered calls cancelled their timers
    clock.advance(4_999);
    await settle();
    expect(run.output).toEqual([]);
    expect(slowSignal?.aborted).toBe(false);
    clock.advance(1);
    await settle();
    expect(slowSignal?.aborted).toBe(true);
    expect(run.output.map((c) => c.kind)).toEqual(['data', 'dead-letter', 'barrier']);
    expect(dataOf(run.output).map((r) => r.value)).toEqual(['fast=FAST', 'quick=QUICK']);
    expect(lettersOf(run.output)).toMatchObject([
      { stage: 'slow-lookup', error: { code: 'LOOKUP_TIMEOUT' }, record: { position: { offset: 1 } }, failedAt: clock.time },
    ]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('follows onMissing for keys the lookup did not find', async () => {
    const { lookup } = countingLookup();
    const chunks = [data(recordsFor(['a', 'missing-1', 'b']))];
    const valuesWith = async (onMissing: 'pass' | 'dlq' | 'skip') => {
      const out = await runOperator(enrich({ name: 'm', key: byKey, lookup, merge: joinFound, onMissing }), chunks);
      return { values: dataOf(out).map((r) => r.value), letters: lettersOf(out) };
    };
    expect(await valuesWith('pass')).toEqual({ values: ['a=A', 'missing-1=?', 'b=B'], letters: [] });
    expect(await valuesWith('skip')).toEqual({ values: ['a=A', 'b=B'], letters: [] });
    const dlq = await valuesWith('dlq');
    expect(dlq.values).toEqual(['a=A', 'b=B']);
    expect(dlq.letters).toMatchObject([{ stage: 'm', error: { code: 'LOOKUP_NOT_FOUND' }, record: { position: { offset: 1 } } }]);
    await expect(runOperator(enrich({ key: byKey, lookup, merge: joinFound, onMissing: 'fail' }), chunks)).rejects.toBeInstanceOf(
      StepFailedError,
    );
  });

  it('skips the lookup for records whose key is null or undefined and merges them with undefined', async () => {
    const { calls, lookup } = countingLookup();
    const operator = enrich({
      key: (value: string) => (value === 'none' ? null : value === 'undef' ? undefined : value),
      lookup,
      merge: joinFound,
      onMissing: 'dlq',
    });
    const out = await runOperator(operator, [data(recordsFor(['none', 'a', 'undef']))]);
    expect(calls).toEqual([['a']]);
    expect(dataOf(out).map((r) => r.value)).toEqual(['none=?', 'a=A', 'undef=?']);
    expect(lettersOf(out)).toEqual([]);
  });

  it('applies onError to records whose key function throws or returns a non-string', async () => {
    const { calls, lookup } = countingLookup();
    const operator = enrich({
      name: 'keyed',
      key: (value: string) => {
        if (value === 'throw') throw new Error('no key');
        return (value === 'number' ? 42 : value) as string;
      },
      lookup,
      merge: joinFound,
    });
    const out = await runOperator(operator, [data(recordsFor(['a', 'throw', 'number']))]);
    expect(calls).toEqual([['a']]);
    expect(dataOf(out).map((r) => r.value)).toEqual(['a=A']);
    expect(lettersOf(out)).toMatchObject([
      { stage: 'keyed', error: { message: 'no key' }, record: { position: { offset: 1 } } },
      { stage: 'keyed', error: { code: 'INVALID_LOOKUP_KEY' }, record: { position: { offset: 2 } } },
    ]);
  });

  it('applies onError to records whose merge throws', async () => {
    const { lookup } = countingLookup();
    const merge = (value: string, found: string | undefined) => {
      if (value === 'bad') throw new Error('cannot merge');
      return joinFound(value, found);
    };
    const chunks = [data(recordsFor(['a', 'bad', 'b']))];
    const dlq = await runOperator(enrich({ name: 'merger', key: byKey, lookup, merge }), chunks);
    expect(dataOf(dlq).map((r) => r.value)).toEqual(['a=A', 'b=B']);
    expect(lettersOf(dlq)).toMatchObject([{ stage: 'merger', error: { message: 'cannot merge' }, record: { position: { offset: 1 } } }]);
    const skipped = await runOperator(enrich({ key: byKey, lookup, merge, onError: 'skip' }), chunks);
    expect(dataOf(skipped).map((r) => r.value)).toEqual(['a=A', 'b=B']);
    expect(lettersOf(skipped)).toEqual([]);
    await expect(runOperator(enrich({ key: byKey, lookup, merge, onError: 'fail' }), chunks)).rejects.toBeInstanceOf(StepFailedError);
  });

  it('treats an answer that is neither a Map nor a plain object as a failed call', async () => {
    const lookup = () => Promise.resolve([['a', 'A']] as unknown as Map<string, string>);
    const out = await runOperator(enrich({ key: byKey, lookup, merge: joinFound }), [data(recordsFor(['a']))]);
    expect(dataOf(out)).toEqual([]);
    expect(lettersOf(out)).toMatchObject([{ error: { code: 'LOOKUP_INVALID_RESULT' } }]);
  });

  it('holds a barrier behind a slow chunk until that chunk’s records are out', async () => {
    const clock = new FakeClock();
    let release: (() => void) | undefined;
    const lookup = (keys: readonly string[]) =>
      keys.includes('slow') ? new Promise<Map<string, string>>((resolve) => (release = () => resolve(upper(keys)))) : upper(keys);
    const run = start(enrich({ key: byKey, lookup, merge: joinFound }), clock);
    run.input.next(data(recordsFor(['slow', 'x'])));
    run.input.next({ kind: 'barrier', id: 7, checkpoint: undefined });
    run.input.next({ kind: 'watermark', time: 123 });
    run.input.next(data(recordsFor(['y'], 2)));
    await settle();
    expect(run.output).toEqual([]);
    release?.();
    await settle();
    expect(run.output.map((c) => (c.kind === 'data' ? c.records.map((r) => r.value).join(',') : c.kind))).toEqual([
      'slow=SLOW,x=X',
      'barrier',
      'watermark',
      'y=Y',
    ]);
    run.input.complete();
    await settle();
    expect(run.state).toEqual({ error: undefined, completed: true });
  });

  it('invalid options fail at construction naming the option', () => {
    const valid = { key: byKey, lookup: () => new Map<string, string>(), merge: joinFound };
    expect(() => enrich({ ...valid, maxBatchKeys: 0 })).toThrow(/maxBatchKeys/);
    expect(() => enrich({ ...valid, concurrency: 2.5 })).toThrow(/concurrency/);
    expect(() => enrich({ ...valid, timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(() => enrich({ ...valid, timeoutMs: 2 ** 31 })).toThrow(/timeoutMs/);
    expect(() => enrich({ ...valid, cache: { ttlMs: -1 } })).toThrow(/cache\.ttlMs/);
    expect(() => enrich({ ...valid, cache: { maxEntries: 0 } })).toThrow(/cache\.maxEntries/);
    expect(() => enrich({ ...valid, cache: { cacheMisses: 'yes' as never } })).toThrow(/cache\.cacheMisses/);
    expect(() => enrich({ ...valid, onMissing: 'ignore' as never })).toThrow(/onMissing/);
    expect(() => enrich({ ...valid, onError: 'explode' as never })).toThrow(/onError/);
    expect(() => enrich({ ...valid, key: 'customerId' as never })).toThrow(/key: must be a function/);
    expect(() => enrich({ ...valid, lookup: undefined as never })).toThrow(/lookup: must be a function/);
    expect(() => enrich({ key: byKey, lookup: valid.lookup } as never)).toThrow(/merge/);
    expect(() => enrich({ ...valid, batchSize: 10 } as never)).toThrow(/batchSize/);
    expect(() => enrich({ ...valid, name: '' })).toThrow(InvalidOptionsError);
  });
});
