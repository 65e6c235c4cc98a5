import fc from 'fast-check';
import { concatMap, from, lastValueFrom, map as rxMap, Observable, Subject, tap, timer, toArray, filter as rxFilter, take } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { InvalidOptionsError, StepFailedError } from '../errors.js';
import { dataOf, runOperator, testRecord } from '../internal/run-operator.js';
import { currentStepHost, makeStepContext, withStepHost } from '../internal/step-host.js';
import type { StepHost } from '../internal/step-host.js';
import type { BarrierChunk, Chunk } from '../record/chunk.js';
import type { StreamRecord } from '../record/stream-record.js';
import { systemClock } from '../runtime/clock.js';
import { silentLogger } from '../runtime/logger.js';
import { defineOperator } from './define-operator.js';
import type { Operator } from './define-operator.js';
import { map } from './map.js';
import { route } from './route.js';
import { validate } from './validate.js';

interface Change {
  op: string;
  n: number;
}

const change = (op: string, n: number): StreamRecord<Change> => testRecord({ op, n }, n);
const barrier = (id: number): BarrierChunk => ({ kind: 'barrier', id, checkpoint: undefined });
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A branch that delays every chunk by `ms`, keeping order (like a slow asynchronous step). */
const delayed =
  <V>(ms: number) =>
  (branch: Observable<Chunk<V>>): Observable<Chunk<V>> =>
    branch.pipe(concatMap((chunk) => timer(ms).pipe(rxMap(() => chunk))));

/** A sink-like step whose write takes `ms` and which records what it has durably written. */
function slowSink<V>(written: StreamRecord<V>[], ms: number): Operator<V, V> {
  return defineOperator<V, V>('sink', undefined, () => ({
    async data(records, emit) {
      await sleep(ms);
      written.push(...records);
      emit.data(records);
    },
  }));
}

const kinds = (chunks: readonly Chunk<unknown>[]) => chunks.map((c) => (c.kind === 'data' ? `data(${c.records.map((r) => String((r.value as Change).n ?? r.value)).join(',')})` : c.kind === 'barrier' ? `barrier ${c.id}` : c.kind === 'watermark' ? `watermark ${c.time}` : c.kind));

describe('route', () => {
  it('sends each record only to its branch, one batch per branch per input chunk, in order', async () => {
    const seen: Record<string, Chunk<Change>[]> = { c: [], u: [], d: [] };
    const spy = (op: string) => (branch: Observable<Chunk<Change>>) => branch.pipe(tap((chunk) => seen[op]!.push(chunk)));
    const out = await runOperator(
      route((v: Change) => v.op, { c: spy('c'), u: spy('u'), d: spy('d') }),
      [{ kind: 'data', records: [change('c', 1), change('u', 2), change('c', 3), change('d', 4), change('c', 5)] }],
    );
    expect(seen.c!.map((chunk) => chunk.kind === 'data' && chunk.records.map((r) => r.value.n))).toEqual([[1, 3, 5]]);
    expect(seen.u!.map((chunk) => chunk.kind === 'data' && chunk.records.map((r) => r.value.n))).toEqual([[2]]);
    expect(seen.d!.map((chunk) => chunk.kind === 'data' && chunk.records.map((r) => r.value.n))).toEqual([[4]]);
    expect(dataOf(out).map((r) => r.value.n)).toEqual([1, 3, 5, 2, 4]);
  });

  it('outputs what the branches emit, of different types', async () => {
    const out = await runOperator(
      route((v: Change) => v.op, {
        c: (inserts) => inserts.pipe(map((v) => `inserted ${v.n}`)),
        d: (deletes) => deletes.pipe(map((v) => -v.n)),
      }),
      [{ kind: 'data', records: [change('c', 1), change('d', 2)] }],
    );
    expect(dataOf(out).map((r) => r.value)).toEqual(['inserted 1', -2]);
  });

  it('sends every watermark and barrier into every branch and emits each once, after all branches', async () => {
    const seen: Record<string, string[]> = { c: [], u: [] };
    const spy = (op: string, ms: number) => (branch: Observable<Chunk<Change>>) =>
      branch.pipe(
        tap((chunk) => seen[op]!.push(kinds([chunk])[0]!)),
        delayed(ms),
      );
    const out = await runOperator(route((v: Change) => v.op, { c: spy('c', 15), u: spy('u', 1) }), [
      { kind: 'data', records: [change('c', 1), change('u', 2)] },
      { kind: 'watermark', time: 100 },
      { kind: 'data', records: [change('u', 3)] },
      barrier(1),
      { kind: 'data', records: [change('c', 4)] },
      barrier(2),
    ]);
    expect(seen.c).toEqual(['data(1)', 'watermark 100', 'barrier 1', 'data(4)', 'barrier 2']);
    expect(seen.u).toEqual(['data(2)', 'watermark 100', 'data(3)', 'barrier 1', 'barrier 2']);
    // u is faster, but nothing crosses a progress chunk: 3 waits for the watermark that c still holds.
    expect(kinds(out)).toEqual(['data(2)', 'data(1)', 'watermark 100', 'data(3)', 'barrier 1', 'data(4)', 'barrier 2']);
  });

  it('emits a barrier only after asynchronous sinks in every branch wrote everything before it', async () => {
    const inserts: StreamRecord<Change>[] = [];
    const updates: StreamRecord<Change>[] = [];
    const writtenAtBarrier = new Map<number, number[]>();
    const input: Chunk<Change>[] = [
      { kind: 'data', records: [change('c', 1), change('u', 2), change('c', 3)] },
      { kind: 'data', records: [change('u', 4)] },
      barrier(1),
      { kind: 'data', records: [change('c', 5), change('u', 6)] },
      barrier(2),
      { kind: 'data', records: [change('u', 7)] },
      barrier(3),
    ];
    const out = await lastValueFrom(
      from(input).pipe(
        route((v: Change) => v.op, { c: (s) => s.pipe(slowSink(inserts, 12)), u: (s) => s.pipe(slowSink(updates, 2)) }),
        tap((chunk) => {
          if (chunk.kind === 'barrier') writtenAtBarrier.set(chunk.id, [...inserts, ...updates].map((r) => r.value.n).sort((a, b) => a - b));
        }),
        toArray(),
      ),
    );
    // Everything before a barrier is written when it leaves the route (the fast sink may already be further).
    expect(writtenAtBarrier.get(1)).toEqual(expect.arrayContaining([1, 2, 3, 4]));
    expect(writtenAtBarrier.get(2)).toEqual(expect.arrayContaining([1, 2, 3, 4, 5, 6]));
    expect(writtenAtBarrier.get(3)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    // The slow insert sink had not written 5 when barrier 1 was emitted: the join really waited for it, not for time.
    expect(writtenAtBarrier.get(1)).not.toContain(5);
    expect(out.filter((c) => c.kind === 'barrier').map((c) => c.id)).toEqual([1, 2, 3]);
    expect(inserts.map((r) => r.value.n)).toEqual([1, 3, 5]);
    expect(updates.map((r) => r.value.n)).toEqual([2, 4, 6, 7]);
  });

  it('forwards upstream dead letters and late records once, in place, and those from branches as they come', async () => {
    const upstreamLetter = { stage: 'decode', error: { name: 'Error', code: 'UNKNOWN', message: 'bad bytes' }, record: testRecord('??', 0), failedAt: 0 };
    const NumberOnly = z.object({ op: z.string(), n: z.number().max(10) });
    const out = await runOperator(
      route((v: Change) => v.op, {
        c: (s) => s.pipe(validate(NumberOnly, { name: 'check-c' })),
        u: delayed<Change>(5),
      }),
      [
        { kind: 'dead-letter', letters: [upstreamLetter] },
        { kind: 'data', records: [change('c', 1), change('c', 11), change('u', 2)] },
        barrier(1),
        { kind: 'late', records: [{ stage: 'window', record: testRecord('late', 3), watermark: 9 }] },
        barrier(2),
      ],
    );
    expect(kinds(out)).toEqual(['dead-letter', 'data(1)', 'dead-letter', 'data(2)', 'barrier 1', 'late', 'barrier 2']);
    const letters = out.flatMap((c) => (c.kind === 'dead-letter' ? c.letters : []));
    expect(letters.map((l) => l.stage)).toEqual(['decode', 'check-c']);
    expect(letters[0]).toBe(upstreamLetter);
  });

  it('completes every branch when the input completes, and completes after the slowest branch', async () => {
    const completed: string[] = [];
    const branchFor = (op: string, ms: number) => (s: Observable<Chunk<Change>>) =>
      s.pipe(delayed(ms), tap({ complete: () => completed.push(op) }));
    const out = await runOperator(route((v: Change) => v.op, { c: branchFor('c', 20), u: branchFor('u', 1) }), [
      { kind: 'data', records: [change('c', 1), change('u', 2)] },
    ]);
    expect(completed).toEqual(['u', 'c']);
    expect(dataOf(out).map((r) => r.value.n)).toEqual([2, 1]);
  });

  it('errors the output when a branch errors', async () => {
    const failing = (s: Observable<Chunk<Change>>) =>
      s.pipe(
        rxMap((chunk) => {
          if (chunk.kind === 'data') throw new Error('branch exploded');
          return chunk;
        }),
      );
    await expect(runOperator(route((v: Change) => v.op, { c: failing, u: (s) => s }), [{ kind: 'data', records: [change('c', 1)] }])).rejects.toThrow(
      'branch exploded',
    );
  });

  it('errors instead of hanging when a branch swallows or invents progress chunks', async () => {
    const dropsBarriers = (s: Observable<Chunk<Change>>) => s.pipe(rxFilter((chunk) => chunk.kind !== 'barrier'));
    const run = runOperator(route((v: Change) => v.op, { c: dropsBarriers, u: (s) => s }), [
      { kind: 'data', records: [change('c', 1)] },
      barrier(1),
      { kind: 'watermark', time: 5 },
    ]);
    await expect(run).rejects.toMatchObject({ code: 'BRANCH_BROKE_PROGRESS' });
    await expect(run).rejects.toThrow(/Branch "c" of step "route-\d+" emitted watermark 5 but barrier 1 was expected next/);

    const invents = (s: Observable<Chunk<Change>>) => new Observable<Chunk<Change>>((subscriber) => {
      subscriber.next(barrier(99));
      return s.subscribe(subscriber);
    });
    await expect(runOperator(route((v: Change) => v.op, { c: invents }), [barrier(1)])).rejects.toThrow(/emitted barrier 99 but no progress chunk was pending/);
  });

  it('does not wait for a branch that completed early', async () => {
    const out = await runOperator(route((v: Change) => v.op, { c: (s) => s.pipe(take(1)), u: (s) => s }), [
      { kind: 'data', records: [change('c', 1)] },
      barrier(1),
      { kind: 'data', records: [change('u', 2)] },
      barrier(2),
    ]);
    expect(kinds(out)).toEqual(['data(1)', 'barrier 1', 'data(2)', 'barrier 2']);
  });

  it('sends unmatched records to dead letters by default, in place, with the reason', async () => {
    const out = await runOperator(route((v: Change) => (v.op === 'x' ? undefined : v.op), { c: (s) => s }, { name: 'by-op' }), [
      { kind: 'data', records: [change('c', 1), change('r', 2), change('x', 3)] },
      barrier(1),
    ]);
    expect(kinds(out)).toEqual(['data(1)', 'dead-letter', 'barrier 1']);
    const letters = out.flatMap((c) => (c.kind === 'dead-letter' ? c.letters : []));
    expect(letters.map((l) => [l.stage, l.error.code, l.record.position.offset])).toEqual([
      ['by-op', 'UNMATCHED_RECORD', 2],
      ['by-op', 'UNMATCHED_RECORD', 3],
    ]);
    expect(letters[0]!.error.message).toContain('no branch for key "r" (branches: c)');
    expect(letters[1]!.error.message).toContain('the selector returned undefined');
  });

  it("drops unmatched records with unmatched: 'skip' and stops with 'fail'", async () => {
    const input: Chunk<Change>[] = [{ kind: 'data', records: [change('c', 1), change('r', 2)] }];
    const select = (v: Change) => v.op;
    const skipped = await runOperator(route(select, { c: (s) => s }, { unmatched: 'skip' }), input);
    expect(kinds(skipped)).toEqual(['data(1)']);
    await expect(runOperator(route(select, { c: (s) => s }, { unmatched: 'fail' }), input)).rejects.toBeInstanceOf(StepFailedError);
  });

  it('applies onError to a throwing selector', async () => {
    const select = (v: Change) => {
      if (v.n === 2) throw new Error('cannot classify');
      return v.op;
    };
    const input: Chunk<Change>[] = [{ kind: 'data', records: [change('c', 1), change('c', 2)] }];
    const out = await runOperator(route(select, { c: (s) => s }, { name: 'classify' }), input);
    expect(out.flatMap((c) => (c.kind === 'dead-letter' ? c.letters.map((l) => l.error.message) : []))).toEqual(['cannot classify']);
    const skipped = await runOperator(route(select, { c: (s) => s }, { onError: 'skip' }), input);
    expect(kinds(skipped)).toEqual(['data(1)']);
    await expect(runOperator(route(select, { c: (s) => s }, { onError: 'fail' }), input)).rejects.toBeInstanceOf(StepFailedError);
  });

  it('subscribes branch pipelines synchronously under the ambient step host, so sinks inside register', () => {
    const created: string[] = [];
    const sinks: string[] = [];
    const counts = { in: 0, out: 0, deadLetters: 0 };
    const host: StepHost = {
    reserveStepName: (kind, name, fallback) => name ?? fallback ?? kind,
      createStepContext(kind, name) {
        created.push(name ?? kind);
        return makeStepContext({
          stepName: name ?? kind,
          clock: systemClock,
          logger: silentLogger,
          metrics: {
            recordsIn: (n) => name === 'router' && (counts.in += n),
            recordsOut: (n) => name === 'router' && (counts.out += n),
            deadLetters: (n) => name === 'router' && (counts.deadLetters += n),
            late: () => undefined,
          },
          states: new Map(),
        });
      },
      registerSink: (stepName) => {
        sinks.push(stepName);
        return { skip: () => undefined };
      },
    };
    // A sink step announces itself to the ambient host when subscribed, as real sinks do.
    const registeringSink = (stepName: string) => (s: Observable<Chunk<Change>>) =>
      new Observable<Chunk<Change>>((subscriber) => {
        currentStepHost().registerSink(stepName, { name: stepName, write: () => undefined, commit: () => undefined });
        return s.subscribe(subscriber);
      });
    const input = new Subject<Chunk<Change>>();
    const out: Chunk<unknown>[] = [];
    const pipeline = input.pipe(
      route(
        (v: Change) => v.op,
        { c: (s) => s.pipe(map((v) => v, { name: 'inner-map' }), registeringSink('c-sink')), u: registeringSink('u-sink') },
        { name: 'router' },
      ),
    );
    expect(created).toEqual([]);
    withStepHost(host, () => pipeline.subscribe((chunk) => out.push(chunk)));
    expect(created).toEqual(['router', 'inner-map']);
    expect(sinks).toEqual(['c-sink', 'u-sink']);
    input.next({ kind: 'data', records: [change('c', 1), change('u', 2), change('z', 3)] });
    input.complete();
    expect(dataOf(out as Chunk<Change>[]).map((r) => r.value.n)).toEqual([1, 2]);
    expect(counts).toEqual({ in: 3, out: 2, deadLetters: 1 });
  });

  it('keeps progress and order invariants for random inputs and asynchronous branches (property)', async () => {
    type Item = { kind: 'data'; ops: string[] } | { kind: 'watermark' } | { kind: 'barrier' } | { kind: 'dead-letter' };
    const item: fc.Arbitrary<Item> = fc.oneof(
      { weight: 4, arbitrary: fc.record({ kind: fc.constant('data' as const), ops: fc.array(fc.constantFrom('a', 'b', 'c', 'z'), { minLength: 1, maxLength: 6 }) }) },
      { weight: 1, arbitrary: fc.constant({ kind: 'watermark' as const }) },
      { weight: 2, arbitrary: fc.constant({ kind: 'barrier' as const }) },
      { weight: 1, arbitrary: fc.constant({ kind: 'dead-letter' as const }) },
    );
    // Per branch: a list of delays cycled over its chunks; -1 = synchronous pass-through, 0 = microtasks, >0 = ms.
    const delays = fc.array(fc.integer({ min: -1, max: 3 }), { minLength: 1, maxLength: 5 });

    await fc.assert(
      fc.asyncProperty(fc.array(item, { maxLength: 30 }), delays, delays, delays, async (items, delaysA, delaysB, delaysC) => {
        let n = 0;
        let progress = 0;
        const input: Chunk<Change>[] = items.map((entry): Chunk<Change> => {
          if (entry.kind === 'data') return { kind: 'data', records: entry.ops.map((op) => change(op, n++)) };
          if (entry.kind === 'watermark') return { kind: 'watermark', time: ++progress };
          if (entry.kind === 'barrier') return barrier(++progress);
          return { kind: 'dead-letter', letters: [{ stage: 'upstream', error: { name: 'E', code: 'E', message: String(progress) }, record: testRecord(null, -1), failedAt: 0 }] };
        });
        const branchWith = (pattern: number[]) => (s: Observable<Chunk<Change>>) => {
          if (pattern.every((d) => d < 0)) return s;
          let index = 0;
          return s.pipe(
            concatMap(async (chunk) => {
              const d = pattern[index++ % pattern.length]!;
              if (d === 0) for (let i = 0; i < 3; i++) await Promise.resolve();
              else if (d > 0) await sleep(d);
              return chunk;
            }),
          );
        };
        const out = await runOperator(
          route((v: Change) => v.op, { a: branchWith(delaysA), b: branchWith(delaysB), c: branchWith(delaysC) }),
          input,
        );

        // How many progress chunks precede each thing, at the input and at the output.
        const placeOf = (chunks: readonly Chunk<Change>[]) => {
          const records = new Map<number, number>();
          const letters: number[] = [];
          const progressChunks: string[] = [];
          for (const chunk of chunks) {
            if (chunk.kind === 'watermark' || chunk.kind === 'barrier') progressChunks.push(`${chunk.kind} ${chunk.kind === 'barrier' ? chunk.id : chunk.time}`);
            else if (chunk.kind === 'data') for (const r of chunk.records) records.set(r.value.n, progressChunks.length);
            else if (chunk.kind === 'dead-letter') for (const l of chunk.letters) letters.push(l.stage === 'upstream' ? progressChunks.length : -1 - l.record.position.offset);
          }
          return { records, letters, progressChunks };
        };
        const before = placeOf(input);
        const after = placeOf(out);
        // Every progress chunk exactly once, in order.
        expect(after.progressChunks).toEqual(before.progressChunks);
        // Every routed record exactly once, on the same side of every barrier and watermark.
        const routed = new Map([...before.records].filter(([value]) => input.some((c) => c.kind === 'data' && c.records.some((r) => r.value.n === value && r.value.op !== 'z'))));
        expect(new Map([...after.records].sort(([x], [y]) => x - y))).toEqual(routed);
        expect(dataOf(out).length).toBe(routed.size);
        // Order within each branch is kept.
        for (const op of ['a', 'b', 'c']) {
          const ns = dataOf(out).filter((r) => r.value.op === op).map((r) => r.value.n);
          expect(ns).toEqual([...ns].sort((x, y) => x - y));
        }
        // Upstream dead letters once and in place; one dead letter per unmatched 'z' record.
        expect(after.letters.filter((x) => x >= 0)).toEqual(before.letters);
        expect(after.letters.filter((x) => x < 0).length).toBe(dataOf(input).filter((r) => r.value.op === 'z').length);
      }),
      { numRuns: 150 },
    );
  });

  it('invalid options fail at construction naming the option', () => {
    const select = (v: Change) => v.op;
    expect(() => route(select, { c: (s) => s }, { unmatched: 'drop' as never })).toThrow(/unmatched/);
    expect(() => route(select, { c: (s) => s }, { onError: 'drop' as never })).toThrow(/onError/);
    expect(() => route(select, { c: (s) => s }, { name: '' })).toThrow(/name/);
    expect(() => route(select, { c: (s) => s }, { otherwise: (s: unknown) => s } as never)).toThrow(/otherwise/);
    expect(() => route(select, {})).toThrow(/branches: must have at least one branch/);
    expect(() => route(select, { c: 'sink' } as never)).toThrow(/branches\.c: must be a function/);
    expect(() => route('op' as never, { c: (s) => s })).toThrow(/select: must be a function/);
    expect(() => route(select, {})).toThrow(InvalidOptionsError);
  });
});
