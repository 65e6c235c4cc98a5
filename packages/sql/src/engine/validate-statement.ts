import type { DuckDBConnection } from '@duckdb/node-api';
import { SqlError } from '../errors.js';

/**
 * Table functions a query may call. Everything else is refused — file readers (`read_csv`, `read_parquet`, `glob`,
 * ...), `query()` / `query_table()` (they run SQL text the validator never saw), catalog introspection
 * (`duckdb_settings()`, ...) — even though DuckDB's own sandbox (`enable_external_access=false`) already refuses the
 * file readers: an allowlist does not depend on knowing every function of every DuckDB version.
 *
 * `range` / `generate_series` / `unnest` only compute; the row cap and the timeout bound them.
 *
 * @example
 * ```ts
 * ALLOWED_TABLE_FUNCTIONS.has('read_csv'); // false
 * ```
 */
export const ALLOWED_TABLE_FUNCTIONS: ReadonlySet<string> = new Set(['range', 'generate_series', 'unnest']);

/** What a validated statement reads. */
export interface ValidatedStatement {
  /** Allowlisted tables the statement references, as `namespace.table` in the allowlist's spelling. */
  readonly tables: readonly string[];
  /**
   * Names (lower-cased) the statement's column references are made of — every part, so a struct field access keeps
   * its column — or `undefined` when it may touch every column (a `*`, `COLUMNS(...)`, a NATURAL join). A superset of
   * what the query reads; used to read fewer columns from the lakehouse.
   */
  readonly columnNames: ReadonlySet<string> | undefined;
  /**
   * Single-part column references (lower-cased). One that is no column of a referenced table may be a whole-row
   * reference (`SELECT o FROM silver.orders o`), so the caller then reads every column.
   */
  readonly bareNames: ReadonlySet<string>;
}

const MAX_SQL_LENGTH = 100_000;

/**
 * Checks, with DuckDB's own parser and before anything runs, that `sql` is exactly one read-only SELECT (WITH, UNION,
 * VALUES, subqueries included) whose table references are all in `allowlist` and whose table functions are all in
 * {@link ALLOWED_TABLE_FUNCTIONS}. Throws {@link SqlError} `SQL_SYNTAX`, `SQL_REFUSED` or `UNKNOWN_TABLE`.
 *
 * `json_serialize_sql` parses without binding (the tables need not exist yet) and serialises SELECT statements only:
 * anything else (COPY, ATTACH, PRAGMA, SET, INSTALL, LOAD, CALL, DDL, DML, EXPORT...) is refused by the parser's own
 * classification, not by matching keywords.
 */
export async function validateStatement(
  connection: DuckDBConnection,
  sql: string,
  allowlist: readonly string[],
): Promise<ValidatedStatement> {
  const shown = truncate(sql);
  if (sql.length > MAX_SQL_LENGTH) {
    throw new SqlError('SQL_REFUSED', `The statement is ${sql.length} characters long; at most ${MAX_SQL_LENGTH} are accepted.`, { sql: shown });
  }
  if (sql.includes('\u0000')) throw new SqlError('SQL_REFUSED', 'The statement contains a NUL character.', { sql: shown });

  let count: number;
  try {
    count = (await connection.extractStatements(sql)).count;
  } catch (error) {
    throw new SqlError('SQL_SYNTAX', `The statement does not parse: ${firstLine(error)}`, { sql: shown, cause: error });
  }
  if (count !== 1) {
    throw new SqlError('SQL_REFUSED', `Exactly one statement is allowed; found ${count}. Send a single SELECT without ';'-separated statements.`, {
      sql: shown,
    });
  }

  // The SQL travels as a string literal (single quotes doubled: DuckDB strings have no backslash escapes) because
  // json_serialize_sql needs a constant argument; a bound parameter is refused.
  const reader = await connection.runAndReadAll(`SELECT json_serialize_sql('${sql.replaceAll("'", "''")}')`);
  const serialized = reader.getRows()[0]?.[0];
  const ast = JSON.parse(String(serialized)) as AstNode & { error?: boolean; error_type?: string; error_message?: string };
  if (ast.error === true) {
    if (ast.error_type === 'parser') {
      throw new SqlError('SQL_SYNTAX', `The statement does not parse: ${ast.error_message ?? 'syntax error'}`, { sql: shown });
    }
    throw new SqlError('SQL_REFUSED', `Only a read-only SELECT is allowed; found ${statementKeyword(sql)}.`, { sql: shown });
  }

  const byLowerName = new Map(allowlist.map((name) => [name.toLowerCase(), name]));
  const tables = new Set<string>();
  const columnNames = new Set<string>();
  const bareNames = new Set<string>();
  let everyColumn = false;
  collect(ast, new Set(), (node, cteNames) => {
    switch (node['type']) {
      case 'BASE_TABLE': {
        const catalog = text(node['catalog_name']);
        const schema = text(node['schema_name']);
        const name = text(node['table_name']);
        if (node['at_clause'] !== null && node['at_clause'] !== undefined) {
          throw new SqlError('SQL_REFUSED', `AT (...) time travel on ${name} is not supported; pass the asOf option instead.`, { sql: shown });
        }
        if (catalog === '' && schema === '' && cteNames.has(name.toLowerCase())) return;
        const qualified = [catalog, schema, name].filter((part) => part !== '').join('.');
        const allowed = catalog === '' ? byLowerName.get(qualified.toLowerCase()) : undefined;
        if (allowed === undefined) {
          const hint = schema === '' ? ' Qualify tables by namespace, e.g. silver.orders.' : '';
          throw new SqlError(
            'UNKNOWN_TABLE',
            `Table ${qualified} is not one this engine may query.${hint} Allowed: ${allowlist.join(', ') || 'none'}.`,
            { sql: shown, table: qualified },
          );
        }
        tables.add(allowed);
        return;
      }
      case 'TABLE_FUNCTION': {
        const fn = node['function'] as AstNode | undefined;
        const name = text(fn?.['function_name']).toLowerCase();
        const schema = text(fn?.['schema']);
        if (schema !== '' || !ALLOWED_TABLE_FUNCTIONS.has(name)) {
          throw new SqlError(
            'SQL_REFUSED',
            `Table function ${name}() is not allowed; only ${[...ALLOWED_TABLE_FUNCTIONS].join(', ')} may be used in FROM.`,
            { sql: shown },
          );
        }
        return;
      }
      case 'SHOW_REF':
        throw new SqlError('SQL_REFUSED', 'DESCRIBE / SHOW / SUMMARIZE are not allowed; query the table or use its schema.', { sql: shown });
      case 'STAR':
        everyColumn = true;
        return;
      case 'COLUMN_REF': {
        const names = node['column_names'];
        if (!Array.isArray(names)) return;
        for (const part of names) columnNames.add(String(part).toLowerCase());
        if (names.length === 1) bareNames.add(String(names[0]).toLowerCase());
        return;
      }
      case 'JOIN':
        if (node['ref_type'] === 'NATURAL') everyColumn = true;
        if (Array.isArray(node['using_columns'])) for (const c of node['using_columns'] as unknown[]) columnNames.add(String(c).toLowerCase());
        return;
      default:
        return;
    }
  });
  return { tables: [...tables], columnNames: everyColumn ? undefined : columnNames, bareNames };
}

type AstNode = Record<string, unknown>;

/**
 * Visits every object of the AST with the CTE names in scope there. A CTE name is in scope only inside the query node
 * that defines it: `SELECT * FROM (WITH duckdb_tables AS (...) SELECT ...), duckdb_tables` must not pass the second,
 * out-of-scope `duckdb_tables` (a system view) off as the CTE.
 */
function collect(node: unknown, scope: ReadonlySet<string>, visit: (node: AstNode, cteNames: ReadonlySet<string>) => void): void {
  if (Array.isArray(node)) {
    for (const item of node) collect(item, scope, visit);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const record = node as AstNode;
  let inner = scope;
  const map = (record['cte_map'] as AstNode | undefined)?.['map'];
  if (Array.isArray(map) && map.length > 0) {
    const names = new Set(scope);
    for (const entry of map as AstNode[]) names.add(text(entry['key']).toLowerCase());
    inner = names;
  }
  visit(record, inner);
  for (const value of Object.values(record)) collect(value, inner, visit);
}

/** A string field of the AST ('' when absent or not a string). */
function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function statementKeyword(sql: string): string {
  const word = /[A-Za-z_]+/.exec(sql.replace(/--[^\n]*|\/\*[\s\S]*?\*\//g, ' '))?.[0];
  return word === undefined ? 'a non-SELECT statement' : `${word.toUpperCase()}`;
}

function firstLine(error: unknown): string {
  return String((error as Error).message ?? error).split('\n')[0] ?? '';
}

/** The statement as shown in errors: at most 500 characters. */
export function truncate(sql: string): string {
  return sql.length <= 500 ? sql : `${sql.slice(0, 500)}…`;
}
