import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { sqlEngine } from '@tributary/sql';
import type { AsOf, SqlEngine, SqlResult } from '@tributary/sql';
import { ToolError } from '../errors.js';
import { READ_ONLY_TOOL } from '../server/tool-context.js';
import type { ToolCleanup, ToolContext } from '../server/tool-context.js';
import { capItems, dataResult } from '../server/tool-result.js';
import type { JsonValue } from '../server/tool-result.js';
import { buildChartSpec, CHART_TYPES } from './chart/chart-spec.js';
import type { ChartChannel, ChartColumn } from './chart/chart-spec.js';
import { visibleTables } from './lakehouse-tools.js';

/** Most rows one chart draws, whatever `limits.maxRows` allows: more marks than pixels only slows the render. */
const MAX_CHART_ROWS = 10_000;
/** Largest PNG returned (bytes, before base64): a bigger image is refused with a hint to shrink it. */
const MAX_CHART_PNG_BYTES = 4 * 1024 * 1024;
/** Largest side of the PNG in pixels (`width` or `height` times `scale`). */
const MAX_CHART_PIXELS_PER_SIDE = 4_000;

const TOOL = 'create_chart';

const fieldName = (what: string): z.ZodOptional<z.ZodString> => z.string().min(1).max(300).optional().describe(what);
const inlineValue = z.union([z.string().max(10_000), z.number(), z.boolean(), z.null()]);

/** `create_chart`'s input schema (the MCP SDK takes its shape). */
function chartInput(maxRows: number) {
  return {
    type: z.enum(CHART_TYPES).describe(
      'Chart type. Fields per type: line / area / bar: x, y (+ color for series); scatter: x, y (+ color, size); ' +
        'pie: theta (value), color (category); histogram: x (+ bins, color); heatmap: x, y, value; box: value (+ group); ' +
        'candlestick: x, open, high, low, close.',
    ),
    sql: z
      .string()
      .min(1)
      .max(100_000)
      .optional()
      .describe('One read-only SQL SELECT (DuckDB dialect, as for query_sql) whose result is charted. Give sql or data, not both.'),
    params: z.array(z.union([z.string(), z.number(), z.boolean(), z.null()])).max(1000).optional().describe('Values for $1, $2... in sql.'),
    as_of_snapshot_id: z.string().regex(/^-?\d{1,20}$/, 'expected a decimal snapshot id (see table_history)').optional().describe('Time travel: read the table at this snapshot (single-table queries).'),
    as_of_timestamp: z
      .union([z.number().int().min(0).max(8.64e15), z.iso.datetime({ offset: true })])
      .optional()
      .describe('Time travel: read the tables as of this time (ms since the epoch or ISO-8601 with zone).'),
    data: z
      .array(z.record(z.string().min(1).max(300), inlineValue))
      .min(1)
      .max(Math.min(maxRows, MAX_CHART_ROWS))
      .optional()
      .describe(`Inline rows to chart instead of sql, e.g. [{"day":"2026-11-01","n":3}]; at most ${Math.min(maxRows, MAX_CHART_ROWS)} rows.`),
    x: fieldName('Column for the x axis (histogram: the values binned; candlestick: the time).'),
    y: fieldName('Column for the y axis (line, area, bar, scatter: numeric; heatmap: the row category).'),
    color: fieldName('Column whose values colour the marks (series of a line chart, slices of a pie).'),
    size: fieldName('Scatter: numeric column sizing the points.'),
    theta: fieldName('Pie: numeric column giving each slice its angle.'),
    value: fieldName('Heatmap: numeric column colouring each cell (one row per x/y cell; aggregate in SQL). Box: the numeric values.'),
    group: fieldName('Box: column whose values split the boxes.'),
    open: fieldName('Candlestick: opening price column.'),
    high: fieldName('Candlestick: high price column.'),
    low: fieldName('Candlestick: low price column.'),
    close: fieldName('Candlestick: closing price column.'),
    bins: z.number().int().min(1).max(200).optional().describe('Histogram: most bins. Default 20.'),
    title: z.string().max(300).optional().describe('Chart title.'),
    width: z.number().int().min(100).max(2000).default(640).describe('Image width in CSS pixels, legend and title included. Default 640.'),
    height: z.number().int().min(100).max(2000).default(400).describe('Image height in CSS pixels. Default 400.'),
    scale: z.number().int().min(1).max(3).default(1).describe('Pixel density: the PNG is width×scale by height×scale pixels. Default 1.'),
  };
}

const toMs = (value: number | string): number => (typeof value === 'number' ? value : Date.parse(value));

/**
 * Registers `create_chart` when a catalog is configured: a chart (line, bar, scatter, pie, histogram, heatmap, box,
 * area, candlestick) of a read-only SQL result — or of inline rows — returned as its Vega-Lite spec and a PNG rendered
 * offline on the server. The chart libraries load on the first call.
 *
 * @example
 * ```ts
 * const cleanup = registerChartTools(server, context);
 * // later, when the server closes:
 * await cleanup?.();
 * ```
 */
export function registerChartTools(server: McpServer, context: ToolContext): ToolCleanup {
  const lakehouse = context.lakehouse;
  if (lakehouse === undefined) return undefined;
  const { run, limits } = context;
  const maxRows = Math.min(limits.maxRows, MAX_CHART_ROWS);
  // One engine per call (review L2), as in quality-tools.ts: replacing a shared engine when the table list changed
  // closed it under calls still using it. Creating one costs about 0.1 ms (its queries open their own sandboxes).
  const live = new Set<SqlEngine>();

  server.registerTool(
    TOOL,
    {
      description:
        'Draws a chart (line, bar, scatter, pie, histogram, heatmap, box, area, candlestick) of a read-only SQL query ' +
        'over the allowlisted tables (as query_sql, with time travel) or of inline data rows. Returns the Vega-Lite ' +
        'spec and a PNG image rendered on the server. Aggregate in SQL; name the result columns in the encodings.',
      inputSchema: chartInput(limits.maxRows),
      annotations: READ_ONLY_TOOL,
    },
    (args) =>
      run(TOOL, args, async (signal): Promise<CallToolResult> => {
        if ((args.sql === undefined) === (args.data === undefined)) {
          throw new ToolError('INVALID_SOURCE', 'Give either sql (a query over the tables) or data (inline rows), exactly one of them.', { tool: TOOL });
        }
        if (args.sql === undefined && (args.params !== undefined || args.as_of_snapshot_id !== undefined || args.as_of_timestamp !== undefined)) {
          throw new ToolError('INVALID_SOURCE', 'params, as_of_snapshot_id and as_of_timestamp apply to sql only.', { tool: TOOL });
        }
        if (args.as_of_snapshot_id !== undefined && args.as_of_timestamp !== undefined) {
          throw new ToolError('INVALID_AS_OF', 'Give as_of_snapshot_id or as_of_timestamp, not both.', { tool: TOOL });
        }
        if (Math.max(args.width, args.height) * args.scale > MAX_CHART_PIXELS_PER_SIDE) {
          throw new ToolError('CHART_TOO_LARGE', `width and height times scale must stay within ${MAX_CHART_PIXELS_PER_SIDE} pixels; lower scale or the size.`, { tool: TOOL });
        }

        let columns: ChartColumn[];
        let rows: Record<string, JsonValue>[];
        let cut = false;
        let source: string;
        if (args.sql !== undefined) {
          const tables = await visibleTables(lakehouse);
          if (tables.length === 0) throw new ToolError('UNKNOWN_TABLE', 'No tables are available to query.', { tool: TOOL });
          let asOf: AsOf | undefined;
          if (args.as_of_snapshot_id !== undefined) asOf = { snapshotId: args.as_of_snapshot_id };
          if (args.as_of_timestamp !== undefined) asOf = { timestampMs: toMs(args.as_of_timestamp) };
          const engine = sqlEngine({ catalog: lakehouse.catalog, tables, maxRows, timeoutMs: limits.timeoutMs });
          live.add(engine);
          let result: SqlResult;
          try {
            result = await engine.query(args.sql, {
              signal,
              ...(asOf === undefined ? {} : { asOf }),
              ...(args.params === undefined ? {} : { params: args.params }),
            });
          } finally {
            live.delete(engine);
            engine.close();
          }
          columns = result.columns.map((column) => ({ name: column.name, type: column.type }));
          rows = result.rows;
          cut = result.truncated;
          source = `the tables ${Object.entries(result.snapshots)
            .map(([name, id]) => `${name}@${id ?? 'empty'}`)
            .join(', ')}`;
        } else {
          rows = args.data ?? [];
          const bytes = Buffer.byteLength(JSON.stringify(rows));
          if (bytes > limits.maxBytes) {
            throw new ToolError('DATA_TOO_LARGE', `data is ${bytes} bytes of JSON, over this server's ${limits.maxBytes}-byte cap; send fewer rows or aggregate first.`, { tool: TOOL });
          }
          const names = new Set<string>();
          for (const row of rows) for (const name of Object.keys(row)) names.add(name);
          columns = [...names].map((name) => ({ name }));
          source = 'the inline data';
        }
        const fields: Partial<Record<ChartChannel, string>> = {};
        for (const channel of ['x', 'y', 'color', 'size', 'theta', 'open', 'high', 'low', 'close', 'value', 'group'] as const) {
          const name = args[channel];
          if (name !== undefined) fields[channel] = name;
        }
        // The spec carries the rows, so the same byte cap as query_sql keeps a chart's text within the agent's budget.
        const capped = capItems(rows, limits.maxBytes);
        cut ||= capped.truncated;
        const { spec, rows: drawn } = buildChartSpec(
          { type: args.type, fields, title: args.title, bins: args.bins, width: args.width, height: args.height },
          columns,
          capped.kept,
          TOOL,
        );
        const { renderChart } = await import('./chart/render-chart.js');
        let rendered: Awaited<ReturnType<typeof renderChart>>;
        try {
          rendered = await renderChart(spec, { scale: args.scale, signal });
        } catch (error) {
          if (signal.aborted) throw error;
          // Vega's message may quote column names (data), so it is not repeated here; the spec is valid by construction,
          // so this is a renderer limit or bug rather than something the agent can fix by rewording.
          throw new ToolError('CHART_FAILED', `The ${args.type} chart could not be drawn (the renderer refused the spec). Try another chart type, fewer rows or simpler column aliases.`, {
            tool: TOOL,
            cause: error,
          });
        }
        if (rendered.png.byteLength > MAX_CHART_PNG_BYTES) {
          throw new ToolError(
            'CHART_TOO_LARGE',
            `The PNG is ${rendered.png.byteLength} bytes, over the ${MAX_CHART_PNG_BYTES}-byte cap; lower width, height or scale.`,
            { tool: TOOL },
          );
        }
        const summary =
          `${args.type} chart of ${drawn.length} row(s) from ${source}${cut ? ' (cut to the row or size cap: more rows exist; aggregate in SQL)' : ''}, ` +
          `${rendered.width}×${rendered.height} px PNG attached.${rendered.warnings.length > 0 ? ' Vega-Lite reported warnings (see warnings).' : ''}`;
        const result = dataResult(summary, source, {
          spec: spec as unknown as JsonValue,
          rows_drawn: drawn.length,
          truncated: cut,
          // Warnings may quote column names read from tables, so they stay inside the untrusted block.
          warnings: rendered.warnings.slice(0, 20),
          image: { mime_type: 'image/png', width: rendered.width, height: rendered.height, bytes: rendered.png.byteLength },
        });
        result.content.push({ type: 'image', data: rendered.png.toString('base64'), mimeType: 'image/png' });
        return result;
      }),
  );

  return () => {
    for (const engine of live) engine.close();
  };
}
