import * as net from 'node:net';
import * as tls from 'node:tls';
import { z } from 'zod';
import { InvalidOptionsError } from '@tributary/core';
import type { Logger } from '@tributary/core';
import type * as KafkaJsModule from 'kafkajs';
import type { AuthenticationProviderArgs, ISocketFactory, Kafka, KafkaConfig, Mechanism, SASLOptions } from 'kafkajs';
import { ConnectorError } from '../errors.js';
import { kafkaLogCreator } from './kafka-log-creator.js';
import type { KafkaLogLevel } from './kafka-log-creator.js';

/** Beyond 2^31 - 1 ms a JavaScript timer fires at once instead of late, so longer timeouts are refused. */
export const maxTimerDelayMs = 2_147_483_647;

export const functionSchema = <F>() => z.custom<F>((value) => typeof value === 'function', 'must be a function');

export const loggerSchema = z.custom<Logger>(
  (value) =>
    typeof value === 'object' &&
    value !== null &&
    ['debug', 'info', 'warn', 'error'].every((method) => typeof (value as Record<string, unknown>)[method] === 'function'),
  'must be a Logger (debug, info, warn, error)',
);

export const milliseconds = (what: string) =>
  z.int(`must be an integer number of milliseconds (${what})`).positive('must be a positive number of milliseconds').max(maxTimerDelayMs, `must be at most ${maxTimerDelayMs}`);

const pemSchema = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)], 'must be a PEM string or a list of them');

const tlsSchema = z.union(
  [
    z.boolean('must be true, false or TLS settings'),
    z.strictObject({
      /** Certificate authorities to trust instead of Node's bundle (PEM). Default: Node's bundle. */
      ca: pemSchema.optional(),
      /** Client certificate for mutual TLS (PEM). Default: none. */
      cert: pemSchema.optional(),
      /** Private key of `cert` (PEM). Never logged. Default: none. */
      key: pemSchema.optional(),
      /** Passphrase of `key`. Never logged. Default: none. */
      passphrase: z.string().min(1, 'must be a non-empty string').optional(),
      /** Name the broker certificate must match (SNI). Default: the broker host. */
      servername: z.string().min(1, 'must be a non-empty string').optional(),
      /**
       * Whether the broker certificate is verified. Default `true`. `false` is refused unless the connection options
       * also say `allowInsecureTls: true` (and a warning is logged): anyone on the path could impersonate the broker.
       */
      rejectUnauthorized: z.boolean('must be true or false').default(true),
    }),
  ],
  'must be true, false or TLS settings { ca, cert, key, passphrase, servername, rejectUnauthorized }',
);

const nonEmpty = z.string('must be a non-empty string').min(1, 'must be a non-empty string');

const saslSchema = z.discriminatedUnion(
  'mechanism',
  [
    z.strictObject({ mechanism: z.literal('plain'), username: nonEmpty, password: nonEmpty }),
    z.strictObject({ mechanism: z.literal('scram-sha-256'), username: nonEmpty, password: nonEmpty }),
    z.strictObject({ mechanism: z.literal('scram-sha-512'), username: nonEmpty, password: nonEmpty }),
    z.strictObject({
      mechanism: z.literal('oauthbearer'),
      /** Returns a fresh token `{ value }`; called at every (re)authentication. Tokens it returns are never logged. */
      oauthBearerProvider: functionSchema<() => Promise<{ value: string }>>(),
    }),
  ],
  { error: () => "must be { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512', username, password } or { mechanism: 'oauthbearer', oauthBearerProvider }" },
);

/**
 * Connection options shared by every factory of `@tributary/connectors/kafka` (source, sinks, admin). Spread into each
 * factory's own `z.strictObject`.
 *
 * @internal
 */
export const kafkaConnectionShape = {
  /** Bootstrap brokers, `host:port`. Required. */
  brokers: z
    .array(z.string().regex(/^[^\s:]+:\d{1,5}$/, 'must be host:port'), 'must be a list of host:port strings')
    .min(1, 'must name at least one broker'),
  /** Client id sent to the brokers (quotas, broker logs). Default `'tributary'`. */
  clientId: z.string().regex(/^[A-Za-z0-9._-]+$/, 'must contain only letters, digits, ".", "_" or "-"').default('tributary'),
  /**
   * TLS: `true` (verify against Node's CA bundle) or settings. Certificate verification stays on unless
   * `rejectUnauthorized: false` is combined with `allowInsecureTls: true`. Default: no TLS.
   */
  ssl: tlsSchema.optional(),
  /** Allows `ssl.rejectUnauthorized: false` (never in production; a warning is logged). Default `false`. */
  allowInsecureTls: z.boolean('must be true or false').default(false),
  /**
   * SASL authentication: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER. Passwords and tokens are never logged.
   * PLAIN sends the password in clear text, so it is refused without `ssl` unless `allowSaslPlainWithoutTls: true`.
   * Default: none.
   */
  sasl: saslSchema.optional(),
  /** Allows SASL PLAIN without TLS (test setups only; a warning is logged). Default `false`. */
  allowSaslPlainWithoutTls: z.boolean('must be true or false').default(false),
  /** Time allowed for one TCP (and TLS) connection attempt, in ms. Default `3_000`. */
  connectionTimeoutMs: milliseconds('connectionTimeoutMs').default(3_000),
  /** Time allowed for one request to be answered, in ms. Default `30_000`. */
  requestTimeoutMs: milliseconds('requestTimeoutMs').default(30_000),
  /**
   * Bounded retries of connections and retriable requests, with exponential back-off: `retries` (default `5`, at most
   * `20`), `initialRetryTimeMs` (default `300`), `maxRetryTimeMs` (longest single wait, default `10_000`). With the
   * defaults an unreachable broker is reported after about 10 s.
   */
  retry: z
    .strictObject({
      retries: z.int('must be an integer').min(0, 'must be between 0 and 20').max(20, 'must be between 0 and 20').default(5),
      initialRetryTimeMs: milliseconds('initialRetryTimeMs').default(300),
      maxRetryTimeMs: milliseconds('maxRetryTimeMs').max(60_000, 'must be at most 60000').default(10_000),
    })
    .default({ retries: 5, initialRetryTimeMs: 300, maxRetryTimeMs: 10_000 }),
  /** Which kafkajs log lines reach the logger: `'nothing' | 'error' | 'warn' | 'info' | 'debug'`. Default `'warn'`. */
  clientLogLevel: z.enum(['nothing', 'error', 'warn', 'info', 'debug']).default('warn'),
};

const _connectionSchema = z.strictObject(kafkaConnectionShape);

/** Parsed connection options, as every factory holds them. */
export type KafkaConnection = z.output<typeof _connectionSchema>;

/**
 * Connection options accepted by every factory of `@tributary/connectors/kafka` (`kafkaSource`, `kafkaSink`,
 * `kafkaDeadLetterSink`, `kafkaAdmin`).
 *
 * - `brokers` (required): bootstrap brokers, `host:port`.
 * - `clientId` (default `'tributary'`).
 * - `ssl` (default none): `true` or `{ ca, cert, key, passphrase, servername, rejectUnauthorized }`; verification is
 *   on unless `rejectUnauthorized: false` **and** `allowInsecureTls: true` (default `false`), which logs a warning.
 * - `sasl` (default none): `{ mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512', username, password }` or
 *   `{ mechanism: 'oauthbearer', oauthBearerProvider }`. PLAIN needs `ssl` unless `allowSaslPlainWithoutTls: true`
 *   (default `false`). Secrets are redacted from every log line.
 * - `connectionTimeoutMs` (default `3_000`), `requestTimeoutMs` (default `30_000`).
 * - `retry` (default `{ retries: 5, initialRetryTimeMs: 300, maxRetryTimeMs: 10_000 }`, `retries` at most 20).
 * - `clientLogLevel` (default `'warn'`): kafkajs log lines forwarded to the logger.
 *
 * @example
 * ```ts
 * const connection: KafkaConnectionOptions = {
 *   brokers: ['kafka-1:9093'],
 *   ssl: { ca: readFileSync('ca.pem', 'utf8') },
 *   sasl: { mechanism: 'scram-sha-512', username: 'orders-app', password: process.env.KAFKA_PASSWORD! },
 * };
 * ```
 *
 * @interface
 */
export type KafkaConnectionOptions = z.input<typeof _connectionSchema>;

/**
 * Checks the security rules zod cannot express per field; throws `InvalidOptionsError` naming the field.
 *
 * @internal
 */
export function checkConnectionSecurity(subject: string, connection: KafkaConnection): void {
  const issues: string[] = [];
  const ssl = connection.ssl;
  if (typeof ssl === 'object' && !ssl.rejectUnauthorized && !connection.allowInsecureTls) {
    issues.push(
      'ssl.rejectUnauthorized: false turns broker certificate verification off, so anyone on the network path can impersonate the broker; ' +
        'provide ssl.ca instead, or set allowInsecureTls: true for a throw-away test setup',
    );
  }
  const tls = ssl !== undefined && ssl !== false;
  if (connection.sasl?.mechanism === 'plain' && !tls && !connection.allowSaslPlainWithoutTls) {
    issues.push(
      'sasl: PLAIN without TLS sends the password in clear text; enable ssl, use scram-sha-512, or set allowSaslPlainWithoutTls: true for a test setup',
    );
  }
  if (issues.length > 0) throw new InvalidOptionsError(subject, issues);
}

/** The secret strings of a connection, for value-based log redaction. */
function connectionSecrets(connection: KafkaConnection): Set<string> {
  const secrets = new Set<string>();
  const sasl = connection.sasl;
  if (sasl !== undefined && sasl.mechanism !== 'oauthbearer') secrets.add(sasl.password);
  const ssl = connection.ssl;
  if (typeof ssl === 'object') {
    if (ssl.passphrase !== undefined) secrets.add(ssl.passphrase);
    for (const key of [ssl.key ?? []].flat()) secrets.add(key);
  }
  return secrets;
}

type KafkaJs = typeof KafkaJsModule;
let kafkaJsModule: Promise<KafkaJs> | undefined;

/**
 * Loads kafkajs on first use, so that importing `@tributary/connectors/kafka` alone never requires it and a missing
 * install fails with the command that fixes it.
 *
 * @internal
 */
export function loadKafkaJs(): Promise<KafkaJs> {
  kafkaJsModule ??= import('kafkajs').then(
    (module) => (module as unknown as { default?: KafkaJs }).default ?? module,
    (error: unknown) => {
      kafkaJsModule = undefined;
      throw new ConnectorError('KAFKA_CLIENT_MISSING', 'The Kafka connector needs kafkajs, which is not installed. Run: npm install kafkajs@^2.2.4', {
        connector: 'kafka',
        cause: error,
      });
    },
  );
  return kafkaJsModule;
}

/** What `createKafkaClient` needs besides the connection options. */
export interface KafkaClientSetup {
  /** Where kafkajs log lines go (redacted). */
  readonly logger: Logger;
  /** Wraps the socket factory (the source's join gate). */
  readonly wrapSocketFactory?: (base: ISocketFactory) => ISocketFactory;
  /** Client id override (the range reader uses its own). */
  readonly clientId?: string;
}

/**
 * A kafkajs client for the connection: security checks done, secrets registered for redaction, an insecure setting
 * warned about, and a redacting log adapter installed.
 *
 * @internal
 */
export async function createKafkaClient(subject: string, connection: KafkaConnection, setup: KafkaClientSetup): Promise<Kafka> {
  const kafkajs = await loadKafkaJs();
  const secrets = connectionSecrets(connection);
  const { logger } = setup;
  if (typeof connection.ssl === 'object' && !connection.ssl.rejectUnauthorized) {
    logger.warn({ subject, brokers: connection.brokers }, 'Kafka TLS certificate verification is OFF (allowInsecureTls: true): do not use this outside a test setup');
  }
  if (connection.sasl?.mechanism === 'plain' && (connection.ssl === undefined || connection.ssl === false)) {
    logger.warn({ subject, brokers: connection.brokers }, 'Kafka SASL PLAIN without TLS (allowSaslPlainWithoutTls: true): the password crosses the network in clear text');
  }
  let sasl: SASLOptions | Mechanism | undefined;
  const configured = connection.sasl;
  if (configured?.mechanism === 'oauthbearer') {
    const provider = configured.oauthBearerProvider;
    // Every token handed to kafkajs is remembered so that no log line can carry it.
    sasl = oauthBearerMechanism(kafkajs, async () => {
      const token = await provider();
      if (typeof token?.value === 'string' && token.value.length > 0) secrets.add(token.value);
      return token;
    });
  } else if (configured !== undefined) {
    const options: SASLOptions = { mechanism: configured.mechanism, username: configured.username, password: configured.password };
    sasl = options;
  }
  const defaultFactory = defaultSocketFactory();
  const config: KafkaConfig = {
    clientId: setup.clientId ?? connection.clientId,
    brokers: [...connection.brokers],
    connectionTimeout: connection.connectionTimeoutMs,
    requestTimeout: connection.requestTimeoutMs,
    retry: {
      retries: connection.retry.retries,
      initialRetryTime: connection.retry.initialRetryTimeMs,
      maxRetryTime: connection.retry.maxRetryTimeMs,
    },
    logLevel: kafkaJsLogLevel(kafkajs, connection.clientLogLevel),
    logCreator: kafkaLogCreator(logger, { secrets }),
    socketFactory: setup.wrapSocketFactory ? setup.wrapSocketFactory(defaultFactory) : defaultFactory,
  };
  if (connection.ssl !== undefined && connection.ssl !== false) config.ssl = connection.ssl === true ? true : { ...connection.ssl };
  if (sasl !== undefined) config.sasl = sasl;
  return new kafkajs.Kafka(config);
}

/**
 * SASL OAUTHBEARER (RFC 7628) as a kafkajs custom mechanism. kafkajs's built-in OAUTHBEARER authenticator ignores the
 * broker's answer to the token: a broker that refuses a token does not return an error code but a JSON error challenge
 * (`{"status":"invalid_token"}`) and waits for the client to acknowledge it, so kafkajs reported success and the
 * connection then failed on its first request with a misleading "Closed connection" / "No brokers in the broker pool"
 * (seen against a Kafka 4.3 broker). This one reads the answer: an error challenge is acknowledged (%x01), as the RFC
 * asks, so that the broker reports its own reason, and authentication fails with a non-retriable
 * `KafkaJSSASLAuthenticationError`.
 */
function oauthBearerMechanism(kafkajs: KafkaJs, provide: () => Promise<{ value: string; extensions?: Record<string, string> }>): Mechanism {
  const separator = '\u0001';
  // SaslAuthenticate carries the mechanism's bytes length-prefixed (kafkajs's BYTES encoding), both ways.
  const bytes = (text: string): Buffer => {
    const payload = Buffer.from(text, 'utf8');
    const length = Buffer.alloc(4);
    length.writeInt32BE(payload.length);
    return Buffer.concat([length, payload]);
  };
  // kafkajs declares its error classes without constructor parameters; they take the message like any Error.
  const AuthenticationError = kafkajs.KafkaJSSASLAuthenticationError as unknown as new (message: string) => Error;
  const unwrap = (raw: Buffer): Buffer => (raw.length <= 4 ? Buffer.alloc(0) : raw.subarray(4, 4 + Math.max(0, raw.readInt32BE(0))));
  return {
    mechanism: 'oauthbearer',
    authenticationProvider: ({ host, port, logger, saslAuthenticate }: AuthenticationProviderArgs) => ({
      authenticate: async () => {
        const broker = `${host}:${port}`;
        const token = await provide();
        if (typeof token?.value !== 'string' || token.value.length === 0) {
          throw new AuthenticationError('SASL OAUTHBEARER: the oauthBearerProvider returned no token value');
        }
        const extensions = Object.entries(token.extensions ?? {}).map(([key, value]) => `${separator}${key}=${value}`);
        // GS2 header without an authorization identity, then the bearer token and any extensions (RFC 7628 §3.1).
        const initial = `n,,${separator}auth=Bearer ${token.value}${extensions.join('')}${separator}${separator}`;
        logger.debug('Authenticate with SASL OAUTHBEARER', { broker });
        let challenge: string;
        try {
          challenge =
            (await saslAuthenticate<string>({
              request: { encode: () => bytes(initial) },
              response: { decode: (raw) => unwrap(raw), parse: (data) => data.toString('utf8') },
            })) ?? '';
        } catch (error) {
          const failure = new AuthenticationError(`SASL OAUTHBEARER authentication failed: ${rootMessage(error)}`);
          logger.error(failure.message, { broker });
          throw failure;
        }
        if (challenge.length > 0) {
          let status = 'unknown';
          try {
            const parsed = JSON.parse(challenge) as { status?: unknown };
            if (typeof parsed.status === 'string') status = parsed.status;
          } catch {
            // Not the RFC's JSON: the status stays unknown; the raw challenge is not echoed (it is the broker's, not ours, but unbounded).
          }
          // The broker answers the acknowledgement with an error code and its own reason.
          const reason = await saslAuthenticate({ request: { encode: () => bytes(separator) } }).then(
            () => undefined,
            (error: unknown) => rootMessage(error),
          );
          const failure = new AuthenticationError(`SASL OAUTHBEARER authentication failed: the broker refused the token (status ${status})${reason === undefined || reason === challenge ? "" : `: ${reason}`}`);
          logger.error(failure.message, { broker });
          throw failure;
        }
        logger.debug('SASL OAUTHBEARER authentication successful', { broker });
      },
    }),
  };
}

function kafkaJsLogLevel(kafkajs: KafkaJs, level: KafkaLogLevel): number {
  const levels = { nothing: kafkajs.logLevel.NOTHING, error: kafkajs.logLevel.ERROR, warn: kafkajs.logLevel.WARN, info: kafkajs.logLevel.INFO, debug: kafkajs.logLevel.DEBUG };
  return levels[level];
}

/** kafkajs's own socket factory (net or tls, keep-alive), rebuilt here because kafkajs does not export it. */
function defaultSocketFactory(): ISocketFactory {
  return ({ host, port, ssl, onConnect }) => {
    // kafkajs passes `ssl` as configured: undefined, `true` or tls.connect options.
    const tlsOptions = ssl as tls.ConnectionOptions | boolean | undefined;
    const socket = tlsOptions
      ? tls.connect({ host, port, ...(net.isIP(host) === 0 ? { servername: host } : {}), ...(tlsOptions === true ? {} : tlsOptions) }, onConnect)
      : net.connect({ host, port }, onConnect);
    socket.setKeepAlive(true, 60_000);
    return socket;
  };
}

/** The kafkajs error types that mean "this member is no longer in the group generation it acted for". */
const membershipErrors = new Set(['REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'FENCED_INSTANCE_ID', 'NOT_COORDINATOR_FOR_GROUP', 'NOT_COORDINATOR']);

/** Walks `cause` chains (kafkajs wraps errors in retry and non-retriable wrappers). */
export function errorChain(error: unknown): { name?: string; type?: string; message?: string; retriable?: boolean }[] {
  const chain: { name?: string; type?: string; message?: string; retriable?: boolean }[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 8 && typeof current === 'object' && current !== null; depth++) {
    chain.push(current);
    current = (current as { cause?: unknown }).cause ?? (current as { originalError?: unknown }).originalError;
  }
  return chain;
}

/** Whether a kafkajs error says the group moved on (rebalance, fenced or forgotten member). */
export function isMembershipError(error: unknown): boolean {
  return errorChain(error).some((link) => link.type !== undefined && membershipErrors.has(link.type));
}

/** The innermost message of a kafkajs error chain. */
export function rootMessage(error: unknown): string {
  const chain = errorChain(error);
  const messages = chain.map((link) => link.message).filter((message): message is string => typeof message === 'string' && message.length > 0);
  return messages.at(-1) ?? String(error);
}

function isAuthenticationFailure(error: unknown): boolean {
  return errorChain(error).some((link) => link.name === 'KafkaJSSASLAuthenticationError' || link.type === 'SASL_AUTHENTICATION_FAILED');
}

function isConnectionFailure(error: unknown): boolean {
  return errorChain(error).some(
    (link) =>
      link.name === 'KafkaJSConnectionError' ||
      link.name === 'KafkaJSConnectionClosedError' ||
      link.name === 'KafkaJSBrokerNotFound' ||
      link.name === 'KafkaJSNoBrokerAvailableError' ||
      link.name === 'KafkaJSRequestTimeoutError' ||
      (typeof link.message === 'string' && /ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|Connection timeout/i.test(link.message)),
  );
}

/**
 * Connects a kafkajs client (admin, producer or consumer), turning an unreachable cluster into a clear
 * `KAFKA_UNREACHABLE` `ConnectorError` after kafkajs's bounded retries.
 *
 * @internal
 */
export async function connectOrFail(what: string, connection: KafkaConnection, connect: () => Promise<void>): Promise<void> {
  const started = Date.now();
  try {
    await connect();
  } catch (error) {
    const sasl = connection.sasl;
    if (sasl !== undefined && isAuthenticationFailure(error)) {
      const mechanism = sasl.mechanism.toUpperCase();
      const identity = sasl.mechanism === 'oauthbearer' ? 'with the token from oauthBearerProvider' : `as user "${sasl.username}"`;
      throw toConnectorError(error, {
        code: 'KAFKA_AUTHENTICATION_FAILED',
        retriable: false,
        message:
          `The Kafka ${what} could not authenticate to ${connection.brokers.join(', ')} with SASL ${mechanism} ${identity}: ${rootMessage(error)}. ` +
          (sasl.mechanism === 'oauthbearer'
            ? 'Check that the provider returns a valid, unexpired token the broker accepts.'
            : `Check the username and password, and that the broker's listener enables ${mechanism} for this user.`),
      });
    }
    throw toConnectorError(error, {
      code: isConnectionFailure(error) ? 'KAFKA_UNREACHABLE' : 'KAFKA_CONNECT_FAILED',
      message:
        `Could not connect the Kafka ${what} to ${connection.brokers.join(', ')} (gave up after ${Date.now() - started} ms, ` +
        `up to ${connection.retry.retries} retries): ${rootMessage(error)}. Check that a broker listens there and that the ssl/sasl settings match its listener.`,
    });
  }
}

/**
 * Wraps a kafkajs error in a `ConnectorError`, keeping whether retrying may help.
 *
 * @internal
 */
export function toConnectorError(
  error: unknown,
  context: { code: string; message: string; topic?: string; partition?: number; offset?: string; retriable?: boolean },
): ConnectorError {
  if (error instanceof ConnectorError) return error;
  const retriable = context.retriable ?? errorChain(error).some((link) => link.retriable === true || link.name === 'KafkaJSNumberOfRetriesExceeded');
  return new ConnectorError(context.code, context.message, {
    connector: 'kafka',
    cause: error,
    retriable,
    ...(context.topic === undefined ? {} : { topic: context.topic }),
    ...(context.partition === undefined ? {} : { partition: context.partition }),
    ...(context.offset === undefined ? {} : { offset: context.offset }),
  });
}

/** A Kafka offset (a decimal string) as a JavaScript number, refusing values beyond 2^53. */
export function offsetToNumber(offset: string, where: { topic: string; partition: number }): number {
  const value = Number(offset);
  if (!Number.isSafeInteger(value)) {
    throw new ConnectorError('KAFKA_OFFSET_TOO_LARGE', `Offset ${offset} of ${where.topic}:${where.partition} exceeds 2^53 and cannot be tracked exactly.`, {
      connector: 'kafka',
      topic: where.topic,
      partition: where.partition,
      offset,
    });
  }
  return value;
}

/** `"<topic>:<partition>"`, the position id of a Kafka partition. */
export const partitionId = (topic: string, partition: number): string => `${topic}:${partition}`;

/** Splits a position id `"<topic>:<partition>"`; `undefined` when it is not one. */
export function parsePartitionId(id: string): { topic: string; partition: number } | undefined {
  const colon = id.lastIndexOf(':');
  if (colon <= 0) return undefined;
  const partition = Number(id.slice(colon + 1));
  if (!Number.isSafeInteger(partition) || partition < 0 || id.slice(colon + 1) === '') return undefined;
  return { topic: id.slice(0, colon), partition };
}
