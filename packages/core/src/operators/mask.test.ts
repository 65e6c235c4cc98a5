import { createHmac } from 'node:crypto';
import { from, lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { InvalidOptionsError } from '../errors.js';
import { dataOf, runOperator, testRecord } from '../internal/run-operator.js';
import type { Chunk } from '../record/chunk.js';
import type { DeadLetter } from '../record/dead-letter.js';
import { mask, REDACTED } from './mask.js';
import { validate } from './validate.js';

const hmacHex = (salt: string, text: string) => createHmac('sha256', salt).update(text, 'utf8').digest('hex');

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

interface Customer {
  email?: string | null;
  name?: string;
  card?: string | number;
  customer?: { phone?: string; address: { city: string } };
  tags?: string[];
}

const fields = {
  email: 'redact',
  'customer.phone': { hash: 'sha256', salt: 'pepper' },
  card: { keepLast: 4 },
  name: { replaceWith: '***' },
} as const;

describe('mask', () => {
  it('redacts, hashes, keeps the last characters and replaces, at nested paths', async () => {
    const value: Customer = {
      email: 'alice@example.com',
      name: 'Alice',
      card: '4111111111111111',
      customer: { phone: '+33 6 12 34 56 78', address: { city: 'Lyon' } },
    };
    const [out] = dataOf(await runOperator(mask<Customer>({ fields }), [{ kind: 'data', records: [testRecord(value, 0, 10, 'c1')] }]));
    expect(out!.value).toEqual({
      email: REDACTED,
      name: '***',
      card: '************1111',
      customer: { phone: hmacHex('pepper', '+33 6 12 34 56 78'), address: { city: 'Lyon' } },
    });
    expect(out!.value.customer!.phone).toBe(createHmac('sha256', 'pepper').update('+33 6 12 34 56 78').digest('hex'));
    expect(out!.value.customer!.phone).toMatch(/^[0-9a-f]{64}$/);
    expect(REDACTED).toBe('[REDACTED]');
    expect([out!.key, out!.eventTime, out!.position]).toEqual(['c1', 10, { partition: 'p0', offset: 0 }]);
  });

  it('hashes deterministically, so equal values still join', async () => {
    const records = [testRecord({ customer: { phone: '555', address: { city: 'a' } } }, 0), testRecord({ customer: { phone: '555', address: { city: 'b' } } }, 1)];
    const out = dataOf(await runOperator(mask<Customer>({ fields }), [{ kind: 'data', records }]));
    expect(out[0]!.value.customer!.phone).toBe(out[1]!.value.customer!.phone);
    expect(out[0]!.value.customer!.phone).toBe(hmacHex('pepper', '555'));
  });

  it('never mutates the input, copies only the masked path and shares the rest', async () => {
    const value = deepFreeze({ email: 'a@b.c', customer: { phone: '1', address: { city: 'Lyon' } }, tags: ['x'] });
    const input = deepFreeze(testRecord<Customer>(value, 0));
    const [out] = dataOf(await runOperator(mask<Customer>({ fields }), [{ kind: 'data', records: [input] }]));
    expect(value).toEqual({ email: 'a@b.c', customer: { phone: '1', address: { city: 'Lyon' } }, tags: ['x'] });
    expect(out!.value).not.toBe(value);
    expect(out!.value.customer).not.toBe(value.customer);
    expect(out!.value.customer!.address).toBe(value.customer.address);
    expect(out!.value.tags).toBe(value.tags);
  });

  it('leaves missing, null and undefined fields alone without creating them', async () => {
    const records = [
      testRecord<Customer>({ name: 'Bob' }, 0),
      testRecord<Customer>({ email: null, customer: { address: { city: 'Nice' } } }, 1),
      testRecord<Customer>({ email: undefined }, 2),
    ];
    const out = dataOf(await runOperator(mask<Customer>({ fields }), [{ kind: 'data', records }]));
    expect(out[0]!.value).toEqual({ name: '***' });
    expect(Object.keys(out[0]!.value)).toEqual(['name']);
    expect(out[1]).toBe(records[1]);
    expect(out[2]).toBe(records[2]);
    expect('email' in out[2]!.value).toBe(true);
  });

  it('does not walk into primitives or inherited properties', async () => {
    const records = [testRecord<unknown>('just a string', 0), testRecord<unknown>({ customer: 'flat' }, 1), testRecord<unknown>(Object.create({ email: 'inherited' }), 2)];
    const out = dataOf(await runOperator(mask({ fields }), [{ kind: 'data', records }]));
    expect(out).toEqual(records);
    expect(out[2]).toBe(records[2]);
  });

  it('uses the string form of non-strings and counts characters by code point', async () => {
    const out = dataOf(
      await runOperator(mask<Record<string, unknown>>({ fields: { n: { hash: 'sha256', salt: 's' }, o: { hash: 'sha256', salt: 's' }, card: { keepLast: 2 }, emoji: { keepLast: 1 }, short: { keepLast: 4 } } }), [
        { kind: 'data', records: [testRecord({ n: 42, o: { a: [1, true] }, card: 12345, emoji: 'a😀b😀', short: '123' }, 0)] },
      ]),
    );
    expect(out[0]!.value).toEqual({
      n: hmacHex('s', '42'),
      o: hmacHex('s', '{"a":[1,true]}'),
      card: '***45',
      emoji: '***😀',
      short: '123',
    });
  });

  it('reaches into arrays by index and keeps arrays arrays', async () => {
    const value = { lines: [{ card: '1234567' }, { card: '7654321' }] };
    const [out] = dataOf(await runOperator(mask<typeof value>({ fields: { 'lines.1.card': { keepLast: 3 } } }), [{ kind: 'data', records: [testRecord(value, 0)] }]));
    expect(Array.isArray(out!.value.lines)).toBe(true);
    expect(out!.value).toEqual({ lines: [{ card: '1234567' }, { card: '****321' }] });
    expect(out!.value.lines[0]).toBe(value.lines[0]);
  });

  it('masks several fields under one parent with one copy, and supports different salts', async () => {
    const value = { user: { email: 'e', phone: 'p', id: 1 } };
    const [out] = dataOf(
      await runOperator(mask<typeof value>({ fields: { 'user.email': { hash: 'sha256', salt: 'one' }, 'user.phone': { hash: 'sha256', salt: 'two' } } }), [
        { kind: 'data', records: [testRecord(value, 0)] },
      ]),
    );
    expect(out!.value).toEqual({ user: { email: hmacHex('one', 'e'), phone: hmacHex('two', 'p'), id: 1 } });
  });

  it('masks the records of dead letters from an upstream validate step', async () => {
    const Strict = z.object({ email: z.string(), card: z.string(), amount: z.number() });
    const bad = testRecord<unknown>({ email: 'carol@example.com', card: '4000123412341234', amount: 'lots' }, 5);
    const good = testRecord<unknown>({ email: 'dan@example.com', card: '4000000000000002', amount: 3 }, 6);
    const chunks = await lastValueFrom(
      from<Chunk<unknown>[]>([{ kind: 'data', records: [bad, good] }]).pipe(
        validate(Strict, { name: 'schema' }),
        mask({ name: 'pii', fields: { email: 'redact', card: { keepLast: 4 } } }),
        toArray(),
      ),
    );
    const letters = chunks.flatMap((c) => (c.kind === 'dead-letter' ? c.letters : []));
    expect(letters).toHaveLength(1);
    expect(letters[0]!.stage).toBe('schema');
    expect(letters[0]!.record.value).toEqual({ email: REDACTED, card: '************1234', amount: 'lots' });
    expect(letters[0]!.record.position).toEqual({ partition: 'p0', offset: 5 });
    expect(JSON.stringify(chunks)).not.toContain('example.com');
    expect(dataOf(chunks)[0]!.value).toEqual({ email: REDACTED, card: '************0002', amount: 3 });
  });

  it('masks late records and leaves untouched side chunks as they are', async () => {
    const clean: DeadLetter = { stage: 's', error: { name: 'Error', code: 'UNKNOWN', message: 'm' }, record: testRecord({ other: 1 }, 0), failedAt: 0 };
    const chunks = await runOperator(mask({ fields }), [
      { kind: 'late', records: [{ stage: 'window', record: testRecord({ email: 'late@example.com' }, 1), watermark: 100 }] },
      { kind: 'dead-letter', letters: [clean] },
      { kind: 'barrier', id: 1, checkpoint: undefined },
    ]);
    expect(chunks.map((c) => c.kind)).toEqual(['late', 'dead-letter', 'barrier']);
    const late = chunks[0]!.kind === 'late' ? chunks[0]!.records[0]! : undefined;
    expect(late).toMatchObject({ stage: 'window', watermark: 100, record: { value: { email: REDACTED }, position: { offset: 1 } } });
    expect(chunks[1]!.kind === 'dead-letter' && chunks[1]!.letters[0]).toBe(clean);
  });

  it('invalid options fail at construction naming the option', () => {
    expect(() => mask({} as never)).toThrow(/fields/);
    expect(() => mask({ fields: {} })).toThrow(/fields: must name at least one field/);
    expect(() => mask({ fields: { email: 'hide' as never } })).toThrow(/fields\.email: must be 'redact'/);
    expect(() => mask({ fields: { email: { hash: 'md5', salt: 'x' } as never } })).toThrow(/fields\.email/);
    expect(() => mask({ fields: { email: { hash: 'sha256', salt: '' } } })).toThrow(/fields\.email/);
    expect(() => mask({ fields: { card: { keepLast: -1 } } })).toThrow(/fields\.card/);
    expect(() => mask({ fields: { 'a..b': 'redact' } })).toThrow(/fields\.a\.\.b: must be dot-separated/);
    expect(() => mask({ fields: { customer: 'redact', 'customer.phone': 'redact' } })).toThrow(/fields\.customer: masks the whole field/);
    expect(() => mask({ fields, name: '' })).toThrow(/name/);
    expect(() => mask({ fields, salt: 'x' } as never)).toThrow(/salt/);
    expect(() => mask({ fields: { email: 'hide' as never } })).toThrow(InvalidOptionsError);
  });
});
