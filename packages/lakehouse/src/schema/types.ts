/**
 * The Iceberg type system, in the exact JSON shape of the table-metadata file (spec "Appendix C: JSON serialization"),
 * so a schema is written to metadata as it is and read back without translation.
 *
 * ## Values in rows
 *
 * Rows handed to a writer and rows read back use these JavaScript values per Iceberg type:
 *
 * | Iceberg type | written as | read back as |
 * |---|---|---|
 * | `boolean` | `boolean` | `boolean` |
 * | `int` | `number` (32-bit integer) | `number` |
 * | `long` | `number` (safe integer) or `bigint` | `bigint` |
 * | `float`, `double` | `number` (NaN allowed) | `number` |
 * | `decimal(P, S)` | `string` (`"12.30"`), `number` (the decimal value, `12.3`) or `bigint` (the unscaled value, `1230n`) | `string` with exactly S decimals |
 * | `date` | `string` `YYYY-MM-DD`, `Date` (UTC day) or `number` (days since 1970-01-01) | `string` `YYYY-MM-DD` |
 * | `time` | `string` `HH:MM:SS[.ffffff]` or `bigint` (microseconds of the day) | `string` `HH:MM:SS.ffffff` |
 * | `timestamp`, `timestamptz` | `Date`, ISO-8601 `string`, or `bigint` (microseconds since the epoch) | `Date` (millisecond precision; Arrow reads keep microseconds) |
 * | `string` | `string` | `string` |
 * | `uuid` | `string` (canonical 8-4-4-4-12 form) | `string` |
 * | `binary`, `fixed[L]` | `Uint8Array` | `Uint8Array` |
 *
 * `null` or `undefined` means null; a null in a `required` field is a schema violation.
 *
 * @module
 */

/** Iceberg primitive types, spelled as in table metadata. */
export type PrimitiveType =
  | 'boolean'
  | 'int'
  | 'long'
  | 'float'
  | 'double'
  | 'date'
  | 'time'
  | 'timestamp'
  | 'timestamptz'
  | 'string'
  | 'uuid'
  | 'binary'
  | `decimal(${number}, ${number})`
  | `fixed[${number}]`;

/**
 * A struct: an ordered list of fields, each with a table-unique id.
 *
 * @example
 * ```ts
 * const address: StructType = { type: 'struct', fields: [{ id: 7, name: 'city', required: false, type: 'string' }] };
 * ```
 */
export interface StructType {
  readonly type: 'struct';
  readonly fields: readonly NestedField[];
}

/**
 * A list whose element has its own field id.
 *
 * @example
 * ```ts
 * const tags: ListType = { type: 'list', 'element-id': 9, element: 'string', 'element-required': false };
 * ```
 */
export interface ListType {
  readonly type: 'list';
  readonly 'element-id': number;
  readonly element: IcebergType;
  readonly 'element-required': boolean;
}

/**
 * A map whose key and value have their own field ids.
 *
 * @example
 * ```ts
 * const attributes: MapType = { type: 'map', 'key-id': 10, key: 'string', 'value-id': 11, value: 'string', 'value-required': false };
 * ```
 */
export interface MapType {
  readonly type: 'map';
  readonly 'key-id': number;
  readonly key: IcebergType;
  readonly 'value-id': number;
  readonly value: IcebergType;
  readonly 'value-required': boolean;
}

/** Any Iceberg type. */
export type IcebergType = PrimitiveType | StructType | ListType | MapType;

/**
 * One field of a struct. `id` is unique in the table and never reused: renames and reorders keep it, which is how
 * readers match columns across schema versions.
 *
 * @example
 * ```ts
 * const field: NestedField = { id: 1, name: 'order_id', required: true, type: 'long' };
 * ```
 */
export interface NestedField {
  readonly id: number;
  readonly name: string;
  readonly required: boolean;
  readonly type: IcebergType;
  readonly doc?: string;
}

/**
 * A table schema: a struct with a schema id and, optionally, the fields that identify a row (the primary key used by
 * upserts and deletes).
 *
 * @example
 * ```ts
 * const schema: IcebergSchema = {
 *   type: 'struct',
 *   'schema-id': 0,
 *   'identifier-field-ids': [1],
 *   fields: [
 *     { id: 1, name: 'order_id', required: true, type: 'long' },
 *     { id: 2, name: 'amount', required: false, type: 'decimal(12, 2)' },
 *   ],
 * };
 * ```
 */
export interface IcebergSchema {
  readonly type: 'struct';
  readonly 'schema-id': number;
  readonly 'identifier-field-ids'?: readonly number[];
  readonly fields: readonly NestedField[];
}

/** A row as handed to writers and returned by readers: column name to value (see the module doc for value types). */
export type Row = Readonly<Record<string, unknown>>;

/**
 * Statistics of one column of one data file, as Iceberg manifests store them (by field id). `lower`/`upper` are
 * JavaScript values of the column's type (as read back, see the module doc), serialized to bytes by the manifest writer.
 *
 * @example
 * ```ts
 * const metrics: ColumnMetrics = { fieldId: 1, valueCount: 100, nullCount: 0, lower: 1n, upper: 100n, sizeBytes: 812 };
 * ```
 */
export interface ColumnMetrics {
  readonly fieldId: number;
  /** Values in the column, nulls included. */
  readonly valueCount: number;
  readonly nullCount: number;
  /** NaN values (float and double columns only). */
  readonly nanCount?: number | undefined;
  /** Smallest non-null, non-NaN value; absent when the column holds none, or for types without bounds (nested). */
  readonly lower?: unknown;
  /** Largest non-null, non-NaN value; absent as for `lower`. */
  readonly upper?: unknown;
  /** Compressed bytes of this column in the file. */
  readonly sizeBytes?: number | undefined;
}
