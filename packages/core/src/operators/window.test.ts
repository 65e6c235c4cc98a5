import { concat, from, NEVER, Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { InvalidOptionsError, StepFailedError } from '../errors.js';
import { dataOf, runOperator, testRecord } from '../internal/run-operator.js';
import { currentStepHost, makeStepContext, withStepHost, WorkingState } from '../internal/step-host.js';
import type { StepHost } from '../internal/step-host.js';
import { END_OF_TIME } from '../record/chunk.js';
import type { Chunk } from '../record/chunk.js';
import type { LateRecord } from '../record/dead-letter.js';
import type { StreamRecord } from '../record/stream-record.js';
import { systemClock } from '../runtime/clock.js';
import { silentLogger } from '../runtime/logger.js';
import type { Operator } from './define-operator.js';
import { window } from './window.js';
import type { WindowResult } from './window.js';
import { avg, count, max, min, reduce, sum } from './window-aggregates.js';
import { hopping, session, sliding, tumbling } from './window-assigners.js';

type Order = { merchant: string; amount: number };

const order = (merchant: string, amount: number, time: number, offset: number, partition = 'p0'): StreamRecord<Order> =>
  testRecord({ merchant, amount }, offset, time, `order-${offset}`, partition);
const data = (...records: StreamRecord<Order>[]): Chunk<Order> => ({ kind: 'data', records });
const watermark = (time: number): Chunk<Order> => ({ kind: 'watermark', time });

const stats = { count: count(), total: sum((o: Order) => o.amount), avg: avg((o: Order) => o.amount), min: min((o: Order) => o.amount), max: max((o: Order) => o.amount) };
const byMerchant = (o: Order) => o.merchant;

type Values = { count: number; total: number; avg: number; min: number | null; max: number | null };
/** A compact view of a result: key, bounds, revision and values. */
const view = (result: WindowResult<Partial<Values> & Record<string, unknown>>) => ({
  key: result.key,
  start: result.start,
  end: result.end,
  revision: result.revision,
  ...result.values,
  ...(result.supersedes ? { supersedes: result.supersedes } : {}),
});
const results = <V extends Record<string, unknown>>(chunks: readonly Chunk<WindowResult<V>>[]) => dataOf(chunks).map((r) => view(r.value));
const lateOf = (chunks: readonly Chunk<unknown>[]): LateRecord[] => chunks.flatMap((c) => (c.kind === 'late' ? [...c.records] : []));
/** Chunk kinds, with data chunks shown as their result keys@end#revision. */
const shape = (chunks: readonly Chunk<WindowResult<unknown>>[]) =>
  chunks.map((c) => {
    if (c.kind === 'data') return c.records.map((r) => `${r.value.key}@${r.value.end}#${r.value.revision}`).join(',');
    if (c.kind === 'watermark') return `W${c.time}`;
    return c.kind;
  });

describe('window', () => {
  it('tumbling: aggregates per key and window, fires on the watermark ordered by end then key, before the watermark', async () => {
    const op = window({ key: byMerchant, window: tumbling(1000), aggregate: stats });
    const chunks = await runOperator(op, [
      data(order('b', 5, 100, 0), order('a', 10, 0, 1), order('a', 20, 999, 2), order('a', 30, 1000, 3)),
      data(order('a', 4, 500, 4), order('b', 7, 2500, 5)),
      watermark(998),
      watermark(999),
      watermark(3000),
    ]);
    expect(shape(chunks)).toEqual(['W998', 'a@1000#0,b@1000#0', 'W999', 'a@2000#0,b@3000#0', 'W3000']);
    expect(results(chunks)).toEqual([
      { key: 'a', start: 0, end: 1000, revision: 0, count: 3, total: 34, avg: 34 / 3, min: 4, max: 20 },
      { key: 'b', start: 0, end: 1000, revision: 0, count: 1, total: 5, avg: 5, min: 5, max: 5 },
      { key: 'a', start: 1000, end: 2000, revision: 0, count: 1, total: 30, avg: 30, min: 30, max: 30 },
      { key: 'b', start: 2000, end: 3000, revision: 0, count: 1, total: 7, avg: 7, min: 7, max: 7 },
    ]);
    const first = dataOf(chunks)[0]!;
    // key = group key, eventTime = end - 1, position = last record added, no headers
    expect({ key: first.key, eventTime: first.eventTime, position: first.position, headers: first.headers }).toEqual({
      key: 'a',
      eventTime: 999,
      position: { partition: 'p0', offset: 4 },
      headers: {},
    });
  });

  it('hopping: a record lands in every window containing it', async () => {
    const op = window({ key: byMerchant, window: hopping(10, 5), aggregate: { n: count(), total: sum((o: Order) => o.amount) } });
    const chunks = await runOperator(op, [data(order('a', 1, 3, 0), order('a', 2, 7, 1), order('a', 4, 12, 2), order('a', 8, -1, 3))]);
    // windows [-10,0) [-5,5) [0,10) [5,15) [10,20): t=-1 -> [-10,0),[-5,5); 3 -> [-5,5),[0,10); 7 -> [0,10),[5,15); 12 -> [5,15),[10,20)
    expect(results(chunks)).toEqual([
      { key: 'a', start: -10, end: 0, revision: 0, n: 1, total: 8 },
      { key: 'a', start: -5, end: 5, revision: 0, n: 2, total: 9 },
      { key: 'a', start: 0, end: 10, revision: 0, n: 2, total: 3 },
      { key: 'a', start: 5, end: 15, revision: 0, n: 2, total: 6 },
      { key: 'a', start: 10, end: 20, revision: 0, n: 1, total: 4 },
    ]);
  });

  it('hopping: a record whose older windows are purged goes to the alive ones only', async () => {
    const op = window({ key: byMerchant, window: hopping(10, 5), aggregate: { n: count() } });
    const chunks = await runOperator(op, [data(order('a', 1, 8, 0)), watermark(10), data(order('a', 1, 7, 1))]);
    // at W=10: [0,10) fired and purged (9 <= 10); [5,15) alive -> t=7 goes there only, not late
    expect(lateOf(chunks)).toEqual([]);
    expect(results(chunks)).toEqual([
      { key: 'a', start: 0, end: 10, revision: 0, n: 1 },
      { key: 'a', start: 5, end: 15, revision: 0, n: 2 },
    ]);
  });

  it('sliding: one window per event time over the trailing size, including records that arrive later but are not late', async () => {
    const op = window({ key: byMerchant, window: sliding(10), aggregate: { n: count(), total: sum((o: Order) => o.amount) } });
    const chunks = await runOperator(op, [
      data(order('a', 1, 0, 0), order('a', 2, 5, 1), order('a', 4, 12, 2), order('b', 100, 5, 3)),
      watermark(4), // fires a's window at 0: (-10, 0] = {0}
      data(order('a', 8, 3, 4)), // own window (-7, 3] already fired and purged (W=4 >= 3); windows 5 and 12 alive
      data(order('a', 16, 5, 5)), // same time as an existing window: updates windows 5 and 12
      watermark(20),
    ]);
    expect(lateOf(chunks)).toEqual([]);
    expect(results(chunks)).toEqual([
      { key: 'a', start: -9, end: 1, revision: 0, n: 1, total: 1 },
      { key: 'a', start: -4, end: 6, revision: 0, n: 4, total: 1 + 2 + 8 + 16 },
      { key: 'b', start: -4, end: 6, revision: 0, n: 1, total: 100 },
      { key: 'a', start: 3, end: 13, revision: 0, n: 4, total: 2 + 4 + 8 + 16 },
    ]);
  });

  it('sliding: a new window includes earlier buffered records that had no window of their own', async () => {
    const op = window({ key: byMerchant, window: sliding(10), aggregate: { n: count(), total: sum((o: Order) => o.amount) } });
    const chunks = await runOperator(op, [
      data(order('a', 1, 10, 0)),
      watermark(10),
      data(order('a', 2, 8, 1)), // own window (−2, 8] dead, but window 10 alive? no: W=10 >= 10 purged -> late
      data(order('a', 4, 15, 2)),
      data(order('a', 8, 11, 3)), // own window alive; window 15 covers it
      watermark(30),
    ]);
    expect(lateOf(chunks).map((l) => l.record.position.offset)).toEqual([1]);
    expect(results(chunks)).toEqual([
      { key: 'a', start: 1, end: 11, revision: 0, n: 1, total: 1 },
      { key: 'a', start: 2, end: 12, revision: 0, n: 2, total: 1 + 8 },
      { key: 'a', start: 6, end: 16, revision: 0, n: 3, total: 1 + 4 + 8 },
    ]);
  });

  it('session: merges records closer than the gap, and a bridging record merges two sessions', async () => {
    const op = window({ key: byMerchant, window: session(10), aggregate: { n: count(), total: sum((o: Order) => o.amount) } });
    const chunks = await runOperator(op, [
      data(order('a', 1, 0, 0), order('a', 2, 5, 1), order('a', 4, 22, 2), order('b', 9, 3, 3)), // a: [0,15) and [22,32)
      data(order('a', 8, 14, 3)), // [14,24) overlaps both: one session [0,32)
      data(order('a', 16, 50, 4)),
      watermark(31),
      watermark(100),
    ]);
    expect(shape(chunks)).toEqual(['b@13#0,a@32#0', 'W31', 'a@60#0', 'W100']);
    expect(results(chunks)).toEqual([
      { key: 'b', start: 3, end: 13, revision: 0, n: 1, total: 9 },
      { key: 'a', start: 0, end: 32, revision: 0, n: 4, total: 15 },
      { key: 'a', start: 50, end: 60, revision: 0, n: 1, total: 16 },
    ]);
  });

  it('session, emit update: every touched session is emitted after the chunk, naming the sessions it replaces', async () => {
    const op = window({ key: byMerchant, window: session(10), aggregate: { n: count() }, emit: 'update' });
    const chunks = await runOperator(op, [
      data(order('a', 1, 0, 0), order('a', 1, 22, 1)),
      data(order('a', 1, 5, 2)),
      data(order('a', 1, 14, 3)),
      watermark(100),
    ]);
    expect(results(chunks)).toEqual([
      { key: 'a', start: 0, end: 10, revision: 0, n: 1 },
      { key: 'a', start: 22, end: 32, revision: 0, n: 1 },
      { key: 'a', start: 0, end: 15, revision: 1, n: 2, supersedes: [{ start: 0, end: 10 }] },
      {
        key: 'a',
        start: 0,
        end: 32,
        revision: 2,
        n: 4,
        supersedes: [
          { start: 22, end: 32 },
          { start: 0, end: 15 },
        ],
      },
    ]);
    expect(chunks.at(-1)).toEqual({ kind: 'watermark', time: 100 });
  });

  it('session, emit close: a fired session that grows fires again later and supersedes what was emitted', async () => {
    const op = window({ key: byMerchant, window: session(10), aggregate: { n: count() }, allowedLateness: 20 });
    const chunks = await runOperator(op, [
      data(order('a', 1, 0, 0)),
      watermark(9), // fires [0,10)
      data(order('a', 1, 0, 1)), // inside the fired session, bounds unchanged: re-emitted now
      data(order('a', 1, 8, 2)), // grows it to [0,18): not fired any more
      watermark(17),
    ]);
    expect(shape(chunks)).toEqual(['a@10#0', 'W9', 'a@10#1', 'a@18#2', 'W17']);
    expect(results(chunks).at(-1)).toEqual({ key: 'a', start: 0, end: 18, revision: 2, n: 3, supersedes: [{ start: 0, end: 10 }] });
  });

  it('session, emit close: a late record bridging two emitted sessions re-emits the merge, superseding both', async () => {
    const op = window({ key: byMerchant, window: session(5), aggregate: { n: count() }, allowedLateness: 20 });
    const chunks = await runOperator(op, [
      data(order('a', 1, 0, 0), order('a', 1, 7, 1)), // [0,5) and [7,12)
      watermark(11), // fires both
      data(order('a', 1, 4, 2)), // [4,9) overlaps both: [0,12), still covered by the watermark
      watermark(40),
    ]);
    expect(shape(chunks)).toEqual(['a@5#0,a@12#0', 'W11', 'a@12#1', 'W40']);
    expect(results(chunks).at(-1)).toEqual({
      key: 'a',
      start: 0,
      end: 12,
      revision: 1,
      n: 3,
      supersedes: [
        { start: 7, end: 12 },
        { start: 0, end: 5 },
      ],
    });
  });

  it('allowed lateness: a record for a fired window re-emits it; after the purge it goes to the late output only', async () => {
    const op = window({ name: 'minute', key: byMerchant, window: tumbling(1000), aggregate: { n: count(), total: sum((o: Order) => o.amount) }, allowedLateness: 500 });
    const lateRecord = order('a', 100, 300, 3);
    const chunks = await runOperator(op, [
      data(order('a', 1, 100, 0)),
      watermark(999),
      data(order('a', 2, 200, 1), order('a', 4, 1200, 2)),
      watermark(1498),
      data(order('a', 8, 400, 4)),
      watermark(1499),
      data(lateRecord),
    ]);
    // the window [1000, 2000) fires when the input completes
    expect(shape(chunks)).toEqual(['a@1000#0', 'W999', 'a@1000#1', 'W1498', 'a@1000#2', 'W1499', 'late', 'a@2000#0']);
    expect(results(chunks).map((r) => r.total)).toEqual([1, 3, 11, 4]);
    expect(lateOf(chunks)).toEqual([{ stage: 'minute', record: lateRecord, watermark: 1499 }]);
  });

  it('allowed lateness: a window first created after it would have fired is emitted at once', async () => {
    const op = window({ key: byMerchant, window: tumbling(10), aggregate: { n: count() }, allowedLateness: 10 });
    const barrier: Chunk<Order> = { kind: 'barrier', id: 1, checkpoint: undefined };
    const chunks = await runOperator(op, [watermark(15), data(order('a', 1, 5, 0)), barrier, watermark(19), data(order('a', 1, 6, 1))]);
    expect(shape(chunks)).toEqual(['W15', 'a@10#0', 'barrier', 'W19', 'late']);
  });

  it('emit update: one result per touched window per chunk, nothing extra on fire', async () => {
    const op = window({ key: byMerchant, window: tumbling(1000), aggregate: { n: count(), total: sum((o: Order) => o.amount) }, emit: 'update' });
    const chunks = await runOperator(op, [
      data(order('a', 1, 0, 0), order('b', 2, 10, 1), order('a', 4, 100, 2)),
      data(order('a', 8, 200, 3)),
      watermark(999),
      data(order('a', 16, 2000, 4)),
    ]);
    expect(shape(chunks)).toEqual(['a@1000#0,b@1000#0', 'a@1000#1', 'W999', 'a@3000#0']);
    expect(results(chunks).map((r) => r.total)).toEqual([5, 2, 13, 16]);
  });

  it('complete() fires every remaining window, ordered by end then key', async () => {
    const op = window({ key: byMerchant, window: tumbling(10), aggregate: { n: count() } });
    const chunks = await runOperator(op, [data(order('b', 1, 25, 0), order('b', 1, 5, 1), order('a', 1, 27, 2), order('c', 1, 1, 3))]);
    expect(shape(chunks)).toEqual(['b@10#0,c@10#0,a@30#0,b@30#0']);
    // The runtime ends a bounded input with the END_OF_TIME watermark: the same flush, before that watermark.
    const ended = await runOperator(window({ key: byMerchant, window: session(10), aggregate: { n: count() } }), [
      data(order('b', 1, 25, 0), order('a', 1, 27, 1)),
      watermark(END_OF_TIME),
      data(order('a', 1, 28, 2)),
    ]);
    expect(shape(ended)).toEqual(['b@35#0,a@37#0', `W${END_OF_TIME}`, 'late']);
  });

  it('passes control chunks through in order, with fired results just before their watermark', async () => {
    const letter = { stage: 'x', error: { name: 'Error', code: 'UNKNOWN', message: 'no' }, record: order('z', 0, 0, 99), failedAt: 0 };
    const chunks = await runOperator(window({ key: byMerchant, window: tumbling(10), aggregate: { n: count() } }), [
      data(order('a', 1, 1, 0)),
      { kind: 'barrier', id: 1, checkpoint: undefined },
      { kind: 'dead-letter', letters: [letter] },
      { kind: 'late', records: [{ stage: 'y', record: order('z', 0, 0, 98), watermark: 5 }] },
      watermark(9),
      { kind: 'barrier', id: 2, checkpoint: { id: 1, positions: { p0: 1 }, reason: 'interval' } },
    ]);
    expect(shape(chunks)).toEqual(['barrier', 'dead-letter', 'late', 'a@10#0', 'W9', 'barrier']);
  });

  it('keeps windows per source partition and orders fired results across partitions', async () => {
    const op = window({ key: byMerchant, window: tumbling(10), aggregate: { n: count() } });
    const chunks = await runOperator(op, [data(order('b', 1, 1, 0, 'p1'), order('a', 1, 2, 0, 'p0'), order('c', 1, 12, 1, 'p1')), watermark(100)]);
    expect(dataOf(chunks).map((r) => `${r.key}@${r.value.end}:${r.position.partition}@${r.position.offset}`)).toEqual([
      'a@10:p0@0',
      'b@10:p1@0',
      'c@20:p1@1',
    ]);
  });

  it('custom reduce aggregates, and merges for sessions', async () => {
    const offsets = reduce({
      init: (): number[] => [],
      add: (seen, o: Order) => [...seen, o.amount],
      merge: (a, b) => [...a, ...b],
      result: (seen) => [...seen].sort((x, y) => x - y),
    });
    const op = window({ key: byMerchant, window: session(10), aggregate: { amounts: offsets } });
    // [0,10) and [15,25), bridged by 8: [8,18) overlaps both
    const chunks = await runOperator(op, [data(order('a', 3, 0, 0), order('a', 1, 15, 1)), data(order('a', 2, 8, 2)), watermark(50)]);
    expect(results(chunks)).toEqual([{ key: 'a', start: 0, end: 25, revision: 0, amounts: [1, 2, 3] }]);
  });

  it('sends records with a bad key or aggregate input to the error policy', async () => {
    const op = window({ name: 'w', key: (o: Order) => o.merchant, window: tumbling(10), aggregate: { total: sum((o: Order) => o.amount) } });
    const bad = { ...order('a', 0, 1, 1), value: { merchant: 'a', amount: 'x' as unknown as number } };
    const noKey = { ...order('a', 0, 1, 2), value: { merchant: 7 as unknown as string, amount: 1 } };
    const chunks = await runOperator(op, [data(order('a', 5, 1, 0), bad, noKey, order('a', 6, 2, 3)), watermark(9)]);
    expect(results(chunks)).toEqual([{ key: 'a', start: 0, end: 10, revision: 0, total: 11 }]);
    const letters = chunks.flatMap((c) => (c.kind === 'dead-letter' ? c.letters : []));
    expect(letters.map((l) => [l.stage, l.record.position.offset, l.error.code])).toEqual([
      ['w', 1, 'INVALID_WINDOW_INPUT'],
      ['w', 2, 'INVALID_WINDOW_INPUT'],
    ]);
    expect(letters[0]!.error.message).toMatch(/Aggregate "total".*the string "x"/);

    const skipping = window({ key: byMerchant, window: tumbling(10), aggregate: { total: sum((o: Order) => o.amount) }, onError: 'skip' });
    const skipped = await runOperator(skipping, [data(bad, order('a', 5, 1, 0))]);
    expect(skipped.some((c) => c.kind === 'dead-letter')).toBe(false);
    expect(results(skipped)).toEqual([{ key: 'a', start: 0, end: 10, revision: 0, total: 5 }]);

    const failing = window({ key: byMerchant, window: tumbling(10), aggregate: { total: sum((o: Order) => o.amount) }, onError: 'fail' });
    await expect(runOperator(failing, [data(bad)])).rejects.toBeInstanceOf(StepFailedError);
  });

  it('keeps JSON state that a restarted step resumes from, rebuilding its index from the state', async () => {
    for (const assigner of [tumbling(10), hopping(10, 5), sliding(10), session(5)]) {
      for (const emit of ['close', 'update'] as const) {
        const make = () => window({ name: 'w', key: byMerchant, window: assigner, aggregate: { ...stats }, allowedLateness: 5, emit });
        const first = [data(order('a', 1, 1, 0), order('b', 2, 4, 1)), watermark(3), data(order('a', 4, 8, 2), order('a', 3, 12, 3))];
        const second = [watermark(11), data(order('a', 5, 9, 4), order('b', 6, 14, 5)), watermark(40)];
        const whole = await runOperator(make(), [...first, ...second]);

        const before = new Map<string, WorkingState<unknown>>();
        const head = runWithStates(make(), first, before);
        // What a store would hold: a JSON round trip of every entry.
        const restored = new Map<string, WorkingState<unknown>>();
        for (const [partition, state] of before) {
          const copy = new WorkingState<unknown>();
          for (const [key, value] of state.entries()) copy.set(key, JSON.parse(JSON.stringify(value)));
          restored.set(partition, copy);
        }
        const tail = runWithStates(make(), second, restored);
        expect(shape([...head, ...tail]), `${assigner.type} ${emit}`).toEqual(shape(whole));
        expect(dataOf([...head, ...tail]).map((r) => r.value), `${assigner.type} ${emit}`).toEqual(dataOf(whole).map((r) => r.value));
        // after the final watermark only the stored watermark is left
        expect([...restored.get('p0')!.entries()].map(([key]) => key)).toEqual(['\u0000watermark']);
      }
    }
  });

  it('hands every window it changes after a checkpoint barrier to the state again, so the next checkpoint has it', () => {
    const states = new Map<string, WorkingState<unknown>>();
    const input = new Subject<Chunk<Order>>();
    const op = window({ key: byMerchant, window: tumbling(10), aggregate: { total: sum((o: Order) => o.amount) } });
    const subscription = withStepHost(testHost(states), () => input.pipe(op).subscribe());
    input.next(data(order('a', 1, 1, 0), order('b', 1, 1, 1)));
    const state = states.get('p0')!;
    expect([...state.dirty].sort()).toEqual(['a\u00000', 'b\u00000']);
    input.next({ kind: 'barrier', id: 1, checkpoint: { id: 1, positions: { p0: 2 }, reason: 'interval' } });
    state.dirty.clear(); // the runtime captured the state once the barrier went through
    input.next(data(order('a', 2, 2, 2)));
    expect([...state.dirty]).toEqual(['a\u00000']);
    expect(state.entriesMap.get('a\u00000')).toMatchObject({ key: 'a', start: 0, end: 10, numbers: [3], offset: 2 });
    input.next(watermark(9));
    expect([...state.dirty].sort()).toEqual(['\u0000watermark', 'a\u00000', 'b\u00000']);
    expect([...state.entries()]).toEqual([['\u0000watermark', 9]]);
    subscription.unsubscribe();
  });

  it('rejects invalid options at construction, naming the option', () => {
    const base = { key: byMerchant, window: tumbling(10), aggregate: { n: count() } };
    expect(() => tumbling(-1)).toThrow(InvalidOptionsError);
    expect(() => tumbling(-1)).toThrow(/size: must be a positive integer/);
    expect(() => tumbling(1.5)).toThrow(/size:/);
    expect(() => hopping(10, 20)).toThrow(/advance: must not exceed size/);
    expect(() => hopping(10, 0)).toThrow(/advance:/);
    expect(() => sliding(0)).toThrow(/size:/);
    expect(() => session(Number.NaN)).toThrow(/gap:/);
    expect(() => window({ ...base, key: undefined as never })).toThrow(/key: must be a function/);
    expect(() => window({ ...base, window: { type: 'tumbling', size: 0 } })).toThrow(/window\.size:/);
    expect(() => window({ ...base, window: { type: 'weekly' } as never })).toThrow(/window(\.type)?: must be tumbling/);
    expect(() => window({ ...base, aggregate: {} })).toThrow(/aggregate: must name at least one aggregate/);
    expect(() => window({ ...base, aggregate: { n: 42 as never } })).toThrow(/aggregate\.n: must be an aggregate/);
    expect(() => window({ ...base, allowedLateness: -1 })).toThrow(/allowedLateness:/);
    expect(() => window({ ...base, emit: 'sometimes' as never })).toThrow(/emit:/);
    expect(() => window({ ...base, onError: 'explode' as never })).toThrow(/onError/);
    expect(() => window({ ...base, name: '' })).toThrow(/name:/);
    expect(() => window({ ...base, bogus: 1 } as never)).toThrow(/bogus/);
    const noMerge = reduce({ init: () => 0, add: (n: number) => n + 1 });
    expect(() => window({ ...base, window: session(10), aggregate: { custom: noMerge } })).toThrow(/aggregate\.custom: reduce\(\) needs a merge function for session windows/);
    expect(() => window({ ...base, window: sliding(10), aggregate: { custom: noMerge } })).toThrow(/aggregate\.custom:/);
    expect(() => window({ ...base, aggregate: { custom: noMerge } })).not.toThrow();
  });
});

/**
 * Runs `operator` over `chunks` WITHOUT completing its input (a running step that is then stopped), with a host whose
 * per-partition state lives in `states` (pre-filled to simulate a restore).
 */
function runWithStates<In, Out>(operator: Operator<In, Out>, chunks: readonly Chunk<In>[], states: Map<string, WorkingState<unknown>>): Chunk<Out>[] {
  const out: Chunk<Out>[] = [];
  const subscription = withStepHost(testHost(states), () => concat(from(chunks), NEVER).pipe(operator).subscribe((chunk) => out.push(chunk)));
  subscription.unsubscribe();
  return out;
}

/** A standalone step host whose steps keep their per-partition state in `states`. */
function testHost(states: Map<string, WorkingState<unknown>>): StepHost {
  const metrics = { recordsIn: () => undefined, recordsOut: () => undefined, deadLetters: () => undefined, late: () => undefined };
  const host = Object.create(currentStepHost()) as StepHost;
  host.createStepContext = (kind, name) =>
    makeStepContext({ stepName: name ?? `${kind}-1`, clock: systemClock, logger: silentLogger, metrics, states });
  return host;
}
