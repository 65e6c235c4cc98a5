/**
 * docs/reference/operators.md — defineOperator, for custom operators.
 */
import { defineOperator, handleRecordError } from '@tributary/core';
import type { DeadLetter, ErrorPolicy, Operator, StreamRecord } from '@tributary/core';

/** Stateless: stamps a header on every record. */
export function stamp<V>(header: string, value: string, name?: string): Operator<V, V> {
  return defineOperator<V, V>('stamp', name, () => ({
    data(records, emit) {
      emit.data(records.map((record) => ({ ...record, headers: { ...record.headers, [header]: value } })));
    },
  }));
}

/**
 * Asynchronous, with an error policy: converts amounts with rates fetched once per batch. Returning a promise from
 * `data` holds every later chunk — barriers included — until it settles, so order and progress stay intact.
 */
export function toEuro<V extends { amount: number; currency: string }>(
  rates: (currencies: readonly string[]) => Promise<ReadonlyMap<string, number>>,
  options: { name?: string; onError?: ErrorPolicy } = {},
): Operator<V, V & { amountEur: number }> {
  const policy = options.onError ?? 'dlq';
  return defineOperator<V, V & { amountEur: number }>('to-euro', options.name, (context) => ({
    async data(records, emit) {
      const known = await rates([...new Set(records.map((record) => record.value.currency))]);
      const out: StreamRecord<V & { amountEur: number }>[] = [];
      const letters: DeadLetter[] = [];
      for (const record of records) {
        const rate = known.get(record.value.currency);
        if (rate === undefined) {
          const letter = handleRecordError(policy, context, record, new Error(`no rate for ${record.value.currency}`));
          if (letter) letters.push(letter);
          continue;
        }
        out.push({ ...record, value: { ...record.value, amountEur: record.value.amount * rate } });
      }
      emit.data(out);
      emit.deadLetters(letters);
    },
  }));
}

/**
 * Event-time aware and stateful: holds the newest value per key and emits what it holds each time the watermark
 * advances. State is per source partition and JSON, so checkpoints persist it and restarts restore it.
 */
export function latestPerKeyOnWatermark<V>(name = 'latest-per-key'): Operator<V, V> {
  return defineOperator<V, V>('latest-per-key', name, (context) => ({
    data(records) {
      for (const record of records) {
        context.state<StreamRecord<V>>(record.position.partition).set(record.key ?? '', record);
      }
    },
    watermark(_time, emit) {
      for (const partition of context.statePartitions()) {
        const latest = context.state<StreamRecord<V>>(partition);
        emit.data([...latest.entries()].map(([, record]) => record));
        for (const [key] of [...latest.entries()]) latest.delete(key);
      }
    },
  }));
}
