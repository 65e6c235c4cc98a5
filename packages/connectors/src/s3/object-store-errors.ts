import { ConnectorError } from '../errors.js';

/**
 * Every `code` an {@link ObjectStoreError} can carry, so a `switch` over `error.code` is checked by the compiler.
 *
 * - `OBJECT_NOT_FOUND`: no object under the key ({@link ObjectNotFoundError}).
 * - `PRECONDITION_FAILED`: an `ifMatch` read found a different version ({@link PreconditionFailedError}).
 * - `CONDITIONAL_CONFLICT`: S3 answered 409 `ConditionalRequestConflict` to a conditional write; retry the call
 *   ({@link ConditionalConflictError}).
 * - `THROTTLED`: S3 kept answering 503 SlowDown / 429 after every attempt ({@link ThrottledError}).
 * - `S3_REQUEST_FAILED`: any other failed S3 request ({@link S3RequestFailedError}).
 * - `S3_CLIENT_MISSING`: the optional peer dependency `@aws-sdk/client-s3` is not installed.
 * - `LOCAL_IO_FAILED`: a file-system call of the local store failed (permissions, disk full, ...).
 * - `INVALID_KEY`: the key or prefix is not a safe relative `/`-separated path.
 * - `INVALID_RANGE`: the requested byte range starts at or past the end of the object.
 * - `OBJECT_BODY_FAILED`: reading the body handed to `put` / `putIfAbsent` failed (or it is not a supported type).
 * - `OBJECT_STORE_TIMEOUT`: the call did not finish within its `timeoutMs`.
 *
 * @example
 * ```ts
 * function shouldRetry(error: ObjectStoreError): boolean {
 *   switch (error.code) {
 *     case 'THROTTLED':
 *     case 'CONDITIONAL_CONFLICT':
 *     case 'OBJECT_STORE_TIMEOUT':
 *       return true;
 *     default:
 *       return error.retriable;
 *   }
 * }
 * ```
 */
export type ObjectStoreErrorCode =
  | 'OBJECT_NOT_FOUND'
  | 'PRECONDITION_FAILED'
  | 'CONDITIONAL_CONFLICT'
  | 'THROTTLED'
  | 'S3_REQUEST_FAILED'
  | 'S3_CLIENT_MISSING'
  | 'LOCAL_IO_FAILED'
  | 'INVALID_KEY'
  | 'INVALID_RANGE'
  | 'OBJECT_BODY_FAILED'
  | 'OBJECT_STORE_TIMEOUT';

/**
 * Context of an {@link ObjectStoreError}: which store, operation and key.
 *
 * @example
 * ```ts
 * const context: ObjectStoreErrorContext = { connector: 's3', location: 'lake', operation: 'get', key: 'a/b.json' };
 * throw new ObjectStoreError('OBJECT_STORE_TIMEOUT', 'get of s3://lake/a/b.json timed out', { ...context, retriable: true });
 * ```
 */
export interface ObjectStoreErrorContext {
  /** `s3` or `local`. */
  connector: 's3' | 'local';
  /** Bucket (S3) or root directory (local) of the store. */
  location: string;
  /** The store operation that failed, e.g. `get`, `putIfAbsent`, `list`. */
  operation: string;
  /** The key involved (as passed to the store, without the store's prefix), when there is one. */
  key?: string | undefined;
  /** Whether repeating the call may succeed. Default `false`. */
  retriable?: boolean;
  /** The underlying error. */
  cause?: unknown;
}

/**
 * Error raised by an object store (`ObjectStore`): a {@link ConnectorError} that also names the operation and key. `topic`
 * holds the bucket (S3) or root directory (local store). Branch on `code` (see {@link ObjectStoreErrorCode}) or on
 * the subclasses for the cases callers usually handle.
 *
 * @example
 * ```ts
 * try {
 *   await store.get('metadata/version-hint.text');
 * } catch (error) {
 *   if (error instanceof ObjectStoreError && error.retriable) return retryLater();
 *   throw error;
 * }
 * ```
 */
export class ObjectStoreError extends ConnectorError {
  declare readonly code: ObjectStoreErrorCode;
  /** The store operation that failed, e.g. `get`, `putIfAbsent`, `list`. */
  readonly operation: string;
  /** The key involved, relative to the store (no store prefix), when there is one. */
  readonly key: string | undefined;

  constructor(code: ObjectStoreErrorCode, message: string, context: ObjectStoreErrorContext) {
    super(code, message, {
      connector: context.connector,
      topic: context.location,
      retriable: context.retriable ?? false,
      cause: context.cause,
    });
    this.operation = context.operation;
    this.key = context.key;
  }
}

/**
 * The object does not exist (S3 404 `NoSuchKey` / `NotFound`; no regular file on local disk). Not retriable.
 *
 * @example
 * ```ts
 * const hint = await store.get('metadata/version-hint.text').catch((error: unknown) => {
 *   if (error instanceof ObjectNotFoundError) return undefined; // a new table
 *   throw error;
 * });
 * ```
 */
export class ObjectNotFoundError extends ObjectStoreError {
  constructor(message: string, context: Omit<ObjectStoreErrorContext, 'retriable'>) {
    super('OBJECT_NOT_FOUND', message, { ...context, retriable: false });
  }
}

/**
 * A read with `ifMatch` found a different version of the object (S3 412): it was rewritten since the ETag was taken.
 * Not retriable as is: take a fresh ETag (`head`) and start over.
 *
 * @example
 * ```ts
 * const { etag } = await store.head(file);
 * const footer = await store.getRange(file, size - 8, size - 1, { ifMatch: etag }); // throws PreconditionFailedError if replaced
 * ```
 */
export class PreconditionFailedError extends ObjectStoreError {
  constructor(message: string, context: Omit<ObjectStoreErrorContext, 'retriable'>) {
    super('PRECONDITION_FAILED', message, { ...context, retriable: false });
  }
}

/**
 * S3 answered 409 `ConditionalRequestConflict` to a conditional write: another conditional write of the same key was
 * in progress. The store does not retry it itself; the caller should call again (which then creates the object or
 * reports `{ created: false }`). Retriable.
 *
 * @example
 * ```ts
 * for (;;) {
 *   try {
 *     return await store.putIfAbsent(key, body);
 *   } catch (error) {
 *     if (!(error instanceof ConditionalConflictError)) throw error;
 *   }
 * }
 * ```
 */
export class ConditionalConflictError extends ObjectStoreError {
  constructor(message: string, context: Omit<ObjectStoreErrorContext, 'retriable'>) {
    super('CONDITIONAL_CONFLICT', message, { ...context, retriable: true });
  }
}

/**
 * S3 kept throttling (503 `SlowDown`, 429) through every attempt. Retriable: slow down, then call again.
 *
 * @example
 * ```ts
 * if (error instanceof ThrottledError) await sleep(5_000);
 * ```
 */
export class ThrottledError extends ObjectStoreError {
  /** HTTP status of the last answer (503 or 429). */
  readonly statusCode: number | undefined;

  constructor(message: string, context: Omit<ObjectStoreErrorContext, 'retriable'> & { statusCode?: number | undefined }) {
    super('THROTTLED', message, { ...context, retriable: true });
    this.statusCode = context.statusCode;
  }
}

/**
 * Any other failed S3 request. `retriable` is `true` for 5xx answers, network errors and request timeouts (which the
 * store already retried up to `retry.maxAttempts`), `false` for 4xx answers such as 403 (credentials, permissions)
 * or 404 `NoSuchBucket`.
 *
 * @example
 * ```ts
 * if (error instanceof S3RequestFailedError && error.statusCode === 403) alertOnCall('S3 permissions');
 * ```
 */
export class S3RequestFailedError extends ObjectStoreError {
  /** HTTP status of the last answer, `undefined` when no answer came (network error, timeout). */
  readonly statusCode: number | undefined;
  /** S3 error code of the last answer (`AccessDenied`, `InternalError`, ...), or the network error code. */
  readonly s3Code: string | undefined;
  /** S3 request id of the last answer, for AWS support. */
  readonly requestId: string | undefined;

  constructor(
    message: string,
    context: ObjectStoreErrorContext & { statusCode?: number | undefined; s3Code?: string | undefined; requestId?: string | undefined },
  ) {
    super('S3_REQUEST_FAILED', message, context);
    this.statusCode = context.statusCode;
    this.s3Code = context.s3Code;
    this.requestId = context.requestId;
  }
}
