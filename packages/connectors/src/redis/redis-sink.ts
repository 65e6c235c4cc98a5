import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { silentLogger } from '@tributary/core';
import type { Checkpoint, CommittedPositions, Logger, Sink, SinkContext, StreamRecord } from '@tributary/core';
import type { Redis } from 'ioredis';
import { ConnectorError } from '../errors.js';
import { parseRedisOptions, RedisConnection, redisConnectionShape } from './redis-connection.js';
// eslint-disable-next-line @typescript-eslint/no-unused-vars -- referenced by {@link} in the docs
import type { RedisConnectionOptions } from './redis-connection.js';
import { RecordCommandError, recordCommands } from './redis-sink-commands.js';
import type { CommandPlan, RecordCommands, RedisCommand, RedisHashFields, RedisSinkOperation } from './redis-sink-commands.js';

const functionSchema = <F>() => z.custom<F>((value) => typeof value === 'function', { message: 'must be a function' });

const positiveWholeMs = () =>
  z.int('must be a whole number of milliseconds').positive('must be a positive whole number of milliseconds').max(Number.MAX_SAFE_INTEGER);

// A function so the option types carry the sink's value type; the runtime schema is the same for all.
function redisSinkOptionsSchema<V>() {
  return z.strictObject({
    ...redisConnectionShape,
    /** Sink name: metrics, logs, and the offsets key of exactly-once mode (keep it stable across deployments). Default `'redis'`. */
    name: z
      .string()
      .min(1, 'must be a non-empty string')
      .regex(/^[^\s{}]+$/, 'must not contain spaces, { or }')
      .default('redis'),
    /** Prepended to every key the sink writes: data keys, sorted-set keys and the default offsets key. Default `''`. */
    keyPrefix: z.string('must be a string').default(''),
    /** The Redis key (before `keyPrefix`) of a record's value. Default: the record key (a record without one fails the write). */
    key: functionSchema<(record: StreamRecord<V>) => string | null | undefined>().optional(),
    /** What is stored for a record. Default: `record.value`. */
    value: functionSchema<(record: StreamRecord<V>) => unknown>().optional(),
    /**
     * Whether a record writes its key (`'upsert'`), deletes it (`'delete'`: the key, and its member in each sorted set)
     * or is left out (`'skip'`). Default: `'delete'` for a tombstone (value `null` or `undefined`), else `'upsert'`.
     */
    operation: functionSchema<(record: StreamRecord<V>) => RedisSinkOperation>().optional(),
    /**
     * How a value is stored: `'json'` — `SET key <JSON>`; `'hash'` — `HSET key field value ...` of the value's fields
     * (see `fields`); `'none'` — no value, only `sortedSets` and `commands`. Default `'json'`.
     */
    format: z.enum(['json', 'hash', 'none'], "must be 'json', 'hash' or 'none'").default('json'),
    /**
     * `format: 'hash'` only: `'replace'` deletes the hash before writing it, so it holds exactly the latest value;
     * `'merge'` only sets the fields given (fields left out keep their old value; fields given as `null` are deleted).
     * Default `'replace'`.
     */
    hashWrite: z.enum(['replace', 'merge'], "must be 'replace' or 'merge'").default('replace'),
    /**
     * `format: 'hash'` only: the fields of a value. Default: the value flattened — nested objects as dotted paths
     * (`address.city`), arrays as JSON, dates as ISO-8601, `null`/`undefined` left out.
     */
    fields: functionSchema<(value: unknown, record: StreamRecord<V>) => RedisHashFields>().optional(),
    /** Expire written keys this long after the write (`PX`/`PEXPIRE`), fixed or per record (`undefined`: no TTL). Default: no TTL. */
    ttlMs: z.union([positiveWholeMs(), functionSchema<(record: StreamRecord<V>) => number | null | undefined>()], 'must be a positive whole number of milliseconds or a function').optional(),
    /**
     * Time-ordered indexes: per record, `ZADD <keyPrefix + key(record)> <score> <member>` (on delete, `ZREM`).
     * `key` returns `null`/`undefined` to leave a record out; `member` defaults to the record's data key (without the
     * prefix); `score` defaults to the event time; `maxLength` keeps only the highest-scored members; `ttlMs` expires
     * the whole set that long after its last write. Default: none.
     */
    sortedSets: z
      .array(
        z.strictObject({
          /** The sorted set's key (before `keyPrefix`); `null`/`undefined` leaves the record out of this set. Required. */
          key: functionSchema<(record: StreamRecord<V>) => string | null | undefined>(),
          /** The member. Default: the record's data key (the `key` option's result, without the prefix). */
          member: functionSchema<(record: StreamRecord<V>) => string>().optional(),
          /** The score. Default: the record's event time. */
          score: functionSchema<(record: StreamRecord<V>) => number>().optional(),
          /** Keep only this many members, those with the highest scores (`ZREMRANGEBYRANK`). Default: no limit. */
          maxLength: z.int('must be a positive integer').positive('must be a positive integer').optional(),
          /** Expire the whole set this long after its last write (`PEXPIRE`). Default: no TTL. */
          ttlMs: positiveWholeMs().optional(),
        }),
        'must be a list of { key, member?, score?, maxLength?, ttlMs? }',
      )
      .default([]),
    /**
     * Further commands per record (counters, leaderboards), run after the built-in ones, in order; keys are used as
     * given (add `keyPrefix` yourself). Default: none.
     */
    commands: functionSchema<(record: StreamRecord<V>, operation: 'upsert' | 'delete') => readonly RedisCommand[]>().optional(),
    /**
     * `true`: buffer each checkpoint's writes and apply them at `commit`, together with the checkpoint's source
     * positions, in one Lua script; the runtime resumes from those positions (exactly-once). `false`: pipeline
     * writes as they come; `commit` waits for them (at-least-once). Default `false`.
     */
    exactlyOnce: z.boolean('must be true or false').default(false),
    /**
     * Exactly-once only. `true`: the sink takes a new writer generation in the offsets hash when it opens, and a commit
     * from an older generation is rejected (`REDIS_SINK_FENCED`), so a stale writer — a zombie of a restarted job —
     * cannot write. Turn it off only when several instances share the sink name, each writing its own partitions (the
     * per-partition position check still rejects a commit over positions someone else moved). Default `true`.
     */
    fencing: z.boolean('must be true or false').default(true),
    /** Exactly-once only: the hash holding positions, checkpoint and generation. Default `<keyPrefix>tributary:offsets:<name>`. */
    offsetsKey: z.string().min(1, 'must be a non-empty string').optional(),
    /** At-least-once only: pipelines in flight before `write` waits for the oldest. Default `4`. */
    maxPendingWrites: z.int('must be a positive integer').positive('must be a positive integer').max(1_000).default(4),
  });
}

const redisSinkOptionsSchemaInstance = redisSinkOptionsSchema<unknown>();

/**
 * Options of {@link redisSink}: how to reach Redis ({@link RedisConnectionOptions}) and what to write. Only the
 * connection is required (and even that defaults to `127.0.0.1:6379`); see each field for its default.
 *
 * @example
 * ```ts
 * const options: RedisSinkOptions<Customer> = {
 *   url: 'redis://127.0.0.1:6379',
 *   keyPrefix: 'app:',
 *   key: (record) => `customer:${record.value.id}`,
 *   format: 'hash',
 *   exactlyOnce: true,
 * };
 * ```
 *
 * @interface
 */
export type RedisSinkOptions<V> = z.input<ReturnType<typeof redisSinkOptionsSchema<V>>>;

type ParsedOptions<V> = z.output<ReturnType<typeof redisSinkOptionsSchema<V>>>;

/**
 * The exactly-once commit: checks the writer generation (fencing) and that every position is still what this writer
 * last saw (compare-and-set), checks key types, and only then runs the buffered commands and records the positions.
 * A commit whose id is already recorded was applied before (its reply was lost and ioredis resent it) and is
 * acknowledged without running again.
 *
 * KEYS[1] offsets hash. ARGV: fencing ('1'|'0'), generation, checkpoint id, committed-at, commit id, number of
 * positions, then per position (partition, expected offset or '', new offset), number of type checks, then per check
 * (key, type), then the commands as (argument count, name, args...).
 */
const commitScript = `
local offsets = KEYS[1]
if redis.call('HGET', offsets, 'commit') == ARGV[5] then return {'applied'} end
if ARGV[1] == '1' then
  local current = redis.call('HGET', offsets, 'generation')
  if current ~= ARGV[2] then return {'fenced', current or ''} end
end
local positions = tonumber(ARGV[6])
local i = 7
for _ = 1, positions do
  local stored = redis.call('HGET', offsets, 'offset:' .. ARGV[i]) or ''
  if stored ~= ARGV[i + 1] then return {'moved', ARGV[i], stored, ARGV[i + 1]} end
  i = i + 3
end
local checks = tonumber(ARGV[i])
i = i + 1
for _ = 1, checks do
  local found = redis.call('TYPE', ARGV[i])['ok']
  if found ~= 'none' and found ~= ARGV[i + 1] then return {'wrongtype', ARGV[i], found, ARGV[i + 1]} end
  i = i + 2
end
while i <= #ARGV do
  local count = tonumber(ARGV[i])
  redis.call(unpack(ARGV, i + 1, i + count))
  i = i + count + 1
end
i = 7
for _ = 1, positions do
  redis.call('HSET', offsets, 'offset:' .. ARGV[i], ARGV[i + 2])
  i = i + 3
end
redis.call('HSET', offsets, 'checkpoint', ARGV[3], 'committedAt', ARGV[4], 'commit', ARGV[5])
return {'ok'}
`;

interface CommitClient extends Redis {
  /** `args` is passed as one array (ioredis flattens it): a commit can carry millions of arguments, too many to spread. */
  tributarySinkCommit(offsetsKey: string, args: (string | number | Buffer)[]): Promise<string[]>;
}

const definedOn = new WeakSet<Redis>();

function withCommitScript(client: Redis): CommitClient {
  if (!definedOn.has(client)) {
    client.defineCommand('tributarySinkCommit', { numberOfKeys: 1, lua: commitScript });
    definedOn.add(client);
  }
  return client as CommitClient;
}

const OFFSET_FIELD = 'offset:';

/**
 * The Redis hot-store `Sink` (from `@tributary/core`): keeps the latest value per key (JSON strings or hashes), time-ordered sorted sets,
 * optional TTLs, deletes for tombstones or CDC delete events, and custom commands. Built by {@link redisSink}.
 *
 * **At-least-once** (default): each batch becomes one pipeline, sent at once; up to `maxPendingWrites` pipelines are
 * in flight before `write` waits; `commit` waits for all of them and fails if any command failed. After a crash the
 * source replays from its last committed position, so writes may repeat: keep them idempotent (SET, HSET, ZADD, DEL
 * are; HINCRBY in `commands` is not). It relies on Redis keeping what it acknowledged: writes a Redis crash loses
 * (with `appendfsync everysec`, up to about a second on a power loss or a postponed AOF write) are not replayed,
 * because the source positions were already committed.
 *
 * **Exactly-once** (`exactlyOnce: true`): `write` only buffers commands. `commit` runs them in one Lua script together
 * with the checkpoint's positions, stored in the offsets hash (`offset:<partition>` fields, plus `checkpoint`,
 * `generation`, `committedAt`). Redis runs a script all at once and persists it as one unit (AOF/RDB), so the data and
 * the positions are never apart: after a crash — even a Redis crash losing its last second — the runtime resumes
 * from the positions Redis holds and skips records already applied. One gap: if Redis loses *every* commit of a
 * partition (a wiped Redis, or a crash within the first second of a new sink under `appendfsync everysec`), the sink
 * reports no position for it and the runtime resumes from the source's own committed position — records before it
 * are not written again. Run Redis with `appendfsync always` (or replicas) when that matters.
 *
 * The script refuses to run (writing nothing) when:
 * - another writer opened the sink since this one (`fencing`, the default): `REDIS_SINK_FENCED`;
 * - a position is no longer what this writer last read or wrote — someone else committed the partition:
 *   `REDIS_SINK_POSITION_CONFLICT`;
 * - a key holds another type than a sorted set (for `sortedSets`) or hash (`hashWrite: 'merge'`): `REDIS_SINK_WRONG_TYPE`.
 * A command of your own (`commands`) that fails inside the script stops it after the commands before it ran (Redis
 * does not roll scripts back); the positions are then not recorded and the commit fails, so a restart replays those
 * records — only a non-idempotent command of your own can then apply twice. Buffered commands live in memory until
 * the checkpoint: size `checkpointIntervalMs` for it.
 *
 * Neither mode uses Redis Cluster (the commit script touches keys of any slot).
 */
export class RedisSink<V> implements Sink<V> {
  /** Sink name (metrics, logs, offsets key). */
  readonly name: string;
  /** Whether commits store source positions atomically with the data. */
  readonly exactlyOnce: boolean;
  /** Exactly-once only: the hash holding the committed positions. */
  readonly offsetsKey: string;
  /**
   * Exactly-once sinks only: the positions and checkpoint id stored with the last commit, read from Redis (so a
   * restarted process resumes from them), or `undefined` before the first commit. Absent on an at-least-once sink.
   */
  readonly committedPositions: (() => Promise<CommittedPositions | undefined>) | undefined;
  readonly #options: ParsedOptions<V>;
  readonly #plan: CommandPlan<V>;
  readonly #connection: RedisConnection;
  #logger: Logger = silentLogger;
  /** Exactly-once: commands (with their type checks) waiting for the next commit. */
  #buffer: RecordCommands[] = [];
  #bufferedRecords = 0;
  /** Exactly-once: the writer generation this sink holds. */
  #generation: string | undefined;
  /** Exactly-once: per partition, the offset this writer last read from or wrote to Redis (absent: none there). */
  #expected = new Map<string, string>();
  #expectedLoaded = false;
  /** At-least-once: pipelines in flight, oldest first. */
  #pending: Promise<void>[] = [];
  #failure: ConnectorError | undefined;
  #opened = false;

  /** @internal use {@link redisSink} */
  constructor(options: ParsedOptions<V>) {
    this.#options = options;
    this.name = options.name;
    this.exactlyOnce = options.exactlyOnce;
    this.offsetsKey = options.offsetsKey ?? `${options.keyPrefix}tributary:offsets:${options.name}`;
    this.#plan = {
      keyPrefix: options.keyPrefix,
      key: options.key ?? ((record) => record.key),
      value: options.value ?? ((record) => record.value),
      operation: options.operation ?? ((record) => (record.value === null || record.value === undefined ? 'delete' : 'upsert')),
      format: options.format,
      hashWrite: options.hashWrite,
      fields: options.fields,
      ttlMs: options.ttlMs,
      sortedSets: options.sortedSets.map((set) => ({ key: set.key, member: set.member, score: set.score, maxLength: set.maxLength, ttlMs: set.ttlMs })),
      commands: options.commands,
    };
    this.#connection = new RedisConnection(options, { what: `redisSink "${options.name}"`, keyPrefix: options.keyPrefix });
    this.committedPositions = options.exactlyOnce ? () => this.#readCommitted() : undefined;
  }

  /**
   * Connects (bounded attempts) and, in exactly-once mode, takes a writer generation and reads the committed positions.
   *
   * @throws ConnectorError `REDIS_UNREACHABLE` / `REDIS_AUTH_FAILED` when Redis cannot be reached or refuses the credentials
   */
  async open(context?: SinkContext): Promise<void> {
    this.#logger = context?.logger ?? silentLogger;
    this.#connection.logger = this.#logger;
    this.#connection.reopen();
    this.#buffer = [];
    this.#bufferedRecords = 0;
    this.#pending = [];
    this.#failure = undefined;
    this.#expectedLoaded = false;
    const client = await this.#connection.client();
    this.#opened = true;
    if (this.exactlyOnce) {
      if (this.#options.fencing) {
        try {
          this.#generation = String(await client.hincrby(this.offsetsKey, 'generation', 1));
        } catch (error) {
          throw this.#connection.commandError(error, `taking a writer generation in ${this.offsetsKey}`);
        }
      }
      await this.#readCommitted();
    }
    this.#logger.info(
      {
        connector: 'redis',
        sink: this.name,
        target: this.#connection.describe,
        mode: this.exactlyOnce ? 'exactly-once' : 'at-least-once',
        ...(this.exactlyOnce ? { offsetsKey: this.offsetsKey, generation: this.#generation ?? null } : {}),
      },
      `redisSink "${this.name}" opened`,
    );
  }

  /**
   * At-least-once: sends the batch as one pipeline and returns at once unless `maxPendingWrites` pipelines are in
   * flight. Exactly-once: buffers the batch's commands for the next commit. Either way, a record that cannot be turned
   * into commands (no key, a value JSON cannot hold) fails the write with `REDIS_SINK_BAD_RECORD`.
   */
  async write(records: readonly StreamRecord<V>[]): Promise<void> {
    this.#throwFailure();
    const batch: RecordCommands[] = [];
    for (const record of records) {
      let commands: RecordCommands | undefined;
      try {
        commands = recordCommands(record, this.#plan);
      } catch (error) {
        throw this.#badRecord(error, record);
      }
      if (commands !== undefined && commands.commands.length > 0) batch.push(commands);
    }
    if (this.exactlyOnce) {
      for (const commands of batch) this.#buffer.push(commands);
      this.#bufferedRecords += records.length;
      return;
    }
    if (batch.length === 0) return;
    const client = await this.#connection.client();
    const pipeline = client.pipeline();
    for (const { commands } of batch) for (const [name, ...args] of commands) pipeline.call(name, ...args);
    const sent = pipeline.exec().then(
      (results) => {
        const failed = results?.find(([error]) => error !== null);
        if (results === null) this.#fail(this.#connection.commandError(new Error('Connection is closed.'), `writing ${records.length} record(s)`));
        else if (failed !== undefined) this.#fail(this.#connection.commandError(failed[0], `writing ${records.length} record(s) (a ${commandName(failed[0])} command)`, 'REDIS_SINK_WRITE_FAILED'));
      },
      (error: unknown) => this.#fail(this.#connection.commandError(error, `writing ${records.length} record(s)`, 'REDIS_SINK_WRITE_FAILED')),
    );
    this.#pending.push(sent);
    void sent.finally(() => {
      const index = this.#pending.indexOf(sent);
      if (index >= 0) void this.#pending.splice(index, 1);
    });
    while (this.#pending.length >= this.#options.maxPendingWrites) await this.#pending[0];
    this.#throwFailure();
  }

  /**
   * At-least-once: waits for every pipeline in flight; rejects if a command failed. Exactly-once: applies the buffered
   * commands and records `checkpoint.positions` in one Lua script (see the class notes for what it refuses).
   */
  async commit(checkpoint: Checkpoint): Promise<void> {
    if (!this.exactlyOnce) {
      await Promise.all(this.#pending);
      this.#throwFailure();
      return;
    }
    this.#throwFailure();
    const client = withCommitScript(await this.#connection.client());
    if (!this.#expectedLoaded) await this.#readCommitted();
    const partitions = Object.entries(checkpoint.positions);
    const args: (string | number | Buffer)[] = [
      this.#options.fencing ? '1' : '0',
      this.#generation ?? '',
      String(checkpoint.id),
      String(Date.now()),
      randomUUID(),
      String(partitions.length),
    ];
    for (const [partition, offset] of partitions) args.push(partition, this.#expected.get(partition) ?? '', String(offset));
    const checks = new Map<string, string>();
    for (const { typeChecks } of this.#buffer) for (const [key, type] of typeChecks) checks.set(key, type);
    args.push(String(checks.size));
    for (const [key, type] of checks) args.push(key, type);
    let commandCount = 0;
    for (const { commands } of this.#buffer) {
      for (const command of commands) {
        args.push(command.length, ...command);
        commandCount++;
      }
    }
    const started = Date.now();
    let reply: string[];
    try {
      reply = await client.tributarySinkCommit(this.offsetsKey, args);
    } catch (error) {
      const failure = this.#connection.commandError(
        error,
        `committing checkpoint ${checkpoint.id} (${this.#bufferedRecords} record(s), ${commandCount} command(s))`,
        'REDIS_SINK_COMMIT_FAILED',
      );
      if (!/user_script|Error running script/i.test(failure.message)) throw failure;
      // A command failed inside the script: Redis keeps what ran before it. Say so, since it matters for replays.
      throw new ConnectorError(
        'REDIS_SINK_COMMIT_FAILED',
        `${failure.message}. The positions were not recorded, but the commands before the failing one were applied; ` +
          'a restart replays this checkpoint, which repeats them (harmless for SET/HSET/ZADD/DEL, not for counters in your commands option).',
        { connector: 'redis', topic: this.#options.keyPrefix, retriable: false, cause: failure.cause },
      );
    }
    const [outcome, ...details] = reply.map(String);
    if (outcome === 'fenced') {
      throw new ConnectorError(
        'REDIS_SINK_FENCED',
        `redisSink "${this.name}": commit of checkpoint ${checkpoint.id} rejected: another writer opened the sink since this one ` +
          `(generation ${details[0] || 'none'} in ${this.offsetsKey}, this writer holds ${this.#generation ?? 'none'}). ` +
          'This instance is stale (a zombie of a restarted job); nothing was written. Stop it; the newer writer carries on.',
        { connector: 'redis', topic: this.#options.keyPrefix, retriable: false },
      );
    }
    if (outcome === 'moved') {
      const [partition, stored, expected] = details;
      throw new ConnectorError(
        'REDIS_SINK_POSITION_CONFLICT',
        `redisSink "${this.name}": commit of checkpoint ${checkpoint.id} rejected: the position of partition ${partition} in ` +
          `${this.offsetsKey} is ${stored || 'absent'}, but this writer last saw ${expected || 'none'}; another writer committed it. ` +
          'Nothing was written; restart so that processing resumes from the stored positions.',
        { connector: 'redis', topic: this.#options.keyPrefix, retriable: false },
      );
    }
    if (outcome === 'wrongtype') {
      const [key, found, wanted] = details;
      throw new ConnectorError(
        'REDIS_SINK_WRONG_TYPE',
        `redisSink "${this.name}": commit of checkpoint ${checkpoint.id} rejected: key ${key} holds a ${found}, but the sink writes a ${wanted} there. ` +
          'Nothing was written; delete or rename the key, or change keyPrefix / the key functions.',
        { connector: 'redis', topic: this.#options.keyPrefix, retriable: false },
      );
    }
    if (outcome !== 'ok' && outcome !== 'applied') {
      throw new ConnectorError('REDIS_SINK_COMMIT_FAILED', `redisSink "${this.name}": unexpected reply ${JSON.stringify(reply)} from the commit script.`, {
        connector: 'redis',
        topic: this.#options.keyPrefix,
      });
    }
    for (const [partition, offset] of partitions) this.#expected.set(partition, String(offset));
    this.#logger.debug(
      { connector: 'redis', sink: this.name, checkpoint: checkpoint.id, records: this.#bufferedRecords, commands: commandCount, ms: Date.now() - started },
      `redisSink "${this.name}" committed`,
    );
    this.#buffer = [];
    this.#bufferedRecords = 0;
  }

  /** Drops buffered (uncommitted) commands and the connection at once, as a crash would. `open` can start again. */
  abort(): void {
    this.#buffer = [];
    this.#bufferedRecords = 0;
    this.#pending = [];
    this.#connection.disconnect();
    this.#opened = false;
  }

  /** Waits for writes in flight (at-least-once) and closes the connection. `open` can start again. */
  async close(): Promise<void> {
    if (this.#opened) await Promise.all(this.#pending);
    await this.#connection.close();
    this.#opened = false;
  }

  async #readCommitted(): Promise<CommittedPositions | undefined> {
    const client = await this.#connection.client();
    let stored: Record<string, string>;
    try {
      stored = await client.hgetall(this.offsetsKey);
    } catch (error) {
      throw this.#connection.commandError(error, `reading committed positions from ${this.offsetsKey}`);
    }
    const positions: Record<string, number> = {};
    this.#expected = new Map();
    for (const [field, value] of Object.entries(stored)) {
      if (!field.startsWith(OFFSET_FIELD)) continue;
      const partition = field.slice(OFFSET_FIELD.length);
      positions[partition] = Number(value);
      this.#expected.set(partition, value);
    }
    this.#expectedLoaded = true;
    if (Object.keys(positions).length === 0) return undefined;
    return { checkpointId: Number(stored.checkpoint ?? 0), positions };
  }

  #fail(error: ConnectorError): void {
    this.#failure ??= error;
  }

  #throwFailure(): void {
    const failure = this.#failure;
    if (failure !== undefined) {
      this.#failure = undefined;
      throw failure;
    }
  }

  #badRecord(error: unknown, record: StreamRecord<V>): ConnectorError {
    const message = error instanceof RecordCommandError ? error.message : `a function option threw for record ${record.position.partition}@${record.position.offset}: ${error instanceof Error ? error.message : String(error)}`;
    return new ConnectorError('REDIS_SINK_BAD_RECORD', `redisSink "${this.name}": ${message}.`, {
      connector: 'redis',
      topic: this.#options.keyPrefix,
      offset: String(record.position.offset),
      retriable: false,
      cause: error instanceof RecordCommandError ? undefined : error,
    });
  }
}

const commandName = (error: unknown): string => {
  const name = (error as { command?: { name?: unknown } } | null)?.command?.name;
  return typeof name === 'string' ? name.toUpperCase() : 'Redis';
};

/**
 * A `Sink` (from `@tributary/core`) writing records to Redis as a hot store: the latest value per key (`format: 'json'` → `SET`,
 * `'hash'` → `HSET` of the flattened fields), time-ordered sorted sets (`sortedSets`), TTLs (`ttlMs`), deletes for
 * tombstones or CDC deletes (`operation`) and commands of your own (`commands`). At-least-once by default (pipelined
 * writes); `exactlyOnce: true` commits each checkpoint's writes with the source positions in one Lua script, with a
 * fencing token against stale writers — see {@link RedisSink}.
 *
 * @param options see {@link RedisSinkOptions}; everything has a default
 * @throws InvalidOptionsError at construction, naming the bad option
 *
 * @example
 * ```ts
 * import { defineTopology, toSink } from '@tributary/core';
 * import { changesToIntents, decodeDebezium } from '@tributary/connectors/debezium';
 * import type { ChangeIntent } from '@tributary/connectors/debezium';
 * import { redisSink } from '@tributary/connectors/redis';
 *
 * // The latest row of each customer as a hash (deletes included), plus "recently changed" per country.
 * const customers = redisSink<ChangeIntent<Customer>>({
 *   url: 'redis://127.0.0.1:6379',
 *   keyPrefix: 'app:',
 *   key: (record) => (record.value.kind === 'truncate' ? null : `customer:${record.value.key}`),
 *   operation: (record) => (record.value.kind === 'truncate' ? 'skip' : record.value.kind),
 *   value: (record) => (record.value.kind === 'upsert' ? record.value.row : null),
 *   format: 'hash',
 *   hashWrite: 'merge', // columns Debezium did not send (unchanged TOAST) keep their stored value
 *   sortedSets: [{ key: (record) => (record.value.kind === 'upsert' ? `customers-by-country:${record.value.row.country}` : null), maxLength: 1_000 }],
 *   exactlyOnce: true,
 * });
 * const job = defineTopology({
 *   name: 'customers-hot',
 *   source, // a Kafka source of the Debezium topic
 *   pipeline: (messages) => messages.pipe(decodeDebezium(), changesToIntents(), toSink(customers)),
 * });
 * ```
 */
export function redisSink<V>(options: RedisSinkOptions<V> = {}): RedisSink<V> {
  const parsed = parseRedisOptions(redisSinkOptionsSchemaInstance, 'redisSink', options) as ParsedOptions<V>;
  return new RedisSink<V>(parsed);
}
