/**
 * docs/guides/concepts.md — state.
 *
 * A custom stateful step: a running total per customer, kept in the step's per-partition working state, which the
 * runtime persists at every checkpoint and restores after a restart.
 */
import { defineOperator, memorySink, toSink } from '@tributary/core';
import type { Operator, StreamRecord } from '@tributary/core';
import { TestDriver } from '@tributary/core/testing';

interface Purchase {
  readonly customerId: string;
  readonly amount: number;
}

interface Running {
  readonly customerId: string;
  readonly total: number;
}

/** Emits every purchase with the customer's running total so far. */
export function runningTotal(name = 'running-total'): Operator<Purchase, Running> {
  return defineOperator<Purchase, Running>('running-total', name, (context) => ({
    data(records, emit) {
      const out: StreamRecord<Running>[] = [];
      for (const record of records) {
        // One working state per source partition: it moves with the partition on a rebalance.
        const totals = context.state<number>(record.position.partition);
        const total = (totals.get(record.value.customerId) ?? 0) + record.value.amount;
        totals.set(record.value.customerId, total); // JSON values only
        out.push({ ...record, value: { customerId: record.value.customerId, total } });
      }
      emit.data(out);
    },
  }));
}

export async function totalsSurviveACrash(): Promise<number[]> {
  const sink = memorySink<Running>({ name: 'totals' });
  const driver = new TestDriver<Purchase>({ name: 'totals', pipeline: (purchases) => purchases.pipe(runningTotal(), toSink(sink)) });
  await driver.send({ customerId: 'c-1', amount: 10 }, { eventTime: 1_000 });
  await driver.checkpoint(); // state "c-1 = 10" is persisted with position p0 = 1
  await driver.send({ customerId: 'c-1', amount: 5 }, { eventTime: 2_000 });
  await driver.crash(); // the second purchase was neither committed nor checkpointed
  await driver.restart(); // state restored to "c-1 = 10"; the second purchase is replayed
  await driver.checkpoint();
  return sink.values.map((running) => running.total); // [10, 15]
}
