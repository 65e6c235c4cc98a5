/**
 * `npm run bench:core`: 1,000,000 generated, pre-decoded events through validate -> dedupe -> 1-minute tumbling
 * windows per key (10,000 keys; count / sum / avg / min / max) -> memory sink, run by the Tributary runtime, against a
 * hand-written loop doing the same computation on the same data, in one process. Prints a table and, as its last
 * line, one JSON object. A benchmark, not a test: it asserts nothing about speed, only that both produced the same
 * windows.
 *
 *   node packages/core/bench/core.ts [--events 1000000] [--keys 10000] [--rounds 3]
 */
import { parseArgs } from 'node:util';
import {
  avg,
  count,
  createRuntime,
  dedupe,
  defineTopology,
  iterableSource,
  max,
  memorySink,
  min,
  sum,
  toSink,
  tumbling,
  validate,
  window,
} from '@tributary/core';
import type { WindowResult } from '@tributary/core';
import { z } from 'zod';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    keys: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '3' },
  },
});
const EVENTS = Number(args.events);
const KEYS = Number(args.keys);
const ROUNDS = Number(args.rounds);
const BATCH = 5_000;
const WINDOW_MS = 60_000;
const DEDUPE_TTL_MS = 60_000;

const Event = z.object({ id: z.number().int(), key: z.string(), amount: z.number(), ts: z.number().int() });
type Event = z.output<typeof Event>;

/** Deterministic events: 1,000 per second of event time, 1 in 50 a redelivered duplicate of the previous event. */
function generate(): Event[] {
  const events: Event[] = new Array<Event>(EVENTS);
  let seed = 42;
  const next = () => ((seed = (Math.imul(seed, 1_664_525) + 1_013_904_223) >>> 0) / 4_294_967_296);
  for (let index = 0; index < EVENTS; index++) {
    if (index > 0 && index % 50 === 0) {
      events[index] = { ...events[index - 1]! };
      continue;
    }
    events[index] = { id: index, key: `k${Math.floor(next() * KEYS)}`, amount: Math.round(next() * 10_000) / 100, ts: 1_700_000_000_000 + index };
  }
  return events;
}

interface WindowOut {
  key: string;
  start: number;
  count: number;
  sum: number;
  avg: number;
  min: number;
  max: number;
}

/** The hand-written loop: the same validation, dedupe, windows and watermark (advanced once per batch). */
function baseline(events: readonly Event[]): WindowOut[] {
  const out: WindowOut[] = [];
  const seen = new Map<string, number>();
  // Expiry buckets, so forgetting dedupe keys visits only the keys that expire (as a careful hand-written loop would).
  const expiries = new Map<number, string[]>();
  const windows = new Map<string, { key: string; start: number; count: number; sum: number; min: number; max: number }>();
  const byEnd = new Map<number, string[]>();
  let maxTs = Number.NEGATIVE_INFINITY;
  let watermark = Number.NEGATIVE_INFINITY;
  const fire = (until: number) => {
    for (const [end, ids] of [...byEnd].sort((a, b) => a[0] - b[0])) {
      if (end - 1 > until) break;
      for (const id of ids) {
        const w = windows.get(id)!;
        windows.delete(id);
        out.push({ key: w.key, start: w.start, count: w.count, sum: w.sum, avg: w.sum / w.count, min: w.min, max: w.max });
      }
      byEnd.delete(end);
    }
    for (const [expiry, ids] of [...expiries].sort((a, b) => a[0] - b[0])) {
      if (expiry > until) break;
      for (const id of ids) if ((seen.get(id) ?? Infinity) + DEDUPE_TTL_MS <= until) seen.delete(id);
      expiries.delete(expiry);
    }
  };
  for (let from = 0; from < events.length; from += BATCH) {
    const to = Math.min(events.length, from + BATCH);
    for (let index = from; index < to; index++) {
      const parsed = Event.safeParse(events[index]);
      if (!parsed.success) continue;
      const event = parsed.data;
      const id = String(event.id);
      const first = seen.get(id);
      if (first !== undefined && Math.abs(event.ts - first) < DEDUPE_TTL_MS) continue;
      seen.set(id, event.ts);
      const expiry = Math.ceil((event.ts + DEDUPE_TTL_MS) / 1_000) * 1_000;
      const bucket = expiries.get(expiry);
      if (bucket) bucket.push(id);
      else expiries.set(expiry, [id]);
      if (event.ts > maxTs) maxTs = event.ts;
      const start = Math.floor(event.ts / WINDOW_MS) * WINDOW_MS;
      const windowId = `${event.key}\u0000${start}`;
      let w = windows.get(windowId);
      if (w === undefined) {
        w = { key: event.key, start, count: 0, sum: 0, min: Infinity, max: -Infinity };
        windows.set(windowId, w);
        const end = start + WINDOW_MS;
        const ids = byEnd.get(end);
        if (ids) ids.push(windowId);
        else byEnd.set(end, [windowId]);
      }
      w.count++;
      w.sum += event.amount;
      if (event.amount < w.min) w.min = event.amount;
      if (event.amount > w.max) w.max = event.amount;
    }
    if (maxTs > watermark) {
      watermark = maxTs;
      fire(watermark);
    }
  }
  fire(Number.MAX_SAFE_INTEGER);
  return out;
}

async function pipeline(events: readonly Event[]): Promise<WindowOut[]> {
  const sink = memorySink<WindowResult<{ count: number; sum: number; avg: number; min: number | null; max: number | null }>>();
  const job = defineTopology({
    name: 'bench-core',
    source: iterableSource(events, { eventTime: (event) => event.ts, batchSize: BATCH }),
    pipeline: (input) =>
      input.pipe(
        validate(Event),
        dedupe({ key: (event) => String(event.id), within: { ttlMs: DEDUPE_TTL_MS } }),
        window({
          key: (event) => event.key,
          window: tumbling(WINDOW_MS),
          aggregate: {
            count: count(),
            sum: sum((event: Event) => event.amount),
            avg: avg((event: Event) => event.amount),
            min: min((event: Event) => event.amount),
            max: max((event: Event) => event.amount),
          },
        }),
        toSink(sink),
      ),
  });
  const runtime = createRuntime(job, { maxBatch: BATCH, maxInFlight: 4 * BATCH, checkpointIntervalMs: 60_000 });
  await runtime.start();
  await runtime.done;
  return sink.committed.map(({ value }) => ({
    key: value.key,
    start: value.start,
    count: value.values.count,
    sum: value.values.sum,
    avg: value.values.avg,
    min: value.values.min ?? NaN,
    max: value.values.max ?? NaN,
  }));
}

const fingerprint = (windows: readonly WindowOut[]): string =>
  windows
    .map((w) => `${w.key}@${w.start}:${w.count}:${w.sum.toFixed(2)}:${w.min}:${w.max}`)
    .sort()
    .join('\n');

const events = generate();
const timings = { pipeline: [] as number[], baseline: [] as number[] };
let pipelineWindows: WindowOut[] = [];
let baselineWindows: WindowOut[] = [];
// Interleave the two so that machine noise hits both alike; the first round warms the JIT for both.
for (let round = 0; round <= ROUNDS; round++) {
  let started = performance.now();
  baselineWindows = baseline(events);
  const baselineMs = performance.now() - started;
  started = performance.now();
  pipelineWindows = await pipeline(events);
  const pipelineMs = performance.now() - started;
  if (round === 0) continue;
  timings.baseline.push(baselineMs);
  timings.pipeline.push(pipelineMs);
  console.log(`round ${round}: baseline ${baselineMs.toFixed(0)} ms, pipeline ${pipelineMs.toFixed(0)} ms`);
}
if (fingerprint(pipelineWindows) !== fingerprint(baselineWindows)) {
  console.error(`MISMATCH: pipeline emitted ${pipelineWindows.length} windows, baseline ${baselineWindows.length}`);
  process.exit(1);
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const pipelinePerSecond = Math.round(EVENTS / (median(timings.pipeline) / 1_000));
const baselinePerSecond = Math.round(EVENTS / (median(timings.baseline) / 1_000));
console.log(`windows emitted: ${pipelineWindows.length} (identical in both)`);
console.log(
  JSON.stringify({
    events: EVENTS,
    keys: KEYS,
    windows: pipelineWindows.length,
    pipeline_events_per_s: pipelinePerSecond,
    baseline_events_per_s: baselinePerSecond,
    ratio: Math.round((pipelinePerSecond / baselinePerSecond) * 1_000) / 1_000,
    node: process.version,
  }),
);
