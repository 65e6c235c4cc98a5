import type { StreamRecord } from '@tributary/core';

/**
 * One Redis command as the sink sends it: the command name, then its arguments.
 *
 * @example
 * ```ts
 * const increment: RedisCommand = ['HINCRBY', 'orders:count-by-status', 'paid', 1];
 * ```
 */
export type RedisCommand = readonly [command: string, ...args: (string | number | Buffer)[]];

/** What the sink does with a record: write its value, delete its key, or nothing. */
export type RedisSinkOperation = 'upsert' | 'delete' | 'skip';

/**
 * The hash fields of a value in `format: 'hash'`: strings, numbers and booleans are stored as text; `undefined` leaves
 * the field out; `null` leaves it out too, and with `hashWrite: 'merge'` deletes it from the stored hash (`HDEL`).
 */
export type RedisHashFields = Readonly<Record<string, string | number | boolean | null | undefined>>;

/** The record-dependent parts of the sink's options, after parsing. @internal */
export interface CommandPlan<V> {
  readonly keyPrefix: string;
  readonly key: (record: StreamRecord<V>) => string | null | undefined;
  readonly value: (record: StreamRecord<V>) => unknown;
  readonly operation: (record: StreamRecord<V>) => RedisSinkOperation;
  readonly format: 'json' | 'hash' | 'none';
  readonly hashWrite: 'replace' | 'merge';
  readonly fields: ((value: unknown, record: StreamRecord<V>) => RedisHashFields) | undefined;
  readonly ttlMs: number | ((record: StreamRecord<V>) => number | null | undefined) | undefined;
  readonly sortedSets: readonly SortedSetPlan<V>[];
  readonly commands: ((record: StreamRecord<V>, operation: 'upsert' | 'delete') => readonly RedisCommand[]) | undefined;
}

/** One sorted-set index, after parsing. @internal */
export interface SortedSetPlan<V> {
  readonly key: (record: StreamRecord<V>) => string | null | undefined;
  readonly member: ((record: StreamRecord<V>) => string) | undefined;
  readonly score: ((record: StreamRecord<V>) => number) | undefined;
  readonly maxLength: number | undefined;
  readonly ttlMs: number | undefined;
}

/** The commands of one record, and the key types they rely on (checked before an exactly-once commit writes anything). */
export interface RecordCommands {
  readonly commands: RedisCommand[];
  /** Keys that must be of the given type (or absent) for the commands to succeed. */
  readonly typeChecks: [key: string, type: 'zset' | 'hash'][];
}

/** Why a record cannot be turned into commands: the message names the record's position, never its value. */
export class RecordCommandError extends Error {
  override readonly name = 'RecordCommandError';
}

const where = (record: StreamRecord<unknown>): string => `record ${record.position.partition}@${record.position.offset}`;

/**
 * Turns a record into Redis commands. Pure: the same record and plan always give the same commands, which is what
 * lets exactly-once mode ship them inside the commit script and at-least-once mode pipeline them.
 *
 * @internal
 */
export function recordCommands<V>(record: StreamRecord<V>, plan: CommandPlan<V>): RecordCommands | undefined {
  const operation = plan.operation(record);
  if (operation === 'skip') return undefined;
  if (operation !== 'upsert' && operation !== 'delete') {
    throw new RecordCommandError(`operation returned ${JSON.stringify(operation) ?? String(operation)} for ${where(record)}; expected 'upsert', 'delete' or 'skip'`);
  }
  const commands: RedisCommand[] = [];
  const typeChecks: [string, 'zset' | 'hash'][] = [];
  let dataKey: string | undefined;
  const needsKey = plan.format !== 'none' || plan.sortedSets.some((set) => set.member === undefined);
  if (needsKey) {
    const key = plan.key(record);
    if (typeof key !== 'string' || key.length === 0) {
      throw new RecordCommandError(
        `the key option returned ${key === '' ? 'an empty string' : String(key)} for ${where(record)}: a record needs a key to be stored ` +
          "(give the sink a key function, or return 'skip' from operation for records to leave out)",
      );
    }
    dataKey = key;
  }
  const fullKey = dataKey === undefined ? undefined : plan.keyPrefix + dataKey;
  const ttl = ttlOf(record, plan);

  if (plan.format !== 'none' && fullKey !== undefined) {
    if (operation === 'delete') {
      commands.push(['DEL', fullKey]);
    } else if (plan.format === 'json') {
      const value = plan.value(record);
      let json: string | undefined;
      try {
        json = JSON.stringify(value);
      } catch (error) {
        throw new RecordCommandError(`the value of ${where(record)} cannot be written as JSON: ${error instanceof Error ? error.message : String(error)}`);
      }
      if (json === undefined) throw new RecordCommandError(`the value of ${where(record)} is ${typeof value}, which JSON cannot represent`);
      commands.push(ttl === undefined ? ['SET', fullKey, json] : ['SET', fullKey, json, 'PX', ttl]);
    } else {
      const value = plan.value(record);
      const { fields, cleared } = plan.fields === undefined ? flattenFields(value, record) : hashFields(plan.fields(value, record), record);
      if (plan.hashWrite === 'replace') commands.push(['DEL', fullKey]);
      else typeChecks.push([fullKey, 'hash']);
      if (fields.length > 0) commands.push(['HSET', fullKey, ...fields]);
      if (plan.hashWrite === 'merge' && cleared.length > 0) commands.push(['HDEL', fullKey, ...cleared]);
      if (ttl !== undefined && fields.length > 0) commands.push(['PEXPIRE', fullKey, ttl]);
    }
  }

  for (const set of plan.sortedSets) {
    const setKey = set.key(record);
    if (setKey === null || setKey === undefined) continue;
    if (typeof setKey !== 'string' || setKey.length === 0) throw new RecordCommandError(`a sortedSets key function returned ${String(setKey) || 'an empty string'} for ${where(record)}`);
    const fullSetKey = plan.keyPrefix + setKey;
    const member = set.member === undefined ? dataKey! : set.member(record);
    if (typeof member !== 'string') throw new RecordCommandError(`a sortedSets member function returned ${typeof member} for ${where(record)}; it must return a string`);
    typeChecks.push([fullSetKey, 'zset']);
    if (operation === 'delete') {
      commands.push(['ZREM', fullSetKey, member]);
      continue;
    }
    const score = set.score === undefined ? record.eventTime : set.score(record);
    if (typeof score !== 'number' || Number.isNaN(score)) throw new RecordCommandError(`a sortedSets score for ${where(record)} is ${String(score)}; it must be a number`);
    commands.push(['ZADD', fullSetKey, scoreText(score), member]);
    if (set.maxLength !== undefined) commands.push(['ZREMRANGEBYRANK', fullSetKey, 0, -(set.maxLength + 1)]);
    if (set.ttlMs !== undefined) commands.push(['PEXPIRE', fullSetKey, set.ttlMs]);
  }

  if (plan.commands !== undefined) {
    const extra = plan.commands(record, operation);
    if (!Array.isArray(extra)) throw new RecordCommandError(`the commands option returned ${typeof extra} for ${where(record)}; it must return an array of commands`);
    for (const command of extra as unknown[]) commands.push(checkCommand(command, record));
  }
  return { commands, typeChecks };
}

function ttlOf<V>(record: StreamRecord<V>, plan: CommandPlan<V>): number | undefined {
  const ttl = typeof plan.ttlMs === 'function' ? plan.ttlMs(record) : plan.ttlMs;
  if (ttl === null || ttl === undefined) return undefined;
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl <= 0) {
    throw new RecordCommandError(`the ttlMs for ${where(record)} is ${String(ttl)}; it must be a positive whole number of milliseconds (or undefined for none)`);
  }
  return ttl;
}

/** Redis reads scores as doubles; `Infinity` must be spelled `+inf`. */
const scoreText = (score: number): string => (score === Infinity ? '+inf' : score === -Infinity ? '-inf' : String(score));

function checkCommand(command: unknown, record: StreamRecord<unknown>): RedisCommand {
  if (
    Array.isArray(command) &&
    command.length > 0 &&
    typeof command[0] === 'string' &&
    /^[A-Za-z][A-Za-z.|_-]*$/.test(command[0]) &&
    command.every((part) => typeof part === 'string' || (typeof part === 'number' && Number.isFinite(part)) || Buffer.isBuffer(part))
  ) {
    return command as unknown as RedisCommand;
  }
  throw new RecordCommandError(
    `the commands option returned an invalid command for ${where(record)}: each command is [name, ...args] with a command name and string, finite number or Buffer arguments`,
  );
}

/** Hash fields to set (`name, value, ...`) and the names of fields given as `null`. */
interface HashFieldList {
  readonly fields: string[];
  readonly cleared: string[];
}

function hashFields(fields: RedisHashFields, record: StreamRecord<unknown>): HashFieldList {
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) {
    throw new RecordCommandError(`the fields option returned ${Array.isArray(fields) ? 'an array' : String(fields)} for ${where(record)}; it must return an object of fields`);
  }
  const out: string[] = [];
  const cleared: string[] = [];
  for (const [name, value] of Object.entries(fields)) {
    if (value === null) cleared.push(name);
    if (value === null || value === undefined) continue;
    if (typeof value === 'number' && !Number.isFinite(value)) throw new RecordCommandError(`field ${name} of ${where(record)} is ${String(value)}; Redis fields must be finite numbers or text`);
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new RecordCommandError(`field ${name} of ${where(record)} is a ${typeof value}; use strings, numbers or booleans (or format: 'json')`);
    }
    out.push(name, String(value));
  }
  return { fields: out, cleared };
}

/**
 * Flattens a value into hash fields: nested plain objects become dotted paths (`address.city`), arrays and other
 * objects are stored as JSON, `Date`s as ISO-8601 text, `null` and `undefined` are left out (a `null` path is listed
 * in `cleared`, so that a merge deletes it; a nested object turned `null` clears only its own path, not the fields
 * stored under it).
 *
 * @internal exported for unit tests
 */
export function flattenFields(value: unknown, record: StreamRecord<unknown>): HashFieldList {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RecordCommandError(`the value of ${where(record)} is ${Array.isArray(value) ? 'an array' : value === null ? 'null' : `a ${typeof value}`}; format 'hash' needs an object (or use format 'json')`);
  }
  const out: string[] = [];
  const cleared: string[] = [];
  const visit = (object: object, path: string, depth: number): void => {
    for (const [name, field] of Object.entries(object)) {
      const fieldPath = path === '' ? name : `${path}.${name}`;
      if (field === null) cleared.push(fieldPath);
      if (field === null || field === undefined) continue;
      if (typeof field === 'string') out.push(fieldPath, field);
      else if (typeof field === 'number' || typeof field === 'boolean' || typeof field === 'bigint') out.push(fieldPath, String(field));
      else if (field instanceof Date) out.push(fieldPath, field.toISOString());
      else if (typeof field === 'object' && !Array.isArray(field) && isPlain(field as object) && depth < 32) visit(field as object, fieldPath, depth + 1);
      else if (typeof field === 'object') {
        let json: string | undefined;
        try {
          json = JSON.stringify(field);
        } catch (error) {
          throw new RecordCommandError(`field ${fieldPath} of ${where(record)} cannot be written as JSON: ${error instanceof Error ? error.message : String(error)}`);
        }
        if (json !== undefined) out.push(fieldPath, json);
      } else {
        throw new RecordCommandError(`field ${fieldPath} of ${where(record)} is a ${typeof field}, which cannot be stored in a hash`);
      }
    }
  };
  visit(value, '', 0);
  return { fields: out, cleared };
}

const isPlain = (value: object): boolean => {
  const prototype = Object.getPrototypeOf(value) as unknown;
  return prototype === Object.prototype || prototype === null;
};
