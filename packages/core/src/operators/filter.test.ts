import { describe, expect, it } from 'vitest';
import { InvalidOptionsError, StepFailedError } from '../errors.js';
import { dataOf, runOperator, testRecord } from '../internal/run-operator.js';
import type { Chunk } from '../record/chunk.js';
import { filter } from './filter.js';

const deadLettersOf = (chunks: readonly Chunk<unknown>[]) => chunks.flatMap((c) => (c.kind === 'dead-letter' ? c.letters : []));

describe('filter', () => {
  it('keeps the matching records unchanged and in order', async () => {
    const input = [testRecord(1, 0, 10, 'a'), testRecord(2, 1, 20, 'b'), testRecord(3, 2, 30, 'c'), testRecord(4, 3, 40, 'd')];
    const out = dataOf(await runOperator(filter((v: number) => v % 2 === 0), [{ kind: 'data', records: input }]));
    expect(out).toEqual([input[1], input[3]]);
    expect(out[0]).toBe(input[1]);
  });

  it('passes the record to the predicate', async () => {
    const input = [testRecord('x', 0, 0, 'keep'), testRecord('y', 1, 0, 'drop')];
    const out = dataOf(await runOperator(filter((_v: string, record) => record.key === 'keep'), [{ kind: 'data', records: input }]));
    expect(out.map((r) => r.value)).toEqual(['x']);
  });

  it('emits nothing for a batch where everything is dropped, and the same batch when nothing is', async () => {
    const records = [testRecord(1, 0), testRecord(2, 1)];
    const none = await runOperator(filter(() => false), [{ kind: 'data', records }]);
    expect(none).toEqual([]);
    const all = await runOperator(filter(() => true), [{ kind: 'data', records }]);
    expect(all).toHaveLength(1);
    expect(all[0]!.kind === 'data' && all[0]!.records).toBe(records);
  });

  it('narrows with a type guard', async () => {
    const values: (string | number)[] = ['a', 1, 'b', 2];
    const out = dataOf(
      await runOperator(
        filter((v: string | number): v is string => typeof v === 'string'),
        [{ kind: 'data', records: values.map((v, i) => testRecord(v, i)) }],
      ),
    );
    expect(out.map((r) => r.value.toUpperCase())).toEqual(['A', 'B']);
  });

  it('sends a throwing predicate to dead letters (default), keeps going, and honours skip / fail', async () => {
    const picky = (v: number) => {
      if (v === 2) throw new Error('cannot judge 2');
      return v > 0;
    };
    const records = [testRecord(1, 0), testRecord(2, 1), testRecord(3, 2)];
    const chunks = await runOperator(filter(picky, { name: 'positive' }), [{ kind: 'data', records }]);
    expect(dataOf(chunks).map((r) => r.value)).toEqual([1, 3]);
    expect(deadLettersOf(chunks)).toEqual([
      expect.objectContaining({ stage: 'positive', error: expect.objectContaining({ message: 'cannot judge 2' }), record: records[1] }),
    ]);
    const skipped = await runOperator(filter(picky, { onError: 'skip' }), [{ kind: 'data', records }]);
    expect(dataOf(skipped).map((r) => r.value)).toEqual([1, 3]);
    expect(deadLettersOf(skipped)).toEqual([]);
    await expect(runOperator(filter(picky, { onError: 'fail' }), [{ kind: 'data', records }])).rejects.toBeInstanceOf(StepFailedError);
  });

  it('passes control chunks through in order', async () => {
    const chunks = await runOperator(filter((v: number) => v > 1), [
      { kind: 'data', records: [testRecord(1, 0)] },
      { kind: 'watermark', time: 5 },
      { kind: 'data', records: [testRecord(2, 1)] },
      { kind: 'barrier', id: 1, checkpoint: undefined },
    ]);
    expect(chunks.map((c) => c.kind)).toEqual(['watermark', 'data', 'barrier']);
  });

  it('invalid options fail at construction naming the option', () => {
    expect(() => filter((v: number) => v > 0, { onError: 'ignore' as never })).toThrow(/onError/);
    expect(() => filter((v: number) => v > 0, { name: '' })).toThrow(/name/);
    expect(() => filter((v: number) => v > 0, { nmae: 'x' } as never)).toThrow(/nmae/);
    expect(() => filter('v > 0' as never)).toThrow(InvalidOptionsError);
    expect(() => filter('v > 0' as never)).toThrow(/predicate/);
  });
});
