import { describe, expect, it } from 'vitest';
import { InvalidOptionsError } from '../errors.js';
import { runOperator, testRecord } from '../internal/run-operator.js';
import type { Chunk } from '../record/chunk.js';
import type { StreamRecord } from '../record/stream-record.js';
import type { Sink } from '../sinks/sink.js';
import { toSink } from './to-sink.js';

const deadLettersOf = (chunks: readonly Chunk<unknown>[]) => chunks.flatMap((c) => (c.kind === 'dead-letter' ? c.letters : []));

describe('toSink', () => {
  it('hands each batch to the sink and turns the records it rejects into dead letters with their position', async () => {
    const accepted: number[] = [];
    const sink: Sink<number> = {
      name: 'even-only',
      write(records: readonly StreamRecord<number>[]) {
        accepted.push(...records.filter((r) => r.value % 2 === 0).map((r) => r.value));
        return { rejected: records.filter((r) => r.value % 2 !== 0).map((record) => ({ record, error: new Error(`odd ${record.value}`) })) };
      },
      commit() {},
    };
    const records = [0, 1, 2, 3].map((value, offset) => testRecord(value, offset));
    const out = await runOperator(toSink(sink), [{ kind: 'data', records }]);
    expect(accepted).toEqual([0, 2]);
    const letters = deadLettersOf(out);
    expect(letters.map((l) => l.record.position.offset)).toEqual([1, 3]);
    expect(letters.map((l) => (l.error as { message: string }).message)).toEqual(['odd 1', 'odd 3']);
  });

  it('rejects something that is not a sink at construction', () => {
    expect(() => toSink({} as Sink<number>)).toThrow(InvalidOptionsError);
  });
});
