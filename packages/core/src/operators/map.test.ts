import { describe, expect, it } from 'vitest';
import { InvalidOptionsError, StepFailedError } from '../errors.js';
import { dataOf, runOperator, testRecord } from '../internal/run-operator.js';
import { map } from './map.js';

describe('map', () => {
  it('transforms values and keeps key, time, position and headers', async () => {
    const input = [testRecord({ n: 1 }, 0, 500, 'a'), testRecord({ n: 2 }, 1, 900, 'b')];
    const out = dataOf(await runOperator(map((v: { n: number }) => v.n * 10), [{ kind: 'data', records: input }]));
    expect(out.map((r) => r.value)).toEqual([10, 20]);
    expect(out.map((r) => [r.key, r.eventTime, r.position.offset])).toEqual([
      ['a', 500, 0],
      ['b', 900, 1],
    ]);
  });

  it('sends a throwing record to dead letters with stage and position, and keeps going', async () => {
    const op = map(
      (v: number) => {
        if (v === 2) throw new Error('two is bad');
        return v;
      },
      { name: 'picky' },
    );
    const chunks = await runOperator(op, [{ kind: 'data', records: [testRecord(1, 0), testRecord(2, 1), testRecord(3, 2)] }]);
    expect(dataOf(chunks).map((r) => r.value)).toEqual([1, 3]);
    const letters = chunks.flatMap((c) => (c.kind === 'dead-letter' ? c.letters : []));
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ stage: 'picky', error: { message: 'two is bad' }, record: { position: { offset: 1 } } });
  });

  it('skips or fails according to onError', async () => {
    const boom = (v: number) => {
      if (v === 1) throw new Error('boom');
      return v;
    };
    const skipped = await runOperator(map(boom, { onError: 'skip' }), [{ kind: 'data', records: [testRecord(1, 0), testRecord(2, 1)] }]);
    expect(dataOf(skipped).map((r) => r.value)).toEqual([2]);
    expect(skipped.some((c) => c.kind === 'dead-letter')).toBe(false);
    await expect(runOperator(map(boom, { onError: 'fail' }), [{ kind: 'data', records: [testRecord(1, 0)] }])).rejects.toBeInstanceOf(
      StepFailedError,
    );
  });

  it('passes control chunks through in order', async () => {
    const chunks = await runOperator(map((v: number) => v + 1), [
      { kind: 'data', records: [testRecord(1, 0)] },
      { kind: 'watermark', time: 5 },
      { kind: 'barrier', id: 1, checkpoint: undefined },
    ]);
    expect(chunks.map((c) => c.kind)).toEqual(['data', 'watermark', 'barrier']);
  });

  it('rejects invalid options at construction, naming the field', () => {
    expect(() => map((v: number) => v, { onError: 'explode' as never })).toThrow(/onError/);
    expect(() => map((v: number) => v, { name: '' })).toThrow(InvalidOptionsError);
    expect(() => map(42 as never)).toThrow(/project/);
  });
});
