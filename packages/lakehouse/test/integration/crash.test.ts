/**
 * Exactly-once of `kafkaSource -> icebergSink` across a SIGKILL of the pipeline process (reliability scenarios 1 and
 * 2): a child process (test/fixtures/crash-pipeline.ts) appends one row per Kafka record to an Iceberg table and kills
 * itself at one point of the commit protocol —
 *   (a) data files, manifests and manifest list written, `catalog.commitTable` not yet called;
 *   (b) the Iceberg commit (snapshot summary with the checkpoint's positions) done, the Kafka offset commit not;
 *   (c) in the middle of a batch handed to the sink.
 * A second process without the hook then runs to the end of the topic. pyiceberg must read every id exactly once,
 * every file the table references must exist, and files of the lost commit (a) must stay unreferenced.
 *
 * The table appends (no upsert): a replayed record would be a second row, so duplicates cannot hide. A control run
 * with `exactlyOnce: false` shows that the check sees them.
 *
 * The child is bundled with esbuild (as the connectors' kafka-kill test does): bare Node cannot map the workspace
 * sources' `.js` import specifiers to their `.ts` files, and tests must not depend on a build.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { Kafka, logLevel } from 'kafkajs';
import type { Admin, Producer } from 'kafkajs';
import { createRuntime, defineTopology, memorySource, MemoryLog, silentLogger, systemClock, toSink } from '@tributary/core';
import type { StreamRecord } from '@tributary/core';
import { localObjectStore } from '@tributary/connectors/s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExpectStatic } from 'vitest';
import { storageCatalog } from '../../src/catalog/storage-catalog.js';
import { readManifest, readManifestList } from '../../src/metadata/manifest.js';
import { readParquet } from '../../src/parquet/read-parquet.js';
import type { IcebergSchema } from '../../src/schema/types.js';
import { icebergSink, positionsSummaryKey } from '../../src/sink/iceberg-sink.js';
import { Table } from '../../src/table/table.js';
import { services } from '../../../../test/support/services.js';
import { pyicebergRead } from '../support/pyiceberg.js';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const RECORDS = 2_000;
const PARTITIONS = 3;
const TABLE = 'crash.events';
/** The sink's writer id: its default, derived from the step name `iceberg:crash.events`. */
const WRITER = 'iceberg_crash.events';

/** The fixture's table schema (crash-pipeline.ts), for tests that write it in-process. */
const crashSchema: IcebergSchema = {
  type: 'struct',
  'schema-id': 0,
  'identifier-field-ids': [1],
  fields: [
    { id: 1, name: 'id', required: true, type: 'long' },
    { id: 2, name: 'source', required: true, type: 'string' },
    { id: 3, name: 'payload', required: false, type: 'string' },
  ],
};

const unique = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;

let admin: Admin;
let producer: Producer;
let work: string;
let bundle: string;
const topics: string[] = [];
const groups: string[] = [];
const warehouses: string[] = [];
let topicCreation: Promise<unknown> = Promise.resolve();

beforeAll(async () => {
  const kafka = new Kafka({ clientId: unique('crash-test'), brokers: [...services.kafkaBrokers], logLevel: logLevel.NOTHING, connectionTimeout: 3_000, retry: { retries: 2 } });
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  // Inside the repository's node_modules, so the bundle's bare imports (kafkajs, parquet-wasm, ...) resolve there.
  work = join(root, 'node_modules', '.cache', unique('tributary-lakehouse-crash'));
  mkdirSync(work, { recursive: true });
  bundle = join(work, 'crash-pipeline.mjs');
  await build({
    entryPoints: [fileURLToPath(new URL('../fixtures/crash-pipeline.ts', import.meta.url))],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    // Third-party packages load from node_modules as usual (parquet-wasm finds its .wasm beside itself); only the
    // workspace packages are bundled from source. Aliases apply before `packages: 'external'`.
    packages: 'external',
    alias: {
      '@tributary/core': join(root, 'packages/core/src/index.ts'),
      '@tributary/connectors/kafka': join(root, 'packages/connectors/src/kafka.ts'),
      '@tributary/connectors/s3': join(root, 'packages/connectors/src/s3.ts'),
    },
    logLevel: 'silent',
  });
});

afterAll(async () => {
  await producer?.disconnect().catch(() => undefined);
  if (groups.length > 0) await admin?.deleteGroups(groups).catch(() => undefined);
  if (topics.length > 0) await admin?.deleteTopics({ topics, timeout: 10_000 }).catch(() => undefined);
  await admin?.disconnect().catch(() => undefined);
  for (const dir of warehouses) await rm(dir, { recursive: true, force: true });
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

interface ChildResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly output: string;
}

/** Runs the pipeline process to its end (exit or signal); kills it and fails after `timeoutMs`. */
function runChild(env: Record<string, string>, timeoutMs = 45_000): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    let output = '';
    const child = spawn(process.execPath, [bundle], { env: { ...process.env, ...env }, cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`pipeline process did not end within ${timeoutMs} ms; output:\n${output}`));
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output });
    });
  });
}

/** A fresh topic holding RECORDS records `{ id, payload }` with unique ids, spread over PARTITIONS partitions. */
async function produceTopic(): Promise<{ topic: string; end: Record<string, number> }> {
  const topic = unique('lakehouse-crash');
  topics.push(topic);
  // One topic creation at a time: kafkajs's leader wait fails on metadata of a topic created concurrently.
  const created = topicCreation.then(() => admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }], waitForLeaders: true }));
  topicCreation = created.catch(() => undefined);
  await created;
  for (let start = 0; start < RECORDS; start += 500) {
    const messages = Array.from({ length: Math.min(500, RECORDS - start) }, (_, i) => {
      const id = start + i;
      return { key: `k${id}`, partition: id % PARTITIONS, value: JSON.stringify({ id, payload: `record ${id} ${'x'.repeat(id % 40)}` }) };
    });
    await producer.send({ topic, acks: -1, messages });
  }
  const offsets = await admin.fetchTopicOffsets(topic);
  return { topic, end: Object.fromEntries(offsets.map(({ partition, high }) => [`${topic}:${partition}`, Number(high)])) };
}

async function committedOffsets(group: string, topic: string): Promise<Record<string, number>> {
  const [fetched] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  return Object.fromEntries((fetched?.partitions ?? []).filter((p) => Number(p.offset) >= 0).map((p) => [`${topic}:${p.partition}`, Number(p.offset)]));
}

async function listFiles(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/** Every file any snapshot of the table references (manifest lists, manifests, data and delete files), as paths. */
async function referencedFiles(table: Table): Promise<{ all: Set<string>; data: Set<string> }> {
  const all = new Set<string>();
  const data = new Set<string>();
  for (const snapshot of table.metadata.snapshots) {
    const list = snapshot['manifest-list'];
    all.add(fileURLToPath(list));
    for (const manifest of readManifestList(await table.state.io.read(list), list)) {
      all.add(fileURLToPath(manifest.manifestPath));
      for (const entry of readManifest(await table.state.io.read(manifest.manifestPath), manifest)) {
        all.add(fileURLToPath(entry.dataFile.filePath));
        data.add(fileURLToPath(entry.dataFile.filePath));
      }
    }
  }
  return { all, data };
}

interface Run {
  readonly table: Table;
  readonly warehouse: string;
  readonly ids: number[];
  readonly crashed: { point: string; commits: number; mapped: number };
  /** Table state and Kafka offsets right after the crash. */
  readonly atCrash: { rows: number; sinkPositions: Record<string, number> | undefined; kafkaCommitted: Record<string, number>; dataFilesOnDisk: string[] };
  readonly kafkaCommittedAtEnd: Record<string, number>;
  readonly end: Record<string, number>;
}

/** Produces a topic, runs the pipeline with a crash at `point`, restarts it without, and reads the table with pyiceberg. */
async function crashAndRestart(expect: ExpectStatic, point: 'before-commit' | 'after-commit' | 'mid-batch', nth: number, exactlyOnce = true): Promise<Run> {
  const { topic, end } = await produceTopic();
  const group = unique('lakehouse-crash-group');
  groups.push(group);
  const warehouse = await mkdtemp(join(tmpdir(), 'tributary-crash-'));
  warehouses.push(warehouse);
  const markerFile = join(warehouse, 'crash-marker.json');
  const env = {
    CRASH_BROKERS: services.kafkaBrokers.join(','),
    CRASH_TOPIC: topic,
    CRASH_GROUP: group,
    CRASH_WAREHOUSE: join(warehouse, 'lake'),
    CRASH_TABLE: TABLE,
    CRASH_END: JSON.stringify(end),
    CRASH_EXACTLY_ONCE: String(exactlyOnce),
  };

  const started = Date.now();
  const first = await runChild({ ...env, CRASH_AT: point, CRASH_NTH: String(nth), CRASH_MARKER: markerFile });
  expect(first.signal, `the first process should have killed itself at ${point}; it ended with code ${first.code}:\n${first.output}`).toBe('SIGKILL');
  const crashed = JSON.parse(readFileSync(markerFile, 'utf8')) as Run['crashed'];
  expect(crashed.point).toBe(point);

  const catalog = storageCatalog({ store: localObjectStore({ root: join(warehouse, 'lake') }) });
  const table = await Table.load(catalog, TABLE);
  const summary = table.currentSnapshot()?.summary[positionsSummaryKey(WRITER)];
  const atCrash = {
    rows: Number(table.currentSnapshot()?.summary['total-records'] ?? '0'),
    sinkPositions: summary === undefined ? undefined : (JSON.parse(summary) as Record<string, number>),
    kafkaCommitted: await committedOffsets(group, topic),
    dataFilesOnDisk: (await listFiles(join(warehouse, 'lake', 'crash', 'events', 'data'))).sort(),
  };

  const crashedAt = Date.now();
  const second = await runChild(env);
  console.info(`[crash ${point}] first process ${crashedAt - started} ms, restart ${Date.now() - crashedAt} ms`);
  expect(second.code, `the restarted process should finish; output:\n${second.output}`).toBe(0);
  await table.refresh();
  const read = await pyicebergRead(table.metadataLocation);
  const ids = read.rows.map((row) => Number(row.id));
  return { table, warehouse, ids, crashed, atCrash, kafkaCommittedAtEnd: await committedOffsets(group, topic), end };
}

function duplicates(ids: readonly number[]): number {
  return ids.length - new Set(ids).size;
}

async function expectExactlyOnce(expect: ExpectStatic, run: Run): Promise<void> {
  expect(duplicates(run.ids), 'ids pyiceberg reads more than once').toBe(0);
  expect(run.ids.length).toBe(RECORDS);
  expect([...run.ids].sort((a, b) => a - b)).toEqual(Array.from({ length: RECORDS }, (_, i) => i));
  // The graceful stop of the second process committed everything to the group.
  expect(run.kafkaCommittedAtEnd).toEqual(run.end);
  const { all } = await referencedFiles(run.table);
  const missing = [...all].filter((file) => !existsSync(file));
  expect(missing, 'files the table references but that do not exist').toEqual([]);
}

describe('icebergSink exactly-once across SIGKILL of the pipeline process', () => {
  // Cases run concurrently: each restart waits for the killed member's group session (6 s, the broker minimum) to expire.
  it.concurrent('(a) killed after the data files are written, before the catalog commit: replayed once, the lost files stay unreferenced', async ({ expect }) => {
    const run = await crashAndRestart(expect, 'before-commit', 3);
    // Two commits made it; the third had written its files.
    expect(run.crashed.commits).toBe(2);
    expect(run.atCrash.rows).toBeGreaterThan(0);
    expect(run.atCrash.rows).toBeLessThan(RECORDS);
    await expectExactlyOnce(expect, run);

    const { data } = await referencedFiles(run.table);
    const orphans = run.atCrash.dataFilesOnDisk.filter((file) => !data.has(file));
    expect(orphans.length, 'data files of the commit the crash interrupted').toBeGreaterThan(0);
    // They still exist (nothing deleted them), hold rows that were committed again after the restart, and no
    // snapshot references them: that is why pyiceberg saw no duplicates.
    const schema: IcebergSchema = run.table.schema;
    let orphanRows = 0;
    const committed = new Set(run.ids);
    for (const file of orphans) {
      expect(existsSync(file)).toBe(true);
      const ids = (await readParquet(new Uint8Array(await readFile(file)), schema, { columns: [1] })).getChild('id')!.toArray() as BigInt64Array;
      orphanRows += ids.length;
      for (const id of ids) expect(committed.has(Number(id))).toBe(true);
    }
    expect(orphanRows).toBeGreaterThan(0);
    console.info(`[crash a] ${run.atCrash.rows} rows committed at the kill, ${orphans.length} orphan file(s) with ${orphanRows} rows; after the restart ${run.ids.length} rows, ${duplicates(run.ids)} duplicates`);
  });

  it.concurrent('(b) killed after the Iceberg commit, before the Kafka offset commit: resumes from the snapshot positions', async ({ expect }) => {
    const run = await crashAndRestart(expect, 'after-commit', 3);
    expect(run.crashed.commits).toBe(3);
    // The crash left the table ahead of the group's offsets: a restart from Kafka alone would append rows again.
    const sink = run.atCrash.sinkPositions!;
    expect(sink).toBeDefined();
    const ahead = Object.entries(sink).filter(([partition, offset]) => offset > (run.atCrash.kafkaCommitted[partition] ?? 0));
    expect(ahead.length, `snapshot positions ${JSON.stringify(sink)} vs Kafka ${JSON.stringify(run.atCrash.kafkaCommitted)}`).toBeGreaterThan(0);
    await expectExactlyOnce(expect, run);
    console.info(`[crash b] at the kill: snapshot positions ${JSON.stringify(sink)}, Kafka ${JSON.stringify(run.atCrash.kafkaCommitted)}; after the restart ${run.ids.length} rows, ${duplicates(run.ids)} duplicates`);
  });

  it.concurrent('(c) killed in the middle of a batch: the uncommitted buffer is read again, once', async ({ expect }) => {
    // The 1,134th record: inside a write() call, with the rows since the last commit (about every 300) in the buffer.
    const run = await crashAndRestart(expect, 'mid-batch', 1_134);
    expect(run.crashed.mapped).toBe(1_134);
    expect(run.atCrash.rows, 'rows were buffered, not committed, at the kill').toBeLessThan(1_133);
    await expectExactlyOnce(expect, run);
    console.info(`[crash c] ${run.atCrash.rows} rows committed at the kill (record 1134 in the sink's hands); after the restart ${run.ids.length} rows, ${duplicates(run.ids)} duplicates`);
  });

  it.concurrent('control: without exactlyOnce, the same crash as (b) leaves duplicates that the check detects', async ({ expect }) => {
    const run = await crashAndRestart(expect, 'after-commit', 3, false);
    expect(new Set(run.ids).size).toBe(RECORDS);
    expect(duplicates(run.ids)).toBeGreaterThan(0);
    console.info(`[crash control] without exactly-once: ${run.ids.length} rows, ${duplicates(run.ids)} duplicates`);
  });
});

describe('icebergSink exactly-once with two members of one consumer group writing one table', () => {
  // Each member's runtime records only the partitions it holds in its commits' positions. When a member dies between
  // its Iceberg commit and its Kafka commit and the other member commits afterwards, the newest snapshot no longer
  // names the dead member's partition: the sink must still report that partition's position (from the older snapshot),
  // or its new owner resumes from the Kafka offset and appends the committed rows again.
  it('the member taking over a partition resumes from the dead member\'s snapshot, not from the lagging Kafka offset', async () => {
    const warehouse = await mkdtemp(join(tmpdir(), 'tributary-crash-members-'));
    warehouses.push(warehouse);
    const catalog = storageCatalog({ store: localObjectStore({ root: warehouse }) });
    interface Event {
      readonly id: number;
    }
    const log = new MemoryLog<Event>({ name: 'events', partitions: 2 });
    const [p0, p1] = log.partitions() as [string, string];
    for (let id = 0; id < 200; id++) log.append(id % 2, { key: String(id), value: { id } });
    log.end();
    const sinkOptions = {
      name: 'lake',
      catalog,
      table: TABLE,
      create: { schema: crashSchema },
      mode: 'append' as const,
      toChange: (record: StreamRecord<Event>) => ({ op: 'append' as const, row: { id: record.value.id, source: `${record.position.partition}@${record.position.offset}`, payload: null } }),
    };
    const context = { clock: systemClock, logger: silentLogger, signal: new AbortController().signal };

    // What each member's runtime does at a checkpoint: write its records, then commit with its own partitions' positions.
    const memberA = icebergSink<Event>(sinkOptions);
    await memberA.open!({ ...context, stepName: 'lake' });
    await memberA.write(log.read(p0, 0, 60));
    await memberA.commit({ id: 1, positions: { [p0]: 60 }, reason: 'interval' });
    // Member A is killed here: its Kafka commit of p0 at 60 never happens (the group's p0 offset stays unset).
    const memberB = icebergSink<Event>(sinkOptions);
    await memberB.open!({ ...context, stepName: 'lake' });
    await memberB.write(log.read(p1, 0, 40));
    await memberB.commit({ id: 1, positions: { [p1]: 40 }, reason: 'interval' });
    log.commit('lake-group', { [p1]: 40 });

    // Member B, after the rebalance, owns both partitions and runs to the end of the log.
    const runtime = createRuntime(
      defineTopology({ name: 'members', source: memorySource(log, { group: 'lake-group' }), pipeline: (records) => records.pipe(toSink(icebergSink<Event>(sinkOptions))) }),
      { checkpointIntervalMs: 60_000 },
    );
    await runtime.start();
    await runtime.done;
    expect(runtime.status().state).toBe('finished');

    const table = await Table.load(catalog, TABLE);
    const ids = (await pyicebergRead(table.metadataLocation)).rows.map((row) => Number(row.id));
    expect(duplicates(ids), 'rows of p0 appended twice').toBe(0);
    expect([...ids].sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });
});
