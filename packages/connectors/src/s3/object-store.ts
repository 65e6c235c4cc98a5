/**
 * What an object store accepts as the contents of an object: bytes, a string (stored as UTF-8), or an async iterable
 * of chunks (a Node `Readable`, a web `ReadableStream`, an async generator). A stream is read once, part by part, so a
 * large body never has to sit in memory whole.
 *
 * @example
 * ```ts
 * import { createReadStream } from 'node:fs';
 * await store.put('data/file-1.parquet', createReadStream('/tmp/file-1.parquet'));
 * await store.put('metadata/version-hint.text', '3');
 * ```
 */
export type ObjectBody = Uint8Array | string | AsyncIterable<Uint8Array | string>;

/**
 * Cancellation and time bound of one store call. Every method of {@link ObjectStore} accepts them.
 *
 * @example
 * ```ts
 * await store.get(key, { signal: AbortSignal.timeout(5_000) });
 * await store.put(key, body, { timeoutMs: 600_000 }); // a large upload
 * ```
 */
export interface ObjectStoreCallOptions {
  /**
   * Cancels the call. An aborted call rejects with `signal.reason` (as `fetch` does), stops its requests, and leaves
   * nothing behind: a `put` in progress is rolled back (temporary file removed, multipart upload aborted).
   * Default: none.
   */
  signal?: AbortSignal | undefined;
  /**
   * Bound of the whole call in milliseconds, retries included. On expiry the call rejects with an `ObjectStoreError`
   * of code `OBJECT_STORE_TIMEOUT` (retriable) and is cleaned up as for `signal`. For `list`, it bounds each page.
   * Default: the store's `timeoutMs` (`120_000`).
   */
  timeoutMs?: number | undefined;
}

/**
 * Options of {@link ObjectStore.put} and {@link ObjectStore.putIfAbsent}.
 *
 * @example
 * ```ts
 * await store.put('data/a.json', JSON.stringify(row), { contentType: 'application/json' });
 * ```
 */
export interface ObjectPutOptions extends ObjectStoreCallOptions {
  /** `Content-Type` stored with the object (S3 only; the local store ignores it). Default: none (S3 serves `binary/octet-stream`). */
  contentType?: string | undefined;
}

/**
 * Options of the reads {@link ObjectStore.get}, {@link ObjectStore.getRange} and {@link ObjectStore.head}.
 *
 * @example
 * ```ts
 * const { etag, size } = await store.head(file);
 * const tail = await store.getRange(file, size - 8, size - 1, { ifMatch: etag });
 * ```
 */
export interface ObjectReadOptions extends ObjectStoreCallOptions {
  /**
   * Read only if the object's ETag is still this one (as returned by `head`, `list` or `put`); otherwise reject with
   * `PreconditionFailedError`. Use it to read several ranges of one version of a file. Default: any version.
   */
  ifMatch?: string | undefined;
}

/**
 * Options of {@link ObjectStore.list}.
 *
 * @example
 * ```ts
 * for await (const entry of store.list('data/', { startAfter: 'data/file-0099.parquet', limit: 100 })) console.log(entry.key);
 * ```
 */
export interface ObjectListOptions extends ObjectStoreCallOptions {
  /** Only keys strictly after this one (in UTF-8 byte order). Default: from the first key. */
  startAfter?: string | undefined;
  /** Stop after this many entries. Default: all. */
  limit?: number | undefined;
  /** S3: keys asked for per `ListObjectsV2` request, 1..1000. The local store ignores it. Default `1000`. */
  pageSize?: number | undefined;
}

/**
 * What the store knows about one object.
 *
 * @example
 * ```ts
 * const info: ObjectInfo = await store.head('data/file-1.parquet');
 * console.log(info.size, info.etag, info.lastModified.toISOString());
 * ```
 */
export interface ObjectInfo {
  /** Key of the object, relative to the store (without the store's prefix). */
  readonly key: string;
  /** Size in bytes. */
  readonly size: number;
  /**
   * Opaque version tag, quoted as S3 returns it (`"…"`); it changes whenever the object is rewritten. On S3 it is
   * the S3 ETag; on the local store it is derived from the file's inode, size and modification time.
   */
  readonly etag: string;
  /** When the object was last written. */
  readonly lastModified: Date;
}

/**
 * What a successful write returns.
 *
 * @example
 * ```ts
 * const { etag, size } = await store.put('data/a.bin', bytes);
 * ```
 */
export interface ObjectPutResult {
  /** Key written, relative to the store. */
  readonly key: string;
  /** ETag of the new object (see {@link ObjectInfo.etag}). */
  readonly etag: string;
  /** Bytes written. */
  readonly size: number;
}

/**
 * Outcome of {@link ObjectStore.putIfAbsent}: `created: true` when this call created the object, `created: false`
 * when the key already existed (another writer won the race); nothing was changed then.
 *
 * @example
 * ```ts
 * const result = await store.putIfAbsent(`metadata/v${next}.metadata.json`, json);
 * if (!result.created) return reloadAndRetry(); // lost the race
 * ```
 */
export type PutIfAbsentResult = ({ readonly created: true } & ObjectPutResult) | { readonly created: false; readonly key: string };

/**
 * A flat namespace of immutable-by-convention objects under `/`-separated keys, with the consistency S3 has offered
 * since 2020: strong read-after-write, atomic replacement (a reader sees the old or the new object, never a mix), and
 * conditional creation for commit protocols. Two implementations: `s3ObjectStore` (S3 and S3-compatible servers)
 * and `localObjectStore` (a directory on local disk); both pass the same behavioural suite.
 *
 * Keys are relative paths: non-empty segments separated by `/`, no `.` or `..` segment, no leading or trailing `/`,
 * at most 1024 UTF-8 bytes. Anything else is rejected with code `INVALID_KEY`, so a key valid on one store is valid
 * on the other and can never escape the local store's root.
 *
 * Errors are `ObjectStoreError`s (`ConnectorError`s) with a `code`, `retriable`, the operation and the key. Every call
 * takes a `signal` and a `timeoutMs` ({@link ObjectStoreCallOptions}).
 *
 * @example
 * ```ts
 * import { localObjectStore, s3ObjectStore } from '@tributary/connectors/s3';
 *
 * const store: ObjectStore = process.env.WAREHOUSE_BUCKET
 *   ? s3ObjectStore({ bucket: process.env.WAREHOUSE_BUCKET, prefix: 'warehouse' })
 *   : localObjectStore({ root: './warehouse' });
 * const { created } = await store.putIfAbsent('db/orders/metadata/v2.metadata.json', json);
 * ```
 */
export interface ObjectStore {
  /** Where the store's keys live, as a URI ending in `/`: `s3://bucket/prefix/` or `file:///abs/root/`. */
  readonly location: string;
  /** Absolute URI of `key` (`s3://bucket/prefix/key`, `file:///abs/root/key`), e.g. for Iceberg metadata. */
  uri(key: string): string;
  /**
   * Writes `body` under `key`, replacing any object there, atomically: readers see the old object or the new one.
   * Bodies above the store's multipart threshold go up in parts (S3) and are aborted on failure, so no parts stay
   * behind. On the local store the data is written to a temporary file in the same directory, then renamed.
   */
  put(key: string, body: ObjectBody, options?: ObjectPutOptions): Promise<ObjectPutResult>;
  /**
   * Creates `key` only if no object exists there (S3 `If-None-Match: *`; local `link()`): of several concurrent
   * callers exactly one gets `created: true`; the others get `created: false` and change nothing. Losing is a
   * result, not an error. Any rejection means the outcome is unknown unless its code says otherwise (e.g.
   * `CONDITIONAL_CONFLICT`: nothing was written, call again): read the key back before assuming either way.
   */
  putIfAbsent(key: string, body: ObjectBody, options?: ObjectPutOptions): Promise<PutIfAbsentResult>;
  /** The whole object. Rejects with `ObjectNotFoundError` when there is none. */
  get(key: string, options?: ObjectReadOptions): Promise<Uint8Array>;
  /**
   * Bytes `start..endInclusive` of the object (an HTTP range); a range running past the end is cut at the end.
   * Rejects with code `INVALID_RANGE` when `start` is at or past the end, `ObjectNotFoundError` when there is no object.
   */
  getRange(key: string, start: number, endInclusive: number, options?: ObjectReadOptions): Promise<Uint8Array>;
  /** Size, ETag and modification time of the object. Rejects with `ObjectNotFoundError` when there is none. */
  head(key: string, options?: ObjectReadOptions): Promise<ObjectInfo>;
  /**
   * Objects whose key starts with `prefix` (a plain string prefix, `''` for all), in ascending UTF-8 byte order of
   * key, as S3 `ListObjectsV2` returns them; fetched page by page as the iteration proceeds.
   */
  list(prefix?: string, options?: ObjectListOptions): AsyncIterable<ObjectInfo>;
  /** Removes the object; removing a key that does not exist is not an error. */
  delete(key: string, options?: ObjectStoreCallOptions): Promise<void>;
  /** Removes many objects (S3: `DeleteObjects` in batches of 1000); absent keys are not errors. */
  deleteMany(keys: Iterable<string>, options?: ObjectStoreCallOptions): Promise<void>;
  /** Releases the client (S3) — calls in flight fail afterwards. The store is unusable afterwards. */
  close(): Promise<void>;
}
