import {
  DuckDBBlobValue,
  DuckDBDateValue,
  DuckDBDecimalValue,
  DuckDBListValue,
  DuckDBArrayValue,
  DuckDBMapValue,
  DuckDBStructValue,
  DuckDBTimestampTZValue,
  DuckDBTimestampValue,
  DuckDBTimeValue,
  DuckDBTypeId,
  DuckDBUUIDValue,
} from '@duckdb/node-api';
import type { DuckDBType, DuckDBValue } from '@duckdb/node-api';
import type { IcebergType } from '@tributary/lakehouse';

/**
 * A JSON-safe value: what a row of a query result holds.
 *
 * @example
 * ```ts
 * const value: JsonValue = { total: '12.30', items: [1, 2], at: '2026-01-01T00:00:00.000Z' };
 * ```
 */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** ISO-8601 with microseconds when there are any (`2026-01-01T00:00:00.000123Z`). */
function isoFromMicros(micros: bigint): string {
  const ms = micros / 1000n - (micros % 1000n < 0n ? 1n : 0n);
  const date = new Date(Number(ms));
  if (Number.isNaN(date.getTime())) return String(micros);
  const sub = Number(micros - ms * 1000n);
  const iso = date.toISOString();
  return sub === 0 ? iso : `${iso.slice(0, -1)}${String(sub).padStart(3, '0')}Z`;
}

/**
 * A DuckDB value as JSON: integers beyond ±2^53 and decimals as strings (exact), timestamps as ISO-8601 (UTC), dates
 * `YYYY-MM-DD`, bytes as hex, non-finite floats as strings ("NaN", "Infinity"), lists as arrays, structs as objects,
 * maps as arrays of `{ key, value }`.
 */
export function jsonValue(value: DuckDBValue): JsonValue {
  if (value === null) return null;
  switch (typeof value) {
    case 'boolean':
    case 'string':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'bigint':
      return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
    default:
      break;
  }
  if (value instanceof DuckDBTimestampTZValue || value instanceof DuckDBTimestampValue) return isoFromMicros(value.micros);
  if (value instanceof DuckDBBlobValue) return Buffer.from(value.bytes).toString('hex');
  if (value instanceof DuckDBListValue || value instanceof DuckDBArrayValue) return value.items.map(jsonValue);
  if (value instanceof DuckDBStructValue) {
    const out: Record<string, JsonValue> = {};
    for (const [key, item] of Object.entries(value.entries)) out[key] = jsonValue(item);
    return out;
  }
  if (value instanceof DuckDBMapValue) return value.entries.map((e) => ({ key: jsonValue(e.key), value: jsonValue(e.value) }));
  return String(value);
}

/**
 * The Iceberg type a result column is carried as in the Arrow result (so Arrow output reuses the lakehouse's
 * converter): exact types where Iceberg has one, `string` (the JSON form) otherwise.
 */
export function icebergTypeOf(type: DuckDBType): IcebergType {
  switch (type.typeId) {
    case DuckDBTypeId.BOOLEAN:
      return 'boolean';
    case DuckDBTypeId.TINYINT:
    case DuckDBTypeId.SMALLINT:
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.UTINYINT:
    case DuckDBTypeId.USMALLINT:
      return 'int';
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.UINTEGER:
      return 'long';
    case DuckDBTypeId.FLOAT:
      return 'float';
    case DuckDBTypeId.DOUBLE:
      return 'double';
    case DuckDBTypeId.DECIMAL: {
      const { width, scale } = type as unknown as { width: number; scale: number };
      return `decimal(${width}, ${scale})`;
    }
    case DuckDBTypeId.DATE:
      return 'date';
    case DuckDBTypeId.TIME:
      return 'time';
    case DuckDBTypeId.TIMESTAMP:
      return 'timestamp';
    case DuckDBTypeId.TIMESTAMP_TZ:
      return 'timestamptz';
    case DuckDBTypeId.UUID:
      return 'uuid';
    case DuckDBTypeId.BLOB:
      return 'binary';
    default:
      return 'string';
  }
}

/** A DuckDB value in the lakehouse's value convention for `icebergTypeOf(type)` (the input of `rowsToArrow`). */
export function lakehouseValue(value: DuckDBValue, type: IcebergType): unknown {
  if (value === null) return null;
  switch (type) {
    case 'int':
    case 'float':
    case 'double':
      return Number(value);
    case 'long':
      return BigInt(value as bigint | number);
    case 'boolean':
      return value;
    case 'date':
      return value instanceof DuckDBDateValue ? value.toString() : String(value);
    case 'time':
      return value instanceof DuckDBTimeValue ? value.micros : String(value);
    case 'timestamp':
    case 'timestamptz':
      return value instanceof DuckDBTimestampValue || value instanceof DuckDBTimestampTZValue ? value.micros : null;
    case 'uuid':
      return value instanceof DuckDBUUIDValue ? value.toString() : String(value);
    case 'binary':
      return value instanceof DuckDBBlobValue ? value.bytes : null;
    default: {
      if (typeof type === 'string' && type.startsWith('decimal')) return value instanceof DuckDBDecimalValue ? value.toString() : String(value);
      const json = jsonValue(value);
      return typeof json === 'string' ? json : JSON.stringify(json);
    }
  }
}
