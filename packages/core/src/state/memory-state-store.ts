import { z } from 'zod';
import { TributaryError } from '../errors.js';
import { parseOptions } from '../internal/parse-options.js';
import { systemClock } from '../runtime/clock.js';
import type { Clock } from '../runtime/clock.js';
import { jsonProblem } from './json-problem.js';
import type { StateChange, StatePutOptions, StateStore } from './state-store.js';

const isClock = (value: unknown): value is Clock =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as Partial<Clock>).now === 'function' &&
  typeof (value as Partial<Clock>).setTimer === 'function';

const memoryStateStoreOptionsSchema = z.strictObject({
  /** Name used in logs, metrics and errors. Default `'memory'`. */
  name: z.string().min(1, 'must be a non-empty string').default('memory'),
  /** Processing-time clock that `ttlMs` expiry is measured with. Default: the system clock. */
  clock: z.custom<Clock>(isClock, 'must be a Clock with now() and setTimer()').optional(),
});

/**
 * Options of {@link MemoryStateStore}.
 *
 * @example
 * ```ts
 * const clock = new VirtualClock();
 * const store = new MemoryStateStore({ name: 'test-state', clock }); // TTLs follow clock.advance(...)
 * ```
 */
export interface MemoryStateStoreOptions {
  /** Name used in logs, metrics and errors. Default `'memory'`. */
  name?: string;
  /** Processing-time clock that `ttlMs` expiry is measured with. Default: the system clock. */
  clock?: Clock;
}

// The documented type and the schema must accept the same options: this fails to compile when they drift apart.
type _Holds<Condition extends true> = Condition;
type _MemoryStateStoreOptionsMatchSchema = _Holds<MemoryStateStoreOptions extends z.input<typeof memoryStateStoreOptionsSchema> ? true : false>;

/** A stored value: a private structured copy, never handed out or mutated, so snapshots can share it. */
interface Entry {
  readonly value: unknown;
  /** Processing time at which the entry stops existing; `Infinity` without a TTL. */
  readonly expiresAt: number;
}

interface ScopeData {
  live: Map<string, Entry>;
  readonly snapshots: Map<number, ReadonlyMap<string, Entry>>;
}

/**
 * The in-memory {@link StateStore}: the default store, and the one tests use.
 *
 * - Values are validated as JSON-compatible (plain objects, arrays, finite numbers, strings, booleans, `null`) and
 *   stored as structured copies; `get` and `scan` hand out fresh copies. Mutating a value after `put`, or a value read
 *   back, never changes what is stored. Rejecting non-JSON values (a `Date`, a `Map`, `undefined`, a `bigint`) keeps the
 *   memory store exactly as strict as the Redis store, so a test passing here does not fail in production.
 * - `ttlMs` is processing time, measured with the `clock` option, so a virtual clock drives expiry in tests. An entry is
 *   gone once `clock.now() >= writeTime + ttlMs`; expired entries are removed lazily (on read, scan, snapshot).
 * - `apply` validates every change before touching anything, so a bad change leaves the scope as it was.
 * - `scan` orders keys by UTF-16 code units (JavaScript `<`), which equals byte order for keys without characters
 *   above U+FFFF; it iterates over a copy taken when it starts.
 * - Snapshots live in the store object. A runtime that is stopped and rebuilt **with the same store instance** in the
 *   same process can restore from them; a process crash loses everything — use the Redis store for crash recovery.
 * - `close()` has nothing to release and keeps the contents, so a runtime that closes its store on stop can still be
 *   rebuilt on the same instance.
 *
 * @example
 * ```ts
 * const store = new MemoryStateStore({ name: 'local' });
 * await store.put('dedupe-1/orders:0', 'order-7', { firstSeen: 1_700_000_000_000 }, { ttlMs: 60_000 });
 * await store.snapshot('dedupe-1/orders:0', 1);
 * await store.delete('dedupe-1/orders:0', 'order-7');
 * await store.restore('dedupe-1/orders:0', 1); // true: order-7 is back
 * ```
 */
export class MemoryStateStore implements StateStore {
  /** Name used in logs, metrics and errors. */
  readonly name: string;
  readonly #clock: Clock;
  readonly #scopes = new Map<string, ScopeData>();

  /**
   * @param options `name` — default `'memory'`; `clock` — processing-time clock for TTLs, default the system clock
   * @throws InvalidOptionsError naming the bad option
   */
  constructor(options: MemoryStateStoreOptions = {}) {
    const parsed = parseOptions(memoryStateStoreOptionsSchema, 'MemoryStateStore', options);
    this.name = parsed.name;
    this.#clock = parsed.clock ?? systemClock;
  }

  get(scope: string, key: string): Promise<unknown> {
    const data = this.#scopes.get(scope);
    const entry = data?.live.get(key);
    if (entry === undefined) return Promise.resolve(undefined);
    if (entry.expiresAt <= this.#clock.now()) {
      data!.live.delete(key);
      this.#forgetIfEmpty(scope, data!);
      return Promise.resolve(undefined);
    }
    return Promise.resolve(copyOut(entry.value));
  }

  put(scope: string, key: string, value: unknown, options?: StatePutOptions): Promise<void> {
    try {
      const entry = this.#prepare(scope, key, value, options?.ttlMs);
      this.#scopeData(scope).live.set(key, entry);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(asError(error));
    }
  }

  delete(scope: string, key: string): Promise<void> {
    const data = this.#scopes.get(scope);
    if (data !== undefined && data.live.delete(key)) this.#forgetIfEmpty(scope, data);
    return Promise.resolve();
  }

  /** Entries as they are when `scan` is called; later writes do not show up in an iteration under way. */
  scan(scope: string, prefix = ''): AsyncIterable<readonly [key: string, value: unknown]> {
    const data = this.#scopes.get(scope);
    const matching: [string, Entry][] = [];
    if (data !== undefined) {
      const now = this.#clock.now();
      for (const [key, entry] of data.live) {
        if (entry.expiresAt <= now) data.live.delete(key);
        else if (key.startsWith(prefix)) matching.push([key, entry]);
      }
      this.#forgetIfEmpty(scope, data);
      matching.sort(byKey);
    }
    return {
      [Symbol.asyncIterator]() {
        let index = 0;
        return {
          next(): Promise<IteratorResult<readonly [string, unknown]>> {
            const next = matching[index++];
            if (next === undefined) return Promise.resolve({ done: true, value: undefined });
            return Promise.resolve({ done: false, value: [next[0], copyOut(next[1].value)] as const });
          },
        };
      },
    };
  }

  apply(scope: string, changes: readonly StateChange[]): Promise<void> {
    let prepared: (readonly [key: string, entry: Entry | undefined])[];
    try {
      if (!Array.isArray(changes)) throw this.#invalid(scope, 'changes must be an array of { op, key, ... }');
      // Everything that can fail happens here, before the scope is touched: that is what makes apply atomic.
      prepared = changes.map((change: StateChange | null, index) => {
        if (change?.op === 'put') return [change.key, this.#prepare(scope, change.key, change.value, change.ttlMs)] as const;
        if (change?.op === 'delete') return [checkKey(this, scope, change.key), undefined] as const;
        const op = (change as { op?: unknown } | null)?.op;
        throw this.#invalid(scope, `change ${index} has op ${JSON.stringify(op) ?? 'undefined'}; expected "put" or "delete"`);
      });
    } catch (error) {
      return Promise.reject(asError(error));
    }
    if (prepared.length === 0) return Promise.resolve();
    const data = this.#scopeData(scope);
    for (const [key, entry] of prepared) {
      if (entry === undefined) data.live.delete(key);
      else data.live.set(key, entry);
    }
    this.#forgetIfEmpty(scope, data);
    return Promise.resolve();
  }

  snapshot(scope: string, checkpointId: number): Promise<void> {
    if (!Number.isFinite(checkpointId)) return Promise.reject(this.#invalid(scope, `checkpointId must be a finite number, got ${String(checkpointId)}`));
    const data = this.#scopeData(scope);
    this.#dropExpired(data);
    // Entries are immutable, so a snapshot shares them with the live map: copying the map is enough.
    data.snapshots.set(checkpointId, new Map(data.live));
    return Promise.resolve();
  }

  restore(scope: string, checkpointId: number): Promise<boolean> {
    const data = this.#scopes.get(scope);
    if (data === undefined) return Promise.resolve(false);
    const snapshot = data.snapshots.get(checkpointId);
    data.live = new Map<string, Entry>(snapshot ?? []);
    this.#dropExpired(data);
    this.#forgetIfEmpty(scope, data);
    return Promise.resolve(snapshot !== undefined);
  }

  discardSnapshotsBefore(scope: string, checkpointId: number): Promise<void> {
    const data = this.#scopes.get(scope);
    if (data === undefined) return Promise.resolve();
    for (const id of data.snapshots.keys()) if (id < checkpointId) data.snapshots.delete(id);
    this.#forgetIfEmpty(scope, data);
    return Promise.resolve();
  }

  scopes(): Promise<readonly string[]> {
    const result: string[] = [];
    for (const [scope, data] of this.#scopes) {
      this.#dropExpired(data);
      if (this.#forgetIfEmpty(scope, data)) continue;
      result.push(scope);
    }
    return Promise.resolve(result.sort(compareStrings));
  }

  /** Nothing to release. Contents stay, so the instance can back a rebuilt runtime (see the class notes). */
  close(): Promise<void> {
    return Promise.resolve();
  }

  #prepare(scope: string, key: string, value: unknown, ttlMs: number | undefined): Entry {
    checkKey(this, scope, key);
    if (ttlMs !== undefined && !(typeof ttlMs === 'number' && ttlMs > 0 && Number.isFinite(ttlMs))) {
      throw this.#invalid(scope, `ttlMs for key ${JSON.stringify(key)} must be a positive finite number of milliseconds, got ${String(ttlMs)}`);
    }
    const problem = jsonProblem(value, 'value', []);
    if (problem !== undefined) {
      throw new TributaryError(
        'STATE_VALUE_NOT_JSON',
        `State store "${this.name}" cannot store key ${JSON.stringify(key)} in scope ${JSON.stringify(scope)}: ${problem}. ` +
          'State values must be JSON-compatible (plain objects, arrays, finite numbers, strings, booleans, null).',
      );
    }
    return {
      value: typeof value === 'object' && value !== null ? structuredClone(value) : value,
      expiresAt: ttlMs === undefined ? Infinity : this.#clock.now() + ttlMs,
    };
  }

  #invalid(scope: string, problem: string): TributaryError {
    return new TributaryError('INVALID_STATE_CHANGE', `State store "${this.name}", scope ${JSON.stringify(scope)}: ${problem}.`);
  }

  #scopeData(scope: string): ScopeData {
    let data = this.#scopes.get(scope);
    if (data === undefined) {
      if (typeof scope !== 'string') throw this.#invalid(String(scope), 'scope must be a string');
      data = { live: new Map(), snapshots: new Map() };
      this.#scopes.set(scope, data);
    }
    return data;
  }

  #dropExpired(data: ScopeData): void {
    const now = this.#clock.now();
    for (const [key, entry] of data.live) if (entry.expiresAt <= now) data.live.delete(key);
  }

  /** Removes a scope that holds nothing any more, so {@link MemoryStateStore.scopes} stops listing it. */
  #forgetIfEmpty(scope: string, data: ScopeData): boolean {
    if (data.live.size > 0 || data.snapshots.size > 0) return false;
    this.#scopes.delete(scope);
    return true;
  }
}

function checkKey(store: MemoryStateStore, scope: string, key: unknown): string {
  if (typeof key === 'string') return key;
  throw new TributaryError('INVALID_STATE_CHANGE', `State store "${store.name}", scope ${JSON.stringify(scope)}: key must be a string, got ${typeof key}.`);
}

const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));

const copyOut = (value: unknown): unknown => (typeof value === 'object' && value !== null ? structuredClone(value) : value);

const compareStrings = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const byKey = (a: readonly [string, unknown], b: readonly [string, unknown]): number => compareStrings(a[0], b[0]);
