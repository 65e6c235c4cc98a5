/**
 * Parquet encoders compared on one generated CDC-like dataset (10 columns: long key, ints, strings, decimal(12, 2),
 * timestamptz, a long LSN, a double), in one process: rows/s from write-side JavaScript rows to Parquet bytes, best
 * of `rounds` (the first round also warms the JIT and compiles the WebAssembly). Every candidate is timed end to
 * end from the same rows; the ones that write Iceberg field ids go through the same validation (`rowsToArrow`).
 *
 * - `rowsToArrow`: the validation + Arrow conversion alone (no Parquet);
 * - `writeParquet (arrow + parquet-wasm, zstd | snappy)`: what @tributary/lakehouse ships — rows → Arrow →
 *   IPC → parquet-wasm (arrow-rs) → bytes, plus column metrics and the footer pass;
 * - `arrow + hyparquet-writer (zstd | snappy)`: rows → Arrow (validated) → column arrays → hyparquet-writer with
 *   field ids in its schema; zstd from node:zlib;
 * - `@dsnp/parquetjs (snappy)`: reference only — it cannot write field ids (no zstd either);
 * - reads of the zstd file: `readParquet` (parquet-wasm → Arrow, by field id) of all columns and of the key column
 *   only (what the upsert key index reads), and hyparquet (to row objects).
 *
 * Besides wall time (what `rows/s` is computed from) it prints the process CPU time of the best round: on a machine
 * shared with other work, CPU time moves much less than wall time (it also counts V8's helper threads, so on an idle
 * machine it can exceed wall time for allocation-heavy candidates).
 *
 * A benchmark, not a test: it asserts nothing about speed. It checks that each file carries field ids where it
 * should, and reports the file size.
 *
 *   node packages/lakehouse/bench/parquet-encoders.ts [--rows 1000000] [--rounds 2]
 *
 * Prints a table and, as its last line, one JSON object `{ "<candidate>": rows/s, ... }`.
 *
 * The lakehouse sources are imported directly (a resolve hook maps their `.js` specifiers to the `.ts` files), so
 * the figures are those of the working tree, without a build. @tributary/core must be built (its dist is imported).
 */
import { registerHooks } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { zstdCompressSync } from 'node:zlib';
import type * as RowsToArrowModule from '../src/arrow/rows-to-arrow.ts';
import type * as ReadParquetModule from '../src/parquet/read-parquet.ts';
import type * as WriteParquetModule from '../src/parquet/write-parquet.ts';
import type { IcebergSchema, Row } from '../src/schema/types.ts';

// Node strips types but does not rewrite `./x.js` to `./x.ts`; the sources are written for the bundler's resolution.
registerHooks({
  resolve(specifier, context, nextResolve) {
    if (specifier.startsWith('.') && specifier.endsWith('.js') && context.parentURL?.endsWith('.ts') === true) {
      const candidate = new URL(`${specifier.slice(0, -3)}.ts`, context.parentURL);
      if (existsSync(fileURLToPath(candidate))) return nextResolve(candidate.href, context);
    }
    return nextResolve(specifier, context);
  },
});

const source = (path: string): string => new URL(`../src/${path}`, import.meta.url).href;
const { rowsToArrow } = (await import(source('arrow/rows-to-arrow.ts'))) as typeof RowsToArrowModule;
const { writeParquet } = (await import(source('parquet/write-parquet.ts'))) as typeof WriteParquetModule;
const { readParquet } = (await import(source('parquet/read-parquet.ts'))) as typeof ReadParquetModule;

/** The dataset's table schema. */
export const BENCH_SCHEMA: IcebergSchema = {
  type: 'struct',
  'schema-id': 0,
  'identifier-field-ids': [1],
  fields: [
    { id: 1, name: 'order_id', required: true, type: 'long' },
    { id: 2, name: 'customer_id', required: true, type: 'int' },
    { id: 3, name: 'status', required: false, type: 'string' },
    { id: 4, name: 'amount', required: false, type: 'decimal(12, 2)' },
    { id: 5, name: 'quantity', required: false, type: 'int' },
    { id: 6, name: 'email', required: false, type: 'string' },
    { id: 7, name: 'updated_at', required: true, type: 'timestamptz' },
    { id: 8, name: 'lsn', required: true, type: 'long' },
    { id: 9, name: 'op', required: true, type: 'string' },
    { id: 10, name: 'price', required: false, type: 'double' },
  ],
};

const STATUSES = ['created', 'paid', 'shipped', 'delivered', 'cancelled'];

/** Deterministic CDC-like rows: mostly updates, some nulls, realistic cardinalities. */
export function generateRows(count: number): Row[] {
  const rows = new Array<Row>(count);
  let seed = 7;
  const next = (): number => (seed = (Math.imul(seed, 1_664_525) + 1_013_904_223) >>> 0) / 4_294_967_296;
  for (let index = 0; index < count; index++) {
    const cents = Math.floor(next() * 10_000_000);
    rows[index] = {
      order_id: index + 1,
      customer_id: Math.floor(next() * 50_000),
      status: STATUSES[index % 5],
      amount: index % 50 === 0 ? null : `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`,
      quantity: index % 7 === 0 ? null : 1 + (index % 20),
      email: `customer${index % 50_000}@example.com`,
      updated_at: new Date(1_714_566_600_000 + index * 37),
      lsn: 2_000_000_000_000n + BigInt(index * 3),
      op: index % 10 === 0 ? 'd' : index % 10 === 1 ? 'c' : 'u',
      price: index % 13 === 0 ? null : Math.round(next() * 100_000) / 100,
    };
  }
  return rows;
}

interface Candidate {
  readonly name: string;
  /** Whether the output must carry Iceberg field ids. */
  readonly fieldIds: boolean;
  run(rows: readonly Row[]): Promise<Uint8Array | number>;
}

/** hyparquet-writer from the validated Arrow table: typed arrays where no nulls, arrays with nulls otherwise. */
async function hyparquetWrite(rows: readonly Row[], codec: 'ZSTD' | 'SNAPPY'): Promise<Uint8Array> {
  const { parquetWriteBuffer } = await import('hyparquet-writer');
  const table = rowsToArrow(BENCH_SCHEMA, rows);
  const schema: Record<string, unknown>[] = [{ name: 'root', num_children: BENCH_SCHEMA.fields.length }];
  const columnData = BENCH_SCHEMA.fields.map((field, column) => {
    const data = table.getChildAt(column)!.data[0]!;
    const element: Record<string, unknown> = { name: field.name, repetition_type: field.required ? 'REQUIRED' : 'OPTIONAL', field_id: field.id };
    const withNulls = (get: (index: number) => unknown): unknown[] => {
      const out = new Array<unknown>(data.length);
      for (let index = 0; index < data.length; index++) out[index] = data.getValid(index) ? get(index) : null;
      return out;
    };
    const values = data.values as ArrayLike<unknown>;
    let columnValues: unknown;
    switch (field.type) {
      case 'long':
        element.type = 'INT64';
        columnValues = field.required ? values : withNulls((index) => values[index]);
        break;
      case 'int':
        element.type = 'INT32';
        columnValues = field.required ? values : withNulls((index) => values[index]);
        break;
      case 'double':
        element.type = 'DOUBLE';
        columnValues = field.required ? values : withNulls((index) => values[index]);
        break;
      case 'timestamptz':
        element.type = 'INT64';
        element.logical_type = { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' };
        columnValues = field.required ? values : withNulls((index) => values[index]);
        break;
      case 'string': {
        element.type = 'BYTE_ARRAY';
        element.converted_type = 'UTF8';
        const offsets = data.valueOffsets as Int32Array;
        const bytes = data.values as Uint8Array;
        columnValues = withNulls((index) => bytes.subarray(offsets[index], offsets[index + 1]));
        break;
      }
      default: {
        // decimal(12, 2): INT64 unscaled, as the Iceberg spec maps precision <= 18.
        element.type = 'INT64';
        element.converted_type = 'DECIMAL';
        element.precision = 12;
        element.scale = 2;
        const words = data.values as Uint32Array;
        columnValues = withNulls((index) => BigInt(((words[index * 4 + 1]! | 0) * 4_294_967_296) + words[index * 4]!));
      }
    }
    schema.push(element);
    return { name: field.name, data: columnValues };
  });
  const buffer = parquetWriteBuffer({
    columnData: columnData as never,
    schema: schema as never,
    codec,
    compressors: { ZSTD: (input: Uint8Array) => new Uint8Array(zstdCompressSync(input)) },
    rowGroupSize: 1_048_576,
  });
  return new Uint8Array(buffer);
}

/** @dsnp/parquetjs: its own row shredding; it scales decimal numbers itself (through a float, so not exactly). */
async function parquetjsWrite(rows: readonly Row[]): Promise<Uint8Array> {
  const { ParquetSchema, ParquetWriter } = await import('@dsnp/parquetjs');
  const schema = new ParquetSchema({
    order_id: { type: 'INT64', compression: 'SNAPPY' },
    customer_id: { type: 'INT32', compression: 'SNAPPY' },
    status: { type: 'UTF8', optional: true, compression: 'SNAPPY' },
    amount: { type: 'DECIMAL', precision: 12, scale: 2, optional: true, compression: 'SNAPPY' },
    quantity: { type: 'INT32', optional: true, compression: 'SNAPPY' },
    email: { type: 'UTF8', optional: true, compression: 'SNAPPY' },
    updated_at: { type: 'TIMESTAMP_MICROS', compression: 'SNAPPY' },
    lsn: { type: 'INT64', compression: 'SNAPPY' },
    op: { type: 'UTF8', compression: 'SNAPPY' },
    price: { type: 'DOUBLE', optional: true, compression: 'SNAPPY' },
  });
  const chunks: Buffer[] = [];
  const sink = {
    write(chunk: Buffer, callback?: (error?: Error | null) => void): boolean {
      chunks.push(chunk);
      callback?.(null);
      return true;
    },
    end(callback?: () => void): void {
      callback?.();
    },
  };
  const writer = await ParquetWriter.openStream(schema, sink as never, { rowGroupSize: 1_048_576 });
  for (const row of rows) {
    const amount = row.amount as string | null;
    await writer.appendRow({
      ...row,
      order_id: BigInt(row.order_id as number),
      amount: amount === null ? null : Number(amount),
      quantity: row.quantity ?? null,
    });
  }
  await writer.close();
  return new Uint8Array(Buffer.concat(chunks));
}

async function hyparquetRead(bytes: Uint8Array): Promise<number> {
  const { parquetReadObjects } = await import('hyparquet');
  const { compressors } = await import('hyparquet-compressors');
  const rows = await parquetReadObjects({ file: bytes.slice().buffer, compressors });
  return rows.length;
}

/** Whether every top-level column of the file has a Parquet field id. */
async function hasFieldIds(bytes: Uint8Array): Promise<boolean> {
  const { parquetMetadata } = await import('hyparquet');
  const schema = parquetMetadata(bytes.slice().buffer).schema.slice(1);
  return schema.length > 0 && schema.every((element) => element.field_id !== undefined);
}

/**
 * Runs every candidate on `rows` generated rows and returns rows/s per candidate (best of `rounds`). Prints one line
 * per candidate as it finishes.
 *
 * @example
 * ```ts
 * const figures = await benchParquetEncoders(100_000);
 * figures['writeParquet (arrow + parquet-wasm, zstd)']; // rows/s
 * ```
 */
export async function benchParquetEncoders(rows = 1_000_000, rounds = 2): Promise<Record<string, number>> {
  const data = generateRows(rows);
  let zstdFile: Uint8Array | undefined;
  const candidates: Candidate[] = [
    { name: 'rowsToArrow (validate + Arrow, no Parquet)', fieldIds: false, run: (input) => Promise.resolve(rowsToArrow(BENCH_SCHEMA, input).numRows) },
    {
      name: 'writeParquet (arrow + parquet-wasm, zstd)',
      fieldIds: true,
      run: async (input) => (zstdFile = (await writeParquet(BENCH_SCHEMA, input, { compression: 'zstd' })).bytes),
    },
    { name: 'writeParquet (arrow + parquet-wasm, snappy)', fieldIds: true, run: async (input) => (await writeParquet(BENCH_SCHEMA, input, { compression: 'snappy' })).bytes },
    { name: 'arrow + hyparquet-writer (zstd)', fieldIds: true, run: (input) => hyparquetWrite(input, 'ZSTD') },
    { name: 'arrow + hyparquet-writer (snappy)', fieldIds: true, run: (input) => hyparquetWrite(input, 'SNAPPY') },
    { name: '@dsnp/parquetjs (snappy, no field ids)', fieldIds: false, run: parquetjsWrite },
    { name: 'read: readParquet (parquet-wasm -> Arrow)', fieldIds: false, run: async () => ((await readParquet(zstdFile!, BENCH_SCHEMA))).numRows },
    {
      name: 'read: readParquet, key column only',
      fieldIds: false,
      run: async () => (await readParquet(zstdFile!, BENCH_SCHEMA, { columns: [1] })).numRows,
    },
    { name: 'read: hyparquet (-> row objects)', fieldIds: false, run: () => hyparquetRead(zstdFile!) },
  ];
  const figures: Record<string, number> = {};
  console.log(`  ${'candidate'.padEnd(46)} ${'rows/s'.padStart(12)} ${'best ms'.padStart(9)} ${'cpu ms'.padStart(8)} ${'file MB'.padStart(8)}  field ids`);
  for (const candidate of candidates) {
    let best = Number.POSITIVE_INFINITY;
    let bestCpu = Number.POSITIVE_INFINITY;
    let output: Uint8Array | number = 0;
    for (let round = 0; round < rounds; round++) {
      const cpuBefore = process.cpuUsage();
      const started = performance.now();
      output = await candidate.run(data);
      best = Math.min(best, performance.now() - started);
      const cpu = process.cpuUsage(cpuBefore);
      bestCpu = Math.min(bestCpu, (cpu.user + cpu.system) / 1000);
    }
    const rate = Math.round((rows / best) * 1000);
    figures[candidate.name] = rate;
    const file = output instanceof Uint8Array ? output : undefined;
    const ids = file === undefined ? '' : (await hasFieldIds(file)) ? 'yes' : 'no';
    if (file !== undefined && candidate.fieldIds && ids !== 'yes') throw new Error(`${candidate.name} wrote no field ids`);
    if (file === undefined && output !== rows) throw new Error(`${candidate.name} produced ${String(output)} rows, expected ${rows}`);
    console.log(
      `  ${candidate.name.padEnd(46)} ${rate.toLocaleString('en-US').padStart(12)} ${best.toFixed(0).padStart(9)} ${bestCpu.toFixed(0).padStart(8)} ${file === undefined ? ''.padStart(8) : (file.length / 1_048_576).toFixed(1).padStart(8)}  ${ids}`,
    );
  }
  return figures;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { rows: { type: 'string', default: '1000000' }, rounds: { type: 'string', default: '2' } } });
  const rows = Number(values.rows);
  console.log(`bench:parquet-encoders — ${rows.toLocaleString('en-US')} rows x ${BENCH_SCHEMA.fields.length} columns, node ${process.version}`);
  const figures = await benchParquetEncoders(rows, Number(values.rounds));
  console.log(JSON.stringify(figures));
}
