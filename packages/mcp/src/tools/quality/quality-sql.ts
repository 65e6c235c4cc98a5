import type { IcebergType } from '@tributary/lakehouse';

/**
 * SQL generation for the `profile` and `check` tools. Every identifier comes from table metadata (the caller checks
 * names against the schema first) and is quoted here; every value an agent supplies (bounds, patterns) travels as a
 * bound parameter, never as SQL text.
 */

/**
 * How a column is profiled and which checks fit it.
 *
 * @example
 * ```ts
 * const kind: ColumnKind = columnKind('decimal(12, 2)'); // 'numeric'
 * ```
 */
export type ColumnKind = 'numeric' | 'temporal' | 'text' | 'boolean' | 'binary' | 'nested';

/**
 * The {@link ColumnKind} of an Iceberg type. `time` and `uuid` count as text (ordered, no histogram).
 *
 * @example
 * ```ts
 * columnKind('timestamptz'); // 'temporal'
 * columnKind({ type: 'list', 'element-id': 3, element: 'string', 'element-required': false }); // 'nested'
 * ```
 */
export function columnKind(type: IcebergType): ColumnKind {
  if (typeof type !== 'string') return 'nested';
  switch (type) {
    case 'int':
    case 'long':
    case 'float':
    case 'double':
      return 'numeric';
    case 'date':
    case 'timestamp':
    case 'timestamptz':
      return 'temporal';
    case 'string':
    case 'uuid':
    case 'time':
      return 'text';
    case 'boolean':
      return 'boolean';
    case 'binary':
      return 'binary';
    default:
      return type.startsWith('decimal') ? 'numeric' : 'binary'; // fixed[L] is bytes
  }
}

/**
 * `"name"` with embedded double quotes doubled: the only way a name reaches SQL.
 *
 * @example
 * ```ts
 * quoteIdentifier('we"ird'); // '"we""ird"'
 * ```
 */
export function quoteIdentifier(name: string): string {
  if (name.includes('\u0000')) throw new Error('identifier contains a NUL character');
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * `"namespace"."table"` for a `namespace.table` name as the SQL engine loads it (one namespace level).
 *
 * @example
 * ```ts
 * quoteTable('silver.orders'); // '"silver"."orders"'
 * ```
 */
export function quoteTable(name: string): string {
  const dot = name.indexOf('.');
  if (dot <= 0 || dot === name.length - 1) throw new Error(`expected "namespace.table", got ${JSON.stringify(name)}`);
  return `${quoteIdentifier(name.slice(0, dot))}.${quoteIdentifier(name.slice(dot + 1))}`;
}

/** Collects bound values and hands out their `$n` placeholders. */
class Params {
  readonly values: (string | number | boolean | null)[] = [];

  /** The placeholder of a new parameter holding `value`. */
  add(value: string | number | boolean | null): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/**
 * One column as the generators see it: its name in the schema, its Iceberg type.
 *
 * @example
 * ```ts
 * const column: ColumnRef = { name: 'amount', type: 'decimal(12, 2)' };
 * ```
 */
export interface ColumnRef {
  readonly name: string;
  readonly type: IcebergType;
}

/**
 * The column as a DOUBLE for histograms: numbers as themselves, dates and timestamps as microseconds since the epoch
 * (UTC: a date is its midnight).
 */
function histogramExpression(column: ColumnRef): string | undefined {
  const c = quoteIdentifier(column.name);
  switch (columnKind(column.type)) {
    case 'numeric':
      return `CAST(${c} AS DOUBLE)`;
    case 'temporal':
      return column.type === 'date' ? `CAST(epoch_us(CAST(${c} AS TIMESTAMP)) AS DOUBLE)` : `CAST(epoch_us(${c}) AS DOUBLE)`;
    default:
      return undefined;
  }
}

/**
 * Result column names of the profile statistics query for the column at `index`.
 *
 * @example
 * ```ts
 * statName(0, 'min'); // 'c0_min'
 * ```
 */
export const statName = (index: number, stat: string): string => `c${index}_${stat}`;

/**
 * The first profile query: one row with `row_count` and, per column, non-null count, distinct count (a HyperLogLog
 * estimate, or exact on request), min / max, mean / stddev (numbers) and the finite range the histogram is built on.
 *
 * @example
 * ```ts
 * profileStatsSql('silver.orders', [{ name: 'total', type: 'double' }]);
 * // SELECT count(*) AS "row_count", count("total") AS "c0_non_null", ... FROM "silver"."orders"
 * ```
 */
export function profileStatsSql(table: string, columns: readonly ColumnRef[], distinct: 'estimate' | 'exact' = 'estimate'): string {
  const select = ['count(*) AS "row_count"'];
  columns.forEach((column, i) => {
    const c = quoteIdentifier(column.name);
    const kind = columnKind(column.type);
    const as = (stat: string): string => ` AS ${quoteIdentifier(statName(i, stat))}`;
    select.push(`count(${c})${as('non_null')}`);
    if (kind === 'nested') return; // counts only: the values are JSON text of arbitrary shape
    select.push(`${distinct === 'exact' ? `count(DISTINCT ${c})` : `approx_count_distinct(${c})`}${as('distinct')}`);
    if (kind === 'numeric' || kind === 'temporal' || kind === 'text') {
      select.push(`min(${c})${as('min')}`, `max(${c})${as('max')}`);
    }
    if (kind === 'numeric') {
      select.push(`avg(CAST(${c} AS DOUBLE))${as('mean')}`, `stddev_samp(CAST(${c} AS DOUBLE))${as('stddev')}`);
    }
    const x = histogramExpression(column);
    if (x !== undefined) {
      // NaN and ±Infinity would make equal-width bins meaningless; they are left out of the histogram only.
      select.push(`min(${x}) FILTER (WHERE isfinite(${x}))${as('lo')}`, `max(${x}) FILTER (WHERE isfinite(${x}))${as('hi')}`);
    }
  });
  return `SELECT ${select.join(', ')} FROM ${quoteTable(table)}`;
}

/**
 * A histogram to compute: `bins` equal-width bins of width `width` starting at `lo` (the last bin is closed).
 *
 * @example
 * ```ts
 * const plan: HistogramPlan = { lo: 0, width: 10, bins: 10 }; // [0,10) [10,20) ... [90,100]
 * ```
 */
export interface HistogramPlan {
  readonly lo: number;
  readonly width: number;
  readonly bins: number;
}

/**
 * The second profile query: one row with, per column, its `top` values (most frequent first, ties by value) as a
 * list of `{ value, count }` and its histogram as a list of `{ bin, count }` (non-empty bins only).
 *
 * @example
 * ```ts
 * const { sql, params } = profileDistributionSql('silver.orders', [{ column: { name: 'qty', type: 'int' }, topK: 5, histogram: { lo: 0, width: 10, bins: 10 } }]);
 * ```
 */
export function profileDistributionSql(
  table: string,
  plans: readonly { readonly column: ColumnRef; readonly topK: number; readonly histogram: HistogramPlan | undefined }[],
): { sql: string; params: (string | number | boolean | null)[] } {
  const params = new Params();
  const from = quoteTable(table);
  const select: string[] = [];
  plans.forEach(({ column, topK, histogram }, i) => {
    const c = quoteIdentifier(column.name);
    if (topK > 0) {
      select.push(
        `(SELECT list({'value': v, 'count': n} ORDER BY n DESC, v ASC) FROM ` +
          `(SELECT ${c} AS v, count(*) AS n FROM ${from} WHERE ${c} IS NOT NULL GROUP BY 1 ORDER BY n DESC, v ASC LIMIT ${integer(topK)})) ` +
          `AS ${quoteIdentifier(statName(i, 'top'))}`,
      );
    }
    const x = histogramExpression(column);
    if (histogram !== undefined && x !== undefined) {
      const lo = params.add(histogram.lo);
      const width = params.add(histogram.width);
      const last = integer(histogram.bins - 1);
      select.push(
        `(SELECT list({'bin': b, 'count': n} ORDER BY b) FROM ` +
          `(SELECT least(CAST(floor((${x} - CAST(${lo} AS DOUBLE)) / CAST(${width} AS DOUBLE)) AS BIGINT), ${last}) AS b, count(*) AS n ` +
          `FROM ${from} WHERE isfinite(${x}) GROUP BY 1)) AS ${quoteIdentifier(statName(i, 'histogram'))}`,
      );
    }
  });
  if (select.length === 0) select.push('NULL AS "nothing"');
  return { sql: `SELECT ${select.join(', ')}`, params: params.values };
}

/**
 * The DuckDB type a bound value is cast to so it compares with a column of this type.
 *
 * @example
 * ```ts
 * duckdbType('timestamptz'); // 'TIMESTAMPTZ'
 * ```
 */
export function duckdbType(type: IcebergType): string {
  if (typeof type !== 'string') return 'VARCHAR';
  switch (type) {
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
    case 'uuid':
      return 'UUID';
    case 'boolean':
      return 'BOOLEAN';
    case 'string':
      return 'VARCHAR';
    default: {
      const decimal = /^decimal\((\d+),\s*(\d+)\)$/.exec(type);
      return decimal === null ? 'BLOB' : `DECIMAL(${decimal[1]}, ${decimal[2]})`;
    }
  }
}

/**
 * A row-level check turned into SQL: the condition a failing row meets.
 *
 * @example
 * ```ts
 * const plan: RowCheckPlan = { kind: 'not_null', column: { name: 'customer', type: 'string' } };
 * ```
 */
export type RowCheckPlan =
  | { readonly kind: 'not_null'; readonly column: ColumnRef }
  | { readonly kind: 'range'; readonly column: ColumnRef; readonly min: string | number | undefined; readonly max: string | number | undefined }
  | { readonly kind: 'regex'; readonly column: ColumnRef; readonly pattern: string; readonly fullMatch: boolean };

/** The SQL condition true for a row that fails the check (NULL or false otherwise). */
function failingCondition(plan: RowCheckPlan, params: Params): string {
  const c = quoteIdentifier(plan.column.name);
  switch (plan.kind) {
    case 'not_null':
      return `${c} IS NULL`;
    case 'range': {
      const type = duckdbType(plan.column.type);
      const parts: string[] = [];
      // Numbers compare as numbers; other bounds are cast to the column's type (dates and times as ISO text).
      const bound = (value: string | number): string =>
        typeof value === 'number' ? `CAST(${params.add(value)} AS DOUBLE)` : `CAST(${params.add(value)} AS ${type})`;
      if (plan.min !== undefined) parts.push(`${c} < ${bound(plan.min)}`);
      if (plan.max !== undefined) parts.push(`${c} > ${bound(plan.max)}`);
      return parts.length === 0 ? 'FALSE' : `(${parts.join(' OR ')})`;
    }
    case 'regex': {
      const fn = plan.fullMatch ? 'regexp_full_match' : 'regexp_matches';
      return `NOT ${fn}(CAST(${c} AS VARCHAR), ${params.add(plan.pattern)})`;
    }
  }
}

/**
 * A check as the single check query computes it.
 *
 * @example
 * ```ts
 * const plan: CheckPlan = { kind: 'row_count_table', source: 'bronze.orders' };
 * ```
 */
export type CheckPlan =
  | RowCheckPlan
  | { readonly kind: 'unique'; readonly columns: readonly ColumnRef[] }
  | { readonly kind: 'row_count_table'; readonly source: string }
  | { readonly kind: 'freshness_column'; readonly column: ColumnRef }
  | { readonly kind: 'none' };

/**
 * Result column names of the check query for the check at `index`.
 *
 * @example
 * ```ts
 * checkName(2, 'failing'); // 'k2_failing'
 * ```
 */
export const checkName = (index: number, what: string): string => `k${index}_${what}`;

/**
 * A struct key for the duplicate count that no key column of a unique check already uses.
 *
 * @example
 * ```ts
 * countKey([{ name: 'row_count', type: 'long' }]); // '_row_count'
 * ```
 */
export function countKey(columns: readonly ColumnRef[]): string {
  const taken = new Set(columns.map((c) => c.name.toLowerCase()));
  let key = 'row_count';
  while (taken.has(key)) key = `_${key}`;
  return key;
}

/**
 * One query computing every check of a `check` call over `table`, as one row: `row_count`, and per check its
 * failing count, up to `examples` failing rows (`list` of row structs), duplicate groups (unique), the source count
 * (row count against another table) or the newest value (freshness).
 *
 * @example
 * ```ts
 * const { sql, params } = checkSql('silver.orders', [{ kind: 'not_null', column: { name: 'customer', type: 'string' } }], 5);
 * ```
 */
export function checkSql(table: string, plans: readonly CheckPlan[], examples: number): { sql: string; params: (string | number | boolean | null)[] } {
  const params = new Params();
  const from = quoteTable(table);
  const select = ['count(*) AS "row_count"'];
  const limit = integer(examples);
  plans.forEach((plan, i) => {
    const as = (what: string): string => ` AS ${quoteIdentifier(checkName(i, what))}`;
    switch (plan.kind) {
      case 'not_null':
      case 'range':
      case 'regex': {
        const condition = failingCondition(plan, params);
        select.push(`count(*) FILTER (WHERE ${condition})${as('failing')}`);
        if (examples > 0) select.push(`(SELECT list(e) FROM (SELECT * FROM ${from} WHERE ${condition} LIMIT ${limit}) AS e)${as('examples')}`);
        return;
      }
      case 'unique': {
        const keys = plan.columns.map((c) => quoteIdentifier(c.name));
        // As in SQL's UNIQUE, a key with a NULL part is not compared (not_null covers missing values).
        const groups = `SELECT ${keys.join(', ')}, count(*) AS n FROM ${from} WHERE ${keys.map((k) => `${k} IS NOT NULL`).join(' AND ')} GROUP BY ALL HAVING count(*) > 1`;
        select.push(`(SELECT count(*) FROM (${groups}))${as('groups')}`, `(SELECT coalesce(sum(n), 0) FROM (${groups}))${as('failing')}`);
        if (examples > 0) {
          const fields = [...plan.columns.map((c, j) => `'${c.name.replaceAll("'", "''")}': ${keys[j]!}`), `'${countKey(plan.columns)}': n`];
          select.push(`(SELECT list({${fields.join(', ')}} ORDER BY n DESC) FROM (${groups} ORDER BY n DESC LIMIT ${limit}))${as('examples')}`);
        }
        return;
      }
      case 'row_count_table':
        select.push(`(SELECT count(*) FROM ${quoteTable(plan.source)})${as('source')}`);
        return;
      case 'freshness_column':
        select.push(`max(${quoteIdentifier(plan.column.name)})${as('newest')}`);
        return;
      case 'none':
        return;
    }
  });
  return { sql: `SELECT ${select.join(', ')} FROM ${from}`, params: params.values };
}

/** A non-negative integer as SQL text (LIMIT and bin counts are computed by the tool, never taken as text). */
function integer(value: number): string {
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`expected a non-negative integer, got ${value}`);
  return String(value);
}
