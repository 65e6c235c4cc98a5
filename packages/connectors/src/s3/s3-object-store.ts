import { createHash } from 'node:crypto';
import { InvalidOptionsError, silentLogger } from '@tributary/core';
import type { Logger } from '@tributary/core';
import type * as S3Sdk from '@aws-sdk/client-s3';
import type { CompletedPart, S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { BodyReader, BodyReadFailure, isObjectBody } from './body-reader.js';
import { inScope, maxTimerDelayMs, parseCallOptions, raceSignal, sleep } from './call-scope.js';
import type { CallScope } from './call-scope.js';
import { keyProblem, prefixProblem } from './object-key.js';
import {
  ConditionalConflictError,
  ObjectNotFoundError,
  ObjectStoreError,
  PreconditionFailedError,
  S3RequestFailedError,
  ThrottledError,
} from './object-store-errors.js';
import type {
  ObjectBody,
  ObjectInfo,
  ObjectListOptions,
  ObjectPutOptions,
  ObjectPutResult,
  ObjectReadOptions,
  ObjectStore,
  ObjectStoreCallOptions,
  PutIfAbsentResult,
} from './object-store.js';
import { parseOptions } from './parse-options.js';
import { backoffDelayMs, classifyS3Error } from './retry-policy.js';
import type { Failure } from './retry-policy.js';

const MiB = 1024 * 1024;
/** S3's smallest part (all parts but the last). */
const minPartSizeBytes = 5 * MiB;
/** S3's largest part. */
const maxPartSizeBytes = 5 * 1024 * MiB;
/** S3's most parts in one upload. */
const maxParts = 10_000;
/** S3's most keys in one DeleteObjects request. */
const deleteBatchSize = 1000;

const positiveMs = (what: string) =>
  z
    .number(`must be a number of milliseconds (${what})`)
    .int('must be an integer number of milliseconds')
    .positive('must be a positive number of milliseconds')
    .max(maxTimerDelayMs, `must be at most ${maxTimerDelayMs} ms`);

const credentialsSchema = z.union(
  [
    // Loose: credential objects carry more fields (credentialScope, accountId, and the SDK's own `$source` marker
    // once a client has used them); they go to the SDK as given.
    z.looseObject({
      accessKeyId: z.string('must be a string').min(1, 'must not be empty'),
      secretAccessKey: z.string('must be a string').min(1, 'must not be empty'),
      sessionToken: z.string('must be a string').optional(),
      expiration: z.date('must be a Date').optional(),
    }),
    z.custom<S3Sdk.S3ClientConfig['credentials']>((value) => typeof value === 'function'),
  ],
  { error: 'must be { accessKeyId, secretAccessKey, sessionToken? } or a credential provider function' },
);

const s3ObjectStoreOptionsSchema = z
  .strictObject({
    /** Bucket holding the objects. It must exist. Required. */
    bucket: z
      .string('must be a bucket name')
      .min(1, 'must not be empty')
      .max(255, 'must be at most 255 characters')
      .refine((name) => !/[/\s]/.test(name), 'must not contain "/" or whitespace'),
    /**
     * Key prefix under which the store keeps its objects (`warehouse` stores key `a/b` as `warehouse/a/b`); a `/` is
     * added when missing. Keys passed to and returned by the store never include it. Default `''` (the bucket root).
     */
    prefix: z
      .string('must be a string')
      .default('')
      .superRefine((prefix, context) => {
        const trimmed = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
        const problem = trimmed === '' ? undefined : keyProblem(trimmed);
        if (problem !== undefined) context.addIssue({ code: 'custom', message: problem });
      })
      .transform((prefix) => (prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`)),
    /** AWS region. Default: the SDK's (`AWS_REGION`, then the shared config file). */
    region: z.string('must be a region name such as us-east-1').min(1, 'must not be empty').optional(),
    /** Endpoint of an S3-compatible server, e.g. `http://127.0.0.1:19000`. Default: AWS S3 for the region. */
    endpoint: z.url('must be a URL such as http://127.0.0.1:9000').optional(),
    /** Address buckets as `endpoint/bucket/key` instead of `bucket.endpoint/key` (most S3-compatible servers want this). Default `false`. */
    forcePathStyle: z.boolean('must be true or false').default(false),
    /**
     * Static credentials or a credential provider. Default: none given, so the AWS SDK v3 default provider chain
     * applies (environment, SSO, shared ini files, web identity, ECS/EC2 metadata) — prefer that to static keys.
     * Never logged.
     */
    credentials: credentialsSchema.optional(),
    /**
     * An `S3Client` to use instead of building one (share one client, add middleware). Exclusive with `region`,
     * `endpoint`, `forcePathStyle` and `credentials`. Give it `maxAttempts: 1`, or the SDK's own retries multiply
     * with the store's. `close()` leaves it open. Default: the store builds its own client.
     */
    client: z
      .custom<S3Client>(
        (value) => typeof value === 'object' && value !== null && typeof (value as { send?: unknown }).send === 'function',
        'must be an S3Client',
      )
      .optional(),
    /**
     * Retries of throttled (503 SlowDown, 429), failed (5xx) and unanswered (network error, `attemptTimeoutMs`)
     * requests, with exponential backoff and full jitter. Never retried: 4xx answers, and 412 / 409 to conditional
     * writes. Defaults: `maxAttempts` `5` (first attempt included), `baseDelayMs` `100`, `maxDelayMs` `5_000`.
     */
    retry: z
      .strictObject({
        maxAttempts: z.number('must be a number').int('must be an integer').min(1, 'must be at least 1').max(20, 'must be at most 20').default(5),
        baseDelayMs: z.number('must be a number').int('must be an integer').min(1, 'must be at least 1').default(100),
        maxDelayMs: z.number('must be a number').int('must be an integer').min(1, 'must be at least 1').max(300_000, 'must be at most 300000').default(5_000),
      })
      .prefault({}),
    /** Default bound of one call in milliseconds, retries and all parts included (see `ObjectStoreCallOptions`). Default `120_000`. */
    timeoutMs: positiveMs('whole call').default(120_000),
    /** Bound of one HTTP request in milliseconds; an attempt that takes longer is abandoned and retried. Default `30_000`. */
    attemptTimeoutMs: positiveMs('one request').default(30_000),
    /** Size of each part of a multipart upload, 5 MiB .. 5 GiB. Default `8 MiB`. */
    partSizeBytes: z
      .number('must be a number of bytes')
      .int('must be an integer')
      .min(minPartSizeBytes, `must be at least ${minPartSizeBytes} (5 MiB, the S3 minimum)`)
      .max(maxPartSizeBytes, `must be at most ${maxPartSizeBytes} (5 GiB, the S3 maximum)`)
      .default(8 * MiB),
    /** Bodies larger than this many bytes are uploaded in parts; smaller ones with one PutObject. At least 5 MiB. Default `16 MiB`. */
    multipartThresholdBytes: z
      .number('must be a number of bytes')
      .int('must be an integer')
      .min(minPartSizeBytes, `must be at least ${minPartSizeBytes} (5 MiB)`)
      .max(maxPartSizeBytes, `must be at most ${maxPartSizeBytes} (5 GiB, the largest PutObject)`)
      .default(16 * MiB),
    /** Parts uploaded at the same time; memory use is up to this many parts. Default `4`. */
    partConcurrency: z.number('must be a number').int('must be an integer').min(1, 'must be at least 1').max(32, 'must be at most 32').default(4),
    /** Where retries and failed clean-ups are reported (pino-compatible). Never receives credentials. Default: silent. */
    logger: z
      .custom<Logger>(
        (value) =>
          typeof value === 'object' &&
          value !== null &&
          ['debug', 'info', 'warn', 'error'].every((level) => typeof (value as Record<string, unknown>)[level] === 'function'),
        'must be a Logger with debug, info, warn and error methods',
      )
      .optional(),
  })
  .superRefine((options, context) => {
    if (options.client === undefined) return;
    for (const field of ['region', 'endpoint', 'credentials'] as const) {
      if (options[field] !== undefined) {
        context.addIssue({ code: 'custom', path: [field], message: 'must not be given together with client (configure the client instead)' });
      }
    }
    if (options.forcePathStyle) {
      context.addIssue({ code: 'custom', path: ['forcePathStyle'], message: 'must not be given together with client (configure the client instead)' });
    }
  });

/**
 * Options of {@link s3ObjectStore}. Only `bucket` is required.
 *
 * @example
 * ```ts
 * const options: S3ObjectStoreOptions = {
 *   bucket: 'warehouse',
 *   prefix: 'tables',
 *   endpoint: 'http://127.0.0.1:19000',
 *   region: 'us-east-1',
 *   forcePathStyle: true,
 * };
 * ```
 *
 * @interface
 */
export type S3ObjectStoreOptions = z.input<typeof s3ObjectStoreOptionsSchema>;

type ParsedOptions = z.output<typeof s3ObjectStoreOptionsSchema>;
type Sdk = typeof S3Sdk;

interface Connection {
  readonly sdk: Sdk;
  readonly client: S3Client;
}

/** What a request is, for messages and logs. */
interface RequestLabel {
  /** Store method: get, put, ... */
  readonly operation: string;
  /** S3 action: GetObject, PutObject, ... */
  readonly action: string;
  /** Key relative to the store, when there is one. */
  readonly key?: string | undefined;
}

/** Collects, over the attempts of one request, whether any may have taken effect. */
interface AttemptTracker {
  ambiguous: boolean;
}

/** Reason a multipart upload's other parts are cancelled with when one part fails. */
const siblingFailed = new Error('another part of the upload failed');

/**
 * Creates an {@link ObjectStore} over an S3 bucket (AWS or an S3-compatible server such as MinIO or versitygw), with
 * the AWS SDK v3 (`@aws-sdk/client-s3`, an optional peer dependency loaded on first use).
 *
 * - Conditional create: `putIfAbsent` sends `If-None-Match: *`; 412 means another writer won (`created: false`);
 *   409 `ConditionalRequestConflict` rejects with the retriable {@link ConditionalConflictError}. Neither is retried
 *   by the store. If an earlier attempt of the same call failed in a way that may have written the object (a 500, a
 *   reset connection) and a retry then gets 412, the store reads the object back and reports `created: true` when it
 *   holds exactly this call's bytes, so a lost response never passes for a lost race.
 * - Multipart: bodies above `multipartThresholdBytes` are uploaded in parts of `partSizeBytes`, `partConcurrency` at a
 *   time (implemented with CreateMultipartUpload / UploadPart / CompleteMultipartUpload; `@aws-sdk/lib-storage` is not
 *   needed). Any failure — a part, the caller's stream, `signal`, the timeout — aborts the upload after the parts in
 *   flight have settled, so no parts are left behind (and a failed abort is logged with the upload id).
 * - Retries: throttling (503 SlowDown, 429), 5xx, network errors and attempts longer than `attemptTimeoutMs`, up to
 *   `retry.maxAttempts` with exponential backoff and full jitter; the SDK's own retries are turned off.
 * - Credentials: the SDK's default provider chain unless `credentials` is given. Credentials are never logged or put
 *   into messages.
 *
 * @param options see {@link S3ObjectStoreOptions}: `bucket` (required), `prefix` (default `''`), `region`, `endpoint`,
 *   `forcePathStyle` (default `false`), `credentials` (default: the SDK chain), `client`, `retry` (default
 *   `{ maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 5_000 }`), `timeoutMs` (default `120_000`), `attemptTimeoutMs`
 *   (default `30_000`), `partSizeBytes` (default 8 MiB), `multipartThresholdBytes` (default 16 MiB),
 *   `partConcurrency` (default `4`), `logger` (default silent)
 * @throws InvalidOptionsError at construction, naming the bad option
 *
 * @example
 * ```ts
 * import { s3ObjectStore } from '@tributary/connectors/s3';
 *
 * // On AWS, with credentials from the environment / instance role:
 * const warehouse = s3ObjectStore({ bucket: 'acme-lake', prefix: 'warehouse', region: 'eu-west-1' });
 *
 * // On an S3-compatible server:
 * const local = s3ObjectStore({
 *   bucket: 'lake',
 *   endpoint: 'http://127.0.0.1:19000',
 *   region: 'us-east-1',
 *   forcePathStyle: true,
 *   credentials: { accessKeyId: process.env.S3_KEY!, secretAccessKey: process.env.S3_SECRET! },
 * });
 * const { created } = await local.putIfAbsent('db/t/metadata/v1.metadata.json', json);
 * ```
 */
export function s3ObjectStore(options: S3ObjectStoreOptions): ObjectStore {
  return new S3ObjectStore(parseOptions(s3ObjectStoreOptionsSchema, 's3ObjectStore', options));
}


class S3ObjectStore implements ObjectStore {
  readonly location: string;
  readonly #options: ParsedOptions;
  readonly #logger: Logger;
  #connection: Promise<Connection> | undefined;
  #closed = false;

  constructor(options: ParsedOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    this.location = `s3://${options.bucket}/${options.prefix}`;
  }

  uri(key: string): string {
    this.#fullKey(key, 'uri');
    return `${this.location}${key}`;
  }

  async put(key: string, body: ObjectBody, options?: ObjectPutOptions): Promise<ObjectPutResult> {
    const result = await this.#write('put', key, body, options, false);
    if (!result.created) throw new Error('unreachable: an unconditional put always creates');
    return { key: result.key, etag: result.etag, size: result.size };
  }

  putIfAbsent(key: string, body: ObjectBody, options?: ObjectPutOptions): Promise<PutIfAbsentResult> {
    return this.#write('putIfAbsent', key, body, options, true);
  }

  get(key: string, options?: ObjectReadOptions): Promise<Uint8Array> {
    return this.#call('get', key, options, async (scope, fullKey) => {
      const label = { operation: 'get', action: 'GetObject', key };
      return this.#attempt(scope, label, async ({ sdk, client }, signal) => {
        const output = await client.send(new sdk.GetObjectCommand({ Bucket: this.#options.bucket, Key: fullKey, IfMatch: options?.ifMatch }), {
          abortSignal: signal,
        });
        return readBody(output, signal);
      });
    });
  }

  getRange(key: string, start: number, endInclusive: number, options?: ObjectReadOptions): Promise<Uint8Array> {
    return this.#call('getRange', key, options, async (scope, fullKey) => {
      this.#checkRange('getRange', key, start, endInclusive);
      const label = { operation: 'getRange', action: 'GetObject', key };
      return this.#attempt(scope, label, async ({ sdk, client }, signal) => {
        const output = await client.send(
          new sdk.GetObjectCommand({ Bucket: this.#options.bucket, Key: fullKey, Range: `bytes=${start}-${endInclusive}`, IfMatch: options?.ifMatch }),
          { abortSignal: signal },
        );
        const bytes = await readBody(output, signal);
        // A server that ignores Range answers 200 with the whole object: cut the range out ourselves.
        if (output.ContentRange === undefined && output.$metadata.httpStatusCode === 200) {
          if (start >= bytes.length) {
            throw new ObjectStoreError('INVALID_RANGE', `getRange of ${this.#where(key)}: start ${start} is at or past the end of the object (${bytes.length} bytes).`, {
              connector: 's3',
              location: this.#options.bucket,
              operation: 'getRange',
              key,
            });
          }
          return bytes.subarray(start, endInclusive + 1);
        }
        return bytes;
      });
    });
  }

  head(key: string, options?: ObjectReadOptions): Promise<ObjectInfo> {
    return this.#call('head', key, options, async (scope, fullKey) => {
      const label = { operation: 'head', action: 'HeadObject', key };
      const output = await this.#attempt(scope, label, ({ sdk, client }, signal) =>
        client.send(new sdk.HeadObjectCommand({ Bucket: this.#options.bucket, Key: fullKey, IfMatch: options?.ifMatch }), { abortSignal: signal }),
      );
      return { key, size: output.ContentLength ?? 0, etag: output.ETag ?? '', lastModified: output.LastModified ?? new Date(0) };
    });
  }

  async *list(prefix = '', options?: ObjectListOptions): AsyncGenerator<ObjectInfo> {
    const problem = prefixProblem(prefix);
    if (problem !== undefined) throw this.#invalidKey('list', prefix, `prefix ${problem}`);
    if (options?.startAfter !== undefined && typeof options.startAfter !== 'string') {
      throw new InvalidOptionsError('s3ObjectStore.list', ['startAfter: must be a string']);
    }
    const limit = options?.limit ?? Number.POSITIVE_INFINITY;
    const pageSize = options?.pageSize ?? 1000;
    if (!(limit === Number.POSITIVE_INFINITY || (Number.isInteger(limit) && limit >= 0))) {
      throw new InvalidOptionsError('s3ObjectStore.list', ['limit: must be a non-negative integer']);
    }
    if (!(Number.isInteger(pageSize) && pageSize >= 1 && pageSize <= 1000)) {
      throw new InvalidOptionsError('s3ObjectStore.list', ['pageSize: must be an integer from 1 to 1000']);
    }
    const storePrefix = this.#options.prefix;
    let remaining = limit;
    let token: string | undefined;
    const startAfter = options?.startAfter === undefined ? undefined : storePrefix + options.startAfter;
    while (remaining > 0) {
      const page = await this.#call('list', undefined, options, (scope) =>
        this.#attempt(scope, { operation: 'list', action: 'ListObjectsV2', key: prefix }, ({ sdk, client }, signal) =>
          client.send(
            new sdk.ListObjectsV2Command({
              Bucket: this.#options.bucket,
              Prefix: storePrefix + prefix,
              MaxKeys: Math.min(pageSize, remaining),
              ContinuationToken: token,
              StartAfter: token === undefined ? startAfter : undefined,
            }),
            { abortSignal: signal },
          ),
        ),
      );
      for (const entry of page.Contents ?? []) {
        if (entry.Key === undefined) continue;
        yield {
          key: entry.Key.slice(storePrefix.length),
          size: entry.Size ?? 0,
          etag: entry.ETag ?? '',
          lastModified: entry.LastModified ?? new Date(0),
        };
        if (--remaining <= 0) return;
      }
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
      if (token === undefined) return;
    }
  }

  delete(key: string, options?: ObjectStoreCallOptions): Promise<void> {
    return this.#call('delete', key, options, async (scope, fullKey) => {
      await this.#attempt(scope, { operation: 'delete', action: 'DeleteObject', key }, ({ sdk, client }, signal) =>
        client.send(new sdk.DeleteObjectCommand({ Bucket: this.#options.bucket, Key: fullKey }), { abortSignal: signal }),
      );
    });
  }

  deleteMany(keys: Iterable<string>, options?: ObjectStoreCallOptions): Promise<void> {
    return this.#call('deleteMany', undefined, options, async (scope) => {
      const unique = [...new Set(keys)];
      const fullKeys = unique.map((key) => this.#fullKey(key, 'deleteMany'));
      for (let from = 0; from < fullKeys.length; from += deleteBatchSize) {
        const batch = fullKeys.slice(from, from + deleteBatchSize);
        const label = { operation: 'deleteMany', action: 'DeleteObjects', key: unique[from] };
        const output = await this.#attempt(scope, label, ({ sdk, client }, signal) =>
          client.send(
            new sdk.DeleteObjectsCommand({ Bucket: this.#options.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
            { abortSignal: signal },
          ),
        );
        const errors = (output.Errors ?? []).filter((error) => error.Code !== 'NoSuchKey');
        if (errors.length > 0) {
          const storePrefix = this.#options.prefix;
          const shown = errors
            .slice(0, 5)
            .map((error) => `"${(error.Key ?? '?').slice(storePrefix.length)}" (${error.Code ?? 'error'}: ${error.Message ?? ''})`)
            .join(', ');
          const retriable = errors.every((error) => ['InternalError', 'SlowDown', 'ServiceUnavailable'].includes(error.Code ?? ''));
          throw new S3RequestFailedError(
            `deleteMany in s3://${this.#options.bucket}/${storePrefix} could not delete ${errors.length} of ${batch.length} keys of a ` +
              `DeleteObjects batch: ${shown}${errors.length > 5 ? ', ...' : ''}. Keys before this batch are deleted; ` +
              (retriable ? 'call deleteMany again.' : 'check permissions on those keys.'),
            { connector: 's3', location: this.#options.bucket, operation: 'deleteMany', key: errors[0]?.Key?.slice(storePrefix.length), retriable, s3Code: errors[0]?.Code },
          );
        }
      }
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#options.client !== undefined || this.#connection === undefined) return;
    const connection = await this.#connection.catch(() => undefined);
    connection?.client.destroy();
  }

  // ---- writes ----------------------------------------------------------------------------------------------------

  #write(operation: 'put' | 'putIfAbsent', key: string, body: ObjectBody, options: ObjectPutOptions | undefined, conditional: boolean): Promise<PutIfAbsentResult> {
    return this.#call(operation, key, options, async (scope, fullKey) => {
      if (!isObjectBody(body)) {
        throw new ObjectStoreError('OBJECT_BODY_FAILED', `${operation} of ${this.#where(key)}: body must be a Uint8Array, a string or an async iterable of chunks.`, {
          connector: 's3',
          location: this.#options.bucket,
          operation,
          key,
        });
      }
      if (options?.contentType !== undefined && typeof options.contentType !== 'string') {
        throw new InvalidOptionsError(`s3ObjectStore.${operation}`, ['contentType: must be a string']);
      }
      const reader = new BodyReader(body);
      try {
        const threshold = this.#options.multipartThresholdBytes;
        const head = await reader.read(threshold + 1, scope.signal);
        if (head.length <= threshold) return await this.#putSingle(scope, operation, key, fullKey, head, options?.contentType, conditional);
        reader.unread(head);
        return await this.#putMultipart(scope, operation, key, fullKey, reader, options?.contentType, conditional);
      } catch (error) {
        if (error instanceof BodyReadFailure) {
          throw new ObjectStoreError(
            'OBJECT_BODY_FAILED',
            `${operation} of ${this.#where(key)} failed reading the body after ${error.bytesRead} bytes: ${error.message}. ` +
              'Nothing was written (a multipart upload in progress was aborted); fix the body source and call again.',
            { connector: 's3', location: this.#options.bucket, operation, key, cause: error.reason },
          );
        }
        throw error;
      } finally {
        reader.release();
      }
    });
  }

  async #putSingle(
    scope: CallScope,
    operation: string,
    key: string,
    fullKey: string,
    bytes: Uint8Array,
    contentType: string | undefined,
    conditional: boolean,
  ): Promise<PutIfAbsentResult> {
    const tracker: AttemptTracker = { ambiguous: false };
    try {
      const output = await this.#attempt(
        scope,
        { operation, action: 'PutObject', key },
        ({ sdk, client }, signal) =>
          client.send(
            new sdk.PutObjectCommand({
              Bucket: this.#options.bucket,
              Key: fullKey,
              Body: bytes,
              ContentLength: bytes.length,
              ContentType: contentType,
              IfNoneMatch: conditional ? '*' : undefined,
            }),
            { abortSignal: signal },
          ),
        tracker,
      );
      return { created: true, key, etag: output.ETag ?? '', size: bytes.length };
    } catch (error) {
      if (!(conditional && error instanceof PreconditionFailedError)) throw error;
      if (tracker.ambiguous) {
        // An earlier attempt may have written the object and lost only its answer: then the object holds our bytes.
        const existing = await this.#readIfExists(scope, operation, key, fullKey);
        if (existing !== undefined && equalBytes(existing.bytes, bytes)) return { created: true, key, etag: existing.etag, size: bytes.length };
      }
      return { created: false, key };
    }
  }

  async #putMultipart(
    scope: CallScope,
    operation: string,
    key: string,
    fullKey: string,
    reader: BodyReader,
    contentType: string | undefined,
    conditional: boolean,
  ): Promise<PutIfAbsentResult> {
    const { bucket, partSizeBytes, partConcurrency } = this.#options;
    const created = await this.#attempt(scope, { operation, action: 'CreateMultipartUpload', key }, ({ sdk, client }, signal) =>
      client.send(new sdk.CreateMultipartUploadCommand({ Bucket: bucket, Key: fullKey, ContentType: contentType }), { abortSignal: signal }),
    );
    const uploadId = created.UploadId;
    if (uploadId === undefined) {
      throw new S3RequestFailedError(`${operation} of ${this.#where(key)}: CreateMultipartUpload answered without an UploadId.`, {
        connector: 's3',
        location: bucket,
        operation,
        key,
      });
    }
    // Parts share a signal that aborts when the call does or when one of them fails, so siblings stop early.
    const parts = new AbortController();
    const onScopeAbort = () => parts.abort(scope.signal.reason);
    scope.signal.addEventListener('abort', onScopeAbort, { once: true });
    const completed: CompletedPart[] = [];
    const inFlight = new Set<Promise<void>>();
    let partFailure: { error: unknown } | undefined;
    let total = 0;
    try {
      for (let partNumber = 1; ; partNumber++) {
        const data = await reader.read(partSizeBytes, parts.signal);
        if (data.length === 0 && partNumber > 1) break;
        if (partNumber > maxParts) {
          throw new ObjectStoreError(
            'OBJECT_BODY_FAILED',
            `${operation} of ${this.#where(key)}: the body is larger than ${maxParts} parts of ${partSizeBytes} bytes. Raise partSizeBytes.`,
            { connector: 's3', location: bucket, operation, key },
          );
        }
        total += data.length;
        const task: Promise<void> = this.#attempt(
          parts.signal,
          { operation, action: 'UploadPart', key },
          ({ sdk, client }, signal) =>
            client.send(new sdk.UploadPartCommand({ Bucket: bucket, Key: fullKey, UploadId: uploadId, PartNumber: partNumber, Body: data, ContentLength: data.length }), {
              abortSignal: signal,
            }),
        ).then(
          (output) => {
            completed[partNumber - 1] = { PartNumber: partNumber, ETag: output.ETag };
          },
          (error: unknown) => {
            partFailure ??= { error };
            parts.abort(siblingFailed);
          },
        );
        inFlight.add(task);
        void task.finally(() => inFlight.delete(task));
        if (inFlight.size >= partConcurrency) await Promise.race(inFlight);
        if (partFailure !== undefined) break;
        if (data.length < partSizeBytes) break;
      }
      await Promise.all(inFlight);
      if (partFailure !== undefined) throw partFailure.error;
      scope.throwIfAborted();
      return await this.#completeMultipart(scope, operation, key, fullKey, uploadId, completed, total, conditional);
    } catch (caught) {
      // A read interrupted because a part failed surfaces as `siblingFailed`: report the part's error instead.
      const error = caught === siblingFailed && partFailure !== undefined ? partFailure.error : caught;
      parts.abort(siblingFailed);
      await Promise.allSettled(inFlight);
      await this.#abortUpload(operation, key, fullKey, uploadId);
      throw error;
    } finally {
      scope.signal.removeEventListener('abort', onScopeAbort);
    }
  }

  async #completeMultipart(
    scope: CallScope,
    operation: string,
    key: string,
    fullKey: string,
    uploadId: string,
    completed: CompletedPart[],
    size: number,
    conditional: boolean,
  ): Promise<PutIfAbsentResult> {
    const tracker: AttemptTracker = { ambiguous: false };
    try {
      const output = await this.#attempt(
        scope,
        { operation, action: 'CompleteMultipartUpload', key },
        ({ sdk, client }, signal) =>
          client.send(
            new sdk.CompleteMultipartUploadCommand({
              Bucket: this.#options.bucket,
              Key: fullKey,
              UploadId: uploadId,
              MultipartUpload: { Parts: completed },
              IfNoneMatch: conditional ? '*' : undefined,
            }),
            { abortSignal: signal },
          ),
        tracker,
      );
      return { created: true, key, etag: output.ETag ?? '', size };
    } catch (error) {
      const lostRace = conditional && error instanceof PreconditionFailedError;
      const uploadGone = error instanceof S3RequestFailedError && error.s3Code === 'NoSuchUpload';
      if (tracker.ambiguous && (lostRace || uploadGone)) {
        // An earlier attempt may have completed the upload and lost only its answer: compare the object's ETag with
        // the one S3 gives a multipart object, MD5 of the parts' MD5s, "-", part count.
        const expected = multipartEtag(completed);
        const info = await this.#headIfExists(scope, operation, key, fullKey);
        if (expected !== undefined && info?.etag === expected && info.size === size) return { created: true, key, etag: expected, size };
        if (expected === undefined && (uploadGone || info !== undefined)) {
          throw new S3RequestFailedError(
            `${operation} of ${this.#where(key)}: CompleteMultipartUpload lost its answer and a retry got ${error.message}; whether this call ` +
              'wrote the object cannot be told (the part ETags are not MD5s). Read the object back before assuming either way.',
            { connector: 's3', location: this.#options.bucket, operation, key, cause: error },
          );
        }
      }
      if (lostRace) {
        await this.#abortUpload(operation, key, fullKey, uploadId);
        return { created: false, key };
      }
      throw error;
    }
  }

  /** Aborts a multipart upload with its own time bound (the call's signal may be the reason we are here). Never throws. */
  async #abortUpload(operation: string, key: string, fullKey: string, uploadId: string): Promise<void> {
    const { bucket, attemptTimeoutMs } = this.#options;
    try {
      await inScope(undefined, attemptTimeoutMs * 2, { connector: 's3', location: bucket, operation: `${operation} (abort upload)`, key }, (scope) =>
        this.#attempt(scope, { operation, action: 'AbortMultipartUpload', key }, ({ sdk, client }, signal) =>
          client.send(new sdk.AbortMultipartUploadCommand({ Bucket: bucket, Key: fullKey, UploadId: uploadId }), { abortSignal: signal }),
        ),
      );
    } catch (error) {
      if (error instanceof S3RequestFailedError && error.s3Code === 'NoSuchUpload') return;
      this.#logger.warn(
        { connector: 's3', bucket, key: fullKey, uploadId, error: error instanceof Error ? error.message : String(error) },
        'Could not abort a failed multipart upload; its parts stay billed until AbortMultipartUpload or a bucket lifecycle rule removes them',
      );
    }
  }

  async #readIfExists(scope: CallScope, operation: string, key: string, fullKey: string): Promise<{ bytes: Uint8Array; etag: string } | undefined> {
    try {
      return await this.#attempt(scope, { operation, action: 'GetObject', key }, async ({ sdk, client }, signal) => {
        const output = await client.send(new sdk.GetObjectCommand({ Bucket: this.#options.bucket, Key: fullKey }), { abortSignal: signal });
        return { bytes: await readBody(output, signal), etag: output.ETag ?? '' };
      });
    } catch (error) {
      if (error instanceof ObjectNotFoundError) return undefined;
      throw error;
    }
  }

  async #headIfExists(scope: CallScope, operation: string, key: string, fullKey: string): Promise<{ etag: string; size: number } | undefined> {
    try {
      const output = await this.#attempt(scope, { operation, action: 'HeadObject', key }, ({ sdk, client }, signal) =>
        client.send(new sdk.HeadObjectCommand({ Bucket: this.#options.bucket, Key: fullKey }), { abortSignal: signal }),
      );
      return { etag: output.ETag ?? '', size: output.ContentLength ?? -1 };
    } catch (error) {
      if (error instanceof ObjectNotFoundError) return undefined;
      throw error;
    }
  }

  // ---- plumbing --------------------------------------------------------------------------------------------------

  /** Validates the key and call options, then runs `body` in a scope bounded by the signal and the timeout. */
  async #call<T>(
    operation: string,
    key: string | undefined,
    options: ObjectStoreCallOptions | undefined,
    body: (scope: CallScope, fullKey: string) => Promise<T>,
  ): Promise<T> {
    if (this.#closed) {
      throw new S3RequestFailedError(`${operation} on ${this.location}: the store is closed. Create a new one.`, {
        connector: 's3',
        location: this.#options.bucket,
        operation,
        key,
      });
    }
    const fullKey = key === undefined ? '' : this.#fullKey(key, operation);
    const { signal, timeoutMs } = parseCallOptions(options, `s3ObjectStore.${operation}`);
    return inScope(signal, timeoutMs ?? this.#options.timeoutMs, { connector: 's3', location: this.#options.bucket, operation, key }, (scope) => body(scope, fullKey));
  }

  /**
   * Runs one request with the retry policy: each attempt bounded by `attemptTimeoutMs`, retriable failures retried
   * with backoff until `retry.maxAttempts`; failures are turned into the store's public errors. `scope` (or a bare
   * signal) is the call's cancellation: when it aborts, its reason is thrown as is.
   */
  async #attempt<T>(
    scope: CallScope | AbortSignal,
    label: RequestLabel,
    run: (connection: Connection, signal: AbortSignal) => Promise<T>,
    tracker?: AttemptTracker,
  ): Promise<T> {
    const callSignal = scope instanceof AbortSignal ? scope : scope.signal;
    const { maxAttempts, baseDelayMs, maxDelayMs } = this.#options.retry;
    const connection = await raceSignal(this.#connect(label), callSignal);
    let lastFailure: Failure | undefined;
    for (let attempt = 1; ; attempt++) {
      if (callSignal.aborted) throw this.#abortReason(callSignal, lastFailure);
      const controller = new AbortController();
      const onCallAbort = () => controller.abort(callSignal.reason);
      callSignal.addEventListener('abort', onCallAbort, { once: true });
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        controller.abort(new Error('attempt timed out'));
      }, this.#options.attemptTimeoutMs);
      let failure: Failure;
      let cause: unknown;
      try {
        return await run(connection, controller.signal);
      } catch (error) {
        if (callSignal.aborted) throw this.#abortReason(callSignal, lastFailure);
        if (error instanceof ObjectStoreError) throw error; // decided by `run` itself, e.g. INVALID_RANGE
        cause = error;
        failure = timedOut ? attemptTimeoutFailure(this.#options.attemptTimeoutMs) : classifyS3Error(error);
      } finally {
        clearTimeout(timer);
        callSignal.removeEventListener('abort', onCallAbort);
      }
      lastFailure = failure;
      if (failure.ambiguous && tracker !== undefined) tracker.ambiguous = true;
      const retry = failure.retriable && failure.kind !== 'conditional-conflict' && attempt < maxAttempts;
      if (!retry) throw this.#toError(failure, label, attempt, cause);
      const delayMs = backoffDelayMs(attempt, { baseDelayMs, maxDelayMs });
      this.#logger.warn(
        {
          connector: 's3',
          bucket: this.#options.bucket,
          key: label.key === undefined ? undefined : this.#options.prefix + label.key,
          operation: label.operation,
          action: label.action,
          attempt,
          maxAttempts,
          delayMs,
          statusCode: failure.statusCode,
          code: failure.code,
        },
        `S3 ${label.action} failed (${failure.summary}); retrying`,
      );
      try {
        await sleep(delayMs, callSignal);
      } catch {
        throw this.#abortReason(callSignal, lastFailure);
      }
    }
  }

  /** The reason to reject with when the call's signal aborted; a timeout names the last failure it cut short. */
  #abortReason(signal: AbortSignal, lastFailure: Failure | undefined): unknown {
    const reason: unknown = signal.reason;
    if (lastFailure !== undefined && reason instanceof ObjectStoreError && reason.code === 'OBJECT_STORE_TIMEOUT') {
      return new ObjectStoreError('OBJECT_STORE_TIMEOUT', `${reason.message} Last failure: ${lastFailure.summary}.`, {
        connector: 's3',
        location: this.#options.bucket,
        operation: reason.operation,
        key: reason.key,
        retriable: true,
        cause: reason,
      });
    }
    return reason;
  }

  #connect(label: RequestLabel): Promise<Connection> {
    this.#connection ??= loadSdk().then((sdk) => {
      const { client, region, endpoint, forcePathStyle, credentials } = this.#options;
      if (client !== undefined) return { sdk, client };
      const config: S3Sdk.S3ClientConfig = { forcePathStyle, maxAttempts: 1 };
      if (region !== undefined) config.region = region;
      if (endpoint !== undefined) config.endpoint = endpoint;
      if (credentials !== undefined) config.credentials = credentials;
      return { sdk, client: new sdk.S3Client(config) };
    });
    return this.#connection.catch((error: unknown) => {
      this.#connection = undefined;
      throw new ObjectStoreError(
        'S3_CLIENT_MISSING',
        `${label.operation} on ${this.location} needs the optional peer dependency @aws-sdk/client-s3, which could not be loaded ` +
          `(${error instanceof Error ? error.message : String(error)}). Install it: npm install @aws-sdk/client-s3`,
        { connector: 's3', location: this.#options.bucket, operation: label.operation, key: label.key, cause: error },
      );
    });
  }

  #toError(failure: Failure, label: RequestLabel, attempts: number, cause: unknown): ObjectStoreError {
    const { bucket } = this.#options;
    const where = label.key === undefined ? `s3://${bucket}/${this.#options.prefix}` : this.#where(label.key);
    const context = { connector: 's3' as const, location: bucket, operation: label.operation, key: label.key, cause };
    const request = { statusCode: failure.statusCode, s3Code: failure.code, requestId: failure.requestId };
    const tries = attempts === 1 ? '' : ` after ${attempts} attempts`;
    switch (failure.kind) {
      case 'not-found':
        return new ObjectNotFoundError(`${label.operation}: no object at ${where} (${label.action} answered ${failure.summary}). Check the key.`, context);
      case 'precondition':
        return new PreconditionFailedError(
          `${label.operation} of ${where}: the object is not the expected version (${label.action} answered 412). Take a fresh ETag with head() and read again.`,
          context,
        );
      case 'conditional-conflict':
        return new ConditionalConflictError(
          `${label.operation} of ${where} met a concurrent conditional write of the same key (409 ConditionalRequestConflict); this call wrote ` +
            'nothing. Call it again.',
          context,
        );
      case 'invalid-range':
        return new ObjectStoreError('INVALID_RANGE', `${label.operation} of ${where}: the range starts at or past the end of the object (416).`, context);
      case 'throttled':
        return new ThrottledError(
          `S3 throttled ${label.action} of ${where}${tries} (${failure.summary}). Lower the request rate or raise retry.maxAttempts, then call again.`,
          { ...context, statusCode: failure.statusCode },
        );
      case 'no-such-bucket':
        return new S3RequestFailedError(
          `${label.operation} of ${where}: bucket "${bucket}" does not exist (404 NoSuchBucket). Create it, or fix bucket / endpoint / region.`,
          { ...context, ...request },
        );
      case 'credentials':
        return new S3RequestFailedError(
          `${label.operation} of ${where}: no AWS credentials (${failure.summary}). Configure the default chain (AWS_PROFILE, ` +
            'AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, an instance role) or pass credentials.',
          { ...context, ...request },
        );
      case 'server':
      case 'network':
        return new S3RequestFailedError(
          `${label.action} of ${where} failed${tries}: ${failure.summary}. The server or network may recover: call again later.`,
          { ...context, ...request, retriable: true },
        );
      case 'no-such-upload':
      case 'client': {
        const hint =
          failure.statusCode === 403
            ? ' Check the credentials (not shown) and that they may perform this action on the bucket.'
            : failure.statusCode === 400 || failure.statusCode === undefined
              ? ' Check the store options (endpoint, region, forcePathStyle).'
              : '';
        return new S3RequestFailedError(`${label.action} of ${where} was refused: ${failure.summary}.${hint}`, { ...context, ...request });
      }
    }
  }

  #fullKey(key: string, operation: string): string {
    const problem = keyProblem(key);
    if (problem !== undefined) throw this.#invalidKey(operation, key, `key ${problem}`);
    return this.#options.prefix + key;
  }

  #invalidKey(operation: string, key: unknown, problem: string): ObjectStoreError {
    return new ObjectStoreError('INVALID_KEY', `${operation} on ${this.location}: ${problem} (got ${JSON.stringify(key)}). Keys are relative "/"-separated paths.`, {
      connector: 's3',
      location: this.#options.bucket,
      operation,
      key: typeof key === 'string' ? key : undefined,
    });
  }

  #checkRange(operation: string, key: string, start: number, endInclusive: number): void {
    if (Number.isSafeInteger(start) && Number.isSafeInteger(endInclusive) && start >= 0 && endInclusive >= start) return;
    throw new ObjectStoreError(
      'INVALID_RANGE',
      `${operation} of ${this.#where(key)}: start and endInclusive must be integers with 0 <= start <= endInclusive (got ${start}..${endInclusive}).`,
      { connector: 's3', location: this.#options.bucket, operation, key },
    );
  }

  #where(key: string): string {
    return `s3://${this.#options.bucket}/${this.#options.prefix}${key}`;
  }
}

let sdkModule: Promise<Sdk> | undefined;

/** Loads the AWS SDK on first use, so importing this subpath for the local store never needs it. */
function loadSdk(): Promise<Sdk> {
  sdkModule ??= import('@aws-sdk/client-s3').catch((error: unknown) => {
    sdkModule = undefined;
    throw error;
  });
  return sdkModule;
}

/** Reads a GetObject body whole, checking it is as long as announced; a stalled body is cut off by `signal`. */
async function readBody(output: S3Sdk.GetObjectCommandOutput, signal: AbortSignal): Promise<Uint8Array> {
  const body = output.Body;
  if (body === undefined) return new Uint8Array(0);
  const destroy = () => (body as { destroy?: (error?: Error) => void }).destroy?.();
  signal.addEventListener('abort', destroy, { once: true });
  try {
    const bytes = await raceSignal(body.transformToByteArray(), signal);
    if (output.ContentLength !== undefined && bytes.length !== output.ContentLength) {
      throw Object.assign(new Error(`the response body ended after ${bytes.length} of ${output.ContentLength} bytes`), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
    }
    return bytes;
  } finally {
    signal.removeEventListener('abort', destroy);
  }
}

function attemptTimeoutFailure(attemptTimeoutMs: number): Failure {
  return {
    kind: 'network',
    retriable: true,
    ambiguous: true,
    statusCode: undefined,
    code: 'AttemptTimeout',
    requestId: undefined,
    summary: `no answer within attemptTimeoutMs (${attemptTimeoutMs} ms)`,
  };
}

function equalBytes(left: Uint8Array, right: Uint8Array): boolean {
  return left.length === right.length && Buffer.from(left.buffer, left.byteOffset, left.length).equals(Buffer.from(right.buffer, right.byteOffset, right.length));
}

/** The ETag S3 gives an object assembled from `parts` whose ETags are MD5s, or `undefined` when some is not an MD5. */
export function multipartEtag(parts: readonly CompletedPart[]): string | undefined {
  const md5 = createHash('md5');
  for (const part of parts) {
    const hex = /^"?([0-9a-f]{32})"?$/i.exec(part.ETag ?? '')?.[1];
    if (hex === undefined) return undefined;
    md5.update(Buffer.from(hex, 'hex'));
  }
  return `"${md5.digest('hex')}-${parts.length}"`;
}
