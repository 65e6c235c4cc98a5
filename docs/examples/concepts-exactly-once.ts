/**
 * docs/guides/concepts.md — progress and commits.
 *
 * A sink that stores its rows and the source positions they cover in one atomic step (the role an Iceberg snapshot
 * summary or a Redis MULTI/EXEC plays) offers `committedPositions`, which makes the topology exactly-once.
 */
import { defineTopology, map, memorySource, toSink } from '@tributary/core';
import type { Checkpoint, CommittedPositions, Sink, StreamRecord } from '@tributary/core';

/** Durable storage of the toy sink: rows by key, and the positions stored with the last commit. */
export interface KeyValueTable<V> {
  readonly rows: Map<string, V>;
  positions: CommittedPositions | undefined;
}

export function keyValueTable<V>(): KeyValueTable<V> {
  return { rows: new Map(), positions: undefined };
}

/** An upsert sink: last value per key wins, so a replayed record rewrites the same row. */
export function upsertSink<V>(table: KeyValueTable<V>, name = 'upsert'): Sink<V> {
  let staged: StreamRecord<V>[] = [];
  return {
    name,
    write(records) {
      staged.push(...records); // buffered; the runtime counts the batch as handled when this returns
    },
    commit(checkpoint: Checkpoint) {
      // One atomic step: the rows and the positions they cover become durable together.
      for (const record of staged) table.rows.set(record.key ?? '', record.value);
      table.positions = { checkpointId: checkpoint.id, positions: { ...table.positions?.positions, ...checkpoint.positions } };
      staged = [];
    },
    // Present only on exactly-once sinks: where this sink stands.
    committedPositions: () => Promise.resolve(table.positions),
    abort() {
      staged = []; // a crash loses what was not committed
    },
  };
}

export function balancesJob(table: KeyValueTable<number>, rows: readonly { account: string; balance: number }[]) {
  return defineTopology({
    name: 'balances',
    source: memorySource(rows, { key: (row) => row.account }),
    pipeline: (changes) => changes.pipe(map((row) => row.balance, { name: 'balance' }), toSink(upsertSink(table, 'balances-table'))),
  });
}
