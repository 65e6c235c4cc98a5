/**
 * What alerting operators emit and what threshold rules look like. Alerts are plain JSON-safe records so that they
 * can be published to an alerts topic (`kafkaSink`) and read back by anyone, including the MCP server's `list_alerts`.
 */

/** How bad an alert is. */
export type AlertSeverity = 'info' | 'warning' | 'critical';

/** Comparison of a threshold rule: the alert fires when `value <condition> threshold` holds. */
export type AlertCondition = '>' | '>=' | '<' | '<=';

/**
 * A threshold rule over a windowed metric: fires when the aggregate named `metric` of a window result compares to
 * `threshold` as `condition` says, for every key or only for `key`.
 *
 * @example
 * ```ts
 * const rule: AlertRule = { id: 'revenue-drop', metric: 'revenue', condition: '<', threshold: 100, severity: 'warning' };
 * ```
 */
export interface AlertRule {
  /** Stable id: letters, digits, `.`, `_`, `-`; at most 64 characters. */
  readonly id: string;
  /** Name of the aggregate in the window result's `values` (e.g. `revenue` for `aggregate: { revenue: sum(...) }`). */
  readonly metric: string;
  readonly condition: AlertCondition;
  readonly threshold: number;
  /** Only windows of this key; absent = every key. */
  readonly key?: string;
  readonly severity: AlertSeverity;
  /** Free text shown with the alert. */
  readonly description?: string;
}

/**
 * One alert: a threshold rule that fired on a window result, or an anomaly (a value far from its key's rolling mean).
 *
 * @example
 * ```ts
 * const alert: Alert = {
 *   id: 'anomaly:merchant-7:amount:payments%3A3@1042', kind: 'anomaly', ruleId: null, key: 'merchant-7', metric: 'amount',
 *   value: 9_400, threshold: 4, zScore: 11.2, mean: 120, stddev: 828, severity: 'warning',
 *   eventTime: 1_767_225_600_000, message: 'amount 9400 is 11.2 standard deviations above the rolling mean 120',
 * };
 * ```
 */
export interface Alert {
  /** Deterministic id (same input, same id), so a replay or a re-emitted window can be deduplicated downstream. */
  readonly id: string;
  readonly kind: 'threshold' | 'anomaly';
  /** The rule that fired (`threshold` alerts); `null` for anomalies. */
  readonly ruleId: string | null;
  /** The record or window key; `null` when the stream is not keyed. */
  readonly key: string | null;
  /** What was measured: the aggregate name (threshold) or the value's name (anomaly). */
  readonly metric: string;
  /** The measured value. */
  readonly value: number;
  /** The rule's threshold, or the z-score threshold of an anomaly detector. */
  readonly threshold: number;
  /** Anomalies: (value - mean) / stddev; `null` for threshold alerts. */
  readonly zScore: number | null;
  /** Anomalies: rolling mean and standard deviation before this value; `null` for threshold alerts. */
  readonly mean: number | null;
  readonly stddev: number | null;
  readonly severity: AlertSeverity;
  /** Event time the alert is about: the record's event time, or the window end (exclusive) for threshold alerts. */
  readonly eventTime: number;
  /** One line for humans. */
  readonly message: string;
}
