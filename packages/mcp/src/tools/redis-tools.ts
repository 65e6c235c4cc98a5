import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Redis, RedisOptions } from 'ioredis';
import { z } from 'zod';
import { ToolError } from '../errors.js';
import type { ToolCleanup, ToolContext } from '../server/tool-context.js';
import { READ_ONLY_TOOL } from '../server/tool-context.js';
import { capItems, dataResult } from '../server/tool-result.js';
import type { JsonValue } from '../server/tool-result.js';

const TOOL = 'redis_lookup';

/**
 * The part of an ioredis client `redis_lookup` uses. Every command goes through `call` / `callBuffer`, behind
 * {@link readOnlyRedis}'s allowlist.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * const client: RedisClientLike = new Redis('redis://127.0.0.1:6379');
 * ```
 */
export type RedisClientLike = Pick<Redis, 'call' | 'callBuffer'>;

const isRedisClient = (value: unknown): value is RedisClientLike =>
  typeof value === 'object' && value !== null && typeof (value as { call?: unknown }).call === 'function' && typeof (value as { callBuffer?: unknown }).callBuffer === 'function';

const tlsSchema = z.union(
  [
    z.boolean(),
    z.strictObject({
      /** Certificate authorities to trust instead of Node's bundle (PEM). Default: Node's bundle. */
      ca: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
      /** Client certificate for mutual TLS (PEM). Default: none. */
      cert: z.string().min(1).optional(),
      /** Private key of `cert` (PEM). Default: none. */
      key: z.string().min(1).optional(),
      /** Name the server certificate must match (SNI). Default: the host. */
      servername: z.string().min(1).optional(),
      /** Skips certificate verification (throw-away test setups only). Default `false`. */
      insecureSkipVerify: z.boolean().default(false),
    }),
  ],
  'expected true, false or TLS settings { ca, cert, key, servername, insecureSkipVerify }',
);

const connectionFields = ['url', 'host', 'port', 'db', 'username', 'password', 'tls'] as const;

/**
 * `redis` section of the server configuration: how to reach Redis and which keys an agent may read. Plain JSON (a
 * CLI config file) works: `{ "url": "redis://127.0.0.1:6379/0", "keyPrefixes": ["app:customer:"] }`.
 *
 * `keyPrefixes` is required and has no "everything" default: a Redis hot store is usually shared by several
 * applications (sessions, rate-limit counters, tokens, caches of other services), and Redis itself cannot grant
 * read access per key to a connection that can read at all. So nothing is readable unless its key starts with an
 * allowlisted prefix, and a pattern must begin with such a prefix — which also keeps the agent from enumerating the
 * keyspace.
 *
 * @example
 * ```ts
 * createTributaryMcpServer({ redis: { url: 'redis://127.0.0.1:6379/0', keyPrefixes: ['app:customer:', 'app:top:'], maxScanKeys: 50_000 } });
 * ```
 */
export const redisConfigSchema = z
  .strictObject({
    /**
     * Connection URL, `redis://[user[:password]@]host[:port][/db]` or `rediss://...` for TLS. Fields given separately
     * override the URL's. Default: none (`host`/`port` apply).
     */
    url: z
      .string()
      .refine((value) => /^rediss?:\/\//i.test(value) && URL.canParse(value), 'expected a redis:// or rediss:// URL')
      .refine((value) => !URL.canParse(value) || /^(\/\d*)?$/.test(new URL(value).pathname), 'the path of the URL must be a database number, like /0')
      .optional(),
    /** Server host. Default `'127.0.0.1'` (or the URL's host). */
    host: z.string().min(1).optional(),
    /** Server port. Default `6379` (or the URL's port). */
    port: z.int().min(1).max(65_535).optional(),
    /** Database index. Default `0` (or the URL's path). */
    db: z.int().min(0).max(1_000_000).optional(),
    /** ACL user (Redis 6+). A user limited to `+@read` on the allowlisted key patterns is the safest. Default: none. */
    username: z.string().min(1).optional(),
    /** Password of `username` (or of the `default` user). Never logged or returned. Default: none. */
    password: z.string().min(1).optional(),
    /** TLS: `true`, or settings. Default `false` (`true` for a `rediss://` URL). */
    tls: tlsSchema.optional(),
    /** How long connecting may take, in ms. Default `5_000`. */
    connectTimeoutMs: z.int().min(1).max(600_000).default(5_000),
    /**
     * A ready ioredis client to use instead of connecting (not closed by the server). Default: the server connects
     * on the first `redis_lookup` call and closes the connection with the server.
     */
    // Spelled out rather than RedisClientLike so the documented config type needs no extra export.
    client: z.custom<Pick<Redis, 'call' | 'callBuffer'>>(isRedisClient, { message: 'expected an ioredis client (with call and callBuffer)' }).optional(),
    /**
     * Literal key prefixes an agent may read, e.g. `["app:customer:"]`. Required, at least one: keys outside them
     * are refused whether they exist or not, and patterns must start with one of them.
     */
    keyPrefixes: z.array(z.string().min(1).max(1_024)).min(1, 'list at least one key prefix an agent may read').max(1_000),
    /**
     * Bound on the SCAN work of one pattern lookup: the sum of the COUNT hints sent (roughly the keys Redis
     * examines). SCAN MATCH filters after walking the keyspace, so this — not the number of matches — is what keeps a
     * pattern from walking a large keyspace; when it is reached the answer says `scan_complete: false`. Default
     * `100_000`; at most `10_000_000`.
     */
    maxScanKeys: z.int().min(1).max(10_000_000).default(100_000),
  })
  .refine((config) => config.client === undefined || connectionFields.every((field) => config[field] === undefined), {
    message: 'give either a ready client or connection settings (url, host, port, db, username, password, tls), not both',
    path: ['client'],
  });

/**
 * Input of the `redis` configuration section.
 *
 * @interface
 * @example
 * ```ts
 * const redis: RedisToolsConfig = { url: 'redis://127.0.0.1:6379', keyPrefixes: ['app:customer:'] };
 * ```
 */
export type RedisToolsConfig = z.input<typeof redisConfigSchema>;
type ParsedConfig = z.output<typeof redisConfigSchema>;

/**
 * Every command `redis_lookup` may send (upper case; a command with subcommands as `"MEMORY USAGE"`). Anything else — writes, `KEYS`, `EVAL`, `FLUSHALL`, `CONFIG`,
 * `DEBUG` — is refused before it reaches the client, so a bug in this module cannot change or enumerate the store.
 *
 * @example
 * ```ts
 * REDIS_READ_COMMANDS.has('ZRANGE'); // true
 * REDIS_READ_COMMANDS.has('DEL'); // false
 * ```
 */
export const REDIS_READ_COMMANDS: ReadonlySet<string> = new Set([
  'SCAN',
  'TYPE',
  'PTTL',
  'STRLEN',
  'GETRANGE',
  'HLEN',
  'HGETALL',
  'HMGET',
  'HSCAN',
  'HSTRLEN',
  'HKEYS',
  'HRANDFIELD',
  // MEMORY is allowed only with its USAGE subcommand (not DOCTOR, PURGE, ...): see readOnlyRedis.
  'MEMORY USAGE',
  'ZCARD',
  'ZCOUNT',
  'ZRANGE',
  'LLEN',
  'LRANGE',
  'SCARD',
  'SSCAN',
  'XLEN',
  'XRANGE',
  'XREVRANGE',
]);

/**
 * A Redis client that can only send {@link REDIS_READ_COMMANDS}; built by {@link readOnlyRedis}.
 *
 * @example
 * ```ts
 * const redis: ReadOnlyRedis = readOnlyRedis(client);
 * const [cursor, keys] = (await redis.read('SCAN', '0', 'MATCH', 'app:*', 'COUNT', 100)) as [string, string[]];
 * ```
 */
export interface ReadOnlyRedis {
  /** Sends a read command; replies are decoded as UTF-8 strings. */
  read(command: string, ...args: (string | number)[]): Promise<unknown>;
  /** Sends a read command; replies are Buffers (for values that may not be text). */
  readBuffer(command: string, ...args: (string | number)[]): Promise<unknown>;
}

/**
 * Wraps a client so that it only ever sends commands of {@link REDIS_READ_COMMANDS}; any other command is refused
 * with a `REDIS_COMMAND_REFUSED` {@link ToolError} without being sent.
 *
 * @example
 * ```ts
 * const redis = readOnlyRedis(new Redis());
 * await redis.read('TYPE', 'app:customer:1'); // 'hash'
 * await redis.read('DEL', 'app:customer:1'); // throws REDIS_COMMAND_REFUSED
 * ```
 */
export function readOnlyRedis(client: RedisClientLike): ReadOnlyRedis {
  const check = (command: string, args: readonly (string | number)[]): string => {
    const name = command.toUpperCase();
    const allowed = name === 'MEMORY' ? REDIS_READ_COMMANDS.has(`MEMORY ${String(args[0] ?? '').toUpperCase()}`) : REDIS_READ_COMMANDS.has(name);
    if (!allowed) {
      const shown = name === 'MEMORY' ? `MEMORY ${String(args[0] ?? '').toUpperCase()}`.trim() : name;
      throw new ToolError('REDIS_COMMAND_REFUSED', `${shown} is not a read command redis_lookup may send.`, { tool: TOOL });
    }
    return name;
  };
  return {
    read: async (command, ...args) => client.call(check(command, args), ...args),
    readBuffer: async (command, ...args) => client.callBuffer(check(command, args), ...args),
  };
}

const GLOB_SPECIAL = new Set(['*', '?', '[']);

/**
 * The literal text every key matching a Redis glob pattern starts with: the characters before the first unescaped
 * `*`, `?` or `[`, with `\x` escapes resolved. `complete` is true when the whole pattern is literal (it matches one key).
 *
 * @example
 * ```ts
 * literalPrefix('app:customer:*'); // { prefix: 'app:customer:', complete: false }
 * literalPrefix('a\\*b');          // { prefix: 'a*b', complete: true }
 * ```
 */
export function literalPrefix(pattern: string): { prefix: string; complete: boolean } {
  let prefix = '';
  for (let index = 0; index < pattern.length; index++) {
    const char = pattern[index]!;
    if (char === '\\') {
      // Redis treats a trailing backslash as a literal backslash.
      index++;
      prefix += pattern[index] ?? '\\';
    } else if (GLOB_SPECIAL.has(char)) {
      return { prefix, complete: false };
    } else {
      prefix += char;
    }
  }
  return { prefix, complete: true };
}

/**
 * Whether `key` lies under one of the allowlisted prefixes.
 *
 * @example
 * ```ts
 * keyAllowed('app:customer:1', ['app:customer:']); // true
 * ```
 */
export const keyAllowed = (key: string, prefixes: readonly string[]): boolean => prefixes.some((prefix) => key.startsWith(prefix));

const allowedList = (prefixes: readonly string[]): string => prefixes.map((prefix) => JSON.stringify(prefix)).join(', ');

/**
 * Refuses a pattern unless its literal prefix (see {@link literalPrefix}) starts with an allowlisted prefix — so
 * `*`, `?*`, `[a-z]*` and `other:*` are refused, with a {@link ToolError} `PATTERN_REFUSED` naming what is allowed.
 *
 * @example
 * ```ts
 * checkPattern('app:customer:4*', ['app:customer:']); // ok
 * checkPattern('*', ['app:customer:']);              // throws PATTERN_REFUSED
 * ```
 */
export function checkPattern(pattern: string, prefixes: readonly string[]): void {
  const { prefix } = literalPrefix(pattern);
  if (keyAllowed(prefix, prefixes)) return;
  const why =
    prefix === ''
      ? `Pattern ${JSON.stringify(pattern)} starts with a wildcard and would scan every Redis key.`
      : `Pattern ${JSON.stringify(pattern)} is not under an allowed key prefix.`;
  throw new ToolError(
    'PATTERN_REFUSED',
    `${why} A pattern must begin with one of these literal prefixes, with no wildcard before it: ${allowedList(prefixes)} (e.g. ${JSON.stringify(`${prefixes[0]!}*`)}).`,
    { tool: TOOL },
  );
}

const SCORE_BOUND = /^\(?(?:[+-]?inf|[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)$/i;

/**
 * Numeric value of a ZRANGE score bound (`'(1.5'`, `'-inf'`, `3`), whether it is exclusive, and the argument to send.
 *
 * @example
 * ```ts
 * parseScoreBound('(10'); // { value: 10, exclusive: true, arg: '(10' }
 * ```
 */
export function parseScoreBound(bound: string | number): { value: number; exclusive: boolean; arg: string } {
  if (typeof bound === 'number') return { value: bound, exclusive: false, arg: String(bound) };
  const exclusive = bound.startsWith('(');
  const text = (exclusive ? bound.slice(1) : bound).toLowerCase();
  const value = text.endsWith('inf') ? (text.startsWith('-') ? -Infinity : Infinity) : Number(text);
  return { value, exclusive, arg: bound };
}

const scoreBound = z
  .union([z.number().refine(Number.isFinite, 'expected a finite number'), z.string().max(64).regex(SCORE_BOUND, 'expected a number, "-inf", "+inf", or "(" before a number for an exclusive bound')])
  .describe('A score: a number, "-inf" / "+inf", or "(" + number for an exclusive bound, e.g. "(10".');
const rankIndex = z.int().min(-(2 ** 31)).max(2 ** 31);

interface KeyEntry {
  [key: string]: JsonValue;
}

const textDecoder = new TextDecoder('utf-8', { fatal: true });

/** Decodes bytes read from Redis as text when they are UTF-8 (allowing a character cut by a byte cap), else base64. */
function decodeBytes(bytes: Buffer, cut: boolean): { text: string } | { base64: string } {
  for (let drop = 0; drop <= (cut ? 3 : 0) && drop < bytes.length + 1; drop++) {
    try {
      return { text: textDecoder.decode(bytes.subarray(0, bytes.length - drop)) };
    } catch {
      // try again without a partial trailing character
    }
  }
  return { base64: bytes.toString('base64') };
}

/**
 * Field/value or member/score pairs from a reply in either protocol: RESP2 sends them flat (`[a, 1, b, 2]`), RESP3
 * (ioredis 6's default) as nested pairs (`[[a, 1], [b, 2]]`) or a map.
 */
function pairs(reply: unknown): [string, unknown][] {
  if (reply instanceof Map) return [...reply.entries()].map(([first, second]) => [String(first), second]);
  if (!Array.isArray(reply)) return reply !== null && typeof reply === 'object' ? Object.entries(reply) : [];
  if (reply.every((item) => Array.isArray(item))) return reply.map((pair: unknown[]) => [String(pair[0]), pair[1]]);
  const out: [string, unknown][] = [];
  for (let index = 0; index + 1 < reply.length; index += 2) out.push([String(reply[index]), reply[index + 1]]);
  return out;
}

const stringPairs = (reply: unknown): [string, string][] => pairs(reply).map(([first, second]) => [first, String(second)]);

/** A score as JSON: a number, or `"+inf"` / `"-inf"` (JSON has no infinity). */
const scoreJson = (score: unknown): JsonValue => {
  const value = typeof score === 'number' ? score : Number(score);
  if (Number.isFinite(value)) return value;
  return value === -Infinity || String(score).startsWith('-') ? '-inf' : '+inf';
};

interface ReadSpec {
  readonly limit: number;
  readonly fields: readonly string[] | undefined;
  readonly score: { min: string | number; max: string | number } | undefined;
  readonly rank: { start: number; stop: number } | undefined;
  readonly reverse: boolean;
  /**
   * Bytes of values still to be read in this call, shared by all its keys and all types: strings are fetched with
   * GETRANGE up to it, hash values only after HSTRLEN says they fit, and collections in pages sized from their
   * `MEMORY USAGE`, so a batch of huge values never pulls much more than one answer's worth of bytes out of Redis.
   * `cut` records that some read stopped because it was spent.
   */
  readonly budget: { remaining: number; cut: boolean };
}

/** Keys whose exact `MEMORY USAGE` (SAMPLES 0, a walk over every member) is cheap enough to ask for. */
const EXACT_SIZE_MAX = 10_000;
/** Most members asked for in one page of a collection. */
const PAGE_MAX = 1_000;
/** Most hash fields named in `too_large` (each with its size); the count says how many there were. */
const TOO_LARGE_LISTED = 10;

/** `type` of a key whose inspection failed (its entry carries the error). */
const FAILED = '(failed)';

const LENGTH_COMMANDS: Readonly<Record<string, string>> = { string: 'STRLEN', hash: 'HLEN', zset: 'ZCARD', list: 'LLEN', set: 'SCARD', stream: 'XLEN' };

/** Bytes of a reply's strings (numbers as their decimal text), however nested. */
function replyBytes(reply: unknown): number {
  if (typeof reply === 'string') return Buffer.byteLength(reply);
  if (Buffer.isBuffer(reply)) return reply.length;
  if (typeof reply === 'number' || typeof reply === 'bigint') return String(reply).length;
  if (Array.isArray(reply)) return reply.reduce((sum: number, item) => sum + replyBytes(item), 0);
  if (reply instanceof Map) return [...reply.entries()].reduce((sum: number, item) => sum + replyBytes(item), 0);
  return 0;
}

/** What one key is, read for every key before any value: type, TTL, length and (for collections) memory size. */
interface Inspected {
  readonly entry: KeyEntry;
  readonly type: string;
  readonly length: number;
  /**
   * Bytes the value takes: STRLEN for strings, `MEMORY USAGE` (at least the payload) for collections; undefined when
   * Redis refused MEMORY USAGE.
   */
  readonly size: number | undefined;
}

async function inspectKey(redis: ReadOnlyRedis, key: string): Promise<Inspected> {
  const [type, ttl] = (await Promise.all([redis.read('TYPE', key), redis.read('PTTL', key)])) as [string, number];
  const entry: KeyEntry = { key, type, exists: type !== 'none', ttl_ms: ttl >= 0 ? ttl : null };
  const lengthCommand = LENGTH_COMMANDS[type];
  if (lengthCommand === undefined) return { entry, type, length: 0, size: 0 };
  const length = Number(await redis.read(lengthCommand, key));
  entry['length'] = length;
  if (type === 'string') return { entry, type, length, size: length };
  // Exact for keys small enough to walk; Redis's sampled estimate beyond (see the paging caveat in readPages).
  const size = await redis.read('MEMORY', 'USAGE', key, 'SAMPLES', length <= EXACT_SIZE_MAX ? 0 : 5).then(
    (reply) => Number(reply ?? 0),
    (error: unknown) => {
      if (/^WRONGTYPE/.test(messageOf(error))) throw error;
      // MEMORY USAGE denied (an ACL without it, a managed Redis): sizes are learnt while reading, see readPages.
      return undefined;
    },
  );
  if (size !== undefined) entry['size_bytes'] = size;
  return { entry, type, length, size };
}

/**
 * Reads up to `want` members in pages, each sized so that members of the average size seen so far fit in what is left
 * of the byte budget, and stops when it is spent. The average is the larger of `MEMORY USAGE` over the length (which
 * overstates the payload) and the bytes per member of the pages already read; with no `MEMORY USAGE` the first page
 * is one member. When the whole key fits in the budget no read can exceed it; when it does not, a page of members much
 * larger than the average can overshoot by at most that page (Redis has no per-member size for lists, sets, sorted
 * sets or streams that a read-only client may ask for).
 */
async function readPages<T>(
  budget: ReadSpec['budget'],
  average: number | undefined,
  want: number,
  readPage: (count: number) => Promise<{ items: T[]; bytes: number; done: boolean }>,
): Promise<T[]> {
  const out: T[] = [];
  let bytesRead = 0;
  while (out.length < want) {
    if (budget.remaining <= 0) {
      budget.cut = true;
      break;
    }
    const seen = out.length > 0 ? bytesRead / out.length : 0;
    const perMember = average === undefined && out.length === 0 ? budget.remaining : Math.max(1, average ?? 0, seen);
    const count = Math.min(want - out.length, PAGE_MAX, Math.floor(budget.remaining / perMember));
    if (count <= 0) {
      budget.cut = true;
      break;
    }
    const page = await readPage(count);
    budget.remaining -= page.bytes;
    bytesRead += page.bytes;
    out.push(...page.items);
    if (page.done) break;
  }
  return out.slice(0, want);
}

/**
 * Reads the given hash fields, each only when HSTRLEN says its value fits in the budget; the others are named in
 * `too_large` with their size. Redis cannot return part of a hash value, so a field is whole or absent.
 */
async function readHashFields(
  redis: ReadOnlyRedis,
  key: string,
  names: readonly string[],
  budget: ReadSpec['budget'],
  missingAsNull: boolean,
): Promise<{ value: Record<string, JsonValue>; tooLarge: { field: string; bytes: number }[]; read: number }> {
  const value: Record<string, JsonValue> = {};
  const tooLarge: { field: string; bytes: number }[] = [];
  let read = 0;
  for (let offset = 0; offset < names.length && budget.remaining > 0; offset += 100) {
    const chunk = names.slice(offset, offset + 100);
    const sizes = (await Promise.all(chunk.map((field) => redis.read('HSTRLEN', key, field)))).map(Number);
    const fitting: string[] = [];
    chunk.forEach((field, index) => {
      const bytes = sizes[index]!;
      if (bytes <= budget.remaining) {
        // Reserved before HMGET so the next fields see what is left.
        budget.remaining -= bytes;
        fitting.push(field);
      } else {
        budget.cut = true;
        tooLarge.push({ field, bytes });
      }
    });
    read += chunk.length;
    if (fitting.length === 0) continue;
    const values = (await redis.read('HMGET', key, ...fitting)) as (string | null)[];
    fitting.forEach((field, index) => {
      const fieldValue = values[index] ?? null;
      // A field that vanished since the names were read is left out unless it was asked for by name.
      if (fieldValue !== null || missingAsNull) value[field] = fieldValue;
    });
  }
  if (read < names.length) budget.cut = true;
  return { value, tooLarge, read };
}

const sortStrings = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Reads one key's value by its type into `inspected.entry`: every collection capped at `limit` members, and every
 * value at what is left of the call's byte budget (see {@link ReadSpec.budget}).
 */
async function readValue(redis: ReadOnlyRedis, inspected: Inspected, spec: ReadSpec): Promise<KeyEntry> {
  const { entry, type, length, size } = inspected;
  const key = entry['key'] as string;
  const { limit, budget } = spec;
  // Average member size; `size` counts Redis's own overhead too, so this errs on the large side.
  const average = size === undefined ? undefined : size / Math.max(1, length);
  switch (type) {
    case 'none':
      return entry;
    case 'string': {
      const take = Math.max(0, Math.min(length, budget.remaining));
      budget.remaining -= take;
      const cut = take < length;
      if (cut) budget.cut = true;
      const bytes = take === 0 ? Buffer.alloc(0) : ((await redis.readBuffer('GETRANGE', key, 0, take - 1)) as Buffer);
      const decoded = take === 0 ? { text: '' } : decodeBytes(bytes, cut);
      if ('text' in decoded) {
        entry['value'] = decoded.text;
        if (!cut && /^\s*[[{]/.test(decoded.text)) {
          try {
            entry['json'] = JSON.parse(decoded.text) as JsonValue;
          } catch {
            // not JSON: the text alone is the value
          }
        }
      } else {
        entry['value_base64'] = decoded.base64;
      }
      entry['truncated'] = cut;
      return entry;
    }
    case 'hash': {
      if (spec.fields !== undefined) {
        const { value, tooLarge } = await readHashFields(redis, key, spec.fields, budget, true);
        entry['value'] = value;
        if (tooLarge.length > 0) entry['too_large'] = tooLarge.slice(0, TOO_LARGE_LISTED);
        entry['truncated'] = Object.keys(value).length < spec.fields.length;
        return entry;
      }
      if (size !== undefined && length <= EXACT_SIZE_MAX && size <= budget.remaining) {
        // The whole hash fits in what is left (by its exact size, not a sampled estimate): read values directly.
        let fields: [string, string][];
        if (length <= limit) {
          const reply = await redis.read('HGETALL', key);
          budget.remaining -= replyBytes(reply);
          fields = stringPairs(reply);
        } else {
          // HSCAN may repeat a field while the hash is rehashed; the map keeps each once.
          const seen = new Map<string, string>();
          let cursor = '0';
          do {
            const [next, batch] = (await redis.read('HSCAN', key, cursor, 'COUNT', Math.min(limit, PAGE_MAX))) as [string, unknown];
            cursor = next;
            budget.remaining -= replyBytes(batch);
            for (const [field, value] of stringPairs(batch)) seen.set(field, value);
          } while (cursor !== '0' && seen.size < limit);
          fields = [...seen.entries()].sort(([a], [b]) => sortStrings(a, b)).slice(0, limit);
        }
        entry['value'] = Object.fromEntries(fields);
        entry['truncated'] = fields.length < length;
        return entry;
      }
      // Too big to read whole: names first (HKEYS when there are at most `limit`, else `limit` distinct ones from
      // HRANDFIELD — Redis before 7.4 cannot scan names without values), then only the values that fit.
      const reply = (await (length <= limit ? redis.read('HKEYS', key) : redis.read('HRANDFIELD', key, limit))) as string[];
      budget.remaining -= replyBytes(reply);
      const names = [...new Set(reply)].sort(sortStrings).slice(0, limit);
      const { value, tooLarge } = await readHashFields(redis, key, names, budget, false);
      entry['value'] = value;
      if (tooLarge.length > 0) {
        entry['too_large'] = tooLarge.slice(0, TOO_LARGE_LISTED);
        entry['too_large_count'] = tooLarge.length;
      }
      entry['truncated'] = Object.keys(value).length < length;
      return entry;
    }
    case 'zset':
      return readSortedSet(redis, key, entry, spec, average);
    case 'list': {
      let start = 0;
      const value = await readPages(budget, average, Math.min(limit, length), async (count) => {
        const items = (await redis.read('LRANGE', key, start, start + count - 1)) as string[];
        start += items.length;
        return { items, bytes: replyBytes(items), done: items.length < count };
      });
      Object.assign(entry, { value, truncated: value.length < length });
      return entry;
    }
    case 'set': {
      const members = new Set<string>();
      let cursor = '0';
      let added = 0;
      await readPages(budget, average, Math.min(limit, length), async (count) => {
        const [next, batch] = (await redis.read('SSCAN', key, cursor, 'COUNT', count)) as [string, string[]];
        cursor = next;
        const before = members.size;
        for (const member of batch) members.add(member);
        added = members.size - before;
        // SSCAN may return nothing new in a page and still have more: report the page as read, not as the end.
        return { items: Array.from({ length: added }, () => 0), bytes: replyBytes(batch), done: cursor === '0' };
      });
      const value = [...members].sort(sortStrings).slice(0, limit);
      Object.assign(entry, { value, truncated: value.length < length });
      return entry;
    }
    case 'stream': {
      const { reverse } = spec;
      // The next page starts after the last id read ("(" makes a bound exclusive, Redis 6.2+).
      let from = reverse ? '+' : '-';
      const value = await readPages(budget, average, Math.min(limit, length), async (count) => {
        const raw = (await redis.read(reverse ? 'XREVRANGE' : 'XRANGE', key, from, reverse ? '-' : '+', 'COUNT', count)) as [string, unknown][];
        const items = raw.map(([id, fields]) => ({ id: String(id), fields: Object.fromEntries(stringPairs(fields)) }));
        if (items.length > 0) from = `(${items.at(-1)!.id}`;
        return { items, bytes: replyBytes(raw), done: items.length < count };
      });
      Object.assign(entry, { value, truncated: value.length < length });
      return entry;
    }
    default:
      // Module types (ReJSON-RL, ...) need module commands this tool does not send.
      entry['unsupported'] = `keys of type ${type} are not read by redis_lookup`;
      return entry;
  }
}

async function readSortedSet(redis: ReadOnlyRedis, key: string, entry: KeyEntry, spec: ReadSpec, average: number | undefined): Promise<KeyEntry> {
  const { limit, reverse, budget } = spec;
  const length = Number(entry['length']);
  const members = (reply: unknown): JsonValue[] => pairs(reply).map(([member, score]) => ({ member, score: scoreJson(score) }));
  if (spec.score !== undefined) {
    const min = String(spec.score.min);
    const max = String(spec.score.max);
    const inRange = Number(await redis.read('ZCOUNT', key, min, max));
    let offset = 0;
    // With REV, ZRANGE takes the bounds highest first.
    const value = await readPages(budget, average, Math.min(limit, inRange), async (count) => {
      const reply = await redis.read('ZRANGE', key, reverse ? max : min, reverse ? min : max, 'BYSCORE', ...(reverse ? ['REV'] : []), 'LIMIT', offset, count, 'WITHSCORES');
      const items = members(reply);
      offset += items.length;
      return { items, bytes: replyBytes(reply), done: items.length < count };
    });
    Object.assign(entry, { range: { by: 'score', min, max, reverse }, in_range: inRange, value, truncated: value.length < inRange });
    return entry;
  }
  const requested = spec.rank ?? { start: 0, stop: limit - 1 };
  // Negative ranks count from the end, as in ZRANGE; resolved here so the member cap can be applied.
  const start = Math.max(0, requested.start < 0 ? length + requested.start : requested.start);
  const stop = Math.min(length - 1, requested.stop < 0 ? length + requested.stop : requested.stop);
  const inRange = Math.max(0, stop - start + 1);
  let next = start;
  const value = await readPages(budget, average, Math.min(limit, inRange), async (count) => {
    const reply = await redis.read('ZRANGE', key, next, next + count - 1, ...(reverse ? ['REV'] : []), 'WITHSCORES');
    const items = members(reply);
    next += items.length;
    return { items, bytes: replyBytes(reply), done: items.length < count };
  });
  Object.assign(entry, { range: { by: 'rank', start: requested.start, stop: requested.stop, reverse }, in_range: inRange, value, truncated: value.length < inRange });
  return entry;
}

/** Finds keys matching `pattern` with SCAN MATCH, bounded by `maxKeys` found and `maxScanKeys` of COUNT sent. */
async function scanKeys(
  redis: ReadOnlyRedis,
  pattern: string,
  prefixes: readonly string[],
  maxKeys: number,
  maxScanKeys: number,
  signal: AbortSignal,
): Promise<{ keys: string[]; moreKeys: boolean; scanComplete: boolean; scanCalls: number }> {
  const found = new Set<string>();
  let cursor = '0';
  let budget = maxScanKeys;
  let scanCalls = 0;
  do {
    if (signal.aborted) break;
    const count = Math.min(1_000, budget);
    budget -= count;
    scanCalls += 1;
    const [next, batch] = (await redis.read('SCAN', cursor, 'MATCH', pattern, 'COUNT', count)) as [string, string[]];
    cursor = next;
    // The pattern guard already implies this; checked again so no key outside the allowlist can ever be returned.
    for (const key of batch) if (keyAllowed(key, prefixes)) found.add(key);
    // One key beyond the cap tells "there are more" from "exactly maxKeys".
  } while (cursor !== '0' && budget > 0 && found.size <= maxKeys);
  const keys = [...found].sort();
  return { keys: keys.slice(0, maxKeys), moreKeys: keys.length > maxKeys, scanComplete: cursor === '0', scanCalls };
}

/** Where the connection goes, without the password (for errors and logs). */
function describeTarget(config: ParsedConfig, commandTimeoutMs: number): { options: RedisOptions; describe: string } {
  const url = config.url === undefined ? undefined : new URL(config.url);
  const host = config.host ?? (url?.hostname ? url.hostname.replace(/^\[(.*)\]$/, '$1') : '127.0.0.1');
  const port = config.port ?? (url?.port ? Number(url.port) : 6379);
  const db = config.db ?? (url !== undefined && url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0);
  const username = config.username ?? (url?.username ? decodeURIComponent(url.username) : undefined);
  const password = config.password ?? (url?.password ? decodeURIComponent(url.password) : undefined);
  const tls = config.tls ?? url?.protocol.toLowerCase() === 'rediss:';
  const options: RedisOptions = {
    host,
    port,
    db,
    connectionName: 'tributary-mcp',
    connectTimeout: config.connectTimeoutMs,
    // A command never outlives the tool call that sent it.
    commandTimeout: commandTimeoutMs,
    lazyConnect: true,
    // INFO (the ready check) may be denied to a least-privilege read-only ACL user.
    enableReadyCheck: false,
    maxRetriesPerRequest: 1,
    retryStrategy: (attempt) => (attempt > 3 ? null : Math.min(100 * 2 ** attempt, 2_000)),
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password }),
  };
  if (tls !== false) {
    const { insecureSkipVerify = false, ...settings } = tls === true ? {} : tls;
    options.tls = { ...settings, rejectUnauthorized: !insecureSkipVerify };
  }
  const user = username === undefined ? '' : `${encodeURIComponent(username)}@`;
  return { options, describe: `${tls === false ? 'redis' : 'rediss'}://${user}${host.includes(':') ? `[${host}]` : host}:${port}/${db}` };
}

/** ioredis attaches failed commands (with their arguments, passwords for AUTH) to errors: keep the message only. */
const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * Registers `redis_lookup` when `redis` is configured: reads keys under the allowlisted prefixes, by exact key or by a
 * pattern beginning with such a prefix, with every command read-only ({@link readOnlyRedis}). Connects on the first
 * call; the returned cleanup closes a connection it opened.
 *
 * @example
 * ```ts
 * const cleanup = registerRedisTools(server, context, redisConfigSchema.parse({ url: 'redis://127.0.0.1:6379', keyPrefixes: ['app:'] }));
 * ```
 */
export function registerRedisTools(server: McpServer, context: ToolContext, config: ParsedConfig | undefined): ToolCleanup {
  if (config === undefined) return undefined;
  const { limits, run, logger } = context;
  const prefixes = config.keyPrefixes;
  const target = config.client === undefined ? describeTarget(config, limits.timeoutMs) : undefined;
  let owned: Redis | undefined;
  let connecting: Promise<ReadOnlyRedis> | undefined;
  let closed = false;

  const connect = async (): Promise<ReadOnlyRedis> => {
    if (config.client !== undefined) return readOnlyRedis(config.client);
    const { options, describe } = target!;
    const module = await import('ioredis');
    // ioredis is CommonJS: under Node's ESM loader the class may only be reachable through `default`.
    const RedisClass = module.Redis ?? (module.default as unknown as { Redis: typeof Redis }).Redis;
    const client = new RedisClass(options);
    client.on('error', (error: unknown) => logger.warn({ tool: TOOL, target: describe, error: messageOf(error) }, 'redis_lookup: Redis connection error'));
    try {
      await client.connect();
    } catch (error) {
      client.disconnect();
      throw new ToolError('REDIS_UNAVAILABLE', `Could not connect to Redis at ${describe}: ${messageOf(error)}. Retry later or ask the operator to check the server.`, {
        tool: TOOL,
        retriable: true,
      });
    }
    if (closed) {
      // The server closed while this call was connecting: do not leave the connection open.
      client.disconnect();
      throw new ToolError('SERVER_CLOSED', 'The MCP server is closing.', { tool: TOOL });
    }
    owned = client;
    return readOnlyRedis(client);
  };
  const redis = (): Promise<ReadOnlyRedis> => {
    const current = owned;
    if (current !== undefined && (current.status === 'end' || current.status === 'close')) {
      owned = undefined;
      connecting = undefined;
    }
    connecting ??= connect();
    connecting.catch(() => (connecting = undefined));
    return connecting;
  };

  const maxMembers = Math.min(10_000, limits.maxRows);
  const maxKeys = Math.min(1_000, limits.maxRows);
  const key = z.string().min(1).max(1_024);

  server.registerTool(
    TOOL,
    {
      description:
        'Reads keys of the Redis hot store by exact key (up to 100) or by a glob pattern that starts with an allowed ' +
        `literal prefix (${allowedList(prefixes)}); never a pattern that would scan all keys. For each key: type, TTL ` +
        'and value by type — string (with json when it holds a JSON object or array), hash (all or selected fields), ' +
        'sorted set (by score range or rank range, with scores), list, set, stream — capped in members and bytes. A value ' +
        'too big for the byte cap is cut (hash fields that do not fit are listed in too_large with their size); every key ' +
        'is still listed with its type, TTL, length and size_bytes, marked truncated.',
      inputSchema: {
        keys: z.array(key).min(1).max(100).optional().describe(`Exact keys to read (1 to 100), each starting with an allowed prefix. Give keys or pattern.`),
        pattern: z
          .string()
          .min(1)
          .max(1_024)
          .optional()
          .describe('Redis glob (*, ?, [abc], \\ escapes) whose literal start is an allowed prefix, e.g. "app:customer:4*". Give keys or pattern.'),
        max_keys: z.int().min(1).max(maxKeys).default(Math.min(50, maxKeys)).describe(`Most keys a pattern returns, at most ${maxKeys}. Default 50.`),
        limit: z.int().min(1).max(maxMembers).default(Math.min(100, maxMembers)).describe(`Most members read per hash, sorted set, list, set or stream, at most ${maxMembers}. Default 100.`),
        fields: z.array(z.string().max(1_024)).min(1).max(100).optional().describe('Hashes: read only these fields (HMGET); missing fields are null.'),
        score_range: z
          .strictObject({ min: scoreBound, max: scoreBound })
          .optional()
          .describe('Sorted sets: members with min <= score <= max, lowest first ("(" makes a bound exclusive).'),
        rank_range: z
          .strictObject({ start: rankIndex.describe('First rank, 0-based; negative counts from the end.'), stop: rankIndex.describe('Last rank, inclusive; -1 is the last.') })
          .optional()
          .describe('Sorted sets: members by rank (0 = lowest score; highest with reverse). Default: ranks 0 to limit - 1.'),
        reverse: z.boolean().default(false).describe('Sorted sets and streams: highest score (newest entry) first.'),
      },
      annotations: READ_ONLY_TOOL,
    },
    (args) =>
      run(TOOL, args, async (signal) => {
        const refuse = (code: string, message: string): never => {
          throw new ToolError(code, message, { tool: TOOL });
        };
        if ((args.keys === undefined) === (args.pattern === undefined)) refuse('INVALID_ARGUMENTS', 'Give either keys (exact keys) or pattern (a glob), not both or neither.');
        if (args.score_range !== undefined && args.rank_range !== undefined) refuse('INVALID_ARGUMENTS', 'Give score_range or rank_range, not both.');
        if (args.score_range !== undefined) {
          const min = parseScoreBound(args.score_range.min);
          const max = parseScoreBound(args.score_range.max);
          if (min.value > max.value) refuse('INVALID_RANGE', `score_range is inverted: min (${min.arg}) is above max (${max.arg}). Use reverse: true for highest first.`);
        }
        const rank = args.rank_range;
        // Only comparable when both count from the same end (-3..2 may well be a valid range of a small set).
        if (rank !== undefined && rank.start >= 0 === rank.stop >= 0 && rank.start > rank.stop) {
          refuse('INVALID_RANGE', `rank_range is inverted: start (${rank.start}) is after stop (${rank.stop}). Use reverse: true for highest first.`);
        }
        let keys: string[];
        let scan: Record<string, JsonValue> | undefined;
        let moreKeys = false;
        if (args.keys !== undefined) {
          const outside = args.keys.filter((candidate) => !keyAllowed(candidate, prefixes));
          // Refused whether the key exists or not, so the tool cannot probe keys outside the allowlist.
          if (outside.length > 0) {
            refuse('KEY_NOT_ALLOWED', `Key(s) ${outside.slice(0, 5).map((k) => JSON.stringify(k)).join(', ')} are not readable. Readable keys start with: ${allowedList(prefixes)}.`);
          }
          keys = [...new Set(args.keys)];
        } else {
          const pattern = args.pattern!;
          checkPattern(pattern, prefixes);
          const literal = literalPrefix(pattern);
          if (literal.complete) {
            keys = [literal.prefix];
          } else {
            const found = await scanKeys(await redis(), pattern, prefixes, args.max_keys, config.maxScanKeys, signal);
            keys = found.keys;
            moreKeys = found.moreKeys;
            scan = { pattern, complete: found.scanComplete, calls: found.scanCalls, max_scan_keys: config.maxScanKeys };
          }
        }
        const client = await redis();
        const spec: ReadSpec = {
          limit: args.limit,
          fields: args.fields,
          score: args.score_range,
          rank: args.rank_range,
          reverse: args.reverse,
          budget: { remaining: limits.maxBytes, cut: false },
        };
        const failed = (one: string, error: unknown): KeyEntry => {
          // A key replaced by one of another type between TYPE and the read: report it, keep the other keys.
          if (/^WRONGTYPE/.test(messageOf(error))) return { key: one, error: 'the key changed type while it was read; ask again' };
          throw error;
        };
        let entries: KeyEntry[];
        try {
          // What every key is (type, TTL, length, size) in parallel: small replies, and each key is reported even when
          // its value does not fit. Then the values one key after another, in order, from the shared byte budget.
          const inspected = await Promise.all(
            keys.map((one) => inspectKey(client, one).catch((error: unknown): Inspected => ({ entry: failed(one, error), type: FAILED, length: 0, size: 0 }))),
          );
          entries = [];
          for (const item of inspected) {
            const one = item.entry['key'] as string;
            entries.push(item.type === FAILED || signal.aborted ? item.entry : await readValue(client, item, spec).catch((error: unknown) => failed(one, error)));
          }
        } catch (error) {
          if (error instanceof ToolError) throw error;
          throw new ToolError('REDIS_READ_FAILED', `Reading from Redis failed: ${messageOf(error)}.`, { tool: TOOL, retriable: true });
        }
        const { kept, truncated: bytesCut } = fitEntries(entries, limits.maxBytes);
        const scanIncomplete = scan !== undefined && scan['complete'] === false;
        const valuesCut = kept.some((entry) => entry['truncated'] === true);
        const truncated = bytesCut || spec.budget.cut || moreKeys || scanIncomplete || valuesCut;
        const data: Record<string, JsonValue> = { keys: kept, truncated };
        if (scan !== undefined) data['scan'] = { ...scan, more_keys: moreKeys };
        const found = kept.filter((entry) => entry['exists'] === true).length;
        const notes = [
          moreKeys ? `more keys match (max_keys ${args.max_keys})` : '',
          scanIncomplete ? `scan stopped after ~${config.maxScanKeys} keys examined (maxScanKeys), narrow the pattern` : '',
          bytesCut || spec.budget.cut ? `values cut at ${limits.maxBytes} bytes (every key is still listed with its type, TTL and length)` : '',
          valuesCut ? 'some values capped (see truncated, too_large per key)' : '',
        ].filter((note) => note !== '');
        return dataResult(
          `${kept.length} key(s) returned, ${found} existing${notes.length > 0 ? `; truncated: ${notes.join('; ')}` : ''}.`,
          'the Redis hot store',
          data,
        );
      }),
  );

  return async () => {
    closed = true;
    await connecting?.catch(() => undefined);
    const client = owned;
    owned = undefined;
    if (client === undefined) return;
    await client.quit().catch(() => client.disconnect());
  };
}

/** A key's entry without its value: what is always reported, whatever the byte cap. */
function shellOf(entry: KeyEntry): KeyEntry {
  const { value: _value, value_base64: _base64, json: _json, ...shell } = entry;
  return shell;
}

const jsonBytes = (value: JsonValue): number => Buffer.byteLength(JSON.stringify(value));

/**
 * The largest start of `entry`'s value that fits in `room` bytes of JSON (whole characters of a string, whole
 * members of a collection), or its shell when none does; marked `truncated`.
 */
function cutEntry(entry: KeyEntry, room: number): KeyEntry {
  const shell: KeyEntry = { ...shellOf(entry), truncated: true };
  const value = entry['value'] ?? entry['value_base64'];
  if (typeof value === 'string') {
    const field = 'value' in entry ? 'value' : 'value_base64';
    const left = room - jsonBytes({ ...shell, [field]: '' });
    // Escaping and UTF-8 make a character 1 to 6 bytes of JSON: dropping as many characters as bytes overflow
    // always gets closer. Base64 stays in whole 4-character groups.
    let text = value.slice(0, Math.max(0, left));
    for (let overflow = jsonBytes(text) - left; text.length > 0 && overflow > 0; overflow = jsonBytes(text) - left) {
      text = text.slice(0, Math.max(0, text.length - overflow));
    }
    if (field === 'value_base64') text = text.slice(0, text.length - (text.length % 4));
    return text.length > 0 ? { ...shell, [field]: text } : shell;
  }
  if (Array.isArray(value)) {
    const members = capItems(value, room - jsonBytes({ ...shell, value: [] }));
    return members.kept.length > 0 ? { ...shell, value: members.kept } : shell;
  }
  if (value !== null && typeof value === 'object') {
    const members = capItems(Object.entries(value), room - jsonBytes({ ...shell, value: {} }));
    return members.kept.length > 0 ? { ...shell, value: Object.fromEntries(members.kept) } : shell;
  }
  return shell;
}

/**
 * Fits the answer in `maxBytes` without ever dropping a key: every key keeps its shell (key, type, TTL, length,
 * size), and values are added in order while they fit — whole, else cut (see {@link cutEntry}). The shells alone may
 * exceed a tiny `maxBytes`: they are bounded by the number of keys (100, or `max_keys`), and a key missing from the
 * answer would read as a key that does not exist.
 */
function fitEntries(entries: readonly KeyEntry[], maxBytes: number): { kept: KeyEntry[]; truncated: boolean } {
  const whole = capItems(entries, maxBytes);
  if (!whole.truncated) return whole;
  const shells = entries.map(shellOf);
  let used = jsonBytes(shells);
  const kept = entries.map((entry, index) => {
    const shell = shells[index]!;
    if (shell === entry || Object.keys(shell).length === Object.keys(entry).length) return entry;
    const shellBytes = jsonBytes(shell);
    const full = jsonBytes(entry);
    if (used - shellBytes + full <= maxBytes) {
      used += full - shellBytes;
      return entry;
    }
    const cut = cutEntry(entry, Math.max(0, maxBytes - used + shellBytes));
    used += jsonBytes(cut) - shellBytes;
    return cut;
  });
  return { kept, truncated: true };
}
