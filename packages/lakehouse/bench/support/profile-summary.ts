/**
 * Summarises a V8 CPU profile (`node --cpu-prof`) of the benchmark: the functions with the most self time, the
 * functions with the most total (inclusive) time, and the hottest source lines — with positions in the bundled
 * `dist/*.js` files mapped back to `src/*.ts` through their source maps, so a hotspot names the line to change.
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof packages/lakehouse/bench/lakehouse.ts --only append
 *   node packages/lakehouse/bench/support/profile-summary.ts /tmp/prof/CPU.*.cpuprofile [--top 25] [--under 'write']
 *
 * `--under NAME` limits the figures to samples with a frame whose function name contains NAME (e.g. `writeParquet`);
 * code that runs after an `await` has only the frames since that await, so name a function that does not await.
 */
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
  readonly columnNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
  readonly positionTicks?: readonly { readonly line: number; readonly ticks: number }[];
}

interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

const { values: options, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '25' }, under: { type: 'string' } },
});
const TOP = Number(options.top);
const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));

const maps = new Map<string, SourceMap | null>();
function sourceMapOf(url: string): SourceMap | null {
  if (!maps.has(url)) {
    let map: SourceMap | null = null;
    if (url.startsWith('file://')) {
      const mapFile = `${fileURLToPath(url)}.map`;
      if (existsSync(mapFile)) map = new SourceMap(JSON.parse(readFileSync(mapFile, 'utf8')) as ConstructorParameters<typeof SourceMap>[0]);
    }
    maps.set(url, map);
  }
  return maps.get(url)!;
}

/** `path:line` (1-based) of a 0-based position in `url`, through the source map when there is one. */
function place(url: string, line: number, column: number): string {
  if (url === '') return '(native)';
  const map = sourceMapOf(url);
  if (map !== null) {
    const entry = map.findEntry(line, Math.max(0, column));
    if ('originalSource' in entry && entry.originalSource !== undefined) {
      // Sources are relative to the generated file (`../src/x.ts` next to `dist/index.js`).
      const resolved = new URL(entry.originalSource, url).href;
      const source = resolved.startsWith('file://') ? fileURLToPath(resolved) : resolved;
      const shown = source.includes('node_modules') ? source.slice(source.lastIndexOf('node_modules/') + 13) : relative(repoRoot, source);
      return `${shown}:${entry.originalLine + 1}`;
    }
  }
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const shown = path.includes('node_modules/') ? path.slice(path.lastIndexOf('node_modules/') + 13) : path.startsWith('/') ? relative(repoRoot, path) : path;
  return `${shown}:${line + 1}`;
}

for (const file of positionals) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  // Time of each sample: the delta to the next sample (the last one gets the mean).
  const total = profile.endTime - profile.startTime;
  const selfTime = new Map<number, number>();
  const sampleTime = (index: number): number => profile.timeDeltas[index + 1] ?? total / profile.samples.length;
  const stackOf = (id: number): ProfileNode[] => {
    const stack: ProfileNode[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) stack.push(byId.get(at)!);
    return stack;
  };
  let counted = 0;
  const inclusive = new Map<string, number>();
  const keyOf = (frame: CallFrame): string => `${frame.functionName || '(anonymous)'} ${place(frame.url, frame.lineNumber, frame.columnNumber)}`;
  profile.samples.forEach((id, index) => {
    const stack = stackOf(id);
    if (options.under !== undefined && !stack.some((node) => node.callFrame.functionName.includes(options.under!))) return;
    const time = sampleTime(index);
    counted += time;
    selfTime.set(id, (selfTime.get(id) ?? 0) + time);
    const seen = new Set<string>();
    for (const node of stack) {
      const key = keyOf(node.callFrame);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + time);
    }
  });

  const self = new Map<string, number>();
  const lines = new Map<string, number>();
  for (const [id, time] of selfTime) {
    const node = byId.get(id)!;
    const key = keyOf(node.callFrame);
    self.set(key, (self.get(key) ?? 0) + time);
    const ticks = node.positionTicks ?? [];
    const allTicks = ticks.reduce((sum, tick) => sum + tick.ticks, 0);
    for (const tick of ticks) {
      const where = `${place(node.callFrame.url, tick.line - 1, 0)} (${node.callFrame.functionName || '(anonymous)'})`;
      lines.set(where, (lines.get(where) ?? 0) + (time * tick.ticks) / allTicks);
    }
  }

  const ms = (micros: number): string => `${(micros / 1_000).toFixed(0).padStart(7)} ms ${((100 * micros) / counted).toFixed(1).padStart(5)}%`;
  const show = (title: string, entries: Map<string, number>): void => {
    console.log(`\n${title}`);
    for (const [key, time] of [...entries].sort((a, b) => b[1] - a[1]).slice(0, TOP)) console.log(`  ${ms(time)}  ${key}`);
  };
  console.log(`${file}: ${(counted / 1_000).toFixed(0)} ms sampled${options.under === undefined ? '' : ` under "${options.under}"`} of ${(total / 1_000).toFixed(0)} ms`);
  show('Self time by function', self);
  show('Total time by function (callees included)', inclusive);
  show('Self time by source line', lines);
}
