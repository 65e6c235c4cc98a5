import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { InvalidOptionsError, StepFailedError } from '@tributary/core';
import type { Chunk, StreamRecord } from '@tributary/core';
import { dataOf, runOperator } from '@tributary/core/testing';
import { envelopeSchema, jsonText, keyText, pgMessage, pgSource, toastColumns, toastKeyColumns, toastUpdateAfter, typesAfter } from '../../test/fixtures/debezium.js';
import { decodeDebezium } from './decode-debezium.js';

const deadLettersOf = (chunks: readonly Chunk<unknown>[]) => chunks.flatMap((chunk) => (chunk.kind === 'dead-letter' ? chunk.letters : []));

function record(value: unknown, offset: number, key: string | null = null): StreamRecord<unknown> {
  return { key, value, eventTime: 1_000 + offset, position: { partition: 'shop.public.types:0', offset }, headers: { h: String(offset) } };
}

const insert = pgMessage({ op: 'c', after: { ...typesAfter, bi: 5 } });
const truncate = pgMessage({ op: 't' });
const heartbeat = { ts_ms: 99 };

describe('decodeDebezium', () => {
  it('decodes records in order, keeping position and headers, keyed by the canonical JSON of the Debezium key', async () => {
    const chunks = await runOperator(decodeDebezium(), [
      { kind: 'data', records: [record(insert.value, 0, insert.key), record(null, 1, '{"b":"x","a":1}'), record(truncate.value, 2)] },
      { kind: 'watermark', time: 500 },
    ]);
    const out = dataOf(chunks);
    expect(out.map((r) => r.value.kind)).toEqual(['change', 'tombstone', 'truncate']);
    expect(out.map((r) => r.key)).toEqual(['{"a":1,"b":"x"}', '{"a":1,"b":"x"}', null]);
    expect(out.map((r) => r.position.offset)).toEqual([0, 1, 2]);
    expect(out[0]!.headers).toEqual({ h: '0' });
    expect(out[0]!.eventTime).toBe(1_000);
    expect(chunks.at(-1)).toEqual({ kind: 'watermark', time: 500 });
  });

  it('sends malformed records to dead letters with their code, stage and position, and goes on', async () => {
    const records = [
      record('{"op":', 0),
      record({ hello: 'world' }, 1),
      record({ op: 'z', source: pgSource('t') }, 2),
      record(insert.value, 3, insert.key),
      record(jsonText({ schema: envelopeSchema('s', 't', [{ type: 'int32', optional: true, field: 'n', name: 'io.debezium.time.Date' }]), payload: { op: 'c', before: null, after: { n: 'x' }, source: pgSource('t') } }), 4),
      record({ op: 'c', before: null, after: { id: 'x' }, source: pgSource('t') }, 5),
    ];
    const chunks = await runOperator(decodeDebezium({ name: 'decode-orders', row: z.object({ id: z.number() }).loose() }), [{ kind: 'data', records }]);
    // Offset 3 fails the row schema too (it has no id): it is a different table.
    expect(dataOf(chunks)).toEqual([]);
    const letters = deadLettersOf(chunks);
    expect(letters.map((letter) => [letter.record.position.offset, letter.error.code])).toEqual([
      [0, 'DEBEZIUM_NOT_JSON'],
      [1, 'DEBEZIUM_NO_PAYLOAD'],
      [2, 'DEBEZIUM_UNKNOWN_OP'],
      [3, 'DEBEZIUM_ROW_INVALID'],
      [4, 'DEBEZIUM_SCHEMA_MISMATCH'],
      [5, 'DEBEZIUM_ROW_INVALID'],
    ]);
    expect(letters.every((letter) => letter.stage === 'decode-orders' && letter.error.name === 'DebeziumDecodeError')).toBe(true);
    expect(letters[0]!.record).toBe(records[0]);
    expect(letters[2]!.error.message).toContain('at shop.public.types:0@2');
  });

  it('honours onError skip and fail', async () => {
    const records = [record('nope', 0), record(insert.value, 1, insert.key)];
    const skipped = await runOperator(decodeDebezium({ onError: 'skip' }), [{ kind: 'data', records }]);
    expect(deadLettersOf(skipped)).toEqual([]);
    expect(dataOf(skipped).map((r) => r.position.offset)).toEqual([1]);
    const failing = runOperator(decodeDebezium({ onError: 'fail' }), [{ kind: 'data', records }]);
    await expect(failing).rejects.toBeInstanceOf(StepFailedError);
    await expect(failing).rejects.toMatchObject({ cause: { code: 'DEBEZIUM_NOT_JSON' } });
  });

  it('passes on only the kinds asked for', async () => {
    const records = [record(insert.value, 0, insert.key), record(null, 1), record(heartbeat, 2), record(truncate.value, 3)];
    const chunks = await runOperator(decodeDebezium({ kinds: ['change', 'truncate'] }), [{ kind: 'data', records }]);
    expect(dataOf(chunks).map((r) => r.value.kind)).toEqual(['change', 'truncate']);
    const beats = await runOperator(decodeDebezium({ kinds: ['heartbeat'] }), [{ kind: 'data', records }]);
    expect(dataOf(beats).map((r) => r.value)).toEqual([{ kind: 'heartbeat', key: null, tsMs: 99 }]);
  });

  it('takes event time from the record, the source block or the envelope', async () => {
    const records = [record(insert.value, 0, insert.key), record(null, 1), record(heartbeat, 2)];
    const times = async (eventTime: 'record' | 'source' | 'envelope') =>
      dataOf(await runOperator(decodeDebezium({ eventTime }), [{ kind: 'data', records }])).map((r) => r.eventTime);
    expect(await times('record')).toEqual([1_000, 1_001, 1_002]);
    expect(await times('source')).toEqual([1795363551535, 1_001, 1_002]);
    expect(await times('envelope')).toEqual([1795363552071, 1_001, 99]);
  });

  it('decodes raw bytes and surfaces unchanged TOAST columns', async () => {
    const value = jsonText({ schema: envelopeSchema('shop.public', 'toast', toastColumns), payload: { before: null, after: toastUpdateAfter, source: pgSource('toast'), op: 'u', ts_ms: 1 } });
    const key = keyText('shop.public', 'toast', toastKeyColumns, { id: 1 });
    const chunks = await runOperator(decodeDebezium({ row: z.object({ id: z.number(), big: z.string(), small: z.string() }) }), [
      { kind: 'data', records: [record(new TextEncoder().encode(value), 0, key)] },
    ]);
    expect(deadLettersOf(chunks)).toEqual([]);
    expect(dataOf(chunks)[0]!.value).toMatchObject({ kind: 'change', op: 'u', after: { id: 1, small: 's2' }, unavailable: ['big', 'bj', 'bb', 'bia', 'bta'] });
  });

  it('refuses invalid options at construction, naming the field', () => {
    expect(() => decodeDebezium({ kinds: [] })).toThrow(InvalidOptionsError);
    expect(() => decodeDebezium({ kinds: [] })).toThrow(/kinds: must list at least one kind/);
    expect(() => decodeDebezium({ kinds: ['changes' as 'change'] })).toThrow(/kinds\.0/);
    expect(() => decodeDebezium({ eventTime: 'wall' as 'record' })).toThrow(/eventTime/);
    expect(() => decodeDebezium({ onError: 'retry' as 'dlq' })).toThrow(/onError/);
    expect(() => decodeDebezium({ name: '' })).toThrow(/name: must be a non-empty string/);
    expect(() => decodeDebezium({ row: 'schema' as unknown as z.ZodType })).toThrow(/row: must be a zod schema/);
  });
});
