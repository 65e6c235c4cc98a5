import { z } from 'zod';
import { errorPolicySchema, stepNameSchema } from '../internal/common-options.js';
import { parseOptions } from '../internal/parse-options.js';
import type { DeadLetter } from '../record/dead-letter.js';
import type { StreamRecord } from '../record/stream-record.js';
import type { ErrorPolicy, KeyedState } from '../runtime/step-context.js';
import type { Alert, AlertSeverity } from './alert.js';
import { defineOperator, handleRecordError } from './define-operator.js';
import type { Operator } from './define-operator.js';

/** Largest `window`: each key keeps its last `window` values in the checkpointed state, as a JSON array. */
const MAX_WINDOW = 100_000;
const DEFAULT_MIN_SAMPLES = 30;
/** Default `relearnAfter` (capped at `window`): ten flags in a row are a new level, not ten coincident spikes. */
const DEFAULT_RELEARN_AFTER = 10;

/**
 * Float noise, in units of the mean's magnitude per value of the window. Between two exact recomputes the running mean
 * takes at most `window` rounded updates, each off by about one ulp of the mean, so a deviation within
 * `|mean| × (window + 1) × 4ε` of it is rounding, not an anomaly: without this a constant baseline whose mean picked up
 * a rounding error would flag its next (equal) value at a huge z. For a window of 1000 around 1e9 that is 0.0009.
 */
const NOISE_PER_VALUE = 4 * Number.EPSILON;

const functionSchema = (message: string) => z.custom<(...args: never[]) => unknown>((value) => typeof value === 'function', { error: message });

const anomaliesOptionsSchema = z
  .strictObject({
    name: stepNameSchema,
    value: functionSchema('must be a function (value, record) => number | null'),
    key: functionSchema('must be a function (value, record) => string | null').optional(),
    metric: z.string({ error: 'must be a non-empty string' }).min(1, 'must be a non-empty string').max(200, 'must be at most 200 characters'),
    window: z
      .number({ error: `must be a whole number of values between 2 and ${MAX_WINDOW}` })
      .int(`must be a whole number of values between 2 and ${MAX_WINDOW}`)
      .min(2, `must be a whole number of values between 2 and ${MAX_WINDOW}`)
      .max(MAX_WINDOW, `must be a whole number of values between 2 and ${MAX_WINDOW}`),
    minSamples: z
      .number({ error: 'must be a whole number of at least 2' })
      .int('must be a whole number of at least 2')
      .min(2, 'must be a whole number of at least 2 (a standard deviation needs two values)')
      .optional(),
    zThreshold: z
      .number({ error: 'must be a positive finite number' })
      .positive('must be a positive finite number')
      .max(1e6, 'must be a positive finite number (at most 1e6)')
      .default(4),
    severity: z.enum(['info', 'warning', 'critical'], { error: "must be 'info', 'warning' or 'critical'" }).default('warning'),
    direction: z.enum(['both', 'above', 'below'], { error: "must be 'both', 'above' or 'below'" }).default('both'),
    minStddev: z
      .number({ error: 'must be a non-negative finite number' })
      .min(0, 'must be a non-negative finite number')
      .max(Number.MAX_VALUE, 'must be a non-negative finite number')
      .default(0),
    outliers: z.enum(['exclude', 'include'], { error: "must be 'exclude' or 'include'" }).default('exclude'),
    relearnAfter: z
      .number({ error: 'must be a whole number of at least 2, or null' })
      .int('must be a whole number of at least 2, or null')
      .min(2, 'must be a whole number of at least 2, or null (one flagged value is a spike, not a new level)')
      .nullable()
      .optional(),
    onError: errorPolicySchema.default('dlq'),
  })
  .superRefine((options, context) => {
    if (options.minSamples !== undefined && options.minSamples > options.window) {
      context.addIssue({ code: 'custom', path: ['minSamples'], message: `must be at most window (${options.window}): the baseline never holds more values` });
    }
    if (typeof options.relearnAfter === 'number' && options.relearnAfter > options.window) {
      context.addIssue({ code: 'custom', path: ['relearnAfter'], message: `must be at most window (${options.window}): the new baseline is made of these values` });
    }
  });

/**
 * Options of {@link anomalies}. `V` is the record value type.
 *
 * (Declared by hand rather than as `z.input<typeof schema>` because zod cannot carry the generic `V`; the schema
 * validates exactly these fields.)
 *
 * @example
 * ```ts
 * const options: AnomaliesOptions<Payment> = {
 *   metric: 'amount',
 *   value: (payment) => payment.amount,
 *   key: (payment) => payment.merchantId,
 *   window: 500,
 * };
 * ```
 */
export interface AnomaliesOptions<V> {
  /** Step name used in metrics, logs and dead letters. Default: `anomalies-<n>`. */
  name?: string | undefined;
  /**
   * The measured value of a record. `null` skips the record (no alert, not part of the baseline). A throw or anything
   * but a finite number goes to `onError`. Required.
   */
  value: (value: V, record: StreamRecord<V>) => number | null;
  /**
   * Which baseline a record belongs to: one rolling mean and standard deviation per key. `null` = the stream's one
   * shared baseline. Default: the record key (`record.key`). A throw or a result that is neither a string nor `null`
   * goes to `onError`.
   */
  key?: ((value: V, record: StreamRecord<V>) => string | null) | undefined;
  /** Name of what is measured, carried in the alerts' `metric` and id (e.g. `'amount'`). Required; 1–200 characters. */
  metric: string;
  /** The baseline: the last `window` values of the key (a count, not a time span). Required; 2–100000. */
  window: number;
  /** Values a key needs in its baseline before its values are judged. Default: `min(30, window)`; 2 ≤ minSamples ≤ window. */
  minSamples?: number | undefined;
  /** A value is an anomaly when `|z| >= zThreshold`, z = (value − mean) / stddev of the baseline before it. Default: `4`. */
  zThreshold?: number | undefined;
  /** Severity of the alerts. Default: `'warning'`. */
  severity?: AlertSeverity | undefined;
  /** Which deviations count: `'both'` (default), `'above'` the mean only, or `'below'` it only. */
  direction?: 'both' | 'above' | 'below' | undefined;
  /**
   * Floor for the standard deviation used in z (same unit as the values). With the default `0`, a key whose baseline is
   * constant flags any different value (its alert has `zScore: null`). Set it to the smallest deviation that matters,
   * e.g. `1` for counts. Default: `0`.
   */
  minStddev?: number | undefined;
  /**
   * Whether flagged values join the baseline: `'exclude'` (default: one spike neither inflates the standard deviation
   * nor masks the next spike) or `'include'` (the baseline follows a lasting level shift; see {@link anomalies}).
   */
  outliers?: 'exclude' | 'include' | undefined;
  /**
   * Bounded adaptation to a lasting level shift: after this many *consecutive* flagged values of a key, the key's
   * baseline is replaced by exactly those values (the level it has moved to), and the last of them raises the alert
   * that says so. A step change therefore costs at most `relearnAfter` alerts; then values build the new baseline and
   * are judged against it once it holds `minSamples` values. Any unflagged value in between restarts the count, so
   * isolated spikes never move the baseline. `null` = never relearn (a shifted key is flagged until its values come
   * back). Default: `min(10, window)`; 2 ≤ relearnAfter ≤ window.
   */
  relearnAfter?: number | null | undefined;
  /** What to do with a record whose value, key or event time cannot be used: `'dlq'` (default) | `'skip'` | `'fail'`. */
  onError?: ErrorPolicy | undefined;
}

// The hand-written options interface must stay accepted by the schema it documents.
type _OptionsMatchSchema = AnomaliesOptions<unknown> extends z.input<typeof anomaliesOptionsSchema> ? true : never;
const _optionsMatchSchema: _OptionsMatchSchema = true;

/**
 * The baseline of one key, as kept in the step state (JSON, updated in place).
 *
 * `v` holds the last values in a ring (`v.length < window` while filling, then `h` is the oldest slot); `m` and `s` are
 * the running mean and sum of squared deviations (Welford) of exactly the values in `v`; `r` counts sliding updates since
 * `m` and `s` were last recomputed from `v`. `f` holds the current run of consecutive flagged values (absent when the
 * last value was not flagged, and in state checkpointed before `relearnAfter` existed).
 */
interface Baseline {
  v: number[];
  h: number;
  m: number;
  s: number;
  r: number;
  f?: number[];
}

/**
 * Anomaly detection on a numeric value per key: keeps a rolling mean and standard deviation of each key's last
 * `window` values and emits an {@link Alert} (kind `'anomaly'`) for every value whose z-score against the baseline
 * *before* it reaches `zThreshold` (`|z| >= zThreshold`, or one-sided with `direction`).
 *
 * **Output.** The step maps records to alerts: it emits only `Alert` records (`key` = the alert key, `eventTime` and
 * `position` of the record that raised it), so `anomalies(...)` followed by `toSink(kafkaSink({ topic: 'alerts' }))`
 * publishes them. To keep the records flowing on as well, put the detector in one case of
 * `branch(cases, { mode: 'all' })` next to the main path (see the example). Values that are not anomalies produce
 * nothing.
 *
 * **Baseline.** The last `window` values of the key — a count rather than a time span, so memory per key is bounded
 * whatever the rate, judgement does not depend on watermarks or arrival order across keys, and a key that goes quiet
 * keeps its baseline until it speaks again. Mean and variance are updated in O(1) per value (Welford, with the value
 * leaving the window removed) and recomputed exactly from the stored values once every `window` updates, so rounding
 * errors cannot accumulate. The standard deviation is the sample one (n − 1). A key is judged once its baseline holds
 * `minSamples` values; values before that only build the baseline.
 *
 * **Outliers and the baseline.** With `outliers: 'exclude'` (default) a flagged value does not join the baseline, so a
 * spike neither inflates the standard deviation nor hides the next spike. `'include'` lets flagged values in.
 *
 * **Level shifts.** A key whose metric moves for good (new pricing, a new traffic level) would otherwise be flagged on
 * every value, since its new values never enter an `'exclude'` baseline. So after `relearnAfter` (default 10)
 * consecutive flagged values the baseline restarts from exactly those values; the last of them raises an alert whose
 * message says the level shifted. A step change thus yields at most `relearnAfter` alerts; the following values rebuild
 * the baseline and are judged again once it holds `minSamples` values. An unflagged value resets the count, so
 * isolated spikes never move the baseline. `relearnAfter: null` turns this off.
 *
 * **Alerts.** `id` = `anomaly:<key>:<metric>:<partition>@<offset>` (URI-encoded parts; `-` for no key), so a replay
 * after a restart raises the same alert with the same id. `zScore` is `(value − mean) / max(stddev, minStddev)`, or
 * `null` when that divisor is 0 (a constant baseline and a different value); `mean` and `stddev` describe the baseline
 * before the value; `threshold` is `zThreshold`.
 *
 * **State.** Each key's baseline (its last values, mean and sum of squares) lives in the step's per-source-partition
 * state, so it is checkpointed with the source positions and restored after a restart: the detector resumes with its
 * baselines instead of learning again. Keys are scoped by source partition (records of a key should come from one
 * partition, as with Kafka keyed partitioning). Baselines are never expired: state grows with the number of keys.
 *
 * @param options see {@link AnomaliesOptions}; invalid options throw `InvalidOptionsError` naming the field
 *
 * @example
 * ```ts
 * // Payments far from their merchant's usual amount, published to the alerts topic; payments go on to the ledger.
 * payments.pipe(
 *   branch(
 *     [
 *       {
 *         when: () => true,
 *         then: (all) =>
 *           all.pipe(
 *             anomalies({ name: 'amount-anomalies', metric: 'amount', value: (p) => p.amount, key: (p) => p.merchantId, window: 500 }),
 *             toSink(kafkaSink({ brokers, topic: 'alerts' })),
 *           ),
 *       },
 *       { when: () => true, then: (all) => all.pipe(toSink(ledger)) },
 *     ],
 *     { mode: 'all' },
 *   ),
 * );
 * ```
 */
export function anomalies<V>(options: AnomaliesOptions<V>): Operator<V, Alert> {
  const parsed = parseOptions(anomaliesOptionsSchema, 'anomalies', options);
  const valueOf = parsed.value as unknown as (value: V, record: StreamRecord<V>) => unknown;
  const keyOf = parsed.key as unknown as ((value: V, record: StreamRecord<V>) => unknown) | undefined;
  const { name, metric, window, zThreshold, severity, direction, minStddev, outliers, onError } = parsed;
  const minSamples = parsed.minSamples ?? Math.min(DEFAULT_MIN_SAMPLES, window);
  const relearnAfter = parsed.relearnAfter === undefined ? Math.min(DEFAULT_RELEARN_AFTER, window) : parsed.relearnAfter;
  const encodedMetric = encodeURIComponent(metric);
  const noise = (window + 1) * NOISE_PER_VALUE;

  return defineOperator<V, Alert>('anomalies', name, (context) => ({
    data(records, emit) {
      let out: StreamRecord<Alert>[] | undefined;
      let letters: DeadLetter[] | undefined;
      let partition: string | undefined;
      let state: KeyedState<Baseline> | undefined;
      for (const record of records) {
        let key: string | null;
        let x: number;
        try {
          const measured = valueOf(record.value, record);
          if (measured === null) continue;
          if (typeof measured !== 'number' || !Number.isFinite(measured)) {
            throw new TypeError(`anomalies value must be a finite number or null, got ${describe(measured)}`);
          }
          const computedKey = keyOf === undefined ? record.key : keyOf(record.value, record);
          if (computedKey !== null && typeof computedKey !== 'string') {
            throw new TypeError(`anomalies key must be a string or null, got ${describe(computedKey)}`);
          }
          if (!Number.isFinite(record.eventTime)) throw new TypeError(`anomalies needs a finite eventTime, got ${String(record.eventTime)}`);
          x = measured;
          key = computedKey;
        } catch (error) {
          const letter = handleRecordError(onError, context, record, error);
          if (letter) (letters ??= []).push(letter);
          continue;
        }
        if (record.position.partition !== partition) {
          partition = record.position.partition;
          state = context.state<Baseline>(partition);
        }
        // Distinct state keys for "no key" and every string key, the empty string included.
        const stateKey = key === null ? '' : `=${key}`;
        let baseline = state!.get(stateKey);
        if (baseline === undefined) {
          baseline = { v: [], h: 0, m: 0, s: 0, r: 0 };
          state!.set(stateKey, baseline);
        }

        let flagged = false;
        let relearned = false;
        const n = baseline.v.length;
        if (n >= minSamples) {
          const mean = baseline.m;
          const stddev = Math.sqrt(Math.max(0, baseline.s / (n - 1)));
          const divisor = Math.max(stddev, minStddev);
          const deviation = x - mean;
          const z =
            Math.abs(deviation) <= Math.abs(mean) * noise ? 0 : divisor > 0 ? deviation / divisor : deviation > 0 ? Infinity : -Infinity;
          flagged = direction === 'above' ? z >= zThreshold : direction === 'below' ? -z >= zThreshold : Math.abs(z) >= zThreshold;
          if (flagged) {
            let shift = '';
            if (relearnAfter !== null) {
              const run = (baseline.f ??= []);
              run.push(x);
              if (run.length >= relearnAfter) {
                relearn(baseline, run);
                relearned = true;
                shift = `; ${run.length} values in a row were flagged, so the level has shifted: the baseline restarts from them`;
              }
            }
            const alert: Alert = {
              id: `anomaly:${key === null ? '-' : encodeURIComponent(key)}:${encodedMetric}:${encodeURIComponent(record.position.partition)}@${record.position.offset}`,
              kind: 'anomaly',
              ruleId: null,
              key,
              metric,
              value: x,
              threshold: zThreshold,
              zScore: Number.isFinite(z) ? z : null,
              mean,
              stddev,
              severity,
              eventTime: record.eventTime,
              message:
                (Number.isFinite(z)
                  ? `${metric} ${format(x)} is ${format(Math.abs(z))} standard deviations ${z > 0 ? 'above' : 'below'} the rolling mean ${format(mean)}`
                  : `${metric} ${format(x)} differs from the constant rolling mean ${format(mean)} (standard deviation 0)`) + shift,
            };
            (out ??= []).push({ key, value: alert, eventTime: record.eventTime, position: record.position, headers: {} });
          }
        }
        if (!flagged) delete baseline.f;
        if (!relearned && (!flagged || outliers === 'include')) learn(baseline, x, window);
      }
      if (out) emit.data(out);
      if (letters) emit.deadLetters(letters);
    },
  }));
}

/** Adds `x` to the baseline, dropping its oldest value once it holds `window` values. */
function learn(baseline: Baseline, x: number, window: number): void {
  const values = baseline.v;
  const n = values.length;
  if (n < window) {
    values.push(x);
    const delta = x - baseline.m;
    baseline.m += delta / (n + 1);
    baseline.s += delta * (x - baseline.m);
    return;
  }
  const oldest = values[baseline.h]!;
  values[baseline.h] = x;
  baseline.h = (baseline.h + 1) % window;
  if (++baseline.r >= window) {
    recompute(baseline);
    return;
  }
  // Welford's sliding update (add x, remove oldest, n unchanged).
  const previousMean = baseline.m;
  baseline.m = previousMean + (x - oldest) / n;
  baseline.s += (x - oldest) * (x - baseline.m + oldest - previousMean);
  if (baseline.s < 0) baseline.s = 0;
}

/** Replaces the baseline by `values` (the run of flagged values: the key's new level), oldest first. */
function relearn(baseline: Baseline, values: number[]): void {
  baseline.v = values;
  baseline.h = 0;
  delete baseline.f;
  recompute(baseline);
}

/** Mean and sum of squared deviations of the stored values, two-pass (exact up to one rounding per value). */
function recompute(baseline: Baseline): void {
  const values = baseline.v;
  let sum = 0;
  for (const value of values) sum += value;
  const mean = sum / values.length;
  let squares = 0;
  for (const value of values) squares += (value - mean) * (value - mean);
  baseline.m = mean;
  baseline.s = squares;
  baseline.r = 0;
}

/** A number for a message: at most 6 significant digits, no exponent for everyday magnitudes. */
function format(value: number): string {
  return String(Number(value.toPrecision(6)));
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'number') return String(value);
  return typeof value;
}
