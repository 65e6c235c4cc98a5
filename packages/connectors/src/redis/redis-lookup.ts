import { z } from 'zod';
import { LookupCache, systemClock } from '@tributary/core';
import type { Clock } from '@tributary/core';
import { ConnectorError } from '../errors.js';
import { loggerOptionSchema, parseRedisOptions, RedisConnection, redisConnectionShape } from './redis-connection.js';
// eslint-disable-next-line @typescript-eslint/no-unused-vars -- referenced by {@link} in the docs
import type { RedisConnectionOptions } from './redis-connection.js';

const functionSchema = <F>() => z.custom<F>((value) => typeof value === 'function', { message: 'must be a function' });

const isClock = (value: unknown): value is Clock =>
  typeof value === 'object' && value !== null && typeof (value as Partial<Clock>).now === 'function' && typeof (value as Partial<Clock>).setTimer === 'function';

// A function so the option types carry the lookup's value type; the runtime schema is the same for all.
function redisLookupOptionsSchema<Found>() {
  return z.strictObject({
    ...redisConnectionShape,
    /** Name used in logs and errors. Default `'redis-lookup'`. */
    name: z.string().min(1, 'must be a non-empty string').default('redis-lookup'),
    /** Prepended to every key read. Default `''`. */
    keyPrefix: z.string('must be a string').default(''),
    /** The Redis key (before `keyPrefix`) holding a lookup key's value. Default: the lookup key itself. */
    key: functionSchema<(lookupKey: string) => string>().optional(),
    /**
     * How values are stored: `'json'` — strings holding JSON, read with `MGET` and parsed; `'string'` — strings, read
     * with `MGET` as they are; `'hash'` — hashes, read with one pipelined `HGETALL` per key (an empty hash is "not
     * found"). Default `'json'`.
     */
    format: z.enum(['json', 'string', 'hash'], "must be 'json', 'string' or 'hash'").default('json'),
    /**
     * Turns what was read (the parsed JSON, the string, or the hash's fields as an object of strings) into the found
     * value — validate it here (a zod `parse`); a throw fails the lookup call. Default: what was read, as is.
     */
    parse: functionSchema<(raw: unknown, lookupKey: string) => Found>().optional(),
    /**
     * An in-process cache in front of Redis (core's `LookupCache`), shared by every call of this lookup function:
     * `ttlMs` (default `60_000`), `maxEntries` (default `10_000`), `cacheMisses` (default `true`: a key found
     * missing is not asked again until its entry expires). Default: no cache. (`enrich` has its own `cache` option,
     * per step; this one is for a lookup shared by several steps.)
     */
    cache: z
      .strictObject({
        /** How long an entry stays fresh after it was read, in milliseconds of processing time. Default `60_000`. */
        ttlMs: z.number().positive('must be a positive number of milliseconds').default(60_000),
        /** Most entries kept; the least recently used go first. Default `10_000`. */
        maxEntries: z.int('must be an integer').positive('must be a positive integer').default(10_000),
        /** Remember keys found missing too (until their entry expires). Default `true`. */
        cacheMisses: z.boolean('must be true or false').default(true),
      })
      .optional(),
    /** Processing-time clock of the cache. Default: the system clock. */
    clock: z.custom<Clock>(isClock, 'must be a Clock with now() and setTimer()').optional(),
    /** Where connection events are logged (never with the password). Default: silent. */
    logger: loggerOptionSchema.optional(),
  });
}

const redisLookupOptionsSchemaInstance = redisLookupOptionsSchema<unknown>();

/**
 * Options of {@link redisLookup}: how to reach Redis ({@link RedisConnectionOptions}) and how values are stored.
 *
 * @example
 * ```ts
 * const options: RedisLookupOptions<Customer> = { url: 'redis://127.0.0.1:6379', keyPrefix: 'app:customer:', format: 'hash' };
 * ```
 *
 * @interface
 */
export type RedisLookupOptions<Found> = z.input<ReturnType<typeof redisLookupOptionsSchema<Found>>>;

type ParsedOptions<Found> = z.output<ReturnType<typeof redisLookupOptionsSchema<Found>>>;

/**
 * A batched Redis lookup, callable as `enrich`'s `lookup` option, with its connection's lifecycle. Built by
 * {@link redisLookup}.
 *
 * @example
 * ```ts
 * const customers: RedisLookup<Customer> = redisLookup({ keyPrefix: 'app:customer:' });
 * const found = await customers(['c-1', 'c-2'], AbortSignal.timeout(1_000)); // Map { 'c-1' => {...} }
 * await customers.close();
 * ```
 */
export interface RedisLookup<Found> {
  /** Looks up `keys` in one round trip; keys not found are absent from the map. Rejects with a `ConnectorError`. */
  (keys: readonly string[], signal?: AbortSignal): Promise<Map<string, Found>>;
  /** Connects now (otherwise the first call does). */
  connect(): Promise<void>;
  /** Closes the connection; later calls reject. */
  close(): Promise<void>;
}

/**
 * A batched lookup in Redis for core's `enrich` operator: one `MGET` (values as JSON or plain strings) or one pipeline
 * of `HGETALL` (hashes) per call, an optional in-process cache ({@link RedisLookupOptions}`.cache`, core's
 * `LookupCache`), and `signal` honoured (an aborted call rejects at once; Redis still answers, and the answer is dropped).
 *
 * Connecting is lazy and bounded: an unreachable Redis fails the call with `ConnectorError` `REDIS_UNREACHABLE`, which
 * `enrich` handles per its `onError` policy (dead letters by default). A value that is not valid JSON, or that `parse`
 * rejects, fails the whole call with `REDIS_LOOKUP_BAD_VALUE` naming the key. Close it when the topology stops.
 *
 * @param options see {@link RedisLookupOptions}; everything has a default
 * @throws InvalidOptionsError at construction, naming the bad option
 *
 * @example
 * ```ts
 * import { enrich } from '@tributary/core';
 * import { redisLookup } from '@tributary/connectors/redis';
 *
 * const customers = redisLookup<Customer>({ url: 'redis://127.0.0.1:6379', keyPrefix: 'app:customer:', format: 'hash' });
 * const enriched = orders.pipe(
 *   enrich({
 *     name: 'add-customer',
 *     key: (order) => order.customerId,
 *     lookup: customers,
 *     merge: (order, customer) => ({ ...order, tier: customer?.tier ?? 'unknown' }),
 *   }),
 * );
 * // after runtime.done: await customers.close();
 * ```
 */
export function redisLookup<Found = unknown>(options: RedisLookupOptions<Found> = {}): RedisLookup<Found> {
  const parsed = parseRedisOptions(redisLookupOptionsSchemaInstance, 'redisLookup', options) as ParsedOptions<Found>;
  const { name, keyPrefix, format, parse } = parsed;
  const keyOf = parsed.key ?? ((lookupKey: string) => lookupKey);
  const clock = parsed.clock ?? systemClock;
  const connection = new RedisConnection(parsed, { what: `redisLookup "${name}"`, keyPrefix }, parsed.logger);
  const cache = parsed.cache === undefined ? undefined : new LookupCache<Found>({ ttlMs: parsed.cache.ttlMs, maxEntries: parsed.cache.maxEntries, clock });
  const cacheMisses = parsed.cache?.cacheMisses ?? false;

  const decode = (raw: unknown, lookupKey: string): Found => {
    let value: unknown = raw;
    if (format === 'json') {
      try {
        value = JSON.parse(raw as string);
      } catch (error) {
        throw badValue(name, keyPrefix, lookupKey, 'is not valid JSON', error);
      }
    }
    if (parse === undefined) return value as Found;
    try {
      return parse(value, lookupKey);
    } catch (error) {
      throw badValue(name, keyPrefix, lookupKey, 'was rejected by parse', error);
    }
  };

  const fetch = async (keys: readonly string[]): Promise<(unknown)[]> => {
    const client = await connection.client();
    const redisKeys = keys.map((lookupKey) => keyPrefix + keyOf(lookupKey));
    try {
      if (format !== 'hash') return await client.mget(...redisKeys);
      const pipeline = client.pipeline();
      for (const key of redisKeys) pipeline.hgetall(key);
      const results = (await pipeline.exec()) ?? [];
      return results.map(([error, fields]) => {
        if (error !== null) throw error;
        return fields !== null && typeof fields === 'object' && Object.keys(fields).length > 0 ? fields : null;
      });
    } catch (error) {
      throw connection.commandError(error, `looking up ${keys.length} key(s)`, 'REDIS_LOOKUP_FAILED');
    }
  };

  const lookup = async (keys: readonly string[], signal?: AbortSignal): Promise<Map<string, Found>> => {
    signal?.throwIfAborted();
    const found = new Map<string, Found>();
    const now = clock.now();
    const missed: string[] = [];
    for (const lookupKey of new Set(keys)) {
      const cached = cache?.get(lookupKey, now);
      if (cached === undefined) missed.push(lookupKey);
      else if (cached.value !== undefined) found.set(lookupKey, cached.value);
    }
    if (missed.length === 0) return found;
    const raw = await abortable(fetch(missed), signal);
    const stored = clock.now();
    missed.forEach((lookupKey, index) => {
      const value = raw[index];
      if (value === null || value === undefined) {
        if (cacheMisses) cache?.set(lookupKey, undefined, stored);
        return;
      }
      const decoded = decode(value, lookupKey);
      found.set(lookupKey, decoded);
      cache?.set(lookupKey, decoded, stored);
    });
    return found;
  };

  return Object.assign(lookup, {
    connect: async () => {
      await connection.client();
    },
    close: () => connection.close(),
  });
}

function badValue(name: string, keyPrefix: string, lookupKey: string, problem: string, cause: unknown): ConnectorError {
  return new ConnectorError(
    'REDIS_LOOKUP_BAD_VALUE',
    `redisLookup "${name}": the value stored for lookup key ${JSON.stringify(lookupKey)} ${problem}` +
      `${cause instanceof Error ? ` (${cause.message})` : ''}. Fix the stored value or the format/parse options.`,
    { connector: 'redis', topic: keyPrefix, retriable: false, cause },
  );
}

/** Settles with `promise`, or rejects with the signal's reason as soon as it aborts. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason instanceof Error ? signal.reason : new Error('lookup aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
