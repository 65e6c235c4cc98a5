import { z } from 'zod';
import { parseOptions } from '../internal/parse-options.js';
import { systemClock } from '../runtime/clock.js';
import type { Clock } from '../runtime/clock.js';

const clockSchema = z.custom<Clock>(
  (value) =>
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Partial<Clock>).now === 'function' &&
    typeof (value as Partial<Clock>).setTimer === 'function',
  { message: 'must be a Clock (an object with now() and setTimer())' },
);

/**
 * Fields shared by every lookup cache configuration, so that `enrich`'s `cache` option and connector lookups validate
 * them the same way.
 *
 * @internal
 */
export const lookupCacheShape = {
  /** How long an entry stays fresh after it was written, in milliseconds of processing time. Default `60_000`. */
  ttlMs: z.number().positive('must be a positive number of milliseconds').default(60_000),
  /** Most entries kept; writing one more evicts the least recently used. Default `10_000`. */
  maxEntries: z.number().int('must be an integer').positive('must be a positive integer').default(10_000),
};

const lookupCacheOptionsSchema = z.strictObject({
  ...lookupCacheShape,
  /** Processing-time source for expiry. Default: the system clock; steps pass `context.clock`. */
  clock: clockSchema.optional(),
});

/** Options of {@link LookupCache}.
 *
 * @interface
 */
export type LookupCacheOptions = z.input<typeof lookupCacheOptionsSchema>;

/** A cached lookup result. `value` is `undefined` when the lookup found nothing (a cached miss). */
export interface CachedLookup<V> {
  /** The value found, or `undefined` for a cached "not found". */
  readonly value: V | undefined;
  /** Processing time (ms since the epoch) at which the entry stops being served. */
  readonly expiresAt: number;
}

interface Entry<V> {
  value: V | undefined;
  expiresAt: number;
}

/**
 * A small in-process cache for lookup results, bounded by age and by size: entries expire `ttlMs` after they were
 * written (processing time from the given {@link Clock}, so tests can drive it virtually), and when more than
 * `maxEntries` are held the least recently used ones are evicted. Misses can be cached too: store `undefined`.
 *
 * Used by the `enrich` operator and by lookups in connector packages (e.g. Redis).
 *
 * @typeParam V the type of the looked-up values
 *
 * @example
 * ```ts
 * const customers = new LookupCache<Customer>({ ttlMs: 30_000, maxEntries: 5_000, clock: context.clock });
 * const cached = customers.get('c-42');
 * if (cached === undefined) {
 *   customers.set('c-42', await loadCustomer('c-42')); // undefined when absent: the miss is cached as well
 * } else if (cached.value !== undefined) {
 *   use(cached.value);
 * }
 * ```
 */
export class LookupCache<V> {
  /** Milliseconds an entry stays fresh. */
  readonly ttlMs: number;
  /** Most entries kept. */
  readonly maxEntries: number;
  private readonly clock: Clock;
  // A Map iterates in insertion order; re-inserting on every read keeps the least recently used entry first.
  private readonly entries = new Map<string, Entry<V>>();

  /**
   * @param options `ttlMs` (default `60_000`), `maxEntries` (default `10_000`), `clock` (default the system clock).
   * @throws InvalidOptionsError naming the bad field
   */
  constructor(options: LookupCacheOptions = {}) {
    const parsed = parseOptions(lookupCacheOptionsSchema, 'LookupCache', options);
    this.ttlMs = parsed.ttlMs;
    this.maxEntries = parsed.maxEntries;
    this.clock = parsed.clock ?? systemClock;
  }

  /** Number of entries held, including expired ones not yet noticed. */
  get size(): number {
    return this.entries.size;
  }

  /**
   * The fresh entry for `key` (which becomes the most recently used), or `undefined` when there is none or it expired.
   *
   * @param now processing time to judge freshness by; pass it when reading many keys at one instant. Default `clock.now()`.
   */
  get(key: string, now: number = this.clock.now()): CachedLookup<V> | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    if (now >= entry.expiresAt) return undefined;
    this.entries.set(key, entry);
    return entry;
  }

  /**
   * Stores `value` for `key` (`undefined` records a miss), fresh for `ttlMs` from `now`, evicting the least recently
   * used entries beyond `maxEntries`.
   *
   * @param now processing time of the write. Default `clock.now()`.
   */
  set(key: string, value: V | undefined, now: number = this.clock.now()): void {
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: now + this.ttlMs });
    if (this.entries.size > this.maxEntries) this.evictOldest(this.entries.size - this.maxEntries);
  }

  /** Forgets `key`; returns whether it was held. */
  delete(key: string): boolean {
    return this.entries.delete(key);
  }

  /** Forgets everything. */
  clear(): void {
    this.entries.clear();
  }

  private evictOldest(count: number): void {
    const keys = this.entries.keys();
    for (let evicted = 0; evicted < count; evicted++) {
      const next = keys.next();
      if (next.done === true) return;
      this.entries.delete(next.value);
    }
  }
}
