import { open as openFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { z } from 'zod';
import { TributaryError } from '../errors.js';
import type { TributaryErrorOptions } from '../errors.js';
import { errorPolicySchema, stepNameSchema } from '../internal/common-options.js';
import { describeError } from '../internal/describe-error.js';
import { parseOptions } from '../internal/parse-options.js';
import { batchLimit, batchSizeSchema, functionSchema } from '../internal/source-support.js';
import type { DeadLetter } from '../record/dead-letter.js';
import type { Positions, RecordHeaders, StreamRecord } from '../record/stream-record.js';
import type { ErrorPolicy } from '../runtime/step-context.js';
import type { Source, SourceContext } from './source.js';

const pathSchema = z.string('must be a non-empty string').min(1, 'must be a non-empty string');

const ndjsonFileSourceOptionsSchema = z
  .strictObject({
    name: stepNameSchema,
    path: pathSchema.optional(),
    paths: z
      .array(pathSchema, 'must be a list of file paths')
      .min(1, 'must name at least one file')
      .refine((paths) => new Set(paths).size === paths.length, 'must not repeat a file')
      .optional(),
    eventTime: functionSchema<(value: unknown) => number>().optional(),
    key: functionSchema<(value: unknown) => string | null>().optional(),
    batchSize: batchSizeSchema,
    onError: errorPolicySchema.default('dlq'),
    readBufferBytes: z.int('must be a positive integer').min(16, 'must be at least 16').default(65_536),
  })
  .superRefine((options, context) => {
    if ((options.path === undefined) === (options.paths === undefined)) {
      context.addIssue({ code: 'custom', path: ['path'], message: 'give exactly one of path or paths' });
    }
  });

/** Options of {@link ndjsonFileSource}. */
export interface NdjsonFileSourceOptions<V> {
  /** Source name (metrics, logs, dead letters). Default `ndjson`. */
  name?: string;
  /** The file to read. Give exactly one of `path` and `paths`. */
  path?: string;
  /** Files to read, one partition each (the partition id is the path as given). */
  paths?: readonly string[];
  /** Event time of a parsed value (ms since the epoch). Default: processing time from the context clock. */
  eventTime?: (value: V) => number;
  /** Key of a parsed value. Default: `null`. */
  key?: (value: V) => string | null;
  /** Max records per poll, never more than the runtime asks for. Default 1000. */
  batchSize?: number;
  /**
   * What happens to a line that is not valid JSON, or whose `eventTime` / `key` throws: `dlq` (default) hands it to
   * the runtime's dead letters with the file as partition and the line's byte offset; `skip` logs a warning and drops
   * it; `fail` fails the poll with {@link NdjsonParseError} (after the records before it were delivered).
   */
  onError?: ErrorPolicy;
  /** Bytes read from a file at a time. Default 65 536. */
  readBufferBytes?: number;
}

type SameKeys<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _optionsMatchSchema: SameKeys<keyof z.input<typeof ndjsonFileSourceOptionsSchema>, keyof NdjsonFileSourceOptions<unknown>> = true;

/**
 * A line of an NDJSON file could not be turned into a record: it is not valid JSON, or the `eventTime` / `key`
 * function failed on it. Carries the file and the line's byte offset (`tail -c +<offset + 1> <file> | head -1` shows
 * it).
 *
 * @example
 * ```ts
 * runtime.done.catch((error) => {
 *   if (error instanceof NdjsonParseError) console.error(`fix ${error.file} at byte ${error.offset}`);
 * });
 * ```
 */
export class NdjsonParseError extends TributaryError {
  /** The file (as given in the options). */
  readonly file: string;
  /** Byte offset of the line's first byte. */
  readonly offset: number;

  constructor(message: string, context: { file: string; offset: number } & TributaryErrorOptions) {
    super('NDJSON_PARSE_ERROR', message, context);
    this.file = context.file;
    this.offset = context.offset;
  }
}

/**
 * What the runtime must offer for `onError: 'dlq'`: a way for a source to hand over records it could not decode. The
 * runtime emits them as a dead-letter chunk in order with the poll's records and counts their positions as handled.
 */
type DeadLetterSourceContext = SourceContext & { deadLetters?: (letters: readonly DeadLetter[]) => void };

const noHeaders: RecordHeaders = Object.freeze({});
const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const MAX_QUOTED_LINE = 200;

interface FileCursor {
  readonly path: string;
  readonly handle: FileHandle;
  /** Bytes read but not yet turned into lines. */
  buffer: Buffer;
  /** File offset of `buffer[0]`. */
  bufferStart: number;
  /** Index in `buffer` where the next line starts. */
  lineStart: number;
  /** Where the next read starts. */
  readPosition: number;
  eof: boolean;
  done: boolean;
  /** Resumed inside the file: the bytes up to the first newline belong to lines already processed. */
  discardFirstLine: boolean;
}

interface ParsedOptions<V> {
  readonly paths: readonly string[];
  readonly eventTime: ((value: V) => number) | undefined;
  readonly key: ((value: V) => string | null) | undefined;
  readonly batchSize: number;
  readonly onError: ErrorPolicy;
  readonly readBufferBytes: number;
}

/**
 * A {@link Source} over newline-delimited JSON files: one partition per file, offsets are the byte offsets of the
 * lines. Built by {@link ndjsonFileSource}.
 */
export class NdjsonFileSource<V> implements Source<V> {
  /** Source name (metrics, logs, dead letters). */
  readonly name: string;
  readonly #options: ParsedOptions<V>;
  #cursors: FileCursor[] = [];
  #context: DeadLetterSourceContext | undefined;
  #committed: Record<string, number> = {};
  #failure: NdjsonParseError | undefined;
  #rotation = 0;

  /** @internal use {@link ndjsonFileSource} */
  constructor(name: string, options: ParsedOptions<V>) {
    this.name = name;
    this.#options = options;
  }

  /**
   * Opens every file and reports the files through `context.assigned`. A file resumes at the offset `assigned`
   * returned, else at the offset last committed to this source, else at 0. A resume offset `R` means "lines starting
   * before `R` were processed": reading starts at byte `R - 1` and skips to the next line.
   *
   * @throws TributaryError `FILE_UNREADABLE` when a file cannot be opened; `DEAD_LETTERS_UNSUPPORTED` when
   *   `onError` is `dlq` and the runtime's context has no `deadLetters` hand-over
   */
  async open(context: SourceContext): Promise<void> {
    await this.#closeFiles();
    const deadLetterContext = context as DeadLetterSourceContext;
    if (this.#options.onError === 'dlq' && typeof deadLetterContext.deadLetters !== 'function') {
      throw new TributaryError(
        'DEAD_LETTERS_UNSUPPORTED',
        `ndjsonFileSource "${this.name}" has onError 'dlq', but the runtime that opened it cannot take dead letters from sources (SourceContext.deadLetters is missing). Use onError 'skip' or 'fail', or a runtime that supports source dead letters.`,
      );
    }
    this.#failure = undefined;
    this.#rotation = 0;
    const cursors: FileCursor[] = [];
    try {
      for (const path of this.#options.paths) {
        let handle: FileHandle;
        try {
          handle = await openFile(path, 'r');
        } catch (error) {
          throw new TributaryError(
            'FILE_UNREADABLE',
            `ndjsonFileSource "${this.name}" cannot open ${path}: ${error instanceof Error ? error.message : String(error)}. Check the path and its permissions.`,
            { cause: error },
          );
        }
        cursors.push({
          path,
          handle,
          buffer: Buffer.alloc(0),
          bufferStart: 0,
          lineStart: 0,
          readPosition: 0,
          eof: false,
          done: false,
          discardFirstLine: false,
        });
      }
      const resumeAt = await context.assigned(this.#options.paths, this.committed);
      for (const cursor of cursors) {
        const offset = resumeAt[cursor.path] ?? this.#committed[cursor.path] ?? 0;
        if (!Number.isSafeInteger(offset) || offset < 0) {
          throw new TributaryError('INVALID_POSITION', `ndjsonFileSource "${this.name}": cannot resume ${cursor.path} at ${offset}; offsets are byte offsets (integers >= 0).`);
        }
        if (offset > 0) {
          cursor.readPosition = offset - 1;
          cursor.bufferStart = offset - 1;
          cursor.discardFirstLine = true;
        }
      }
    } catch (error) {
      await Promise.allSettled(cursors.map((cursor) => cursor.handle.close()));
      throw error;
    }
    this.#cursors = cursors;
    this.#context = deadLetterContext;
  }

  /**
   * Up to `min(batchSize, maxRecords)` records, taken fairly from the files; `null` when every file was read to its
   * end. Blank lines are skipped; a trailing `\r` is dropped; the last line needs no newline. Bad lines follow
   * `onError`: with `dlq` they are handed to `context.deadLetters` during this poll (value: the line's text; position:
   * file and byte offset). An aborted signal ends the poll early with what was read so far.
   */
  async poll(maxRecords: number, signal?: AbortSignal): Promise<readonly StreamRecord<V>[] | null> {
    const context = this.#context;
    if (context === undefined) {
      throw new TributaryError('SOURCE_NOT_OPEN', `ndjsonFileSource "${this.name}": poll() called before open() or after close(). Open the source first.`);
    }
    if (this.#failure) throw this.#failure;
    const limit = batchLimit(this.#options.batchSize, maxRecords);
    const records: StreamRecord<V>[] = [];
    const letters: DeadLetter[] = [];
    const cursors = this.#cursors;
    let progressed = true;
    while (progressed && records.length + letters.length < limit && this.#failure === undefined) {
      progressed = false;
      const active = cursors.filter((cursor) => !cursor.done);
      if (active.length === 0) break;
      const share = Math.ceil((limit - records.length - letters.length) / active.length);
      const start = this.#rotation++ % active.length;
      for (let step = 0; step < active.length; step++) {
        const room = limit - records.length - letters.length;
        if (room <= 0 || this.#failure !== undefined || signal?.aborted === true || context.signal.aborted) break;
        const before = records.length + letters.length;
        await this.#readLines(active[(start + step) % active.length]!, Math.min(share, room), records, letters, context);
        if (records.length + letters.length > before) progressed = true;
      }
      if (signal?.aborted === true || context.signal.aborted) break;
    }
    if (letters.length > 0) context.deadLetters!(letters);
    if (records.length === 0) {
      // Read again after the awaits above: a bad line under onError 'fail' sets it.
      const failure = this.#currentFailure();
      if (failure) throw failure;
      if (cursors.every((cursor) => cursor.done)) return null;
    }
    return records;
  }

  /** Records committed offsets; a later `open` of this source resumes there when the runtime gives no position. */
  commit(positions: Positions): Promise<void> {
    for (const path of this.#options.paths) {
      const offset = positions[path];
      if (offset !== undefined) this.#committed[path] = offset;
    }
    return Promise.resolve();
  }

  /** The offsets committed to this source, per file. */
  get committed(): Positions {
    return { ...this.#committed };
  }

  partitions(): readonly string[] {
    return this.#context === undefined ? [] : [...this.#options.paths];
  }

  /** Closes the files. */
  async close(): Promise<void> {
    this.#context = undefined;
    await this.#closeFiles();
  }

  async #closeFiles(): Promise<void> {
    const cursors = this.#cursors;
    this.#cursors = [];
    await Promise.allSettled(cursors.map((cursor) => cursor.handle.close()));
  }

  /** Turns up to `want` lines of one file into records or dead letters. */
  async #readLines(cursor: FileCursor, want: number, records: StreamRecord<V>[], letters: DeadLetter[], context: SourceContext): Promise<void> {
    let produced = 0;
    let now: number | undefined;
    while (produced < want && this.#failure === undefined) {
      const newline = cursor.buffer.indexOf(NEWLINE, cursor.lineStart);
      let end: number;
      if (newline !== -1) end = newline;
      else if (!cursor.eof) {
        await this.#fill(cursor);
        continue;
      } else if (cursor.lineStart < cursor.buffer.length) end = cursor.buffer.length;
      else {
        cursor.done = true;
        return;
      }
      const start = cursor.lineStart;
      cursor.lineStart = newline === -1 ? end : end + 1;
      if (cursor.discardFirstLine) {
        cursor.discardFirstLine = false;
        continue;
      }
      const offset = cursor.bufferStart + start;
      let textEnd = end;
      if (textEnd > start && cursor.buffer[textEnd - 1] === CARRIAGE_RETURN) textEnd--;
      let textStart = start;
      // A UTF-8 byte order mark may open a file; it is not part of the JSON.
      if (offset === 0 && textEnd - start >= 3 && cursor.buffer[0] === 0xef && cursor.buffer[1] === 0xbb && cursor.buffer[2] === 0xbf) textStart += 3;
      const text = cursor.buffer.toString('utf8', textStart, textEnd);
      if (text.trim().length === 0) continue;
      produced++;
      now ??= context.clock.now();
      let value: V;
      try {
        value = JSON.parse(text) as V;
      } catch (error) {
        this.#reject(cursor.path, offset, text, text, error, 'is not valid JSON', letters, context, now);
        continue;
      }
      try {
        const eventTime = this.#options.eventTime === undefined ? now : this.#options.eventTime(value);
        if (!Number.isFinite(eventTime)) throw new RangeError(`eventTime returned ${String(eventTime)}; it must be a finite number of ms since the epoch`);
        const key = this.#options.key === undefined ? null : this.#options.key(value);
        if (key !== null && typeof key !== 'string') throw new TypeError(`key returned ${typeof key}; it must be a string or null`);
        records.push({ key, value, eventTime, position: { partition: cursor.path, offset }, headers: noHeaders });
      } catch (error) {
        this.#reject(cursor.path, offset, value, text, error, 'could not be keyed or timed', letters, context, now);
      }
    }
  }

  #currentFailure(): NdjsonParseError | undefined {
    return this.#failure;
  }

  /** Reads the next chunk of a file, keeping the unfinished line. */
  async #fill(cursor: FileCursor): Promise<void> {
    const chunk = Buffer.allocUnsafe(this.#options.readBufferBytes);
    const { bytesRead } = await cursor.handle.read(chunk, 0, chunk.length, cursor.readPosition);
    if (bytesRead === 0) {
      cursor.eof = true;
      return;
    }
    cursor.readPosition += bytesRead;
    const rest = cursor.buffer.subarray(cursor.lineStart);
    cursor.bufferStart += cursor.lineStart;
    cursor.buffer = rest.length === 0 ? chunk.subarray(0, bytesRead) : Buffer.concat([rest, chunk.subarray(0, bytesRead)]);
    cursor.lineStart = 0;
  }

  #reject(file: string, offset: number, value: unknown, text: string, cause: unknown, what: string, letters: DeadLetter[], context: SourceContext, now: number): void {
    const quoted = text.length > MAX_QUOTED_LINE ? `${text.slice(0, MAX_QUOTED_LINE)}…` : text;
    const reason = cause instanceof Error ? cause.message : String(cause);
    const error = new NdjsonParseError(`Line at byte ${offset} of ${file} ${what}: ${reason}. Line: ${quoted}`, { file, offset, cause });
    const policy = this.#options.onError;
    if (policy === 'dlq') {
      const record: StreamRecord<unknown> = { key: null, value, eventTime: now, position: { partition: file, offset }, headers: noHeaders };
      letters.push({ stage: this.name, error: describeError(error), record, failedAt: now });
    } else if (policy === 'skip') {
      context.logger.warn({ source: this.name, partition: file, offset, error: reason }, 'NDJSON line skipped by error policy');
    } else {
      this.#failure = error;
    }
  }
}

/**
 * A {@link Source} reading newline-delimited JSON files (one JSON value per line), Node only: import it from
 * `@tributary/core/node`.
 *
 * Each file is a partition whose id is the path as given; a record's offset is the byte offset of its line, so a
 * restart seeks straight to the resume position instead of re-reading the file. Files are read to their end (a
 * bounded source): `poll` returns `null` once every file was read.
 *
 * Bad data never stalls a file: a line that is not valid JSON (or whose `eventTime` / `key` throws) follows `onError`.
 * With `dlq` (the default) the source hands it to the runtime as a dead letter — stage: the source name; error code
 * `NDJSON_PARSE_ERROR`; record value: the line's text (or the parsed value when `eventTime` / `key` failed);
 * position: file and byte offset — through `SourceContext.deadLetters`, in the same poll. Parsed values are not
 * validated: put a `validate` step after the source to check their shape.
 *
 * @param options `path` or `paths`; `name` (default `ndjson`); `eventTime` (default: processing time); `key` (default
 *   `null`); `batchSize` (default 1000); `onError` — `dlq` (default) | `skip` | `fail`; `readBufferBytes` (default
 *   65 536)
 *
 * @example
 * ```ts
 * import { ndjsonFileSource } from '@tributary/core/node';
 *
 * const source = ndjsonFileSource<{ id: string; at: string }>({
 *   paths: ['exports/orders-1.ndjson', 'exports/orders-2.ndjson'],
 *   eventTime: (order) => Date.parse(order.at),
 *   key: (order) => order.id,
 * });
 * ```
 */
export function ndjsonFileSource<V = unknown>(options: NdjsonFileSourceOptions<V>): NdjsonFileSource<V> {
  const parsed = parseOptions(ndjsonFileSourceOptionsSchema, 'ndjsonFileSource', options);
  return new NdjsonFileSource<V>(parsed.name ?? 'ndjson', {
    paths: parsed.paths ?? [parsed.path!],
    eventTime: parsed.eventTime,
    key: parsed.key,
    batchSize: parsed.batchSize,
    onError: parsed.onError,
    readBufferBytes: parsed.readBufferBytes,
  });
}
