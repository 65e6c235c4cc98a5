import { Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { InvalidOptionsError, StepFailedError } from '../errors.js';
import { dataOf, runOperator } from '../internal/run-operator.js';
import { makeStepContext, withStepHost, WorkingState as WorkingStateClass } from '../internal/step-host.js';
import type { StepHost, WorkingState } from '../internal/step-host.js';
import type { Chunk } from '../record/chunk.js';
import type { StreamRecord } from '../record/stream-record.js';
import { silentLogger } from '../runtime/logger.js';
import { memorySink } from '../sinks/memory-sink.js';
import { TestDriver } from '../testing/test-driver.js';
import type { Alert } from './alert.js';
import { anomalies } from './anomalies.js';
import type { AnomaliesOptions } from './anomalies.js';
import { toSink } from './to-sink.js';

interface Reading {
  sensor: string;
  value: number | null;
}

let offset = 0;
function reading(sensor: string, value: number | null, partition = 'p0'): StreamRecord<Reading> {
  const at = offset++;
  return { key: sensor, value: { sensor, value }, eventTime: 1_000 * at, position: { partition, offset: at }, headers: {} };
}
const data = (...records: StreamRecord<Reading>[]): Chunk<Reading> => ({ kind: 'data', records });
const base: AnomaliesOptions<Reading> = { metric: 'temperature', value: (r) => r.value, window: 20, minSamples: 10 };

/** Sample mean and (n − 1) standard deviation, two-pass: the reference the operator's running figures are checked against. */
function stats(values: readonly number[]) {
  const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
  const variance = values.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (values.length - 1);
  return { mean, stddev: Math.sqrt(variance) };
}

const alertsOf = async (options: AnomaliesOptions<Reading>, records: StreamRecord<Reading>[]) =>
  dataOf(await runOperator(anomalies(options), [data(...records)])).map((record) => record.value);

/** 9, 11, 9, 11, ... : mean 10, standard deviation about 1. */
const wobble = (sensor: string, count: number) => Array.from({ length: count }, (_, index) => reading(sensor, index % 2 === 0 ? 9 : 11));

describe('anomalies', () => {
  it('refuses invalid options at construction, naming the field', () => {
    const attempt = (options: unknown) => () => anomalies(options as AnomaliesOptions<Reading>);
    expect(attempt({ ...base, metric: '' })).toThrow(/metric: must be a non-empty string/);
    expect(attempt({ ...base, window: 1 })).toThrow(/window: must be a whole number of values between 2 and 100000/);
    expect(attempt({ ...base, window: 2.5 })).toThrow(/window:/);
    expect(attempt({ ...base, minSamples: 21 })).toThrow(/minSamples: must be at most window \(20\)/);
    expect(attempt({ ...base, minSamples: 1 })).toThrow(/minSamples: must be a whole number of at least 2/);
    expect(attempt({ ...base, zThreshold: 0 })).toThrow(/zThreshold: must be a positive finite number/);
    expect(attempt({ ...base, zThreshold: Infinity })).toThrow(/zThreshold:/);
    expect(attempt({ ...base, direction: 'up' })).toThrow(/direction: must be 'both', 'above' or 'below'/);
    expect(attempt({ ...base, severity: 'fatal' })).toThrow(/severity:/);
    expect(attempt({ ...base, minStddev: -1 })).toThrow(/minStddev:/);
    expect(attempt({ ...base, relearnAfter: 1 })).toThrow(/relearnAfter: must be a whole number of at least 2, or null/);
    expect(attempt({ ...base, relearnAfter: 2.5 })).toThrow(/relearnAfter:/);
    expect(attempt({ ...base, relearnAfter: 21 })).toThrow(/relearnAfter: must be at most window \(20\)/);
    expect(attempt({ ...base, relearnAfter: '10' })).toThrow(/relearnAfter:/);
    expect(() => anomalies({ ...base, relearnAfter: null })).not.toThrow();
    expect(attempt({ ...base, value: 'value' })).toThrow(/value: must be a function/);
    expect(attempt({ ...base, window: undefined })).toThrow(/window:/);
    expect(attempt({ ...base, windowMs: 10 })).toThrow(/windowMs/);
    expect(attempt({ ...base, window: 1 })).toThrow(InvalidOptionsError);
    // minSamples defaults to min(30, window), so a small window alone is valid.
    expect(() => anomalies({ metric: 'm', value: () => 1, window: 5 })).not.toThrow();
  });

  it('flags a spike with z computed against the baseline before it, and says so in the alert', async () => {
    const records = [...wobble('s1', 12), reading('s1', 30)];
    const spike = records.at(-1)!;
    const [alert, ...rest] = await alertsOf(base, records);
    expect(rest).toEqual([]);
    const expected = stats(records.slice(0, 12).map((record) => record.value.value!));
    expect(alert).toEqual({
      id: `anomaly:s1:temperature:p0@${spike.position.offset}`,
      kind: 'anomaly',
      ruleId: null,
      key: 's1',
      metric: 'temperature',
      value: 30,
      threshold: 4,
      zScore: expect.closeTo((30 - expected.mean) / expected.stddev, 9) as number,
      mean: expect.closeTo(expected.mean, 12) as number,
      stddev: expect.closeTo(expected.stddev, 12) as number,
      severity: 'warning',
      eventTime: spike.eventTime,
      message: expect.stringMatching(/^temperature 30 is 19\.\d+ standard deviations above the rolling mean 10$/) as string,
    });
  });

  it('emits the alert as a record keyed like the alert, at the event time and position of the value', async () => {
    const records = [...wobble('s1', 12), reading('s1', -20)];
    const out = dataOf(await runOperator(anomalies(base), [data(...records)]));
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ key: 's1', eventTime: records[12]!.eventTime, position: records[12]!.position, headers: {} });
    expect(out[0]!.value.message).toMatch(/below the rolling mean/);
  });

  it('judges nothing before minSamples values: early values only build the baseline', async () => {
    const records = [...wobble('s1', 9), reading('s1', 1_000)];
    expect(await alertsOf(base, records)).toEqual([]);
    // The same spike as the 11th value is judged.
    expect(await alertsOf(base, [...wobble('s1', 10), reading('s1', 1_000)])).toHaveLength(1);
  });

  it('keeps one baseline per key, and one for records without a key', async () => {
    const records = [...wobble('a', 10), ...wobble('b', 10).map((r) => ({ ...r, value: { ...r.value, value: r.value.value! * 100 } }))];
    // 50 is ordinary for... neither: a's mean is 10, b's is 1000; 1000 is an outlier for a only.
    records.push(reading('a', 1_000), reading('b', 1_000), reading('b', 50));
    const alerts = await alertsOf(base, records);
    expect(alerts.map((alert) => [alert.key, alert.value])).toEqual([
      ['a', 1_000],
      ['b', 50],
    ]);
    const unkeyed = [...wobble('x', 10), reading('y', 500)].map((record) => ({ ...record, key: null }));
    const [alert] = await alertsOf(base, unkeyed);
    expect(alert).toMatchObject({ key: null, value: 500 });
    expect(alert!.id).toMatch(/^anomaly:-:temperature:p0@\d+$/);
  });

  it('uses the key function when given', async () => {
    const records = [...wobble('a', 5), ...wobble('b', 5), reading('c', 100)];
    expect(await alertsOf({ ...base, key: () => 'all' }, records)).toEqual([expect.objectContaining({ key: 'all', value: 100 })]);
    expect(await alertsOf(base, records)).toEqual([]);
  });

  it('honours direction', async () => {
    const records = [...wobble('s', 10), reading('s', 100), reading('s', -100)];
    expect((await alertsOf({ ...base, direction: 'above' }, records)).map((a) => a.value)).toEqual([100]);
    expect((await alertsOf({ ...base, direction: 'below' }, records)).map((a) => a.value)).toEqual([-100]);
    expect((await alertsOf({ ...base, direction: 'both' }, records)).map((a) => a.value)).toEqual([100, -100]);
  });

  it('flags |z| >= zThreshold exactly at the threshold', async () => {
    // Baseline 0, 2 (x5): mean 1, sample stddev sqrt(10/9); a value at mean + 3 * stddev.
    const values = [0, 2, 0, 2, 0, 2, 0, 2, 0, 2];
    const { mean, stddev } = stats(values);
    const records = [...values.map((v) => reading('s', v)), reading('s', mean + 3 * stddev)];
    const options = { ...base, window: 10, minSamples: 10, zThreshold: 3 };
    const alerts = await alertsOf(options, records);
    // Rounding may put z a hair either side of 3: the comparison is >=, so check against the z the operator reports.
    expect(alerts.length === 1 ? alerts[0]!.zScore! >= 3 : true).toBe(true);
    expect(await alertsOf({ ...options, zThreshold: 2.999 }, records)).toHaveLength(1);
    expect(await alertsOf({ ...options, zThreshold: 3.001 }, records)).toHaveLength(0);
  });

  it("excludes flagged values from the baseline by default; outliers: 'include' lets them in", async () => {
    // Window 10: after one 100 joins a baseline of 9s and 11s, the next 100 is no longer 4 sigma away.
    const records = [...wobble('s', 10), reading('s', 100), reading('s', 100), reading('s', 11)];
    const options = { ...base, window: 10, minSamples: 10 };
    expect((await alertsOf(options, records)).map((a) => a.value)).toEqual([100, 100]);
    const included = await alertsOf({ ...options, outliers: 'include' }, records);
    expect(included.map((a) => a.value)).toEqual([100]);
    const withSpike = [11, 9, 11, 9, 11, 9, 11, 9, 11, 100]; // the baseline when the second 100 arrives
    const second = stats(withSpike);
    expect((100 - second.mean) / second.stddev).toBeLessThan(4);
  });

  describe('a lasting level shift (step change of 20 sigma)', () => {
    // 100 ± 5 (alternating 95 / 105: mean 100, stddev ~5), then for good 200 ± 5.
    const step = (sensor: string, before: number, after: number) => [
      ...Array.from({ length: before }, (_, i) => reading(sensor, i % 2 === 0 ? 95 : 105)),
      ...Array.from({ length: after }, (_, i) => reading(sensor, i % 2 === 0 ? 195 : 205)),
    ];
    const options = { ...base, window: 50, minSamples: 30 };

    it('yields at most relearnAfter alerts (the last says the level shifted), then none', async () => {
      for (const relearnAfter of [undefined, 2, 3, 10, 30]) {
        const records = step(`s-${relearnAfter}`, 60, 300);
        const alerts = await alertsOf(relearnAfter === undefined ? options : { ...options, relearnAfter }, records);
        const expected = relearnAfter ?? 10; // the default
        expect(alerts.length, `relearnAfter ${relearnAfter}`).toBeLessThanOrEqual(expected);
        // Here every one of the first relearnAfter values after the step is 20 sigma out, so it is exactly that many.
        expect(alerts.map((a) => a.value)).toEqual(records.slice(60, 60 + expected).map((r) => r.value.value));
        expect(alerts.every((a) => Math.abs(a.mean! - 100) < 1e-9)).toBe(true);
        expect(alerts.slice(0, -1).every((a) => !/shifted/.test(a.message))).toBe(true);
        expect(alerts.at(-1)!.message).toMatch(
          new RegExp(`^temperature \\d+ is \\d+\\.\\d+ standard deviations above the rolling mean 100; ${expected} values in a row were flagged, so the level has shifted: the baseline restarts from them$`),
        );
      }
    });

    it('judges against the new level afterwards: a return to the old level is flagged', async () => {
      const records = [...step('s', 60, 100), reading('s', 100)];
      const alerts = await alertsOf({ ...options, relearnAfter: 5 }, records);
      expect(alerts).toHaveLength(6);
      expect(alerts.at(-1)).toMatchObject({ value: 100, mean: expect.closeTo(200, 9) as number });
      expect(alerts.at(-1)!.zScore).toBeLessThan(-4);
    });

    it('keeps flagging every value with relearnAfter: null (no adaptation)', async () => {
      const alerts = await alertsOf({ ...options, relearnAfter: null }, step('s', 60, 300));
      expect(alerts).toHaveLength(300);
    });

    it('isolated spikes never move the baseline: an unflagged value restarts the count', async () => {
      // Spike, normal, spike, normal...: 20 spikes, never 2 in a row, with relearnAfter 2.
      const records = [...wobble('s', 30), ...Array.from({ length: 40 }, (_, i) => reading('s', i % 2 === 0 ? 100 : 10))];
      const alerts = await alertsOf({ ...options, window: 30, relearnAfter: 2 }, records);
      expect(alerts.map((a) => a.value)).toEqual(Array.from({ length: 20 }, () => 100));
      // The baseline stayed at the old level (9s, 11s and 10s), never moved towards 100.
      expect(alerts.every((a) => Math.abs(a.mean! - 10) < 0.1 && !/shifted/.test(a.message))).toBe(true);
    });
  });

  it('slides: the baseline is the last `window` values, not every value seen', async () => {
    // 20 values around 0, then 10 around 1000: with window 10 the old level has left the baseline.
    const low = Array.from({ length: 20 }, (_, i) => reading('s', i % 2 === 0 ? -1 : 1));
    const high = Array.from({ length: 10 }, (_, i) => reading('s', i % 2 === 0 ? 999 : 1001));
    const options = { ...base, window: 10, minSamples: 10, outliers: 'include' as const };
    const alerts = await alertsOf(options, [...low, ...high, reading('s', 1_000), reading('s', 0)]);
    // The first high value is a jump; once the window is all high values, 1000 is normal and 0 is the anomaly.
    expect(alerts.map((a) => a.value)).toEqual([999, 0]);
    expect(alerts[1]!.mean).toBeCloseTo(stats([...high.map((r) => r.value.value!)].slice(1).concat(1_000)).mean, 9);
  });

  it('a constant baseline flags any different value with zScore null, unless minStddev says how much matters', async () => {
    const records = [...Array.from({ length: 10 }, () => reading('s', 5)), reading('s', 5), reading('s', 6)];
    const alerts = await alertsOf(base, records);
    expect(alerts).toEqual([expect.objectContaining({ value: 6, zScore: null, mean: 5, stddev: 0 })]);
    expect(alerts[0]!.message).toBe('temperature 6 differs from the constant rolling mean 5 (standard deviation 0)');
    expect(await alertsOf({ ...base, minStddev: 1 }, records)).toEqual([]);
    expect(await alertsOf({ ...base, minStddev: 0.25 }, records)).toEqual([expect.objectContaining({ value: 6, zScore: 4 })]);
  });

  it('stays exact on long streams with a large offset (running sums do not drift)', async () => {
    // Mean 1e9, spread 1: naive sum-of-squares variance would be pure rounding noise here.
    const values = Array.from({ length: 5_000 }, (_, i) => 1e9 + Math.sin(i * 12.9898) * 1.5);
    const records = [...values.map((v) => reading('s', v)), reading('s', 1e9 + 20)];
    const alerts = await alertsOf({ ...base, window: 100, minSamples: 100 }, records);
    const last = alerts.at(-1)!;
    expect(last.value).toBe(1e9 + 20);
    const expected = stats(values.slice(-100));
    expect(last.mean).toBeCloseTo(expected.mean, 6);
    expect(last.stddev! / expected.stddev).toBeCloseTo(1, 9);
    // Nothing else: a sine spread is never 4 sigma out.
    expect(alerts).toHaveLength(1);
  });

  it('skips null values, and sends unusable values, keys and event times to the error policy', async () => {
    const good = wobble('s', 10);
    const nullValue = reading('s', null);
    const nan = reading('s', Number.NaN);
    const badTime = { ...reading('s', 10), eventTime: Number.NaN };
    const badKey = reading('s', 10);
    const out = await runOperator(
      anomalies({ ...base, key: (_value, record) => (record === badKey ? (42 as unknown as string) : 'k') }),
      [data(...good, nullValue, nan, badTime, badKey, reading('s', 1_000))],
    );
    const letters = out.flatMap((chunk) => (chunk.kind === 'dead-letter' ? [...chunk.letters] : []));
    expect(letters.map((letter) => letter.record.position.offset)).toEqual([nan.position.offset, badTime.position.offset, badKey.position.offset]);
    expect(letters.map((letter) => letter.error.message)).toEqual([
      'anomalies value must be a finite number or null, got NaN',
      'anomalies needs a finite eventTime, got NaN',
      'anomalies key must be a string or null, got 42',
    ]);
    expect(dataOf(out).map((record) => record.value.value)).toEqual([1_000]);

    const skipped = await runOperator(anomalies({ ...base, onError: 'skip' }), [data(...good, nan)]);
    expect(skipped).toEqual([]);
    await expect(runOperator(anomalies({ ...base, onError: 'fail' }), [data(...good, reading('s', 'x' as unknown as number))])).rejects.toThrow(
      StepFailedError,
    );
  });

  it('keeps baselines in the partition state; restored state resumes the baseline', () => {
    const states = new Map<string, WorkingState<unknown>>();
    const run = (chunks: Chunk<Reading>[]) => {
      const host: StepHost = {
        reserveStepName: (kind, name) => name ?? `${kind}-1`,
        createStepContext: (kind, name) =>
          makeStepContext({
            stepName: name ?? `${kind}-1`,
            clock: { now: () => 0, setTimer: () => () => undefined },
            logger: silentLogger,
            metrics: { recordsIn: () => undefined, recordsOut: () => undefined, deadLetters: () => undefined, late: () => undefined },
            states,
          }),
        registerSink: () => ({ skip: () => undefined }),
      };
      const input = new Subject<Chunk<Reading>>();
      const output: Chunk<Alert>[] = [];
      withStepHost(host, () => input.pipe(anomalies(base)).subscribe((chunk) => void output.push(chunk)));
      for (const chunk of chunks) input.next(chunk);
      input.complete();
      return dataOf(output).map((record) => record.value);
    };
    expect(run([data(...wobble('s', 10, ), ...wobble('t', 3).map((r) => ({ ...r, position: { partition: 'p1', offset: r.position.offset } })))])).toEqual([]);
    expect([...states.keys()].sort()).toEqual(['p0', 'p1']);
    // Round-trip through JSON, as a state store would, into fresh working states.
    for (const [partition, state] of [...states]) {
      const restored = new WorkingStateClass<unknown>();
      restored.load(JSON.parse(JSON.stringify([...state.entries()])) as [string, unknown][]);
      states.set(partition, restored);
    }
    expect(run([data(reading('s', 50))])).toEqual([expect.objectContaining({ key: 's', value: 50, mean: 10 })]);
  });

  it('survives a crash: the checkpointed baseline is restored and replayed records raise the same alerts (same ids)', async () => {
    const sink = memorySink<Alert>({ exactlyOnce: true });
    const driver = new TestDriver<Reading>({
      name: `anomalies-${offset}`,
      pipeline: (input) => input.pipe(anomalies({ ...base, name: 'detector' }), toSink(sink)),
    });
    const send = (value: number) => driver.send({ sensor: 's', value }, { eventTime: 1_000, key: 's' });
    for (let index = 0; index < 12; index++) await send(index % 2 === 0 ? 9 : 11);
    await driver.checkpoint();
    await send(60);
    await send(10);
    await send(-60);
    expect(sink.values).toEqual([]); // staged, not committed
    await driver.crash();
    await driver.restart();
    await driver.checkpoint();
    expect(sink.values.map((alert) => [alert.value, alert.id])).toEqual([
      [60, 'anomaly:s:temperature:p0@12'],
      [-60, 'anomaly:s:temperature:p0@14'],
    ]);
    expect(sink.values[0]!.mean).toBe(10);
    await driver.end();
  });
});
