import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { InvalidOptionsError } from '@tributary/core';
import {
  db2Delete,
  envelopeSchema,
  jsonText,
  keyText,
  mysqlSchemaChange,
  mysqlUpdate,
  oracleUpdate,
  pgMessage,
  pgSource,
  sqlServerCreate,
  toastColumns,
  toastKeyColumns,
  toastUpdateAfter,
  typesAfter,
  typesAfterDecoded,
} from '../../test/fixtures/debezium.js';
import type { Field } from '../../test/fixtures/debezium.js';
import type { ChangeEvent, RowChangeEvent } from './change-event.js';
import { DebeziumDecodeError } from './debezium-decode-error.js';
import { DebeziumDecoder, normaliseSource } from './debezium-decoder.js';

const decoder = new DebeziumDecoder();

function change<R, B>(event: ChangeEvent<R, B>): RowChangeEvent<R, B> {
  if (event.kind !== 'change') throw new Error(`expected a change event, got ${event.kind}`);
  return event;
}

function failure(run: () => unknown): DebeziumDecodeError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(DebeziumDecodeError);
    return error as DebeziumDecodeError;
  }
  throw new Error('expected the decoder to throw');
}

/** A tiny schema-enabled envelope around one column. */
function oneColumn(column: Field, value: unknown, options: { op?: string } = {}): string {
  const after = { id: 1, [column.field]: value };
  const columns: Field[] = [{ type: 'int32', optional: false, field: 'id' }, column];
  return jsonText({
    schema: envelopeSchema('shop.public', 't', columns),
    payload: { before: null, after, source: pgSource('t'), op: options.op ?? 'c', ts_ms: 1 },
  });
}
const decodeColumn = (column: Field, value: unknown): unknown => {
  const event = change(decoder.decode(oneColumn(column, value)));
  return (event.after as Record<string, unknown>)[column.field];
};

describe('DebeziumDecoder: PostgreSQL envelopes with embedded schema', () => {
  it('decodes every logical type of a real Debezium 3.6.3 insert exactly', () => {
    const message = pgMessage({ op: 'c', after: typesAfter });
    const event = change(decoder.decode(message.value, message.key));
    expect(event.op).toBe('c');
    expect(event.before).toBeNull();
    expect(event.after).toEqual(typesAfterDecoded);
    // Types, not just values: exact strings for decimals and times, bigint for the int64 beyond 2^53.
    const after = event.after as Record<string, unknown>;
    expect(typeof after.n).toBe('string');
    expect(typeof after.bi).toBe('bigint');
    expect(after.by).toBeInstanceOf(Uint8Array);
    expect(event.unavailable).toEqual([]);
    expect(event.key).toEqual({ a: 1, b: 'x' });
    expect(event.tsMs).toBe(1795363552071);
    expect(event.transaction).toEqual({ id: '760:27213528', totalOrder: 1, dataCollectionOrder: 1 });
    expect(event.columns?.map((c) => [c.name, c.type, c.logicalType ?? null])).toContainEqual(['ts', 'int64', 'io.debezium.time.MicroTimestamp']);
    expect(event.columns?.find((c) => c.name === 'n')).toEqual({
      name: 'n',
      type: 'bytes',
      logicalType: 'org.apache.kafka.connect.data.Decimal',
      optional: true,
      parameters: { scale: '2', 'connect.decimal.precision': '12' },
    });
  });

  it('normalises the PostgreSQL source block', () => {
    const message = pgMessage({ op: 'c', after: typesAfter });
    const { source } = change(decoder.decode(message.value, message.key));
    expect(source).toMatchObject({
      connector: 'postgresql',
      name: 'shop',
      version: '3.6.3.Final',
      db: 'tributary',
      schema: 'public',
      table: 'types',
      tsMs: 1795363551535,
      tsUs: 1795363551535018,
      snapshot: false,
      snapshotMarker: undefined,
      lsn: 27213528,
      txId: 760,
      sequence: [null, '27213528'],
    });
    expect(source.file).toBeUndefined();
    // raw keeps every field, ts_ns exact from the text.
    expect(source.raw.ts_ns).toBe(1795363551535018000n);
  });

  it('accepts the same message as bytes, as parsed JSON, and without the schema', () => {
    const message = pgMessage({ op: 'c', after: { ...typesAfter, bi: 42 } });
    const expected = { ...typesAfterDecoded, bi: 42 };
    const fromBytes = change(decoder.decode(new TextEncoder().encode(message.value), message.key));
    expect(fromBytes.after).toEqual(expected);
    const fromObject = change(decoder.decode(JSON.parse(message.value), message.key));
    expect(fromObject.after).toEqual(expected);
    // Without a schema nothing says `n` is a decimal or `ts` a timestamp: values stay as JSON gave them.
    const payload = (JSON.parse(message.value) as { payload: Record<string, unknown> }).payload;
    for (const value of [{ payload }, payload]) {
      const event = change(decoder.decode(value, '{"a":1,"b":"x"}'));
      expect(event.after).toEqual({ ...typesAfter, bi: 42 });
      expect(event.columns).toBeUndefined();
      expect(event.key).toEqual({ a: 1, b: 'x' });
    }
  });

  it('keeps int64 beyond 2^53 exact from text, refuses rounded numbers, or accepts them when told', () => {
    const message = pgMessage({ op: 'c', after: typesAfter });
    const parsed = JSON.parse(message.value) as unknown; // JSON.parse already rounded 9007199254740993
    const error = failure(() => decoder.decode(parsed, message.key, { partition: 'shop.public.types:2', offset: 17 }));
    expect(error.code).toBe('DEBEZIUM_UNSAFE_INTEGER');
    expect(error.message).toContain('after.bi');
    expect(error.message).toContain('raw record value');
    expect(error).toMatchObject({ connector: 'debezium', topic: 'shop.public.types', partition: 2, offset: '17', retriable: false });
    const lenient = new DebeziumDecoder({ unsafeIntegers: 'accept' });
    expect((change(lenient.decode(parsed, message.key)).after as Record<string, unknown>).bi).toBe(9007199254740992);
  });

  it('converts the other logical and Connect types', () => {
    const int64 = (name: string) => ({ type: 'int64', optional: true, name, field: 'v' });
    const int32 = (name: string) => ({ type: 'int32', optional: true, name, field: 'v' });
    expect(decodeColumn(int64('io.debezium.time.NanoTimestamp'), 1709296496123456789n)).toBe('2024-03-01T12:34:56.123456789Z');
    expect(decodeColumn(int64('io.debezium.time.NanoTimestamp'), -1n)).toBe('1969-12-31T23:59:59.999999999Z');
    expect(decodeColumn(int64('io.debezium.time.MicroTimestamp'), -1)).toBe('1969-12-31T23:59:59.999999Z');
    expect(decodeColumn(int64('io.debezium.time.MicroTimestamp'), -62135596800000000)).toBe('0001-01-01T00:00:00.000000Z');
    expect(decodeColumn(int64('io.debezium.time.NanoTime'), 45296789012345)).toBe('12:34:56.789012345');
    expect(decodeColumn(int32('io.debezium.time.Time'), 45296789)).toBe('12:34:56.789');
    expect(decodeColumn(int64('io.debezium.time.MicroTime'), 86400000000)).toBe('24:00:00.000000');
    // MySQL TIME is a duration: negative and beyond 24 h.
    expect(decodeColumn(int64('io.debezium.time.MicroTime'), -3020399000000)).toBe('-838:59:59.000000');
    expect(decodeColumn(int32('org.apache.kafka.connect.data.Date'), 19783)).toBe('2024-03-01');
    expect(decodeColumn(int32('io.debezium.time.Date'), 2932897)).toBe('+010000-01-01');
    expect(decodeColumn(int32('org.apache.kafka.connect.data.Time'), 1)).toBe('00:00:00.001');
    expect(decodeColumn(int64('org.apache.kafka.connect.data.Timestamp'), 1709296496123)).toBe('2024-03-01T12:34:56.123Z');
    expect(decodeColumn(int32('io.debezium.time.Year'), 2024)).toBe(2024);
    const decimal = (scale: string) => ({ type: 'bytes', optional: true, name: 'org.apache.kafka.connect.data.Decimal', parameters: { scale }, field: 'v' });
    expect(decodeColumn(decimal('2'), '+w==')).toBe('-0.05');
    expect(decodeColumn(decimal('0'), 'AIAA')).toBe('32768');
    expect(decodeColumn(decimal('4'), '')).toBe('0.0000');
    expect(decodeColumn(decimal('-2'), 'DA==')).toBe('1200');
    // decimal.format=NUMERIC writes decimals as JSON numbers.
    expect(decodeColumn(decimal('2'), 1234.5)).toBe('1234.50');
    expect(decodeColumn(decimal('2'), 12345678901234567890n)).toBe('12345678901234567890.00');
    const variable = { type: 'struct', optional: true, name: 'io.debezium.data.VariableScaleDecimal', field: 'v', fields: [{ type: 'int32', optional: false, field: 'scale' }, { type: 'bytes', optional: false, field: 'value' }] };
    expect(decodeColumn(variable, { scale: 0, value: 'AQ==' })).toBe('1');
    expect(decodeColumn(variable, { scale: 3, value: '/w==' })).toBe('-0.001');
    expect(decodeColumn({ type: 'string', optional: true, name: 'io.debezium.data.Json', field: 'v' }, '"text"')).toBe('text');
    expect(decodeColumn({ type: 'string', optional: true, name: 'io.debezium.data.Json', field: 'v' }, 'null')).toBeNull();
    expect(decodeColumn({ type: 'bytes', optional: true, name: 'io.debezium.data.Bits', parameters: { length: '3' }, field: 'v' }, 'BQ==')).toEqual(new Uint8Array([5]));
    expect(decodeColumn({ type: 'double', optional: true, field: 'v' }, 'Infinity')).toBe(Number.POSITIVE_INFINITY);
    expect(decodeColumn({ type: 'float', optional: true, field: 'v' }, 1.5)).toBe(1.5);
    // PostGIS-style struct with bytes inside, a map with string keys, a map with int keys, nested arrays.
    const geometry = {
      type: 'struct',
      optional: true,
      name: 'io.debezium.data.geometry.Geometry',
      field: 'v',
      fields: [{ type: 'bytes', optional: false, field: 'wkb' }, { type: 'int32', optional: true, field: 'srid' }],
    };
    expect(decodeColumn(geometry, { wkb: 'AQE=', srid: 4326 })).toEqual({ wkb: new Uint8Array([1, 1]), srid: 4326 });
    const stringMap = { type: 'map', optional: true, keys: { type: 'string', optional: false }, values: { type: 'bytes', optional: true, name: 'org.apache.kafka.connect.data.Decimal', parameters: { scale: '1' } }, field: 'v' };
    expect(decodeColumn(stringMap, { a: 'DA==', b: null })).toEqual({ a: '1.2', b: null });
    const intMap = { type: 'map', optional: true, keys: { type: 'int32', optional: false }, values: { type: 'string', optional: true }, field: 'v' };
    expect(decodeColumn(intMap, [[1, 'one'], [2, 'two']])).toEqual(new Map([[1, 'one'], [2, 'two']]));
    const dates = { type: 'array', optional: true, items: { type: 'int32', optional: true, name: 'io.debezium.time.Date' }, field: 'v' };
    expect(decodeColumn(dates, [0, null, 1])).toEqual(['1970-01-01', null, '1970-01-02']);
  });

  it('turns values that contradict the embedded schema into DEBEZIUM_SCHEMA_MISMATCH naming the column', () => {
    const cases: [Field, unknown, RegExp][] = [
      [{ type: 'int32', optional: true, name: 'io.debezium.time.Date', field: 'v' }, '2024-01-01', /after\.v: expected an integer/],
      [{ type: 'bytes', optional: true, name: 'org.apache.kafka.connect.data.Decimal', parameters: { scale: '2' }, field: 'v' }, 'not base64!', /after\.v: expected base64/],
      [{ type: 'bytes', optional: true, name: 'org.apache.kafka.connect.data.Decimal', parameters: { scale: '2' }, field: 'v' }, true, /after\.v: expected base64 unscaled bytes or a number/],
      [{ type: 'string', optional: true, name: 'io.debezium.data.Json', field: 'v' }, '{oops', /after\.v: io\.debezium\.data\.Json value is not JSON/],
      [{ type: 'int32', optional: true, field: 'v' }, 1.5, /after\.v: expected an integer \(int32\)/],
      [{ type: 'boolean', optional: true, field: 'v' }, 'yes', /after\.v: expected a boolean/],
      [{ type: 'string', optional: true, field: 'v' }, 7, /after\.v: expected a string/],
      [{ type: 'array', optional: true, items: { type: 'int32', optional: true }, field: 'v' }, [1, 'x'], /after\.v\[1\]: expected an integer/],
      [{ type: 'int64', optional: true, name: 'io.debezium.time.Timestamp', field: 'v' }, 9e15, /after\.v: /],
      [{ type: 'uint99', optional: true, field: 'v' }, 1, /unknown Kafka Connect schema type "uint99"/],
    ];
    for (const [column, value, message] of cases) {
      const error = failure(() => decoder.decode(oneColumn(column, value)));
      expect(error.code, String(message)).toBe('DEBEZIUM_SCHEMA_MISMATCH');
      expect(error.message).toMatch(message);
    }
  });

  it('surfaces unchanged TOASTed columns as unavailable: absent from the row, listed, never the placeholder', () => {
    const value = jsonText({
      schema: envelopeSchema('shop.public', 'toast', toastColumns),
      payload: { before: null, after: toastUpdateAfter, source: pgSource('toast'), op: 'u', ts_ms: 1 },
    });
    const event = change(decoder.decode(value, keyText('shop.public', 'toast', toastKeyColumns, { id: 1 })));
    expect(event.unavailable).toEqual(['big', 'bj', 'bb', 'bia', 'bta']);
    expect(event.after).toEqual({ id: 1, small: 's2' });
    expect(Object.keys(event.after!)).toEqual(['id', 'small']);
    expect(JSON.stringify(event.after)).not.toContain('unavailable');
    // A placeholder-looking value in a column whose type cannot carry that form stays a value.
    const text = change(decoder.decode(oneColumn({ type: 'string', optional: true, field: 'v' }, 'X19kZWJleml1bV91bmF2YWlsYWJsZV92YWx1ZQ==')));
    expect(text.unavailable).toEqual([]);
  });

  it('recognises a configured placeholder, also in hex form, and placeholders without a schema', () => {
    const custom = new DebeziumDecoder({ unavailableValuePlaceholder: '<toasted>' });
    const withCustom = custom.decode({ op: 'u', before: null, after: { id: 1, big: '<toasted>', other: '__debezium_unavailable_value' }, source: pgSource('t') });
    expect(change(withCustom).unavailable).toEqual(['big']);
    expect(change(withCustom).after).toEqual({ id: 1, other: '__debezium_unavailable_value' });
    const hex = new DebeziumDecoder({ unavailableValuePlaceholder: 'hex:deadbeef' });
    const bytesColumn = { type: 'bytes', optional: true, field: 'v' };
    const hexEvent = change(hex.decode(oneColumn(bytesColumn, '3q2+7w==', { op: 'u' })));
    expect(hexEvent.unavailable).toEqual(['v']);
    // Schemaless: every form is recognised.
    const schemaless = change(decoder.decode({ payload: { op: 'u', before: null, after: toastUpdateAfter, source: pgSource('toast') } }));
    expect(schemaless.unavailable).toEqual(['big', 'bj', 'bb', 'bia', 'bta']);
    expect(schemaless.after).toEqual({ id: 1, small: 's2' });
  });

  it('decodes deletes, REPLICA IDENTITY DEFAULT before images included, and updates', () => {
    const columns: Field[] = [
      { type: 'int32', optional: false, field: 'id' },
      { type: 'string', optional: false, field: 'status' },
      { type: 'int32', optional: false, field: 'qty' },
      { type: 'string', optional: true, field: 'note' },
    ];
    const key = keyText('shop.public', 'orders', [columns[0]!], { id: 2 });
    const message = (op: string, before: unknown, after: unknown) =>
      jsonText({ schema: envelopeSchema('shop.public', 'orders', columns), payload: { before, after, source: pgSource('orders'), op, ts_ms: 1 } });
    // What Debezium writes for a delete under REPLICA IDENTITY DEFAULT: the key, then defaults for NOT NULL columns.
    const deleted = change(decoder.decode(message('d', { id: 2, status: '', qty: 0, note: null }, null), key));
    expect(deleted).toMatchObject({ op: 'd', after: null, before: { id: 2, status: '', qty: 0, note: null }, key: { id: 2 } });
    const updated = change(decoder.decode(message('u', null, { id: 2, status: 'paid', qty: 3, note: null }), key));
    expect(updated).toMatchObject({ op: 'u', before: null, after: { id: 2, status: 'paid', qty: 3, note: null } });
    const read = change(decoder.decode(message('r', null, { id: 2, status: 'paid', qty: 3, note: null }), key));
    expect(read.op).toBe('r');
  });

  it('normalises the snapshot marker of every Debezium version', () => {
    const cases: [unknown, boolean, string | undefined][] = [
      ['false', false, undefined],
      [false, false, undefined],
      [undefined, false, undefined],
      [null, false, undefined],
      ['true', true, 'in_progress'],
      [true, true, 'in_progress'],
      ['first', true, 'first'],
      ['first_in_data_collection', true, 'first_in_data_collection'],
      ['last_in_data_collection', true, 'last_in_data_collection'],
      ['last', true, 'last'],
      ['incremental', true, 'incremental'],
    ];
    for (const [snapshot, flag, marker] of cases) {
      const event = change(decoder.decode({ op: 'r', before: null, after: { id: 1 }, source: pgSource('t', { snapshot }) }));
      expect([event.source.snapshot, event.source.snapshotMarker], String(snapshot)).toEqual([flag, marker]);
    }
  });
});

describe('DebeziumDecoder: other message kinds', () => {
  it('decodes tombstones, with the deleted key', () => {
    const key = keyText('shop.public', 'types', [{ type: 'int32', optional: false, field: 'a' }], { a: 2 });
    for (const value of [null, undefined, 'null', { schema: null, payload: null }, { payload: null }]) {
      expect(decoder.decode(value, key)).toEqual({ kind: 'tombstone', key: { a: 2 } });
    }
    expect(decoder.decode(null, null)).toEqual({ kind: 'tombstone', key: null });
    expect(decoder.decode(null, 'not json')).toEqual({ kind: 'tombstone', key: null });
  });

  it('decodes a truncate (op t) with its source and transaction', () => {
    const message = pgMessage({ op: 't', transaction: { id: '782:27397632', total_order: 2, data_collection_order: 1 } });
    const event = decoder.decode(message.value, null);
    expect(event).toMatchObject({ kind: 'truncate', op: 't', key: null, source: { table: 'types', lsn: 27213528 }, transaction: { id: '782:27397632', totalOrder: 2, dataCollectionOrder: 1 } });
  });

  it('decodes transaction boundaries from the transaction topic', () => {
    const schema = { type: 'struct', name: 'io.debezium.connector.common.TransactionMetadataValue', optional: false, fields: [] };
    const begin = decoder.decode(jsonText({ schema, payload: { status: 'BEGIN', id: '760:27213528', event_count: null, data_collections: null, ts_ms: 1795363551535 } }), '{"id":"760:27213528"}');
    expect(begin).toEqual({ kind: 'transaction', key: { id: '760:27213528' }, status: 'BEGIN', id: '760:27213528', eventCount: undefined, dataCollections: [], tsMs: 1795363551535 });
    const end = decoder.decode({
      status: 'END',
      id: '782:27398352',
      event_count: 2,
      data_collections: [{ data_collection: 'public.a', event_count: 1 }, { data_collection: 'public.b', event_count: 1 }],
      ts_ms: 1795363581161,
    });
    expect(end).toMatchObject({ kind: 'transaction', status: 'END', eventCount: 2, dataCollections: [{ dataCollection: 'public.a', eventCount: 1 }, { dataCollection: 'public.b', eventCount: 1 }] });
  });

  it('decodes heartbeats with and without a schema', () => {
    const withSchema = jsonText({
      schema: { type: 'struct', fields: [{ type: 'int64', optional: false, field: 'ts_ms' }], optional: false, name: 'io.debezium.connector.common.Heartbeat', version: 1 },
      payload: { ts_ms: 1795363552171 },
    });
    const key = jsonText({ schema: { type: 'struct', fields: [{ type: 'string', optional: false, field: 'serverName' }], optional: false, name: 'io.debezium.connector.common.ServerNameKey' }, payload: { serverName: 'shop' } });
    expect(decoder.decode(withSchema, key)).toEqual({ kind: 'heartbeat', key: { serverName: 'shop' }, tsMs: 1795363552171 });
    expect(decoder.decode({ ts_ms: 5 })).toEqual({ kind: 'heartbeat', key: null, tsMs: 5 });
  });

  it('decodes schema changes (MySQL schema change topic)', () => {
    const event = decoder.decode(mysqlSchemaChange, '{"databaseName":"inventory"}');
    expect(event).toMatchObject({
      kind: 'schema-change',
      key: { databaseName: 'inventory' },
      databaseName: 'inventory',
      schemaName: undefined,
      ddl: 'ALTER TABLE customers ADD COLUMN middle_name VARCHAR(255) AFTER first_name',
      tsMs: 1588252618953,
      source: { connector: 'mysql', file: 'mysql-bin.000003', pos: 219 },
    });
    expect(event.kind === 'schema-change' && event.tableChanges).toHaveLength(1);
  });

  it('decodes PostgreSQL logical decoding messages (op m)', () => {
    const event = decoder.decode({
      op: 'm',
      ts_ms: 1795363552307,
      source: pgSource('', { schema: '' }),
      transaction: { id: '767:27281912', total_order: 1, data_collection_order: 1 },
      message: { prefix: 'my-prefix', content: 'aGVsbG8=' },
    }, '{"prefix":"my-prefix"}');
    expect(event).toMatchObject({ kind: 'message', op: 'm', prefix: 'my-prefix', key: { prefix: 'my-prefix' } });
    expect(event.kind === 'message' && new TextDecoder().decode(event.content)).toBe('hello');
    expect(event.kind === 'message' && event.source.table).toBeUndefined();
  });
});

describe('DebeziumDecoder: other connector flavours', () => {
  it('decodes a MySQL update with binlog position and GTID', () => {
    const event = change(decoder.decode(mysqlUpdate('mysql'), '{"id":1004}'));
    expect(event.op).toBe('u');
    expect(event.before).toMatchObject({ first_name: 'Anne', balance: '123.45' });
    expect(event.after).toEqual({
      id: 1004,
      first_name: 'Anne Marie',
      last_name: 'Kretchmar',
      email: 'annek@noanswer.org',
      balance: '123.45',
      updated: '2016-06-10T17:50:29.000Z',
      created: '2016-06-10T17:50:29Z',
    });
    expect(event.source).toMatchObject({
      connector: 'mysql',
      name: 'mysql-server-1',
      db: 'inventory',
      schema: undefined,
      table: 'customers',
      file: 'mysql-bin.000003',
      pos: 484,
      row: 0,
      gtid: '8ee6f5f8-21b4-11f0-a6fd-0242ac110002:15',
      serverId: 223344,
      thread: 7,
      query: "UPDATE customers SET first_name='Anne Marie' WHERE id=1004",
      snapshot: false,
    });
    expect(event.source.lsn).toBeUndefined();
    expect(event.transaction?.id).toBe('8ee6f5f8-21b4-11f0-a6fd-0242ac110002:15');
  });

  it('decodes a MariaDB update (MariaDB GTID domain-server-sequence)', () => {
    const event = change(decoder.decode(mysqlUpdate('mariadb')));
    expect(event.source).toMatchObject({ connector: 'mariadb', file: 'mariadb-bin.000002', pos: 484, gtid: '0-1-3' });
    expect(event.transaction).toBeUndefined();
  });

  it('decodes SQL Server, Db2 and Oracle envelopes with their log positions', () => {
    const sqlServer = change(decoder.decode(sqlServerCreate));
    expect(sqlServer.source).toMatchObject({ connector: 'sqlserver', schema: 'dbo', changeLsn: '00000027:00000758:0003', commitLsn: '00000027:00000758:0005', eventSerialNo: 1 });
    const db2 = change(decoder.decode({ payload: db2Delete }));
    expect(db2).toMatchObject({ op: 'd', after: null, before: { ID: 1005 } });
    expect(db2.source).toMatchObject({ connector: 'db2', db: 'mydatabase', schema: 'MYSCHEMA', table: 'CUSTOMERS', changeLsn: '00000000:00000bf2:0002', commitLsn: '00000000:00000bf2:0005' });
    const oracle = change(decoder.decode(JSON.stringify(oracleUpdate)));
    expect(oracle.source).toMatchObject({ connector: 'oracle', scn: '2122184', commitScn: '2122185', txId: '6.28.807' });
    expect(oracle.after).toMatchObject({ EMAIL: 'anne@example.com' });
  });
});

describe('DebeziumDecoder: row schemas', () => {
  const Row = z.object({ id: z.number(), status: z.enum(['placed', 'paid']), amount: z.string().regex(/^\d+\.\d{2}$/), big: z.string() });
  const columns: Field[] = [
    { type: 'int32', optional: false, field: 'id' },
    { type: 'string', optional: false, field: 'status' },
    { type: 'bytes', optional: false, name: 'org.apache.kafka.connect.data.Decimal', parameters: { scale: '2' }, field: 'amount' },
    { type: 'string', optional: false, field: 'big' },
  ];
  const message = (op: string, before: unknown, after: unknown) =>
    jsonText({ schema: envelopeSchema('shop.public', 'orders', columns), payload: { before, after, source: pgSource('orders'), op, ts_ms: 1 } });
  const typed = new DebeziumDecoder({ row: Row });

  it('types and checks after images; logical values are converted before the check', () => {
    const event = change(typed.decode(message('c', null, { id: 1, status: 'paid', amount: 'MDk=', big: 'text' })));
    expect(event.after).toEqual({ id: 1, status: 'paid', amount: '123.45', big: 'text' });
  });

  it('rejects an after image that fails the schema with DEBEZIUM_ROW_INVALID listing each issue', () => {
    const error = failure(() => typed.decode(message('u', null, { id: 1, status: 'lost', amount: 'MDk=', big: 'x' }), null, { partition: 'orders:0', offset: 9 }));
    expect(error.code).toBe('DEBEZIUM_ROW_INVALID');
    expect(error.issues).toEqual([expect.stringMatching(/^after\.status: /)]);
    expect(error.message).toContain('at orders:0@9');
  });

  it('leaves unavailable columns out of the check (z.object) and the row', () => {
    const event = change(typed.decode(message('u', null, { id: 1, status: 'paid', amount: 'MDk=', big: '__debezium_unavailable_value' })));
    expect(event.after).toEqual({ id: 1, status: 'paid', amount: '123.45' });
    expect(event.unavailable).toEqual(['big']);
    // A non-object schema is applied as it is: it must accept the missing column itself.
    const piped = new DebeziumDecoder({ row: Row.transform((row) => ({ ...row, tagged: true })) });
    expect(failure(() => piped.decode(message('u', null, { id: 1, status: 'paid', amount: 'MDk=', big: '__debezium_unavailable_value' }))).code).toBe('DEBEZIUM_ROW_INVALID');
  });

  it('does not check before images unless beforeRow is given', () => {
    // REPLICA IDENTITY DEFAULT: status '' is Debezium's filler, not data.
    const defaultIdentityDelete = message('d', { id: 1, status: '', amount: 'AA==', big: '' }, null);
    expect(change(typed.decode(defaultIdentityDelete)).before).toEqual({ id: 1, status: '', amount: '0.00', big: '' });
    const keyOnly = new DebeziumDecoder({ row: Row, beforeRow: Row.pick({ id: true }) });
    expect(change(keyOnly.decode(defaultIdentityDelete)).before).toEqual({ id: 1 });
    const full = new DebeziumDecoder({ row: Row, beforeRow: Row });
    const error = failure(() => full.decode(defaultIdentityDelete));
    expect(error.code).toBe('DEBEZIUM_ROW_INVALID');
    expect(error.message).toContain('beforeRow');
    expect(error.issues[0]).toMatch(/^before\.status: /);
  });

  it('refuses invalid options naming the field', () => {
    expect(() => new DebeziumDecoder({ row: {} as z.ZodType })).toThrow(InvalidOptionsError);
    expect(() => new DebeziumDecoder({ row: {} as z.ZodType })).toThrow(/row: must be a zod schema/);
    expect(() => new DebeziumDecoder({ unsafeIntegers: 'maybe' as 'error' })).toThrow(/unsafeIntegers/);
    expect(() => new DebeziumDecoder({ unavailableValuePlaceholder: '' })).toThrow(/unavailableValuePlaceholder: must be a non-empty string/);
    expect(() => new DebeziumDecoder({ nope: 1 } as never)).toThrow(/nope/);
  });
});

describe('DebeziumDecoder: invalid messages', () => {
  const at = { partition: 'shop.public.t:0', offset: 3 };
  const cases: [string, unknown, string, RegExp][] = [
    ['text that is not JSON', '{"op": "c",', 'DEBEZIUM_NOT_JSON', /at shop\.public\.t:0@3 is 11 characters of text that JSON\.parse rejects/],
    ['invalid UTF-8 bytes', new Uint8Array([0xff, 0xfe, 0x00]), 'DEBEZIUM_NOT_JSON', /invalid UTF-8/],
    ['a JSON array', [1, 2], 'DEBEZIUM_NO_PAYLOAD', /a JSON array/],
    ['a JSON number', 42, 'DEBEZIUM_NO_PAYLOAD', /a JSON number, not an object/],
    ['an object without op', { id: 1, name: 'x' }, 'DEBEZIUM_NO_PAYLOAD', /not a Debezium message.*fields are "id, name"/],
    ['a payload that is a string', { schema: { type: 'string' }, payload: 'x' }, 'DEBEZIUM_NO_PAYLOAD', /payload that is string/],
    ['an unknown op', { op: 'x', before: null, after: { id: 1 }, source: pgSource('t') }, 'DEBEZIUM_UNKNOWN_OP', /op "x"; expected one of c/],
    ['a non-string op', { op: 1, source: pgSource('t') }, 'DEBEZIUM_UNKNOWN_OP', /op 1/],
    ['a create without after', { op: 'c', before: null, after: null, source: pgSource('t') }, 'DEBEZIUM_INVALID_ENVELOPE', /create event of public\.t.*has no after image/],
    ['a delete with after', { op: 'd', before: { id: 1 }, after: { id: 1 }, source: pgSource('t') }, 'DEBEZIUM_INVALID_ENVELOPE', /delete event.*has an after image/],
    ['a create with before', { op: 'c', before: { id: 1 }, after: { id: 1 }, source: pgSource('t') }, 'DEBEZIUM_INVALID_ENVELOPE', /has a before image/],
    ['no source block', { op: 'c', before: null, after: { id: 1 } }, 'DEBEZIUM_INVALID_ENVELOPE', /no "source" block/],
    ['a source without ts_ms', { op: 'c', before: null, after: { id: 1 }, source: { connector: 'postgresql' } }, 'DEBEZIUM_INVALID_ENVELOPE', /without a numeric ts_ms/],
    ['a bad transaction block', { op: 'c', before: null, after: { id: 1 }, source: pgSource('t'), transaction: { id: 7 } }, 'DEBEZIUM_INVALID_ENVELOPE', /transaction block/],
    ['an after image that is not an object', { op: 'c', before: null, after: [1], source: pgSource('t') }, 'DEBEZIUM_SCHEMA_MISMATCH', /after: expected a row object/],
    ['a message without content', { op: 'm', source: pgSource('t'), message: { prefix: 'p' } }, 'DEBEZIUM_INVALID_ENVELOPE', /no "message" block/],
    ['a heartbeat schema without ts_ms', { schema: { type: 'struct', name: 'io.debezium.connector.common.Heartbeat' }, payload: { ts: 1 } }, 'DEBEZIUM_INVALID_ENVELOPE', /heartbeat.*no numeric ts_ms/],
  ];
  for (const [what, value, code, message] of cases) {
    it(`rejects ${what} with ${code}`, () => {
      const error = failure(() => decoder.decode(value, null, at));
      expect(error.code).toBe(code);
      expect(error.message).toMatch(message);
      expect(error.retriable).toBe(false);
    });
  }

  it('never puts row values into error messages (they reach logs and dead letters)', () => {
    const secret = 'jane.doe@example.org';
    const messages = [
      failure(() => decoder.decode(`{"op":"c","after":{"email":"${secret}"`)).message,
      failure(() => decoder.decode(oneColumn({ type: 'int32', optional: true, field: 'v' }, secret))).message,
      failure(() => decoder.decode(oneColumn({ type: 'string', optional: true, name: 'io.debezium.data.Json', field: 'v' }, `{${secret}`))).message,
      failure(() => decoder.decode(oneColumn({ type: 'bytes', optional: true, field: 'v' }, secret))).message,
      failure(() => decoder.decode(JSON.stringify(secret))).message,
      failure(() => new DebeziumDecoder({ row: z.object({ v: z.email().max(3) }).loose() }).decode({ op: 'c', before: null, after: { v: secret }, source: pgSource('t') })).message,
    ];
    for (const message of messages) expect(message).not.toContain('jane');
    expect(messages[1]).toMatch(/after\.v: expected an integer \(int32\), got a string of 20 characters/);
  });

  it('rejects a key that contradicts its own schema', () => {
    const key = jsonText({ schema: { type: 'struct', fields: [{ type: 'int32', optional: false, field: 'id' }], optional: false }, payload: { id: 'one' } });
    const error = failure(() => decoder.decode(null, key, at));
    expect(error.code).toBe('DEBEZIUM_SCHEMA_MISMATCH');
    expect(error.message).toMatch(/record key at shop\.public\.t:0@3.*key\.id: expected an integer/);
  });

  it('decodes keys with logical types (a decimal primary key) and schemaless keys', () => {
    const key = keyText('shop.public', 't', [{ type: 'bytes', optional: false, name: 'org.apache.kafka.connect.data.Decimal', parameters: { scale: '1' }, field: 'id' }], { id: 'DA==' });
    expect(decoder.decode(null, key)).toEqual({ kind: 'tombstone', key: { id: '1.2' } });
    expect(decoder.decode(null, '{"id":12345678901234567890}')).toEqual({ kind: 'tombstone', key: { id: 12345678901234567890n } });
    expect(decoder.decode(null, '"just a string"')).toEqual({ kind: 'tombstone', key: null });
  });

  it('reads text whose schema changes from message to message, or mentions ,"payload": itself', () => {
    const text = (scale: string, extra: Record<string, string>) =>
      oneColumn({ type: 'bytes', optional: true, name: 'org.apache.kafka.connect.data.Decimal', parameters: { scale, ...extra }, field: 'v' }, 'AQ==');
    const decodeV = (value: string) => (change(decoder.decode(value)).after as Record<string, unknown>).v;
    for (let i = 0; i < 3; i++) {
      expect(decodeV(text('1', {}))).toBe('0.1');
      expect(decodeV(text('2', {}))).toBe('0.01');
      // A schema parameter named "payload": the first ,"payload": of the text is inside the schema.
      expect(text('2', { payload: 'x' })).toContain('"scale":"2","payload":"x"');
      expect(decodeV(text('2', { payload: 'x' }))).toBe('0.01');
      expect(decodeV(text('3', { payload: '}' }))).toBe('0.001');
    }
  });

  it('keeps decoding correctly across more distinct schemas than its cache holds', () => {
    for (let i = 0; i < 300; i++) {
      const column: Field = { type: 'bytes', optional: true, name: 'org.apache.kafka.connect.data.Decimal', parameters: { scale: String(i % 7) }, field: `c${i}` };
      const event = change(decoder.decode(oneColumn(column, 'AQ==')));
      expect((event.after as Record<string, unknown>)[`c${i}`]).toBe(i % 7 === 0 ? '1' : `0.${'0'.repeat((i % 7) - 1)}1`);
    }
  });
});

describe('normaliseSource: PostgreSQL sequence', () => {
  it('reads the [lastCommitLsn, lsn] pair with or without nulls, and leaves other text in raw only', () => {
    const base = { connector: 'postgresql', name: 'shop', db: 'shop', ts_ms: 1 };
    expect(normaliseSource({ ...base, sequence: '["27213000","27213528"]' }).sequence).toEqual(['27213000', '27213528']);
    expect(normaliseSource({ ...base, sequence: '[null,"27213528"]' }).sequence).toEqual([null, '27213528']);
    expect(normaliseSource({ ...base, sequence: '["1", null]' }).sequence).toEqual(['1', null]);
    expect(normaliseSource({ ...base, sequence: '[1,2]' }).sequence).toEqual(['1', '2']);
    expect(normaliseSource({ ...base, sequence: 'not json' }).sequence).toBeUndefined();
    expect(normaliseSource({ ...base, sequence: '["1","2","3"]' }).sequence).toBeUndefined();
  });
});
