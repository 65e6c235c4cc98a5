/**
 * The Confluent wire format and the registry client. No schema registry runs in this environment: frames are built
 * by hand, and the registry is a local HTTP server answering GET /schemas/ids/{id} the way Confluent's does.
 */
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidOptionsError } from '@tributary/core';
import { confluentDeserializer, decodeConfluentFrame, encodeConfluentFrame, schemaRegistry } from './schema-registry.js';
import type { KafkaMessageMeta } from './kafka-deserializer.js';

const meta: KafkaMessageMeta = { topic: 't', partition: 0, offset: 1, key: null, headers: {}, timestamp: 0 };

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
  };

  beforeAll(async () => {
    server = createServer((request, response) => {
      seen.push({ path: request.url ?? '', headers: request.headers });
      const id = /^\/schemas\/ids\/(\d+)$/.exec(request.url ?? '')?.[1];
      if (id === '500') {
        response.writeHead(500).end('{"error_code":50001}');
        return;
      }
      const body = id === undefined ? undefined : schemas[id];
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

  it('decodes JSON Schema payloads by default, other types through compile (once per schema id)', async () => {
    const registry = schemaRegistry({ url });
    const json = confluentDeserializer<{ id: number }>({ registry });
    const decode = typeof json === 'function' ? json : undefined;
    expect(await decode!(encodeConfluentFrame(7, Buffer.from('{"id":5}')), meta)).toEqual({ id: 5 });
    expect(await decode!(null, meta)).toBeNull();
    await expect(Promise.resolve(decode!(encodeConfluentFrame(8, Buffer.from([10])), meta))).rejects.toMatchObject({ code: 'KAFKA_SCHEMA_TYPE_UNSUPPORTED' });
    await expect(Promise.resolve(decode!(Buffer.from('{"id":5}'), meta))).rejects.toMatchObject({ code: 'KAFKA_NOT_CONFLUENT_FRAMED' });

    let compiled = 0;
    const avroLike = confluentDeserializer<{ id: number }>({
      registry,
      compile: (schema) => {
        compiled++;
        expect(schema.schemaType).toBe('AVRO');
        // Stand-in for an Avro decoder: an int as a zig-zag varint of one byte.
        return (payload) => ({ id: (payload[0]! >> 1) ^ -(payload[0]! & 1) });
      },
    }) as (value: Buffer | null, m: KafkaMessageMeta) => Promise<{ id: number }>;
    expect(await avroLike(encodeConfluentFrame(8, Buffer.from([10])), meta)).toEqual({ id: 5 });
    expect(await avroLike(encodeConfluentFrame(8, Buffer.from([3])), meta)).toEqual({ id: -2 });
    expect(compiled).toBe(1);
  });
});
