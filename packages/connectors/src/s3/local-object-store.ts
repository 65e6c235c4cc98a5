import { randomUUID } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import type { BigIntStats, Dirent } from 'node:fs';
import { link, lstat, mkdir, open, readdir, rename, rmdir, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { InvalidOptionsError } from '@tributary/core';
import { z } from 'zod';
import { BodyReader, BodyReadFailure, isObjectBody } from './body-reader.js';
import { inScope, maxTimerDelayMs, parseCallOptions, raceSignal } from './call-scope.js';
import type { CallScope } from './call-scope.js';
import { compareKeys, keyProblem, prefixProblem, reservedSegmentPrefix } from './object-key.js';
import { ObjectNotFoundError, ObjectStoreError, PreconditionFailedError } from './object-store-errors.js';
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

const localObjectStoreOptionsSchema = z.strictObject({
  /**
   * Directory holding the objects: key `a/b.json` is the file `<root>/a/b.json`. A relative path is resolved against
   * the working directory at construction. Created on the first write. Required.
   */
  root: z.string('must be a directory path').min(1, 'must not be empty'),
  /** Default bound of one call in milliseconds (see `ObjectStoreCallOptions`). Default `120_000`. */
  timeoutMs: z
    .number('must be a number of milliseconds')
    .int('must be an integer number of milliseconds')
    .positive('must be a positive number of milliseconds')
    .max(maxTimerDelayMs, `must be at most ${maxTimerDelayMs} ms`)
    .default(120_000),
  /**
   * Flush each written file and its directory to disk (`fsync`) before the write resolves, so that a write that
   * resolved survives a power loss — what an Iceberg commit needs. Turn off only for scratch data. Default `true`.
   */
  fsync: z.boolean('must be true or false').default(true),
});

/**
 * Options of {@link localObjectStore}. Only `root` is required.
 *
 * @example
 * ```ts
 * const options: LocalObjectStoreOptions = { root: '/var/lib/tributary/warehouse', fsync: true };
 * ```
 *
 * @interface
 */
export type LocalObjectStoreOptions = z.input<typeof localObjectStoreOptionsSchema>;

type ParsedOptions = z.output<typeof localObjectStoreOptionsSchema>;

/** Bytes written to a temporary file per write call. */
const writeChunkBytes = 1024 * 1024;
/** Deletes of one `deleteMany` run at the same time. */
const deleteConcurrency = 16;
/** Open without following a symbolic link in the last component, where the platform can. */
const noFollow = fsConstants.O_NOFOLLOW ?? 0;
/** Error codes that mean "no object there". */
const absentCodes = new Set(['ENOENT', 'ENOTDIR', 'ELOOP', 'EISDIR']);
/** Error codes worth retrying. */
const transientCodes = new Set(['EAGAIN', 'EBUSY', 'EMFILE', 'ENFILE', 'EINTR', 'ETIMEDOUT']);


/**
 * Creates an {@link ObjectStore} on local disk, for development, tests and single-machine deployments. Objects are
 * plain files under `root` (key `a/b.json` is `<root>/a/b.json`), so other tools — pyiceberg, DuckDB — can read them
 * in place.
 *
 * - Atomic writes: the body goes to a temporary file in the target's directory (a name starting with
 *   `.tributary-tmp-`, never listed), is flushed (`fsync`), then renamed over the target; readers see the old or the
 *   new file, never a partial one, and a failed or aborted write removes the temporary file.
 * - `putIfAbsent` links the temporary file to the target name (`link()` fails with `EEXIST` if it exists), so of
 *   several concurrent writers — threads or processes on one machine — exactly one creates the object.
 * - `list` walks the directories and yields keys in UTF-8 byte order, like S3.
 * - Keys are checked before any path is built (no `..`, `.`, empty segments, leading `/`, backslashes, NUL), and the
 *   resolved path is checked to lie under `root`: no key reaches outside it. Symbolic links are not followed for the
 *   last path component and never listed; do not place links to elsewhere inside `root`.
 * - ETags derive from the file's inode, size and modification time (nanoseconds).
 * - Needs a file system with hard links (any Linux or macOS local file system; not FAT).
 *
 * @param options see {@link LocalObjectStoreOptions}: `root` (required), `timeoutMs` (default `120_000`), `fsync`
 *   (default `true`)
 * @throws InvalidOptionsError at construction, naming the bad option
 *
 * @example
 * ```ts
 * import { localObjectStore } from '@tributary/connectors/s3';
 *
 * const store = localObjectStore({ root: './warehouse' });
 * await store.put('db/orders/data/part-0.parquet', parquetBytes);
 * const { created } = await store.putIfAbsent('db/orders/metadata/v1.metadata.json', json);
 * for await (const { key, size } of store.list('db/orders/data/')) console.log(key, size);
 * ```
 */
export function localObjectStore(options: LocalObjectStoreOptions): ObjectStore {
  return new LocalObjectStore(parseOptions(localObjectStoreOptionsSchema, 'localObjectStore', options));
}

class LocalObjectStore implements ObjectStore {
  readonly location: string;
  readonly #root: string;
  readonly #timeoutMs: number;
  readonly #fsync: boolean;
  #closed = false;

  constructor(options: ParsedOptions) {
    this.#root = path.resolve(options.root);
    this.#timeoutMs = options.timeoutMs;
    this.#fsync = options.fsync;
    const href = pathToFileURL(this.#root).href;
    this.location = href.endsWith('/') ? href : `${href}/`;
  }

  uri(key: string): string {
    return pathToFileURL(this.#pathOf(key, 'uri')).href;
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
    return this.#call('get', key, options, (scope, file) =>
      this.#withFile('get', key, file, options?.ifMatch, async (handle) => {
        const buffer = await handle.readFile({ signal: scope.signal });
        return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.length);
      }),
    );
  }

  getRange(key: string, start: number, endInclusive: number, options?: ObjectReadOptions): Promise<Uint8Array> {
    return this.#call('getRange', key, options, (scope, file) => {
      if (!(Number.isSafeInteger(start) && Number.isSafeInteger(endInclusive) && start >= 0 && endInclusive >= start)) {
        throw this.#error(
          'INVALID_RANGE',
          'getRange',
          key,
          `start and endInclusive must be integers with 0 <= start <= endInclusive (got ${start}..${endInclusive})`,
        );
      }
      return this.#withFile('getRange', key, file, options?.ifMatch, async (handle, stats) => {
        const size = Number(stats.size);
        if (start >= size) throw this.#error('INVALID_RANGE', 'getRange', key, `start ${start} is at or past the end of the object (${size} bytes)`);
        const length = Math.min(endInclusive, size - 1) - start + 1;
        const bytes = new Uint8Array(length);
        let filled = 0;
        while (filled < length) {
          scope.throwIfAborted();
          const { bytesRead } = await handle.read(bytes, filled, length - filled, start + filled);
          if (bytesRead === 0) break;
          filled += bytesRead;
        }
        return filled === length ? bytes : bytes.subarray(0, filled);
      });
    });
  }

  head(key: string, options?: ObjectReadOptions): Promise<ObjectInfo> {
    return this.#call('head', key, options, async (_scope, file) => {
      let stats: BigIntStats;
      try {
        stats = await lstat(file, { bigint: true });
      } catch (error) {
        if (absentCodes.has(errnoOf(error))) throw this.#notFound('head', key);
        throw this.#ioError('head', key, error);
      }
      if (!stats.isFile()) throw this.#notFound('head', key);
      const info = infoOf(key, stats);
      if (options?.ifMatch !== undefined && options.ifMatch !== info.etag) throw this.#preconditionFailed('head', key, options.ifMatch, info.etag);
      return info;
    });
  }

  async *list(prefix = '', options?: ObjectListOptions): AsyncGenerator<ObjectInfo> {
    const problem = prefixProblem(prefix);
    if (problem !== undefined) throw this.#error('INVALID_KEY', 'list', undefined, `prefix ${problem} (got ${JSON.stringify(prefix)})`);
    const startAfter = options?.startAfter;
    if (startAfter !== undefined && typeof startAfter !== 'string') throw new InvalidOptionsError('localObjectStore.list', ['startAfter: must be a string']);
    const limit = options?.limit ?? Number.POSITIVE_INFINITY;
    if (!(limit === Number.POSITIVE_INFINITY || (Number.isInteger(limit) && limit >= 0))) {
      throw new InvalidOptionsError('localObjectStore.list', ['limit: must be a non-negative integer']);
    }
    if (limit === 0) return;
    // Start at the deepest directory the prefix names in full: "data/fi" walks "data/" for names starting with "fi".
    const directoryKey = prefix.slice(0, prefix.lastIndexOf('/') + 1);
    let yielded = 0;
    for await (const info of this.#walk(directoryKey, prefix, startAfter, options)) {
      yield info;
      if (++yielded >= limit) return;
    }
  }

  delete(key: string, options?: ObjectStoreCallOptions): Promise<void> {
    return this.#call('delete', key, options, (_scope, file) => this.#deleteFile('delete', key, file));
  }

  deleteMany(keys: Iterable<string>, options?: ObjectStoreCallOptions): Promise<void> {
    return this.#call('deleteMany', undefined, options, async (scope) => {
      const targets = [...new Set(keys)].map((key) => ({ key, file: this.#pathOf(key, 'deleteMany') }));
      let next = 0;
      const worker = async () => {
        while (next < targets.length) {
          scope.throwIfAborted();
          const target = targets[next++]!;
          await this.#deleteFile('deleteMany', target.key, target.file);
        }
      };
      await Promise.all(Array.from({ length: Math.min(deleteConcurrency, targets.length) }, worker));
    });
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  // ---- internals -------------------------------------------------------------------------------------------------

  async #write(
    operation: 'put' | 'putIfAbsent',
    key: string,
    body: ObjectBody,
    options: ObjectPutOptions | undefined,
    conditional: boolean,
  ): Promise<PutIfAbsentResult> {
    return this.#call(operation, key, options, async (scope, file) => {
      if (!isObjectBody(body)) throw this.#error('OBJECT_BODY_FAILED', operation, key, 'body must be a Uint8Array, a string or an async iterable of chunks');
      const directory = path.dirname(file);
      const reader = new BodyReader(body);
      let temporary: string | undefined;
      try {
        const written = await this.#writeTemporary(scope, directory, reader);
        temporary = written.file;
        scope.throwIfAborted();
        if (conditional) {
          try {
            await link(temporary, file);
          } catch (error) {
            if (errnoOf(error) !== 'EEXIST') throw error;
            const existing = await lstat(file).catch(() => undefined);
            if (existing?.isDirectory() === true) throw Object.assign(new Error('a directory is in the way'), { code: 'EISDIR' });
            return { created: false, key };
          }
        } else {
          await rename(temporary, file);
          temporary = undefined;
        }
        if (this.#fsync) await syncDirectory(directory);
        return { created: true, key, etag: written.etag, size: written.size };
      } catch (error) {
        if (error instanceof BodyReadFailure) {
          throw this.#error(
            'OBJECT_BODY_FAILED',
            operation,
            key,
            `reading the body failed after ${error.bytesRead} bytes: ${error.message}. Nothing was written; fix the body source and call again`,
            error.reason,
          );
        }
        if (error instanceof ObjectStoreError || (scope.signal.aborted && error === scope.signal.reason)) throw error;
        throw this.#ioError(operation, key, error);
      } finally {
        reader.release();
        if (temporary !== undefined) await unlink(temporary).catch(() => undefined);
      }
    });
  }

  /** Writes the body to a new temporary file in `directory`; its ETag will be the object's (rename keeps the inode). */
  async #writeTemporary(scope: CallScope, directory: string, reader: BodyReader): Promise<{ file: string; etag: string; size: number }> {
    for (let attempt = 1; ; attempt++) {
      await mkdir(directory, { recursive: true });
      const file = path.join(directory, `${reservedSegmentPrefix}${randomUUID()}`);
      let handle: FileHandle;
      try {
        handle = await open(file, 'wx');
      } catch (error) {
        // A concurrent delete may have pruned the (empty) directory between mkdir and open: make it again.
        if (errnoOf(error) === 'ENOENT' && attempt < 5) continue;
        throw error;
      }
      try {
        let size = 0;
        for (;;) {
          const chunk = await reader.read(writeChunkBytes, scope.signal);
          if (chunk.length === 0) break;
          let offset = 0;
          while (offset < chunk.length) {
            const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset);
            offset += bytesWritten;
          }
          size += chunk.length;
          scope.throwIfAborted();
        }
        if (this.#fsync) await handle.sync();
        const stats = await handle.stat({ bigint: true });
        await handle.close();
        return { file, etag: etagOf(stats), size };
      } catch (error) {
        await handle.close().catch(() => undefined);
        await unlink(file).catch(() => undefined);
        throw error;
      }
    }
  }

  /** Opens the object's file (a regular file, not through a final symbolic link), checks `ifMatch`, runs `read`. */
  async #withFile<T>(
    operation: string,
    key: string,
    file: string,
    ifMatch: string | undefined,
    read: (handle: FileHandle, stats: BigIntStats) => Promise<T>,
  ): Promise<T> {
    let handle: FileHandle;
    try {
      handle = await open(file, fsConstants.O_RDONLY | noFollow);
    } catch (error) {
      if (absentCodes.has(errnoOf(error))) throw this.#notFound(operation, key);
      throw this.#ioError(operation, key, error);
    }
    try {
      const stats = await handle.stat({ bigint: true });
      if (!stats.isFile()) throw this.#notFound(operation, key);
      if (ifMatch !== undefined && ifMatch !== etagOf(stats)) throw this.#preconditionFailed(operation, key, ifMatch, etagOf(stats));
      return await read(handle, stats);
    } catch (error) {
      if (error instanceof ObjectStoreError || !isErrnoError(error)) throw error;
      throw this.#ioError(operation, key, error);
    } finally {
      await handle.close().catch(() => undefined);
    }
  }

  async *#walk(directoryKey: string, prefix: string, startAfter: string | undefined, options: ObjectListOptions | undefined): AsyncGenerator<ObjectInfo> {
    const directory = path.join(this.#root, ...directoryKey.split('/').filter((segment) => segment.length > 0));
    let entries: Dirent[];
    try {
      entries = await this.#call('list', undefined, options, (scope) => raceSignal(readdir(directory, { withFileTypes: true }), scope.signal));
    } catch (error) {
      if (absentCodes.has(errnoOf(error))) return;
      if (error instanceof ObjectStoreError || !isErrnoError(error)) throw error;
      throw this.#ioError('list', directoryKey, error);
    }
    const items = entries
      .filter((entry) => !entry.name.startsWith(reservedSegmentPrefix) && (entry.isFile() || entry.isDirectory()))
      .map((entry) => ({ directory: entry.isDirectory(), sortKey: `${directoryKey}${entry.name}${entry.isDirectory() ? '/' : ''}` }))
      // A directory sorts as "name/", so "a.txt" < "a/b" < "a0" as in S3's byte order of whole keys.
      .sort((left, right) => compareKeys(left.sortKey, right.sortKey));
    for (const item of items) {
      const key = item.sortKey;
      if (item.directory) {
        if (!(key.startsWith(prefix) || prefix.startsWith(key))) continue;
        // Every key below starts with `key`: when `key` sorts before startAfter and is not a prefix of it, all do.
        if (startAfter !== undefined && compareKeys(key, startAfter) < 0 && !startAfter.startsWith(key)) continue;
        yield* this.#walk(key, prefix, startAfter, options);
        continue;
      }
      if (!key.startsWith(prefix)) continue;
      if (startAfter !== undefined && compareKeys(key, startAfter) <= 0) continue;
      if (keyProblem(key) !== undefined) continue; // a file no key can name (e.g. with a backslash): not an object
      let stats: BigIntStats;
      try {
        stats = await lstat(path.join(directory, key.slice(directoryKey.length)), { bigint: true });
      } catch (error) {
        if (absentCodes.has(errnoOf(error))) continue; // deleted since readdir
        throw this.#ioError('list', key, error);
      }
      if (stats.isFile()) yield infoOf(key, stats);
    }
  }

  async #deleteFile(operation: string, key: string, file: string): Promise<void> {
    try {
      await unlink(file);
    } catch (error) {
      const code = errnoOf(error);
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      // unlink of a directory: EISDIR on Linux, EPERM on macOS. A directory is not an object, so nothing to delete.
      if ((code === 'EISDIR' || code === 'EPERM') && (await lstat(file).catch(() => undefined))?.isDirectory() === true) return;
      throw this.#ioError(operation, key, error);
    }
    // Remove directories the delete left empty, so the tree does not fill with empty folders. A concurrent writer that
    // loses its directory here recreates it (see #writeTemporary).
    let directory = path.dirname(file);
    while (directory !== this.#root && directory.startsWith(this.#root + path.sep)) {
      try {
        await rmdir(directory);
      } catch {
        break;
      }
      directory = path.dirname(directory);
    }
  }

  async #call<T>(
    operation: string,
    key: string | undefined,
    options: ObjectStoreCallOptions | undefined,
    body: (scope: CallScope, file: string) => Promise<T>,
  ): Promise<T> {
    if (this.#closed) throw this.#error('LOCAL_IO_FAILED', operation, key, 'the store is closed; create a new one');
    const file = key === undefined ? this.#root : this.#pathOf(key, operation);
    const { signal, timeoutMs } = parseCallOptions(options, `localObjectStore.${operation}`);
    return inScope(signal, timeoutMs ?? this.#timeoutMs, { connector: 'local', location: this.#root, operation, key }, async (scope) => {
      try {
        return await body(scope, file);
      } catch (error) {
        // A file-system call cut short by the signal fails with its own AbortError: reject with the scope's reason.
        if (scope.signal.aborted) throw scope.signal.reason;
        throw error;
      }
    });
  }

  /** The file of `key`. Refuses invalid keys, and — belt and braces — any path that would not lie under the root. */
  #pathOf(key: string, operation: string): string {
    const problem = keyProblem(key);
    if (problem !== undefined) {
      throw this.#error('INVALID_KEY', operation, typeof key === 'string' ? key : undefined, `key ${problem} (got ${JSON.stringify(key)}); keys are relative "/"-separated paths`);
    }
    const file = path.join(this.#root, ...key.split('/'));
    const relative = path.relative(this.#root, file);
    if (relative === '' || relative === '..' || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative)) {
      throw this.#error('INVALID_KEY', operation, key, `key ${JSON.stringify(key)} resolves outside the store's root`);
    }
    return file;
  }

  #notFound(operation: string, key: string): ObjectNotFoundError {
    return new ObjectNotFoundError(`${operation}: no object at ${this.#describe(key)}. Check the key.`, {
      connector: 'local',
      location: this.#root,
      operation,
      key,
    });
  }

  #preconditionFailed(operation: string, key: string, expected: string, actual: string): PreconditionFailedError {
    return new PreconditionFailedError(
      `${operation} of ${this.#describe(key)}: the object is not the expected version (ETag ${actual}, expected ${expected}). ` +
        'Take a fresh ETag with head() and read again.',
      { connector: 'local', location: this.#root, operation, key },
    );
  }

  #ioError(operation: string, key: string | undefined, error: unknown): ObjectStoreError {
    const code = errnoOf(error);
    const hint =
      code === 'EISDIR'
        ? 'The key names a directory that holds other keys; a key cannot be both an object and a prefix of other keys.'
        : code === 'ENOTDIR' || code === 'EEXIST'
          ? 'A segment of the key is an existing object; a key cannot be both an object and a prefix of other keys.'
          : code === 'EACCES' || code === 'EPERM'
            ? 'Check the permissions of the root directory.'
            : code === 'ENOSPC'
              ? 'The disk is full.'
              : '';
    return this.#error(
      'LOCAL_IO_FAILED',
      operation,
      key,
      `${code === '' ? '' : `${code}: `}${error instanceof Error ? error.message : String(error)}.${hint === '' ? '' : ` ${hint}`}`,
      error,
      transientCodes.has(code),
    );
  }

  #error(code: ObjectStoreError['code'], operation: string, key: string | undefined, problem: string, cause?: unknown, retriable = false): ObjectStoreError {
    return new ObjectStoreError(code, `${operation} of ${key === undefined ? this.#root : this.#describe(key)}: ${problem}`, {
      connector: 'local',
      location: this.#root,
      operation,
      key,
      retriable,
      cause,
    });
  }

  #describe(key: string): string {
    return `"${key}" in ${this.#root}`;
  }
}

function errnoOf(error: unknown): string {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : '';
}

function isErrnoError(error: unknown): boolean {
  return errnoOf(error) !== '';
}

function etagOf(stats: BigIntStats): string {
  return `"${stats.ino.toString(16)}-${stats.size.toString(16)}-${stats.mtimeNs.toString(16)}"`;
}

function infoOf(key: string, stats: BigIntStats): ObjectInfo {
  return { key, size: Number(stats.size), etag: etagOf(stats), lastModified: new Date(Number(stats.mtimeMs)) };
}

/** Makes a rename or link in `directory` durable. */
async function syncDirectory(directory: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(directory, 'r');
    await handle.sync();
  } catch (error) {
    // Some platforms (Windows) cannot open or sync a directory; the file itself was synced already.
    if (!['EISDIR', 'EPERM', 'EINVAL', 'EBADF'].includes(errnoOf(error))) throw error;
  } finally {
    await handle?.close().catch(() => undefined);
  }
}
