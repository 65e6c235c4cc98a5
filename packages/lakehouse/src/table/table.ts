import type { Table as ArrowTable } from 'apache-arrow';
import { arrowToRows, rowsToArrow } from '../arrow/rows-to-arrow.js';
import { formatIdentifier, tableIdentifier } from '../catalog/catalog.js';
import type { Catalog, CreateTableRequest, LoadedTable, TableIdentifier } from '../catalog/catalog.js';
import { LakehouseError } from '../errors.js';
import type { DataFile } from '../metadata/manifest.js';
import { ancestors, currentSchema, currentSnapshot, specById } from '../metadata/table-metadata.js';
import type { Snapshot, SnapshotOperation, TableMetadata } from '../metadata/table-metadata.js';
import type { TableUpdate } from '../metadata/table-update.js';
import type { SchemaVersion } from '../schema/evolution.js';
import type { IcebergSchema, Row } from '../schema/types.js';
import { partitionPath } from '../spec/partition-spec.js';
import type { PartitionSpec } from '../spec/partition-spec.js';
import { writeDataFiles, writePositionDeletes, writerSettings } from './data-writer.js';
import { KeyIndex } from './key-index.js';
import { commitChange, liveEntries } from './snapshot-producer.js';
import type { CommitRetryOptions, LiveEntry } from './snapshot-producer.js';
import { keyOf, planScan, scanRows } from './table-scan.js';
import type { ScanOptions, ScanPlan } from './table-scan.js';

/**
 * Options of a write: extra snapshot summary properties (Tributary records source positions there) and retries.
 *
 * @example
 * ```ts
 * await table.append(rows, { summary: { 'tributary.job': 'orders' } });
 * ```
 */
export interface WriteOptions {
  /** Extra snapshot summary properties. */
  readonly summary?: Readonly<Record<string, string>> | undefined;
  /** Retries on concurrent commits. */
  readonly retry?: CommitRetryOptions | undefined;
}

/**
 * Rows added and removed between two snapshots (the incremental read).
 *
 * @example
 * ```ts
 * const { added, deleted } = await table.changes(s1, s2);
 * ```
 */
export interface TableChanges {
  readonly fromSnapshotId: bigint | undefined;
  readonly toSnapshotId: bigint | undefined;
  /** Rows live at `to` that were not live at `from` (an updated row appears here with its new values). */
  readonly added: Row[];
  /** Rows live at `from` that are not live at `to` (an updated row appears here with its old values). */
  readonly deleted: Row[];
}

type Pending = { readonly kind: 'append' | 'upsert' | 'delete'; readonly rows: readonly Row[] };

/**
 * An Iceberg table: read it (current snapshot or time travel, with deletes applied), write to it (append, upsert and
 * delete by primary key, as position deletes every reader understands), and follow its history.
 *
 * A `Table` caches the table's metadata and, for upserts, an index of primary keys to row positions; it refreshes
 * both on each commit, also when another writer committed in between.
 *
 * @example
 * ```ts
 * const table = await Table.load(catalog, 'silver.orders');
 * await table.upsert([{ order_id: 1, status: 'paid' }]);
 * const rows = await table.read({ filter: eq('status', 'paid') });
 * ```
 */
export class Table {
  private loaded: LoadedTable;
  private keyIndex: KeyIndex | undefined;
  private indexedAt: bigint | null | undefined = undefined;

  private constructor(
    readonly catalog: Catalog,
    loaded: LoadedTable,
  ) {
    this.loaded = loaded;
  }

  /**
   * Loads a table; fails with `TABLE_NOT_FOUND` (naming the table and catalog) when there is none.
   *
   * @example
   * ```ts
   * const table = await Table.load(catalog, 'silver.orders');
   * ```
   */
  static async load(catalog: Catalog, name: string | TableIdentifier): Promise<Table> {
    return new Table(catalog, await catalog.loadTable(tableIdentifier(name)));
  }

  /**
   * Creates a table.
   *
   * @example
   * ```ts
   * const table = await Table.create(catalog, 'silver.orders', { schema });
   * ```
   */
  static async create(catalog: Catalog, name: string | TableIdentifier, request: CreateTableRequest): Promise<Table> {
    const id = tableIdentifier(name);
    await catalog.createNamespace(id.namespace);
    return new Table(catalog, await catalog.createTable(id, request));
  }

  /**
   * Loads the table, creating it with `request` when it does not exist (also when another process creates it at the
   * same moment).
   *
   * @example
   * ```ts
   * const table = await Table.loadOrCreate(catalog, 'silver.orders', { schema });
   * ```
   */
  static async loadOrCreate(catalog: Catalog, name: string | TableIdentifier, request: CreateTableRequest): Promise<Table> {
    const id = tableIdentifier(name);
    if (await catalog.tableExists(id)) return Table.load(catalog, id);
    try {
      return await Table.create(catalog, id, request);
    } catch (error) {
      if ((error as { code?: string }).code === 'TABLE_EXISTS') return Table.load(catalog, id);
      throw error;
    }
  }

  /** `namespace.table`. */
  get name(): string {
    return formatIdentifier(this.loaded.identifier);
  }

  /** The table's identifier. */
  get identifier(): TableIdentifier {
    return this.loaded.identifier;
  }

  /** Current metadata (as of the last load or commit). */
  get metadata(): TableMetadata {
    return this.loaded.metadata;
  }

  /** URI of the current metadata file. */
  get metadataLocation(): string {
    return this.loaded.metadataLocation;
  }

  /** Current schema. */
  get schema(): IcebergSchema {
    return currentSchema(this.loaded.metadata);
  }

  /** Default partition spec. */
  get spec(): PartitionSpec {
    return specById(this.loaded.metadata);
  }

  /** The current snapshot, or `undefined` before the first commit. */
  currentSnapshot(): Snapshot | undefined {
    return currentSnapshot(this.loaded.metadata);
  }

  /** Snapshots of `main`, oldest first. */
  history(): Snapshot[] {
    return ancestors(this.loaded.metadata, this.currentSnapshot()?.['snapshot-id']).reverse();
  }

  /** Reloads metadata from the catalog (to see other writers' commits). */
  async refresh(): Promise<this> {
    this.loaded = await this.catalog.loadTable(this.loaded.identifier);
    return this;
  }

  /** The loaded state handed out by the catalog (for lower-level APIs). */
  get state(): LoadedTable {
    return this.loaded;
  }

  // ---- reads ----

  /**
   * Plans a scan (which files, with which deletes) without reading data.
   *
   * @example
   * ```ts
   * const plan = await table.plan({ filter: eq('order_id', 42) });
   * ```
   */
  plan(options: ScanOptions = {}): Promise<ScanPlan> {
    return planScan(this.loaded, options);
  }

  /**
   * Reads rows (deletes applied), at the current snapshot or as of a snapshot id or time.
   *
   * @example
   * ```ts
   * const before = await table.read({ snapshotId: 42n });
   * ```
   */
  async read(options: ScanOptions = {}): Promise<Row[]> {
    return (await scanRows(this.loaded, options)).rows;
  }

  /**
   * Reads rows into an Arrow table (columns carry their Iceberg field ids).
   *
   * @example
   * ```ts
   * const arrowTable = await table.readArrow({ columns: ['order_id', 'amount'] });
   * ```
   */
  async readArrow(options: ScanOptions = {}): Promise<ArrowTable> {
    const { plan, rows } = await scanRows(this.loaded, options);
    const schema =
      options.columns === undefined ? plan.schema : { ...plan.schema, fields: plan.schema.fields.filter((f) => options.columns!.includes(f.name)) };
    return rowsToArrow(schema, rows);
  }

  /**
   * Incremental read: rows added and rows deleted between two snapshots of `main` (`to` defaults to the current one;
   * `from` may be `undefined` for "since the table was empty"). Rewrites by compaction cancel out.
   *
   * @example
   * ```ts
   * const { added, deleted } = await table.changes(previousSnapshotId);
   * ```
   */
  async changes(fromSnapshotId: bigint | undefined, toSnapshotId?: bigint): Promise<TableChanges> {
    const to = toSnapshotId ?? this.currentSnapshot()?.['snapshot-id'];
    if (fromSnapshotId !== undefined && to !== undefined) {
      const chain = ancestors(this.loaded.metadata, to).map((s) => s['snapshot-id']);
      if (!chain.includes(fromSnapshotId)) {
        throw new LakehouseError(
          'INVALID_RANGE',
          `Snapshot ${fromSnapshotId} is not an ancestor of ${to} in ${this.name}: incremental reads go forward along main.`,
          { table: this.name, snapshotId: String(fromSnapshotId) },
        );
      }
    }
    const [fromPlan, toPlan] = await Promise.all([
      fromSnapshotId === undefined ? undefined : planScan(this.loaded, { snapshotId: fromSnapshotId }),
      to === undefined ? undefined : planScan(this.loaded, { snapshotId: to }),
    ]);
    const signature = (task: ScanPlan['tasks'][number]) => task.deletes.map((d) => d.filePath).sort().join('|');
    const fromTasks = new Map((fromPlan?.tasks ?? []).map((t) => [t.dataFile.filePath, t]));
    const toTasks = new Map((toPlan?.tasks ?? []).map((t) => [t.dataFile.filePath, t]));
    const schema = toPlan?.schema ?? fromPlan?.schema ?? this.schema;
    const readPositions = async (plan: ScanPlan, task: ScanPlan['tasks'][number]) => {
      const { readTask } = await import('./table-scan.js');
      return readTask(this.loaded, plan.schema, task);
    };
    const added: Row[] = [];
    const deleted: Row[] = [];
    for (const [path, task] of toTasks) {
      const before = fromTasks.get(path);
      if (before !== undefined && signature(before) === signature(task)) continue;
      const now = await readPositions(toPlan!, task);
      const then = before === undefined ? [] : await readPositions(fromPlan!, before);
      diffRows(then, now, schema, added, deleted);
    }
    for (const [path, task] of fromTasks) {
      if (toTasks.has(path)) continue;
      for (const row of await readPositions(fromPlan!, task)) deleted.push(row);
    }
    cancelOut(added, deleted, schema);
    return { fromSnapshotId, toSnapshotId: to, added, deleted };
  }

  // ---- writes ----

  /**
   * Appends rows as one snapshot (`append`). Rows are validated against the schema first; a violation fails with
   * `SCHEMA_VIOLATION` naming the column and row, and nothing is written.
   *
   * @example
   * ```ts
   * await table.append([{ order_id: 1, amount: '9.99' }]);
   * ```
   */
  async append(rows: readonly Row[], options: WriteOptions = {}): Promise<Snapshot> {
    return this.commitPending([{ kind: 'append', rows }], options);
  }

  /**
   * Inserts or replaces rows by primary key (the schema's identifier fields) as one snapshot: the old rows are
   * removed with position deletes, the new ones appended. Within one call, the last row of a key wins.
   *
   * @example
   * ```ts
   * await table.upsert([{ order_id: 1, status: 'shipped' }]);
   * ```
   */
  async upsert(rows: readonly Row[], options: WriteOptions = {}): Promise<Snapshot> {
    return this.commitPending([{ kind: 'upsert', rows }], options);
  }

  /**
   * Deletes rows by primary key (each row needs the identifier columns; other columns are ignored).
   *
   * @example
   * ```ts
   * await table.delete([{ order_id: 1 }]);
   * ```
   */
  async delete(keys: readonly Row[], options: WriteOptions = {}): Promise<Snapshot> {
    return this.commitPending([{ kind: 'delete', rows: keys }], options);
  }

  /**
   * Starts a batch of appends, upserts and deletes committed together as one snapshot (what the sink uses).
   *
   * @example
   * ```ts
   * const tx = table.newTransaction();
   * tx.upsert(changedRows);
   * tx.delete(deletedKeys);
   * await tx.commit({ summary: { 'tributary.positions': '{"orders:0":42}' } });
   * ```
   */
  newTransaction(): TableTransaction {
    return new TableTransaction(this);
  }

  /**
   * Applies metadata updates (schema evolution, properties) through the catalog, retrying once on a concurrent commit.
   *
   * @example
   * ```ts
   * await table.updateMetadata([{ action: 'set-properties', updates: { owner: 'data-eng' } }]);
   * ```
   */
  async updateMetadata(updates: ((metadata: TableMetadata) => readonly TableUpdate[]) | readonly TableUpdate[]): Promise<this> {
    for (let attempt = 0; ; attempt++) {
      const base = this.loaded.metadata;
      const list = typeof updates === 'function' ? updates(base) : updates;
      try {
        this.loaded = await this.catalog.commitTable(
          this.loaded.identifier,
          [
            { type: 'assert-table-uuid', uuid: base['table-uuid'] },
            { type: 'assert-current-schema-id', 'current-schema-id': base['current-schema-id'] },
            { type: 'assert-last-assigned-field-id', 'last-assigned-field-id': base['last-column-id'] },
          ],
          list,
        );
        return this;
      } catch (error) {
        if ((error as { code?: string }).code !== 'COMMIT_CONFLICT' || attempt >= 5) throw error;
        await this.refresh();
      }
    }
  }

  /**
   * Evolves the schema: `change` gets the current schema (with the table's last column id) and returns the new one,
   * built with `addColumn`, `renameColumn`, `widenColumn`, `makeOptional`, `deleteColumn` or `setIdentifierFields`.
   * Columns are matched by field id, so renamed and widened columns keep their data and older files read the added
   * columns as null. Retried on a concurrent change (the function is re-applied to the newer schema).
   *
   * @example
   * ```ts
   * await table.evolveSchema((s) => renameColumn(addColumn(s, 'channel', 'string'), 'amount', 'total'));
   * ```
   */
  async evolveSchema(change: (current: SchemaVersion) => SchemaVersion): Promise<this> {
    return this.updateMetadata((metadata) => {
      const next = change({ schema: currentSchema(metadata), lastColumnId: metadata['last-column-id'] });
      const schemaId = Math.max(...metadata.schemas.map((s) => s['schema-id'])) + 1;
      return [
        { action: 'add-schema', schema: { ...next.schema, 'schema-id': schemaId }, 'last-column-id': next.lastColumnId },
        { action: 'set-current-schema', 'schema-id': -1 },
      ];
    });
  }

  /** @internal Commits a batch of pending operations. */
  async commitPending(pending: readonly Pending[], options: WriteOptions): Promise<Snapshot> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.commitOnce(pending, options);
      } catch (error) {
        // A concurrent writer changed rows this batch deletes: recompute the deletes against the new table state.
        if ((error as { code?: string }).code !== 'CONFLICTING_CHANGE' || attempt >= 3) throw error;
        await this.refresh();
      }
    }
  }

  private keySchema(schema: IcebergSchema): IcebergSchema | undefined {
    const ids = schema['identifier-field-ids'] ?? [];
    if (ids.length === 0) return undefined;
    return { type: 'struct', 'schema-id': schema['schema-id'], fields: schema.fields.filter((f) => ids.includes(f.id)) };
  }

  private async commitOnce(pending: readonly Pending[], options: WriteOptions): Promise<Snapshot> {
    const schema = this.schema;
    const spec = this.spec;
    const settings = writerSettings(this.loaded.metadata.properties);
    const keySchema = this.keySchema(schema);
    const appended: Row[] = [];
    const latest = new Map<string, Row | null>();
    for (const operation of pending) {
      if (operation.kind === 'append') {
        for (const row of operation.rows) appended.push(row);
        continue;
      }
      if (keySchema === undefined) {
        throw new LakehouseError(
          'NO_PRIMARY_KEY',
          `Table ${this.name} has no identifier fields, so it cannot ${operation.kind} by key. ` +
            'Create it with "identifier-field-ids" in the schema (or identifierFields in the zod helper).',
          { table: this.name },
        );
      }
      const keys = normalizedKeys(keySchema, operation.rows, this.name);
      operation.rows.forEach((row, i) => latest.set(keys[i]!, operation.kind === 'upsert' ? row : null));
    }

    const base = this.loaded;
    const baseSnapshot = currentSnapshot(base.metadata);
    const positionDeletes = new Map<string, number[]>();
    if (latest.size > 0 && keySchema !== undefined) {
      const index = await this.syncedIndex(keySchema);
      for (const key of latest.keys()) {
        const location = index.lookup(key);
        if (location === undefined) continue;
        const positions = positionDeletes.get(location.file) ?? [];
        positions.push(location.pos);
        positionDeletes.set(location.file, positions);
      }
    }
    const upserted = [...latest].filter((entry): entry is [string, Row] => entry[1] !== null);
    const newRows = [...appended, ...upserted.map(([, row]) => row)];
    if (newRows.length === 0 && positionDeletes.size === 0 && options.summary === undefined) {
      const current = baseSnapshot;
      if (current !== undefined) return current;
    }
    const written = await writeDataFiles(base.io, base.metadata.location, schema, spec, newRows, settings, this.name);
    let deleteFiles: DataFile[] = [];
    let targets: { dataFile: DataFile; partitionPath: string; positions: number[] }[] = [];
    if (positionDeletes.size > 0) {
      try {
        const { entries } = await liveEntries(base, baseSnapshot);
        const byPath = new Map(entries.map((e) => [e.entry.dataFile.filePath, e.entry.dataFile]));
        targets = [...positionDeletes].map(([path, positions]) => {
          const dataFile = byPath.get(path)!;
          return { dataFile, partitionPath: partitionPathOf(spec, schema, dataFile), positions };
        });
        deleteFiles = await writePositionDeletes(base.io, base.metadata.location, targets, settings, this.name);
      } catch (error) {
        // Nothing references the data files just written: remove them rather than leave orphans.
        await base.io.deleteMany(written.files.map((f) => f.filePath)).catch(() => undefined);
        throw error;
      }
    }
    const operation: SnapshotOperation =
      deleteFiles.length === 0 ? 'append' : written.files.length === 0 ? 'delete' : 'overwrite';
    const ourKeys = new Set(latest.keys());
    const { loaded, snapshot } = await commitChange(
      this.catalog,
      base,
      {
        operation,
        addedDataFiles: written.files,
        addedDeleteFiles: deleteFiles,
        removedFiles: [],
        summary: options.summary ?? {},
        referencedDataFiles: [...positionDeletes.keys()],
        ...(keySchema !== undefined && ourKeys.size > 0
          ? { conflictCheck: (added: readonly LiveEntry[], state: LoadedTable) => checkKeyConflicts(added, state, keySchema, ourKeys, this.name) }
          : {}),
      },
      options.retry,
    );
    this.loaded = loaded;
    // Keep the key index in step with what was just committed, without re-reading files.
    if (this.keyIndex !== undefined && keySchema !== undefined) {
      for (const target of targets) for (const pos of target.positions) this.keyIndex.deletePosition(target.dataFile.filePath, pos);
      for (const file of deleteFiles) this.keyIndex.markApplied(file.filePath);
      // Upserted rows' keys are known already; only appended rows still need theirs.
      const keys = [...(appended.length > 0 ? normalizedKeys(keySchema, appended, this.name) : []), ...upserted.map(([key]) => key)];
      const perFile = new Map<string, (string | undefined)[]>();
      written.locations.forEach((location, i) => {
        const list = perFile.get(location.file) ?? [];
        list[location.pos] = keys[i];
        perFile.set(location.file, list);
      });
      for (const [file, fileKeys] of perFile) this.keyIndex.addFile(file, fileKeys);
      // Only when the commit sat directly on the base the index knew is the index now current; after a rebase over
      // another writer's commit, the next upsert first catches up with that writer's files.
      this.indexedAt = snapshot['parent-snapshot-id'] === baseSnapshot?.['snapshot-id'] ? snapshot['snapshot-id'] : undefined;
    }
    return snapshot;
  }

  private async syncedIndex(keySchema: IcebergSchema): Promise<KeyIndex> {
    this.keyIndex ??= new KeyIndex(keySchema);
    const current = this.currentSnapshot();
    const at = current?.['snapshot-id'] ?? null;
    if (this.indexedAt !== at) {
      const { entries } = await liveEntries(this.loaded, current);
      await this.keyIndex.sync(this.loaded, entries);
      this.indexedAt = at;
    }
    return this.keyIndex;
  }
}

/**
 * A batch of appends, upserts and deletes, committed as one snapshot by {@link TableTransaction.commit}.
 *
 * @example
 * ```ts
 * const tx = table.newTransaction();
 * tx.append(rows);
 * await tx.commit();
 * ```
 */
export class TableTransaction {
  private readonly pending: Pending[] = [];

  constructor(private readonly table: Table) {}

  /** Rows buffered so far. */
  get size(): number {
    return this.pending.reduce((total, p) => total + p.rows.length, 0);
  }

  /** Adds rows. */
  append(rows: readonly Row[]): this {
    if (rows.length > 0) this.pending.push({ kind: 'append', rows });
    return this;
  }

  /** Inserts or replaces rows by primary key. */
  upsert(rows: readonly Row[]): this {
    if (rows.length > 0) this.pending.push({ kind: 'upsert', rows });
    return this;
  }

  /** Deletes rows by primary key. */
  delete(keys: readonly Row[]): this {
    if (keys.length > 0) this.pending.push({ kind: 'delete', rows: keys });
    return this;
  }

  /** Commits everything buffered as one snapshot. */
  commit(options: WriteOptions = {}): Promise<Snapshot> {
    return this.table.commitPending(this.pending, options);
  }
}

function normalizedKeys(keySchema: IcebergSchema, rows: readonly Row[], table: string): string[] {
  // Keys are compared in their read-back form (a long 5 and 5n, a decimal "1.5" and "1.50" are the same key).
  let normalized: Row[];
  try {
    normalized = arrowToRows(rowsToArrow(keySchema, rows), keySchema);
  } catch (error) {
    if (error instanceof LakehouseError) {
      throw new LakehouseError(error.code, `${error.message} (table ${table}, key columns)`, { table, cause: error });
    }
    throw error;
  }
  return normalized.map((row) => keyOf(keySchema, row));
}

function partitionPathOf(spec: PartitionSpec, schema: IcebergSchema, file: DataFile): string {
  if (spec.fields.length === 0) return '';
  return partitionPath(spec, schema, spec.fields.map((f) => file.partition[f.name]));
}

async function checkKeyConflicts(
  added: readonly LiveEntry[],
  state: LoadedTable,
  keySchema: IcebergSchema,
  ourKeys: ReadonlySet<string>,
  table: string,
): Promise<void> {
  const probe = new KeyIndex(keySchema);
  await probe.sync(state, added);
  for (const key of ourKeys) {
    if (probe.lookup(key) !== undefined) {
      throw new LakehouseError(
        'CONFLICTING_CHANGE',
        `A concurrent commit to ${table} wrote a row with a key this batch also changes; recomputing the batch.`,
        { table, retriable: true },
      );
    }
  }
}

function rowSignature(schema: IcebergSchema, row: Row): string {
  return keyOf(schema, row);
}

function diffRows(then: readonly Row[], now: readonly Row[], schema: IcebergSchema, added: Row[], deleted: Row[]): void {
  const unmatched = new Map<string, number>();
  for (const row of then) {
    const signature = rowSignature(schema, row);
    unmatched.set(signature, (unmatched.get(signature) ?? 0) + 1);
  }
  for (const row of now) {
    const signature = rowSignature(schema, row);
    const left = unmatched.get(signature) ?? 0;
    if (left > 0) unmatched.set(signature, left - 1);
    else added.push(row);
  }
  for (const row of then) {
    const signature = rowSignature(schema, row);
    const left = unmatched.get(signature) ?? 0;
    if (left > 0) {
      deleted.push(row);
      unmatched.set(signature, left - 1);
    }
  }
}

function cancelOut(added: Row[], deleted: Row[], schema: IcebergSchema): void {
  // A compaction moves rows between files: the same row appears as deleted and added; it did not change.
  const pending = new Map<string, number>();
  for (const row of deleted) pending.set(rowSignature(schema, row), (pending.get(rowSignature(schema, row)) ?? 0) + 1);
  const keptAdded: Row[] = [];
  const cancelled = new Map<string, number>();
  for (const row of added) {
    const signature = rowSignature(schema, row);
    const left = pending.get(signature) ?? 0;
    if (left > 0) {
      pending.set(signature, left - 1);
      cancelled.set(signature, (cancelled.get(signature) ?? 0) + 1);
    } else keptAdded.push(row);
  }
  const keptDeleted: Row[] = [];
  for (const row of deleted) {
    const signature = rowSignature(schema, row);
    const left = cancelled.get(signature) ?? 0;
    if (left > 0) cancelled.set(signature, left - 1);
    else keptDeleted.push(row);
  }
  added.splice(0, added.length, ...keptAdded);
  deleted.splice(0, deleted.length, ...keptDeleted);
}
