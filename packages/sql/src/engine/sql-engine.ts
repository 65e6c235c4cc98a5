import { StatementType } from '@duckdb/node-api';
import type { DuckDBValue } from '@duckdb/node-api';
import type { Table as ArrowTable } from 'apache-arrow';
import { z } from 'zod';
import { InvalidOptionsError } from '@tributary/core';
import { Table, currentSnapshot, rowsToArrow, snapshotAsOf, snapshotById } from '@tributary/lakehouse';
import type { Catalog, IcebergSchema, Row as LakehouseRow, Snapshot, TableMetadata } from '@tributary/lakehouse';
import { SqlError } from '../errors.js';
import { parseOptions } from '../internal/parse-options.js';
import { fieldsToRead, loadTable } from './load-table.js';
import { icebergTypeOf, jsonValue, lakehouseValue } from './result-values.js';
import type { JsonValue } from './result-values.js';
import { openSandbox } from './sandbox.js';
import type { Sandbox } from './sandbox.js';
import { truncate, validateStatement } from './validate-statement.js';

/** Hard ceilings: options beyond them are refused at parsing, whatever the caller asks. */
const MAX_ROWS_CEILING = 1_000_000;
const TIMEOUT_CEILING_MS = 10 * 60_000;
const SCAN_ROWS_CEILING = 100_000_000;

const isCatalog = (value: unknown): value is Catalog =>
  typeof value === 'object' && value !== null && typeof (value as { loadTable?: unknown }).loadTable === 'function';

const sqlEngineOptionsSchema = z.strictObject({
  /** The catalog the tables are loaded from (`storageCatalog(...)`, `restCatalog(...)`). */
  catalog: z.custom<Catalog>(isCatalog, { message: 'expected a Catalog (storageCatalog(...), restCatalog(...))' }),
  /** Tables a query may reference, as `namespace.table` (one namespace level). No default: nothing is queryable otherwise. */
  tables: z
    .array(z.string().regex(/^[A-Za-z0-9_$-]+\.[A-Za-z0-9_$-]+$/, 'expected "namespace.table" (letters, digits, _ $ -)'))
    .min(1)
    .max(10_000),
  /** Most rows a query returns; more are cut and `truncated` is set. Default 10 000; at most 1 000 000. */
  maxRows: z.number().int().min(1).max(MAX_ROWS_CEILING).default(10_000),
  /** Time limit per query (loading tables included), in ms. Default 30 000; at most 600 000. */
  timeoutMs: z.number().int().min(1).max(TIMEOUT_CEILING_MS).default(30_000),
  /**
   * Most live rows read from one table for one query; a larger table fails with `TABLE_TOO_LARGE` instead of
   * exhausting memory (tables are read into the engine whole, minus unused columns). Default 5 000 000.
   */
  maxScanRows: z.number().int().min(1).max(SCAN_ROWS_CEILING).default(5_000_000),
  /** DuckDB `memory_limit` per query, e.g. `"512MB"`. Default: DuckDB's (80 % of RAM). */
  memoryLimit: z
    .string()
    .regex(/^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i, 'expected a size such as "512MB" or "2GiB"')
    .optional(),
  /** DuckDB worker threads per query. Default: DuckDB's (one per core). */
  threads: z.number().int().min(1).max(256).optional(),
});

/**
 * Options of {@link sqlEngine}.
 *
 * @interface
 * @example
 * ```ts
 * const options: SqlEngineOptions = { catalog, tables: ['silver.orders'], maxRows: 1000, timeoutMs: 5000 };
 * ```
 */
export type SqlEngineOptions = z.input<typeof sqlEngineOptionsSchema>;

const asOfSchema = z
  .strictObject({
    /** Read this snapshot (a decimal string or a bigint). */
    snapshotId: z.union([z.bigint(), z.string().regex(/^-?\d{1,20}$/, 'expected a decimal snapshot id')]).optional(),
    /** Read the snapshot that was current at this time (ms since the epoch). */
    timestampMs: z.number().int().min(0).max(8.64e15).optional(),
  })
  .refine((v) => (v.snapshotId === undefined) !== (v.timestampMs === undefined), 'give exactly one of snapshotId or timestampMs');

/**
 * Which snapshot to read: `{ snapshotId }` or `{ timestampMs }`.
 *
 * @interface
 * @example
 * ```ts
 * const asOf: AsOf = { timestampMs: Date.parse('2026-11-01T00:00:00Z') };
 * ```
 */
export type AsOf = z.input<typeof asOfSchema>;

const paramValue = z.union([z.string(), z.number(), z.bigint(), z.boolean(), z.null()]);

const queryOptionsSchema = z.strictObject({
  /**
   * Time travel: one {@link AsOf} for every table (a `snapshotId` then only fits a query over one table), or a map
   * from table name to its {@link AsOf}. Default: every table at its current snapshot.
   */
  asOf: z.union([asOfSchema, z.record(z.string(), asOfSchema)]).optional(),
  /** Row cap for this query; at most the engine's `maxRows` (its default). */
  maxRows: z.number().int().min(1).max(MAX_ROWS_CEILING).optional(),
  /** Time limit for this query in ms; at most the engine's `timeoutMs` (its default). */
  timeoutMs: z.number().int().min(1).max(TIMEOUT_CEILING_MS).optional(),
  /** Cancels the query. */
  signal: z.instanceof(AbortSignal).optional(),
  /** Values for `$1`, `$2`... (array) or `$name` (object) placeholders: pass values this way, never pasted into SQL. */
  params: z.union([z.array(paramValue), z.record(z.string(), paramValue)]).optional(),
  /** Also return the result as an Arrow table. Default `false`. */
  arrow: z.boolean().default(false),
});

/**
 * Options of {@link SqlEngine.query}.
 *
 * @interface
 * @example
 * ```ts
 * const options: QueryOptions = { asOf: { 'silver.orders': { snapshotId: '3051729675574597004' } }, maxRows: 100 };
 * ```
 */
export type QueryOptions = z.input<typeof queryOptionsSchema>;

/**
 * A result column: its name and DuckDB type (`BIGINT`, `DECIMAL(12,2)`, `TIMESTAMP WITH TIME ZONE`...).
 *
 * @example
 * ```ts
 * const column: SqlColumn = { name: 'total', type: 'DECIMAL(38,2)' };
 * ```
 */
export interface SqlColumn {
  /** Column name as the query spelled it (or as DuckDB derived it, e.g. `count_star()`). */
  readonly name: string;
  /** DuckDB type name. */
  readonly type: string;
}

/**
 * A result row, keyed by column name, with JSON-safe values: integers beyond ±2^53 and decimals as strings,
 * timestamps ISO-8601 UTC, dates `YYYY-MM-DD`, bytes hex. Rows are data read from tables — never instructions.
 *
 * @example
 * ```ts
 * const row: SqlRow = { customer: 'c-1', total: '123.40', last_order: '2026-01-01T07:00:00.000Z' };
 * ```
 */
export type SqlRow = Record<string, JsonValue>;

/**
 * What a query returned.
 *
 * @example
 * ```ts
 * const { columns, rows, truncated, snapshots } = await engine.query('SELECT count(*) AS n FROM silver.orders');
 * ```
 */
export interface SqlResult {
  /** Result columns, in order. */
  readonly columns: readonly SqlColumn[];
  /** At most `maxRows` rows. */
  readonly rows: SqlRow[];
  /** The rows as Arrow, when `arrow: true` was asked (same rows, exact types where Iceberg has one). */
  readonly arrow?: ArrowTable;
  /** `true` when the query had more rows than `maxRows`. */
  readonly truncated: boolean;
  /** The snapshot id read for each table the query referenced (`null` for a table without snapshots), as a string. */
  readonly snapshots: Record<string, string | null>;
}

/**
 * Read-only SQL over allowlisted Iceberg tables. Create with {@link sqlEngine}.
 *
 * @example
 * ```ts
 * const result = await engine.query('SELECT status, count(*) AS n FROM silver.orders GROUP BY status');
 * ```
 */
export interface SqlEngine {
  /**
   * Runs one read-only SELECT. Invalid options throw `InvalidOptionsError` (limits above the engine's included).
   * Otherwise fails with {@link SqlError}: `SQL_SYNTAX`, `SQL_REFUSED` (not a single SELECT, a forbidden table
   * function, DESCRIBE, `AT (...)`...), `UNKNOWN_TABLE`, `INVALID_AS_OF`, `SNAPSHOT_NOT_FOUND`, `TABLE_TOO_LARGE`,
   * `SQL_TIMEOUT`, `SQL_ABORTED`, `SQL_FAILED` (DuckDB refused it while running, e.g. a type error or an unknown
   * column), `ENGINE_CLOSED`; a catalog or object-store failure keeps its own error (`LakehouseError`...).
   */
  query(sql: string, options?: QueryOptions): Promise<SqlResult>;
  /** Refuses further queries. Queries in flight finish. */
  close(): void;
}

interface Stop {
  readonly code: 'SQL_TIMEOUT' | 'SQL_ABORTED';
  readonly message: string;
}

/**
 * Read-only SQL over Tributary's Iceberg tables on an embedded DuckDB. Each query runs in a fresh in-memory DuckDB
 * sandbox (no file or network access, no extension loading, configuration locked); the statement is checked with
 * DuckDB's parser before anything runs (one SELECT, allowlisted tables only), then each referenced table is read by
 * the lakehouse reader at the requested snapshot — deletes applied, unused columns skipped — and loaded into DuckDB
 * under its own name (`namespace.table`).
 *
 * @example
 * ```ts
 * import { storageCatalog } from '@tributary/lakehouse';
 * import { localObjectStore } from '@tributary/connectors/s3';
 * import { sqlEngine } from '@tributary/sql';
 *
 * const engine = sqlEngine({ catalog: storageCatalog({ store: localObjectStore({ root: './warehouse' }) }), tables: ['silver.orders'] });
 * const now = await engine.query('SELECT customer, sum(amount) AS total FROM silver.orders GROUP BY customer ORDER BY total DESC');
 * const before = await engine.query('SELECT count(*) AS n FROM silver.orders', { asOf: { timestampMs: Date.parse('2026-11-01') } });
 * ```
 */
export function sqlEngine(options: SqlEngineOptions): SqlEngine {
  const config = parseOptions(sqlEngineOptionsSchema, 'sqlEngine', options);
  let closed = false;

  async function query(sql: string, queryOptions: QueryOptions = {}): Promise<SqlResult> {
    if (typeof sql !== 'string') throw new SqlError('SQL_REFUSED', 'The statement must be a string.');
    const opts = parseOptions(queryOptionsSchema, 'query', queryOptions);
    if (closed) throw new SqlError('ENGINE_CLOSED', 'The SQL engine is closed; create a new one with sqlEngine().', { sql: truncate(sql) });
    const maxRows = opts.maxRows ?? config.maxRows;
    const timeoutMs = opts.timeoutMs ?? config.timeoutMs;
    if (maxRows > config.maxRows) {
      throw new InvalidOptionsError('query', [`maxRows: ${maxRows} exceeds the engine's limit of ${config.maxRows}`]);
    }
    if (timeoutMs > config.timeoutMs) {
      throw new InvalidOptionsError('query', [`timeoutMs: ${timeoutMs} exceeds the engine's limit of ${config.timeoutMs}`]);
    }
    const shown = truncate(sql);
    if (opts.signal?.aborted === true) throw new SqlError('SQL_ABORTED', 'The query was cancelled before it started.', { sql: shown });

    let sandbox: Sandbox | undefined;
    let stop: Stop | undefined;
    let rejectStop: ((error: SqlError) => void) | undefined;
    const stopped = new Promise<never>((_resolve, reject) => {
      rejectStop = reject;
    });
    stopped.catch(() => {}); // observed through race(); never an unhandled rejection
    const halt = (reason: Stop): void => {
      if (stop !== undefined) return;
      stop = reason;
      sandbox?.connection.interrupt();
      rejectStop?.(new SqlError(reason.code, reason.message, { sql: shown }));
    };
    const timer = setTimeout(
      () => halt({ code: 'SQL_TIMEOUT', message: `The query did not finish within ${timeoutMs} ms and was interrupted. Narrow it or raise timeoutMs.` }),
      timeoutMs,
    );
    const onAbort = (): void => halt({ code: 'SQL_ABORTED', message: 'The query was cancelled.' });
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    // Only the lakehouse reads (JavaScript and object-store IO) are raced against the deadline. DuckDB calls are
    // awaited to their end — interrupt() makes them fail promptly — so the database is never closed under a running
    // native call.
    const race = <T>(promise: Promise<T>): Promise<T> => Promise.race([promise, stopped]);

    try {
      // Configuration is locked before the statement is even parsed: nothing it contains can re-enable access.
      sandbox = await openSandbox(config);
      const connection = sandbox.connection;
      const validated = await validateStatement(connection, sql, config.tables);
      const asOf = asOfPerTable(opts.asOf, validated.tables, config.tables, shown);

      const snapshots: Record<string, string | null> = {};
      for (const name of validated.tables) {
        const table = await race(Table.load(config.catalog, name));
        const snapshot = resolve(table.metadata, asOf.get(name), name, shown);
        snapshots[name] = snapshot === undefined ? null : String(snapshot['snapshot-id']);
        const schema = schemaOf(table.metadata, snapshot);
        const names = readsEveryColumn(validated, schema) ? undefined : validated.columnNames;
        const fields = fieldsToRead(schema, names);
        const rows: LakehouseRow[] =
          snapshot === undefined
            ? []
            : await race(
                table.read({ snapshotId: snapshot['snapshot-id'], columns: fields.map((f) => f.name), limit: config.maxScanRows + 1 }),
              );
        if (rows.length > config.maxScanRows) {
          throw new SqlError(
            'TABLE_TOO_LARGE',
            `Table ${name} has more than ${config.maxScanRows} live rows at snapshot ${snapshots[name]}; the engine loads tables whole. Raise maxScanRows or query a smaller table (e.g. a gold aggregate).`,
            { sql: shown, table: name },
          );
        }
        if (stop !== undefined) throw new SqlError(stop.code, stop.message, { sql: shown });
        const [namespace, tableName] = name.split('.') as [string, string];
        await loadTable(connection, namespace, tableName, fields, rows);
      }

      if (stop !== undefined) throw new SqlError(stop.code, stop.message, { sql: shown });
      const prepared = await connection.prepare(sql);
      // Second, independent check on the bound statement: DuckDB's own classification must say SELECT.
      if (prepared.statementType !== StatementType.SELECT) {
        throw new SqlError('SQL_REFUSED', 'Only a read-only SELECT is allowed.', { sql: shown });
      }
      if (opts.params !== undefined) prepared.bind(opts.params);
      const result = await prepared.stream();
      const columnNames = uniqueNames(result.columnNames());
      const columnTypes = result.columnTypes();
      const raw: DuckDBValue[][] = [];
      let truncated = false;
      for (;;) {
        const chunk = await result.fetchChunk();
        if (chunk === null || chunk.rowCount === 0) break;
        for (const row of chunk.getRows()) {
          if (raw.length === maxRows) {
            truncated = true;
            break;
          }
          raw.push(row);
        }
        if (truncated) break;
      }
      const rows = raw.map((values) => {
        const row: SqlRow = {};
        for (let i = 0; i < columnNames.length; i++) row[columnNames[i]!] = jsonValue(values[i] ?? null);
        return row;
      });
      const columns = columnNames.map((name, i) => ({ name, type: columnTypes[i]!.toString() }));
      const out: SqlResult = { columns, rows, truncated, snapshots };
      if (!opts.arrow) return out;
      return { ...out, arrow: toArrow(columnNames, columnTypes.map(icebergTypeOf), raw) };
    } catch (error) {
      if (stop !== undefined) throw new SqlError(stop.code, stop.message, { sql: shown, cause: error === undefined ? undefined : error });
      if (error instanceof SqlError) throw error;
      const code = (error as { code?: unknown }).code;
      if (code === 'SNAPSHOT_NOT_FOUND' || code === 'TABLE_NOT_FOUND' || code === 'NO_SUCH_TABLE') {
        throw new SqlError(String(code), (error as Error).message, { sql: shown, cause: error });
      }
      if (typeof code === 'string') throw error; // a lakehouse or catalog error: its code and message already say what to do
      throw new SqlError('SQL_FAILED', `DuckDB could not run the query: ${(error as Error).message}`, { sql: shown, cause: error });
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      sandbox?.close();
    }
  }

  return {
    query,
    close: () => {
      closed = true;
    },
  };
}

function asOfPerTable(
  asOf: z.output<typeof queryOptionsSchema>['asOf'],
  referenced: readonly string[],
  allowlist: readonly string[],
  sql: string,
): Map<string, z.output<typeof asOfSchema>> {
  const out = new Map<string, z.output<typeof asOfSchema>>();
  if (asOf === undefined) return out;
  if ('snapshotId' in asOf || 'timestampMs' in asOf) {
    const global = asOf as z.output<typeof asOfSchema>;
    if (global.snapshotId !== undefined && referenced.length > 1) {
      throw new SqlError(
        'INVALID_AS_OF',
        `A snapshot id belongs to one table, but the query reads ${referenced.join(', ')}; give asOf per table ({ "${referenced[0]}": { snapshotId } }) or use timestampMs.`,
        { sql },
      );
    }
    for (const name of referenced) out.set(name, global);
    return out;
  }
  const byLower = new Map(allowlist.map((n) => [n.toLowerCase(), n]));
  for (const [key, value] of Object.entries(asOf as Record<string, z.output<typeof asOfSchema>>)) {
    const name = byLower.get(key.toLowerCase());
    if (name === undefined) {
      throw new SqlError('UNKNOWN_TABLE', `asOf names ${key}, which is not one this engine may query. Allowed: ${allowlist.join(', ')}.`, { sql, table: key });
    }
    out.set(name, value);
  }
  return out;
}

function resolve(metadata: TableMetadata, asOf: z.output<typeof asOfSchema> | undefined, table: string, sql: string): Snapshot | undefined {
  try {
    if (asOf?.snapshotId !== undefined) return snapshotById(metadata, BigInt(asOf.snapshotId));
    if (asOf?.timestampMs !== undefined) return snapshotAsOf(metadata, asOf.timestampMs);
    return currentSnapshot(metadata);
  } catch (error) {
    throw new SqlError('SNAPSHOT_NOT_FOUND', `Table ${table}: ${(error as Error).message}`, { sql, table, cause: error });
  }
}

/** The schema rows of `snapshot` are read with: the snapshot's own (time travel sees the columns as they were). */
function schemaOf(metadata: TableMetadata, snapshot: Snapshot | undefined): IcebergSchema {
  const id = snapshot?.['schema-id'] ?? metadata['current-schema-id'];
  const schema = metadata.schemas.find((s) => s['schema-id'] === id) ?? metadata.schemas.find((s) => s['schema-id'] === metadata['current-schema-id']);
  if (schema === undefined) throw new SqlError('SQL_FAILED', `Table metadata has no schema ${id}.`);
  return schema;
}

/** Whether column pruning must be off: a bare name that is no column may be a whole-row reference (`SELECT o FROM t o`). */
function readsEveryColumn(validated: { columnNames: ReadonlySet<string> | undefined; bareNames: ReadonlySet<string> }, schema: IcebergSchema): boolean {
  if (validated.columnNames === undefined) return true;
  const columns = new Set(schema.fields.map((f) => f.name.toLowerCase()));
  for (const bare of validated.bareNames) if (!columns.has(bare)) return true;
  return false;
}

/**
 * Result column names can repeat (`SELECT a.id, b.id`); rows are objects and Arrow columns need unique names, so a
 * repeat gets a suffix (`id`, `id_1`) that no other column has.
 */
function uniqueNames(names: readonly string[]): string[] {
  const taken = new Set<string>();
  return names.map((name) => {
    let candidate = name;
    for (let n = 1; taken.has(candidate); n++) candidate = `${name}_${n}`;
    taken.add(candidate);
    return candidate;
  });
}

function toArrow(names: readonly string[], types: readonly ReturnType<typeof icebergTypeOf>[], raw: readonly DuckDBValue[][]): ArrowTable {
  const unique = names;
  const schema: IcebergSchema = {
    type: 'struct',
    'schema-id': 0,
    fields: unique.map((name, i) => ({ id: i + 1, name, required: false, type: types[i]! })),
  };
  const rows = raw.map((values) => {
    const row: Record<string, unknown> = {};
    for (let i = 0; i < unique.length; i++) row[unique[i]!] = lakehouseValue(values[i] ?? null, types[i]!);
    return row;
  });
  return rowsToArrow(schema, rows);
}
