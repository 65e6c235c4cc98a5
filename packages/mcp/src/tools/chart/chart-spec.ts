import type { TopLevelSpec } from 'vega-lite';
import { ToolError } from '../../errors.js';
import type { JsonValue } from '../../server/tool-result.js';

/** The chart types `create_chart` draws. */
export const CHART_TYPES = ['line', 'bar', 'scatter', 'pie', 'histogram', 'heatmap', 'box', 'area', 'candlestick'] as const;

/**
 * One of {@link CHART_TYPES}.
 *
 * @example
 * ```ts
 * const type: ChartType = 'candlestick';
 * ```
 */
export type ChartType = (typeof CHART_TYPES)[number];

/** The encoding channels a request may name a column for. */
export const CHART_CHANNELS = ['x', 'y', 'color', 'size', 'theta', 'open', 'high', 'low', 'close', 'value', 'group'] as const;

/**
 * One of {@link CHART_CHANNELS}.
 *
 * @example
 * ```ts
 * const channel: ChartChannel = 'theta';
 * ```
 */
export type ChartChannel = (typeof CHART_CHANNELS)[number];

/**
 * How a column is drawn: numbers on a continuous scale, dates and times on a time scale, anything else as categories.
 *
 * @example
 * ```ts
 * const kind: FieldKind = 'temporal';
 * ```
 */
export type FieldKind = 'quantitative' | 'temporal' | 'nominal';

/**
 * A result column: its name and, for query results, its DuckDB type (inline data has none; its kind is inferred from
 * the values).
 *
 * @example
 * ```ts
 * const column: ChartColumn = { name: 'amount', type: 'DECIMAL(12,2)' };
 * ```
 */
export interface ChartColumn {
  readonly name: string;
  readonly type?: string | undefined;
}

/**
 * What to draw: the chart type, the columns of each channel, the title and the size in CSS pixels.
 *
 * @example
 * ```ts
 * const request: ChartRequest = { type: 'line', fields: { x: 'day', y: 'revenue', color: 'region' }, width: 640, height: 400 };
 * ```
 */
export interface ChartRequest {
  readonly type: ChartType;
  readonly fields: Partial<Record<ChartChannel, string>>;
  readonly title?: string | undefined;
  /** Histogram only: most bins. */
  readonly bins?: number | undefined;
  readonly width: number;
  readonly height: number;
}

/**
 * A Vega-Lite spec with the (prepared) rows inlined, and the rows it holds.
 *
 * @example
 * ```ts
 * const { spec, rows } = buildChartSpec(request, columns, data, 'create_chart');
 * ```
 */
export interface BuiltChart {
  readonly spec: TopLevelSpec;
  readonly rows: Record<string, JsonValue>[];
}

/**
 * Most distinct values a categorical channel may hold (colour: {@link MAX_SERIES}). Vega lays out every category's
 * label synchronously, on the event loop, where the call's timeout cannot interrupt it: 1 000 bars render in about
 * 1.5 s, 10 000 took 18 s (measured, decision 0014).
 */
export const MAX_CATEGORIES = 1_000;
/** Most distinct values of `color` (series, pie slices): each is a legend entry. */
export const MAX_SERIES = 200;

/** The font every chart names; the renderer loads exactly this font from a bundled file (no system fonts). */
export const CHART_FONT = 'DejaVu Sans';

/** Which channels each type requires and which it also accepts; anything else is refused, so typos do not pass silently. */
const CHANNELS: Record<ChartType, { required: readonly ChartChannel[]; optional: readonly ChartChannel[] }> = {
  line: { required: ['x', 'y'], optional: ['color'] },
  area: { required: ['x', 'y'], optional: ['color'] },
  bar: { required: ['x', 'y'], optional: ['color'] },
  scatter: { required: ['x', 'y'], optional: ['color', 'size'] },
  pie: { required: ['theta', 'color'], optional: [] },
  histogram: { required: ['x'], optional: ['color'] },
  heatmap: { required: ['x', 'y', 'value'], optional: [] },
  box: { required: ['value'], optional: ['group'] },
  candlestick: { required: ['x', 'open', 'high', 'low', 'close'], optional: [] },
};

/** Channels whose column must hold numbers. */
const NUMERIC: Partial<Record<ChartType, readonly ChartChannel[]>> = {
  line: ['y'],
  area: ['y'],
  bar: ['y'],
  scatter: ['size'],
  pie: ['theta'],
  histogram: ['x'],
  heatmap: ['value'],
  box: ['value'],
  candlestick: ['open', 'high', 'low', 'close'],
};

const NUMERIC_TYPE = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|REAL|DOUBLE|DECIMAL(\(.*\))?|NUMERIC(\(.*\))?|INT\d*)$/i;
const TEMPORAL_TYPE = /^(DATE|TIMESTAMP(_S|_MS|_NS)?|TIMESTAMPTZ|TIMESTAMP WITH TIME ZONE)$/i;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;
const NUMERIC_TEXT = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/**
 * The kind of a column: from its DuckDB type for query results, else from its values (all numbers → quantitative,
 * all ISO-8601 dates → temporal, otherwise nominal). Decimals and longs beyond 2^53 arrive as text but are numbers.
 *
 * @example
 * ```ts
 * fieldKind({ name: 'day', type: 'DATE' }, rows); // 'temporal'
 * ```
 */
export function fieldKind(column: ChartColumn, rows: readonly Record<string, JsonValue>[]): FieldKind {
  if (column.type !== undefined) {
    if (NUMERIC_TYPE.test(column.type.trim())) return 'quantitative';
    if (TEMPORAL_TYPE.test(column.type.trim())) return 'temporal';
    return 'nominal';
  }
  const values = rows.map((row) => row[column.name]).filter((value) => value !== null && value !== undefined);
  if (values.length === 0) return 'nominal';
  if (values.every((value) => typeof value === 'number')) return 'quantitative';
  if (values.every((value) => typeof value === 'string' && ISO_DATE.test(value) && !Number.isNaN(Date.parse(value)))) return 'temporal';
  return 'nominal';
}

/** A number for a continuous channel; text that is not a number (or a non-finite one) becomes null, which Vega-Lite leaves out. */
function toNumber(value: JsonValue | undefined): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'string' && NUMERIC_TEXT.test(value.trim())) return Number(value);
  return null;
}

/** A field name Vega-Lite and Vega take literally in every place they use it (access paths, generated expressions). */
const PLAIN_FIELD = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

/**
 * A column name as an axis or legend title. Vega-Lite also splices titles into generated expressions (ARIA
 * descriptions, box plot tooltips) escaping only `"`, so a backslash or a line break there breaks the expression: a
 * backslash is drawn as the look-alike `∖` (U+2216) and control characters and line separators as spaces.
 */
const titleText = (name: string): string =>
  Array.from(name, (char) => {
    const code = char.codePointAt(0) ?? 0;
    if (code < 0x20 || code === 0x7f || code === 0x2028 || code === 0x2029) return ' ';
    return char === '\\' ? '\u2216' : char;
  }).join('');

/**
 * The name each charted column has in the inlined data. Vega-Lite parses a field name as an access path (`.`, `[ ]`,
 * quotes, backslashes) and splices it into generated expressions, and escaping has to survive both: a name with a quote
 * or a backslash broke the compile or an expression (review L1). So a column whose name is not plain is renamed to a
 * plain one (its characters outside `[A-Za-z0-9_]` replaced by `_`, made unique); axes and legends keep the original
 * name as their title.
 */
function internalNames(used: readonly string[]): Map<string, string> {
  const names = new Map<string, string>();
  const taken = new Set<string>();
  for (const name of used) {
    if (PLAIN_FIELD.test(name)) {
      names.set(name, name);
      taken.add(name);
    }
  }
  for (const name of used) {
    if (names.has(name)) continue;
    const base = `f_${name.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 40)}`;
    let candidate = base;
    for (let n = 2; taken.has(candidate); n += 1) candidate = `${base}_${n}`;
    names.set(name, candidate);
    taken.add(candidate);
  }
  return names;
}

/**
 * Builds the Vega-Lite spec of one chart: checks that every channel the type needs names an existing column (and that
 * numeric channels hold numbers), keeps only the columns the chart uses, converts numeric text to numbers, and sizes
 * the whole image (title, axes and legend included) to `width` × `height`. The spec never loads data or runs user
 * text as an expression: values are inlined, and a column whose name is not a plain identifier is renamed in the
 * inlined data (e.g. `a.b[0]` → `f_a_b_0_`, listed in the spec's `usermeta.fields`), its original name kept as the
 * axis or legend title.
 *
 * @example
 * ```ts
 * const { spec } = buildChartSpec(
 *   { type: 'bar', fields: { x: 'status', y: 'n' }, width: 640, height: 400 },
 *   [{ name: 'status', type: 'VARCHAR' }, { name: 'n', type: 'BIGINT' }],
 *   [{ status: 'paid', n: 12 }, { status: 'open', n: 3 }],
 *   'create_chart',
 * );
 * ```
 */
export function buildChartSpec(
  request: ChartRequest,
  columns: readonly ChartColumn[],
  rows: readonly Record<string, JsonValue>[],
  tool: string,
): BuiltChart {
  const { type, fields } = request;
  const allowed = CHANNELS[type];
  const named = Object.entries(fields).filter((entry): entry is [ChartChannel, string] => entry[1] !== undefined);
  for (const [channel] of named) {
    if (!allowed.required.includes(channel) && !allowed.optional.includes(channel)) {
      throw new ToolError(
        'INVALID_ENCODING',
        `A ${type} chart does not use "${channel}". It takes ${describeChannels(type)}.`,
        { tool },
      );
    }
  }
  const missing = allowed.required.filter((channel) => fields[channel] === undefined);
  if (missing.length > 0) {
    throw new ToolError('INVALID_ENCODING', `A ${type} chart needs ${missing.map((c) => `"${c}"`).join(', ')}. It takes ${describeChannels(type)}.`, { tool });
  }
  const byName = new Map(columns.map((column) => [column.name, column]));
  const kinds = new Map<string, FieldKind>();
  for (const [channel, name] of named) {
    const column = byName.get(name);
    if (column === undefined) {
      throw new ToolError(
        'UNKNOWN_FIELD',
        `"${channel}" names the column ${JSON.stringify(name)}, which the data does not have. Columns: ${columns.map((c) => JSON.stringify(c.name)).join(', ') || '(none)'}.`,
        { tool },
      );
    }
    const kind = kinds.get(name) ?? fieldKind(column, rows);
    kinds.set(name, kind);
    if ((NUMERIC[type] ?? []).includes(channel) && kind !== 'quantitative') {
      throw new ToolError(
        'FIELD_NOT_NUMERIC',
        `"${channel}" of a ${type} chart must be a numeric column; ${JSON.stringify(name)} is ${column.type ?? kind}. Cast it in the SQL (e.g. CAST(x AS DOUBLE)) or pick another column.`,
        { tool },
      );
    }
  }

  const numeric = new Set(named.filter(([, name]) => kinds.get(name) === 'quantitative').map(([, name]) => name));
  const used = [...new Set(named.map(([, name]) => name))];
  const internal = internalNames(used);
  const ref = (name: string): string => internal.get(name) as string;
  let prepared = rows.map((row) => {
    const out: Record<string, JsonValue> = {};
    for (const name of used) out[ref(name)] = numeric.has(name) ? toNumber(row[name]) : (row[name] ?? null);
    return out;
  });

  const kindOf = (channel: ChartChannel): FieldKind => kinds.get(fields[channel] as string) ?? 'nominal';
  const categorical = new Set<ChartChannel>();
  const field = (channel: ChartChannel, type: FieldKind | 'ordinal', extra: Record<string, unknown> = {}): Record<string, unknown> => {
    const name = fields[channel] as string;
    if (type === 'nominal' || type === 'ordinal') categorical.add(channel);
    return { field: ref(name), type, title: titleText(name), ...extra };
  };
  const continuous = (channel: ChartChannel): FieldKind | 'ordinal' => (kindOf(channel) === 'nominal' ? 'ordinal' : kindOf(channel));
  const color = fields.color === undefined ? {} : { color: field('color', 'nominal') };

  let body: Record<string, unknown>;
  switch (type) {
    case 'line':
    case 'area':
      body = { mark: { type, ...(type === 'line' ? { point: prepared.length <= 60 } : {}) }, encoding: { x: field('x', continuous('x')), y: field('y', 'quantitative'), ...color } };
      break;
    case 'bar':
      // Categories in their own order (sorted), whatever their type: bars on a continuous axis would be slivers.
      body = { mark: { type: 'bar' }, encoding: { x: field('x', 'ordinal'), y: field('y', 'quantitative'), ...color } };
      break;
    case 'scatter':
      body = {
        mark: { type: 'point', filled: true },
        encoding: {
          x: field('x', kindOf('x'), kindOf('x') === 'quantitative' ? { scale: { zero: false } } : {}),
          y: field('y', kindOf('y'), kindOf('y') === 'quantitative' ? { scale: { zero: false } } : {}),
          ...color,
          ...(fields.size === undefined ? {} : { size: field('size', 'quantitative') }),
        },
      };
      break;
    case 'pie':
      body = { mark: { type: 'arc' }, encoding: { theta: field('theta', 'quantitative', { stack: true }), color: field('color', 'nominal') } };
      break;
    case 'histogram':
      body = {
        mark: { type: 'bar' },
        encoding: {
          x: field('x', 'quantitative', { bin: { maxbins: request.bins ?? 20 } }),
          y: { aggregate: 'count', type: 'quantitative', title: 'count' },
          ...color,
        },
      };
      break;
    case 'heatmap':
      body = {
        mark: { type: 'rect' },
        encoding: { x: field('x', 'ordinal'), y: field('y', 'ordinal'), color: field('value', 'quantitative') },
      };
      break;
    case 'box':
      body = {
        mark: { type: 'boxplot', extent: 'min-max' },
        encoding: { ...(fields.group === undefined ? {} : { x: field('group', 'nominal') }), y: field('value', 'quantitative', { scale: { zero: false } }) },
      };
      break;
    case 'candlestick': {
      // The up/down colour is computed here rather than by a Vega expression, so no column name is ever spliced into code.
      const taken = new Set(internal.values());
      let direction = 'direction';
      while (taken.has(direction)) direction = `_${direction}`;
      const open = ref(fields.open as string);
      const close = ref(fields.close as string);
      prepared = prepared.map((row) => {
        const o = row[open];
        const c = row[close];
        return { ...row, [direction]: typeof o === 'number' && typeof c === 'number' && c < o ? 'down' : 'up' };
      });
      const price = { type: 'quantitative', scale: { zero: false } };
      body = {
        encoding: {
          x: field('x', continuous('x')),
          color: { field: direction, type: 'nominal', scale: { domain: ['up', 'down'], range: ['#2e7d32', '#c62828'] }, legend: null },
        },
        layer: [
          { mark: { type: 'rule' }, encoding: { y: { field: ref(fields.low as string), title: 'price', ...price }, y2: { field: ref(fields.high as string) } } },
          { mark: { type: 'bar' }, encoding: { y: { field: open, ...price }, y2: { field: close } } },
        ],
      };
      break;
    }
  }

  for (const channel of categorical) {
    const name = fields[channel] as string;
    const max = channel === 'color' ? MAX_SERIES : MAX_CATEGORIES;
    const distinct = new Set(prepared.map((row) => JSON.stringify(row[ref(name)] ?? null))).size;
    if (distinct > max) {
      throw new ToolError(
        'TOO_MANY_CATEGORIES',
        `"${channel}" (${JSON.stringify(name)}) has ${distinct} distinct values; a chart shows at most ${max} there. Group, bucket or filter in the SQL (e.g. top N with ORDER BY ... LIMIT).`,
        { tool },
      );
    }
  }

  const renamed = [...internal].filter(([name, field]) => name !== field).map(([name, field]) => [field, name] as const);
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    ...(request.title === undefined ? {} : { title: titleText(request.title) }),
    width: request.width,
    height: request.height,
    // The whole image, not just the plot area, is width × height: what the caller asked for is what the PNG measures.
    autosize: { type: 'fit', contains: 'padding' },
    background: 'white',
    config: { font: CHART_FONT },
    data: { values: prepared },
    ...body,
    ...(renamed.length === 0 ? {} : { usermeta: { fields: Object.fromEntries(renamed) } }),
  } as unknown as TopLevelSpec;
  return { spec, rows: prepared };
}

function describeChannels(type: ChartType): string {
  const { required, optional } = CHANNELS[type];
  const list = (channels: readonly string[]): string => channels.map((c) => `"${c}"`).join(', ');
  return optional.length === 0 ? `${list(required)}` : `${list(required)} (required) and ${list(optional)} (optional)`;
}
