import type { SqlEngine, SqlRow } from '@tributary/sql';
import { ToolError } from '../../errors.js';
import type { KafkaAccess } from '../../server/tool-context.js';
import { capItems, toJson } from '../../server/tool-result.js';
import type { JsonValue } from '../../server/tool-result.js';
import { checkName, checkSql, columnKind } from './quality-sql.js';
import type { CheckPlan, ColumnRef } from './quality-sql.js';
import { fieldOf } from './table-read.js';
import type { PinnedTable } from './table-read.js';

const TOOL = 'check';

/**
 * A row-count source: another table, a Kafka topic, a SQL count or a fixed number.
 *
 * @example
 * ```ts
 * const source: RowCountSource = { topic: 'shop.public.orders' };
 * ```
 */
export type RowCountSource = { readonly table: string } | { readonly topic: string } | { readonly sql: string } | { readonly expected: number };

/**
 * One check as the agent sent it (after schema validation).
 *
 * @example
 * ```ts
 * const check: CheckInput = { kind: 'range', column: 'amount', min: 0, max: 10_000 };
 * ```
 */
export type CheckInput =
  | { readonly kind: 'not_null'; readonly column: string }
  | { readonly kind: 'unique'; readonly columns: readonly string[] }
  | { readonly kind: 'range'; readonly column: string; readonly min?: number | string | undefined; readonly max?: number | string | undefined }
  | { readonly kind: 'regex'; readonly column: string; readonly pattern: string; readonly full_match: boolean }
  | {
      readonly kind: 'row_count';
      readonly source: RowCountSource;
      readonly tolerance: number;
      readonly tolerance_fraction: number;
    }
  | { readonly kind: 'freshness'; readonly column?: string | undefined; readonly max_age_ms: number };

/**
 * What checking needs besides the pinned table.
 *
 * @example
 * ```ts
 * const env: CheckEnvironment = { engine, tables: ['silver.orders'], kafka: undefined, maxBytes: 262_144, examples: 5, signal, now: Date.now() };
 * ```
 */
export interface CheckEnvironment {
  readonly engine: SqlEngine;
  /** Allowlisted tables (row-count sources must be among them). */
  readonly tables: readonly string[];
  readonly kafka: KafkaAccess | undefined;
  readonly maxBytes: number;
  readonly examples: number;
  readonly signal: AbortSignal;
  /** The time freshness is measured against (ms since the epoch). */
  readonly now: number;
}

/**
 * The outcome of one check.
 *
 * @example
 * ```ts
 * const failed = results.filter((result: CheckResult) => result['passed'] !== true);
 * ```
 */
export type CheckResult = Record<string, JsonValue>;

const num = (value: JsonValue | undefined): number => {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return Number(value);
  return 0;
};

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** A range bound in the form that compares with the column (numbers for numbers, ISO text for dates and times). */
function normaliseBound(column: ColumnRef, value: number | string, side: string): number | string {
  const kind = columnKind(column.type);
  const where = `range on ${JSON.stringify(column.name)}: ${side}`;
  if (kind === 'numeric') {
    if (typeof value !== 'number') throw new ToolError('INVALID_CHECK', `${where} must be a number for a ${JSON.stringify(toJson(column.type))} column.`, { tool: TOOL });
    return value;
  }
  if (kind === 'temporal') {
    const ms = typeof value === 'number' ? value : DATE.test(value) ? Date.parse(`${value}T00:00:00Z`) : Date.parse(value);
    if (typeof value === 'string' && !DATE.test(value) && !/(Z|[+-]\d{2}:?\d{2})$/i.test(value)) {
      throw new ToolError('INVALID_CHECK', `${where} must carry a zone (e.g. "2026-11-22T10:00:00Z"), be a date "YYYY-MM-DD", or be ms since the epoch.`, { tool: TOOL });
    }
    if (!Number.isFinite(ms)) throw new ToolError('INVALID_CHECK', `${where} is not a date or date-time.`, { tool: TOOL });
    const iso = new Date(ms).toISOString();
    return column.type === 'date' ? iso.slice(0, 10) : iso;
  }
  if (kind === 'text') {
    if (typeof value !== 'string') throw new ToolError('INVALID_CHECK', `${where} must be a string for a ${JSON.stringify(toJson(column.type))} column.`, { tool: TOOL });
    return value;
  }
  throw new ToolError('INVALID_CHECK', `range does not apply to ${JSON.stringify(column.name)} (${JSON.stringify(toJson(column.type))}).`, { tool: TOOL });
}

const compareBounds = (a: number | string, b: number | string): number => (typeof a === 'number' && typeof b === 'number' ? a - b : String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0);

/**
 * Turns the checks into the plans of the single check query, refusing columns that do not exist or do not fit.
 *
 * @example
 * ```ts
 * const plans = planChecks(pinned, [{ kind: 'not_null', column: 'customer' }], ['silver.orders']);
 * ```
 */
export function planChecks(pinned: PinnedTable, checks: readonly CheckInput[], tables: readonly string[]): CheckPlan[] {
  const name = pinned.table.name;
  const column = (n: string): ColumnRef => fieldOf(pinned.schema, n, TOOL, name);
  return checks.map((check): CheckPlan => {
    switch (check.kind) {
      case 'not_null':
        return { kind: 'not_null', column: column(check.column) };
      case 'unique': {
        if (new Set(check.columns).size !== check.columns.length) {
          throw new ToolError('INVALID_CHECK', 'unique: a column is listed twice.', { tool: TOOL });
        }
        return { kind: 'unique', columns: check.columns.map(column) };
      }
      case 'range': {
        const ref = column(check.column);
        if (check.min === undefined && check.max === undefined) throw new ToolError('INVALID_CHECK', 'range needs min, max or both.', { tool: TOOL });
        const min = check.min === undefined ? undefined : normaliseBound(ref, check.min, 'min');
        const max = check.max === undefined ? undefined : normaliseBound(ref, check.max, 'max');
        if (min !== undefined && max !== undefined && compareBounds(min, max) > 0) {
          throw new ToolError('INVALID_RANGE', `range on ${JSON.stringify(ref.name)}: min (${String(min)}) is above max (${String(max)}).`, { tool: TOOL });
        }
        return { kind: 'range', column: ref, min, max };
      }
      case 'regex': {
        const ref = column(check.column);
        const kind = columnKind(ref.type);
        if (kind === 'nested' || kind === 'binary') {
          throw new ToolError('INVALID_CHECK', `regex does not apply to ${JSON.stringify(ref.name)} (${kind} values).`, { tool: TOOL });
        }
        return { kind: 'regex', column: ref, pattern: check.pattern, fullMatch: check.full_match };
      }
      case 'row_count': {
        if ('table' in check.source) {
          if (!tables.includes(check.source.table)) {
            throw new ToolError('UNKNOWN_TABLE', `Table ${JSON.stringify(check.source.table)} is not available. Call list_tables for the tables you may use.`, {
              tool: TOOL,
            });
          }
          return { kind: 'row_count_table', source: check.source.table };
        }
        return { kind: 'none' };
      }
      case 'freshness': {
        if (check.column === undefined) return { kind: 'none' };
        const ref = column(check.column);
        if (columnKind(ref.type) !== 'temporal') {
          throw new ToolError('INVALID_CHECK', `freshness needs a date or timestamp column; ${JSON.stringify(ref.name)} is ${JSON.stringify(toJson(ref.type))}.`, {
            tool: TOOL,
          });
        }
        return { kind: 'freshness_column', column: ref };
      }
    }
  });
}

/**
 * Refuses a pattern DuckDB (RE2) cannot compile — look-arounds and back-references included — before it runs over
 * the table, so the agent learns which pattern is wrong.
 *
 * @example
 * ```ts
 * await validatePatterns(engine, ['^[a-z]+@[a-z]+\\.[a-z]+$'], signal);
 * ```
 */
export async function validatePatterns(engine: SqlEngine, patterns: readonly string[], signal: AbortSignal): Promise<void> {
  if (patterns.length === 0) return;
  // One query for all of them (each query opens a fresh sandbox); only when it fails, one by one to name the culprit.
  const all = patterns.map((_, i) => `regexp_matches('', $${i + 1}) AS p${i}`).join(', ');
  try {
    await engine.query(`SELECT ${all}`, { params: [...patterns], signal });
    return;
  } catch {
    // fall through
  }
  for (const pattern of patterns) {
    try {
      await engine.query("SELECT regexp_matches('', $1) AS ok", { params: [pattern], signal });
    } catch (error) {
      const detail = String((error as Error).message ?? error).split('\n')[0];
      throw new ToolError('INVALID_REGEX', `Pattern ${JSON.stringify(pattern.slice(0, 200))} is not a valid RE2 regular expression: ${detail}`, { tool: TOOL });
    }
  }
}

/** The row count a source reports, and what that count means. */
async function sourceCount(source: RowCountSource, row: SqlRow, index: number, env: CheckEnvironment): Promise<{ count: number; basis: string; note?: string }> {
  if ('table' in source) return { count: num(row[checkName(index, 'source')]), basis: `rows of table ${source.table} (current snapshot)` };
  if ('expected' in source) return { count: source.expected, basis: 'the expected count given' };
  if ('sql' in source) {
    const result = await env.engine.query(source.sql, { signal: env.signal, maxRows: 2 });
    const first = result.rows[0];
    const values = first === undefined ? [] : Object.values(first);
    const value = values[0];
    if (result.rows.length !== 1 || values.length !== 1 || !(typeof value === 'number' ? Number.isSafeInteger(value) : typeof value === 'string' && /^-?\d+$/.test(value))) {
      throw new ToolError('INVALID_CHECK', 'row_count: the source sql must return exactly one row with one integer column, e.g. SELECT count(*) FROM ns.t.', {
        tool: TOOL,
      });
    }
    return { count: Number(value), basis: 'the source sql' };
  }
  const kafka = env.kafka;
  if (kafka === undefined) throw new ToolError('KAFKA_NOT_CONFIGURED', 'row_count against a topic needs Kafka, which this server has not configured.', { tool: TOOL });
  const admin = await kafka.admin();
  const allowed = kafka.topics;
  const topics = await admin.listTopics();
  if (!topics.includes(source.topic) || (allowed !== undefined && !allowed.includes(source.topic))) {
    throw new ToolError('UNKNOWN_TOPIC', `Topic ${JSON.stringify(source.topic)} is not available. Call list_topics for the topics you may read.`, { tool: TOOL });
  }
  const description = await admin.describeTopic(source.topic);
  const policy = description.configs['cleanup.policy'] ?? 'delete';
  const note =
    'Kafka count = sum over partitions of (latest - earliest offset): the offsets still retained. ' +
    (policy.includes('compact')
      ? 'The topic is compacted, so this is an upper bound: compaction removes superseded records without reusing their offsets (and transaction markers take offsets too).'
      : `Records older than the topic's retention are gone from it (retention.ms ${description.configs['retention.ms'] ?? 'unknown'}); transaction markers take offsets too.`);
  return { count: description.records, basis: `offset span of topic ${source.topic} (cleanup.policy ${policy})`, note };
}

/**
 * Runs the checks: one query over the pinned table (plus row-count sources), then one result per check.
 *
 * @example
 * ```ts
 * const { results } = await runChecks(pinned, [{ kind: 'unique', columns: ['order_id'] }], env);
 * ```
 */
export async function runChecks(pinned: PinnedTable, checks: readonly CheckInput[], env: CheckEnvironment): Promise<{ results: CheckResult[]; rowCount: number; snapshotId: string | null }> {
  const name = pinned.table.name;
  const plans = planChecks(pinned, checks, env.tables);
  const patterns = checks.flatMap((c) => (c.kind === 'regex' ? [c.pattern] : []));
  if (patterns.length > 0) await validatePatterns(env.engine, patterns, env.signal);
  const { sql, params } = checkSql(name, plans, env.examples);
  const result = await env.engine.query(sql, {
    signal: env.signal,
    params,
    ...(pinned.asOf === undefined ? {} : { asOf: pinned.asOf }),
  });
  const row: SqlRow = result.rows[0] ?? {};
  const rowCount = num(row['row_count']);
  const exampleBytes = Math.max(1024, Math.floor(env.maxBytes / 2 / Math.max(1, checks.length)));
  const examplesOf = (index: number): { examples: JsonValue[]; examples_truncated: boolean } => {
    const raw = row[checkName(index, 'examples')];
    const { kept, truncated } = capItems(Array.isArray(raw) ? raw : [], exampleBytes);
    return { examples: kept, examples_truncated: truncated };
  };

  const results: CheckResult[] = [];
  for (const [index, check] of checks.entries()) {
    const failing = num(row[checkName(index, 'failing')]);
    switch (check.kind) {
      case 'not_null':
        results.push({ index, kind: check.kind, column: check.column, passed: failing === 0, observed: { null_count: failing, row_count: rowCount }, failing_count: failing, ...examplesOf(index) });
        break;
      case 'range':
        results.push({
          index,
          kind: check.kind,
          column: check.column,
          passed: failing === 0,
          observed: { out_of_range_count: failing, row_count: rowCount, note: 'NULL values are not compared (see not_null).' },
          failing_count: failing,
          ...examplesOf(index),
        });
        break;
      case 'regex':
        results.push({
          index,
          kind: check.kind,
          column: check.column,
          passed: failing === 0,
          observed: { non_matching_count: failing, row_count: rowCount, match: check.full_match ? 'full' : 'partial', note: 'NULL values are not matched (see not_null).' },
          failing_count: failing,
          ...examplesOf(index),
        });
        break;
      case 'unique': {
        const groups = num(row[checkName(index, 'groups')]);
        results.push({
          index,
          kind: check.kind,
          columns: [...check.columns],
          passed: groups === 0,
          observed: {
            duplicate_keys: groups,
            rows_with_duplicate_keys: failing,
            row_count: rowCount,
            note: 'Rows whose key has a NULL part are not compared, as in SQL UNIQUE (see not_null).',
          },
          failing_count: failing,
          ...examplesOf(index),
        });
        break;
      }
      case 'row_count': {
        const source = await sourceCount(check.source, row, index, env);
        const difference = rowCount - source.count;
        const allowed = Math.max(check.tolerance, Math.floor(check.tolerance_fraction * source.count));
        results.push({
          index,
          kind: check.kind,
          passed: Math.abs(difference) <= allowed,
          observed: {
            table_rows: rowCount,
            source_rows: source.count,
            source: source.basis,
            difference,
            allowed_difference: allowed,
            ...(source.note === undefined ? {} : { note: source.note }),
          },
          failing_count: null,
        });
        break;
      }
      case 'freshness': {
        let newest: number | undefined;
        let basis: string;
        if (check.column === undefined) {
          basis = 'commit time of the snapshot read';
          newest = pinned.snapshot?.['timestamp-ms'];
        } else {
          basis = `newest value of ${check.column}`;
          const value = row[checkName(index, 'newest')];
          if (typeof value === 'string') {
            const ms = DATE.test(value) ? Date.parse(`${value}T00:00:00Z`) : Date.parse(value);
            if (Number.isFinite(ms)) newest = ms;
          }
        }
        const age = newest === undefined ? null : env.now - newest;
        results.push({
          index,
          kind: check.kind,
          ...(check.column === undefined ? {} : { column: check.column }),
          passed: age !== null && age <= check.max_age_ms,
          observed: {
            basis,
            newest: newest === undefined ? null : new Date(newest).toISOString(),
            checked_at: new Date(env.now).toISOString(),
            age_ms: age,
            max_age_ms: check.max_age_ms,
            ...(age === null ? { note: 'No value to measure: the table has no snapshot or the column has no non-null value.' } : {}),
            ...(age !== null && age < 0 ? { note: 'The newest value is in the future (clock skew or bad data).' } : {}),
          },
          failing_count: null,
        });
        break;
      }
    }
  }
  return { results, rowCount, snapshotId: result.snapshots[name] ?? null };
}
