import type { Checkpoint, CommittedPositions, Logger, Positions, Sink, SinkContext, SinkWriteResult, StreamRecord } from '@tributary/core';
import { z } from 'zod';
import { rowsToArrow } from '../arrow/rows-to-arrow.js';
import type { Catalog, CreateTableRequest } from '../catalog/catalog.js';
import { LakehouseError } from '../errors.js';
import { parseOptions } from '../internal/parse-options.js';
import { ancestors } from '../metadata/table-metadata.js';
import type { Snapshot } from '../metadata/table-metadata.js';
import type { Row } from '../schema/types.js';
import { Table } from '../table/table.js';
import type { TableTransaction } from '../table/table.js';

/**
 * What one record asks of the table: insert or replace a row by primary key, delete by primary key, or append.
 *
 * @example
 * ```ts
 * const change: RowChange = { op: 'delete', row: { order_id: 42 } };
 * ```
 */
export type RowChange = { readonly op: 'append' | 'upsert' | 'delete'; readonly row: Row };

const fn = <T>() => z.custom<T>((value) => typeof value === 'function', 'must be a function');

const optionsSchema = z.strictObject({
  name: z.string().min(1).optional(),
  catalog: z.custom<Catalog>(
    (value) => typeof value === 'object' && value !== null && typeof (value as Catalog).loadTable === 'function',
    'must be a Catalog (storageCatalog(...) or restCatalog(...))',
  ),
  table: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_-]*(\.[A-Za-z0-9_][A-Za-z0-9_-]*)+$/, 'must be "namespace.table"'),
  create: z.custom<CreateTableRequest>((value) => typeof value === 'object' && value !== null && 'schema' in value, 'must be a CreateTableRequest with a schema').optional(),
  mode: z.enum(['append', 'upsert']).default('append'),
  toChange: fn<(record: StreamRecord<unknown>) => RowChange | readonly RowChange[]>().optional(),
  maxRows: z.number().int().positive().default(250_000),
  maxBytes: z.number().int().positive().default(128 * 1024 * 1024),
  maxIntervalMs: z.number().int().positive().default(60_000),
  exactlyOnce: z.boolean().default(true),
  writerId: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'must be letters, digits, ".", "_" or "-"').optional(),
});

/**
 * Options of {@link icebergSink}.
 *
 * @interface
 * @example
 * ```ts
 * const options: IcebergSinkOptions<OrderChange> = {
 *   catalog,
 *   table: 'silver.orders',
 *   mode: 'upsert',
 *   toChange: (r) => ({ op: r.value.deleted ? 'delete' : 'upsert', row: r.value.row }),
 * };
 * ```
 */
export type IcebergSinkOptions<V> = Omit<z.input<typeof optionsSchema>, 'toChange'> & {
  /**
   * Name of the sink step (metrics, logs, the positions it records). Default `iceberg:<table>`.
   */
  name?: string | undefined;
  /** Catalog holding the table. Required. */
  catalog: Catalog;
  /** `namespace.table`. Required. */
  table: string;
  /** Create the table with this definition when it does not exist. Default: the table must exist (`TABLE_NOT_FOUND`). */
  create?: CreateTableRequest | undefined;
  /**
   * `append` (every record adds a row) or `upsert` (rows replace the row with the same primary key; a record whose
   * value is `null` deletes it). Default `append`.
   */
  mode?: 'append' | 'upsert' | undefined;
  /**
   * Maps a record to its row change(s) (several for, e.g., a session window that supersedes earlier ones). Default:
   * the value is the row, appended (`mode: 'append'`) or upserted (`mode: 'upsert'`).
   */
  toChange?: ((record: StreamRecord<V>) => RowChange | readonly RowChange[]) | undefined;
  /** Ask for a commit once this many rows are buffered. Default `250000`. */
  maxRows?: number | undefined;
  /** Ask for a commit once the buffered rows take about this many bytes (estimated). Default 128 MiB. */
  maxBytes?: number | undefined;
  /** Ask for a commit when the oldest buffered row waited this long (ms). Default `60000`. */
  maxIntervalMs?: number | undefined;
  /**
   * Record the source positions of each commit in its snapshot summary and resume from them after a restart, so a
   * crash between the table commit and the Kafka offset commit duplicates nothing. Default `true`.
   */
  exactlyOnce?: boolean | undefined;
  /** Key under which this sink's positions are stored in snapshot summaries. Default: the step name. */
  writerId?: string | undefined;
};

const SUMMARY_PREFIX = 'tributary.';

/**
 * Where a sink's positions are stored in a snapshot summary.
 *
 * @example
 * ```ts
 * const positions = JSON.parse(snapshot.summary[positionsSummaryKey('silver-orders')] ?? '{}');
 * ```
 */
export function positionsSummaryKey(writerId: string): string {
  return `${SUMMARY_PREFIX}${writerId}.positions`;
}

/**
 * The Iceberg sink: buffers the changes of a checkpoint, and at the checkpoint commits them as one snapshot whose
 * summary records the source positions it covers (exactly-once with the runtime's resume protocol). It asks for an
 * early checkpoint when the buffer reaches `maxRows`, `maxBytes` or `maxIntervalMs`. Rows that violate the table
 * schema are rejected at `write` and go to the dead-letter output with their source position; the rest commit.
 *
 * @example
 * ```ts
 * const sink = icebergSink<Order>({ catalog, table: 'silver.orders', mode: 'upsert', create: { schema } });
 * const job = defineTopology({ name: 'orders', source, pipeline: (s) => s.pipe(toSink(sink)) });
 * ```
 */
export function icebergSink<V>(options: IcebergSinkOptions<V>): Sink<V> {
  const parsed = parseOptions(optionsSchema, 'icebergSink', options);
  return new IcebergSink<V>(parsed);
}

type ParsedOptions<V> = Omit<z.output<typeof optionsSchema>, 'toChange'> & {
  toChange?: ((record: StreamRecord<V>) => RowChange | readonly RowChange[]) | undefined;
};

class IcebergSink<V> implements Sink<V> {
  readonly name: string;
  readonly committedPositions: (() => Promise<CommittedPositions | undefined>) | undefined;
  #table: Table | undefined;
  #tx: TableTransaction | undefined;
  #rows = 0;
  #bytes = 0;
  #oldest: number | undefined;
  #context: SinkContext | undefined;
  #logger: Logger | undefined;
  #writerId: string;

  constructor(private readonly options: ParsedOptions<V>) {
    this.name = options.name ?? `iceberg:${options.table}`;
    this.#writerId = options.writerId ?? this.name.replace(/[^A-Za-z0-9_.-]/g, '_');
    this.committedPositions = options.exactlyOnce ? () => this.#readCommitted() : undefined;
  }

  async open(context: SinkContext): Promise<void> {
    this.#context = context;
    this.#logger = context.logger;
    const { catalog, table, create } = this.options;
    this.#table = create === undefined ? await Table.load(catalog, table) : await Table.loadOrCreate(catalog, table, create);
    this.#reset();
  }

  #reset(): void {
    this.#tx = this.#table!.newTransaction();
    this.#rows = 0;
    this.#bytes = 0;
    this.#oldest = undefined;
  }

  #changes(record: StreamRecord<V>): readonly RowChange[] {
    if (this.options.toChange !== undefined) {
      const change = this.options.toChange(record);
      return Array.isArray(change) ? (change as readonly RowChange[]) : [change as RowChange];
    }
    const value = record.value as unknown;
    if (this.options.mode === 'append') return [{ op: 'append', row: value as Row }];
    if (value === null || value === undefined) {
      throw new LakehouseError('MISSING_KEY', 'A null value in upsert mode deletes by key, but without toChange the sink cannot tell the key columns.', {
        table: this.options.table,
      });
    }
    return [{ op: 'upsert', row: value as Row }];
  }

  write(records: readonly StreamRecord<V>[]): SinkWriteResult {
    const table = this.#requireOpen();
    const schema = table.schema;
    const keyIds = new Set(schema['identifier-field-ids'] ?? []);
    const keySchema = { ...schema, fields: schema.fields.filter((f) => keyIds.has(f.id)) };
    const changes: { record: StreamRecord<V>; change: RowChange }[] = [];
    const rejected: { record: StreamRecord<unknown>; error: unknown }[] = [];
    for (const record of records) {
      try {
        for (const change of this.#changes(record)) changes.push({ record, change });
      } catch (error) {
        rejected.push({ record, error });
      }
    }
    // Validate the whole batch at once; only when it fails, find the offending rows one by one.
    const full = changes.filter((c) => c.change.op !== 'delete');
    const keysOnly = changes.filter((c) => c.change.op === 'delete');
    const valid = new Set<(typeof changes)[number]>();
    const check = (items: typeof changes, against: typeof schema) => {
      try {
        rowsToArrow(against, items.map((c) => c.change.row));
        for (const item of items) valid.add(item);
      } catch {
        for (const item of items) {
          try {
            rowsToArrow(against, [item.change.row]);
            valid.add(item);
          } catch (error) {
            rejected.push({
              record: item.record,
              error: new LakehouseError(
                'SCHEMA_VIOLATION',
                `Record at ${item.record.position.partition}@${item.record.position.offset} does not fit table ${this.options.table}: ${(error as Error).message}`,
                { table: this.options.table, cause: error },
              ),
            });
          }
        }
      }
    };
    check(full, schema);
    if (keysOnly.length > 0) check(keysOnly, keySchema);
    // Consecutive changes of one kind go to the transaction as one run (order across kinds is kept): per-row calls
    // made the commit normalise keys once per row.
    const tx = this.#tx!;
    let run: Row[] = [];
    let runOp: RowChange['op'] | undefined;
    const flush = () => {
      if (run.length === 0) return;
      if (runOp === 'append') tx.append(run);
      else if (runOp === 'upsert') tx.upsert(run);
      else tx.delete(run);
      run = [];
    };
    for (const item of changes) {
      if (!valid.has(item)) continue;
      const { op, row } = item.change;
      if (op !== runOp) {
        flush();
        runOp = op;
      }
      run.push(row);
      this.#rows++;
      this.#bytes += estimateBytes(row);
    }
    flush();
    const now = this.#context?.clock.now() ?? Date.now();
    this.#oldest ??= this.#rows > 0 ? now : undefined;
    if (
      this.#rows >= this.options.maxRows ||
      this.#bytes >= this.options.maxBytes ||
      (this.#oldest !== undefined && now - this.#oldest >= this.options.maxIntervalMs)
    ) {
      this.#context?.requestCheckpoint?.();
    }
    return { rejected };
  }

  async commit(checkpoint: Checkpoint): Promise<void> {
    this.#requireOpen();
    if (this.#rows === 0) return;
    const summary: Record<string, string> = {};
    if (this.options.exactlyOnce) {
      summary[positionsSummaryKey(this.#writerId)] = JSON.stringify(checkpoint.positions);
      summary[`${SUMMARY_PREFIX}${this.#writerId}.checkpoint-id`] = String(checkpoint.id);
    }
    const started = Date.now();
    const snapshot = await this.#tx!.commit({ summary });
    this.#logger?.info(
      { sink: this.name, table: this.options.table, snapshot: String(snapshot['snapshot-id']), rows: this.#rows, ms: Date.now() - started },
      'iceberg commit',
    );
    this.#reset();
  }

  abort(): void {
    if (this.#table !== undefined) this.#reset();
  }

  async #readCommitted(): Promise<CommittedPositions | undefined> {
    const table = this.#requireOpen();
    await table.refresh();
    const key = positionsSummaryKey(this.#writerId);
    // Each commit records the partitions its runtime held. With several members of one consumer group writing this
    // table, the newest snapshot names only its writer's partitions: a partition's position is the one in the newest
    // snapshot that names it (else a member that died between its table commit and its Kafka commit would have its
    // partition resumed from the older Kafka offset by the next owner, appending committed rows again).
    const positions: Record<string, number> = {};
    let newest: Snapshot | undefined;
    for (const snapshot of ancestors(table.metadata, table.currentSnapshot()?.['snapshot-id'])) {
      const recorded = snapshot.summary[key];
      if (recorded === undefined) continue;
      newest ??= snapshot;
      for (const [partition, offset] of Object.entries(JSON.parse(recorded) as Positions)) {
        if (!Object.hasOwn(positions, partition)) positions[partition] = offset;
      }
    }
    if (newest === undefined) return undefined;
    const checkpointId = Number(newest.summary[`${SUMMARY_PREFIX}${this.#writerId}.checkpoint-id`] ?? '0');
    return { checkpointId, positions };
  }

  #requireOpen(): Table {
    if (this.#table === undefined) {
      throw new LakehouseError('SINK_NOT_OPEN', `Iceberg sink ${this.name} was used before open(); run it inside a topology.`, {
        table: this.options.table,
      });
    }
    return this.#table;
  }
}

function estimateBytes(row: Row): number {
  let bytes = 0;
  for (const value of Object.values(row)) {
    if (typeof value === 'string') bytes += value.length + 4;
    else if (value instanceof Uint8Array) bytes += value.byteLength + 4;
    else bytes += 8;
  }
  return bytes;
}
