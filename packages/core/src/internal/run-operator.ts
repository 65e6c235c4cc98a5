import { from, lastValueFrom, toArray } from 'rxjs';
import type { Chunk } from '../record/chunk.js';
import type { StreamRecord } from '../record/stream-record.js';
import type { Operator } from '../operators/define-operator.js';

/** Test helper: pushes `chunks` through `operator` outside a runtime and collects everything it emits. */
export async function runOperator<In, Out>(operator: Operator<In, Out>, chunks: readonly Chunk<In>[]): Promise<Chunk<Out>[]> {
  return lastValueFrom(from(chunks).pipe(operator, toArray()));
}

/** Test helper: the records of every data chunk, in order. */
export function dataOf<V>(chunks: readonly Chunk<V>[]): StreamRecord<V>[] {
  return chunks.flatMap((chunk) => (chunk.kind === 'data' ? [...chunk.records] : []));
}

/** Test helper: a record at `offset` of partition `p0` with the given value and event time. */
export function testRecord<V>(value: V, offset: number, eventTime = offset * 1000, key: string | null = null, partition = 'p0'): StreamRecord<V> {
  return { key, value, eventTime, position: { partition, offset }, headers: {} };
}
