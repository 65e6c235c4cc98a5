/**
 * Unit tests of the REST catalog client against a tiny local HTTP server that plays the catalog: request shapes,
 * status mapping (409, 4xx, 5xx, timeouts, resets, bad JSON), retries of reads only, paging, and secrets kept out of
 * errors. The real server is exercised in test/integration/rest-catalog.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { InvalidOptionsError } from '@tributary/core';
import { localObjectStore } from '@tributary/connectors/s3';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LakehouseError } from '../errors.js';
import type { IcebergSchema } from '../schema/types.js';
import { CommitConflictError, CommitStateUnknownError } from './catalog.js';
import type { Catalog, TableIdentifier } from './catalog.js';
import { restCatalog } from './rest-catalog.js';
import type { RestCatalogOptions } from './rest-catalog.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}
type Handler = (request: Seen, response: ServerResponse) => void;

let server: Server;
let baseUrl: string;
let routes: Handler;
let seen: Seen[];
const warehouse = path.join(tmpdir(), `tributary-rest-unit-${randomUUID()}`);
const store = localObjectStore({ root: warehouse });
const id: TableIdentifier = { namespace: ['db'], name: 'orders' };
const BIG_ID = '9007199254740993123'; // far beyond 2^53 (JSON.parse rounds it), below 2^63

const json = (response: ServerResponse, status: number, body: string | object, headers: Record<string, string> = {}): void => {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(typeof body === 'string' ? body : JSON.stringify(body));
};
const errorBody = (code: number, type: string, message: string) => ({
  error: { message, type, code, stack: ['org.apache.iceberg.SecretInternals.frame(Internal.java:42)', 'at SECRET_STACK_FRAME'] },
});

/** Table metadata as JSON text, with a snapshot id beyond 2^53 written as raw digits (JSON.parse would round it). */
const metadataText = (location = `${store.location}db/orders`, snapshotId = BIG_ID): string => `{
  "format-version": 2, "table-uuid": "9c12d441-03fe-4693-9a96-a0705ddf69c1", "location": "${location}",
  "last-sequence-number": 1, "last-updated-ms": 1700000000000, "last-column-id": 2,
  "current-schema-id": 0,
  "schemas": [{"type": "struct", "schema-id": 0, "fields": [
    {"id": 1, "name": "id", "required": true, "type": "long"}, {"id": 2, "name": "name", "required": false, "type": "string"}]}],
  "default-spec-id": 0, "partition-specs": [{"spec-id": 0, "fields": []}], "last-partition-id": 999,
  "default-sort-order-id": 0, "sort-orders": [{"order-id": 0, "fields": []}],
  "properties": {"owner": "test"},
  "current-snapshot-id": ${snapshotId},
  "refs": {"main": {"snapshot-id": ${snapshotId}, "type": "branch"}},
  "snapshots": [{"snapshot-id": ${snapshotId}, "sequence-number": 1, "timestamp-ms": 1700000000000,
    "manifest-list": "${location}/metadata/snap-1.avro", "summary": {"operation": "append"}, "schema-id": 0}],
  "snapshot-log": [{"timestamp-ms": 1700000000000, "snapshot-id": ${snapshotId}}],
  "metadata-log": []
}`;
const loadResult = (metadata = metadataText()): string =>
  `{"metadata-location": "file:${warehouse}/db/orders/metadata/00001-x.metadata.json", "metadata": ${metadata}}`;

const config = (overrides: Record<string, string> = { 'namespace-separator': '%1F' }, endpoints?: string[]) => ({
  defaults: {},
  overrides,
  ...(endpoints === undefined ? {} : { endpoints }),
});

/** Serves /v1/config from `configBody`, everything else through `handler`. */
const serve = (handler: Handler, configBody: object = config()): void => {
  routes = (request, response) => {
    if (request.url.startsWith('/v1/config')) return json(response, 200, configBody);
    handler(request, response);
  };
};

const catalog = (options: Partial<RestCatalogOptions> = {}): Catalog =>
  restCatalog({ uri: baseUrl, io: store, retryDelayMs: 1, timeoutMs: 2_000, ...options });

const failureOf = async (promise: Promise<unknown>): Promise<LakehouseError> => {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(LakehouseError);
    return error as LakehouseError;
  }
  throw new Error('expected a rejection');
};
const nonConfig = (): Seen[] => seen.filter((r) => !r.url.startsWith('/v1/config'));

beforeAll(async () => {
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const entry = { method: request.method!, url: request.url!, headers: request.headers, body: Buffer.concat(chunks).toString('utf8') };
      seen.push(entry);
      routes(entry, response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
beforeEach(() => {
  seen = [];
  routes = (_request, response) => json(response, 500, { error: { message: 'no route in this test', type: 'Test', code: 500 } });
});

describe('restCatalog options', () => {
  it('fails at construction naming the bad field, and sends nothing', () => {
    const bad: [Partial<RestCatalogOptions>, RegExp][] = [
      [{ uri: 'ftp://host' }, /uri: must be an http:\/\/ or https:\/\/ URL/],
      [{ uri: 'http://user:pw@host' }, /uri: must not contain credentials/],
      [{ uri: 'http://host/?token=x' }, /uri: must not have a query string/],
      [{ timeoutMs: 0 }, /timeoutMs: must be a positive number/],
      [{ retries: -1 }, /retries: must be at least 0/],
      [{ io: {} as never }, /io: must be an ObjectStore/],
      [{ headers: { 'bad header': 'x' } }, /headers: must be valid HTTP header names/],
      [{ token: 's3cr3t-token-value', headers: { Authorization: 'Bearer other' } }, /token: token and an Authorization header are both set/],
    ];
    for (const [options, message] of bad) {
      let caught: unknown;
      try {
        catalog(options);
      } catch (error) {
        caught = error;
      }
      expect(caught, JSON.stringify(options)).toBeInstanceOf(InvalidOptionsError);
      expect((caught as Error).message).toMatch(message);
      expect((caught as Error).message).not.toContain('s3cr3t-token-value');
    }
    expect(() => restCatalog({ io: store } as never)).toThrow(/uri:/);
    expect(() => restCatalog({ uri: baseUrl } as never)).toThrow(/io: must be an ObjectStore/);
    expect(() => catalog({ unknown: 1 } as never)).toThrow(InvalidOptionsError);
    expect(seen).toEqual([]);
    expect(catalog().name).toBe('rest');
    expect(catalog({ name: 'lake' }).name).toBe('lake');
  });
});

describe('restCatalog requests', () => {
  it('fetches /v1/config once, lazily, with the warehouse, and builds paths from its prefix and separator', async () => {
    serve(
      (request, response) => {
        if (request.method === 'GET') return json(response, 200, loadResult());
        json(response, 500, {});
      },
      config({ prefix: 'wh-1', 'namespace-separator': '%1F' }),
    );
    const rest = catalog({ warehouse: 'my warehouse' });
    expect(seen).toEqual([]);
    await rest.loadTable({ namespace: ['a', 'b c'], name: 't/1' });
    await rest.loadTable(id);
    expect(seen.map((r) => `${r.method} ${r.url}`)).toEqual([
      'GET /v1/config?warehouse=my+warehouse',
      'GET /v1/wh-1/namespaces/a%1Fb%20c/tables/t%2F1',
      'GET /v1/wh-1/namespaces/db/tables/orders',
    ]);
    expect(seen[1]!.headers.accept).toBe('application/json');
    expect(seen[1]!.headers.authorization).toBeUndefined();
  });

  it('refuses a namespace level containing the separator, and fetches the config again after a failed fetch', async () => {
    let configCalls = 0;
    routes = (request, response) => {
      if (request.url.startsWith('/v1/config')) {
        configCalls++;
        return configCalls === 1 ? json(response, 404, errorBody(404, 'NotFound', 'no config here')) : json(response, 200, config({ 'namespace-separator': '%2E' }));
      }
      json(response, 200, loadResult());
    };
    const rest = catalog();
    const first = await failureOf(rest.loadTable(id));
    expect(first.code).toBe('CATALOG_REQUEST_FAILED');
    expect(first.message).toMatch(/Catalog rest: reading the catalog configuration failed: GET \/v1\/config answered HTTP 404 \(NotFound: no config here\)/);
    const bad = await failureOf(rest.loadTable({ namespace: ['a.b'], name: 't' }));
    expect(bad.code).toBe('INVALID_NAMESPACE');
    expect(configCalls).toBe(2);
    await rest.loadTable({ namespace: ['a', 'b'], name: 't' });
    expect(seen.at(-1)!.url).toBe('/v1/namespaces/a%2Eb/tables/t');
  });

  it('loads a table losslessly: a snapshot id beyond 2^53 stays exact; file:/ locations are normalized; io covers the table', async () => {
    serve((_request, response) => json(response, 200, loadResult()));
    const loaded = await catalog().loadTable(id);
    expect(loaded.metadata['current-snapshot-id']).toBe(BigInt(BIG_ID));
    expect(loaded.metadata.snapshots[0]!['snapshot-id']).toBe(BigInt(BIG_ID));
    expect(loaded.metadata.refs.main!['snapshot-id']).toBe(BigInt(BIG_ID));
    expect(loaded.metadataLocation).toBe(`file://${warehouse}/db/orders/metadata/00001-x.metadata.json`);
    expect(loaded.identifier).toEqual(id);
    expect(loaded.io.store).toBe(store);
    expect(loaded.io.uri('db/orders/data/x.parquet')).toBe(`${loaded.metadata.location}/data/x.parquet`);
  });

  it('resolves io per table location when io is a function, reusing one FileIO per store', async () => {
    const other = localObjectStore({ root: path.join(warehouse, 'other') });
    const asked: string[] = [];
    serve((request, response) =>
      json(response, 200, loadResult(metadataText(request.url.includes('elsewhere') ? `${other.location}t` : `${store.location}db/orders`))),
    );
    const rest = catalog({
      io: (location) => {
        asked.push(location);
        return location.startsWith(other.location) ? other : store;
      },
    });
    const a = await rest.loadTable(id);
    const b = await rest.loadTable({ namespace: ['elsewhere'], name: 't' });
    const c = await rest.loadTable(id);
    expect(a.io.store).toBe(store);
    expect(b.io.store).toBe(other);
    expect(c.io).toBe(a.io);
    expect(asked).toEqual([`${store.location}db/orders`, `${other.location}t`, `${store.location}db/orders`]);
  });

  it('maps load failures: 404 TABLE_NOT_FOUND, bad JSON CATALOG_BAD_RESPONSE, unusable metadata CORRUPT_METADATA, 401 CATALOG_AUTH_FAILED', async () => {
    const rest = catalog({ retries: 0 });
    serve((_request, response) => json(response, 404, errorBody(404, 'NoSuchTableException', 'Table does not exist: db.orders')));
    const missing = await failureOf(rest.loadTable(id));
    expect(missing.code).toBe('TABLE_NOT_FOUND');
    expect(missing.table).toBe('db.orders');
    expect(missing.message).toMatch(/Table db\.orders does not exist in catalog rest/);

    serve((_request, response) => json(response, 200, '{"metadata-location": "x", "metadata": {'));
    const garbled = await failureOf(rest.loadTable(id));
    expect(garbled.code).toBe('CATALOG_BAD_RESPONSE');
    expect(garbled.message).toMatch(/GET \/v1\/namespaces\/db\/tables\/orders answered HTTP 200 with a body that is not JSON/);

    serve((_request, response) => json(response, 200, loadResult(metadataText().replace('"format-version": 2', '"format-version": 7'))));
    const corrupt = await failureOf(rest.loadTable(id));
    expect(corrupt.code).toBe('CORRUPT_METADATA');
    expect(corrupt.file).toMatch(/00001-x\.metadata\.json$/);

    serve((_request, response) => json(response, 200, '{"metadata": {}}'));
    expect((await failureOf(rest.loadTable(id))).code).toBe('CATALOG_BAD_RESPONSE');

    serve((_request, response) => json(response, 401, errorBody(401, 'NotAuthorizedException', 'Not authorized')));
    const denied = await failureOf(rest.loadTable(id));
    expect(denied.code).toBe('CATALOG_AUTH_FAILED');
    expect(denied.message).toMatch(/HTTP 401 \(NotAuthorizedException: Not authorized\)\. Check the catalog token/);
    expect(denied.message).not.toContain('SECRET_STACK_FRAME');
  });

  it('retries reads on 5xx, 429 and resets with backoff, then reports CATALOG_UNAVAILABLE with the attempt count', async () => {
    let calls = 0;
    serve((request, response) => {
      calls++;
      if (calls === 1) return json(response, 503, errorBody(503, 'ServiceUnavailable', 'busy'));
      if (calls === 2) return json(response, 429, errorBody(429, 'SlowDown', 'slow down'));
      if (calls === 3) return response.socket?.destroy();
      json(response, 200, loadResult());
    });
    const loaded = await catalog({ retries: 3 }).loadTable(id);
    expect(loaded.metadata['table-uuid']).toBe('9c12d441-03fe-4693-9a96-a0705ddf69c1');
    expect(nonConfig()).toHaveLength(4);

    seen = [];
    serve((_request, response) => json(response, 500, '<html><body>boom</body></html>', { 'content-type': 'text/html' }));
    const failing = await failureOf(catalog({ retries: 2 }).loadTable(id));
    expect(nonConfig()).toHaveLength(3);
    expect(failing.code).toBe('CATALOG_UNAVAILABLE');
    expect(failing.retriable).toBe(true);
    expect(failing.message).toMatch(/loading table db\.orders failed: GET \/v1\/namespaces\/db\/tables\/orders answered HTTP 500 \(no error details \(a text\/html body\)\) \(3 attempts\)/);
    expect(failing.message).not.toContain('boom');
  });

  it('times out a request that gets no answer, retrying reads only', async () => {
    serve(() => undefined); // never answers
    const started = Date.now();
    const timedOut = await failureOf(catalog({ timeoutMs: 150, retries: 1 }).loadTable(id));
    expect(timedOut.code).toBe('CATALOG_UNAVAILABLE');
    expect(timedOut.retriable).toBe(true);
    expect(timedOut.message).toMatch(/Catalog rest \(http:\/\/127\.0\.0\.1:\d+\) did not answer GET \/v1\/namespaces\/db\/tables\/orders after 2 attempts: no answer within 150 ms/);
    expect(nonConfig()).toHaveLength(2);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('reports a refused connection as CATALOG_UNAVAILABLE', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const refused = await failureOf(restCatalog({ uri: `http://127.0.0.1:${port}`, io: store, retries: 1, retryDelayMs: 1 }).listNamespaces());
    expect(refused.code).toBe('CATALOG_UNAVAILABLE');
    expect(refused.message).toMatch(/did not answer GET \/v1\/config after 2 attempts: network error \(ECONNREFUSED\)/);
  });
});

describe('restCatalog commitTable', () => {
  const uuid = '9c12d441-03fe-4693-9a96-a0705ddf69c1';
  const commit = (rest: Catalog) =>
    rest.commitTable(
      id,
      [
        { type: 'assert-table-uuid', uuid },
        { type: 'assert-ref-snapshot-id', ref: 'main', 'snapshot-id': BigInt(BIG_ID) },
      ],
      [{ action: 'set-snapshot-ref', 'ref-name': 'main', type: 'branch', 'snapshot-id': BigInt(BIG_ID) }],
    );

  it('sends requirements and updates with exact 64-bit ids and returns the server metadata', async () => {
    serve((_request, response) => json(response, 200, loadResult()));
    const loaded = await commit(catalog());
    const request = nonConfig()[0]!;
    expect(`${request.method} ${request.url}`).toBe('POST /v1/namespaces/db/tables/orders');
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.body).toBe(
      `{"identifier":{"namespace":["db"],"name":"orders"},"requirements":[{"type":"assert-table-uuid","uuid":"${uuid}"},` +
        `{"type":"assert-ref-snapshot-id","ref":"main","snapshot-id":${BIG_ID}}],` +
        `"updates":[{"action":"set-snapshot-ref","ref-name":"main","type":"branch","snapshot-id":${BIG_ID}}]}`,
    );
    expect(loaded.metadata.refs.main!['snapshot-id']).toBe(BigInt(BIG_ID));
    expect(loaded.metadataLocation).toMatch(/^file:\/\/\/.*00001-x\.metadata\.json$/);
  });

  it('409 is a retriable CommitConflictError carrying only the server message and type', async () => {
    serve((_request, response) =>
      json(response, 409, errorBody(409, 'CommitFailedException', 'Requirement failed: branch main has changed: expected id 1 != 2')),
    );
    const conflict = await failureOf(commit(catalog()));
    expect(conflict).toBeInstanceOf(CommitConflictError);
    expect(conflict.retriable).toBe(true);
    expect(conflict.table).toBe('db.orders');
    expect(conflict.message).toBe(
      'Commit to table db.orders in catalog rest conflicts with a concurrent change (HTTP 409: CommitFailedException: Requirement ' +
        'failed: branch main has changed: expected id 1 != 2). Reload the table, rebase the change and commit again.',
    );
    expect(inspect(conflict)).not.toContain('SECRET_STACK_FRAME');
    expect(nonConfig()).toHaveLength(1);
  });

  it('5xx, a timeout, a reset connection or an unreadable 200 is CommitStateUnknownError, never retried', async () => {
    const cases: [string, Handler, RegExp][] = [
      ['500', (_q, r) => json(r, 500, errorBody(500, 'CommitStateUnknownException', 'Service failed')), /answered HTTP 500 \(CommitStateUnknownException: Service failed\)/],
      ['502', (_q, r) => json(r, 502, 'Bad Gateway', { 'content-type': 'text/plain' }), /answered HTTP 502 \(no error details \(a text\/plain body\)\)/],
      ['503', (_q, r) => json(r, 503, ''), /answered HTTP 503 \(no error details\)/],
      ['504', (_q, r) => json(r, 504, errorBody(504, 'GatewayTimeout', 'upstream timed out')), /answered HTTP 504/],
      ['507', (_q, r) => json(r, 507, errorBody(507, 'Insufficient', 'disk full')), /answered HTTP 507/],
      ['timeout', () => undefined, /got no answer: no answer within 200 ms/],
      ['reset', (_q, r) => r.socket?.destroy(), /got no answer: network error/],
      ['bad JSON 200', (_q, r) => json(r, 200, '{"metadata-location": '), /answered HTTP 200 with a body that cannot be used/],
      ['bad metadata 200', (_q, r) => json(r, 200, loadResult('{"format-version": 2}')), /answered HTTP 200 with a body that cannot be used \(Table metadata/],
    ];
    for (const [label, handler, message] of cases) {
      seen = [];
      serve(handler);
      const error = await failureOf(commit(catalog({ timeoutMs: 200, retries: 3 })));
      expect(error, label).toBeInstanceOf(CommitStateUnknownError);
      expect(error.code, label).toBe('COMMIT_STATE_UNKNOWN');
      expect(error.retriable, label).toBe(false);
      expect(error.table, label).toBe('db.orders');
      expect(error.message, label).toMatch(message);
      expect(error.message, label).toMatch(/^Commit to table db\.orders in catalog rest has an unknown outcome: POST \/v1\/namespaces\/db\/tables\/orders /);
      expect(error.message, label).toMatch(/keep the files it references, reload the table/);
      expect(nonConfig(), label).toHaveLength(1);
    }
  });

  it('400 is INVALID_UPDATE with the server message, 404 TABLE_NOT_FOUND, 401 CATALOG_AUTH_FAILED; a redirect is not followed', async () => {
    serve((_request, response) => json(response, 400, errorBody(400, 'ValidationException', 'Cannot add snapshot with sequence number 1 older than last sequence number 3')));
    const invalid = await failureOf(commit(catalog()));
    expect(invalid.code).toBe('INVALID_UPDATE');
    expect(invalid).not.toBeInstanceOf(CommitStateUnknownError);
    expect(invalid.message).toBe(
      'Catalog rest refused the commit to table db.orders as invalid (HTTP 400: ValidationException: Cannot add snapshot with ' +
        'sequence number 1 older than last sequence number 3). Nothing was applied.',
    );

    serve((_request, response) => json(response, 404, errorBody(404, 'NoSuchTableException', 'Table does not exist: db.orders')));
    const missing = await failureOf(commit(catalog()));
    expect(missing.code).toBe('TABLE_NOT_FOUND');
    expect(missing.message).toMatch(/HTTP 404: NoSuchTableException: Table does not exist: db\.orders/);

    serve((_request, response) => json(response, 403, errorBody(403, 'ForbiddenException', 'Forbidden')));
    expect((await failureOf(commit(catalog()))).code).toBe('CATALOG_AUTH_FAILED');

    seen = [];
    serve((request, response) => {
      if (request.url.startsWith('/elsewhere')) return json(response, 200, loadResult());
      response.writeHead(307, { location: `${baseUrl}/elsewhere` }).end();
    });
    const redirected = await failureOf(commit(catalog()));
    expect(redirected.code).toBe('CATALOG_REQUEST_FAILED');
    expect(redirected.message).toMatch(/answered HTTP 307 .*a redirect to http:\/\/127\.0\.0\.1:\d+\/elsewhere\. Set uri/);
    expect(nonConfig().map((r) => r.url)).toEqual(['/v1/namespaces/db/tables/orders']);
  });
});

describe('restCatalog namespaces, tables and listing', () => {
  const schema: IcebergSchema = {
    type: 'struct',
    'schema-id': 0,
    'identifier-field-ids': [1],
    fields: [
      { id: 1, name: 'id', required: true, type: 'long' },
      { id: 2, name: 'name', required: false, type: 'string' },
    ],
  };

  it('creates a namespace idempotently (409 is fine) and creates missing parents on 404', async () => {
    const existing = new Set<string>(['top']);
    serve((request, response) => {
      const body = JSON.parse(request.body) as { namespace: string[] };
      const key = body.namespace.join('.');
      if (existing.has(key)) return json(response, 409, errorBody(409, 'AlreadyExistsException', `Namespace already exists: ${key}`));
      if (body.namespace.length > 1 && !existing.has(body.namespace.slice(0, -1).join('.'))) {
        return json(response, 404, errorBody(404, 'NoSuchNamespaceException', 'parent missing'));
      }
      existing.add(key);
      json(response, 200, { namespace: body.namespace, properties: {} });
    });
    const rest = catalog();
    await rest.createNamespace(['top'], { owner: 'me' });
    expect(nonConfig()[0]!.body).toBe('{"namespace":["top"],"properties":{"owner":"me"}}');
    await rest.createNamespace(['a', 'b', 'c']);
    expect(nonConfig().map((r) => JSON.parse(r.body) as unknown)).toEqual([
      { namespace: ['top'], properties: { owner: 'me' } },
      { namespace: ['a', 'b', 'c'], properties: {} },
      { namespace: ['a', 'b'], properties: {} },
      { namespace: ['a'], properties: {} },
      { namespace: ['a', 'b'], properties: {} },
      { namespace: ['a', 'b', 'c'], properties: {} },
    ]);
    expect([...existing].sort()).toEqual(['a', 'a.b', 'a.b.c', 'top']);
  });

  it('maps a create request onto the REST body and returns the server metadata; 409 TABLE_EXISTS; 404 creates the namespace', async () => {
    let namespaceExists = false;
    let tableExists = false;
    serve((request, response) => {
      if (request.url === '/v1/namespaces') {
        namespaceExists = true;
        return json(response, 200, { namespace: ['db'], properties: {} });
      }
      if (!namespaceExists) return json(response, 404, errorBody(404, 'NoSuchNamespaceException', 'Namespace does not exist: db'));
      if (tableExists) return json(response, 409, errorBody(409, 'AlreadyExistsException', 'Table already exists: db.orders'));
      tableExists = true;
      json(response, 200, loadResult());
    });
    const rest = catalog();
    const created = await rest.createTable(id, {
      schema,
      partitionSpec: { 'spec-id': 0, fields: [{ 'source-id': 2, 'field-id': 1000, name: 'name', transform: 'identity' }] },
      sortOrder: { 'order-id': 1, fields: [{ 'source-id': 1, transform: 'identity', direction: 'asc', 'null-order': 'nulls-first' }] },
      properties: { owner: 'me' },
      location: `${store.location}custom/orders`,
    });
    expect(created.metadata.properties).toEqual({ owner: 'test' }); // the server's answer, not the request
    expect(nonConfig().map((r) => `${r.method} ${r.url}`)).toEqual([
      'POST /v1/namespaces/db/tables',
      'POST /v1/namespaces',
      'POST /v1/namespaces/db/tables',
    ]);
    expect(JSON.parse(nonConfig()[0]!.body)).toEqual({
      name: 'orders',
      location: `${store.location}custom/orders`,
      schema,
      'partition-spec': { 'spec-id': 0, fields: [{ 'source-id': 2, 'field-id': 1000, name: 'name', transform: 'identity' }] },
      'write-order': { 'order-id': 1, fields: [{ 'source-id': 1, transform: 'identity', direction: 'asc', 'null-order': 'nulls-first' }] },
      'stage-create': false,
      properties: { owner: 'me', 'format-version': '2' },
    });

    const exists = await failureOf(rest.createTable(id, { schema }));
    expect(exists.code).toBe('TABLE_EXISTS');
    expect(exists.message).toBe('Table db.orders already exists in catalog rest.');
    expect(JSON.parse(nonConfig().at(-1)!.body)).toEqual({ name: 'orders', schema, 'stage-create': false, properties: { 'format-version': '2' } });

    seen = [];
    const v3 = await failureOf(rest.createTable(id, { schema, properties: { 'format-version': '3' } }));
    expect(v3.code).toBe('INVALID_TABLE_PROPERTIES');
    expect(nonConfig()).toEqual([]);
  });

  it('follows page tokens for tables and walks nested namespaces', async () => {
    const tree: Record<string, string[][]> = { '': [['a'], ['b']], a: [['a', 'x']], 'a.x': [], b: [] };
    serve((request, response) => {
      const url = new URL(request.url, baseUrl);
      if (url.pathname === '/v1/namespaces') {
        const children = tree[url.searchParams.get('parent') ?? ''] ?? [];
        // One namespace per page, to exercise the tokens.
        const at = Number(url.searchParams.get('pageToken') ?? '0');
        return json(response, 200, { namespaces: children.slice(at, at + 1), 'next-page-token': at + 1 < children.length ? String(at + 1) : null });
      }
      if (url.pathname === '/v1/namespaces/db/tables') {
        const pages: Record<string, object> = {
          '': { identifiers: [{ namespace: ['db'], name: 'zeta' }], 'next-page-token': 'p2' },
          p2: { identifiers: [{ namespace: ['db'], name: 'alpha' }, { namespace: ['db'], name: 'mid' }], 'next-page-token': 'p3' },
          p3: { identifiers: [], 'next-page-token': null },
        };
        return json(response, 200, pages[url.searchParams.get('pageToken') ?? '']!);
      }
      if (url.pathname === '/v1/namespaces/loop/tables') return json(response, 200, { identifiers: [], 'next-page-token': 'same' });
      json(response, 404, errorBody(404, 'NoSuchNamespaceException', 'Namespace does not exist: gone'));
    });
    const rest = catalog({ pageSize: 2 });
    expect(await rest.listTables(['db'])).toEqual([
      { namespace: ['db'], name: 'alpha' },
      { namespace: ['db'], name: 'mid' },
      { namespace: ['db'], name: 'zeta' },
    ]);
    expect(nonConfig().map((r) => r.url)).toEqual([
      '/v1/namespaces/db/tables?pageSize=2',
      '/v1/namespaces/db/tables?pageToken=p2&pageSize=2',
      '/v1/namespaces/db/tables?pageToken=p3&pageSize=2',
    ]);
    expect(await rest.listNamespaces()).toEqual([['a'], ['a', 'x'], ['b']]);
    expect(seen.some((r) => r.url === '/v1/namespaces?parent=a%1Fx&pageSize=2')).toBe(true);
    expect((await failureOf(rest.listTables(['gone']))).code).toBe('NAMESPACE_NOT_FOUND');
    expect((await failureOf(rest.listTables(['loop']))).message).toMatch(/sent page token "same" twice/);
  });

  it('checks existence with HEAD when the server declares it, with GET otherwise', async () => {
    const handler: Handler = (request, response) => {
      if (request.url.endsWith('/missing')) return json(response, 404, errorBody(404, 'NoSuchTableException', 'missing'));
      if (request.method === 'HEAD') return response.writeHead(204).end();
      json(response, 200, loadResult());
    };
    serve(handler, config({}, ['GET /v1/{prefix}/namespaces/{namespace}/tables/{table}', 'HEAD /v1/{prefix}/namespaces/{namespace}/tables/{table}']));
    const withHead = catalog();
    expect(await withHead.tableExists(id)).toBe(true);
    expect(await withHead.tableExists({ namespace: ['db'], name: 'missing' })).toBe(false);
    expect(nonConfig().map((r) => r.method)).toEqual(['HEAD', 'HEAD']);
    // The default separator when the server names none is %1F.
    expect(nonConfig()[0]!.url).toBe('/v1/namespaces/db/tables/orders');

    seen = [];
    serve(handler, { defaults: {}, overrides: {} });
    const withoutHead = catalog();
    expect(await withoutHead.tableExists(id)).toBe(true);
    expect(await withoutHead.tableExists({ namespace: ['db'], name: 'missing' })).toBe(false);
    expect(nonConfig().map((r) => r.method)).toEqual(['GET', 'GET']);
  });

  it('drops with purgeRequested only when asked; 404 is TABLE_NOT_FOUND; a failed drop is not repeated', async () => {
    let dropped = false;
    serve((_request, response) => {
      if (dropped) return json(response, 404, errorBody(404, 'NoSuchTableException', 'Table does not exist'));
      dropped = true;
      response.writeHead(204).end();
    });
    const rest = catalog();
    await rest.dropTable(id, { purge: true });
    expect((await failureOf(rest.dropTable(id))).code).toBe('TABLE_NOT_FOUND');
    expect(nonConfig().map((r) => `${r.method} ${r.url}`)).toEqual([
      'DELETE /v1/namespaces/db/tables/orders?purgeRequested=true',
      'DELETE /v1/namespaces/db/tables/orders',
    ]);

    seen = [];
    serve((_request, response) => json(response, 503, errorBody(503, 'Unavailable', 'later')));
    const unavailable = await failureOf(rest.dropTable(id));
    expect(unavailable.code).toBe('CATALOG_UNAVAILABLE');
    expect(nonConfig()).toHaveLength(1);
  });
});

describe('restCatalog secrets', () => {
  const token = 'tok-7f3a9c1e5b2d4a6f';
  const apiKey = 'key-0b1c2d3e4f5a6b7c';

  it('sends the token and headers, and keeps them out of every error and of the catalog object', async () => {
    const rest = catalog({ token, headers: { 'X-Api-Key': apiKey, Accept: 'application/vnd.test+json' }, timeoutMs: 150, retries: 0 });
    expect(inspect(rest, { depth: 10, showHidden: true })).not.toContain(token);
    expect(JSON.stringify(rest)).not.toContain(token);

    // The server echoes the credentials back in its error message and in a redirect target.
    const echo = `Bearer ${token} with X-Api-Key ${apiKey} is not allowed`;
    const handlers: Handler[] = [
      (_q, r) => json(r, 401, errorBody(401, 'NotAuthorizedException', echo)),
      (_q, r) => json(r, 409, errorBody(409, 'CommitFailedException', echo)),
      (_q, r) => json(r, 400, errorBody(400, `ValidationException ${token}`, echo)),
      (_q, r) => json(r, 500, errorBody(500, 'ServerError', echo)),
      (_q, r) => r.writeHead(302, { location: `http://elsewhere/?t=${token}&k=${apiKey}` }).end(),
      () => undefined,
      (_q, r) => r.socket?.destroy(),
    ];
    const errors: unknown[] = [];
    for (const handler of handlers) {
      serve(handler);
      errors.push(
        await rest.loadTable(id).catch((error: unknown) => error),
        await rest.commitTable(id, [], [{ action: 'set-properties', updates: { a: 'b' } }]).catch((error: unknown) => error),
        await rest.createTable(id, { schema: { type: 'struct', 'schema-id': 0, fields: [] } }).catch((error: unknown) => error),
      );
    }
    serve((_q, r) => json(r, 401, errorBody(401, 'NotAuthorizedException', echo)));
    errors.push(await rest.listNamespaces().catch((error: unknown) => error), await rest.dropTable(id).catch((error: unknown) => error));
    expect(errors.every((error) => error instanceof LakehouseError)).toBe(true);
    for (const error of errors) {
      const text = `${String(error)}\n${inspect(error, { depth: 10, showHidden: true })}\n${JSON.stringify(error)}`;
      expect(text).not.toContain(token);
      expect(text).not.toContain(apiKey);
    }
    expect((errors[0] as Error).message).toContain('Bearer *** with X-Api-Key *** is not allowed');

    const sent = seen.filter((r) => !r.url.startsWith('/v1/config'));
    expect(sent.length).toBeGreaterThan(0);
    for (const request of sent) {
      expect(request.headers.authorization).toBe(`Bearer ${token}`);
      expect(request.headers['x-api-key']).toBe(apiKey);
      expect(request.headers.accept).toBe('application/vnd.test+json');
    }
  });
});
