import type { TopLevelSpec } from 'vega-lite';
import { describe, expect, it } from 'vitest';
import { buildChartSpec, CHART_TYPES } from './chart-spec.js';
import type { ChartColumn, ChartRequest, ChartType } from './chart-spec.js';
import { pngStats } from './png-stats.test-support.js';
import { renderChart } from './render-chart.js';

const columns: ChartColumn[] = [
  { name: 'day', type: 'DATE' },
  { name: 'region', type: 'VARCHAR' },
  { name: 'hour', type: 'INTEGER' },
  { name: 'revenue', type: 'DOUBLE' },
  { name: 'orders', type: 'BIGINT' },
  { name: 'open', type: 'DOUBLE' },
  { name: 'high', type: 'DOUBLE' },
  { name: 'low', type: 'DOUBLE' },
  { name: 'close', type: 'DOUBLE' },
];
const regions = ['north', 'south', 'east'];
const rows = Array.from({ length: 30 }, (_, i) => {
  const open = 100 + ((i * 7) % 13);
  const close = open + ((i % 3) - 1) * 4;
  return {
    day: `2026-11-${String((i % 10) + 1).padStart(2, '0')}`,
    region: regions[i % 3]!,
    hour: i % 6,
    revenue: 50 + ((i * 37) % 90),
    orders: 1 + (i % 9),
    open,
    high: Math.max(open, close) + 3,
    low: Math.min(open, close) - 2,
    close,
  };
});
/** One day per row for the candlestick (one candle per x). */
const candles = rows.slice(0, 10);

const requests: Record<ChartType, Omit<ChartRequest, 'width' | 'height'>> = {
  line: { type: 'line', fields: { x: 'day', y: 'revenue', color: 'region' } },
  area: { type: 'area', fields: { x: 'day', y: 'revenue', color: 'region' } },
  bar: { type: 'bar', fields: { x: 'region', y: 'orders' } },
  scatter: { type: 'scatter', fields: { x: 'orders', y: 'revenue', color: 'region', size: 'hour' } },
  pie: { type: 'pie', fields: { theta: 'orders', color: 'region' } },
  histogram: { type: 'histogram', fields: { x: 'revenue' }, bins: 8 },
  heatmap: { type: 'heatmap', fields: { x: 'hour', y: 'region', value: 'revenue' } },
  box: { type: 'box', fields: { group: 'region', value: 'revenue' } },
  candlestick: { type: 'candlestick', fields: { x: 'day', open: 'open', high: 'high', low: 'low', close: 'close' } },
};

describe('renderChart', () => {
  it.each(CHART_TYPES.map((type) => [type]))('renders a %s chart to a PNG of exactly the asked size, with marks and text', async (type) => {
    const width = 420 + CHART_TYPES.indexOf(type) * 10;
    const height = 260;
    const data = type === 'candlestick' ? candles : rows;
    const { spec } = buildChartSpec({ ...requests[type], title: `Chart ${type}`, width, height }, columns, data, 'create_chart');
    const rendered = await renderChart(spec);
    const stats = pngStats(rendered.png);
    expect([stats.width, stats.height]).toEqual([width, height]);
    expect([rendered.width, rendered.height]).toEqual([width, height]);
    // Marks, axes and text in several colours, not a blank or single-colour image.
    expect(stats.colours).toBeGreaterThan(20);
    expect(stats.inked).toBeGreaterThan(width * height * 0.01);
    // The title is drawn in the top band (only possible when the bundled font loads).
    expect(stats.inkedRows(0, 22)).toBeGreaterThan(30);
  });

  // Quotes, a backslash before a quote, dots, brackets and backslashes: each broke Vega's access paths or generated
  // expressions when spliced into a field reference (review L1).
  const hostile = (name: string): string => `${name} a"b'c.d[0]\\e\\"x\n\u2028y`;
  it.each(CHART_TYPES.map((type) => [type]))('renders a %s chart whose column names hold quotes, dots, brackets and backslashes', async (type) => {
    const renamedColumns = columns.map((column) => ({ ...column, name: hostile(column.name) }));
    const data = (type === 'candlestick' ? candles : rows).map((row) => Object.fromEntries(Object.entries(row).map(([key, value]) => [hostile(key), value])));
    const request = requests[type];
    const fields = Object.fromEntries(Object.entries(request.fields).map(([channel, name]) => [channel, hostile(name)]));
    const { spec } = buildChartSpec({ ...request, fields, title: hostile('title'), width: 400, height: 260 }, renamedColumns, data, 'create_chart');
    const rendered = await renderChart(spec);
    const stats = pngStats(rendered.png);
    expect([stats.width, stats.height]).toEqual([400, 260]);
    expect(stats.colours).toBeGreaterThan(20);
    expect(stats.inked).toBeGreaterThan(400 * 260 * 0.01);
    // The same chart with the plain names draws the same marks: the renamed fields carry the data.
    const plain = pngStats((await renderChart(buildChartSpec({ ...request, width: 400, height: 260 }, columns, type === 'candlestick' ? candles : rows, 'create_chart').spec)).png);
    const mark: Record<ChartType, readonly [number, number, number] | undefined> = {
      line: undefined, area: undefined, scatter: undefined, pie: undefined, heatmap: undefined, candlestick: undefined, box: undefined,
      bar: [0x4c, 0x78, 0xa8],
      histogram: [0x4c, 0x78, 0xa8],
    };
    const colour = mark[type];
    if (colour !== undefined) expect(stats.columnCounts(colour).reduce((a, b) => a + b, 0)).toBeGreaterThan(plain.columnCounts(colour).reduce((a, b) => a + b, 0) * 0.8);
  });

  it('draws the data: bar heights in the PNG are proportional to the values', async () => {
    const data = [{ k: 'a', v: 1 }, { k: 'b', v: 3 }];
    const { spec } = buildChartSpec({ type: 'bar', fields: { x: 'k', y: 'v' }, width: 300, height: 300 }, [{ name: 'k', type: 'VARCHAR' }, { name: 'v', type: 'INTEGER' }], data, 'create_chart');
    // Vega-Lite's default mark colour #4c78a8; each bar is a run of columns holding it.
    const counts = pngStats((await renderChart(spec)).png).columnCounts([0x4c, 0x78, 0xa8]);
    const bars: number[] = [];
    counts.forEach((count, x) => {
      if (count === 0) return;
      if (x > 0 && (counts[x - 1] ?? 0) > 0) bars[bars.length - 1] = Math.max(bars[bars.length - 1]!, count);
      else bars.push(count);
    });
    expect(bars).toHaveLength(2);
    expect(bars[1]! / bars[0]!).toBeCloseTo(3, 1);
  });

  it('scales the image: scale 2 doubles both sides', async () => {
    const { spec } = buildChartSpec({ ...requests.bar, width: 200, height: 150 }, columns, rows, 'create_chart');
    const stats = pngStats((await renderChart(spec, { scale: 2 })).png);
    expect([stats.width, stats.height]).toEqual([400, 300]);
  });

  it('draws text with the bundled font: a text-only chart is not blank', async () => {
    const spec = {
      width: 200,
      height: 60,
      autosize: { type: 'fit', contains: 'padding' },
      background: 'white',
      config: { font: 'DejaVu Sans', view: { stroke: null } },
      data: { values: [{ label: 'Tributary' }] },
      mark: { type: 'text', fontSize: 28, color: 'black' },
      encoding: { text: { field: 'label', type: 'nominal' } },
    } as unknown as TopLevelSpec;
    const stats = pngStats((await renderChart(spec)).png);
    expect(stats.inked).toBeGreaterThan(200);
  });

  it('refuses to load external data: the loader never reaches a URL or a file', async () => {
    const spec = { data: { url: 'file:///etc/passwd', format: { type: 'csv' } }, mark: 'point', encoding: { x: { field: 'root', type: 'nominal' } } } as unknown as TopLevelSpec;
    const rendered = await renderChart(spec);
    // Vega reports the failed load as a warning and draws no data: no mark carries a value read from the file.
    expect(rendered.warnings.join('\n')).toMatch(/do not load external data/);
  });

  it('stops when its signal is aborted', async () => {
    const { spec } = buildChartSpec({ ...requests.bar, width: 200, height: 150 }, columns, rows, 'create_chart');
    await expect(renderChart(spec, { signal: AbortSignal.abort() })).rejects.toThrow(/aborted/);
  });
});
