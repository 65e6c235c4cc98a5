import { z } from 'zod';
import { InvalidOptionsError, silentLogger } from '@tributary/core';
import type { Logger } from '@tributary/core';
import type { Redis, RedisOptions } from 'ioredis';
import { ConnectorError } from '../errors.js';

/** Beyond 2^31 - 1 ms a JavaScript timer fires at once instead of late, so longer timeouts are refused. */
const maxTimerDelayMs = 2_147_483_647;

const loggerSchema = z.custom<Logger>(
  (value) =>
    typeof value === 'object' &&
    value !== null &&
    ['debug', 'info', 'warn', 'error'].every((method) => typeof (value as Record<string, unknown>)[method] === 'function'),
  'must be a Logger (debug, info, warn, error)',
);

const pemSchema = z.union([z.string().min(1, 'must be a non-empty PEM string'), z.array(z.string().min(1)).min(1)], 'must be a PEM string or a list of them');

const tlsSchema = z.union(
  [
    z.boolean(),
    z.strictObject({
      /** Certificate authorities to trust instead of Node's default bundle (PEM). Default: Node's bundle. */
      ca: pemSchema.optional(),
      /** Client certificate for mutual TLS (PEM). Default: none. */
      cert: z.string().min(1, 'must be a non-empty PEM string').optional(),
      /** Private key of `cert` (PEM). Never logged. Default: none. */
      key: z.string().min(1, 'must be a non-empty PEM string').optional(),
      /** Name the server certificate must match (SNI). Default: the host. */
      servername: z.string().min(1, 'must be a non-empty string').optional(),
      /**
       * Kept only so that a copied `rejectUnauthorized: false` fails loudly: it must be `true` (or absent). Use
       * `insecureSkipVerify` if you really mean to turn certificate checks off.
       */
      rejectUnauthorized: z
        .literal(true, 'must be true: certificate verification stays on. To skip it (never in production) set insecureSkipVerify: true instead')
        .optional(),
      /**
       * Skips certificate verification: anyone on the network path can impersonate the server and read the password.
       * For throw-away test setups only; a warning is logged on every connect. Default `false`.
       */
      insecureSkipVerify: z.boolean('must be true or false').default(false),
    }),
  ],
  'must be true, false, or TLS settings { ca, cert, key, servername, insecureSkipVerify }',
);

/**
 * Connection options shared by every Redis factory of `@tributary/connectors/redis` (state store, sink, lookup).
 *
 * @internal spread into each factory's own schema
 */
export const redisConnectionShape = {
  /**
   * Connection URL, `redis://[user[:password]@]host[:port][/db]` or `rediss://...` for TLS. Fields given separately
   * (`host`, `port`, `db`, `username`, `password`, `tls`) override the URL's. Default: none (`host`/`port` apply).
   */
  url: z
    .string('must be a redis:// or rediss:// URL')
    .refine((value) => /^rediss?:\/\//i.test(value) && URL.canParse(value), 'must be a redis:// or rediss:// URL')
    .refine((value) => urlDbProblem(value) === undefined, 'the path of the URL must be a database number, like /0')
    .optional(),
  /** Server host name or IP address. Default `'127.0.0.1'` (or the URL's host). */
  host: z.string().min(1, 'must be a non-empty host name').optional(),
  /** Server port. Default `6379` (or the URL's port). */
  port: z.int('must be an integer port').min(1, 'must be between 1 and 65535').max(65_535, 'must be between 1 and 65535').optional(),
  /** Database index. Default `0` (or the URL's path, `/3`). */
  db: z.int('must be a non-negative integer').nonnegative('must be a non-negative integer').optional(),
  /** ACL user name (Redis 6+). Default: none (the `default` user). */
  username: z.string().min(1, 'must be a non-empty string').optional(),
  /** Password of `username` (or of the `default` user). Never logged. Default: none. */
  password: z.string().min(1, 'must be a non-empty string').optional(),
  /**
   * TLS: `true` for TLS with certificate verification against Node's CA bundle, or settings. Verification stays on
   * unless `insecureSkipVerify: true` is set explicitly. Default `false` (`true` for a `rediss://` URL).
   */
  tls: tlsSchema.optional(),
  /** How long one connection attempt may take (TCP, TLS and authentication), in ms. Default `5_000`. */
  connectTimeoutMs: z
    .number('must be a number of milliseconds')
    .positive('must be a positive number of milliseconds')
    .max(maxTimerDelayMs, `must be at most ${maxTimerDelayMs}`)
    .default(5_000),
  /**
   * Retries after a failed connection attempt — at start and after a lost connection — before the operation fails
   * with a `ConnectorError`; the delay doubles from 100 ms up to 2 s. Commands waiting for a reconnect fail after as
   * many attempts. Default `3`.
   */
  maxRetries: z.int('must be a non-negative integer').nonnegative('must be a non-negative integer').max(100, 'must be at most 100').default(3),
  /** Longest a single command (or commit script) may take before it fails, in ms. Default `30_000`. */
  commandTimeoutMs: z
    .number('must be a number of milliseconds')
    .positive('must be a positive number of milliseconds')
    .max(maxTimerDelayMs, `must be at most ${maxTimerDelayMs}`)
    .default(30_000),
  /** Name shown by `CLIENT LIST`, to find the connection on the server. Default `'tributary'`. */
  connectionName: z.string().regex(/^[!-~]+$/, 'must be printable ASCII without spaces').default('tributary'),
};

/**
 * Options that say how to reach Redis; every Redis factory in `@tributary/connectors/redis` accepts them.
 *
 * @example
 * ```ts
 * const connection: RedisConnectionOptions = {
 *   url: 'rediss://redis.internal:6380/0',
 *   username: 'orders-app',
 *   password: process.env.REDIS_PASSWORD,
 *   tls: { ca: readFileSync('ca.pem', 'utf8') },
 *   connectTimeoutMs: 3_000,
 *   maxRetries: 5,
 * };
 * ```
 *
 * @interface
 */
export type RedisConnectionOptions = z.input<z.ZodObject<typeof redisConnectionShape>>;

type ParsedConnection = z.output<z.ZodObject<typeof redisConnectionShape>>;

/** Where a connection goes, with everything needed to connect; `describe` is safe to log (no password). */
interface ResolvedConnection {
  readonly host: string;
  readonly port: number;
  readonly db: number;
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly tls: false | { ca?: string | string[]; cert?: string; key?: string; servername?: string; insecureSkipVerify: boolean };
  readonly connectTimeoutMs: number;
  readonly maxRetries: number;
  readonly commandTimeoutMs: number;
  readonly connectionName: string;
  /** `redis://user@host:port/db` — never the password. */
  readonly describe: string;
}

/** Combines the URL with the separate fields (which win). Never throws with the password in the message. */
export function resolveConnection(options: ParsedConnection): ResolvedConnection {
  let url: URL | undefined;
  if (options.url !== undefined) url = new URL(options.url);
  const fromUrlDb = url !== undefined && url.pathname.length > 1 ? Number(url.pathname.slice(1)) : undefined;
  const host = options.host ?? (url?.hostname ? url.hostname.replace(/^\[(.*)\]$/, '$1') : undefined) ?? '127.0.0.1';
  const port = options.port ?? (url?.port ? Number(url.port) : undefined) ?? 6379;
  const db = options.db ?? (fromUrlDb !== undefined && Number.isSafeInteger(fromUrlDb) && fromUrlDb >= 0 ? fromUrlDb : 0);
  const username = options.username ?? (url?.username ? decodeURIComponent(url.username) : undefined);
  const password = options.password ?? (url?.password ? decodeURIComponent(url.password) : undefined);
  const tlsOption = options.tls ?? url?.protocol.toLowerCase() === 'rediss:';
  const tls: ResolvedConnection['tls'] =
    tlsOption === false ? false : tlsOption === true ? { insecureSkipVerify: false } : { ...tlsOption, insecureSkipVerify: tlsOption.insecureSkipVerify };
  const scheme = tls === false ? 'redis' : 'rediss';
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const user = username === undefined ? '' : `${encodeURIComponent(username)}@`;
  return {
    host,
    port,
    db,
    username,
    password,
    tls,
    connectTimeoutMs: options.connectTimeoutMs,
    maxRetries: options.maxRetries,
    commandTimeoutMs: options.commandTimeoutMs,
    connectionName: options.connectionName,
    describe: `${scheme}://${user}${hostPart}:${port}/${db}`,
  };
}

/** Whether a URL given in options carries a database path that is not a number (caught at parse time). */
function urlDbProblem(url: string | undefined): string | undefined {
  if (url === undefined || !URL.canParse(url)) return undefined;
  const path = new URL(url).pathname;
  if (path.length <= 1) return undefined;
  return /^\/\d+$/.test(path) ? undefined : 'the path of the URL must be a database number, like /0';
}

const isLoopback = (host: string): boolean => host === 'localhost' || host === '::1' || /^127\./.test(host);

/** Stops at the first NOAUTH/WRONGPASS/NOPERM: retrying the same credentials cannot help. */
const isAuthFailure = (error: Error | undefined): boolean => error !== undefined && /^(WRONGPASS|NOAUTH|NOPERM|ERR AUTH|ERR invalid password)/i.test(error.message);

/**
 * A copy of a Redis client error that is safe to log and to keep as a `cause`: name, message and code only.
 * ioredis attaches the failed command with its arguments to errors — for `HELLO`/`AUTH` that includes the password,
 * for data commands the stored values — so the original error never leaves this module.
 *
 * @internal
 */
export function safeRedisError(error: unknown): Error {
  if (!(error instanceof Error)) return new Error(String(error));
  const copy = new Error(error.message);
  copy.name = error.name;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') (copy as Error & { code?: string }).code = code;
  const command = (error as { command?: { name?: unknown } }).command;
  if (typeof command?.name === 'string') (copy as Error & { commandName?: string }).commandName = command.name;
  // The stack of the original points into ioredis internals; keep ours short and free of arguments.
  copy.stack = `${copy.name}: ${copy.message}`;
  return copy;
}

interface IoRedisModule {
  readonly Redis: typeof Redis;
}

let ioredisModule: Promise<IoRedisModule> | undefined;

/** Loads ioredis on first use, so that the barrel can be imported (for types, docs) without it being installed. */
function loadIoRedis(): Promise<IoRedisModule> {
  const loading = (ioredisModule ??= import('ioredis').then(
    // ioredis is CommonJS: under Node's ESM loader the named export may only exist on `default`.
    (module) => ({ Redis: module.Redis ?? (module.default as unknown as { Redis: typeof Redis }).Redis }),
  ));
  return loading.catch((error: unknown) => {
    ioredisModule = undefined;
    throw new ConnectorError(
      'REDIS_CLIENT_MISSING',
      'The Redis connectors need the optional peer dependency ioredis, which could not be loaded. Install it with: npm install ioredis',
      { connector: 'redis', cause: error },
    );
  });
}

/** What a connection reports errors about: the component (`RedisStateStore "orders-state"`) and its key prefix. */
export interface ConnectionOwner {
  /** For messages: `RedisStateStore "state"`, `redisSink "orders-hot"`, `redisLookup "customers"`. */
  readonly what: string;
  /** Key prefix involved (goes to `ConnectorError.topic`). */
  readonly keyPrefix: string;
}

/**
 * One lazily opened, self-healing ioredis client with bounded connection attempts, errors translated into
 * {@link ConnectorError}s, and logs that never carry the password.
 *
 * @internal
 */
export class RedisConnection {
  readonly #settings: ResolvedConnection;
  readonly #owner: ConnectionOwner;
  #logger: Logger;
  #client: Redis | undefined;
  #connecting: Promise<Redis> | undefined;
  #closed = false;
  #warnedPlaintext = false;

  constructor(options: ParsedConnection, owner: ConnectionOwner, logger: Logger = silentLogger) {
    this.#settings = resolveConnection(options);
    this.#owner = owner;
    this.#logger = logger;
  }

  /** Where the connection goes, safe to log. */
  get describe(): string {
    return this.#settings.describe;
  }

  /** Replaces the logger (a sink learns its logger when the runtime opens it). */
  set logger(logger: Logger) {
    this.#logger = logger;
  }

  /** Allows use again after {@link RedisConnection.close} (a sink reopened by a new runtime). */
  reopen(): void {
    this.#closed = false;
  }

  /** The connected client, connecting first when needed (again after a connection that gave up reconnecting). */
  client(): Promise<Redis> {
    if (this.#closed) {
      return Promise.reject(
        new ConnectorError('REDIS_CLOSED', `${this.#owner.what} was closed; create a new one to talk to ${this.describe} again.`, {
          connector: 'redis',
          topic: this.#owner.keyPrefix,
        }),
      );
    }
    const client = this.#client;
    if (client !== undefined && client.status !== 'end' && client.status !== 'close') return Promise.resolve(client);
    this.#connecting ??= this.#connect().finally(() => (this.#connecting = undefined));
    return this.#connecting;
  }

  /** Quits gracefully (pending replies arrive first); the connection can be reopened with {@link RedisConnection.reopen}. */
  async close(): Promise<void> {
    this.#closed = true;
    const connecting = this.#connecting;
    if (connecting !== undefined) await connecting.catch(() => undefined);
    const client = this.#client;
    this.#client = undefined;
    if (client === undefined) return;
    if (client.status === 'ready') {
      await client.quit().catch(() => client.disconnect());
    } else {
      client.disconnect();
    }
  }

  /** Drops the connection at once, failing whatever is in flight: what a crash does. */
  disconnect(): void {
    this.#closed = true;
    const client = this.#client;
    this.#client = undefined;
    client?.disconnect();
  }

  /**
   * Wraps a failure of a command into a {@link ConnectorError} (kept as is when it already is one) whose cause is
   * stripped of command arguments.
   */
  commandError(error: unknown, doing: string, code = 'REDIS_COMMAND_FAILED'): ConnectorError {
    if (error instanceof ConnectorError) return error;
    const safe = safeRedisError(error);
    const lost = /Connection is closed|Command aborted|ECONNRESET|EPIPE|ETIMEDOUT|timed out|MaxRetriesPerRequest|Stream isn't writeable/i.test(safe.message);
    return new ConnectorError(
      lost ? 'REDIS_CONNECTION_LOST' : code,
      `${this.#owner.what}: ${doing} failed at ${this.describe}: ${safe.message}` +
        (lost ? '. The connection to Redis was lost; the operation can be retried once Redis is reachable.' : ''),
      { connector: 'redis', topic: this.#owner.keyPrefix, retriable: lost || /^(BUSY|LOADING|TRYAGAIN|MASTERDOWN|READONLY)/.test(safe.message), cause: safe },
    );
  }

  async #connect(): Promise<Redis> {
    const { Redis: RedisClass } = await loadIoRedis();
    const settings = this.#settings;
    if (settings.tls !== false && settings.tls.insecureSkipVerify) {
      this.#logger.warn(
        { connector: 'redis', target: settings.describe },
        `${this.#owner.what}: TLS certificate verification is OFF (insecureSkipVerify); the server is not authenticated`,
      );
    }
    if (settings.tls === false && settings.password !== undefined && !isLoopback(settings.host) && !this.#warnedPlaintext) {
      this.#warnedPlaintext = true;
      this.#logger.warn(
        { connector: 'redis', target: settings.describe },
        `${this.#owner.what}: a password is configured but TLS is off; the password crosses the network in clear text (set tls)`,
      );
    }
    let lastError: Error | undefined;
    const attempts = settings.maxRetries + 1;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (this.#closed) break;
      let everReady = false;
      let reconnects = 0;
      const options: RedisOptions = {
        host: settings.host,
        port: settings.port,
        db: settings.db,
        username: settings.username,
        password: settings.password,
        connectionName: settings.connectionName,
        connectTimeout: settings.connectTimeoutMs,
        commandTimeout: settings.commandTimeoutMs,
        lazyConnect: true,
        // Connection attempts at start are ours (bounded, with a clear error); once ready, ioredis reconnects itself
        // a bounded number of times, after which the next call of client() starts over.
        retryStrategy: () => {
          if (!everReady || reconnects >= settings.maxRetries) return null;
          reconnects++;
          return Math.min(100 * 2 ** (reconnects - 1), 2_000);
        },
        maxRetriesPerRequest: settings.maxRetries,
        enableOfflineQueue: true,
        // The ready check runs INFO, which a least-privilege ACL user (-@dangerous) may not run.
        enableReadyCheck: false,
        disableClientInfo: true,
      };
      if (settings.tls !== false) {
        const { insecureSkipVerify, ...tls } = settings.tls;
        options.tls = { ...tls, rejectUnauthorized: !insecureSkipVerify, servername: tls.servername ?? (isIp(settings.host) ? undefined : settings.host) };
      }
      const client = new RedisClass(options);
      let attemptError: Error | undefined;
      client.on('error', (error: unknown) => {
        const safe = safeRedisError(error);
        attemptError = safe;
        if (everReady) this.#logger.warn({ connector: 'redis', target: settings.describe, error: safe.message }, `${this.#owner.what}: Redis connection error`);
      });
      client.on('ready', () => {
        everReady = true;
        reconnects = 0;
      });
      try {
        await withTimeout(client.connect(), settings.connectTimeoutMs);
        everReady = true;
        this.#client = client;
        this.#logger.info(
          { connector: 'redis', target: settings.describe, attempt },
          `${this.#owner.what}: connected to Redis`,
        );
        return client;
      } catch (error) {
        client.disconnect();
        lastError = attemptError ?? safeRedisError(error);
        if (isAuthFailure(lastError)) break;
        if (attempt < attempts) {
          this.#logger.debug(
            { connector: 'redis', target: settings.describe, attempt, error: lastError.message },
            `${this.#owner.what}: connection attempt failed; retrying`,
          );
          await sleep(Math.min(100 * 2 ** (attempt - 1), 2_000));
        }
      }
    }
    if (this.#closed) {
      throw new ConnectorError('REDIS_CLOSED', `${this.#owner.what} was closed while connecting to ${settings.describe}.`, {
        connector: 'redis',
        topic: this.#owner.keyPrefix,
      });
    }
    if (isAuthFailure(lastError)) {
      throw new ConnectorError(
        'REDIS_AUTH_FAILED',
        `${this.#owner.what}: Redis at ${settings.describe} refused the credentials: ${lastError!.message}. ` +
          'Check username and password, and that the ACL user is enabled (ACL GETUSER).',
        { connector: 'redis', topic: this.#owner.keyPrefix, retriable: false, cause: lastError },
      );
    }
    throw new ConnectorError(
      'REDIS_UNREACHABLE',
      `${this.#owner.what}: could not connect to Redis at ${settings.describe} after ${attempts} attempt(s) ` +
        `(connectTimeoutMs ${settings.connectTimeoutMs}): ${lastError?.message ?? 'no answer'}. ` +
        'Check that Redis runs and that host, port and tls are right.',
      { connector: 'redis', topic: this.#owner.keyPrefix, retriable: true, cause: lastError },
    );
  }
}

const isIp = (host: string): boolean => /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(':');

const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    timer.unref?.();
  });

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    timer.unref?.();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

/** Lone UTF-16 surrogates cannot be encoded as UTF-8, so Redis would store something else than was given. */
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Whether `value` survives the round trip through UTF-8 unchanged. @internal */
export const isWellFormed = (value: string): boolean => !loneSurrogate.test(value);

/** The logger option shared by the store and the lookup. @internal */
export const loggerOptionSchema = loggerSchema;

/**
 * Parses factory options once, at construction: invalid options throw `InvalidOptionsError` naming every bad field as
 * `path: problem` (core's rule; its helper is internal to core).
 *
 * @internal
 */
export function parseRedisOptions<S extends z.ZodType>(schema: S, subject: string, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const describe = (path: readonly PropertyKey[], message: string): string => `${path.length > 0 ? path.map(String).join('.') : '(options)'}: ${message}`;
  const messages = result.error.issues.flatMap((issue) => {
    // A union (`tls: true | { ... }`) reports only its own message; when the input had the right shape for one branch
    // and failed deeper inside it, that branch's messages are the useful ones.
    if (issue.code === 'invalid_union') {
      const deeper = issue.errors.find((branch) => branch.length > 0 && branch.every((inner) => inner.path.length > 0));
      if (deeper !== undefined) return deeper.map((inner) => describe([...issue.path, ...inner.path], inner.message));
    }
    return [describe(issue.path, issue.message)];
  });
  throw new InvalidOptionsError(subject, messages);
}
