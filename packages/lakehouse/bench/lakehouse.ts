/**
 * `npm run bench:lakehouse`: what writing CDC rows into Iceberg costs, in one process, on N generated rows (default
 * 1,000,000) of a 10-column `orders` table (long key, ints, strings, decimals, timestamps):
 *
 *   1. Parquet encoders: rows/s of each candidate encoder (`benchParquetEncoders` from ./parquet-encoders.ts);
 *   2. append through the sink: a topology (`iterableSource` -> `toSink(icebergSink(...))`, `createRuntime`) into a
 *      table on local disk, committing every `--sink-max-rows` rows; rows/s = rows / wall time, commits included;
 *      then `Table.append` directly (no runtime) with the same commit size, for comparison;
 *   3. upsert: on the table just loaded (N rows), change sets of 20% updates of existing keys + 5% deletes (plus
 *      `--insert-pct` new keys), each committed as one snapshot (`newTransaction().upsert().delete().commit()`);
 *      the first one on a freshly loaded `Table` builds the key index by reading the key column of every data file
 *      (cold), the second reuses it (steady); the index build alone is timed on its own too;
 *   4. commit latency: `--commits` appends of `--commit-rows` rows each (a whole commit: data file, manifest,
 *      manifest list, metadata file, conditional create), p50 / p99, on local disk (fsync on) and on the
 *      S3-compatible server (`--s3-endpoint`; reported as null, with a note, when it is not reachable).
 *
 * Prints a table and, as its last line, one JSON object with the figures and the issue's goals (Iceberg append
 * >= 250,000 rows/s on one core; local commit p50 < 50 ms) — measured, never asserted. A benchmark, not a test: it
 * checks only that each table holds the rows it should. Temporary tables are deleted at the end.
 *
 *   node packages/lakehouse/bench/lakehouse.ts [--rows 1000000] [--only encoders,sink,direct,upsert,commits]
 *     [--sink-max-rows 250000] [--commits 50] [--commit-rows 100] [--insert-pct 0] [--encoder-rounds 2]
 *     [--s3-endpoint http://127.0.0.1:19000]
 *
 * `--only append` means `sink,direct`; `upsert` also runs `direct` (it loads the table the upserts change). Wall-clock
 * figures suffer when other processes share the CPU (the load average is printed and recorded), so the CPU time of
 * each phase is reported beside them: rows per CPU-second is the steadier measure of "on one core".
 *
 * Profiling (hotspots mapped back to src/*.ts through dist's source maps):
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof packages/lakehouse/bench/lakehouse.ts --only sink
 *   node packages/lakehouse/bench/support/profile-summary.ts /tmp/prof/*.cpuprofile
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createRuntime, defineTopology, iterableSource, toSink } from '@tributary/core';
import type { Logger } from '@tributary/core';
import { localObjectStore, s3ObjectStore } from '@tributary/connectors/s3';
import type { ObjectStore } from '@tributary/connectors/s3';
import { Table, icebergSink, storageCatalog } from '@tributary/lakehouse';
import type { Catalog, IcebergSchema, Row } from '@tributary/lakehouse';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    only: { type: 'string', default: 'encoders,sink,direct,upsert,commits' },
    'sink-max-rows': { type: 'string', default: '250000' },
    commits: { type: 'string', default: '50' },
    'commit-rows': { type: 'string', default: '100' },
    'insert-pct': { type: 'string', default: '0' },
    'encoder-rounds': { type: 'string', default: '2' },
    's3-endpoint': { type: 'string', default: `http://127.0.0.1:${process.env.TRIBUTARY_S3_PORT ?? '19000'}` },
  },
});
const ROWS = Number(args.rows);
const PHASES = new Set(args.only.split(',').flatMap((phase) => (phase.trim() === 'append' ? ['sink', 'direct'] : [phase.trim()])));
const SINK_MAX_ROWS = Number(args['sink-max-rows']);
const COMMITS = Number(args.commits);
const COMMIT_ROWS = Number(args['commit-rows']);
const INSERT_PCT = Number(args['insert-pct']);
const ENCODER_ROUNDS = Number(args['encoder-rounds']);
const S3 = {
  endpoint: args['s3-endpoint'],
  region: 'us-east-1',
  bucket: 'tributary-bench',
  credentials: { accessKeyId: 'tributary', secretAccessKey: 'tributary-secret' },
};
// Runtime: polls of 5,000 records, up to 50,000 in flight; checkpoints only when the sink asks (at maxRows) or at the end.
const RUNTIME = { maxBatch: 5_000, maxInFlight: 50_000, checkpointIntervalMs: 3_600_000 };
const COMMIT_WARMUP = 2;
const GOALS = { appendRowsPerSecond: 250_000, localCommitP50Ms: 50 };
for (const [name, value] of Object.entries({ rows: ROWS, 'sink-max-rows': SINK_MAX_ROWS, commits: COMMITS, 'commit-rows': COMMIT_ROWS, 'encoder-rounds': ENCODER_ROUNDS })) {
  if (!Number.isInteger(value) || value <= 0) throw new Error(`--${name} must be a positive integer, got ${String(value)}`);
}

// Collect garbage between phases so that one phase's garbage is not billed to the next.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** The `orders` table of the benchmark: 10 columns, key `order_id`. */
const SCHEMA: IcebergSchema = {
  type: 'struct',
  'schema-id': 0,
  'identifier-field-ids': [1],
  fields: [
    { id: 1, name: 'order_id', required: true, type: 'long' },
    { id: 2, name: 'customer_id', required: true, type: 'int' },
    { id: 3, name: 'status', required: true, type: 'string' },
    { id: 4, name: 'currency', required: true, type: 'string' },
    { id: 5, name: 'sku', required: false, type: 'string' },
    { id: 6, name: 'quantity', required: true, type: 'int' },
    { id: 7, name: 'amount', required: true, type: 'decimal(12, 2)' },
    { id: 8, name: 'tax', required: false, type: 'decimal(10, 2)' },
    { id: 9, name: 'created_at', required: true, type: 'timestamptz' },
    { id: 10, name: 'updated_at', required: true, type: 'timestamptz' },
  ],
};

const STATUSES = ['pending', 'paid', 'packed', 'shipped', 'delivered'] as const;
const CURRENCIES = ['EUR', 'USD', 'GBP'] as const;
const BASE_MS = Date.UTC(2025, 0, 1);
const cents = (value: number): string => `${Math.floor(value / 100)}.${String(value % 100).padStart(2, '0')}`;

/**
 * Row `id` at `version` (0 = as inserted), shaped like a decoded Debezium change of a PostgreSQL `orders` row: key
 * `long` as a number, decimals as strings (`decimal.handling.mode=string`), `created_at` as an ISO-8601 string with
 * microseconds (Debezium's ZonedTimestamp), `updated_at` as a `Date`; `sku` and `tax` sometimes null.
 */
function orderRow(id: number, version: number): Row {
  const hash = Math.imul(id ^ 0x2545f491, 0x9e3779b1) >>> 0;
  const amountCents = 100 + (hash % 5_000_000);
  const createdMs = BASE_MS + id * 37;
  const micros = String(id % 1_000).padStart(3, '0');
  return {
    order_id: id,
    customer_id: 10_000 + (hash % 100_003),
    status: STATUSES[(hash + version) % STATUSES.length]!,
    currency: CURRENCIES[hash % CURRENCIES.length]!,
    sku: hash % 17 === 0 ? null : `SKU-${String(hash % 1_000_000).padStart(6, '0')}`,
    quantity: 1 + (hash % 9),
    amount: cents(amountCents + version * 100),
    tax: id % 10 === 0 ? null : cents(Math.floor(amountCents / 5)),
    created_at: `${new Date(createdMs).toISOString().slice(0, -1)}${micros}Z`,
    updated_at: new Date(createdMs + version * 60_000),
  };
}

function generate(from: number, count: number, version = 0): Row[] {
  const rows = new Array<Row>(count);
  for (let index = 0; index < count; index++) rows[index] = orderRow(from + index, version);
  return rows;
}

// ---------------------------------------------------------------------------------------------------------------

interface Timed<T> {
  readonly ms: number;
  readonly cpuMs: number;
  readonly value: T;
}

async function timed<T>(run: () => Promise<T>): Promise<Timed<T>> {
  collectGarbage();
  const cpu = process.cpuUsage();
  const started = performance.now();
  const value = await run();
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return { ms, cpuMs: (used.user + used.system) / 1_000, value };
}

const perSecond = (count: number, ms: number): number => Math.round(count / (ms / 1_000));
const seconds = (ms: number): string => `${(ms / 1_000).toFixed(2)} s`;
const round = (value: number, digits = 1): number => Math.round(value * 10 ** digits) / 10 ** digits;

/** Nearest-rank percentile (with 50 samples, p99 is the largest). */
function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function liveRows(catalog: Catalog, name: string): Promise<number> {
  const summary: Readonly<Record<string, string>> = (await Table.load(catalog, name)).currentSnapshot()?.summary ?? {};
  return Number(summary['total-records'] ?? 0) - Number(summary['total-position-deletes'] ?? 0);
}

async function directorySize(path: string): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  for (const entry of await readdir(path, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.parquet')) continue;
    files++;
    bytes += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return { files, bytes };
}

function check(condition: boolean, message: string): void {
  if (!condition) {
    console.error(`MISMATCH: ${message}`);
    process.exit(1);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// 2. Append

interface SinkResult {
  readonly rowsPerSecond: number;
  readonly ms: number;
  readonly cpuMs: number;
  readonly commits: number;
  /** Duration of each commit, as the sink logs it. */
  readonly commitMs: number[];
  readonly dataFiles: number;
  readonly parquetBytes: number;
}

interface DirectResult {
  readonly rowsPerSecond: number;
  readonly ms: number;
  readonly cpuMs: number;
  readonly commits: number;
}

async function appendThroughSink(root: string, rows: readonly Row[]): Promise<SinkResult> {
  const catalog = storageCatalog({ store: localObjectStore({ root }) });
  const commitMs: number[] = [];
  // The sink logs each commit with its duration: that splits the wall time into buffering and committing.
  const logger: Logger = {
    debug: () => undefined,
    info: (fields, message) => {
      if (message === 'iceberg commit') commitMs.push(Number(fields.ms));
    },
    warn: (fields, message) => console.warn(message, fields),
    error: (fields, message) => console.error(message, fields),
  };
  const sink = icebergSink<Row>({ catalog, table: 'bench.orders_sink', create: { schema: SCHEMA }, mode: 'append', maxRows: SINK_MAX_ROWS });
  const job = defineTopology({
    name: 'bench-lakehouse',
    source: iterableSource(rows, { batchSize: RUNTIME.maxBatch, eventTime: (_row, offset) => BASE_MS + offset }),
    pipeline: (input) => input.pipe(toSink(sink)),
  });
  const run = await timed(async () => {
    const runtime = createRuntime(job, { ...RUNTIME, logger });
    await runtime.start();
    await runtime.done;
  });
  check((await liveRows(catalog, 'bench.orders_sink')) === rows.length, `the sink's table does not hold ${rows.length} rows`);
  const size = await directorySize(root);
  return {
    rowsPerSecond: perSecond(rows.length, run.ms),
    ms: run.ms,
    cpuMs: run.cpuMs,
    commits: commitMs.length,
    commitMs,
    dataFiles: size.files,
    parquetBytes: size.bytes,
  };
}

async function appendDirect(catalog: Catalog, rows: readonly Row[]): Promise<DirectResult> {
  const table = await Table.create(catalog, 'bench.orders', { schema: SCHEMA });
  let commits = 0;
  const run = await timed(async () => {
    for (let from = 0; from < rows.length; from += SINK_MAX_ROWS) {
      // Not `table.append(slice)`: with more than ~100,000 rows it overflows the stack (`appended.push(...rows)` in
      // Table.commitOnce). Handing the same rows over in parts of one transaction commits the same single snapshot.
      const tx = table.newTransaction();
      const to = Math.min(rows.length, from + SINK_MAX_ROWS);
      for (let part = from; part < to; part += 10_000) tx.append(rows.slice(part, Math.min(to, part + 10_000)));
      await tx.commit();
      commits++;
    }
  });
  check((await liveRows(catalog, 'bench.orders')) === rows.length, `the table does not hold ${rows.length} rows after Table.append`);
  return { rowsPerSecond: perSecond(rows.length, run.ms), ms: run.ms, cpuMs: run.cpuMs, commits };
}

// ---------------------------------------------------------------------------------------------------------------
// 3. Upsert

interface UpsertRound {
  readonly changes: number;
  readonly updates: number;
  readonly deletes: number;
  readonly inserts: number;
  readonly ms: number;
  readonly cpuMs: number;
  readonly rowsPerSecond: number;
}

interface UpsertResult {
  readonly index: { readonly ms: number; readonly cpuMs: number };
  readonly cold: UpsertRound;
  readonly steady: UpsertRound;
}

/**
 * Change set `round` (0, 1, ...): updates of the keys with `id % 20` in 4 residues (20%), deletes of one more
 * residue (5%), so the changes touch every data file and no two rounds touch the same key; inserts get new ids.
 */
function changeSet(round: number, tableRows: number): { updates: Row[]; deletes: Row[]; inserts: Row[] } {
  const base = round * 5;
  const updates: Row[] = [];
  const deletes: Row[] = [];
  for (let id = 0; id < tableRows; id++) {
    const residue = id % 20;
    if (residue >= base && residue < base + 4) updates.push(orderRow(id, round + 1));
    else if (residue === base + 4) deletes.push({ order_id: id });
  }
  const insertCount = Math.round((tableRows * INSERT_PCT) / 100);
  const inserts = generate(tableRows + round * insertCount, insertCount);
  return { updates, deletes, inserts };
}

async function upsertRound(table: Table, round: number, tableRows: number): Promise<UpsertRound> {
  const { updates, deletes, inserts } = changeSet(round, tableRows);
  const run = await timed(async () => {
    const tx = table.newTransaction();
    tx.upsert(updates);
    if (inserts.length > 0) tx.upsert(inserts);
    tx.delete(deletes);
    await tx.commit();
  });
  const changes = updates.length + deletes.length + inserts.length;
  return {
    changes,
    updates: updates.length,
    deletes: deletes.length,
    inserts: inserts.length,
    ms: run.ms,
    cpuMs: run.cpuMs,
    rowsPerSecond: perSecond(changes, run.ms),
  };
}

async function upsert(catalog: Catalog, tableRows: number): Promise<UpsertResult> {
  // The key index alone: a delete of an absent key builds it and then finds nothing to commit.
  const probe = await Table.load(catalog, 'bench.orders');
  const index = await timed(() => probe.delete([{ order_id: -1 }]));
  // A freshly loaded Table has no index yet: its first change set pays for building it.
  const table = await Table.load(catalog, 'bench.orders');
  const cold = await upsertRound(table, 0, tableRows);
  const steady = await upsertRound(table, 1, tableRows);
  const expected = tableRows - cold.deletes - steady.deletes + cold.inserts + steady.inserts;
  check((await liveRows(catalog, 'bench.orders')) === expected, `after the upserts the table does not hold ${expected} rows`);
  return { index: { ms: index.ms, cpuMs: index.cpuMs }, cold, steady };
}

// ---------------------------------------------------------------------------------------------------------------
// 4. Commit latency

interface Latency {
  readonly p50: number;
  readonly p99: number;
  readonly mean: number;
  readonly samples: number;
  /** Store calls per commit (each one a request on S3) and the time spent in them, mean over the timed commits. */
  readonly storeCallsPerCommit: Record<string, { calls: number; ms: number }>;
}

/** Counts the calls a commit makes to the store (each one a request on S3) and the time spent in them. */
function countingStore(store: ObjectStore): { store: ObjectStore; calls: Map<string, { count: number; ms: number }> } {
  const calls = new Map<string, { count: number; ms: number }>();
  const note = (name: string, started: number): void => {
    const entry = calls.get(name) ?? { count: 0, ms: 0 };
    entry.count++;
    entry.ms += performance.now() - started;
    calls.set(name, entry);
  };
  const timedCall =
    <A extends unknown[], R>(name: string, call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const started = performance.now();
      try {
        return await call(...args);
      } finally {
        note(name, started);
      }
    };
  const wrapped: ObjectStore = {
    location: store.location,
    uri: (key) => store.uri(key),
    put: timedCall('put', (key, body, options) => store.put(key, body, options)),
    putIfAbsent: timedCall('putIfAbsent', (key, body, options) => store.putIfAbsent(key, body, options)),
    get: timedCall('get', (key, options) => store.get(key, options)),
    getRange: timedCall('getRange', (key, start, end, options) => store.getRange(key, start, end, options)),
    head: timedCall('head', (key, options) => store.head(key, options)),
    list: (prefix, options) => {
      const started = performance.now();
      const inner = store.list(prefix, options);
      return {
        async *[Symbol.asyncIterator]() {
          try {
            yield* inner;
          } finally {
            note('list', started);
          }
        },
      };
    },
    delete: timedCall('delete', (key, options) => store.delete(key, options)),
    deleteMany: timedCall('deleteMany', (keys, options) => store.deleteMany(keys, options)),
    close: () => store.close(),
  };
  return { store: wrapped, calls };
}

async function commitLatency(target: ObjectStore): Promise<Latency> {
  const { store, calls } = countingStore(target);
  const catalog = storageCatalog({ store });
  const table = await Table.create(catalog, `bench.latency_${randomUUID().slice(0, 8)}`, { schema: SCHEMA });
  const samples: number[] = [];
  for (let commit = 0; commit < COMMIT_WARMUP + COMMITS; commit++) {
    const rows = generate(commit * COMMIT_ROWS, COMMIT_ROWS);
    const started = performance.now();
    if (commit === COMMIT_WARMUP) calls.clear();
    await table.append(rows);
    if (commit >= COMMIT_WARMUP) samples.push(performance.now() - started);
  }
  const perCommit = Object.fromEntries(
    [...calls].map(([name, { count, ms }]) => [name, { calls: round(count / COMMITS, 1), ms: round(ms / COMMITS, 1) }]),
  );
  return {
    p50: round(percentile(samples, 50)),
    p99: round(percentile(samples, 99)),
    mean: round(samples.reduce((a, b) => a + b, 0) / samples.length),
    samples: samples.length,
    storeCallsPerCommit: perCommit,
  };
}

/** An S3 store under a fresh prefix of the bench bucket (created if missing), or why there is none. */
async function openS3(): Promise<{ store: ObjectStore } | { unavailable: string }> {
  const { S3Client, CreateBucketCommand } = await import('@aws-sdk/client-s3');
  const client = new S3Client({ endpoint: S3.endpoint, region: S3.region, forcePathStyle: true, credentials: S3.credentials, maxAttempts: 1 });
  try {
    await client.send(new CreateBucketCommand({ Bucket: S3.bucket }), { abortSignal: AbortSignal.timeout(5_000) });
  } catch (error) {
    const name = (error as { name?: string }).name;
    if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') {
      return { unavailable: `S3-compatible server at ${S3.endpoint} not usable (${name ?? 'error'}: ${(error as Error).message}); start it with \`npm run services\`` };
    }
  } finally {
    client.destroy();
  }
  const store = s3ObjectStore({
    bucket: S3.bucket,
    prefix: `bench-lakehouse-${randomUUID().slice(0, 8)}`,
    endpoint: S3.endpoint,
    region: S3.region,
    forcePathStyle: true,
    credentials: S3.credentials,
  });
  return { store };
}

const describeCalls = (latency: Latency): string =>
  Object.entries(latency.storeCallsPerCommit)
    .map(([name, { calls, ms }]) => `${calls} ${name} (${ms} ms)`)
    .join(', ');

async function s3CommitLatency(): Promise<{ latency: Latency | null; note: string | undefined }> {
  const opened = await openS3();
  if ('unavailable' in opened) return { latency: null, note: opened.unavailable };
  const { store } = opened;
  try {
    return { latency: await commitLatency(store), note: undefined };
  } catch (error) {
    return { latency: null, note: `S3 commits failed: ${(error as Error).message}` };
  } finally {
    const keys: string[] = [];
    for await (const info of store.list('')) keys.push(info.key);
    await store.deleteMany(keys).catch(() => undefined);
    await store.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------

const roots: string[] = [];
const tempRoot = async (): Promise<string> => {
  const root = await mkdtemp(join(tmpdir(), 'bench-lakehouse-'));
  roots.push(root);
  return root;
};

const report: Record<string, unknown> = { rows: ROWS, columns: SCHEMA.fields.length };
const line = (what: string, figure: string, detail = ''): void => {
  console.log(`  ${what.padEnd(44)} ${figure.padStart(16)}  ${detail}`);
};

const loadAtStart = loadavg()[0]!;
try {
  console.log(`bench:lakehouse — ${ROWS.toLocaleString('en-US')} rows x ${SCHEMA.fields.length} columns, node ${process.version}, ${availableParallelism()} CPUs`);

  let encoders: unknown = null;
  if (PHASES.has('encoders')) {
    console.log(`\nParquet encoders (their own dataset, see parquet-encoders.ts; best of ${ENCODER_ROUNDS} rounds, wall clock)`);
    // Imported here so the other phases run (--only) also where the encoder comparison cannot load.
    const { benchParquetEncoders } = await import('./parquet-encoders.ts');
    encoders = await benchParquetEncoders(ROWS, ENCODER_ROUNDS);
  }
  report.encoders = encoders;

  // Warm-up, not measured: loads parquet-wasm (~5 MB) and gets the write path compiled before the first timed phase.
  const warmUp = await Table.create(storageCatalog({ store: localObjectStore({ root: await tempRoot() }) }), 'bench.warm_up', { schema: SCHEMA });
  for (let round = 0; round < 3; round++) await warmUp.upsert(generate(0, 5_000, round));

  let rows = PHASES.has('sink') || PHASES.has('direct') || PHASES.has('upsert') ? generate(0, ROWS) : [];
  let sink: SinkResult | null = null;
  let direct: DirectResult | null = null;
  let upsertResult: UpsertResult | null = null;
  if (PHASES.has('sink')) {
    console.log(`\nAppend (local disk, fsync on, a commit every ${SINK_MAX_ROWS.toLocaleString('en-US')} rows)`);
    sink = await appendThroughSink(await tempRoot(), rows);
    line(
      'icebergSink in a topology',
      `${sink.rowsPerSecond.toLocaleString('en-US')} rows/s`,
      `${seconds(sink.ms)} wall, ${seconds(sink.cpuMs)} CPU (${perSecond(ROWS, sink.cpuMs).toLocaleString('en-US')} rows/CPU-s), ${sink.commits} commits ` +
        `(${seconds(sink.commitMs.reduce((a, b) => a + b, 0))} in commit), ${sink.dataFiles} files, ${(sink.parquetBytes / ROWS).toFixed(1)} B/row`,
    );
  }
  if (PHASES.has('direct') || PHASES.has('upsert')) {
    // The upsert phase works on the table this loads.
    const catalog = storageCatalog({ store: localObjectStore({ root: await tempRoot() }) });
    if (!PHASES.has('sink')) console.log(`\nAppend (local disk, fsync on, a commit every ${SINK_MAX_ROWS.toLocaleString('en-US')} rows)`);
    direct = await appendDirect(catalog, rows);
    line(
      'Table append (no runtime)',
      `${direct.rowsPerSecond.toLocaleString('en-US')} rows/s`,
      `${seconds(direct.ms)} wall, ${seconds(direct.cpuMs)} CPU (${perSecond(ROWS, direct.cpuMs).toLocaleString('en-US')} rows/CPU-s), ${direct.commits} commits`,
    );
    rows = [];
    if (PHASES.has('upsert')) {
      console.log(`\nUpsert (table of ${ROWS.toLocaleString('en-US')} rows; 20% updates + 5% deletes${INSERT_PCT > 0 ? ` + ${INSERT_PCT}% inserts` : ''} per commit)`);
      upsertResult = await upsert(catalog, ROWS);
      line('key index build (first use)', `${upsertResult.index.ms.toFixed(0)} ms`, `${seconds(upsertResult.index.cpuMs)} CPU; reads the key column of every data file`);
      for (const [label, result] of [
        ['upsert + delete, cold (builds the index)', upsertResult.cold],
        ['upsert + delete, steady (index kept)', upsertResult.steady],
      ] as const) {
        line(
          label,
          `${result.rowsPerSecond.toLocaleString('en-US')} rows/s`,
          `${result.changes.toLocaleString('en-US')} changes (${result.updates.toLocaleString('en-US')} updates, ${result.deletes.toLocaleString('en-US')} deletes, ` +
            `${result.inserts.toLocaleString('en-US')} inserts) in ${seconds(result.ms)} wall, ${seconds(result.cpuMs)} CPU`,
        );
      }
    }
  }

  let local: Latency | null = null;
  let s3: Latency | null = null;
  let s3Note: string | undefined;
  if (PHASES.has('commits')) {
    console.log(`\nCommit latency (${COMMITS} appends of ${COMMIT_ROWS} rows after ${COMMIT_WARMUP} warm-up ones; p99 of ${COMMITS} samples is near the max)`);
    local = await commitLatency(localObjectStore({ root: await tempRoot() }));
    line('local disk (fsync on)', `p50 ${local.p50} ms`, `p99 ${local.p99} ms, mean ${local.mean} ms; per commit: ${describeCalls(local)}`);
    ({ latency: s3, note: s3Note } = await s3CommitLatency());
    if (s3 === null) line(`S3 (${S3.endpoint})`, 'n/a', s3Note ?? '');
    else line(`S3 (${S3.endpoint})`, `p50 ${s3.p50} ms`, `p99 ${s3.p99} ms, mean ${s3.mean} ms; per commit: ${describeCalls(s3)}`);
  }

  const appendFigure = sink?.rowsPerSecond ?? null;
  const commitFigure = local?.p50 ?? null;
  Object.assign(report, {
    append: {
      sink_max_rows: SINK_MAX_ROWS,
      sink:
        sink === null
          ? null
          : {
              rows_per_s: sink.rowsPerSecond,
              rows_per_cpu_s: perSecond(ROWS, sink.cpuMs),
              wall_ms: Math.round(sink.ms),
              cpu_ms: Math.round(sink.cpuMs),
              commits: sink.commits,
              commit_ms: sink.commitMs,
              data_files: sink.dataFiles,
              parquet_bytes_per_row: round(sink.parquetBytes / ROWS, 2),
            },
      direct:
        direct === null
          ? null
          : {
              rows_per_s: direct.rowsPerSecond,
              rows_per_cpu_s: perSecond(ROWS, direct.cpuMs),
              wall_ms: Math.round(direct.ms),
              cpu_ms: Math.round(direct.cpuMs),
              commits: direct.commits,
            },
    },
    upsert:
      upsertResult === null
        ? null
        : {
            table_rows: ROWS,
            changes_per_commit: upsertResult.steady.changes,
            updates_per_commit: upsertResult.steady.updates,
            deletes_per_commit: upsertResult.steady.deletes,
            inserts_per_commit: upsertResult.steady.inserts,
            index_build_ms: Math.round(upsertResult.index.ms),
            index_build_cpu_ms: Math.round(upsertResult.index.cpuMs),
            cold_rows_per_s: upsertResult.cold.rowsPerSecond,
            cold_ms: Math.round(upsertResult.cold.ms),
            cold_cpu_ms: Math.round(upsertResult.cold.cpuMs),
            steady_rows_per_s: upsertResult.steady.rowsPerSecond,
            steady_ms: Math.round(upsertResult.steady.ms),
            steady_cpu_ms: Math.round(upsertResult.steady.cpuMs),
          },
    commit_latency_ms: PHASES.has('commits')
      ? { commits: COMMITS, rows_per_commit: COMMIT_ROWS, local, s3, ...(s3Note === undefined ? {} : { s3_note: s3Note }) }
      : null,
    goals: {
      append_rows_per_s: { target: GOALS.appendRowsPerSecond, measured: appendFigure, met: appendFigure === null ? null : appendFigure >= GOALS.appendRowsPerSecond },
      local_commit_p50_ms: { target: GOALS.localCommitP50Ms, measured: commitFigure, met: commitFigure === null ? null : commitFigure < GOALS.localCommitP50Ms },
    },
    node: process.version,
    cpus: availableParallelism(),
    load_average_1m: { start: round(loadAtStart, 2), end: round(loadavg()[0]!, 2) },
  });
  const busiest = Math.max(loadAtStart, loadavg()[0]!);
  if (busiest > availableParallelism()) {
    console.log(
      `\nNote: load average reached ${busiest.toFixed(1)} on ${availableParallelism()} CPUs — other processes competed for the CPU, so wall-clock ` +
        'figures are pessimistic; the CPU-second figures (rows per CPU-second) are the steadier measure.',
    );
  }
  console.log('');
  console.log(JSON.stringify(report));
} finally {
  await Promise.all(roots.map((root) => rm(root, { recursive: true, force: true })));
}
