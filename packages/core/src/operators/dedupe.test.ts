import { Subject, lastValueFrom, of, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { InvalidOptionsError, StepFailedError } from '../errors.js';
import { dataOf, runOperator } from '../internal/run-operator.js';
import { makeStepContext, withStepHost, WorkingState as WorkingStateClass } from '../internal/step-host.js';
import type { StepHost, WorkingState } from '../internal/step-host.js';
import type { Chunk } from '../record/chunk.js';
import type { StreamRecord } from '../record/stream-record.js';
import type { Clock } from '../runtime/clock.js';
import { silentLogger } from '../runtime/logger.js';
import type { LogFields } from '../runtime/logger.js';
import type { Operator } from './define-operator.js';
import { dedupe } from './dedupe.js';

interface Event {
  id: string;
  seq: number;
}

let offset = 0;
/** A record of key `id` at event time `time` in `partition`. */
function event(id: string, time: number, partition = 'p0'): StreamRecord<Event> {
  const seq = offset++;
  return { key: id, value: { id, seq }, eventTime: time, position: { partition, offset: seq }, headers: {} };
}
const data = (...records: StreamRecord<Event>[]): Chunk<Event> => ({ kind: 'data', records });
const watermark = (time: number): Chunk<Event> => ({ kind: 'watermark', time });
const byId = (value: Event) => value.id;

/** The [id, eventTime] of every emitted record. */
const emitted = (chunks: readonly Chunk<Event>[]) => dataOf(chunks).map((r) => [r.value.id, r.eventTime]);

function virtualClock(start = 1_000_000): Clock & { advance(ms: number): void } {
  let now = start;
  return { now: () => now, setTimer: () => () => undefined, advance: (ms) => void (now += ms) };
}

/** Runs `operator` under a host whose state, clock and logger the test can see, feeding chunks one at a time. */
function drive(operator: Operator<Event, Event>, clock: Clock = virtualClock()) {
  const states = new Map<string, WorkingState<unknown>>();
  const debug: LogFields[] = [];
  const host: StepHost = {
    reserveStepName: (kind, name, fallback) => name ?? fallback ?? `${kind}-1`,
    createStepContext: (kind, name) =>
      makeStepContext({
        stepName: name ?? `${kind}-1`,
        clock,
        logger: { ...silentLogger, debug: (fields) => void debug.push(fields) },
        metrics: { recordsIn: () => undefined, recordsOut: () => undefined, deadLetters: () => undefined, late: () => undefined },
        states,
      }),
    registerSink: () => ({ skip: () => undefined }),
  };
  const input = new Subject<Chunk<Event>>();
  const output: Chunk<Event>[] = [];
  const failures: unknown[] = [];
  withStepHost(host, () => input.pipe(operator).subscribe({ next: (chunk) => void output.push(chunk), error: (error) => void failures.push(error) }));
  return {
    output,
    failures,
    debug,
    send(...chunks: Chunk<Event>[]) {
      for (const chunk of chunks) input.next(chunk);
    },
    /** Fills the state of `partition` as the runtime does after a restart: a new working state, loaded. */
    restore(partition: string, entries: Record<string, unknown>) {
      const state = new WorkingStateClass<unknown>();
      for (const [key, value] of Object.entries(entries)) state.entriesMap.set(key, value);
      states.set(partition, state);
    },
    /** The step's remembered state of `partition` as a plain object. */
    state: (partition = 'p0') => Object.fromEntries(states.get(partition)?.entries() ?? []),
  };
}

describe('dedupe', () => {
  describe('within a TTL, event time', () => {
    it('drops repeats closer than ttlMs to the first, emits at ttlMs, and restarts the TTL from the new first', async () => {
      const times = [0, 500, 999, 1000, 1500, 1999, 2000, 2999];
      const out = await runOperator(dedupe({ key: byId, within: { ttlMs: 1000 } }), [data(...times.map((t) => event('a', t)))]);
      expect(emitted(out)).toEqual([
        ['a', 0],
        ['a', 1000],
        ['a', 2000],
      ]);
    });

    it('treats an out-of-order record earlier than the first but within ttlMs as a duplicate', async () => {
      const out = await runOperator(dedupe({ key: byId, within: { ttlMs: 1000 } }), [
        data(event('a', 1000), event('a', 300), event('a', 1)),
        data(event('a', 0), event('a', 1999), event('a', 2000)),
      ]);
      // 0 is exactly ttlMs before 1000, so it is a new first; then 1999 is within 1000 of 1000 (not of 0): dropped.
      expect(emitted(out)).toEqual([
        ['a', 1000],
        ['a', 0],
        ['a', 2000],
      ]);
    });

    it('keeps earlier firsts: a very late first does not make repeats of a later first look new', async () => {
      const out = await runOperator(dedupe({ key: byId, within: { ttlMs: 1000 } }), [
        data(event('a', 5000), event('a', 100), event('a', 5900), event('a', 900), event('a', 1100)),
      ]);
      expect(emitted(out)).toEqual([
        ['a', 5000],
        ['a', 100],
        ['a', 1100],
      ]);
    });

    it('deduplicates each key and each source partition on its own, and keeps record order and identity', async () => {
      const input = [event('a', 0), event('b', 10), event('a', 20), event('a', 30, 'p1'), event('b', 40), event('c', 50), event('a', 60, 'p1')];
      const out = await runOperator(dedupe({ key: byId, within: { ttlMs: 1000 } }), [data(...input)]);
      expect(dataOf(out)).toEqual([input[0], input[1], input[3], input[5]]);
      expect(dataOf(out)[0]).toBe(input[0]);
    });

    it('removes a first from state once the watermark has passed its expiry bucket (a quarter of ttlMs wide)', () => {
      const run = drive(dedupe({ key: byId, within: { ttlMs: 1000 } }));
      // Expiry 1000 (bucket [1000, 1250)), 1250 (bucket [1250, 1500)), and 1000 in another partition.
      run.send(data(event('a', 0), event('b', 250), event('c', 0, 'p1')));
      run.send(watermark(999));
      expect(run.state()).toEqual({ a: 0, b: 250 });
      run.send(watermark(1249)); // a is forgotten (0 + 1000 <= 1249) but its bucket is not over yet
      expect(run.state()).toEqual({ a: 0, b: 250 });
      run.send(watermark(1250));
      expect(run.state()).toEqual({ b: 250 });
      expect(run.state('p1')).toEqual({});
      run.send(watermark(1500));
      expect(run.state()).toEqual({});
      run.send(data(event('a', 1500)));
      expect(emitted(run.output)).toEqual([
        ['a', 0],
        ['b', 250],
        ['c', 0],
        ['a', 1500],
      ]);
    });

    it('ignores forgotten firsts before they are removed, so the outcome does not depend on when removal happens', () => {
      const run = drive(dedupe({ key: byId, within: { ttlMs: 1000 } }));
      run.send(data(event('a', 0)), watermark(100)); // 0 expires at 1000; removed once the watermark reaches 1250
      run.send(data(event('a', 600))); // within 1000 of 0: duplicate
      run.send(watermark(550), data(event('a', 400))); // late, but 0 is still remembered and matches: duplicate
      run.send(watermark(1000)); // 0 + 1000 <= 1000: 0 is forgotten, but still stored
      expect(run.state()).toEqual({ a: 0 });
      run.send(data(event('a', 999))); // late, and the stored 0 must not match it any more: passed on, not remembered
      expect(run.state()).toEqual({ a: 0 });
      run.send(watermark(1250));
      expect(run.state()).toEqual({});
      expect(emitted(run.output)).toEqual([
        ['a', 0],
        ['a', 999],
      ]);

      // The same with several firsts stored for the key.
      const several = drive(dedupe({ key: byId, within: { ttlMs: 100 } }));
      several.send(data(event('a', 0), event('a', 100)), watermark(60), watermark(100));
      expect(several.state()).toEqual({ a: [0, 100] }); // 0 is forgotten (0 + 100 <= 100) but not removed yet
      several.send(data(event('a', -50))); // only the forgotten 0 would match
      expect(emitted(several.output)).toEqual([
        ['a', 0],
        ['a', 100],
        ['a', -50],
      ]);
    });

    it('indexes state it did not write (restored from the store) so that it expires too', () => {
      const run = drive(dedupe({ key: byId, within: { ttlMs: 1000 } }));
      run.restore('p0', { old: 0, older: [-500, 700], recent: 5000 });
      run.restore('idle', { stale: 10 });
      run.send(data(event('old', 500))); // still a duplicate of the restored first
      run.send(watermark(2000));
      expect(run.state()).toEqual({ recent: 5000 });
      expect(run.state('idle')).toEqual({});
      expect(emitted(run.output)).toEqual([]);
    });

    it('passes on a late record whose first may be forgotten, without remembering it', () => {
      const run = drive(dedupe({ key: byId, within: { ttlMs: 1000 } }));
      run.send(data(event('a', 0)), watermark(1000));
      // 500 and 600 are late and nothing remembered matches them: both are passed on (a possible duplicate beats a loss).
      run.send(data(event('a', 500), event('a', 600)));
      // Neither was remembered, so 1200 (new by unlimited-memory standards: 1200 - 0 >= 1000) is not dropped because of them.
      run.send(data(event('a', 1200), event('a', 1300)));
      expect(emitted(run.output)).toEqual([
        ['a', 0],
        ['a', 500],
        ['a', 600],
        ['a', 1200],
      ]);
      expect(run.debug).toContainEqual({ step: 'dedupe-1', duplicates: 0, lateUnjudged: 2 });
    });

    it('drops a late record that matches a first still remembered', () => {
      const run = drive(dedupe({ key: byId, within: { ttlMs: 1000 } }));
      run.send(data(event('a', 5000)), watermark(5500), data(event('a', 4200), event('a', 5100)));
      expect(emitted(run.output)).toEqual([['a', 5000]]);
    });

    it('keeps several firsts of a key while they can still match, and drops the stale ones as new ones arrive', () => {
      const run = drive(dedupe({ key: byId, within: { ttlMs: 100 } }));
      run.send(data(event('a', 0), event('a', 100), event('a', 200)));
      expect(run.state()).toEqual({ a: [0, 100, 200] });
      run.send(watermark(150), data(event('a', 300)));
      expect(run.state()).toEqual({ a: [100, 200, 300] }); // the watermark 150 passed the bucket of 0 (expiry 100, bucket [100, 125)): removed
      run.send(watermark(1000));
      expect(run.state()).toEqual({});
    });

    it('logs the number of dropped duplicates once per batch, at debug', () => {
      const run = drive(dedupe({ name: 'once', key: byId, within: { ttlMs: 1000 } }));
      run.send(data(event('a', 0), event('a', 1), event('a', 2)), data(event('b', 0)));
      expect(run.debug).toEqual([{ step: 'once', duplicates: 2, lateUnjudged: 0 }]);
    });
  });

  describe('within a TTL, processing time', () => {
    it('uses the step clock when the batch arrives, not event times', () => {
      const clock = virtualClock();
      const run = drive(dedupe({ key: byId, within: { ttlMs: 1000, time: 'processing' } }), clock);
      run.send(data(event('a', 0), event('a', 999_999)));
      clock.advance(999);
      run.send(data(event('a', 5), event('b', 5)));
      clock.advance(1);
      run.send(data(event('a', 6), event('b', 6)));
      clock.advance(999);
      run.send(data(event('a', 7)));
      clock.advance(1);
      run.send(data(event('a', 8)));
      expect(emitted(run.output)).toEqual([
        ['a', 0],
        ['b', 5],
        ['a', 6],
        ['a', 8],
      ]);
    });

    it('removes expired keys on data batches and ignores watermarks', () => {
      const clock = virtualClock(0);
      const run = drive(dedupe({ key: byId, within: { ttlMs: 1000, time: 'processing' } }), clock);
      run.send(data(event('a', 0)));
      clock.advance(600);
      run.send(data(event('b', 0)), watermark(10_000_000));
      expect(run.state()).toEqual({ a: 0, b: 600 });
      clock.advance(400);
      run.send(data(event('c', 0))); // a expired at 1000; it is removed once the clock passes its bucket [1000, 1250)
      expect(run.state()).toEqual({ a: 0, b: 600, c: 1000 });
      clock.advance(100);
      run.send(data(event('a', 0))); // a is new again (expired)
      expect(run.state()).toEqual({ a: 1100, b: 600, c: 1000 });
      clock.advance(500);
      run.send(data(event('d', 0))); // the old a entry's bucket is over, but a was renewed: it stays
      expect(run.state()).toEqual({ a: 1100, b: 600, c: 1000, d: 1600 });
      clock.advance(150);
      run.send(data(event('e', 0))); // b (expiry 1600, bucket [1500, 1750)) goes
      expect(run.state()).toEqual({ a: 1100, c: 1000, d: 1600, e: 1750 });
    });
  });

  describe('per tumbling window', () => {
    it('emits the first record of each key in each window', async () => {
      const out = await runOperator(dedupe({ key: byId, window: { sizeMs: 1000 } }), [
        data(event('a', 0), event('a', 999), event('b', 500), event('a', 1000), event('a', 1999), event('a', 2500)),
        data(event('a', -1), event('a', -1000), event('a', -1001), event('b', 1)),
      ]);
      expect(emitted(out)).toEqual([
        ['a', 0],
        ['b', 500],
        ['a', 1000],
        ['a', 2500],
        ['a', -1],
        ['a', -1001],
      ]);
    });

    it('forgets a window once the watermark reaches its end; records of closed windows pass unremembered', () => {
      const run = drive(dedupe({ key: byId, window: { sizeMs: 1000 } }));
      run.send(data(event('a', 100), event('a', 1100)));
      expect(run.state()).toEqual({ a: [0, 1000] });
      run.send(watermark(1000)); // window [0, 1000) closed; its entry goes when the bucket [1000, 1250) is over
      expect(run.state()).toEqual({ a: [0, 1000] });
      run.send(watermark(1250));
      expect(run.state()).toEqual({ a: 1000 });
      run.send(data(event('a', 200), event('a', 300))); // window [0, 1000) is closed: passed on, not remembered
      run.send(data(event('a', 1500))); // window [1000, 2000) is open: judged (duplicate)
      run.send(watermark(1800), data(event('a', 1600), event('b', 1700))); // late but its window is open: judged
      expect(emitted(run.output)).toEqual([
        ['a', 100],
        ['a', 1100],
        ['a', 200],
        ['a', 300],
        ['b', 1700],
      ]);
      expect(run.state()).toEqual({ a: 1000, b: 1000 });
    });

    it('keeps exact window starts for large event times', async () => {
      const size = 7;
      const base = Date.parse('2026-01-01T00:00:00Z') + 3; // not a multiple of 7
      const out = await runOperator(dedupe({ key: byId, window: { sizeMs: size } }), [data(...Array.from({ length: 50 }, (_, i) => event('a', base + i)))]);
      const expected = Array.from({ length: 50 }, (_, i) => base + i).filter((t, i) => i === 0 || t % size === 0);
      expect(dataOf(out).map((r) => r.eventTime)).toEqual(expected);
    });
  });

  it('sends records whose key cannot be computed to the error policy', async () => {
    const bad = (value: Event) => {
      if (value.id === 'throw') throw new Error('no key');
      return value.id === 'number' ? (7 as unknown as string) : value.id;
    };
    const input = [event('a', 0), event('throw', 1), event('number', 2), event('a', 3)];
    const dlq = await runOperator(dedupe({ name: 'dd', key: bad, within: { ttlMs: 10 } }), [data(...input)]);
    expect(dataOf(dlq)).toEqual([input[0]]);
    const letters = dlq.flatMap((c) => (c.kind === 'dead-letter' ? c.letters : []));
    expect(letters.map((l) => [l.stage, l.record.value, l.error.message])).toEqual([
      ['dd', input[1]!.value, 'no key'],
      ['dd', input[2]!.value, 'dedupe key must be a string, got number'],
    ]);
    const skipped = await runOperator(dedupe({ key: bad, within: { ttlMs: 10 }, onError: 'skip' }), [data(...input)]);
    expect(dataOf(skipped)).toEqual([input[0]]);
    expect(skipped.some((c) => c.kind === 'dead-letter')).toBe(false);
    await expect(runOperator(dedupe({ key: bad, window: { sizeMs: 10 }, onError: 'fail' }), [data(...input)])).rejects.toBeInstanceOf(StepFailedError);
  });

  it('sends records without a finite event time to the error policy in the event-time modes only', async () => {
    const broken = { ...event('a', 0), eventTime: Number.NaN };
    const byEvent = await runOperator(dedupe({ key: byId, within: { ttlMs: 10 } }), [data(broken)]);
    expect(byEvent.flatMap((c) => (c.kind === 'dead-letter' ? c.letters : [])).map((l) => l.error.message)).toEqual([
      'dedupe by event time needs a finite eventTime, got NaN',
    ]);
    const byProcessing = await runOperator(dedupe({ key: byId, within: { ttlMs: 10, time: 'processing' } }), [data(broken)]);
    expect(dataOf(byProcessing)).toEqual([broken]);
  });

  it('passes control chunks through in order and keeps state JSON-compatible', () => {
    const run = drive(dedupe({ key: byId, within: { ttlMs: 100 } }));
    run.send(
      data(event('a', 0), event('a', 150)),
      watermark(5),
      { kind: 'barrier', id: 1, checkpoint: undefined },
      { kind: 'late', records: [] },
      data(event('a', 1)),
    );
    expect(run.output.map((c) => c.kind)).toEqual(['data', 'watermark', 'barrier', 'late']);
    expect(JSON.parse(JSON.stringify(run.state()))).toEqual({ a: [0, 150] });
    expect(run.failures).toEqual([]);
  });

  it('infers the value type from the pipeline, and rejects within + window at compile time too', async () => {
    const out = await lastValueFrom(
      of(data(event('a', 0), event('a', 1))).pipe(
        dedupe({ key: (value) => value.id, within: { ttlMs: 10 } }),
        toArray(),
      ),
    );
    expect(emitted(out)).toEqual([['a', 0]]);
    // @ts-expect-error exactly one of within and window
    expect(() => dedupe<Event>({ key: byId, within: { ttlMs: 10 }, window: { sizeMs: 10 } })).toThrow(InvalidOptionsError);
  });

  it('rejects invalid options at construction, naming the option', () => {
    const invalid: [unknown, RegExp][] = [
      [{ key: byId }, /within: missing: give exactly one of within: \{ ttlMs \}.* or window: \{ sizeMs \}/],
      [{ key: byId, within: { ttlMs: 10 }, window: { sizeMs: 10 } }, /window: cannot be combined with within/],
      [{ key: byId, within: { ttlMs: -1 } }, /within\.ttlMs: must be a positive number of milliseconds/],
      [{ key: byId, within: { ttlMs: 1.5 } }, /within\.ttlMs: must be a whole number/],
      [{ key: byId, within: {} }, /within\.ttlMs: must be a number of milliseconds/],
      [{ key: byId, within: { ttlMs: 10, time: 'wall' } }, /within\.time: must be 'event' or 'processing'/],
      [{ key: byId, window: { sizeMs: 0 } }, /window\.sizeMs: must be a positive number/],
      [{ key: byId, window: { sizeMs: 10, time: 'event' } }, /window: .*time/],
      [{ key: 'id', within: { ttlMs: 10 } }, /key: must be a function/],
      [{ within: { ttlMs: 10 } }, /key: must be a function/],
      [{ key: byId, within: { ttlMs: 10 }, ttl: 5 }, /ttl/],
      [{ key: byId, within: { ttlMs: 10 }, name: '' }, /name: must be a non-empty string/],
      [{ key: byId, within: { ttlMs: 10 }, onError: 'explode' }, /onError/],
    ];
    for (const [options, message] of invalid) {
      expect(() => dedupe(options as never), JSON.stringify(options)).toThrow(InvalidOptionsError);
      expect(() => dedupe(options as never), JSON.stringify(options)).toThrow(message);
    }
  });
});
