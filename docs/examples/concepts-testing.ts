/**
 * docs/guides/concepts.md — testing without a broker.
 *
 * Plain async functions with node:assert, so the file needs no test runner to type-check; call them from your tests.
 */
import assert from 'node:assert/strict';
import { enrich, map, memorySink, toSink } from '@tributary/core';
import { dataOf, runOperator, TestDriver, testRecord, VirtualClock } from '@tributary/core/testing';

interface Order {
  readonly id: string;
  readonly customerId: string;
  readonly amount: number;
}

/** One operator, outside any runtime: chunks in, chunks out. */
export async function unitTestAnOperator(): Promise<void> {
  const double = map((order: Order) => ({ ...order, amount: order.amount * 2 }), { name: 'double' });
  const out = await runOperator(double, [
    { kind: 'data', records: [testRecord({ id: 'o-1', customerId: 'c-1', amount: 5 }, 0)] },
    { kind: 'watermark', time: 1_000 },
  ]);
  assert.deepEqual(dataOf(out).map((record) => record.value.amount), [10]);
  assert.deepEqual(out.at(-1), { kind: 'watermark', time: 1_000 }); // control chunks pass through untouched
}

/** A whole pipeline with virtual processing time: the lookup below never answers, so only its timeout ends it. */
export async function driveATopology(): Promise<void> {
  const clock = new VirtualClock(Date.UTC(2026, 0, 1));
  const sink = memorySink<Order & { tier: string }>({ name: 'enriched' });
  const driver = new TestDriver<Order>(
    {
      name: 'orders',
      pipeline: (orders) =>
        orders.pipe(
          enrich({
            name: 'customer-tier',
            key: (order) => order.customerId,
            lookup: () => new Promise<Map<string, string>>(() => undefined), // a service that hangs
            merge: (order, tier) => ({ ...order, tier: tier ?? 'unknown' }),
            timeoutMs: 5_000,
          }),
          toSink(sink),
        ),
    },
    { clock },
  );

  const sent = driver.send({ id: 'o-1', customerId: 'c-1', amount: 5 }, { eventTime: clock.now() });
  await driver.advanceTime(5_000); // fires the lookup's timeout on the virtual clock
  await sent;
  await driver.checkpoint();

  assert.equal(sink.values.length, 0);
  assert.equal(driver.deadLetters[0]?.error.code, 'LOOKUP_TIMEOUT');
  assert.deepEqual(driver.committedPositions, { p0: 1 }); // a dead letter is handled: its position is committed
}
