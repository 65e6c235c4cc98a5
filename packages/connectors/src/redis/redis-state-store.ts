import { z } from 'zod';
import { jsonProblem, systemClock, TributaryError } from '@tributary/core';
import type { Clock, StateChange, StatePutOptions, StateStore } from '@tributary/core';
import type { Redis } from 'ioredis';
import { isWellFormed, loggerOptionSchema, parseRedisOptions, RedisConnection, redisConnectionShape } from './redis-connection.js';
// eslint-disable-next-line @typescript-eslint/no-unused-vars -- referenced by {@link} in the docs
import type { RedisConnectionOptions } from './redis-connection.js';
import { applyScript, discardScript, getScript, restoreScript, scanPageScript, scopesScript, snapshotScript } from './redis-state-scripts.js';

const isClock = (value: unknown): value is Clock =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as Partial<Clock>).now === 'function' &&
  typeof (value as Partial<Clock>).setTimer === 'function';

const redisStateStoreOptionsSchema = z.strictObject({
  ...redisConnectionShape,
  /** Name used in logs, metrics and errors. Default `'redis'`. */
  name: z.string().min(1, 'must be a non-empty string').default('redis'),
  /** Prefix of every key the store writes; give each application (and each test) its own. Default `'tributary:state:'`. */
  keyPrefix: z
    .string('must be a string')
    .refine(isWellFormed, 'must not contain lone UTF-16 surrogates')
    .refine((prefix) => !/[{}]/.test(prefix), 'must not contain { or } (the store uses them to group a scope\'s keys)')
    .default('tributary:state:'),
  /** Processing-time clock that `ttlMs` expiry is measured with. Default: the system clock. */
  clock: z.custom<Clock>(isClock, 'must be a Clock with now() and setTimer()').optional(),
  /** Entries read per round trip by `scan`. Default `1_000`. */
  scanPageSize: z.int('must be a positive integer').positive('must be a positive integer').max(100_000, 'must be at most 100000').default(1_000),
  /** Where connection events are logged (never with the password). Default: silent. */
  logger: loggerOptionSchema.optional(),
});

/**
 * Options of {@link RedisStateStore}: how to reach Redis ({@link RedisConnectionOptions}) plus `name` (default
 * `'redis'`), `keyPrefix` (default `'tributary:state:'`), `clock` (default the system clock), `scanPageSize` (default
 * `1_000`) and `logger` (default silent).
 *
 * @example
 * ```ts
 * const options: RedisStateStoreOptions = { url: 'redis://127.0.0.1:6379', keyPrefix: 'orders-job:state:' };
 * ```
 *
 * @interface
 */
export type RedisStateStoreOptions = z.input<typeof redisStateStoreOptionsSchema>;

interface ScriptCommands {
  tributaryStateGet(v: string, x: string, key: string, now: string): Promise<string | null>;
  tributaryStateScanPage(v: string, k: string, x: string, lower: string, prefix: string, now: string, count: number): Promise<(string | number)[]>;
  /** Keys, then ARGV, as one array (ioredis flattens it): an apply can carry too many arguments to spread. */
  tributaryStateApply(keysAndArgs: string[]): Promise<number>;
  tributaryStateSnapshot(...args: string[]): Promise<number>;
  tributaryStateRestore(...args: string[]): Promise<number>;
  tributaryStateDiscard(...args: string[]): Promise<number>;
  tributaryStateScopes(registry: string, prefix: string, now: string): Promise<(string | number)[]>;
}

type ScriptClient = Redis & ScriptCommands;

const definedOn = new WeakSet<Redis>();

function withScripts(client: Redis): ScriptClient {
  if (!definedOn.has(client)) {
    client.defineCommand('tributaryStateGet', { numberOfKeys: 2, lua: getScript, readOnly: true });
    client.defineCommand('tributaryStateScanPage', { numberOfKeys: 3, lua: scanPageScript, readOnly: true });
    client.defineCommand('tributaryStateApply', { numberOfKeys: 5, lua: applyScript });
    client.defineCommand('tributaryStateSnapshot', { numberOfKeys: 8, lua: snapshotScript });
    client.defineCommand('tributaryStateRestore', { numberOfKeys: 8, lua: restoreScript });
    client.defineCommand('tributaryStateDiscard', { numberOfKeys: 3, lua: discardScript });
    client.defineCommand('tributaryStateScopes', { numberOfKeys: 1, lua: scopesScript });
    definedOn.add(client);
  }
  return client as ScriptClient;
}

/** `%`, `{` and `}` percent-encoded: the encoded scope contains no `}`, so `{<encoded>}` delimits it unambiguously. */
const encodeScope = (scope: string): string => scope.replace(/[%{}]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
const decodeScope = (member: string): string => member.replace(/%(25|7B|7D)/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));

const compareStrings = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The keys of one scope (see the layout in `redis-state-scripts.ts`). */
interface ScopeKeys {
  readonly member: string;
  readonly values: string;
  readonly keys: string;
  readonly expiries: string;
  readonly snapshots: string;
  readonly snapshotBase: string;
}

/**
 * The Redis `StateStore` (the interface of `@tributary/core`): operator state that survives a crash of the process and can move between instances
 * with the source partitions it belongs to. Passes core's `stateStoreContract`.
 *
 * How it stores things (Redis 6.2 or newer; standalone or a primary with replicas — not Redis Cluster):
 * - Per scope, a hash of JSON values and a sorted set of the keys with equal scores, so `scan` reads a key prefix in
 *   ascending byte order with `ZRANGEBYLEX`, a page (`scanPageSize`) per round trip. Keys are ordered by their UTF-8
 *   bytes, which equals JavaScript string order for keys without characters above U+FFFF (as in `MemoryStateStore`).
 *   All keys of a scope share the hash tag `{<scope>}`.
 * - Values must be JSON-compatible (plain objects, arrays, finite numbers, strings, booleans, `null`); anything else
 *   is rejected before Redis is touched, exactly as `MemoryStateStore` does. Keys and scopes must be well-formed
 *   UTF-16 (no lone surrogates), or they could not round-trip through UTF-8.
 * - TTL (`ttlMs`) is processing time from the `clock` option, so a virtual clock drives it in tests: each entry with a
 *   TTL has its expiry time in a per-scope sorted set, reads hide entries at or past it, and expired entries are
 *   deleted by later writes (up to 1 000 per `apply`/`put`), by `snapshot`, `restore` and by `scopes()` (all of
 *   them). Redis' own key expiry is not used: it would follow the server's clock, not the runtime's. Instances that
 *   share scopes should have synchronised clocks.
 * - `put`, `delete`, `apply`, `snapshot`, `restore` and `discardSnapshotsBefore` are each one Lua script: atomic, and
 *   safe to resend after a lost reply (they are idempotent). `snapshot` copies the scope's keys with `COPY` inside the
 *   script, so a snapshot is a consistent copy even while other clients write.
 * - `get` and each page of `scan` are read-only scripts; a `scan` spanning several pages may see writes made
 *   between pages (the runtime scans a scope only when no one writes it).
 * - Durability is Redis': with `appendfsync everysec` a Redis crash can lose the last second of writes. Runtime
 *   checkpoints then fall back to an older snapshot consistently, because the checkpoint log lives in the same store.
 *
 * Connecting is lazy (on the first call) with bounded attempts; an unreachable server fails that call with a
 * `ConnectorError` (`REDIS_UNREACHABLE`). Call {@link RedisStateStore.connect} to fail fast at start-up instead.
 *
 * @example
 * ```ts
 * import { createRuntime } from '@tributary/core';
 * import { RedisStateStore } from '@tributary/connectors/redis';
 *
 * const stateStore = new RedisStateStore({
 *   url: 'rediss://redis.internal:6380',
 *   username: 'orders-job',
 *   password: process.env.REDIS_PASSWORD,
 *   keyPrefix: 'orders-job:state:',
 * });
 * await stateStore.connect(); // fail at start-up rather than at the first checkpoint
 * const runtime = createRuntime(topology, { stateStore });
 * ```
 */
export class RedisStateStore implements StateStore {
  /** Name used in logs, metrics and errors. */
  readonly name: string;
  /** Prefix of every key this store writes. */
  readonly keyPrefix: string;
  readonly #clock: Clock;
  readonly #scanPageSize: number;
  readonly #connection: RedisConnection;
  readonly #registry: string;

  /**
   * @param options see {@link RedisStateStoreOptions}; nothing connects until the first call (or {@link connect})
   * @throws InvalidOptionsError naming the bad option
   */
  constructor(options: RedisStateStoreOptions = {}) {
    const parsed = parseRedisOptions(redisStateStoreOptionsSchema, 'RedisStateStore', options);
    this.name = parsed.name;
    this.keyPrefix = parsed.keyPrefix;
    this.#clock = parsed.clock ?? systemClock;
    this.#scanPageSize = parsed.scanPageSize;
    this.#registry = `${parsed.keyPrefix}scopes`;
    this.#connection = new RedisConnection(parsed, { what: `RedisStateStore "${parsed.name}"`, keyPrefix: parsed.keyPrefix }, parsed.logger);
  }

  /**
   * Connects now (otherwise the first operation does).
   *
   * @throws ConnectorError `REDIS_UNREACHABLE` after `maxRetries` failed attempts, `REDIS_AUTH_FAILED` on bad credentials
   */
  async connect(): Promise<void> {
    await this.#connection.client();
  }

  async get(scope: string, key: string): Promise<unknown> {
    const keys = this.#scopeKeys(scope);
    this.#checkKey(scope, key);
    const client = await this.#client();
    let raw: string | null;
    try {
      raw = await client.tributaryStateGet(keys.values, keys.expiries, key, String(this.#clock.now()));
    } catch (error) {
      throw this.#connection.commandError(error, `get of key ${JSON.stringify(key)} in scope ${JSON.stringify(scope)}`);
    }
    return raw === null ? undefined : (JSON.parse(raw) as unknown);
  }

  put(scope: string, key: string, value: unknown, options?: StatePutOptions): Promise<void> {
    return this.apply(scope, [{ op: 'put', key, value, ...(options?.ttlMs === undefined ? {} : { ttlMs: options.ttlMs }) }]);
  }

  delete(scope: string, key: string): Promise<void> {
    return this.apply(scope, [{ op: 'delete', key }]);
  }

  /**
   * Entries of `scope` whose key starts with `prefix`, in ascending key order, read `scanPageSize` at a time; expired
   * entries are skipped. Writes made while the iteration is under way may or may not be seen.
   */
  async *scan(scope: string, prefix = ''): AsyncIterable<readonly [key: string, value: unknown]> {
    const keys = this.#scopeKeys(scope);
    if (typeof prefix !== 'string' || !isWellFormed(prefix)) throw this.#invalid(scope, 'scan prefix must be a well-formed string');
    const client = await this.#client();
    let lower = prefix === '' ? '-' : `[${prefix}`;
    for (;;) {
      let page: (string | number)[];
      try {
        page = await client.tributaryStateScanPage(keys.values, keys.keys, keys.expiries, lower, prefix, String(this.#clock.now()), this.#scanPageSize);
      } catch (error) {
        throw this.#connection.commandError(error, `scan of scope ${JSON.stringify(scope)}`);
      }
      const read = Number(page[0]);
      for (let index = 2; index + 1 < page.length; index += 2) {
        yield [String(page[index]), JSON.parse(String(page[index + 1])) as unknown] as const;
      }
      if (read < this.#scanPageSize) return;
      lower = `(${String(page[1])}`;
    }
  }

  async apply(scope: string, changes: readonly StateChange[]): Promise<void> {
    const keys = this.#scopeKeys(scope);
    if (!Array.isArray(changes)) throw this.#invalid(scope, 'changes must be an array of { op, key, ... }');
    const now = this.#clock.now();
    // Everything that can fail happens here, before Redis is touched: that is what makes apply all or nothing.
    const args: string[] = [keys.values, keys.keys, keys.expiries, keys.snapshots, this.#registry, String(now), keys.member];
    changes.forEach((change: StateChange | null, index) => {
      if (change?.op === 'put') {
        this.#checkKey(scope, change.key);
        const ttlMs = change.ttlMs;
        if (ttlMs !== undefined && !(typeof ttlMs === 'number' && ttlMs > 0 && Number.isFinite(ttlMs))) {
          throw this.#invalid(scope, `ttlMs for key ${JSON.stringify(change.key)} must be a positive finite number of milliseconds, got ${String(ttlMs)}`);
        }
        const problem = jsonProblem(change.value);
        if (problem !== undefined) {
          throw new TributaryError(
            'STATE_VALUE_NOT_JSON',
            `State store "${this.name}" cannot store key ${JSON.stringify(change.key)} in scope ${JSON.stringify(scope)}: ${problem}. ` +
              'State values must be JSON-compatible (plain objects, arrays, finite numbers, strings, booleans, null).',
          );
        }
        args.push('p', change.key, JSON.stringify(change.value), ttlMs === undefined ? '' : String(now + ttlMs));
      } else if (change?.op === 'delete') {
        this.#checkKey(scope, change.key);
        args.push('d', change.key, '', '');
      } else {
        const op = (change as { op?: unknown } | null)?.op;
        throw this.#invalid(scope, `change ${index} has op ${JSON.stringify(op) ?? 'undefined'}; expected "put" or "delete"`);
      }
    });
    if (changes.length === 0) return;
    const client = await this.#client();
    try {
      await client.tributaryStateApply(args);
    } catch (error) {
      throw this.#connection.commandError(error, `apply of ${changes.length} change(s) to scope ${JSON.stringify(scope)}`);
    }
  }

  async snapshot(scope: string, checkpointId: number): Promise<void> {
    const keys = this.#scopeKeys(scope);
    const id = this.#checkpointId(scope, checkpointId);
    const client = await this.#client();
    try {
      await client.tributaryStateSnapshot(...this.#snapshotArgs(keys, id));
    } catch (error) {
      throw this.#connection.commandError(error, `snapshot ${id} of scope ${JSON.stringify(scope)}`);
    }
  }

  async restore(scope: string, checkpointId: number): Promise<boolean> {
    const keys = this.#scopeKeys(scope);
    const id = this.#checkpointId(scope, checkpointId);
    const client = await this.#client();
    try {
      return (await client.tributaryStateRestore(...this.#snapshotArgs(keys, id))) === 1;
    } catch (error) {
      throw this.#connection.commandError(error, `restore of checkpoint ${id} of scope ${JSON.stringify(scope)}`);
    }
  }

  async discardSnapshotsBefore(scope: string, checkpointId: number): Promise<void> {
    const keys = this.#scopeKeys(scope);
    const id = this.#checkpointId(scope, checkpointId);
    const client = await this.#client();
    try {
      await client.tributaryStateDiscard(keys.values, keys.snapshots, this.#registry, keys.member, id, keys.snapshotBase);
    } catch (error) {
      throw this.#connection.commandError(error, `discarding snapshots before ${id} of scope ${JSON.stringify(scope)}`);
    }
  }

  /** Scopes holding live entries or snapshots, in ascending order. Deletes expired entries of every scope on the way. */
  async scopes(): Promise<readonly string[]> {
    return (await this.#scopesScript()).scopes;
  }

  /**
   * Deletes every expired entry of every scope now (reads already hide them; writes delete them a few at a time) and
   * forgets scopes left empty. Returns how many entries were deleted. Run it now and then when scopes with TTLs stop
   * being written, or their expired entries keep their memory.
   */
  async purgeExpired(): Promise<number> {
    return (await this.#scopesScript()).purged;
  }

  /** Closes the connection. The store is unusable afterwards; what it stored stays in Redis. */
  async close(): Promise<void> {
    await this.#connection.close();
  }

  async #scopesScript(): Promise<{ purged: number; scopes: string[] }> {
    const client = await this.#client();
    let reply: (string | number)[];
    try {
      reply = await client.tributaryStateScopes(this.#registry, this.keyPrefix, String(this.#clock.now()));
    } catch (error) {
      throw this.#connection.commandError(error, 'listing scopes');
    }
    const scopes = reply.slice(1).map((member) => decodeScope(String(member)));
    return { purged: Number(reply[0]), scopes: scopes.sort(compareStrings) };
  }

  async #client(): Promise<ScriptClient> {
    return withScripts(await this.#connection.client());
  }

  #snapshotArgs(keys: ScopeKeys, id: string): string[] {
    const base = `${keys.snapshotBase}${id}:`;
    return [
      keys.values,
      keys.keys,
      keys.expiries,
      keys.snapshots,
      this.#registry,
      `${base}v`,
      `${base}k`,
      `${base}x`,
      String(this.#clock.now()),
      keys.member,
      id,
    ];
  }

  #scopeKeys(scope: string): ScopeKeys {
    if (typeof scope !== 'string') throw this.#invalid(String(scope), 'scope must be a string');
    if (!isWellFormed(scope)) throw this.#invalid(scope, 'scope must not contain lone UTF-16 surrogates');
    const member = encodeScope(scope);
    const base = `${this.keyPrefix}{${member}}:`;
    return {
      member,
      values: `${base}v`,
      keys: `${base}k`,
      expiries: `${base}x`,
      snapshots: `${base}snapshots`,
      snapshotBase: `${base}snapshot:`,
    };
  }

  #checkKey(scope: string, key: unknown): void {
    if (typeof key !== 'string') throw this.#invalid(scope, `key must be a string, got ${typeof key}`);
    if (!isWellFormed(key)) throw this.#invalid(scope, `key ${JSON.stringify(key)} contains a lone UTF-16 surrogate, which Redis cannot store as UTF-8`);
  }

  #checkpointId(scope: string, checkpointId: number): string {
    if (typeof checkpointId !== 'number' || !Number.isFinite(checkpointId)) {
      throw this.#invalid(scope, `checkpointId must be a finite number, got ${String(checkpointId)}`);
    }
    return String(checkpointId);
  }

  #invalid(scope: string, problem: string): TributaryError {
    return new TributaryError('INVALID_STATE_CHANGE', `State store "${this.name}", scope ${JSON.stringify(scope)}: ${problem}.`);
  }
}
