/**
 * Kafka Connect JSON schemas (JsonConverter `schemas.enable=true`) compiled into value converters.
 * @module
 */
import { decodeBase64, encodeBase64, encodeUtf8, decodeHex } from './binary.js';
import type { ColumnInfo } from './change-event.js';
import {
  formatDecimal,
  formatEpochDay,
  formatEpochTimestamp,
  formatNumericDecimal,
  formatTimeOfDay,
  twosComplementToBigInt,
} from './logical-types.js';
import { parseLosslessJson } from './lossless-json.js';

/** A Kafka Connect schema as JsonConverter writes it. */
export interface ConnectSchema {
  readonly type: string;
  readonly optional?: boolean;
  readonly name?: string;
  readonly version?: number;
  readonly parameters?: Readonly<Record<string, string>>;
  readonly field?: string;
  readonly fields?: readonly ConnectSchema[];
  readonly items?: ConnectSchema;
  readonly keys?: ConnectSchema;
  readonly values?: ConnectSchema;
}

/** A value disagreed with its schema; `path` names where. */
export class SchemaMismatch extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path}: ${problem}`);
  }
}

/** A int64 beyond ±2^53 reached us as a rounded JavaScript number. */
export class UnsafeInteger extends Error {
  constructor(
    readonly path: string,
    readonly value: number,
  ) {
    super(`${path}: an int64 beyond ±2^53 reached the decoder as a JavaScript number, rounded when it was parsed`);
  }
}

/** How a conversion runs. */
export interface ConvertOptions {
  /** What to do with an int64 number beyond ±2^53: `error` throws {@link UnsafeInteger}, `accept` keeps the number. */
  readonly unsafeIntegers: 'error' | 'accept';
}

type Converter = (value: unknown, path: string, options: ConvertOptions) => unknown;

/**
 * What a value is, for error messages: its type and size, never its content (row values may be personal data, and
 * error messages reach logs and dead letters).
 */
const describe = (value: unknown): string => {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'string') return `a string of ${value.length} characters`;
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : Number.isFinite(value) ? 'a fractional number' : String(value);
  if (typeof value === 'bigint') return 'an integer beyond 2^53';
  return `a ${typeof value}`;
};

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Wraps RangeError / TypeError from a logical conversion as a mismatch at `path`. */
function guarded(convert: (value: unknown, path: string, options: ConvertOptions) => unknown): Converter {
  return (value, path, options) => {
    try {
      return convert(value, path, options);
    } catch (error) {
      if (error instanceof SchemaMismatch || error instanceof UnsafeInteger) throw error;
      throw new SchemaMismatch(path, error instanceof Error ? error.message : String(error));
    }
  };
}

function integer(value: unknown, path: string, type: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new SchemaMismatch(path, `expected an integer (${type}), got ${describe(value)}`);
  return value;
}

/** int64 as number, or bigint when it came exact from raw text. */
function int64(value: unknown, path: string, options: ConvertOptions): number | bigint {
  if (typeof value === 'bigint') return value;
  const number = integer(value, path, 'int64');
  if (!Number.isSafeInteger(number) && options.unsafeIntegers === 'error') throw new UnsafeInteger(path, number);
  return number;
}

function floating(value: unknown, path: string): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  // Jackson writes non-finite doubles as strings.
  if (value === 'NaN') return Number.NaN;
  if (value === 'Infinity') return Number.POSITIVE_INFINITY;
  if (value === '-Infinity') return Number.NEGATIVE_INFINITY;
  throw new SchemaMismatch(path, `expected a number (float/double), got ${describe(value)}`);
}

function bytes(value: unknown, path: string): Uint8Array {
  if (typeof value !== 'string') throw new SchemaMismatch(path, `expected base64 text (bytes), got ${describe(value)}`);
  const decoded = decodeBase64(value);
  if (decoded === undefined) throw new SchemaMismatch(path, `expected base64 text (bytes), got ${describe(value)}`);
  return decoded;
}

function scaleOf(schema: ConnectSchema, path: string): number {
  const scale = Number(schema.parameters?.scale ?? 0);
  if (!Number.isInteger(scale)) throw new SchemaMismatch(path, `Decimal schema has scale parameter ${JSON.stringify(schema.parameters?.scale)}`);
  return scale;
}

const DECIMAL = 'org.apache.kafka.connect.data.Decimal';

/** Converters for logical types, by schema name. Each receives a non-null value. */
const logical: Record<string, (schema: ConnectSchema) => Converter> = {
  [DECIMAL]: (schema) => {
    const scale = scaleOf(schema, schema.field ?? '(value)');
    return guarded((value, path) => {
      if (typeof value === 'string') return formatDecimal(twosComplementToBigInt(bytes(value, path)), scale);
      // decimal.format=NUMERIC
      if (typeof value === 'number' || typeof value === 'bigint') return formatNumericDecimal(value, scale);
      throw new SchemaMismatch(path, `expected base64 unscaled bytes or a number (Decimal), got ${describe(value)}`);
    });
  },
  'io.debezium.data.VariableScaleDecimal': () =>
    guarded((value, path) => {
      if (!isRecord(value)) throw new SchemaMismatch(path, `expected {scale, value} (VariableScaleDecimal), got ${describe(value)}`);
      const scale = integer(value.scale, `${path}.scale`, 'int32');
      return formatDecimal(twosComplementToBigInt(bytes(value.value, `${path}.value`)), scale);
    }),
  'io.debezium.time.Date': () => guarded((value, path) => formatEpochDay(integer(value, path, 'io.debezium.time.Date'))),
  'org.apache.kafka.connect.data.Date': () => guarded((value, path) => formatEpochDay(integer(value, path, 'Date'))),
  'io.debezium.time.Time': () => guarded((value, path) => formatTimeOfDay(integer(value, path, 'io.debezium.time.Time'), 1_000)),
  'org.apache.kafka.connect.data.Time': () => guarded((value, path) => formatTimeOfDay(integer(value, path, 'Time'), 1_000)),
  'io.debezium.time.MicroTime': () => guarded((value, path, options) => formatTimeOfDay(int64(value, path, options), 1_000_000)),
  'io.debezium.time.NanoTime': () => guarded((value, path, options) => formatTimeOfDay(int64(value, path, options), 1_000_000_000)),
  'io.debezium.time.Timestamp': () => guarded((value, path, options) => formatEpochTimestamp(int64(value, path, options), 1)),
  'org.apache.kafka.connect.data.Timestamp': () => guarded((value, path, options) => formatEpochTimestamp(int64(value, path, options), 1)),
  'io.debezium.time.MicroTimestamp': () => guarded((value, path, options) => formatEpochTimestamp(int64(value, path, options), 1_000)),
  'io.debezium.time.NanoTimestamp': () => guarded((value, path, options) => formatEpochTimestamp(int64(value, path, options), 1_000_000)),
  'io.debezium.data.Json': () =>
    guarded((value, path) => {
      if (typeof value !== 'string') throw new SchemaMismatch(path, `expected JSON text (io.debezium.data.Json), got ${describe(value)}`);
      try {
        return parseLosslessJson(value);
      } catch {
        throw new SchemaMismatch(path, `io.debezium.data.Json value is not JSON: ${describe(value)}`);
      }
    }),
};

/** Compiles the converter of one schema (null handling included). */
export function compileConverter(schema: ConnectSchema): Converter {
  const convert = compileNonNull(schema);
  return (value, path, options) => (value === null || value === undefined ? null : convert(value, path, options));
}

function compileNonNull(schema: ConnectSchema): Converter {
  const byName = schema.name === undefined ? undefined : logical[schema.name];
  if (byName) return byName(schema);
  switch (schema.type) {
    case 'int8':
    case 'int16':
    case 'int32':
      return (value, path) => integer(value, path, schema.type);
    case 'int64':
      return int64;
    case 'float':
    case 'float32':
    case 'double':
    case 'float64':
      return floating;
    case 'boolean':
      return (value, path) => {
        if (typeof value !== 'boolean') throw new SchemaMismatch(path, `expected a boolean, got ${describe(value)}`);
        return value;
      };
    case 'string':
      return (value, path) => {
        if (typeof value !== 'string') throw new SchemaMismatch(path, `expected a string, got ${describe(value)}`);
        return value;
      };
    case 'bytes':
      return bytes;
    case 'array': {
      const item = schema.items ? compileConverter(schema.items) : (value: unknown) => value;
      return (value, path, options) => {
        if (!Array.isArray(value)) throw new SchemaMismatch(path, `expected an array, got ${describe(value)}`);
        return value.map((element, index) => item(element, `${path}[${index}]`, options));
      };
    }
    case 'map': {
      const keyOf = schema.keys ? compileConverter(schema.keys) : (value: unknown) => value;
      const valueOf = schema.values ? compileConverter(schema.values) : (value: unknown) => value;
      return (value, path, options) => {
        // JsonConverter writes string-keyed maps as objects and other maps as [key, value] pairs.
        if (isRecord(value)) {
          const out: Record<string, unknown> = {};
          for (const [key, entry] of Object.entries(value)) out[key] = valueOf(entry, `${path}.${key}`, options);
          return out;
        }
        if (Array.isArray(value)) {
          return new Map(
            value.map((pair, index) => {
              if (!Array.isArray(pair) || pair.length !== 2) throw new SchemaMismatch(`${path}[${index}]`, `expected a [key, value] pair, got ${describe(pair)}`);
              return [keyOf(pair[0], `${path}[${index}][0]`, options), valueOf(pair[1], `${path}[${index}][1]`, options)];
            }),
          );
        }
        throw new SchemaMismatch(path, `expected a map, got ${describe(value)}`);
      };
    }
    case 'struct': {
      const fields = (schema.fields ?? []).map((field) => ({ name: field.field ?? '', convert: compileConverter(field) }));
      return (value, path, options) => {
        if (!isRecord(value)) throw new SchemaMismatch(path, `expected a struct, got ${describe(value)}`);
        const out: Record<string, unknown> = {};
        for (const field of fields) out[field.name] = field.convert(value[field.name], `${path}.${field.name}`, options);
        return out;
      };
    }
    default:
      throw new SchemaMismatch(schema.field ?? '(value)', `unknown Kafka Connect schema type ${JSON.stringify(schema.type)}`);
  }
}

/** A row image converted: the row without its unavailable columns, and their names. */
export interface ConvertedRow {
  readonly row: Record<string, unknown>;
  readonly unavailable: readonly string[];
}

/** Recognises the value Debezium writes for a column whose value the database did not provide. */
export interface Placeholder {
  readonly text: string;
  readonly base64: string;
  readonly codes: readonly number[];
}

/**
 * The placeholder in the forms Debezium writes it: as text (text, varchar, json, xml, uuid...), as base64 of its bytes
 * (bytea), as a one-element text array (text[]), and as the array of its byte values (int[] and other numeric arrays).
 * A placeholder starting `hex:` names its bytes in hex, as Debezium's `unavailable.value.placeholder` allows.
 */
export function placeholderOf(text: string): Placeholder {
  const bytes = text.startsWith('hex:') ? (decodeHex(text.slice(4)) ?? encodeUtf8(text)) : encodeUtf8(text);
  return { text, base64: encodeBase64(bytes), codes: [...bytes] };
}

type PlaceholderForm = 'text' | 'base64' | 'text-array' | 'code-array' | 'any' | 'none';

/** Which form of the placeholder a column of this schema can carry. */
function placeholderForm(schema: ConnectSchema): PlaceholderForm {
  switch (schema.type) {
    case 'string':
      return 'text';
    case 'bytes':
      return 'base64';
    case 'array':
      if (schema.items?.type === 'string') return 'text-array';
      if (schema.items?.type.startsWith('int')) return 'code-array';
      return 'none';
    default:
      return 'none';
  }
}

function isPlaceholder(value: unknown, placeholder: Placeholder, form: PlaceholderForm): boolean {
  switch (form) {
    case 'none':
      return false;
    case 'text':
      return value === placeholder.text;
    case 'base64':
      return value === placeholder.base64;
    case 'text-array':
      return Array.isArray(value) && value.length === 1 && value[0] === placeholder.text;
    case 'code-array':
      return isCodeArray(value, placeholder.codes);
    case 'any':
      return (
        value === placeholder.text ||
        value === placeholder.base64 ||
        (Array.isArray(value) && value.length === 1 && value[0] === placeholder.text) ||
        isCodeArray(value, placeholder.codes)
      );
  }
}

function isCodeArray(value: unknown, codes: readonly number[]): boolean {
  if (!Array.isArray(value) || value.length !== codes.length || codes.length === 0) return false;
  for (let i = 0; i < codes.length; i++) if (value[i] !== codes[i]) return false;
  return true;
}

/** Converts row images of one struct schema. */
export interface RowConverter {
  readonly columns: readonly ColumnInfo[] | undefined;
  convert(value: unknown, path: string, options: ConvertOptions, placeholder: Placeholder): ConvertedRow;
}

/** Compiles a row converter for a struct schema. */
export function compileRowConverter(schema: ConnectSchema): RowConverter {
  if (schema.type !== 'struct') throw new SchemaMismatch(schema.field ?? '(row)', `a row image must be a struct, the schema says ${JSON.stringify(schema.type)}`);
  const fields = (schema.fields ?? []).map((field) => ({ name: field.field ?? '', convert: compileConverter(field), form: placeholderForm(field) }));
  const columns = (schema.fields ?? []).map(
    (field): ColumnInfo => ({
      name: field.field ?? '',
      type: field.type,
      logicalType: field.name,
      optional: field.optional ?? false,
      parameters: field.parameters,
    }),
  );
  return {
    columns,
    convert(value, path, options, placeholder) {
      if (!isRecord(value)) throw new SchemaMismatch(path, `expected a row object, got ${describe(value)}`);
      const row: Record<string, unknown> = {};
      let unavailable: string[] | undefined;
      for (const field of fields) {
        const raw = value[field.name];
        if (raw !== null && raw !== undefined && isPlaceholder(raw, placeholder, field.form)) {
          (unavailable ??= []).push(field.name);
          continue;
        }
        row[field.name] = field.convert(raw, `${path}.${field.name}`, options);
      }
      return { row, unavailable: unavailable ?? [] };
    },
  };
}

/** Row images without a schema: values pass through as JSON gave them; placeholders are still recognised. */
export const schemalessRowConverter: RowConverter = {
  columns: undefined,
  convert(value, path, _options, placeholder) {
    if (!isRecord(value)) throw new SchemaMismatch(path, `expected a row object, got ${describe(value)}`);
    const row: Record<string, unknown> = {};
    let unavailable: string[] | undefined;
    for (const [name, raw] of Object.entries(value)) {
      if (raw !== null && raw !== undefined && isPlaceholder(raw, placeholder, 'any')) (unavailable ??= []).push(name);
      else row[name] = raw;
    }
    return { row, unavailable: unavailable ?? [] };
  },
};

/** Whether `value` looks like a Connect schema. */
export function isConnectSchema(value: unknown): value is ConnectSchema {
  return isRecord(value) && typeof value.type === 'string';
}
