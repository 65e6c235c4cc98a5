/**
 * The Confluent wire format, the registry client and the built-in decoders, against a local HTTP server answering
 * GET /schemas/ids/{id} and /subjects/{subject}/versions/{version} the way Confluent's registry does (unit tests: the
 * real registry is exercised in test/integration/kafka-schema-registry.test.ts). Avro payloads are encoded with avsc's
 * own types, independent of the decoder's.
 */
import { createServer } from 'node:http';
import avro from 'avsc';
import type { IncomingHttpHeaders, Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidOptionsError } from '@tributary/core';
import { confluentDeserializer, decodeConfluentFrame, encodeConfluentFrame, schemaRegistry } from './schema-registry.js';
import type { KafkaMessageMeta } from './kafka-deserializer.js';

const meta: KafkaMessageMeta = { topic: 't', partition: 0, offset: 1, key: null, headers: {}, timestamp: 0 };

const moneySchema = { type: 'record', name: 'Money', namespace: 'u', fields: [{ name: 'amount', type: { type: 'bytes', logicalType: 'decimal', precision: 12, scale: 2 } }, { name: 'currency', type: 'string' }] };
const logicalSchema = {
  type: 'record',
  name: 'Logical',
  fields: [
    { name: 'price', type: { type: 'bytes', logicalType: 'decimal', precision: 10, scale: 2 } },
    { name: 'rate', type: { type: 'fixed', name: 'Rate', size: 4, logicalType: 'decimal', precision: 8, scale: 4 } },
    { name: 'day', type: { type: 'int', logicalType: 'date' } },
    { name: 'at', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'atMicros', type: { type: 'long', logicalType: 'timestamp-micros' } },
    { name: 'localAt', type: { type: 'long', logicalType: 'local-timestamp-micros' } },
    { name: 'time', type: { type: 'int', logicalType: 'time-millis' } },
    { name: 'timeMicros', type: { type: 'long', logicalType: 'time-micros' } },
    { name: 'id', type: { type: 'string', logicalType: 'uuid' } },
    { name: 'big', type: 'long' },
    { name: 'small', type: 'long' },
    { name: 'note', type: ['null', 'string'], default: null },
    { name: 'tags', type: { type: 'map', values: 'int' } },
    { name: 'raw', type: 'bytes' },
    { name: 'notDecimal', type: { type: 'int', logicalType: 'decimal', precision: 4 } },
  ],
};

/** Big-endian two's complement, as Java's BigInteger.toByteArray writes an Avro decimal. */
function twosComplement(value: bigint, size?: number): Buffer {
  let hex = (value < 0n ? (1n << 64n) + value : value).toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  let bytes = Buffer.from(hex, 'hex');
  if (value < 0n) bytes = bytes.subarray(bytes.findIndex((byte, i) => byte !== 0xff || (bytes[i + 1]! & 0x80) === 0));
  else if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  if (size === undefined) return bytes;
  return Buffer.concat([Buffer.alloc(size - bytes.length, value < 0n ? 0xff : 0), bytes]);
}

describe('Confluent wire format', () => {
  it('round-trips magic byte 0, a big-endian schema id and the payload', () => {
    const framed = encodeConfluentFrame(258, Buffer.from('{"a":1}'));
    expect([...framed.subarray(0, 5)]).toEqual([0, 0, 0, 1, 2]);
    expect(decodeConfluentFrame(framed)).toEqual({ schemaId: 258, payload: Buffer.from('{"a":1}') });
    expect(decodeConfluentFrame(new Uint8Array([0, 0x7f, 0xff, 0xff, 0xff]))).toEqual({ schemaId: 2_147_483_647, payload: Buffer.alloc(0) });
  });

  it('refuses values that are not framed', () => {
    expect(() => decodeConfluentFrame(Buffer.from('{"a":1}'))).toThrow(/magic byte 123, not 0/);
    expect(() => decodeConfluentFrame(Buffer.from([0, 0, 1]))).toThrow(/3 byte\(s\)/);
    expect(() => encodeConfluentFrame(-1, Buffer.alloc(0))).toThrow(/not a non-negative 32-bit integer/);
  });
});

describe('schemaRegistry and confluentDeserializer', () => {
  let server: Server;
  let url: string;
  const seen: { path: string; headers: IncomingHttpHeaders }[] = [];
  const schemas: Record<string, unknown> = {
    '7': { schema: '{"type":"object","properties":{"id":{"type":"integer"}}}', schemaType: 'JSON' },
    '8': { schema: '{"type":"record","name":"Order","fields":[{"name":"id","type":"int"}]}' },
    '9': { schema: 'syntax = "proto3"; message M { int32 id = 1; }', schemaType: 'PROTOBUF' },
    '10': { schema: JSON.stringify(logicalSchema) },
    '11': {
      schema: JSON.stringify({ type: 'record', name: 'Invoice', namespace: 'u', fields: [{ name: 'total', type: 'u.Money' }, { name: 'lines', type: { type: 'array', items: 'u.Line' } }] }),
      references: [
        { name: 'u.Money', subject: 'money', version: 1 },
        { name: 'u.Line', subject: 'line', version: 2 },
      ],
    },
    '12': { schema: '{"type":"record","name":"Broken","fields":[{"name":"x","type":"nope"}]}' },
  };
  const subjects: Record<string, unknown> = {
    'money/1': { id: 20, schema: JSON.stringify(moneySchema) },
    // Line references Money too: the shared type is parsed once.
    'line/2': { id: 21, schema: JSON.stringify({ type: 'record', name: 'Line', namespace: 'u', fields: [{ name: 'sku', type: 'string' }, { name: 'price', type: 'u.Money' }] }), references: [{ name: 'u.Money', subject: 'money', version: 1 }] },
  };

  beforeAll(async () => {
    server = createServer((request, response) => {
      seen.push({ path: request.url ?? '', headers: request.headers });
      const id = /^\/schemas\/ids\/(\d+)$/.exec(request.url ?? '')?.[1];
      const subject = /^\/subjects\/([^/]+)\/versions\/(\d+)$/.exec(request.url ?? '');
      if (id === '500') {
        response.writeHead(500).end('{"error_code":50001}');
        return;
      }
      const body = id !== undefined ? schemas[id] : subject !== null ? subjects[`${decodeURIComponent(subject[1]!)}/${subject[2]!}`] : undefined;
      if (body === undefined) {
        response.writeHead(404, { 'content-type': 'application/json' }).end('{"error_code":40403,"message":"Schema not found"}');
        return;
      }
      // A little latency so concurrent lookups overlap.
      setTimeout(() => response.writeHead(200, { 'content-type': 'application/vnd.schemaregistry.v1+json' }).end(JSON.stringify(body)), 20);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('looks schemas up by id once (cache and shared in-flight requests), with basic auth', async () => {
    const registry = schemaRegistry({ url, basicAuth: { username: 'key', password: 'secret-value' } });
    const [a, b] = await Promise.all([registry.schema(7), registry.schema(7)]);
    expect(a).toEqual({ id: 7, schemaType: 'JSON', schema: '{"type":"object","properties":{"id":{"type":"integer"}}}', references: [] });
    expect(b).toBe(a);
    expect(await registry.schema(7)).toBe(a);
    expect((await registry.schema(8)).schemaType).toBe('AVRO');
    expect(registry.requests).toBe(2);
    const last = seen.at(-1)!;
    expect(last.path).toBe('/schemas/ids/8');
    expect(last.headers.authorization).toBe(`Basic ${Buffer.from('key:secret-value').toString('base64')}`);
  });

  it('reports unknown ids (not retriable) apart from registry failures (retriable), and does not cache failures', async () => {
    const registry = schemaRegistry({ url });
    await expect(registry.schema(99)).rejects.toMatchObject({ code: 'KAFKA_SCHEMA_NOT_FOUND', retriable: false });
    await expect(registry.schema(500)).rejects.toMatchObject({ code: 'KAFKA_SCHEMA_REGISTRY_FAILED', retriable: true });
    await expect(registry.schema(500)).rejects.toMatchObject({ code: 'KAFKA_SCHEMA_REGISTRY_FAILED' });
    expect(registry.requests).toBe(3);
    const unreachable = schemaRegistry({ url: 'http://127.0.0.1:1', timeoutMs: 2_000 });
    await expect(unreachable.schema(1)).rejects.toMatchObject({ code: 'KAFKA_SCHEMA_REGISTRY_FAILED', retriable: true });
  });

  it('refuses credentials in the URL and non-http URLs', () => {
    expect(() => schemaRegistry({ url: 'http://user:pw@registry:8081' })).toThrow(InvalidOptionsError);
    expect(() => schemaRegistry({ url: 'ftp://registry' })).toThrow(/url: must be an http\(s\) URL/);
  });

  it('decodes JSON Schema payloads by default (integers beyond 2^53 exact), Avro built in, other types through compile (once per schema id)', async () => {
    const registry = schemaRegistry({ url });
    const json = confluentDeserializer<{ id: number }>({ registry });
    const decode = typeof json === 'function' ? json : undefined;
    expect(await decode!(encodeConfluentFrame(7, Buffer.from('{"id":5}')), meta)).toEqual({ id: 5 });
    expect(await decode!(encodeConfluentFrame(7, Buffer.from('{"id":9007199254740993,"n":1.5,"s":"12345678901234567"}')), meta)).toEqual({ id: 9007199254740993n, n: 1.5, s: '12345678901234567' });
    expect(await decode!(null, meta)).toBeNull();
    expect(await decode!(encodeConfluentFrame(8, Buffer.from([10])), meta)).toEqual({ id: 5 });
    await expect(Promise.resolve(decode!(encodeConfluentFrame(9, Buffer.from([8, 1])), meta))).rejects.toMatchObject({ code: 'KAFKA_SCHEMA_TYPE_UNSUPPORTED', retriable: false });
    await expect(Promise.resolve(decode!(Buffer.from('{"id":5}'), meta))).rejects.toMatchObject({ code: 'KAFKA_NOT_CONFLUENT_FRAMED' });

    let compiled = 0;
    const protobufLike = confluentDeserializer<{ id: number }>({
      registry,
      compile: (schema, passed) => {
        compiled++;
        expect(schema.schemaType).toBe('PROTOBUF');
        expect(passed).toBe(registry);
        // Stand-in for a Protobuf decoder: field 1 as a one-byte varint.
        return (payload) => ({ id: payload[1]! });
      },
    }) as (value: Buffer | null, m: KafkaMessageMeta) => Promise<{ id: number }>;
    expect(await protobufLike(encodeConfluentFrame(9, Buffer.from([8, 5])), meta)).toEqual({ id: 5 });
    expect(await protobufLike(encodeConfluentFrame(9, Buffer.from([8, 7])), meta)).toEqual({ id: 7 });
    expect(compiled).toBe(1);
  });

  it('maps Avro logical types to exact strings, longs beyond 2^53 to bigint, records to plain objects', async () => {
    const writer = avro.Type.forSchema(JSON.parse(JSON.stringify(logicalSchema).replaceAll('"logicalType"', '"ignoredLogicalType"')) as avro.Schema);
    const value = {
      price: twosComplement(-123450n), // -1234.50
      rate: twosComplement(123n, 4), // 0.0123
      day: 19_783, // 2024-03-01
      at: 1_709_296_496_123,
      atMicros: 1_709_296_496_123_456,
      localAt: 1_709_296_496_000_001,
      time: 45_296_007, // 12:34:56.007
      timeMicros: 45_296_000_042,
      id: '6f1c2a4e-1b2c-4d5e-8f90-123456789abc',
      big: 9_007_199_254_740_993n,
      small: -42,
      note: 'hi',
      tags: { a: 1 },
      raw: Buffer.from([1, 2]),
      notDecimal: 7,
    };
    const longType = avro.types.LongType.__with({
      fromBuffer: (buffer: Buffer) => buffer.readBigInt64LE(),
      toBuffer: (v: bigint | number) => {
        const buffer = Buffer.alloc(8);
        buffer.writeBigInt64LE(BigInt(v));
        return buffer;
      },
      fromJSON: BigInt,
      toJSON: Number,
      isValid: (v: unknown) => typeof v === 'bigint' || typeof v === 'number',
      compare: () => 0,
    });
    const encoder = avro.Type.forSchema(writer.schema(), { registry: { long: longType } });
    const decode = confluentDeserializer<Record<string, unknown>>({ registry: schemaRegistry({ url }) }) as (value: Buffer | null, m: KafkaMessageMeta) => Promise<Record<string, unknown>>;
    const decoded = await decode(encodeConfluentFrame(10, encoder.toBuffer(value)), meta);
    expect(decoded).toStrictEqual({
      price: '-1234.50',
      rate: '0.0123',
      day: '2024-03-01',
      at: '2024-03-01T12:34:56.123Z',
      atMicros: '2024-03-01T12:34:56.123456Z',
      localAt: '2024-03-01T12:34:56.000001',
      time: '12:34:56.007',
      timeMicros: '12:34:56.000042',
      id: '6f1c2a4e-1b2c-4d5e-8f90-123456789abc',
      big: 9_007_199_254_740_993n,
      small: -42,
      note: 'hi',
      tags: { a: 1 },
      raw: Buffer.from([1, 2]),
      notDecimal: 7, // a logical type on the wrong underlying type is ignored, as the Avro specification says
    });
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    // Trailing or missing bytes are the record's fault (dead letter), not the registry's.
    await expect(decode(encodeConfluentFrame(10, Buffer.concat([encoder.toBuffer(value), Buffer.from([0])])), meta)).rejects.not.toMatchObject({ retriable: true });
    await expect(decode(encodeConfluentFrame(8, Buffer.alloc(0)), meta)).rejects.toThrow();
  });

  it('resolves Avro schema references through subject versions (once each), and refuses schemas avsc cannot parse', async () => {
    const registry = schemaRegistry({ url });
    const money = avro.Type.forSchema(moneySchema as avro.Schema, { registry: {} });
    const invoice = avro.Type.forSchema(
      {
        type: 'record',
        name: 'Invoice',
        namespace: 'u',
        fields: [
          { name: 'total', type: moneySchema },
          { name: 'lines', type: { type: 'array', items: { type: 'record', name: 'Line', fields: [{ name: 'sku', type: 'string' }, { name: 'price', type: 'u.Money' }] } } },
        ],
      } as avro.Schema,
      { registry: {} },
    );
    expect(money.name).toBe('u.Money');
    const decode = confluentDeserializer({ registry }) as (value: Buffer | null, m: KafkaMessageMeta) => Promise<unknown>;
    const payload = invoice.toBuffer({ total: { amount: twosComplement(1999n), currency: 'EUR' }, lines: [{ sku: 'a', price: { amount: twosComplement(1999n), currency: 'EUR' } }] });
    expect(await decode(encodeConfluentFrame(11, payload), meta)).toEqual({ total: { amount: '19.99', currency: 'EUR' }, lines: [{ sku: 'a', price: { amount: '19.99', currency: 'EUR' } }] });
    expect(seen.filter((request) => request.path.startsWith('/subjects/')).map((request) => request.path).sort()).toEqual(['/subjects/line/versions/2', '/subjects/money/versions/1']);
    await expect(decode(encodeConfluentFrame(12, Buffer.alloc(1)), meta)).rejects.toMatchObject({ code: 'KAFKA_SCHEMA_INVALID', retriable: false, message: expect.stringMatching(/Schema id 12 is not a usable Avro schema/) });
    await expect(registry.subjectVersion('missing', 1)).rejects.toMatchObject({ code: 'KAFKA_SCHEMA_NOT_FOUND', message: expect.stringMatching(/Subject "missing" version 1 is not registered/) });
  });
});
