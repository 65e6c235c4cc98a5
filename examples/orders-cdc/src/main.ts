/**
 * The main job on the embedded default: generated orders CDC events -> validate -> mask -> dedupe -> the silver
 * Iceberg table (orders upserted and deleted by order id) and 1-minute tumbling windows per merchant -> the gold
 * Iceberg table, both on local disk (a fresh warehouse directory per run). No services needed. The last line printed
 * is one JSON object; its `tables` field names each table's metadata file, rows and snapshots.
 *
 *   node examples/orders-cdc/src/main.ts [--events 20000] [--seed 7] [--warehouse .tributary/orders-cdc-warehouse]
 */
import { rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { localObjectStore } from '@tributary/connectors/s3';
import { storageCatalog } from '@tributary/lakehouse';
import { generateOrderEvents } from './generate.ts';
import { runOrdersJob } from './run.ts';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '20000' },
    seed: { type: 'string', default: '7' },
    warehouse: { type: 'string', default: '.tributary/orders-cdc-warehouse' },
  },
});
const events = Number(values.events);
const seed = Number(values.seed);
if (!Number.isInteger(events) || events <= 0) throw new Error(`--events must be a positive integer, got ${values.events}`);
if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got ${values.seed}`);

const input = generateOrderEvents({ events, merchants: 25, seed, start: Date.UTC(2026, 0, 1) });
// The warehouse belongs to this demo: start empty, so every run writes the same tables from the same input.
const warehouse = resolve(values.warehouse);
await rm(warehouse, { recursive: true, force: true });
const catalog = storageCatalog({ store: localObjectStore({ root: warehouse }) });
const summary = await runOrdersJob(input.events, undefined, { catalog });
console.log(`orders-cdc: ${summary.events_in} change events in ${summary.elapsed_ms} ms`);
console.log(`  windows: ${summary.windows_emitted} merchant-minutes, deletes: ${summary.deletes}`);
console.log(`  dead letters: ${summary.dead_letters}, late: ${summary.late}, duplicates dropped: ${summary.duplicates_dropped}`);
for (const [name, table] of Object.entries(summary.tables ?? {})) {
  console.log(`  ${name}: ${table.rows} rows, ${table.snapshots} snapshots -> ${table.metadata_location}`);
}
console.log(JSON.stringify(summary));
