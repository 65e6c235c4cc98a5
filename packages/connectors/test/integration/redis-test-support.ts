/**
 * Shared helpers of the Redis integration tests: an admin connection to the real Redis (fails, never skips, when it
 * is down), unique key prefixes, and cleanup of everything under a prefix.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { services } from '../../../../test/support/services.js';

export const redisUrl = services.redisUrl;
const url = new URL(redisUrl);
export const redisHost = url.hostname;
export const redisPort = Number(url.port);

/** A key prefix no other test (or run) uses. */
export const uniquePrefix = (what: string): string => `tributary:test:${what}:${randomUUID()}:`;

/**
 * Prefixes for one test file: `next(what)` hands out a fresh prefix per case, all under one root, so that the file's
 * `afterAll` deletes everything with a single scan (`deleteUnder(admin, prefixes.root)`).
 */
export function prefixesFor(file: string): { readonly root: string; next(what: string): string } {
  const root = uniquePrefix(file);
  let counter = 0;
  return { root, next: (what) => `${root}${what}-${++counter}:` };
}

/** Connects an admin client, failing with the command that starts Redis when nothing answers. */
export async function connectAdmin(): Promise<Redis> {
  const redis = new Redis(redisUrl, {
    lazyConnect: true,
    connectTimeout: 3_000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  let lastError: unknown;
  redis.on('error', (error: unknown) => (lastError = error));
  try {
    await redis.connect();
  } catch (error) {
    throw new Error(`Redis is not reachable at ${redisUrl} (run: bash scripts/services.sh up redis): ${String(lastError ?? error)}`, { cause: error });
  }
  return redis;
}

/** Every key under `prefix` (SCAN, not KEYS, so a big test database is not blocked). */
export async function keysUnder(redis: Redis, prefix: string): Promise<string[]> {
  const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 10_000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found.sort();
}

/** Deletes every key under `prefix`. */
export async function deleteUnder(redis: Redis, prefix: string): Promise<void> {
  const keys = await keysUnder(redis, prefix);
  for (let index = 0; index < keys.length; index += 500) await redis.del(...keys.slice(index, index + 500));
}

/** Polls `condition` every 10 ms until it holds or `timeoutMs` passes; then fails with `what`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
