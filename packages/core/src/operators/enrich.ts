import { z } from 'zod';
import { TributaryError } from '../errors.js';
import { errorPolicySchema, stepNameSchema } from '../internal/common-options.js';
import { parseOptions } from '../internal/parse-options.js';
import type { DeadLetter } from '../record/dead-letter.js';
import type { StreamRecord } from '../record/stream-record.js';
import { defineOperator, handleRecordError } from './define-operator.js';
import type { Emit, Operator } from './define-operator.js';
import { LookupCache, lookupCacheShape } from './lookup-cache.js';

/** Beyond 2^31 - 1 ms a JavaScript timer fires immediately instead of late, so longer timeouts are refused. */
const maxTimerDelayMs = 2_147_483_647;

/**
 * What a lookup answers: the values found, by lookup key, as a `Map` or a plain object. A key that is absent (or maps
 * to `undefined`) was not found; keys that were not asked for are ignored.
 *
 * @example
 * ```ts
 * const answer: LookupResult<Customer> = new Map([['c-1', { id: 'c-1', tier: 'gold' }]]);
 * const same: LookupResult<Customer> = { 'c-1': { id: 'c-1', tier: 'gold' } };
 * ```
 */
export type LookupResult<Found> = ReadonlyMap<string, Found> | Readonly<Record<string, Found>>;

const functionSchema = <F>() => z.custom<F>((value) => typeof value === 'function', { message: 'must be a function' });

const positiveInteger = () => z.number().int('must be an integer').positive('must be a positive integer');

// A function so the option types can carry the operator's type parameters; the runtime schema is the same for all.
function enrichOptionsSchema<In, Found, Out>() {
  return z.strictObject({
    /** Step name used in metrics, logs and dead letters. Default `enrich-<n>`. */
    name: stepNameSchema,
    /** The lookup key of a record; `null` or `undefined` skips the lookup (`merge` then gets `undefined`). Required. */
    key: functionSchema<(value: In, record: StreamRecord<In>) => string | null | undefined>(),
    /**
     * Looks up a batch of distinct keys (at most `maxBatchKeys`). Stop work when `signal` aborts: the call timed out
     * and its records already went to `onError`. Required.
     */
    lookup: functionSchema<(keys: readonly string[], signal: AbortSignal) => Promise<LookupResult<Found>> | LookupResult<Found>>(),
    /** The enriched value from the record's value and what was found (`undefined`: not found or no key). Required. */
    merge: functionSchema<(value: In, found: Found | undefined, record: StreamRecord<In>) => Out>(),
    /**
     * Caches lookup results in the step (per subscription): `ttlMs` (default `60_000`, processing time),
     * `maxEntries` (default `10_000`, least recently used evicted first), `cacheMisses` (default `true`: a key found
     * missing is not asked again until its entry expires). Failed calls are never cached. Default: no cache.
     */
    cache: z.strictObject({ ...lookupCacheShape, cacheMisses: z.boolean().default(true) }).optional(),
    /** Most keys passed to one lookup call. Default `500`. */
    maxBatchKeys: positiveInteger().default(500),
    /** Most lookup calls in flight at once. Default `4`. */
    concurrency: positiveInteger().default(4),
    /** Per lookup call, in milliseconds of processing time; on expiry the call's signal aborts and it counts as failed. Default `10_000`. */
    timeoutMs: z.number().positive('must be a positive number of milliseconds').max(maxTimerDelayMs, `must be at most ${maxTimerDelayMs}`).default(10_000),
    /** What happens to a record whose lookup call failed or timed out, or whose `key` or `merge` threw: `dlq` (default) | `skip` | `fail`. */
    onError: errorPolicySchema.default('dlq'),
    /** What happens to a record whose key was not found: `pass` (default; `merge` gets `undefined`) | `dlq` | `skip` (drop silently) | `fail`. */
    onMissing: z.enum(['pass', 'dlq', 'skip', 'fail']).default('pass'),
  });
}

// Validation does not depend on the type parameters, so one schema instance serves every call.
const enrichOptionsSchemaInstance = enrichOptionsSchema<unknown, unknown, unknown>();

/** Options of {@link enrich}. `In` is the input value type, `Found` what the lookup finds, `Out` what `merge` returns.
 *
 * @interface
 */
export type EnrichOptions<In, Found, Out> = z.input<ReturnType<typeof enrichOptionsSchema<In, Found, Out>>>;

type ParsedEnrichOptions<In, Found, Out> = z.output<ReturnType<typeof enrichOptionsSchema<In, Found, Out>>>;

/** A key whose lookup came back without a value. */
const MISSING: unique symbol = Symbol('missing');
/** A key whose lookup call is under way. */
const PENDING: unique symbol = Symbol('pending');

/** Why a record cannot be merged: its key function threw, or the lookup call holding its key failed. */
class Failure {
  constructor(readonly error: unknown) {}
}

/**
 * Enriches each record with data looked up by key (a customer for an order, a product for a line item), in batches:
 * for each incoming batch of records the distinct keys not in the cache are looked up in calls of at most
 * `maxBatchKeys` keys, at most `concurrency` calls at a time, each bounded by `timeoutMs`. Records then leave in input
 * order (so per-key order holds), and later chunks — barriers included — wait until the batch is done, so a
 * checkpoint still covers only fully enriched records.
 *
 * A failed or timed-out call affects only the records whose keys it carried; they follow `onError` (dead letters by
 * default, with the step name and source position). Keys not found follow `onMissing`. Processing time, for the cache
 * TTL and the timeouts, comes from the step's clock, so the testing kit can drive both virtually.
 *
 * @param options see {@link EnrichOptions}: `key`, `lookup` and `merge` are required; `name` (default `enrich-<n>`),
 *   `cache` (default none), `maxBatchKeys` (default `500`), `concurrency` (default `4`), `timeoutMs` (default `10_000`),
 *   `onError` (default `dlq`), `onMissing` (default `pass`)
 * @throws InvalidOptionsError at construction, naming the bad option
 *
 * @example
 * ```ts
 * const enriched = orders.pipe(
 *   enrich({
 *     name: 'add-customer',
 *     key: (order) => order.customerId,
 *     lookup: async (ids, signal) => new Map((await customersApi.byIds(ids, { signal })).map((c) => [c.id, c])),
 *     merge: (order, customer) => ({ ...order, customerTier: customer?.tier ?? 'unknown' }),
 *     cache: { ttlMs: 60_000, maxEntries: 10_000 },
 *     onMissing: 'dlq',
 *   }),
 * );
 * ```
 */
export function enrich<In, Found, Out>(options: EnrichOptions<In, Found, Out>): Operator<In, Out> {
  const parsed = parseOptions(enrichOptionsSchemaInstance, 'enrich', options) as ParsedEnrichOptions<In, Found, Out>;
  const { name, key: keyOf, lookup, merge, cache: cacheOptions, maxBatchKeys, concurrency, timeoutMs, onError, onMissing } = parsed;
  const cacheMisses = cacheOptions?.cacheMisses ?? false;

  return defineOperator<In, Out>('enrich', name, (context) => {
    const { clock, stepName } = context;
    const cache =
      cacheOptions === undefined
        ? undefined
        : new LookupCache<Found>({ ttlMs: cacheOptions.ttlMs, maxEntries: cacheOptions.maxEntries, clock });

    // One call, bounded by a timer on the step's clock (virtual in tests). Resolves exactly once, with the answer or a
    // Failure; never rejects, so a late rejection of a timed-out call has a handler and cannot go unhandled.
    const callLookup = (keys: readonly string[]): Promise<unknown> =>
      new Promise((resolve) => {
        const controller = new AbortController();
        let settled = false;
        const cancelTimer = clock.setTimer(timeoutMs, () => {
          if (settled) return;
          settled = true;
          const error = new TributaryError(
            'LOOKUP_TIMEOUT',
            `Lookup of ${keys.length} key(s) in step "${stepName}" did not answer within ${timeoutMs} ms. ` +
              'Raise timeoutMs, lower maxBatchKeys, or check the looked-up service.',
            { retriable: true },
          );
          controller.abort(error);
          resolve(new Failure(error));
        });
        const finish = (outcome: unknown): void => {
          if (settled) return;
          settled = true;
          cancelTimer();
          resolve(outcome);
        };
        try {
          Promise.resolve(lookup(keys, controller.signal)).then(finish, (error: unknown) => finish(new Failure(error)));
        } catch (error) {
          finish(new Failure(error));
        }
      });

    // Answers every key of `batch` in `resolutions`: a value, MISSING, or the call's failure.
    const runBatch = async (batch: readonly string[], resolutions: Map<string, unknown>): Promise<void> => {
      let answer = await callLookup(batch);
      if (!(answer instanceof Failure) && (typeof answer !== 'object' || answer === null || Array.isArray(answer))) {
        answer = new Failure(
          new TributaryError(
            'LOOKUP_INVALID_RESULT',
            `Lookup in step "${stepName}" returned ${Array.isArray(answer) ? 'an array' : String(answer)}; ` +
              'return a Map or a plain object from key to value.',
          ),
        );
      }
      if (answer instanceof Failure) {
        context.logger.warn({ step: stepName, keys: batch.length, error: String(answer.error) }, 'enrich lookup failed');
        for (const key of batch) resolutions.set(key, answer);
        return;
      }
      const found = answer as object;
      const now = cache === undefined ? 0 : clock.now();
      const isMap = found instanceof Map || Object.prototype.toString.call(found) === '[object Map]';
      for (const key of batch) {
        const value: Found | undefined = isMap
          ? (found as ReadonlyMap<string, Found>).get(key)
          : Object.hasOwn(found, key)
            ? (found as Readonly<Record<string, Found>>)[key]
            : undefined;
        resolutions.set(key, value === undefined ? MISSING : value);
        if (cache !== undefined && (value !== undefined || cacheMisses)) cache.set(key, value, now);
      }
    };

    // Splits the keys into calls and runs at most `concurrency` of them at once. A failed call does not reject: its keys
    // resolve to its Failure.
    const fetchAll = (missed: string[], resolutions: Map<string, unknown>): Promise<void> => {
      const batchCount = Math.ceil(missed.length / maxBatchKeys);
      let nextBatch = 0;
      const worker = async (): Promise<void> => {
        while (nextBatch < batchCount) {
          const start = nextBatch++ * maxBatchKeys;
          await runBatch(batchCount === 1 ? missed : missed.slice(start, start + maxBatchKeys), resolutions);
        }
      };
      const workers: Promise<void>[] = [];
      for (let started = 0; started < Math.min(concurrency, batchCount); started++) workers.push(worker());
      return Promise.all(workers).then(() => undefined);
    };

    const emitChunk = (
      records: readonly StreamRecord<In>[],
      keys: readonly (string | Failure | undefined)[],
      resolutions: ReadonlyMap<string, unknown>,
      emit: Emit<Out>,
    ): void => {
      const count = records.length;
      const out = new Array<StreamRecord<Out>>(count);
      let length = 0;
      let letters: DeadLetter[] | undefined;
      for (let index = 0; index < count; index++) {
        const record = records[index]!;
        const key = keys[index];
        let found: Found | undefined;
        if (key !== undefined) {
          const resolution = typeof key === 'string' ? resolutions.get(key) : key;
          if (resolution instanceof Failure) {
            const letter = handleRecordError(onError, context, record, resolution.error);
            if (letter) (letters ??= []).push(letter);
            continue;
          }
          if (resolution === MISSING) {
            if (onMissing === 'skip') continue;
            if (onMissing !== 'pass') {
              const letter = handleRecordError(onMissing, context, record, notFoundError(stepName, key as string));
              if (letter) (letters ??= []).push(letter);
              continue;
            }
          } else {
            found = resolution as Found;
          }
        }
        let value: Out;
        try {
          value = merge(record.value, found, record);
        } catch (error) {
          const letter = handleRecordError(onError, context, record, error);
          if (letter) (letters ??= []).push(letter);
          continue;
        }
        out[length++] = { key: record.key, value, eventTime: record.eventTime, position: record.position, headers: record.headers };
      }
      out.length = length;
      emit.data(out);
      if (letters) emit.deadLetters(letters);
    };

    return {
      data(records, emit) {
        const count = records.length;
        const keys = new Array<string | Failure | undefined>(count);
        const resolutions = new Map<string, unknown>();
        const now = cache === undefined ? 0 : clock.now();
        let missed: string[] | undefined;
        for (let index = 0; index < count; index++) {
          const record = records[index]!;
          let key: unknown;
          try {
            key = keyOf(record.value, record);
          } catch (error) {
            keys[index] = new Failure(error);
            continue;
          }
          if (key === null || key === undefined) continue;
          if (typeof key !== 'string') {
            keys[index] = new Failure(invalidKeyError(stepName, key));
            continue;
          }
          keys[index] = key;
          if (resolutions.has(key)) continue;
          if (cache !== undefined) {
            const cached = cache.get(key, now);
            if (cached !== undefined) {
              resolutions.set(key, cached.value === undefined ? MISSING : cached.value);
              continue;
            }
          }
          resolutions.set(key, PENDING);
          (missed ??= []).push(key);
        }
        if (missed === undefined) return emitChunk(records, keys, resolutions, emit);
        return fetchAll(missed, resolutions).then(() => emitChunk(records, keys, resolutions, emit));
      },
    };
  });
}

const notFoundError = (stepName: string, key: string): TributaryError =>
  new TributaryError('LOOKUP_NOT_FOUND', `Step "${stepName}" found nothing for lookup key ${JSON.stringify(key)}.`);

const invalidKeyError = (stepName: string, key: unknown): TributaryError =>
  new TributaryError(
    'INVALID_LOOKUP_KEY',
    `The key function of step "${stepName}" returned ${typeof key}; it must return a string, or null/undefined to skip the lookup.`,
  );
