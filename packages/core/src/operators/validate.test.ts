import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { InvalidOptionsError, StepFailedError, TributaryError } from '../errors.js';
import { dataOf, runOperator, testRecord } from '../internal/run-operator.js';
import type { Chunk } from '../record/chunk.js';
import { validate } from './validate.js';
import { ValidationError } from './validation-error.js';

const Order = z.object({ id: z.string(), amount: z.number(), currency: z.string().default('EUR') });
const deadLettersOf = (chunks: readonly Chunk<unknown>[]) => chunks.flatMap((c) => (c.kind === 'dead-letter' ? c.letters : []));

describe('validate', () => {
  it('passes valid values on as the schema outputs them, keeping the record envelope', async () => {
    const input = { ...testRecord<unknown>({ id: 'o1', amount: 5, extra: 'dropped' }, 3, 300, 'o1'), headers: { h: '1' } };
    const out = dataOf(await runOperator(validate(Order), [{ kind: 'data', records: [input] }]));
    expect(out).toEqual([{ key: 'o1', value: { id: 'o1', amount: 5, currency: 'EUR' }, eventTime: 300, position: { partition: 'p0', offset: 3 }, headers: { h: '1' } }]);
  });

  it('keeps the very record when the schema returns the value itself', async () => {
    const record = testRecord<unknown>('hello', 0);
    const out = dataOf(await runOperator(validate(z.string()), [{ kind: 'data', records: [record] }]));
    expect(out[0]).toBe(record);
  });

  it('sends invalid values to dead letters with a ValidationError listing paths and messages', async () => {
    const records = [
      testRecord<unknown>({ id: 'o1', amount: 5 }, 0),
      testRecord<unknown>({ id: 7, amount: 'five' }, 1),
      testRecord<unknown>({ id: 'o3', amount: 1 }, 2),
    ];
    const chunks = await runOperator(validate(Order, { name: 'order-schema' }), [{ kind: 'data', records }]);
    expect(dataOf(chunks).map((r) => r.position.offset)).toEqual([0, 2]);
    const letters = deadLettersOf(chunks);
    expect(letters).toHaveLength(1);
    const letter = letters[0]!;
    expect(letter.stage).toBe('order-schema');
    expect(letter.record).toBe(records[1]);
    expect(letter.error.name).toBe('ValidationError');
    expect(letter.error.code).toBe('VALIDATION_FAILED');
    expect(letter.error.message).toMatch(/id: .*expected string, received number/);
    expect(letter.error.message).toMatch(/amount: .*expected number, received string/);
  });

  it('describes a failure of the value itself as (value) and nested paths with dots', async () => {
    const Nested = z.object({ customer: z.object({ emails: z.array(z.email()) }) });
    const chunks = await runOperator(validate(Nested), [
      { kind: 'data', records: [testRecord<unknown>(null, 0), testRecord<unknown>({ customer: { emails: ['a@b.co', 'nope'] } }, 1)] },
    ]);
    const messages = deadLettersOf(chunks).map((l) => l.error.message);
    expect(messages[0]).toMatch(/^Value failed validation: \(value\): /);
    expect(messages[1]).toMatch(/customer\.emails\.1: /);
  });

  it('ValidationError is a TributaryError carrying its issues', () => {
    const error = new ValidationError(['amount: Expected number, received string', 'id: Required']);
    expect(error).toBeInstanceOf(TributaryError);
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.name).toBe('ValidationError');
    expect(error.issues).toEqual(['amount: Expected number, received string', 'id: Required']);
    expect(error.message).toContain('amount: Expected number, received string; id: Required');
  });

  it('sends a throwing transform to the error policy instead of erroring the stream', async () => {
    const Exploding = z.string().transform((s) => {
      if (s === 'bad') throw new Error('transform exploded');
      return s.length;
    });
    const chunks = await runOperator(validate(Exploding), [{ kind: 'data', records: [testRecord<unknown>('bad', 0), testRecord<unknown>('ok', 1)] }]);
    expect(dataOf(chunks).map((r) => r.value)).toEqual([2]);
    expect(deadLettersOf(chunks).map((l) => l.error.message)).toEqual(['transform exploded']);
  });

  it('honours onError skip and fail', async () => {
    const records = [testRecord<unknown>({ id: 1 }, 0), testRecord<unknown>({ id: 'o2', amount: 2 }, 1)];
    const skipped = await runOperator(validate(Order, { onError: 'skip' }), [{ kind: 'data', records }]);
    expect(skipped.map((c) => c.kind)).toEqual(['data']);
    const failing = runOperator(validate(Order, { onError: 'fail' }), [{ kind: 'data', records }]);
    await expect(failing).rejects.toBeInstanceOf(StepFailedError);
    await expect(failing).rejects.toMatchObject({ cause: expect.any(ValidationError) });
  });

  it('passes control chunks through in order', async () => {
    const chunks = await runOperator(validate(z.number()), [
      { kind: 'data', records: [testRecord<unknown>(1, 0)] },
      { kind: 'watermark', time: 9 },
      { kind: 'barrier', id: 1, checkpoint: undefined },
    ]);
    expect(chunks.map((c) => c.kind)).toEqual(['data', 'watermark', 'barrier']);
  });

  it('invalid options fail at construction naming the option', () => {
    expect(() => validate(Order, { onError: 'log' as never })).toThrow(/onError/);
    expect(() => validate(Order, { name: '' })).toThrow(/name/);
    expect(() => validate(Order, { strict: true } as never)).toThrow(/strict/);
    expect(() => validate({ parse: () => 1 } as never)).toThrow(InvalidOptionsError);
    expect(() => validate(undefined as never)).toThrow(/schema/);
  });
});
