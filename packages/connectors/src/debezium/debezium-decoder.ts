import { z } from 'zod';
import { InvalidOptionsError } from '@tributary/core';
import type { SourcePosition } from '@tributary/core';
import { decodeBase64, decodeUtf8 } from './binary.js';
import type {
  ChangeEvent,
  ChangeSource,
  ColumnInfo,
  DebeziumRow,
  SnapshotMarker,
  TransactionInfo,
} from './change-event.js';
import {
  compileConverter,
  compileRowConverter,
  isConnectSchema,
  placeholderOf,
  SchemaMismatch,
  schemalessRowConverter,
  UnsafeInteger,
} from './connect-schema.js';
import type { ConnectSchema, ConvertOptions, Placeholder, RowConverter } from './connect-schema.js';
import { DebeziumDecodeError } from './debezium-decode-error.js';
import type { DebeziumDecodeErrorContext } from './debezium-decode-error.js';
import { parseLosslessJson } from './lossless-json.js';

/** The placeholder Debezium writes by default for a value the database did not provide (`unavailable.value.placeholder`). *
 * @example
 * ```ts
 * // The connector sets unavailable.value.placeholder=<toast>: tell the decoder too.
 * const decoder = new DebeziumDecoder({ unavailableValuePlaceholder: '<toast>' });
 * console.log(DEFAULT_UNAVAILABLE_PLACEHOLDER); // '__debezium_unavailable_value'
 * ```
 */
export const DEFAULT_UNAVAILABLE_PLACEHOLDER = '__debezium_unavailable_value';

const zodSchema = <T>() =>
  z.custom<z.ZodType<T>>((value) => typeof (value as { safeParse?: unknown } | null)?.safeParse === 'function', { message: 'must be a zod schema' });

/** The option fields shared by {@link DebeziumDecoder} and `decodeDebezium`. */
export function debeziumDecoderShape<Row, Before>() {
  return {
    /**
     * zod schema every `after` image (inserts, snapshot reads, updates) must pass; its output types `after`. A row that
     * fails is a `DEBEZIUM_ROW_INVALID` error. Columns the database did not provide (unchanged TOAST) are absent from
     * the row and, when the schema is a `z.object`, optional for the check. Default: no check, rows are `DebeziumRow`.
     */
    row: zodSchema<Row>().optional(),
    /**
     * zod schema for `before` images (updates and deletes). Default: no check, `before` is a `DebeziumRow`: under
     * PostgreSQL's `REPLICA IDENTITY DEFAULT` a delete's `before` holds only real key columns (other NOT NULL columns
     * are filled with `0` / `""` by Debezium), which a full row schema would wrongly reject. Pass the row schema when
     * before images are complete (`REPLICA IDENTITY FULL`), or a key-only schema such as `Order.pick({ id: true })`.
     */
    beforeRow: zodSchema<Before>().optional(),
    /**
     * The connector's `unavailable.value.placeholder`: the value Debezium writes for a column the database did not
     * provide. Recognised as text, as base64 bytes, and in arrays. Default `'__debezium_unavailable_value'`.
     */
    unavailableValuePlaceholder: z.string().min(1, 'must be a non-empty string').default(DEFAULT_UNAVAILABLE_PLACEHOLDER),
    /**
     * What to do with an `int64` value beyond ±2^53 that arrives as a JavaScript number (the value was parsed before
     * the decoder saw it, so its last digits are already wrong): `error` (default) — a `DEBEZIUM_UNSAFE_INTEGER`
     * error; `accept` — keep the rounded number. Raw text or bytes never lose digits: such values become `bigint`.
     */
    unsafeIntegers: z.enum(['error', 'accept']).default('error'),
  };
}

const decoderOptionsSchema = <Row, Before>() => z.strictObject(debeziumDecoderShape<Row, Before>());
const decoderOptionsSchemaInstance = decoderOptionsSchema<unknown, unknown>();

/**
 * Options of {@link DebeziumDecoder}: `row` (default none), `beforeRow` (default none), `unavailableValuePlaceholder`
 * (default `'__debezium_unavailable_value'`), `unsafeIntegers` (default `'error'`).
 *
 * @example
 * ```ts
 * const options: DebeziumDecoderOptions<Order> = { row: Order, unsafeIntegers: 'error' };
 * const decoder = new DebeziumDecoder(options);
 * ```
 *
 * @interface
 */
export type DebeziumDecoderOptions<Row = DebeziumRow, Before = DebeziumRow> = z.input<ReturnType<typeof decoderOptionsSchema<Row, Before>>>;

interface CompiledEnvelope {
  readonly before: RowConverter;
  readonly after: RowConverter;
}

interface Payload {
  readonly schema: ConnectSchema | undefined;
  readonly payload: Record<string, unknown>;
}

const rowOps = new Set(['c', 'u', 'd', 'r']);
const schemaCacheSize = 256;

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

const numberOf = (value: unknown): number | undefined =>
  typeof value === 'number' ? value : typeof value === 'bigint' ? Number(value) : undefined;
const stringOf = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/** `topic:partition@offset` of a record position, for messages and error context. */
function positionContext(at: SourcePosition | undefined): { where: string; context: DebeziumDecodeErrorContext } {
  if (at === undefined) return { where: '', context: {} };
  const match = /^(.*):(\d+)$/.exec(at.partition);
  const context: DebeziumDecodeErrorContext = match
    ? { topic: match[1]!, partition: Number(match[2]), offset: String(at.offset) }
    : { topic: at.partition, offset: String(at.offset) };
  return { where: ` at ${at.partition}@${at.offset}`, context };
}

/**
 * Decodes Debezium messages — JSON envelopes with an embedded schema (`{schema, payload}`, JsonConverter
 * `schemas.enable=true`), `payload`-only or bare envelopes (`schemas.enable=false`), tombstones, heartbeats,
 * transaction boundaries, schema changes and logical decoding messages — into typed {@link ChangeEvent}s. Logical types
 * are converted with the embedded schema (see the table in {@link ChangeEvent}'s module docs: decimals as exact
 * strings, times as ISO-8601 strings with their full precision, JSON parsed, bytes as `Uint8Array`); columns whose value
 * the database did not provide are listed in `unavailable` and left out of the row, never passed on as the placeholder.
 *
 * Values may be raw (a `string` or UTF-8 bytes, parsed here so that int64s beyond 2^53 stay exact as `bigint`) or
 * already parsed JSON. Compiled schemas are cached (by content, 256 per decoder). A decoder is synchronous and holds
 * no per-record state. Use it directly, or in a topology through `decodeDebezium`.
 *
 * @example
 * ```ts
 * const decoder = new DebeziumDecoder({ row: z.object({ id: z.number(), amount: z.string() }) });
 * const event = decoder.decode(message.value, message.key?.toString() ?? null);
 * if (event.kind === 'change' && event.op !== 'd') console.log(event.after.amount); // "1234.50"
 * ```
 */
export class DebeziumDecoder<Row = DebeziumRow, Before = DebeziumRow> {
  readonly #row: z.ZodType | undefined;
  readonly #before: z.ZodType | undefined;
  readonly #placeholder: Placeholder;
  readonly #convert: ConvertOptions;
  readonly #envelopes = new Map<string, CompiledEnvelope>();
  /** Schemas parsed from text, by that text: the same object for every message of a table. */
  readonly #schemaTexts = new Map<string, unknown>();
  /** The last few schema texts seen, newest first. */
  readonly #recentSchemas: { text: string; schema: unknown }[] = [];
  /** Compiled envelopes by schema object, so a schema from `#schemaTexts` is never serialised again. */
  readonly #envelopesBySchema = new WeakMap<object, CompiledEnvelope>();
  readonly #keys = new Map<string, (value: unknown, path: string, options: ConvertOptions) => unknown>();
  readonly #partialSchemas = new WeakMap<z.ZodType, Map<string, z.ZodType>>();

  /**
   * @param options see {@link DebeziumDecoderOptions}
   * @throws InvalidOptionsError naming the bad option
   */
  constructor(options: DebeziumDecoderOptions<Row, Before> = {}) {
    const parsed = parseDecoderOptions(options);
    this.#row = parsed.row;
    this.#before = parsed.beforeRow;
    this.#placeholder = placeholderOf(parsed.unavailableValuePlaceholder);
    this.#convert = { unsafeIntegers: parsed.unsafeIntegers };
  }

  /**
   * Decodes one message.
   *
   * @param value the Kafka record value: a JSON string, UTF-8 bytes, already parsed JSON, or `null` (a tombstone)
   * @param key the Kafka record key as a string (Debezium keys are JSON), or `null`
   * @param at where the record came from; only used to say so in errors
   * @throws DebeziumDecodeError with one of the codes of {@link DebeziumErrorCode}
   */
  decode(value: unknown, key: string | null = null, at?: SourcePosition): ChangeEvent<Row, Before> {
    const { where, context } = positionContext(at);
    const fail = (code: ConstructorParameters<typeof DebeziumDecodeError>[0], message: string, extra: DebeziumDecodeErrorContext = {}): never => {
      throw new DebeziumDecodeError(code, message, { ...context, ...extra });
    };

    let message = value;
    if (message instanceof Uint8Array) {
      const text = decodeUtf8(message);
      if (text === undefined) fail('DEBEZIUM_NOT_JSON', `Debezium value${where} is ${message.length} bytes of invalid UTF-8, not JSON. Check that the topic carries Debezium's JsonConverter output (not Avro or Protobuf).`);
      message = text;
    }
    if (typeof message === 'string') {
      try {
        message = this.#parseText(message);
      } catch (error) {
        // The SyntaxError quotes the text: kept as the cause, out of the message (messages reach logs and dead letters).
        fail('DEBEZIUM_NOT_JSON', `Debezium value${where} is ${(message as string).length} characters of text that JSON.parse rejects. Check that the topic carries Debezium's JsonConverter output (not Avro or Protobuf).`, { cause: error });
      }
    }

    const decodedKey = this.#decodeKey(key, where, context);
    if (message === null || message === undefined) return { kind: 'tombstone', key: decodedKey };
    const unwrapped = this.#unwrap(message, where, fail);
    if (unwrapped === null) return { kind: 'tombstone', key: decodedKey };
    const { schema, payload } = unwrapped;

    const op = payload.op;
    if (op !== undefined) {
      if (typeof op !== 'string' || !(rowOps.has(op) || op === 't' || op === 'm')) {
        return fail('DEBEZIUM_UNKNOWN_OP', `Debezium envelope${where} has op ${JSON.stringify(op)}; expected one of c (create), u (update), d (delete), r (snapshot read), t (truncate), m (message). Upgrade Tributary if a newer Debezium added an operation, or route this topic elsewhere.`);
      }
      const source = this.#source(payload.source, where, fail);
      const transaction = this.#transaction(payload.transaction, where, fail);
      const tsMs = numberOf(payload.ts_ms);
      if (op === 't') return { kind: 'truncate', op: 't', key: null, source, tsMs, transaction };
      if (op === 'm') return this.#message(payload, decodedKey, source, tsMs, transaction, where, fail);
      return this.#rowChange(op as 'c' | 'u' | 'd' | 'r', schema, payload, decodedKey, source, tsMs, transaction, where, fail);
    }
    if ((payload.status === 'BEGIN' || payload.status === 'END') && typeof payload.id === 'string') {
      const collections = Array.isArray(payload.data_collections) ? payload.data_collections : [];
      return {
        kind: 'transaction',
        key: decodedKey,
        status: payload.status,
        id: payload.id,
        eventCount: numberOf(payload.event_count),
        dataCollections: collections.filter(isRecord).map((entry) => ({ dataCollection: String(entry.data_collection), eventCount: numberOf(entry.event_count) ?? 0 })),
        tsMs: numberOf(payload.ts_ms),
      };
    }
    if ('ddl' in payload || 'tableChanges' in payload) {
      return {
        kind: 'schema-change',
        key: decodedKey,
        source: isRecord(payload.source) ? normaliseSource(payload.source) : undefined,
        tsMs: numberOf(payload.ts_ms),
        databaseName: stringOf(payload.databaseName),
        schemaName: stringOf(payload.schemaName),
        ddl: stringOf(payload.ddl),
        tableChanges: Array.isArray(payload.tableChanges) ? payload.tableChanges : [],
      };
    }
    const keys = Object.keys(payload);
    if (schema?.name === 'io.debezium.connector.common.Heartbeat' || (keys.length === 1 && keys[0] === 'ts_ms')) {
      const tsMs = numberOf(payload.ts_ms);
      if (tsMs === undefined) fail('DEBEZIUM_INVALID_ENVELOPE', `Debezium heartbeat${where} has no numeric ts_ms.`);
      return { kind: 'heartbeat', key: decodedKey, tsMs: tsMs! };
    }
    return fail(
      'DEBEZIUM_NO_PAYLOAD',
      `JSON value${where} is not a Debezium message: no "op" (change event), no transaction "status", no "ddl" and not a heartbeat; its fields are ${preview(keys.join(', '))}. ` +
        'Check that this topic is written by a Debezium connector (and not by an SMT such as ExtractNewRecordState, which removes the envelope).',
    );
  }

  /** `{schema, payload}` / `{payload}` / bare envelope -> schema and payload; `null` for a null payload (tombstone). */
  #unwrap(message: unknown, where: string, fail: (code: 'DEBEZIUM_NO_PAYLOAD', message: string) => never): Payload | null {
    if (!isRecord(message)) {
      return fail('DEBEZIUM_NO_PAYLOAD', `Debezium value${where} is ${Array.isArray(message) ? 'a JSON array' : `a JSON ${typeof message}`}, not an object with a payload.`);
    }
    let schema: ConnectSchema | undefined;
    let payload: unknown = message;
    if ('payload' in message && ('schema' in message || Object.keys(message).length === 1)) {
      schema = isConnectSchema(message.schema) ? message.schema : undefined;
      payload = message.payload;
      if (payload === null || payload === undefined) return null;
    }
    if (!isRecord(payload)) {
      return fail('DEBEZIUM_NO_PAYLOAD', `Debezium value${where} has a payload that is ${Array.isArray(payload) ? 'an array' : typeof payload}, not an envelope object.`);
    }
    return { schema, payload };
  }

  #rowChange(
    op: 'c' | 'u' | 'd' | 'r',
    schema: ConnectSchema | undefined,
    payload: Record<string, unknown>,
    key: DebeziumRow | null,
    source: ChangeSource,
    tsMs: number | undefined,
    transaction: TransactionInfo | undefined,
    where: string,
    fail: (code: 'DEBEZIUM_INVALID_ENVELOPE' | 'DEBEZIUM_SCHEMA_MISMATCH' | 'DEBEZIUM_UNSAFE_INTEGER' | 'DEBEZIUM_ROW_INVALID', message: string, extra?: DebeziumDecodeErrorContext) => never,
  ): ChangeEvent<Row, Before> {
    const table = source.table === undefined ? '' : ` of ${[source.schema ?? source.db, source.table].filter(Boolean).join('.')}`;
    const rawBefore = payload.before ?? null;
    const rawAfter = payload.after ?? null;
    if (op === 'd' ? rawAfter !== null : rawAfter === null) {
      fail('DEBEZIUM_INVALID_ENVELOPE', `Debezium ${opName(op)} event${table}${where} ${op === 'd' ? 'has an after image' : 'has no after image'}; a delete carries only "before", every other row change carries "after".`);
    }
    if ((op === 'c' || op === 'r') && rawBefore !== null) {
      fail('DEBEZIUM_INVALID_ENVELOPE', `Debezium ${opName(op)} event${table}${where} has a before image; inserts and snapshot reads carry only "after".`);
    }
    let envelope: CompiledEnvelope;
    try {
      envelope = schema === undefined ? { before: schemalessRowConverter, after: schemalessRowConverter } : this.#compileEnvelope(schema);
    } catch (error) {
      return fail('DEBEZIUM_SCHEMA_MISMATCH', `Debezium event${table}${where} has an embedded schema Tributary cannot read: ${(error as Error).message}.`, { cause: error });
    }
    const convert = (image: 'before' | 'after', raw: unknown) => {
      if (raw === null) return { row: null, unavailable: [] as readonly string[] };
      try {
        return envelope[image].convert(raw, image, this.#convert, this.#placeholder);
      } catch (error) {
        if (error instanceof UnsafeInteger) {
          return fail(
            'DEBEZIUM_UNSAFE_INTEGER',
            `Debezium ${opName(op)} event${table}${where}: ${error.message}, so the stored value is unknown. ` +
              'Hand the decoder the raw record value (string or bytes) so it can keep such integers exact as bigint, or set unsafeIntegers: "accept" to keep rounded numbers.',
            { cause: error },
          );
        }
        if (error instanceof SchemaMismatch) {
          return fail('DEBEZIUM_SCHEMA_MISMATCH', `Debezium ${opName(op)} event${table}${where} does not match its embedded schema: ${error.message}.`, { cause: error, issues: [error.message] });
        }
        throw error;
      }
    };
    const before = convert('before', rawBefore);
    const after = convert('after', rawAfter);
    const beforeRow = before.row === null || this.#before === undefined ? before.row : this.#validate(this.#before, before.row, before.unavailable, 'before', op, table, where, fail);
    const afterRow = after.row === null || this.#row === undefined ? after.row : this.#validate(this.#row, after.row, after.unavailable, 'after', op, table, where, fail);
    const columns: readonly ColumnInfo[] | undefined = envelope.after.columns ?? envelope.before.columns;
    return {
      kind: 'change',
      op,
      key,
      before: beforeRow,
      after: afterRow,
      source,
      tsMs,
      transaction,
      unavailable: after.unavailable,
      unavailableBefore: before.unavailable,
      columns,
    } as ChangeEvent<Row, Before>;
  }

  #validate(
    schema: z.ZodType,
    row: Record<string, unknown>,
    unavailable: readonly string[],
    image: 'before' | 'after',
    op: string,
    table: string,
    where: string,
    fail: (code: 'DEBEZIUM_ROW_INVALID', message: string, extra?: DebeziumDecodeErrorContext) => never,
  ): unknown {
    const effective = unavailable.length === 0 ? schema : this.#partialFor(schema, unavailable);
    const result = effective.safeParse(row);
    if (result.success) return result.data;
    const issues = result.error.issues.map((issue) => `${[image, ...issue.path.map(String)].join('.')}: ${issue.message}`);
    return fail(
      'DEBEZIUM_ROW_INVALID',
      `Debezium ${opName(op)} event${table}${where} has a ${image} row that fails the ${image === 'after' ? 'row' : 'beforeRow'} schema: ${issues.join('; ')}. ` +
        'Fix the schema if the database really holds such rows.',
      { cause: result.error, issues },
    );
  }

  /** The row schema with the unavailable columns optional (z.object only; other schemas are used as they are). */
  #partialFor(schema: z.ZodType, unavailable: readonly string[]): z.ZodType {
    if (!(schema instanceof z.ZodObject)) return schema;
    let bySet = this.#partialSchemas.get(schema);
    if (!bySet) this.#partialSchemas.set(schema, (bySet = new Map<string, z.ZodType>()));
    const id = unavailable.join('\u0000');
    let partial = bySet.get(id);
    if (!partial) {
      const shape = (schema).shape as Record<string, unknown>;
      const mask = Object.fromEntries(unavailable.filter((column) => column in shape).map((column) => [column, true as const]));
      partial = (schema).partial(mask as never);
      bySet.set(id, partial);
    }
    return partial;
  }

  /**
   * Parses a message's text. JsonConverter writes `{"schema":…,"payload":…}` with the schema first, and the schema —
   * most of the text — repeats in every message of a table: its text is cut out and looked up, so only the payload is
   * parsed. The cut is at the first `,"payload":` (inside a JSON string those quotes would be escaped); if that is a key
   * within the schema (a parameter named `payload`), the schema part is not valid JSON on its own and the whole text is
   * parsed instead.
   */
  #parseText(text: string): unknown {
    const cut = text.startsWith('{"schema":') ? text.indexOf(',"payload":') : -1;
    if (cut > 0 && text.endsWith('}')) {
      // Most messages repeat one of the last schemas seen: compared in place, without slicing or hashing 5+ kB.
      let schema = this.#recentSchemas.find((recent) => recent.text.length === cut - 10 && text.startsWith(recent.text, 10))?.schema;
      const schemaText = schema === undefined ? text.slice(10, cut) : '';
      if (schema === undefined) schema = this.#schemaTexts.get(schemaText);
      if (schema === undefined) {
        try {
          schema = parseLosslessJson(schemaText);
        } catch {
          return parseLosslessJson(text);
        }
        remember(this.#schemaTexts, schemaText, schema);
      }
      if (schemaText !== '') {
        this.#recentSchemas.unshift({ text: schemaText, schema });
        this.#recentSchemas.length = Math.min(this.#recentSchemas.length, 4);
      }
      return { schema, payload: parseLosslessJson(text.slice(cut + 11, -1)) };
    }
    return parseLosslessJson(text);
  }

  #compileEnvelope(schema: ConnectSchema): CompiledEnvelope {
    const known = this.#envelopesBySchema.get(schema);
    if (known) return known;
    const id = JSON.stringify(schema);
    const cached = this.#envelopes.get(id);
    if (cached) {
      this.#envelopesBySchema.set(schema, cached);
      return cached;
    }
    const fields = schema.type === 'struct' ? (schema.fields ?? []) : [];
    const afterSchema = fields.find((field) => field.field === 'after');
    const beforeSchema = fields.find((field) => field.field === 'before');
    const after = afterSchema ? compileRowConverter(afterSchema) : schemalessRowConverter;
    const before = beforeSchema ? (JSON.stringify(beforeSchema) === JSON.stringify(afterSchema) ? after : compileRowConverter(beforeSchema)) : schemalessRowConverter;
    const compiled = { before, after };
    remember(this.#envelopes, id, compiled);
    this.#envelopesBySchema.set(schema, compiled);
    return compiled;
  }

  #decodeKey(key: string | null, where: string, context: DebeziumDecodeErrorContext): DebeziumRow | null {
    if (key === null) return null;
    let parsed: unknown;
    try {
      parsed = parseLosslessJson(key);
    } catch {
      return null;
    }
    if (!isRecord(parsed)) return null;
    if (!('payload' in parsed && 'schema' in parsed)) return parsed;
    const payload = parsed.payload;
    if (!isRecord(payload)) return null;
    if (!isConnectSchema(parsed.schema)) return payload;
    const id = JSON.stringify(parsed.schema);
    let convert = this.#keys.get(id);
    try {
      if (!convert) remember(this.#keys, id, (convert = compileConverter(parsed.schema)));
      return convert(payload, 'key', this.#convert) as DebeziumRow;
    } catch (error) {
      const code = error instanceof UnsafeInteger ? 'DEBEZIUM_UNSAFE_INTEGER' : 'DEBEZIUM_SCHEMA_MISMATCH';
      throw new DebeziumDecodeError(code, `Debezium record key${where} does not match its embedded schema: ${(error as Error).message}.`, {
        ...context,
        cause: error,
      });
    }
  }

  #source(raw: unknown, where: string, fail: (code: 'DEBEZIUM_INVALID_ENVELOPE', message: string) => never): ChangeSource {
    if (!isRecord(raw)) return fail('DEBEZIUM_INVALID_ENVELOPE', `Debezium envelope${where} has no "source" block; every change event names its connector, table and log position there.`);
    const source = normaliseSource(raw);
    if (Number.isNaN(source.tsMs)) fail('DEBEZIUM_INVALID_ENVELOPE', `Debezium envelope${where} has a source block without a numeric ts_ms.`);
    return source;
  }

  #transaction(raw: unknown, where: string, fail: (code: 'DEBEZIUM_INVALID_ENVELOPE', message: string) => never): TransactionInfo | undefined {
    if (raw === null || raw === undefined) return undefined;
    if (isRecord(raw) && typeof raw.id === 'string') {
      const totalOrder = numberOf(raw.total_order);
      const dataCollectionOrder = numberOf(raw.data_collection_order);
      if (totalOrder !== undefined && dataCollectionOrder !== undefined) return { id: raw.id, totalOrder, dataCollectionOrder };
    }
    return fail('DEBEZIUM_INVALID_ENVELOPE', `Debezium envelope${where} has a transaction block without a string id and numeric total_order and data_collection_order.`);
  }

  #message(
    payload: Record<string, unknown>,
    key: DebeziumRow | null,
    source: ChangeSource,
    tsMs: number | undefined,
    transaction: TransactionInfo | undefined,
    where: string,
    fail: (code: 'DEBEZIUM_INVALID_ENVELOPE', message: string) => never,
  ): ChangeEvent<Row, Before> {
    const message = payload.message;
    const content = isRecord(message) && typeof message.content === 'string' ? decodeBase64(message.content) : isRecord(message) && message.content === null ? new Uint8Array() : undefined;
    if (!isRecord(message) || typeof message.prefix !== 'string' || content === undefined) {
      return fail('DEBEZIUM_INVALID_ENVELOPE', `Debezium message event (op m)${where} has no "message" block with a prefix and base64 content.`);
    }
    return { kind: 'message', op: 'm', key, source, tsMs, transaction, prefix: message.prefix, content };
  }
}

function parseDecoderOptions(options: unknown) {
  const result = decoderOptionsSchemaInstance.safeParse(options);
  if (result.success) return result.data;
  throw new InvalidOptionsError(
    'DebeziumDecoder',
    result.error.issues.map((issue) => `${issue.path.length > 0 ? issue.path.map(String).join('.') : '(options)'}: ${issue.message}`),
  );
}

function remember<V>(cache: Map<string, V>, id: string, value: V): void {
  if (cache.size >= schemaCacheSize) cache.delete(cache.keys().next().value!);
  cache.set(id, value);
}

const opName = (op: string): string => ({ c: 'create', u: 'update', d: 'delete', r: 'snapshot read' })[op] ?? op;

function preview(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}

const snapshotMarkers: Record<string, SnapshotMarker> = {
  true: 'in_progress',
  first: 'first',
  first_in_data_collection: 'first_in_data_collection',
  last_in_data_collection: 'last_in_data_collection',
  last: 'last',
  incremental: 'incremental',
};

/** PostgreSQL's `sequence`: two decimal LSNs as strings, either of them possibly null. */
const LSN_PAIR = /^\[(?:null|"(\d+)"),(?:null|"(\d+)")\]$/;

/** Any other `sequence` text that is a JSON pair; `undefined` when it is not (it stays in `raw` only). */
function parseSequence(text: string): [string | null, string | null] | undefined {
  try {
    const sequence = JSON.parse(text) as unknown;
    if (Array.isArray(sequence) && sequence.length === 2) return [sequence[0] === null ? null : String(sequence[0]), sequence[1] === null ? null : String(sequence[1])];
  } catch {
    // Not PostgreSQL's [lastCommitLsn, lsn] pair.
  }
  return undefined;
}

/** Normalises a `source` block: common fields, then the log position of whichever flavour sent it. */
export function normaliseSource(raw: Record<string, unknown>): ChangeSource {
  const snapshotValue = raw.snapshot;
  const snapshotText = typeof snapshotValue === 'boolean' ? String(snapshotValue) : typeof snapshotValue === 'string' ? snapshotValue : 'false';
  const snapshotMarker = snapshotMarkers[snapshotText];
  const source: { -readonly [K in keyof ChangeSource]: ChangeSource[K] } = {
    connector: stringOf(raw.connector) ?? 'unknown',
    name: stringOf(raw.name) ?? '',
    version: stringOf(raw.version),
    db: stringOf(raw.db),
    schema: stringOf(raw.schema) || undefined,
    table: stringOf(raw.table) || stringOf(raw.collection) || undefined,
    tsMs: numberOf(raw.ts_ms) ?? Number.NaN,
    tsUs: numberOf(raw.ts_us),
    snapshot: snapshotMarker !== undefined,
    snapshotMarker,
    raw,
  };
  const lsn = numberOf(raw.lsn);
  if (lsn !== undefined) source.lsn = lsn;
  if (typeof raw.txId === 'number' || typeof raw.txId === 'string') source.txId = raw.txId;
  else if (typeof raw.txId === 'bigint') source.txId = raw.txId.toString();
  if (typeof raw.sequence === 'string') {
    // PostgreSQL sends `["<lastCommitLsn>","<lsn>"]` with every event: the regular expression reads that form about
    // 7x faster than JSON.parse (0.1 vs 0.75 µs measured), which showed in the decoder's profile.
    const pair = LSN_PAIR.exec(raw.sequence);
    const sequence = pair === null ? parseSequence(raw.sequence) : ([pair[1] ?? null, pair[2] ?? null] as const);
    if (sequence !== undefined) source.sequence = sequence;
  }
  if (typeof raw.file === 'string') source.file = raw.file;
  const pos = numberOf(raw.pos);
  if (pos !== undefined) source.pos = pos;
  const row = numberOf(raw.row);
  if (row !== undefined) source.row = row;
  if (typeof raw.gtid === 'string') source.gtid = raw.gtid;
  const serverId = numberOf(raw.server_id);
  if (serverId !== undefined) source.serverId = serverId;
  const thread = numberOf(raw.thread);
  if (thread !== undefined) source.thread = thread;
  if (typeof raw.query === 'string') source.query = raw.query;
  if (typeof raw.change_lsn === 'string') source.changeLsn = raw.change_lsn;
  if (typeof raw.commit_lsn === 'string') source.commitLsn = raw.commit_lsn;
  const serial = numberOf(raw.event_serial_no);
  if (serial !== undefined) source.eventSerialNo = serial;
  if (typeof raw.scn === 'string') source.scn = raw.scn;
  if (typeof raw.commit_scn === 'string') source.commitScn = raw.commit_scn;
  return source;
}
