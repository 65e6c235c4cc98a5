import { DuckDBDateValue, DuckDBTimestampTZValue, DuckDBTimestampValue } from '@duckdb/node-api';
import type { DuckDBAppender, DuckDBConnection } from '@duckdb/node-api';
import type { IcebergSchema, IcebergType, NestedField, Row } from '@tributary/lakehouse';

/** `"name"`, with embedded quotes doubled: identifiers come from table metadata, never pasted raw. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * The DuckDB column type an Iceberg type is loaded as. Nested types (struct, list, map) load as VARCHAR holding JSON:
 * queries can still reach into them with DuckDB's JSON functions (`col->>'$.city'`).
 */
export function duckdbType(type: IcebergType): string {
  if (typeof type !== 'string') return 'VARCHAR';
  switch (type) {
    case 'boolean':
      return 'BOOLEAN';
    case 'int':
      return 'INTEGER';
    case 'long':
      return 'BIGINT';
    case 'float':
      return 'FLOAT';
    case 'double':
      return 'DOUBLE';
    case 'date':
      return 'DATE';
    case 'time':
      return 'TIME';
    case 'timestamp':
      return 'TIMESTAMP';
    case 'timestamptz':
      return 'TIMESTAMPTZ';
    case 'string':
      return 'VARCHAR';
    case 'uuid':
      return 'UUID';
    case 'binary':
      return 'BLOB';
    default: {
      const decimal = /^decimal\((\d+),\s*(\d+)\)$/.exec(type);
      if (decimal !== null) return `DECIMAL(${decimal[1]}, ${decimal[2]})`;
      return 'BLOB'; // fixed[L]
    }
  }
}

type Append = (appender: DuckDBAppender, value: unknown) => void;

const DAY_MS = 86_400_000;

function microsOf(value: unknown): bigint {
  if (typeof value === 'bigint') return value;
  if (value instanceof Date) return BigInt(value.getTime()) * 1000n;
  return BigInt(Date.parse(String(value))) * 1000n;
}

/** How one column's values (in the lakehouse's value convention) are appended. */
function appenderFor(type: IcebergType): Append {
  if (typeof type !== 'string') return (a, v) => a.appendVarchar(toJsonText(v));
  switch (type) {
    case 'boolean':
      return (a, v) => a.appendBoolean(Boolean(v));
    case 'int':
      return (a, v) => a.appendInteger(Number(v));
    case 'long':
      return (a, v) => a.appendBigInt(BigInt(v as bigint | number));
    case 'float':
      return (a, v) => a.appendFloat(Number(v));
    case 'double':
      return (a, v) => a.appendDouble(Number(v));
    case 'date':
      return (a, v) => a.appendDate(new DuckDBDateValue(Math.round(Date.parse(`${String(v)}T00:00:00Z`) / DAY_MS)));
    case 'timestamp':
      return (a, v) => a.appendTimestamp(new DuckDBTimestampValue(microsOf(v)));
    case 'timestamptz':
      return (a, v) => a.appendTimestampTZ(new DuckDBTimestampTZValue(microsOf(v)));
    case 'binary':
      return (a, v) => a.appendBlob(v as Uint8Array);
    case 'string':
      return (a, v) => a.appendVarchar(String(v));
    default:
      if (type.startsWith('fixed')) return (a, v) => a.appendBlob(v as Uint8Array);
      // decimal (a string with exactly S decimals), time and uuid (canonical strings): the appender casts VARCHAR to
      // the column type with DuckDB's own parser, exactly.
      return (a, v) => a.appendVarchar(String(v));
  }
}

function toJsonText(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
    if (v instanceof Map) return Object.fromEntries(v as Map<unknown, unknown>) as unknown;
    return v;
  });
}

/**
 * Creates `schema.table` in DuckDB with the columns of `fields` and appends `rows` (read by the lakehouse reader,
 * deletes already applied).
 */
export async function loadTable(
  connection: DuckDBConnection,
  schemaName: string,
  tableName: string,
  fields: readonly NestedField[],
  rows: readonly Row[],
): Promise<void> {
  const columns = fields.map((f) => `${quoteIdentifier(f.name)} ${duckdbType(f.type)}`).join(', ');
  await connection.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(schemaName)}`);
  await connection.run(`CREATE TABLE ${quoteIdentifier(schemaName)}.${quoteIdentifier(tableName)} (${columns})`);
  const appender = await connection.createAppender(tableName, schemaName);
  const appends = fields.map((f) => appenderFor(f.type));
  try {
    for (const row of rows) {
      for (let i = 0; i < fields.length; i++) {
        const value = row[fields[i]!.name];
        if (value === null || value === undefined) appender.appendNull();
        else appends[i]!(appender, value);
      }
      appender.endRow();
    }
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
}

/** The fields of `schema` a query may touch; at least one, so a table read only for `count(*)` keeps its rows. */
export function fieldsToRead(schema: IcebergSchema, names: ReadonlySet<string> | undefined): NestedField[] {
  if (names === undefined) return [...schema.fields];
  const wanted = schema.fields.filter((f) => names.has(f.name.toLowerCase()));
  if (wanted.length > 0) return wanted;
  const first = schema.fields[0];
  return first === undefined ? [] : [first];
}
