import { z } from 'zod';
import { errorPolicySchema, stepNameSchema } from '../internal/common-options.js';
import { parseOptions } from '../internal/parse-options.js';
import type { DeadLetter } from '../record/dead-letter.js';
import type { StreamRecord } from '../record/stream-record.js';
import type { KeyedState, StepContext } from '../runtime/step-context.js';
import type { Alert, AlertRule } from './alert.js';
import { defineOperator, handleRecordError } from './define-operator.js';
import type { Operator } from './define-operator.js';
import type { WindowBounds, WindowResult } from './window.js';

const alertRuleSchema = z.strictObject({
  id: z
    .string({ error: 'must be a string of letters, digits, ".", "_" or "-" (1-64 characters)' })
    .regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 letters, digits, ".", "_" or "-"'),
  metric: z.string({ error: 'must be a non-empty string' }).min(1, 'must be a non-empty string'),
  condition: z.enum(['>', '>=', '<', '<='], { error: "must be '>', '>=', '<' or '<='" }),
  threshold: z.number({ error: 'must be a finite number' }).refine(Number.isFinite, 'must be a finite number'),
  key: z.string({ error: 'must be a string' }).optional(),
  severity: z.enum(['info', 'warning', 'critical'], { error: "must be 'info', 'warning' or 'critical'" }),
  description: z.string({ error: 'must be a string' }).optional(),
});

const ruleListSchema = z.array(alertRuleSchema).superRefine((rules, context) => {
  const seen = new Set<string>();
  rules.forEach((rule, index) => {
    if (seen.has(rule.id)) context.addIssue({ code: 'custom', path: [index, 'id'], message: `duplicate rule id "${rule.id}"` });
    seen.add(rule.id);
  });
});

const isProvider = (value: unknown): value is AlertRulesProvider =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && typeof (value as { current?: unknown }).current === 'function';

// A list is checked rule by rule (issues name `rules.<index>.<field>`); a provider is checked when read.
const rulesSchema = z.custom<readonly AlertRule[] | AlertRulesProvider>().superRefine((rules, context) => {
  if (Array.isArray(rules)) {
    const checked = ruleListSchema.safeParse(rules);
    if (!checked.success) for (const issue of checked.error.issues) context.addIssue({ code: 'custom', path: issue.path, message: issue.message });
  } else if (!isProvider(rules)) {
    context.addIssue({ code: 'custom', message: 'must be an array of alert rules or a provider { current(): readonly AlertRule[] }' });
  }
});

const thresholdAlertsOptionsSchema = z.strictObject({
  name: stepNameSchema,
  rules: rulesSchema,
  allowedLateness: z
    .number({ error: 'must be a non-negative integer number of milliseconds' })
    .int('must be a non-negative integer number of milliseconds')
    .min(0, 'must be a non-negative integer number of milliseconds')
    .max(Number.MAX_SAFE_INTEGER, 'must be a non-negative integer number of milliseconds')
    .default(0),
  onError: errorPolicySchema.default('dlq'),
});

/**
 * Where {@link thresholdAlerts} reads its rules when they can change at run time (e.g. a rule store the MCP server's
 * `create_alert_rule` writes to). `current()` is called once per batch of window results, synchronously, so it should
 * return a cached snapshot rather than do I/O.
 *
 * @example
 * ```ts
 * let rules: readonly AlertRule[] = [];
 * const provider: AlertRulesProvider = { current: () => rules };
 * rules = [...rules, { id: 'low-revenue', metric: 'revenue', condition: '<', threshold: 100, severity: 'warning' }];
 * ```
 */
export interface AlertRulesProvider {
  current(): readonly AlertRule[];
}

/**
 * Options of {@link thresholdAlerts}.
 *
 * @example
 * ```ts
 * const options: ThresholdAlertsOptions = {
 *   rules: [{ id: 'busy', metric: 'orders', condition: '>=', threshold: 1_000, severity: 'info' }],
 *   allowedLateness: 5_000,
 * };
 * ```
 *
 * @interface
 */
export type ThresholdAlertsOptions = Omit<z.input<typeof thresholdAlertsOptionsSchema>, 'rules'> & {
  /**
   * The rules: a fixed list (validated at construction: ids unique, 1-64 letters, digits, `.`, `_`, `-`; finite
   * thresholds), or a provider read once per batch, for rules that change while the topology runs (a provider's
   * invalid or duplicate rules are skipped with a warning, once per rule). Required.
   */
  rules: readonly AlertRule[] | AlertRulesProvider;
};

/**
 * Threshold rules over windowed metrics: for each {@link WindowResult} (the output of `window(...)`), every rule whose
 * `metric` is a finite number in the result's `values` and whose `key` (if any) equals the result's key is evaluated as
 * `values[metric] <condition> threshold`; a rule that holds emits an {@link Alert} of kind `'threshold'`. Metrics that
 * are missing or not finite numbers (`min`/`max` of nothing is `null`) are not evaluated.
 *
 * **Output.** Like `anomalies`, the step maps window results to alerts (record key = the window key, event time and
 * position of the window result), ready for `toSink(kafkaSink({ topic: 'alerts' }))`. Alert `id` =
 * `threshold:<rule id>:<key>:<start>-<end>` (the key URI-encoded), `eventTime` = the window end (exclusive), `value` =
 * the metric, `threshold` = the rule's.
 *
 * **Revisions.** A window can be emitted more than once (`emit: 'update'`, late records within `allowedLateness`,
 * growing sessions). An alert is emitted when a rule *starts* to hold for a window: a revision for which the rule
 * still holds emits nothing, even if the value moved; a revision for which it no longer holds emits nothing either but
 * re-arms the rule, so a later revision that breaches again emits again (the same id: the alert is about the window,
 * its value is the latest). A session result that `supersedes` earlier sessions inherits their state, so a session that
 * keeps breaching while it grows or merges alerts once, with the bounds it had then. To remember this, the step keeps one state entry per
 * (rule, key, window) that currently holds, in its per-source-partition state (checkpointed, restored after a
 * restart), and forgets it once the watermark reaches `end - 1 + allowedLateness`, when the window operator purges the
 * window: set `allowedLateness` to the window's.
 *
 * **Live rules.** With a provider, the rules are read once per batch: a new rule applies from the next window result
 * on (it does not re-evaluate results already seen), a deleted rule stops firing, and a changed rule keeps its state
 * by id.
 *
 * @param options see {@link ThresholdAlertsOptions}; invalid options throw `InvalidOptionsError` naming the field
 *
 * @example
 * ```ts
 * orders.pipe(
 *   window({ key: (o) => o.merchantId, window: tumbling(60_000), aggregate: { orders: count(), revenue: sum((o) => o.amount) } }),
 *   thresholdAlerts({
 *     rules: [
 *       { id: 'no-revenue', metric: 'revenue', condition: '<=', threshold: 0, severity: 'critical' },
 *       { id: 'burst', metric: 'orders', condition: '>', threshold: 500, key: 'merchant-7', severity: 'info' },
 *     ],
 *   }),
 *   toSink(kafkaSink({ brokers, topic: 'alerts' })),
 * );
 * ```
 */
export function thresholdAlerts<Values = unknown>(options: ThresholdAlertsOptions): Operator<WindowResult<Values>, Alert> {
  const parsed = parseOptions(thresholdAlertsOptionsSchema, 'thresholdAlerts', options);
  const { name, allowedLateness, onError } = parsed;
  const rulesOption = parsed.rules;

  return defineOperator<WindowResult<Values>, Alert>('thresholdAlerts', name, (context) => {
    const currentRules = Array.isArray(rulesOption) ? () => rulesOption as readonly AlertRule[] : liveRules(rulesOption as AlertRulesProvider, context);
    const expiry = new Expiry(context, allowedLateness);
    return {
      data(records, emit) {
        const rules = currentRules();
        let out: StreamRecord<Alert>[] | undefined;
        let letters: DeadLetter[] | undefined;
        let partition: string | undefined;
        let state: KeyedState<number> | undefined;
        for (const record of records) {
          const result = record.value as WindowResult<Record<string, unknown>>;
          try {
            checkResult(result);
          } catch (error) {
            const letter = handleRecordError(onError, context, record, error);
            if (letter) (letters ??= []).push(letter);
            continue;
          }
          if (rules.length === 0) continue;
          if (record.position.partition !== partition) {
            partition = record.position.partition;
            state = context.state<number>(partition);
          }
          for (const rule of rules) {
            if (rule.key !== undefined && rule.key !== result.key) continue;
            const value = result.values[rule.metric];
            if (typeof value !== 'number' || !Number.isFinite(value)) continue;
            const stateKey = firingKey(rule.id, result.key, result);
            const wasFiring = state!.has(stateKey) || inheritsFiring(state!, rule.id, result);
            if (!holds(value, rule)) {
              if (wasFiring) state!.delete(stateKey);
              continue;
            }
            if (!state!.has(stateKey)) {
              state!.set(stateKey, result.end);
              expiry.added(state!, result.end);
            }
            if (wasFiring) continue;
            const alert = thresholdAlert(rule, result, value);
            (out ??= []).push({ key: result.key, value: alert, eventTime: record.eventTime, position: record.position, headers: {} });
          }
        }
        if (out) emit.data(out);
        if (letters) emit.deadLetters(letters);
      },
      watermark(time) {
        expiry.expire(time);
      },
    };
  });
}

/** State key of "rule `ruleId` holds for window `bounds` of `key`"; NUL cannot occur in a rule id. */
function firingKey(ruleId: string, key: string, bounds: WindowBounds): string {
  return `${ruleId}\u0000${bounds.start}\u0000${bounds.end}\u0000${key}`;
}

/** Whether the rule held for a session this result supersedes; those entries are dropped (the session replaced them). */
function inheritsFiring(state: KeyedState<number>, ruleId: string, result: WindowResult<unknown>): boolean {
  if (result.supersedes === undefined) return false;
  let firing = false;
  for (const bounds of result.supersedes) {
    const key = firingKey(ruleId, result.key, bounds);
    if (state.has(key)) {
      firing = true;
      state.delete(key);
    }
  }
  return firing;
}

function holds(value: number, rule: AlertRule): boolean {
  switch (rule.condition) {
    case '>':
      return value > rule.threshold;
    case '>=':
      return value >= rule.threshold;
    case '<':
      return value < rule.threshold;
    case '<=':
      return value <= rule.threshold;
  }
}

function thresholdAlert(rule: AlertRule, result: WindowResult<unknown>, value: number): Alert {
  const description = rule.description === undefined || rule.description === '' ? '' : ` (${rule.description})`;
  return {
    id: `threshold:${rule.id}:${encodeURIComponent(result.key)}:${result.start}-${result.end}`,
    kind: 'threshold',
    ruleId: rule.id,
    key: result.key,
    metric: rule.metric,
    value,
    threshold: rule.threshold,
    zScore: null,
    mean: null,
    stddev: null,
    severity: rule.severity,
    eventTime: result.end,
    message:
      `${rule.metric} ${String(value)} ${rule.condition} ${String(rule.threshold)} for ${result.key} ` +
      `in window [${time(result.start)}, ${time(result.end)}): rule ${rule.id}${description}`,
  };
}

function checkResult(result: WindowResult<Record<string, unknown>>): void {
  if (
    typeof result !== 'object' ||
    result === null ||
    typeof result.key !== 'string' ||
    typeof result.values !== 'object' ||
    result.values === null ||
    !Number.isFinite(result.start) ||
    !Number.isFinite(result.end)
  ) {
    throw new TypeError('thresholdAlerts expects window results { key, start, end, values } (the output of window(...))');
  }
}

/** An ISO timestamp when the time is a valid date, else the number. */
function time(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? String(ms) : date.toISOString();
}

/**
 * Rules read from a provider, validated. Validation results are cached per rule object, so a provider returning the
 * same snapshot costs a pass over its array per batch; invalid and duplicate rules are skipped with one warning each.
 */
function liveRules(provider: AlertRulesProvider, context: StepContext): () => readonly AlertRule[] {
  const verdicts = new WeakMap<object, boolean>();
  const warned = new Set<string>();
  let lastInput: readonly AlertRule[] | undefined;
  let lastOutput: readonly AlertRule[] = [];
  const warn = (id: unknown, problem: string) => {
    const label = typeof id === 'string' ? id : '(no id)';
    if (warned.has(`${label}\u0000${problem}`)) return;
    warned.add(`${label}\u0000${problem}`);
    context.logger.warn({ step: context.stepName, rule: label, problem }, 'alert rule skipped');
  };
  return () => {
    const input = provider.current();
    if (input === lastInput) return lastOutput;
    const valid: AlertRule[] = [];
    const ids = new Set<string>();
    for (const rule of Array.isArray(input) ? (input as readonly unknown[]) : []) {
      if (typeof rule !== 'object' || rule === null) {
        warn(undefined, 'not an object');
        continue;
      }
      let ok = verdicts.get(rule);
      if (ok === undefined) {
        const checked = alertRuleSchema.safeParse(rule);
        ok = checked.success;
        verdicts.set(rule, ok);
        if (!checked.success) {
          warn((rule as { id?: unknown }).id, checked.error.issues.map((issue) => `${issue.path.map(String).join('.')}: ${issue.message}`).join('; '));
        }
      }
      if (!ok) continue;
      const typed = rule as AlertRule;
      if (ids.has(typed.id)) {
        warn(typed.id, 'duplicate rule id (the first one applies)');
        continue;
      }
      ids.add(typed.id);
      valid.push(typed);
    }
    lastInput = input;
    lastOutput = valid;
    return valid;
  };
}

/**
 * Forgets firing entries once their window can no longer be re-emitted (`watermark >= end - 1 + allowedLateness`).
 * Keeps the earliest expiry of each state in memory so that most watermarks cost nothing; a state not seen yet (restored
 * after a restart) is scanned when first met. Firing entries are few (one per breaching rule and open window).
 */
class Expiry {
  readonly #context: StepContext;
  readonly #lateness: number;
  readonly #earliest = new WeakMap<KeyedState<number>, number>();

  constructor(context: StepContext, allowedLateness: number) {
    this.#context = context;
    this.#lateness = allowedLateness;
  }

  added(state: KeyedState<number>, end: number): void {
    const earliest = this.#earliest.get(state);
    if (earliest !== undefined && end < earliest) this.#earliest.set(state, end);
  }

  expire(watermark: number): void {
    for (const partition of this.#context.statePartitions()) {
      const state = this.#context.state<number>(partition);
      const earliest = this.#earliest.get(state);
      if (earliest !== undefined && earliest - 1 + this.#lateness > watermark) continue;
      let next = Infinity;
      const expired: string[] = [];
      for (const [key, end] of state.entries()) {
        if (end - 1 + this.#lateness <= watermark) expired.push(key);
        else if (end < next) next = end;
      }
      for (const key of expired) state.delete(key);
      this.#earliest.set(state, next);
    }
  }
}
