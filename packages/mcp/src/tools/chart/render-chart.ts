import { fileURLToPath } from 'node:url';
import type { TopLevelSpec } from 'vega-lite';
import { CHART_FONT } from './chart-spec.js';

/**
 * Options of {@link renderChart}.
 *
 * @example
 * ```ts
 * const options: RenderChartOptions = { scale: 2, signal: AbortSignal.timeout(10_000) };
 * ```
 */
export interface RenderChartOptions {
  /** Pixels per CSS pixel (1 = the spec's width × height). Default 1. */
  readonly scale?: number | undefined;
  /** Aborts the render (the tool call's timeout). */
  readonly signal?: AbortSignal | undefined;
}

/**
 * A rendered chart: the PNG bytes and their size in pixels, and Vega-Lite's warnings (e.g. a dropped encoding).
 *
 * @example
 * ```ts
 * const { png, width, height } = await renderChart(spec);
 * ```
 */
export interface RenderedChart {
  readonly png: Buffer;
  readonly width: number;
  readonly height: number;
  readonly warnings: string[];
}

const FONT_FILE = 'dejavu-fonts-ttf/ttf/DejaVuSans.ttf';

/**
 * The bundled font's path, in both builds: ESM resolves through `import.meta.resolve`; the CJS build has no
 * `import.meta` (the bundler empties it) and resolves through `require`. (The ESM bundle defines a `require` stub
 * that throws, so `import.meta` must be tried first.)
 */
function fontPath(): string {
  const meta = import.meta as { resolve?: (specifier: string) => string };
  return typeof meta.resolve === 'function' ? fileURLToPath(meta.resolve(FONT_FILE)) : require.resolve(FONT_FILE);
}

const aborted = (signal: AbortSignal | undefined): void => {
  if (signal?.aborted === true) throw new Error('chart rendering aborted');
};

/**
 * Renders a Vega-Lite spec to PNG entirely offline: Vega-Lite compiles it, Vega's headless view draws it as SVG (no
 * canvas, no native module), and resvg rasterises the SVG with the bundled DejaVu Sans — system fonts are not loaded,
 * so the image is the same on every machine. Vega's loader refuses every URL and file: a spec with external data or
 * images fails instead of reaching out. The libraries are loaded on the first call.
 *
 * @example
 * ```ts
 * const { png } = await renderChart({ data: { values: [{ a: 1, b: 2 }] }, mark: 'point', encoding: { x: { field: 'a', type: 'quantitative' }, y: { field: 'b', type: 'quantitative' } } });
 * ```
 */
export async function renderChart(spec: TopLevelSpec, options: RenderChartOptions = {}): Promise<RenderedChart> {
  const [vega, vegaLite, resvg] = await Promise.all([import('vega'), import('vega-lite'), import('@resvg/resvg-js')]);
  aborted(options.signal);
  const warnings: string[] = [];
  const collect = (...args: readonly unknown[]): void => {
    warnings.push(args.map(String).join(' '));
  };
  const quiet = vega.logger(vega.Warn);
  quiet.warn = (...args: readonly unknown[]) => {
    collect(...args);
    return quiet;
  };
  quiet.info = () => quiet;
  quiet.debug = () => quiet;
  // Vega tags the data objects it ingests; a copy keeps the caller's spec (returned to the agent) clean.
  const compiled = vegaLite.compile(structuredClone(spec), { logger: quiet }).spec;

  const loader = vega.loader();
  const refuse = (): Promise<never> => Promise.reject(new Error('charts do not load external data or images'));
  loader.load = refuse;
  loader.sanitize = refuse;
  loader.file = refuse;
  loader.http = refuse;

  const view = new vega.View(vega.parse(compiled), { renderer: 'none', loader, logger: quiet });
  let svg: string;
  try {
    svg = await view.toSVG();
  } finally {
    view.finalize();
  }
  aborted(options.signal);
  const image = await resvg.renderAsync(
    svg,
    {
      fitTo: { mode: 'zoom', value: options.scale ?? 1 },
      font: { loadSystemFonts: false, fontFiles: [fontPath()], defaultFontFamily: CHART_FONT, sansSerifFamily: CHART_FONT },
      logLevel: 'off',
    },
    options.signal ?? null,
  );
  return { png: image.asPng(), width: image.width, height: image.height, warnings };
}
