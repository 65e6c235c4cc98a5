/**
 * The main job on the embedded default: generated orders CDC events -> validate -> mask -> dedupe -> 1-minute
 * tumbling windows per merchant -> in-memory sinks. No services needed. The last line printed is one JSON object.
 *
 *   node examples/orders-cdc/src/main.ts [--events 20000] [--seed 7]
 */
import { parseArgs } from 'node:util';
import { generateOrderEvents } from './generate.ts';
import { runOrdersJob } from './run.ts';

const { values } = parseArgs({
  options: { events: { type: 'string', default: '20000' }, seed: { type: 'string', default: '7' } },
});
const events = Number(values.events);
const seed = Number(values.seed);
if (!Number.isInteger(events) || events <= 0) throw new Error(`--events must be a positive integer, got ${values.events}`);
if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got ${values.seed}`);

const input = generateOrderEvents({ events, merchants: 25, seed, start: Date.UTC(2026, 0, 1) });
const summary = await runOrdersJob(input.events);
console.log(`orders-cdc: ${summary.events_in} change events in ${summary.elapsed_ms} ms`);
console.log(`  windows: ${summary.windows_emitted} merchant-minutes, deletes: ${summary.deletes}`);
console.log(`  dead letters: ${summary.dead_letters}, late: ${summary.late}, duplicates dropped: ${summary.duplicates_dropped}`);
console.log(JSON.stringify(summary));
