/**
 * docs/guides/concepts.md — watermarks and lateness.
 */
import { count, createRuntime, defineTopology, memorySink, memorySource, sum, toSink, tumbling, window } from '@tributary/core';
import type { LateRecord, WindowResult } from '@tributary/core';
import { TestDriver } from '@tributary/core/testing';

interface Payment {
  readonly merchantId: string;
  readonly amount: number;
  readonly paidAt: number;
}

const perMerchantMinute = () =>
  window({
    name: 'per-merchant-minute',
    key: (payment: Payment) => payment.merchantId,
    window: tumbling(60_000),
    aggregate: { payments: count(), total: sum((payment: Payment) => payment.amount) },
    allowedLateness: 10_000,
  });

type MerchantMinute = WindowResult<{ payments: number; total: number }>;

export function paymentsRuntime(payments: readonly Payment[]) {
  const minutes = memorySink<MerchantMinute>({ name: 'merchant-minutes' });
  const late = memorySink<LateRecord>({ name: 'late-payments' });
  const job = defineTopology({
    name: 'payments-per-minute',
    source: memorySource(payments, { eventTime: (payment) => payment.paidAt, key: (payment) => payment.merchantId, partitions: 4 }),
    pipeline: (stream) => stream.pipe(perMerchantMinute(), toSink(minutes)),
  });
  const runtime = createRuntime(job, {
    watermark: { outOfOrdernessMs: 5_000, idleTimeoutMs: 30_000 },
    late, // records later than allowedLateness end up here, with the watermark they met
  });
  return { runtime, minutes, late };
}

/** The same window under the test driver, which computes watermarks from the records it is sent. */
export async function lateness(): Promise<{ results: MerchantMinute[]; late: readonly LateRecord[] }> {
  const minutes = memorySink<MerchantMinute>({ name: 'merchant-minutes' });
  const driver = new TestDriver<Payment>(
    { name: 'payments-per-minute', pipeline: (stream) => stream.pipe(perMerchantMinute(), toSink(minutes)) },
    { autoWatermarkOutOfOrdernessMs: 5_000 },
  );
  const pay = (amount: number, paidAt: number) => driver.send({ merchantId: 'm-1', amount, paidAt }, { eventTime: paidAt });
  await pay(10, 1_000); // watermark -4 000: window [0, 60 000) opens
  await pay(5, 65_000); // watermark 60 000: window [0, 60 000) fires (60 000 >= end - 1 = 59 999), revision 0
  await pay(2, 30_000); // behind the watermark, but 60 000 < 59 999 + 10 000: accepted, re-emitted as revision 1
  await pay(1, 75_000); // watermark 70 000: window [0, 60 000) is purged (70 000 >= 59 999 + 10 000)
  await pay(4, 20_000); // no window alive for it: a late record
  return { results: minutes.written.map((record) => record.value), late: driver.late };
}
