/**
 * Helpers for tests that drive the Kafka Connect (Debezium) REST API and wait for conditions.
 */
import { services } from './services.js';

/** Calls the Kafka Connect REST API; the JSON body (if any) comes back parsed. */
export async function connect<T = unknown>(
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<{ status: number; json: T | undefined }> {
  const res = await fetch(`${services.kafkaConnectUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as T) : undefined };
}

/**
 * Polls `probe` until it returns a value (not `undefined`), or fails after `timeoutMs` naming what it waited for
 * (`what` may be a function, evaluated only on failure, to describe the last state seen).
 */
export async function until<T>(
  what: string | (() => string),
  timeoutMs: number,
  probe: () => Promise<T | undefined> | T | undefined,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * The configuration every test's Debezium PostgreSQL connector shares: pgoutput, the test database, a filtered
 * publication over `tables` (schema-qualified), no initial snapshot, tombstones after deletes. Tests add their own keys.
 */
export function postgresConnectorConfig(options: { prefix: string; slot: string; publication: string; tables: readonly string[] }): Record<string, string> {
  return {
    'connector.class': 'io.debezium.connector.postgresql.PostgresConnector',
    'tasks.max': '1',
    'plugin.name': 'pgoutput',
    'database.hostname': services.postgres.host,
    'database.port': String(services.postgres.port),
    'database.user': services.postgres.user,
    'database.password': services.postgres.password,
    'database.dbname': services.postgres.database,
    'topic.prefix': options.prefix,
    'slot.name': options.slot,
    'publication.name': options.publication,
    'publication.autocreate.mode': 'filtered',
    'table.include.list': options.tables.join(','),
    'snapshot.mode': 'no_data',
    'tombstones.on.delete': 'true',
  };
}
