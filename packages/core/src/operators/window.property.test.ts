import fc from 'fast-check';
import { from } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { Chunk } from '../record/chunk.js';
import type { StreamRecord } from '../record/stream-record.js';
import { window } from './window.js';
import type { WindowResult } from './window.js';
import { avg, count, max, min, reduce, sum } from './window-aggregates.js';
import { hopping, session, sliding, tumbling } from './window-assigners.js';
import type { WindowAssigner } from './window-assigners.js';

/**
 * Property: for random keyed event sequences with random out-of-orderness and watermarks that trail the largest event
 * time seen by a fixed bound, the window operator's final results equal a brute-force reference computed from the
 * definitions in window.ts, and every input record is either in windows or in the late output, never both.
 */

type Event = { id: number; key: string; amount: number };
type Input = { time: number; key: number; amount: number; cut: boolean; watermark: boolean };
type Scenario = { events: Input[]; allowedLateness: number; bound: number };

const NUM_RUNS = 300;

const scenario: fc.Arbitrary<Scenario> = fc.record({
  events: fc.array(
    fc
      .record({
        step: fc.integer({ min: 0, max: 4 }),
        disorder: fc.integer({ min: 0, max: 30 }),
        key: fc.integer({ min: 0, max: 2 }),
        amount: fc.integer({ min: -50, max: 50 }),
        cut: fc.boolean(),
        watermark: fc.boolean(),
      })
      .map((e) => ({ ...e, time: 0 })),
    { minLength: 1, maxLength: 60 },
  ),
  allowedLateness: fc.integer({ min: 0, max: 20 }),
  bound: fc.integer({ min: 0, max: 10 }),
}).map((s) => {
  // Event times: a random walk forward, each event pulled back by a random disorder.
  let base = 0;
  const events = s.events.map((e) => {
    base += e.step;
    return { time: base - e.disorder, key: e.key, amount: e.amount, cut: e.cut, watermark: e.watermark };
  });
  return { events, allowedLateness: s.allowedLateness, bound: s.bound };
});

const assigners: Record<WindowAssigner['type'], fc.Arbitrary<WindowAssigner>> = {
  tumbling: fc.integer({ min: 1, max: 20 }).map((size) => tumbling(size)),
  hopping: fc
    .integer({ min: 1, max: 20 })
    .chain((size) => fc.integer({ min: 1, max: size }).map((advance) => hopping(size, advance))),
  sliding: fc.integer({ min: 1, max: 20 }).map((size) => sliding(size)),
  session: fc.integer({ min: 1, max: 15 }).map((gap) => session(gap)),
};

/**
 * Builds the input chunks: data chunks cut at random, each followed by a barrier (so the output can be split into what
 * each input chunk caused), and watermarks W = max event time so far - bound.
 */
function chunksOf(s: Scenario): { chunks: Chunk<Event>[]; records: StreamRecord<Event>[] } {
  const chunks: Chunk<Event>[] = [];
  const records: StreamRecord<Event>[] = [];
  let pending: StreamRecord<Event>[] = [];
  let maxTime = -Infinity;
  let lastWatermark = -Infinity;
  s.events.forEach((e, id) => {
    const key = `k${e.key}`;
    const record: StreamRecord<Event> = {
      key,
      value: { id, key, amount: e.amount },
      eventTime: e.time,
      position: { partition: `p${e.key % 2}`, offset: id },
      headers: {},
    };
    records.push(record);
    pending.push(record);
    maxTime = Math.max(maxTime, e.time);
    if (e.cut || e.watermark) {
      chunks.push({ kind: 'data', records: pending }, { kind: 'barrier', id: chunks.length, checkpoint: undefined });
      pending = [];
    }
    if (e.watermark && maxTime - s.bound > lastWatermark) {
      lastWatermark = maxTime - s.bound;
      chunks.push({ kind: 'watermark', time: lastWatermark });
    }
  });
  if (pending.length > 0) chunks.push({ kind: 'data', records: pending }, { kind: 'barrier', id: chunks.length, checkpoint: undefined });
  return { chunks, records };
}

type Expected = { key: string; start: number; end: number; ids: number[] };
/** What should be emitted after an input chunk: the windows (as key/start/end) of one data chunk, watermark or completion. */
type Segment = { after: 'data' | 'watermark' | 'complete'; windows: string[] };
type Reference = { windows: Expected[]; late: Map<number, number>; segments: Segment[] };

/** The windows a record joins (undefined when it is late), and the windows that exist now. */
interface Model {
  add(record: StreamRecord<Event>, watermark: number): Expected[] | undefined;
  /** Windows not purged or merged away (purged ones may linger: callers only look at ones the watermark has not passed). */
  live(): Expected[];
  advance(watermark: number): void;
  final(): Expected[];
}

const identity = (w: { key: string; start: number; end: number }) => `${w.key}/${w.start}/${w.end}`;

/**
 * Brute force, straight from the definitions in window.ts: which windows exist, which accepted records each holds,
 * which records are late, and which windows each input chunk should cause to be emitted.
 */
function reference(assigner: WindowAssigner, allowedLateness: number, emit: 'close' | 'update', chunks: readonly Chunk<Event>[]): Reference {
  const late = new Map<number, number>();
  const model = modelOf(assigner, allowedLateness);
  const segments: Segment[] = [];
  let watermark = -Infinity;
  const fired = (from: number, to: number) => (emit === 'close' ? model.live().filter((w) => w.end - 1 > from && w.end - 1 <= to) : []);
  for (const chunk of chunks) {
    if (chunk.kind === 'watermark') {
      segments.push({ after: 'watermark', windows: fired(watermark, chunk.time).map(identity).sort() });
      watermark = chunk.time;
      model.advance(watermark);
    } else if (chunk.kind === 'data') {
      const touched = new Set<Expected>();
      for (const record of chunk.records) {
        const joined = model.add(record, watermark);
        if (joined === undefined) late.set(record.value.id, watermark);
        else for (const w of joined) touched.add(w);
      }
      const live = new Set(model.live());
      const emitted = [...touched].filter((w) => live.has(w) && (emit === 'update' || w.end - 1 <= watermark));
      segments.push({ after: 'data', windows: emitted.map(identity).sort() });
    }
  }
  segments.push({ after: 'complete', windows: fired(watermark, Infinity).map(identity).sort() });
  return { windows: model.final(), late, segments };
}

function modelOf(assigner: WindowAssigner, allowedLateness: number): Model {
  const alive = (end: number, watermark: number) => watermark < end - 1 + allowedLateness;

  if (assigner.type === 'tumbling' || assigner.type === 'hopping') {
    const size = assigner.size;
    const advance = assigner.type === 'tumbling' ? size : assigner.advance;
    const windows = new Map<string, Expected>();
    return {
      add(record, watermark) {
        const t = record.eventTime;
        const key = record.value.key;
        const joined: Expected[] = [];
        for (let start = Math.floor(t / advance) * advance; start > t - size; start -= advance) {
          if (!alive(start + size, watermark)) continue;
          const id = identity({ key, start, end: start + size });
          const w = windows.get(id) ?? { key, start, end: start + size, ids: [] };
          w.ids.push(record.value.id);
          windows.set(id, w);
          joined.push(w);
        }
        return joined.length > 0 ? joined : undefined;
      },
      live: () => [...windows.values()],
      advance: () => undefined,
      final: () => [...windows.values()],
    };
  }

  if (assigner.type === 'sliding') {
    const size = assigner.size;
    const windows = new Map<string, Expected & { time: number }>();
    const accepted: { record: StreamRecord<Event>; watermark: number }[] = [];
    return {
      add(record, watermark) {
        const t = record.eventTime;
        const key = record.value.key;
        // The key's existing windows covering t that are alive, and its own window if alive.
        const joined: Expected[] = [...windows.values()].filter((w) => w.key === key && w.time >= t && w.time <= t + size - 1 && alive(w.end, watermark));
        const own = identity({ key, start: t - size + 1, end: t + 1 });
        if (alive(t + 1, watermark) && !windows.has(own)) {
          const w = { key, start: t - size + 1, end: t + 1, time: t, ids: [] };
          windows.set(own, w);
          joined.push(w);
        }
        if (joined.length === 0) return undefined;
        accepted.push({ record, watermark });
        return joined;
      },
      live: () => [...windows.values()],
      advance: () => undefined,
      // Contents: every accepted record of the key in (time - size, time] that arrived while the window was alive.
      final: () =>
        [...windows.values()].map((w) => ({
          key: w.key,
          start: w.start,
          end: w.end,
          ids: accepted
            .filter((a) => a.record.value.key === w.key && a.record.eventTime > w.time - size && a.record.eventTime <= w.time && alive(w.end, a.watermark))
            .map((a) => a.record.value.id),
        })),
    };
  }

  const gap = assigner.gap;
  let open: Expected[] = [];
  const closed: Expected[] = [];
  return {
    add(record, watermark) {
      const t = record.eventTime;
      const key = record.value.key;
      const overlapping = open.filter((s) => s.key === key && s.start < t + gap && t < s.end);
      if (overlapping.length === 0 && !alive(t + gap, watermark)) return undefined;
      const merged: Expected = {
        key,
        start: Math.min(t, ...overlapping.map((s) => s.start)),
        end: Math.max(t + gap, ...overlapping.map((s) => s.end)),
        ids: [record.value.id, ...overlapping.flatMap((s) => s.ids)],
      };
      open = [...open.filter((s) => !overlapping.includes(s)), merged];
      return [merged];
    },
    live: () => open,
    advance(watermark) {
      closed.push(...open.filter((s) => !alive(s.end, watermark)));
      open = open.filter((s) => alive(s.end, watermark));
    },
    final: () => [...closed, ...open],
  };
}

type Values = { count: number; total: number; avg: number; min: number | null; max: number | null; ids: number[] };

/** Runs the operator synchronously (everything in the pipeline is synchronous) and collects what it emits. */
function run(assigner: WindowAssigner, emit: 'close' | 'update', allowedLateness: number, chunks: readonly Chunk<Event>[]): Chunk<WindowResult<Values>>[] {
  const op = window({
    key: (event: Event) => event.key,
    window: assigner,
    aggregate: {
      count: count(),
      total: sum((e: Event) => e.amount),
      avg: avg((e: Event) => e.amount),
      min: min((e: Event) => e.amount),
      max: max((e: Event) => e.amount),
      ids: reduce({
        init: (): number[] => [],
        add: (ids, e: Event) => [...ids, e.id],
        merge: (a, b) => [...a, ...b],
        result: (ids) => [...ids].sort((x, y) => x - y),
      }),
    },
    allowedLateness,
    emit,
  });
  const out: Chunk<WindowResult<Values>>[] = [];
  let done = false;
  let failure: unknown;
  from(chunks)
    .pipe(op)
    .subscribe({ next: (chunk) => out.push(chunk), complete: () => (done = true), error: (error: unknown) => (failure = error) });
  if (failure !== undefined) throw failure instanceof Error ? failure : new Error('the operator failed', { cause: failure });
  expect(done).toBe(true);
  return out;
}

function check(assigner: WindowAssigner, emit: 'close' | 'update', s: Scenario): void {
  const { chunks, records } = chunksOf(s);
  const out = run(assigner, emit, s.allowedLateness, chunks);
  const expected = reference(assigner, s.allowedLateness, emit, chunks);

  // Control chunks keep their order.
  expect(out.filter((c) => c.kind !== 'data' && c.kind !== 'late')).toEqual(chunks.filter((c) => c.kind !== 'data'));
  expect(out.some((c) => c.kind === 'dead-letter')).toBe(false);

  // What each input chunk caused: the results of a data chunk come before its barrier, fired windows right before
  // their watermark, the completion flush at the end; one result per window each time.
  const segments: Segment[] = [];
  let current: string[] = [];
  for (const chunk of out) {
    if (chunk.kind === 'data') current.push(...chunk.records.map((r) => identity(r.value)));
    if (chunk.kind === 'barrier' || chunk.kind === 'watermark') {
      segments.push({ after: chunk.kind === 'barrier' ? 'data' : 'watermark', windows: current.sort() });
      current = [];
    }
  }
  segments.push({ after: 'complete', windows: current.sort() });
  expect(segments).toEqual(expected.segments);

  // The last revision of every window, minus superseded sessions.
  // (Plain checks collected into one assertion: an `expect` per result would dominate the run time.)
  const last = new Map<string, WindowResult<Values>>();
  const revisions = new Map<string, number>();
  const problems: string[] = [];
  for (const record of out.flatMap((c) => (c.kind === 'data' ? [...c.records] : []))) {
    const result = record.value;
    const id = identity(result);
    if (record.eventTime !== result.end - 1 || record.key !== result.key) problems.push(`${id}: record key/eventTime`);
    const previous = revisions.get(id);
    if (assigner.type === 'session' ? result.revision <= (previous ?? -1) : result.revision !== (previous === undefined ? 0 : previous + 1)) {
      problems.push(`${id}: revision ${result.revision} after ${previous}`);
    }
    if (assigner.type !== 'session' && result.supersedes !== undefined) problems.push(`${id}: supersedes outside sessions`);
    revisions.set(id, result.revision);
    last.set(id, result);
    for (const replaced of result.supersedes ?? []) {
      const replacedId = identity({ key: result.key, ...replaced });
      // A merged session continues the revisions of what it replaces; it only replaces what was emitted.
      const replacedRevision = revisions.get(replacedId);
      if (replacedRevision === undefined || replacedRevision >= result.revision) problems.push(`${id} (revision ${result.revision}) supersedes ${replacedId} (revision ${replacedRevision})`);
      last.delete(replacedId);
    }
  }
  expect(problems).toEqual([]);

  const actualWindows = [...last.values()]
    .map((r) => ({ key: r.key, start: r.start, end: r.end, values: r.values }))
    .sort(byWindow);
  const expectedWindows = expected.windows
    .map((w) => {
      const amounts = w.ids.map((id) => records[id]!.value.amount);
      const total = amounts.reduce((a, b) => a + b, 0);
      return {
        key: w.key,
        start: w.start,
        end: w.end,
        values: {
          count: w.ids.length,
          total,
          avg: total / w.ids.length,
          min: Math.min(...amounts),
          max: Math.max(...amounts),
          ids: [...w.ids].sort((a, b) => a - b),
        },
      };
    })
    .sort(byWindow);
  expect(actualWindows).toEqual(expectedWindows);

  // Late output: exactly the reference's late records, each with the watermark at its arrival.
  const late = out.flatMap((c) => (c.kind === 'late' ? [...c.records] : []));
  expect(new Map(late.map((l) => [(l.record.value as Event).id, l.watermark]))).toEqual(expected.late);
  expect(late).toHaveLength(expected.late.size);

  // Nothing lost, nothing in two places.
  const accepted = new Set(actualWindows.flatMap((w) => w.values.ids));
  expect(late.filter((l) => accepted.has((l.record.value as Event).id))).toEqual([]);
  expect(accepted.size + late.length).toBe(records.length);
}

const byWindow = (a: { key: string; start: number; end: number }, b: { key: string; start: number; end: number }) =>
  a.key.localeCompare(b.key) || a.start - b.start || a.end - b.end;

describe('window (property)', () => {
  for (const type of ['tumbling', 'hopping', 'sliding', 'session'] as const) {
    for (const emit of ['close', 'update'] as const) {
      it(`${type}, emit ${emit}: final results equal the brute-force reference; late ∪ accepted = input`, () => {
        fc.assert(
          fc.property(assigners[type], scenario, (assigner, s) => check(assigner, emit, s)),
          { numRuns: NUM_RUNS },
        );
      });
    }
  }

  it('the generated scenarios do exercise lateness, re-emission and (for sessions) merging', () => {
    // Guards against a generator that never produces the interesting cases.
    let lateRuns = 0;
    let reemitted = 0;
    let superseding = 0;
    fc.assert(
      fc.property(assigners.session, scenario, (assigner, s) => {
        const { chunks } = chunksOf(s);
        const out = run(assigner, 'close', s.allowedLateness, chunks);
        if (out.some((c) => c.kind === 'late')) lateRuns++;
        const results = out.flatMap((c) => (c.kind === 'data' ? [...c.records] : []));
        if (results.some((r) => r.value.revision > 0)) reemitted++;
        if (results.some((r) => r.value.supersedes !== undefined)) superseding++;
      }),
      { numRuns: 200, seed: 42 },
    );
    expect(lateRuns).toBeGreaterThan(20);
    expect(reemitted).toBeGreaterThan(5);
    expect(superseding).toBeGreaterThan(5);
  });
});
