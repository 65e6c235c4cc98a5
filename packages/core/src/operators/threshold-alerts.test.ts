import { Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { InvalidOptionsError } from '../errors.js';
import { dataOf, runOperator } from '../internal/run-operator.js';
import { makeStepContext, withStepHost } from '../internal/step-host.js';
import type { StepHost, WorkingState } from '../internal/step-host.js';
import type { Chunk } from '../record/chunk.js';
import type { StreamRecord } from '../record/stream-record.js';
import { silentLogger } from '../runtime/logger.js';
import { memorySink } from '../sinks/memory-sink.js';
import { TestDriver } from '../testing/test-driver.js';
import type { LogFields } from '../runtime/logger.js';
import type { Alert, AlertRule } from './alert.js';
import type { Operator } from './define-operator.js';
import { toSink } from './to-sink.js';
import { thresholdAlerts } from './threshold-alerts.js';
import type { ThresholdAlertsOptions } from './threshold-alerts.js';
import { count, sum } from './window-aggregates.js';
import { session, tumbling } from './window-assigners.js';
import { window } from './window.js';
import type { WindowBounds, WindowResult } from './window.js';

type Values = { orders: number; revenue: number | null };

let offset = 0;
function result(
  key: string,
  start: number,
  end: number,
  values: Values,
  revision = 0,
  supersedes?: WindowBounds[],
): StreamRecord<WindowResult<Values>> {
  const value: WindowResult<Values> = { key, start, end, values, revision, ...(supersedes ? { supersedes } : {}) };
  return { key, value, eventTime: end - 1, position: { partition: 'p0', offset: offset++ }, headers: {} };
}
const data = <V>(...records: StreamRecord<V>[]): Chunk<V> => ({ kind: 'data', records });
const watermark = <V>(time: number): Chunk<V> => ({ kind: 'watermark', time });

const lowRevenue: AlertRule = { id: 'low-revenue', metric: 'revenue', condition: '<', threshold: 100, severity: 'warning' };
const busy: AlertRule = { id: 'busy', metric: 'orders', condition: '>=', threshold: 10, severity: 'info', description: 'rush hour' };

const alertsOf = async (options: ThresholdAlertsOptions, ...records: StreamRecord<WindowResult<Values>>[]) =>
  dataOf(await runOperator(thresholdAlerts<Values>(options), [data(...records)])).map((record) => record.value);

/** Runs `operator` under a host whose state and warnings the test can see, chunk by chunk. */
function drive<In>(operator: Operator<In, Alert>) {
  const states = new Map<string, WorkingState<unknown>>();
  const warnings: LogFields[] = [];
  const host: StepHost = {
    reserveStepName: (kind, name) => name ?? `${kind}-1`,
    createStepContext: (kind, name) =>
      makeStepContext({
        stepName: name ?? `${kind}-1`,
        clock: { now: () => 0, setTimer: () => () => undefined },
        logger: { ...silentLogger, warn: (fields) => void warnings.push(fields) },
        metrics: { recordsIn: () => undefined, recordsOut: () => undefined, deadLetters: () => undefined, late: () => undefined },
        states,
      }),
    registerSink: () => ({ skip: () => undefined }),
  };
  const input = new Subject<Chunk<In>>();
  const output: Chunk<Alert>[] = [];
  withStepHost(host, () => input.pipe(operator).subscribe((chunk) => void output.push(chunk)));
  return {
    warnings,
    /** Sends chunks; returns the alerts they produced. */
    send(...chunks: Chunk<In>[]): Alert[] {
      const from = output.length;
      for (const chunk of chunks) input.next(chunk);
      return dataOf(output.slice(from)).map((record) => record.value);
    },
    stateKeys: (partition = 'p0') => [...(states.get(partition)?.entries() ?? [])].map(([key]) => key),
  };
}

describe('thresholdAlerts', () => {
  it('refuses invalid options and rules at construction, naming the field', () => {
    const attempt = (options: unknown) => () => thresholdAlerts(options as ThresholdAlertsOptions);
    expect(attempt({})).toThrow(/rules: must be an array of alert rules or a provider/);
    expect(attempt({ rules: { current: 1 } })).toThrow(/rules: must be an array/);
    expect(attempt({ rules: [{ ...lowRevenue, id: 'has space' }] })).toThrow(/rules\.0\.id: must be 1-64 letters/);
    expect(attempt({ rules: [{ ...lowRevenue, id: 'x'.repeat(65) }] })).toThrow(/rules\.0\.id:/);
    expect(attempt({ rules: [lowRevenue, { ...busy, condition: '==' }] })).toThrow(/rules\.1\.condition: must be '>', '>=', '<' or '<='/);
    expect(attempt({ rules: [{ ...lowRevenue, threshold: Number.NaN }] })).toThrow(/rules\.0\.threshold: must be a finite number/);
    expect(attempt({ rules: [{ ...lowRevenue, severity: 'fatal' }] })).toThrow(/rules\.0\.severity:/);
    expect(attempt({ rules: [{ ...lowRevenue, extra: 1 }] })).toThrow(/rules\.0/);
    expect(attempt({ rules: [lowRevenue, { ...busy, id: 'low-revenue' }] })).toThrow(/rules\.1\.id: duplicate rule id "low-revenue"/);
    expect(attempt({ rules: [], allowedLateness: -1 })).toThrow(/allowedLateness: must be a non-negative integer/);
    expect(attempt({ rules: [], onError: 'ignore' })).toThrow(/onError:/);
    expect(attempt({ rules: [], lateness: 5 })).toThrow(InvalidOptionsError);
    expect(() => thresholdAlerts({ rules: { current: () => [] } })).not.toThrow();
  });

  it('evaluates each condition, boundary included, and fills the alert', async () => {
    const at = (condition: AlertRule['condition'], revenue: number) =>
      alertsOf({ rules: [{ ...lowRevenue, condition }] }, result('m-1', 0, 60_000, { orders: 1, revenue }));
    expect(await at('<', 99.5)).toHaveLength(1);
    expect(await at('<', 100)).toHaveLength(0);
    expect(await at('<=', 100)).toHaveLength(1);
    expect(await at('<=', 100.5)).toHaveLength(0);
    expect(await at('>', 100.5)).toHaveLength(1);
    expect(await at('>', 100)).toHaveLength(0);
    expect(await at('>=', 100)).toHaveLength(1);
    expect(await at('>=', 99.5)).toHaveLength(0);

    const record = result('m/1', 1_767_225_600_000, 1_767_225_660_000, { orders: 12, revenue: 40 });
    const out = dataOf(await runOperator(thresholdAlerts<Values>({ rules: [lowRevenue, busy] }), [data(record)]));
    expect(out.map((r) => ({ key: r.key, eventTime: r.eventTime, position: r.position }))).toEqual([
      { key: 'm/1', eventTime: record.eventTime, position: record.position },
      { key: 'm/1', eventTime: record.eventTime, position: record.position },
    ]);
    expect(out.map((r) => r.value)).toEqual([
      {
        id: 'threshold:low-revenue:m%2F1:1767225600000-1767225660000',
        kind: 'threshold',
        ruleId: 'low-revenue',
        key: 'm/1',
        metric: 'revenue',
        value: 40,
        threshold: 100,
        zScore: null,
        mean: null,
        stddev: null,
        severity: 'warning',
        eventTime: 1_767_225_660_000,
        message: 'revenue 40 < 100 for m/1 in window [2026-01-01T00:00:00.000Z, 2026-01-01T00:01:00.000Z): rule low-revenue',
      },
      expect.objectContaining({
        id: 'threshold:busy:m%2F1:1767225600000-1767225660000',
        ruleId: 'busy',
        metric: 'orders',
        value: 12,
        threshold: 10,
        severity: 'info',
        message: expect.stringMatching(/^orders 12 >= 10 for m\/1 in window .*: rule busy \(rush hour\)$/) as string,
      }),
    ]);
  });

  it('applies a keyed rule to its key only, and skips metrics that are missing or not numbers', async () => {
    const forM2: AlertRule = { ...lowRevenue, id: 'm2-low', key: 'm-2' };
    const alerts = await alertsOf(
      { rules: [forM2, { ...lowRevenue, id: 'ghost', metric: 'refunds' }, lowRevenue] },
      result('m-1', 0, 10, { orders: 1, revenue: 5 }),
      result('m-2', 0, 10, { orders: 1, revenue: 5 }),
      result('m-3', 0, 10, { orders: 0, revenue: null }),
    );
    expect(alerts.map((alert) => `${alert.ruleId}/${alert.key}`)).toEqual(['low-revenue/m-1', 'm2-low/m-2', 'low-revenue/m-2']);
  });

  it('alerts once per window while the rule keeps holding across revisions, and again after it stopped holding', () => {
    const driver = drive(thresholdAlerts<Values>({ rules: [busy] }));
    const revision = (orders: number, n: number) => data(result('m-1', 0, 60_000, { orders, revenue: 0 }, n));
    expect(driver.send(revision(5, 0))).toEqual([]);
    expect(driver.send(revision(10, 1)).map((alert) => alert.value)).toEqual([10]);
    expect(driver.send(revision(15, 2))).toEqual([]); // still holds: no duplicate, even though the value moved
    expect(driver.send(revision(9, 3))).toEqual([]); // stops holding: nothing emitted, rule re-armed
    const again = driver.send(revision(11, 4));
    expect(again.map((alert) => [alert.id, alert.value])).toEqual([['threshold:busy:m-1:0-60000', 11]]);
    // Another window of the same key is another alert.
    expect(driver.send(data(result('m-1', 60_000, 120_000, { orders: 30, revenue: 0 }))).map((alert) => alert.id)).toEqual([
      'threshold:busy:m-1:60000-120000',
    ]);
    // Two revisions of one window in one batch: one alert.
    expect(driver.send(data(result('m-2', 0, 60_000, { orders: 10, revenue: 0 }), result('m-2', 0, 60_000, { orders: 12, revenue: 0 }, 1)))).toHaveLength(1);
  });

  it("over window(..., emit: 'update'): one alert per window that crosses the threshold", async () => {
    interface Order {
      merchant: string;
      amount: number;
    }
    let at = 0;
    const order = (merchant: string, time: number): StreamRecord<Order> => ({
      key: merchant,
      value: { merchant, amount: 1 },
      eventTime: time,
      position: { partition: 'p0', offset: at++ },
      headers: {},
    });
    const pipeline: Operator<Order, Alert> = (input) =>
      input.pipe(
        window({ key: (o: Order) => o.merchant, window: tumbling(1_000), aggregate: { orders: count() }, emit: 'update' }),
        thresholdAlerts({ rules: [{ id: 'three', metric: 'orders', condition: '>=', threshold: 3, severity: 'info' }] }),
      );
    const chunks: Chunk<Order>[] = [];
    // m-1 gets 5 orders in window 0 one chunk at a time (5 revisions), m-2 gets 2; window 1000 of m-1 gets 3 at once.
    for (let i = 0; i < 5; i++) chunks.push(data(order('m-1', 100 + i)));
    chunks.push(data(order('m-2', 10), order('m-2', 20)));
    chunks.push(data(order('m-1', 1_100), order('m-1', 1_200), order('m-1', 1_300)));
    chunks.push(watermark(5_000));
    const alerts = dataOf(await runOperator(pipeline, chunks)).map((record) => record.value);
    expect(alerts.map((alert) => [alert.id, alert.value])).toEqual([
      ['threshold:three:m-1:0-1000', 3],
      ['threshold:three:m-1:1000-2000', 3],
    ]);
  });

  it('a session that supersedes a breaching session inherits its state: no second alert while it keeps breaching', () => {
    const driver = drive(thresholdAlerts<Values>({ rules: [busy] }));
    expect(driver.send(data(result('m-1', 0, 100, { orders: 10, revenue: 0 })))).toHaveLength(1);
    expect(driver.send(data(result('m-1', 0, 250, { orders: 14, revenue: 0 }, 1, [{ start: 0, end: 100 }])))).toEqual([]);
    expect(driver.stateKeys()).toEqual(['busy\u00000\u0000250\u0000m-1']);
    // Merging a non-breaching session into nothing breaching: a new alert for the merged bounds.
    expect(driver.send(data(result('m-2', 0, 100, { orders: 1, revenue: 0 })))).toEqual([]);
    expect(driver.send(data(result('m-2', 0, 300, { orders: 12, revenue: 0 }, 1, [{ start: 0, end: 100 }]))).map((a) => a.id)).toEqual([
      'threshold:busy:m-2:0-300',
    ]);
  });

  it('with session windows end to end: a growing session alerts once', async () => {
    let at = 0;
    const click = (time: number): StreamRecord<{ user: string }> => ({ key: 'u', value: { user: 'u' }, eventTime: time, position: { partition: 'p0', offset: at++ }, headers: {} });
    const pipeline: Operator<{ user: string }, Alert> = (input) =>
      input.pipe(
        window({ key: (c: { user: string }) => c.user, window: session(100), aggregate: { clicks: count() }, emit: 'update' }),
        thresholdAlerts({ rules: [{ id: 'many', metric: 'clicks', condition: '>', threshold: 1, severity: 'info' }] }),
      );
    const chunks = [0, 50, 120, 180, 260].map((time) => data(click(time)));
    const alerts = dataOf(await runOperator(pipeline, [...chunks, watermark(10_000)])).map((record) => record.value);
    expect(alerts.map((alert) => [alert.id, alert.value])).toEqual([['threshold:many:u:0-150', 2]]);
  });

  it('forgets a window once the watermark reaches end - 1 + allowedLateness', () => {
    const driver = drive(thresholdAlerts<Values>({ rules: [busy], allowedLateness: 500 }));
    driver.send(data(result('m-1', 0, 1_000, { orders: 10, revenue: 0 }), result('m-1', 1_000, 2_000, { orders: 10, revenue: 0 })));
    expect(driver.stateKeys()).toHaveLength(2);
    driver.send(watermark(1_498));
    expect(driver.stateKeys()).toHaveLength(2);
    driver.send(watermark(1_499));
    expect(driver.stateKeys()).toEqual(['busy\u00001000\u00002000\u0000m-1']);
    // A revision of the still-remembered window: no duplicate.
    expect(driver.send(data(result('m-1', 1_000, 2_000, { orders: 11, revenue: 0 }, 1)))).toEqual([]);
    driver.send(watermark(2_499));
    expect(driver.stateKeys()).toEqual([]);
    // Nothing below that watermark can be re-emitted by the window operator any more; a later window alerts normally.
    expect(driver.send(data(result('m-1', 2_000, 3_000, { orders: 10, revenue: 0 })))).toHaveLength(1);
  });

  it('remembers which windows alerted across a crash: a late revision after the restart does not alert again', async () => {
    interface Order {
      merchant: string;
    }
    const sink = memorySink<Alert>({ exactlyOnce: true });
    const driver = new TestDriver<Order>({
      name: `threshold-restart-${offset}`,
      pipeline: (input) =>
        input.pipe(
          window({ name: 'per-second', key: (o: Order) => o.merchant, window: tumbling(1_000), aggregate: { orders: count() }, allowedLateness: 5_000 }),
          thresholdAlerts({ name: 'alerts', rules: [{ id: 'two', metric: 'orders', condition: '>=', threshold: 2, severity: 'info' }], allowedLateness: 5_000 }),
          toSink(sink),
        ),
    });
    await driver.send({ merchant: 'm-1' }, { eventTime: 100, key: 'm-1' });
    await driver.send({ merchant: 'm-1' }, { eventTime: 200, key: 'm-1' });
    await driver.advanceWatermark(2_000); // the window fires: revision 0, 2 orders
    await driver.checkpoint();
    expect(sink.values.map((alert) => alert.id)).toEqual(['threshold:two:m-1:0-1000']);
    expect([...driver.state('alerts').keys()]).toEqual(['two\u00000\u00001000\u0000m-1']);
    await driver.crash();
    await driver.restart();
    await driver.send({ merchant: 'm-1' }, { eventTime: 300, key: 'm-1' }); // late, within allowedLateness: revision 1
    await driver.checkpoint();
    expect(sink.values.map((alert) => alert.id)).toEqual(['threshold:two:m-1:0-1000']);
    await driver.end();
    expect(sink.values).toHaveLength(1);
  });

  it('reads a provider once per batch: rules added, changed and deleted at run time take effect on the next batch', () => {
    let rules: readonly AlertRule[] = [];
    let reads = 0;
    const driver = drive(thresholdAlerts<Values>({ rules: { current: () => (reads++, rules) } }));
    const window0 = (orders: number, revision = 0) => data(result('m-1', 0, 1_000, { orders, revenue: 0 }, revision));
    expect(driver.send(window0(20))).toEqual([]);
    rules = [busy];
    expect(driver.send(window0(21, 1)).map((alert) => alert.ruleId)).toEqual(['busy']);
    rules = [{ ...busy, threshold: 100 }]; // same id, no longer holds: re-armed
    expect(driver.send(window0(22, 2))).toEqual([]);
    rules = [{ ...busy, threshold: 5, severity: 'critical' }];
    expect(driver.send(window0(23, 3)).map((alert) => alert.severity)).toEqual(['critical']);
    rules = [];
    expect(driver.send(window0(24, 4))).toEqual([]);
    expect(reads).toBe(5);
  });

  it("skips a provider's invalid and duplicate rules with one warning each, and keeps the valid ones", () => {
    const bad = { ...busy, id: 'bad', threshold: 'ten' } as unknown as AlertRule;
    const rules: readonly AlertRule[] = [bad, busy, { ...busy, threshold: 0 }, lowRevenue];
    const driver = drive(thresholdAlerts<Values>({ rules: { current: () => [...rules] } }));
    const alerts = driver.send(data(result('m-1', 0, 1_000, { orders: 10, revenue: 0 })), data(result('m-1', 1_000, 2_000, { orders: 10, revenue: 0 })));
    expect(alerts.map((alert) => `${alert.ruleId}@${alert.value}`)).toEqual(['busy@10', 'low-revenue@0', 'busy@10', 'low-revenue@0']);
    expect(driver.warnings.map((fields) => [fields['rule'], fields['problem']])).toEqual([
      ['bad', 'threshold: must be a finite number'],
      ['busy', 'duplicate rule id (the first one applies)'],
    ]);
  });

  it('sends records that are not window results to the error policy', async () => {
    const notAResult = { key: 'x', value: { hello: 'world' }, eventTime: 0, position: { partition: 'p0', offset: 99 }, headers: {} };
    const out = await runOperator(thresholdAlerts({ rules: [busy] }), [data(notAResult as unknown as StreamRecord<WindowResult<Values>>)]);
    const letters = out.flatMap((chunk) => (chunk.kind === 'dead-letter' ? [...chunk.letters] : []));
    expect(letters.map((letter) => letter.error.message)).toEqual([
      'thresholdAlerts expects window results { key, start, end, values } (the output of window(...))',
    ]);
    expect(await runOperator(thresholdAlerts({ rules: [busy], onError: 'skip' }), [data(notAResult as unknown as StreamRecord<WindowResult<Values>>)])).toEqual([]);
  });

  it('infers the input type from the window before it', () => {
    // Compile-time check: thresholdAlerts accepts the window's output without type arguments.
    const pipeline: Operator<{ amount: number }, Alert> = (input) =>
      input.pipe(
        window({ key: () => 'all', window: tumbling(1_000), aggregate: { revenue: sum((o: { amount: number }) => o.amount) } }),
        thresholdAlerts({ rules: [lowRevenue] }),
      );
    expect(typeof pipeline).toBe('function');
  });
});
