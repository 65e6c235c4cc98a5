import { describe, expect, it } from 'vitest';
import { buildChartSpec, fieldKind } from './chart-spec.js';
import type { ChartColumn, ChartRequest } from './chart-spec.js';

const columns: ChartColumn[] = [
  { name: 'day', type: 'DATE' },
  { name: 'at', type: 'TIMESTAMP WITH TIME ZONE' },
  { name: 'region', type: 'VARCHAR' },
  { name: 'amount', type: 'DECIMAL(12,2)' },
  { name: 'n', type: 'BIGINT' },
  { name: 'o', type: 'DOUBLE' },
  { name: 'h', type: 'DOUBLE' },
  { name: 'l', type: 'DOUBLE' },
  { name: 'c', type: 'DOUBLE' },
];
const rows = [
  { day: '2026-11-01', at: '2026-11-01T10:00:00.000Z', region: 'north', amount: '12.50', n: 3, o: 10, h: 12, l: 9, c: 11 },
  { day: '2026-11-02', at: '2026-11-02T10:00:00.000Z', region: 'south', amount: '7.25', n: 5, o: 11, h: 11.5, l: 8, c: 9 },
];
const size = { width: 640, height: 400 };
const build = (request: Omit<ChartRequest, 'width' | 'height'>, cols = columns, data: Record<string, unknown>[] = rows) =>
  buildChartSpec({ ...request, ...size }, cols, data as never, 'create_chart');
/** A JSON tree to index into in assertions. */
interface Tree {
  readonly [key: string]: Tree;
}
const specOf = (request: Omit<ChartRequest, 'width' | 'height'>): Tree => build(request).spec as unknown as Tree;

describe('buildChartSpec: one spec shape per chart type', () => {
  it('line: temporal x, quantitative y, nominal colour; the whole image sized to width × height', () => {
    const spec = specOf({ type: 'line', fields: { x: 'day', y: 'amount', color: 'region' }, title: 'Revenue' });
    expect(spec['mark']).toMatchObject({ type: 'line' });
    expect(spec['encoding']).toEqual({
      x: { field: 'day', type: 'temporal', title: 'day' },
      y: { field: 'amount', type: 'quantitative', title: 'amount' },
      color: { field: 'region', type: 'nominal', title: 'region' },
    });
    expect(spec).toMatchObject({ title: 'Revenue', width: 640, height: 400, autosize: { type: 'fit', contains: 'padding' }, config: { font: 'DejaVu Sans' } });
  });

  it('area and bar: bar categories are ordinal whatever their type', () => {
    expect(specOf({ type: 'area', fields: { x: 'at', y: 'n' } })['mark']).toEqual({ type: 'area' });
    const bar = specOf({ type: 'bar', fields: { x: 'n', y: 'amount' } });
    expect(bar['mark']).toEqual({ type: 'bar' });
    expect(bar['encoding']!['x']).toMatchObject({ field: 'n', type: 'ordinal' });
  });

  it('scatter: points with size, scales not forced through zero', () => {
    const spec = specOf({ type: 'scatter', fields: { x: 'o', y: 'c', size: 'n' } });
    expect(spec['mark']).toEqual({ type: 'point', filled: true });
    expect(spec['encoding']!['x']).toMatchObject({ type: 'quantitative', scale: { zero: false } });
    expect(spec['encoding']!['size']).toMatchObject({ field: 'n', type: 'quantitative' });
  });

  it('pie: an arc with a stacked theta and a nominal colour', () => {
    const spec = specOf({ type: 'pie', fields: { theta: 'n', color: 'region' } });
    expect(spec['mark']).toEqual({ type: 'arc' });
    expect(spec['encoding']!['theta']).toMatchObject({ field: 'n', type: 'quantitative', stack: true });
  });

  it('histogram: binned x and a count on y', () => {
    const spec = specOf({ type: 'histogram', fields: { x: 'amount' }, bins: 7 });
    expect(spec['encoding']!['x']).toMatchObject({ field: 'amount', bin: { maxbins: 7 } });
    expect(spec['encoding']!['y']).toMatchObject({ aggregate: 'count' });
  });

  it('heatmap: rect cells coloured by value', () => {
    const spec = specOf({ type: 'heatmap', fields: { x: 'day', y: 'region', value: 'n' } });
    expect(spec['mark']).toEqual({ type: 'rect' });
    expect(spec['encoding']!['color']).toMatchObject({ field: 'n', type: 'quantitative' });
  });

  it('box: a min-max boxplot per group', () => {
    const spec = specOf({ type: 'box', fields: { group: 'region', value: 'amount' } });
    expect(spec['mark']).toEqual({ type: 'boxplot', extent: 'min-max' });
    expect(spec['encoding']!['x']).toMatchObject({ field: 'region', type: 'nominal' });
  });

  it('candlestick: a low-high rule and an open-close bar, coloured by a direction computed per row', () => {
    const { spec, rows: drawn } = build({ type: 'candlestick', fields: { x: 'day', open: 'o', high: 'h', low: 'l', close: 'c' } });
    const layers = (spec as unknown as { layer: { mark: { type: string }; encoding: unknown }[] }).layer;
    expect(layers.map((layer) => layer.mark.type)).toEqual(['rule', 'bar']);
    expect(layers[0]?.encoding).toMatchObject({ y: { field: 'l' }, y2: { field: 'h' } });
    expect(layers[1]?.encoding).toMatchObject({ y: { field: 'o' }, y2: { field: 'c' } });
    expect(drawn.map((row) => row['direction'])).toEqual(['up', 'down']);
  });
});

describe('buildChartSpec: data and field names', () => {
  it('keeps only the charted columns and turns numeric text (decimals, big longs) into numbers', () => {
    const { rows: drawn, spec } = build({ type: 'bar', fields: { x: 'region', y: 'amount' } });
    expect(drawn).toEqual([
      { region: 'north', amount: 12.5 },
      { region: 'south', amount: 7.25 },
    ]);
    expect((spec as unknown as { data: { values: unknown } }).data.values).toEqual(drawn);
  });

  it('renames a column whose name is not plain to a plain, unique field, and titles the axis with the name as given', () => {
    const names = ['a.b[0]', 'f_a_b_0_', `q"u'o\\te`, '__proto__', 'v'];
    const cols = names.map((name) => ({ name, type: name === 'v' ? 'INTEGER' : 'VARCHAR' }));
    const row = Object.fromEntries(names.map((name, i) => [name, name === 'v' ? 1 : `k${i}`]));
    const { spec, rows: drawn } = build({ type: 'scatter', fields: { x: 'a.b[0]', y: 'f_a_b_0_', color: `q"u'o\\te`, size: 'v' } }, cols, [row]);
    const encoding = (spec as unknown as Tree)['encoding']!;
    // 'f_a_b_0_' is plain and keeps its name, so the renamed 'a.b[0]' must not take it.
    expect(encoding['x']).toMatchObject({ field: 'f_a_b_0__2', title: 'a.b[0]' });
    expect(encoding['y']).toMatchObject({ field: 'f_a_b_0_', title: 'f_a_b_0_' });
    // Vega-Lite splices titles into expressions escaping only quotes: the backslash is drawn as its look-alike.
    expect(encoding['color']).toMatchObject({ field: 'f_q_u_o_te', title: `q"u'o\u2216te` });
    expect(encoding['size']).toMatchObject({ field: 'v', title: 'v' });
    expect(drawn).toEqual([{ f_a_b_0__2: 'k0', f_a_b_0_: 'k1', f_q_u_o_te: 'k2', v: 1 }]);
    expect((spec as unknown as { usermeta: unknown }).usermeta).toEqual({ fields: { f_a_b_0__2: 'a.b[0]', f_q_u_o_te: `q"u'o\\te` } });
    // A __proto__ column is an own data key, not the row's prototype.
    const proto = build({ type: 'bar', fields: { x: '__proto__', y: 'v' } }, cols, [JSON.parse('{"__proto__": "p", "v": 2}') as Record<string, unknown>]);
    expect(proto.rows).toEqual([{ f___proto__: 'p', v: 2 }]);
    expect(Object.getPrototypeOf(proto.rows[0])).toBe(Object.prototype);
  });

  it('does not let a candlestick direction column overwrite a real column called "direction"', () => {
    const cols = [...columns, { name: 'direction', type: 'VARCHAR' }];
    const { rows: drawn } = build({ type: 'candlestick', fields: { x: 'direction', open: 'o', high: 'h', low: 'l', close: 'c' } }, cols, rows.map((r) => ({ ...r, direction: 'kept' })));
    expect(drawn.map((row) => [row['direction'], row['_direction']])).toEqual([
      ['kept', 'up'],
      ['kept', 'down'],
    ]);
  });

  it('infers kinds of inline data from the values', () => {
    const data = [{ n: 1, d: '2026-11-01T00:00:00Z', s: 'x', mixed: 1 }, { n: 2.5, d: '2026-11-02', s: 'y', mixed: 'a' }];
    expect(['n', 'd', 's', 'mixed'].map((name) => fieldKind({ name }, data))).toEqual(['quantitative', 'temporal', 'nominal', 'nominal']);
    expect(fieldKind({ name: 'empty' }, data)).toBe('nominal');
  });
});

describe('buildChartSpec: refusals', () => {
  it('names the missing column and lists the ones there are', () => {
    expect(() => build({ type: 'line', fields: { x: 'day', y: 'nope' } })).toThrow(/"y" names the column "nope".*Columns: "day", "at"/);
  });

  it('asks for the channels a type needs, and refuses channels it does not use', () => {
    expect(() => build({ type: 'candlestick', fields: { x: 'day', open: 'o' } })).toThrow(/needs "high", "low", "close"/);
    expect(() => build({ type: 'pie', fields: { theta: 'n', color: 'region', x: 'day' } })).toThrow(/A pie chart does not use "x"/);
  });

  it('refuses more categories than a chart can lay out, and more colour series than a legend can hold', () => {
    const cols = [{ name: 'k', type: 'VARCHAR' }, { name: 'v', type: 'INTEGER' }];
    const many = (n: number) => Array.from({ length: n }, (_, i) => ({ k: `k${i}`, v: i }));
    expect(() => build({ type: 'bar', fields: { x: 'k', y: 'v' } }, cols, many(1_000))).not.toThrow();
    expect(() => build({ type: 'bar', fields: { x: 'k', y: 'v' } }, cols, many(1_001))).toThrow(/"x" \("k"\) has 1001 distinct values; a chart shows at most 1000/);
    expect(() => build({ type: 'line', fields: { x: 'v', y: 'v', color: 'k' } }, cols, many(201))).toThrow(expect.objectContaining({ code: 'TOO_MANY_CATEGORIES' }));
    // Continuous channels have no such limit.
    expect(() => build({ type: 'scatter', fields: { x: 'v', y: 'v' } }, cols, many(5_000))).not.toThrow();
  });

  it('refuses a text column where numbers are needed', () => {
    expect(() => build({ type: 'bar', fields: { x: 'day', y: 'region' } })).toThrow(expect.objectContaining({ code: 'FIELD_NOT_NUMERIC' }));
    expect(() => build({ type: 'histogram', fields: { x: 'day' } })).toThrow(/must be a numeric column; "day" is DATE/);
  });
});
