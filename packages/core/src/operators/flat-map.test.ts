import { describe, expect, it } from 'vitest';
import { InvalidOptionsError, StepFailedError } from '../errors.js';
import { dataOf, runOperator, testRecord } from '../internal/run-operator.js';
import type { StreamRecord } from '../record/stream-record.js';
import { flatMap } from './flat-map.js';

describe('flatMap', () => {
  it('emits every output with the key, event time, position and headers of its input, in order', async () => {
    const first: StreamRecord<string> = { ...testRecord('a,b', 7, 700, 'k1'), headers: { trace: 't1' } };
    const second = testRecord('', 8, 800, 'k2');
    const third = testRecord('c', 9, 900, 'k3');
    const out = dataOf(await runOperator(flatMap((v: string) => (v === '' ? [] : v.split(','))), [{ kind: 'data', records: [first, second, third] }]));
    expect(out).toEqual([
      { key: 'k1', value: 'a', eventTime: 700, position: { partition: 'p0', offset: 7 }, headers: { trace: 't1' } },
      { key: 'k1', value: 'b', eventTime: 700, position: { partition: 'p0', offset: 7 }, headers: { trace: 't1' } },
      { key: 'k3', value: 'c', eventTime: 900, position: { partition: 'p0', offset: 9 }, headers: {} },
    ]);
  });

  it('accepts any iterable, such as a generator or a Set', async () => {
    function* repeat(value: number) {
      for (let i = 0; i < value; i++) yield value;
    }
    const fromGenerator = dataOf(await runOperator(flatMap(repeat), [{ kind: 'data', records: [testRecord(2, 0), testRecord(1, 1)] }]));
    expect(fromGenerator.map((r) => [r.value, r.position.offset])).toEqual([
      [2, 0],
      [2, 0],
      [1, 1],
    ]);
    const fromSet = dataOf(await runOperator(flatMap((v: string) => new Set(v)), [{ kind: 'data', records: [testRecord('aab', 0)] }]));
    expect(fromSet.map((r) => r.value)).toEqual(['a', 'b']);
  });

  it('sends a record whose project or iterable throws to dead letters, dropping its partial outputs', async () => {
    function* explodeAfterOne(value: number) {
      yield value;
      if (value === 2) throw new Error('broken generator');
      yield value * 10;
    }
    const chunks = await runOperator(flatMap(explodeAfterOne, { name: 'explode' }), [
      { kind: 'data', records: [testRecord(1, 0), testRecord(2, 1), testRecord(3, 2)] },
    ]);
    expect(dataOf(chunks).map((r) => r.value)).toEqual([1, 10, 3, 30]);
    const letters = chunks.flatMap((c) => (c.kind === 'dead-letter' ? c.letters : []));
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ stage: 'explode', error: { message: 'broken generator' }, record: { value: 2, position: { offset: 1 } } });

    const notIterable = await runOperator(flatMap(() => undefined as unknown as number[]), [{ kind: 'data', records: [testRecord(1, 0)] }]);
    expect(notIterable.map((c) => c.kind)).toEqual(['dead-letter']);
  });

  it('honours onError skip and fail', async () => {
    const boom = (v: number) => {
      if (v === 1) throw new Error('boom');
      return [v];
    };
    const skipped = await runOperator(flatMap(boom, { onError: 'skip' }), [{ kind: 'data', records: [testRecord(1, 0), testRecord(2, 1)] }]);
    expect(skipped.map((c) => c.kind)).toEqual(['data']);
    expect(dataOf(skipped).map((r) => r.value)).toEqual([2]);
    await expect(runOperator(flatMap(boom, { onError: 'fail' }), [{ kind: 'data', records: [testRecord(1, 0)] }])).rejects.toBeInstanceOf(
      StepFailedError,
    );
  });

  it('passes control chunks through in order', async () => {
    const chunks = await runOperator(flatMap((v: number) => [v, v]), [
      { kind: 'watermark', time: 1 },
      { kind: 'data', records: [testRecord(1, 0)] },
      { kind: 'barrier', id: 3, checkpoint: undefined },
    ]);
    expect(chunks.map((c) => c.kind)).toEqual(['watermark', 'data', 'barrier']);
  });

  it('invalid options fail at construction naming the option', () => {
    expect(() => flatMap((v: number) => [v], { onError: 'retry' as never })).toThrow(/onError/);
    expect(() => flatMap((v: number) => [v], { name: '' })).toThrow(/name/);
    expect(() => flatMap((v: number) => [v], { extra: true } as never)).toThrow(/extra/);
    expect(() => flatMap(null as never)).toThrow(InvalidOptionsError);
    expect(() => flatMap(null as never)).toThrow(/project/);
  });
});
