import type { SqlEngine, SqlRow } from '@tributary/sql';
import { toJson } from '../../server/tool-result.js';
import type { JsonValue } from '../../server/tool-result.js';
import { columnKind, profileDistributionSql, profileStatsSql, statName } from './quality-sql.js';
import type { ColumnRef, HistogramPlan } from './quality-sql.js';
import type { PinnedTable } from './table-read.js';

/**
 * What one profile call computes.
 *
 * @example
 * ```ts
 * const request: ProfileRequest = { columns: [{ name: 'amount', type: 'double' }], topK: 5, bins: 10, distinct: 'estimate', signal };
 * ```
 */
export interface ProfileRequest {
  readonly columns: readonly ColumnRef[];
  readonly topK: number;
  readonly bins: number;
  /** `estimate` (HyperLogLog, cheap) or `exact` (`count(DISTINCT ...)`, memory grows with the distinct values). */
  readonly distinct: 'estimate' | 'exact';
  readonly signal: AbortSignal;
}

/**
 * The profile of a table: its row count and one entry per column.
 *
 * @example
 * ```ts
 * const { rowCount, columns } = await profileTable(engine, pinned, request);
 * ```
 */
export interface TableProfile {
  readonly rowCount: number;
  readonly columns: Record<string, JsonValue>[];
  readonly snapshotId: string | null;
}

const asNumber = (value: JsonValue | undefined): number | null => {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && /^-?\d+(\.\d+)?(e[+-]?\d+)?$/i.test(value)) return Number(value);
  return null;
};

/** Longest text value a profile shows (min / max / top values); longer ones are cut and marked. */
const MAX_VALUE_CHARS = 200;

/** A value as a profile shows it: text beyond {@link MAX_VALUE_CHARS} characters cut, with `…` appended. */
function clip(value: JsonValue | undefined, clipped: { any: boolean }): JsonValue {
  if (typeof value !== 'string' || value.length <= MAX_VALUE_CHARS) return value ?? null;
  clipped.any = true;
  return `${value.slice(0, MAX_VALUE_CHARS)}…`;
}

/**
 * Equal-width bins over `[lo, hi]`: `bins` of them, or one when every value is the same (or the range is too narrow
 * for the arithmetic to tell bins apart).
 *
 * @example
 * ```ts
 * histogramPlan(0, 100, 10); // { lo: 0, width: 10, bins: 10 }
 * ```
 */
export function histogramPlan(lo: number, hi: number, bins: number): HistogramPlan {
  const width = (hi - lo) / bins;
  if (!(width > 0) || !Number.isFinite(width) || lo + width === lo) return { lo, width: 1, bins: 1 };
  return { lo, width, bins };
}

/** Bin edges as numbers, or ISO-8601 for dates and timestamps (the histogram runs on microseconds). */
function edge(value: number, temporal: boolean): JsonValue {
  if (!temporal) return value;
  const date = new Date(value / 1000);
  return Number.isNaN(date.getTime()) ? value : date.toISOString();
}

/**
 * Profiles `request.columns` of the pinned table with two queries on the same snapshot: the statistics, then the top
 * values and histograms (whose bins need the range the first query found).
 *
 * @example
 * ```ts
 * const profile = await profileTable(engine, await pinTable(context, 'profile', 'silver.orders', {}), request);
 * ```
 */
export async function profileTable(engine: SqlEngine, pinned: PinnedTable, request: ProfileRequest): Promise<TableProfile> {
  const name = pinned.table.name;
  const base = { signal: request.signal, ...(pinned.asOf === undefined ? {} : { asOf: pinned.asOf }) };
  const statsResult = await engine.query(profileStatsSql(name, request.columns, request.distinct), base);
  const stats: SqlRow = statsResult.rows[0] ?? {};
  const rowCount = asNumber(stats['row_count']) ?? 0;

  const plans = request.columns.map((column, i) => {
    const kind = columnKind(column.type);
    const topK = kind === 'nested' || kind === 'binary' ? 0 : request.topK;
    const lo = asNumber(stats[statName(i, 'lo')]);
    const hi = asNumber(stats[statName(i, 'hi')]);
    const histogram = request.bins > 0 && lo !== null && hi !== null ? histogramPlan(lo, hi, request.bins) : undefined;
    return { column, topK, histogram };
  });
  let distribution: SqlRow = {};
  if (plans.some((p) => p.topK > 0 || p.histogram !== undefined)) {
    const { sql, params } = profileDistributionSql(name, plans);
    distribution = (await engine.query(sql, { ...base, params })).rows[0] ?? {};
  }

  const columns = plans.map(({ column, histogram }, i) => {
    const kind = columnKind(column.type);
    const clipped = { any: false };
    const nonNull = asNumber(stats[statName(i, 'non_null')]) ?? 0;
    const nulls = rowCount - nonNull;
    const out: Record<string, JsonValue> = {
      name: column.name,
      type: toJson(column.type),
      kind,
      row_count: rowCount,
      null_count: nulls,
      null_fraction: rowCount === 0 ? null : nulls / rowCount,
    };
    if (kind === 'nested') return out;
    out[request.distinct === 'exact' ? 'distinct_count' : 'distinct_estimate'] = stats[statName(i, 'distinct')] ?? null;
    if (kind === 'numeric' || kind === 'temporal' || kind === 'text') {
      out['min'] = clip(stats[statName(i, 'min')], clipped);
      out['max'] = clip(stats[statName(i, 'max')], clipped);
    }
    if (kind === 'numeric') {
      out['mean'] = stats[statName(i, 'mean')] ?? null;
      out['stddev'] = stats[statName(i, 'stddev')] ?? null;
    }
    const top = distribution[statName(i, 'top')];
    if (top !== undefined) {
      out['top_values'] = (Array.isArray(top) ? top : []).map((entry) => {
        const { value, count } = entry as { value: JsonValue; count: JsonValue };
        return { value: clip(value, clipped), count };
      });
    }
    if (histogram !== undefined) {
      const counts = new Map<number, number>();
      const raw = distribution[statName(i, 'histogram')];
      for (const entry of Array.isArray(raw) ? raw : []) {
        const { bin, count } = entry as { bin: JsonValue; count: JsonValue };
        counts.set(asNumber(bin) ?? -1, asNumber(count) ?? 0);
      }
      const temporal = kind === 'temporal';
      out['histogram'] = Array.from({ length: histogram.bins }, (_, b) => ({
        lower: edge(histogram.lo + b * histogram.width, temporal),
        upper: edge(b === histogram.bins - 1 ? (asNumber(stats[statName(i, 'hi')]) ?? histogram.lo) : histogram.lo + (b + 1) * histogram.width, temporal),
        count: counts.get(b) ?? 0,
      }));
    }
    if (clipped.any) out['values_clipped'] = `text values longer than ${MAX_VALUE_CHARS} characters are cut and end with …`;
    return out;
  });
  return { rowCount, columns, snapshotId: statsResult.snapshots[name] ?? null };
}
