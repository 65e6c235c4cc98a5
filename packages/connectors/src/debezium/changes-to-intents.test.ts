import { describe, expect, it } from 'vitest';
import { InvalidOptionsError } from '@tributary/core';
import type { Chunk, StreamRecord } from '@tributary/core';
import { dataOf, runOperator } from '@tributary/core/testing';
import { pgSource } from '../../test/fixtures/debezium.js';
import type { ChangeEvent, ChangeSource, DebeziumRow } from './change-event.js';
import { changesToIntents } from './changes-to-intents.js';
import type { ChangeIntent } from './changes-to-intents.js';
import { decodeDebezium } from './decode-debezium.js';
import { normaliseSource } from './debezium-decoder.js';

const source: ChangeSource = normaliseSource(pgSource('orders'));
const deadLettersOf = (chunks: readonly Chunk<unknown>[]) => chunks.flatMap((chunk) => (chunk.kind === 'dead-letter' ? chunk.letters : []));

type Event = ChangeEvent;
const base = { key: null, source, tsMs: 1, transaction: undefined, unavailable: [], unavailableBefore: [], columns: undefined } as const;
const c = (after: DebeziumRow, op: 'c' | 'r' = 'c'): Event => ({ ...base, kind: 'change', op, before: null, after });
const u = (before: DebeziumRow | null, after: DebeziumRow, unavailable: string[] = []): Event => ({ ...base, kind: 'change', op: 'u', before, after, unavailable });
const d = (before: DebeziumRow | null, key: DebeziumRow | null = null): Event => ({ ...base, kind: 'change', op: 'd', before, after: null, key });

function records(events: Event[]): StreamRecord<Event>[] {
  return events.map((value, offset) => ({ key: null, value, eventTime: offset, position: { partition: 'orders:0', offset }, headers: {} }));
}
const summary = (intent: ChangeIntent) => (intent.kind === 'truncate' ? `truncate ${intent.table.table}` : `${intent.kind} ${intent.key}`);

describe('changesToIntents', () => {
  it('turns inserts, snapshot reads and updates into upserts and deletes into deletes', async () => {
    const chunks = await runOperator(changesToIntents({ key: ['id'] }), [
      { kind: 'data', records: records([c({ id: 1, v: 'a' }), c({ id: 2, v: 'b' }, 'r'), u(null, { id: 1, v: 'c' }), d({ id: 2, v: '' })]) },
    ]);
    const out = dataOf(chunks);
    expect(out.map((r) => summary(r.value))).toEqual(['upsert {"id":1}', 'upsert {"id":2}', 'upsert {"id":1}', 'delete {"id":2}']);
    expect(out.map((r) => r.key)).toEqual(['{"id":1}', '{"id":2}', '{"id":1}', '{"id":2}']);
    expect(out.map((r) => r.position.offset)).toEqual([0, 1, 2, 3]);
    expect(out[2]!.value).toEqual({ kind: 'upsert', key: '{"id":1}', row: { id: 1, v: 'c' }, unavailable: [], op: 'u', source, transaction: undefined });
    expect(out[3]!.value).toEqual({ kind: 'delete', key: '{"id":2}', op: 'd', source, transaction: undefined });
  });

  it('splits an update that changes the primary key into a delete of the old key, then an upsert of the new', async () => {
    const chunks = await runOperator(changesToIntents({ key: ['tenant', 'id'] }), [
      { kind: 'data', records: records([u({ tenant: 't', id: 1, v: 'a' }, { tenant: 't', id: 9, v: 'a' }), u({ tenant: 't', id: 9, v: 'a' }, { tenant: 't', id: 9, v: 'b' })]) },
    ]);
    const out = dataOf(chunks);
    expect(out.map((r) => summary(r.value))).toEqual(['delete {"id":1,"tenant":"t"}', 'upsert {"id":9,"tenant":"t"}', 'upsert {"id":9,"tenant":"t"}']);
    expect(out[0]!.value).toMatchObject({ kind: 'delete', op: 'u' });
    // Both intents of the split keep the change's position.
    expect(out.map((r) => r.position.offset)).toEqual([0, 0, 1]);
  });

  it('keeps per-key order across batches, with PostgreSQL-style key changes (delete, tombstone, create) and truncates', async () => {
    const tombstone: Event = { kind: 'tombstone', key: { id: 1 } };
    const heartbeat: Event = { kind: 'heartbeat', key: null, tsMs: 1 };
    const truncate: Event = { kind: 'truncate', op: 't', key: null, source, tsMs: 1, transaction: undefined };
    const events = [c({ id: 1, v: 1 }), u(null, { id: 1, v: 2 }), d({ id: 1, v: 0 }), tombstone, c({ id: 2, v: 2 }), heartbeat, u(null, { id: 1, v: 3 }), truncate, c({ id: 1, v: 4 })];
    const all = records(events);
    const chunks = await runOperator(changesToIntents({ key: ['id'] }), [
      { kind: 'data', records: all.slice(0, 3) },
      { kind: 'barrier', id: 1, checkpoint: undefined },
      { kind: 'data', records: all.slice(3) },
    ]);
    const out = dataOf(chunks).map((r) => r.value);
    expect(out.map(summary)).toEqual(['upsert {"id":1}', 'upsert {"id":1}', 'delete {"id":1}', 'upsert {"id":2}', 'upsert {"id":1}', 'truncate orders', 'upsert {"id":1}']);
    const forKey1 = out.filter((intent) => intent.kind !== 'truncate' && intent.key === '{"id":1}').map((intent) => (intent.kind === 'upsert' ? intent.row.v : 'deleted'));
    expect(forKey1).toEqual([1, 2, 'deleted', 3, 4]);
    expect(chunks.map((chunk) => chunk.kind)).toEqual(['data', 'barrier', 'data']);
    expect(out[5]).toEqual({ kind: 'truncate', table: { db: 'tributary', schema: 'public', table: 'orders' }, source, transaction: undefined });
  });

  it('keys deletes without a before image by the decoded record key, and accepts key functions', async () => {
    const chunks = await runOperator(changesToIntents({ key: ['id'] }), [{ kind: 'data', records: records([d(null, { id: 7 }), d({ other: 1 }, { id: 8 })]) }]);
    expect(dataOf(chunks).map((r) => summary(r.value))).toEqual(['delete {"id":7}', 'delete {"id":8}']);
    const byFunction = await runOperator(changesToIntents({ key: (row) => `order-${String(row.id)}` }), [{ kind: 'data', records: records([c({ id: 1 }), d({ id: 1 })]) }]);
    expect(dataOf(byFunction).map((r) => summary(r.value))).toEqual(['upsert order-1', 'delete order-1']);
  });

  it('carries unavailable columns so a sink keeps the stored values', async () => {
    const chunks = await runOperator(changesToIntents({ key: ['id'] }), [{ kind: 'data', records: records([u(null, { id: 1, title: 'final' }, ['body'])]) }]);
    expect(dataOf(chunks)[0]!.value).toMatchObject({ kind: 'upsert', row: { id: 1, title: 'final' }, unavailable: ['body'] });
  });

  it('sends changes whose key cannot be computed to the dead letters with DEBEZIUM_KEY_MISSING', async () => {
    const chunks = await runOperator(changesToIntents({ name: 'intents', key: ['id'] }), [{ kind: 'data', records: records([c({ name: 'no id' }), d(null), c({ id: 3 })]) }]);
    expect(dataOf(chunks).map((r) => summary(r.value))).toEqual(['upsert {"id":3}']);
    const letters = deadLettersOf(chunks);
    expect(letters.map((letter) => [letter.record.position.offset, letter.error.code, letter.stage])).toEqual([
      [0, 'DEBEZIUM_KEY_MISSING', 'intents'],
      [1, 'DEBEZIUM_KEY_MISSING', 'intents'],
    ]);
    expect(letters[0]!.error.message).toMatch(/after image of a c change of public\.orders lacks key columns id/);
    const throwing = await runOperator(changesToIntents({ key: () => 42 as unknown as string }), [{ kind: 'data', records: records([c({ id: 1 })]) }]);
    expect(deadLettersOf(throwing)[0]!.error).toMatchObject({ code: 'DEBEZIUM_KEY_MISSING', message: expect.stringMatching(/returned number, not a string/) });
  });

  it('produces the same key string decodeDebezium makes of the record key', async () => {
    const value = { op: 'c', before: null, after: { tenant: 't', id: 12345678901234567890n, v: 1 }, source: pgSource('orders') };
    const decoded = dataOf(await runOperator(decodeDebezium(), [{ kind: 'data', records: [{ key: '{"tenant":"t","id":12345678901234567890}', value, eventTime: 0, position: { partition: 'p', offset: 0 }, headers: {} }] }]));
    const intents = dataOf(await runOperator(changesToIntents({ key: ['tenant', 'id'] }), [{ kind: 'data', records: decoded }]));
    expect(intents[0]!.key).toBe(decoded[0]!.key);
    expect(intents[0]!.key).toBe('{"id":12345678901234567890,"tenant":"t"}');
  });

  it('refuses invalid options naming the field', () => {
    expect(() => changesToIntents({ key: [] })).toThrow(InvalidOptionsError);
    expect(() => changesToIntents({ key: [] })).toThrow(/key/);
    expect(() => changesToIntents({} as never)).toThrow(/key/);
    expect(() => changesToIntents({ key: ['id'], onError: 'x' as 'dlq' })).toThrow(/onError/);
  });
});
