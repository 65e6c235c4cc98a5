/**
 * Smoke test of the schema registry started by `scripts/services.sh up schema-registry` (Apicurio Registry's
 * Confluent-compatible API; see docs/decisions/0016-schema-registry-service.md): the calls a Confluent serializer and
 * deserializer make — register under a subject, look up by id, evolve under a compatibility level, references — with
 * the answers Confluent's registry gives. It fails, never skips, when the service is down.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { services } from '../support/services.js';

const id = randomUUID().slice(0, 8);
const contentType = 'application/vnd.schemaregistry.v1+json';

async function call<T>(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown): Promise<{ status: number; json: T }> {
  const res = await fetch(`${services.schemaRegistryUrl}${path}`, {
    method,
    headers: { accept: contentType, ...(body === undefined ? {} : { 'content-type': contentType }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, json: (await res.json()) as T };
}

const record = (name: string, fields: unknown[]): string => JSON.stringify({ type: 'record', name, namespace: `smoke.r${id}`, fields });

describe('schema registry service (Confluent-compatible API)', () => {
  it('registers an Avro schema, returns it by id, and gives the same id for the same schema', async () => {
    const subject = `smoke-${id}-avro-value`;
    const schema = record('Order', [{ name: 'id', type: 'long' }]);
    const created = await call<{ id: number }>('POST', `/subjects/${subject}/versions`, { schema });
    expect(created.status).toBe(200);
    expect(Number.isInteger(created.json.id)).toBe(true);
    const byId = await call<{ schema: string; schemaType?: string }>('GET', `/schemas/ids/${created.json.id}`);
    expect(byId.status).toBe(200);
    expect(JSON.parse(byId.json.schema)).toEqual(JSON.parse(schema));
    expect(byId.json.schemaType ?? 'AVRO').toBe('AVRO');
    expect((await call<{ id: number }>('POST', `/subjects/${subject}/versions`, { schema })).json.id).toBe(created.json.id);
    const lookup = await call<{ id: number; version: number }>('POST', `/subjects/${subject}`, { schema });
    expect(lookup.json).toMatchObject({ id: created.json.id, version: 1 });
  });

  it('stores JSON Schema with its type', async () => {
    const schema = JSON.stringify({ type: 'object', properties: { id: { type: 'integer' } }, title: `smoke-${id}` });
    const created = await call<{ id: number }>('POST', `/subjects/smoke-${id}-json-value/versions`, { schemaType: 'JSON', schema });
    const byId = await call<{ schema: string; schemaType: string }>('GET', `/schemas/ids/${created.json.id}`);
    expect(byId.json.schemaType).toBe('JSON');
    expect(JSON.parse(byId.json.schema)).toEqual(JSON.parse(schema));
  });

  it('evolves a subject under BACKWARD compatibility and refuses an incompatible change with 409', async () => {
    const subject = `smoke-${id}-evolve-value`;
    expect((await call('PUT', `/config/${subject}`, { compatibility: 'BACKWARD' })).status).toBe(200);
    const v1 = await call<{ id: number }>('POST', `/subjects/${subject}/versions`, { schema: record('Evolving', [{ name: 'id', type: 'long' }]) });
    const v2 = await call<{ id: number }>('POST', `/subjects/${subject}/versions`, {
      schema: record('Evolving', [{ name: 'id', type: 'long' }, { name: 'note', type: 'string', default: '' }]),
    });
    expect(v2.status).toBe(200);
    expect(v2.json.id).not.toBe(v1.json.id);
    const refused = await call<{ error_code: number }>('POST', `/subjects/${subject}/versions`, { schema: record('Evolving', [{ name: 'id', type: 'string' }]) });
    expect(refused.status).toBe(409);
    expect((await call<number[]>('GET', `/subjects/${subject}/versions`)).json).toEqual([1, 2]);
  });

  it('keeps references and answers 404 / 40403 for an unknown id', async () => {
    const money = `smoke-${id}-money`;
    await call('POST', `/subjects/${money}/versions`, { schema: record('Money', [{ name: 'cents', type: 'long' }]) });
    const orderSchema = record('Priced', [{ name: 'price', type: `smoke.r${id}.Money` }]);
    const references = [{ name: `smoke.r${id}.Money`, subject: money, version: 1 }];
    const created = await call<{ id: number }>('POST', `/subjects/smoke-${id}-priced-value/versions`, { schema: orderSchema, references });
    expect(created.status).toBe(200);
    expect((await call<{ references: unknown[] }>('GET', `/schemas/ids/${created.json.id}`)).json.references).toEqual(references);
    const missing = await call<{ error_code: number }>('GET', '/schemas/ids/2147483000');
    expect(missing.status).toBe(404);
    expect(missing.json.error_code).toBe(40403);
  });
});
