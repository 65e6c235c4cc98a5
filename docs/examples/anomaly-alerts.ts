/**
 * Alerting example (anomalies, thresholdAlerts): alerts published to an `alerts` topic.
 *
 * Payments from Kafka feed two detectors side by side (branch, mode 'all'), and the payments themselves go on to a
 * ledger topic:
 * - `anomalies`: a payment amount far from its merchant's rolling mean (last 500 amounts, |z| >= 4);
 * - `window` -> `thresholdAlerts`: per-merchant minute revenue and counts against rules that can change at run time.
 * Both branches emit `Alert` records, which leave the branch merged; one `kafkaSink` writes them as JSON, keyed by
 * merchant, to `alerts` (what the MCP server's `list_alerts` reads).
 */
import { anomalies, branch, count, createRuntime, defineTopology, sum, thresholdAlerts, toSink, tumbling, window } from '@tributary/core';
import type { AlertRule, AlertRulesProvider, Chunk } from '@tributary/core';
import { kafkaSink, kafkaSource } from '@tributary/connectors/kafka';
import type { Observable } from 'rxjs';

interface Payment {
  readonly id: string;
  readonly merchantId: string;
  readonly amount: number;
  readonly paidAt: number;
}

/** Fixed rules: validated when the topology is built (a bad id or threshold throws InvalidOptionsError). */
export const revenueRules: readonly AlertRule[] = [
  { id: 'no-revenue', metric: 'revenue', condition: '<=', threshold: 0, severity: 'critical', description: 'a merchant stopped selling' },
  { id: 'payment-burst', metric: 'payments', condition: '>', threshold: 1_000, severity: 'warning' },
  { id: 'vip-revenue-drop', metric: 'revenue', condition: '<', threshold: 5_000, key: 'merchant-7', severity: 'warning' },
];

/**
 * Live rules: `current()` is read once per batch, so it returns a snapshot kept up to date elsewhere (for example from
 * the rule store the MCP server's `create_alert_rule` / `delete_alert_rule` write to).
 */
export function liveRules(initial: readonly AlertRule[]): AlertRulesProvider & { replace(rules: readonly AlertRule[]): void } {
  let rules = initial;
  return {
    current: () => rules,
    replace: (next) => void (rules = next),
  };
}

export function paymentAlerts(brokers: string[], rules: readonly AlertRule[] | AlertRulesProvider = revenueRules) {
  // Per payment: one rolling baseline per merchant; spikes do not join the baseline, so a second spike is still seen.
  const amountAnomalies = (payments: Observable<Chunk<Payment>>) =>
    payments.pipe(
      anomalies({
        name: 'amount-anomalies',
        metric: 'amount',
        value: (payment) => payment.amount,
        key: (payment) => payment.merchantId,
        window: 500,
        minSamples: 50,
        zThreshold: 4,
        severity: 'warning',
      }), // Operator<Payment, Alert>
    );

  // Per merchant and minute: revenue and count, then the rules; allowedLateness matches the window's, so revisions
  // of a window (late payments) never repeat an alert for it.
  const revenueThresholds = (payments: Observable<Chunk<Payment>>) =>
    payments.pipe(
      window({
        name: 'merchant-minute',
        key: (payment: Payment) => payment.merchantId,
        window: tumbling(60_000),
        aggregate: { revenue: sum((payment: Payment) => payment.amount), payments: count() },
        allowedLateness: 30_000,
      }),
      thresholdAlerts({ name: 'revenue-rules', rules, allowedLateness: 30_000 }), // Operator<WindowResult<...>, Alert>
    );

  return defineTopology({
    name: 'payment-alerts',
    source: kafkaSource<Payment>({ brokers, topics: ['payments'], groupId: 'payment-alerts', eventTime: (payment) => payment.paidAt }),
    pipeline: (payments) =>
      payments.pipe(
        branch(
          [
            { when: () => true, then: amountAnomalies },
            { when: () => true, then: revenueThresholds },
            { when: () => true, then: (all) => all.pipe(toSink(kafkaSink({ brokers, topic: 'payments.ledger' }))) },
          ],
          { name: 'detectors', mode: 'all' }, // every payment goes to every case
        ), // Chunk<Alert>: what the detector branches emit (the ledger branch ends in its sink)
        toSink(kafkaSink({ brokers, topic: 'alerts' })), // one producer for both kinds: JSON, keyed by merchant
      ),
  });
}

export async function runPaymentAlerts(brokers: string[]): Promise<void> {
  const rules = liveRules(revenueRules);
  const runtime = createRuntime(paymentAlerts(brokers, rules), { checkpointIntervalMs: 10_000 });
  await runtime.start();
  // Later, while it runs: the next batch of window results is judged by the new rules.
  rules.replace([...revenueRules, { id: 'small-merchant-quiet', metric: 'payments', condition: '<', threshold: 1, severity: 'info' }]);
  await runtime.done;
}
