import { isInteger, isSafeNumber, parse, stringify } from 'lossless-json';
import { LakehouseError } from '../errors.js';
import type { IcebergSchema } from '../schema/types.js';
import type { PartitionSpec } from '../spec/partition-spec.js';
import type { SortOrder } from '../spec/sort-order.js';

/**
 * Operations a snapshot summary can name (Iceberg spec, "Snapshots").
 *
 * @example
 * ```ts
 * const operation: SnapshotOperation = 'overwrite'; // an upsert: rows added and rows deleted
 * ```
 */
export type SnapshotOperation = 'append' | 'replace' | 'overwrite' | 'delete';

/**
 * One snapshot of a table. Ids are `bigint` because Java writers pick 63-bit random ids that JSON numbers would round.
 *
 * @example
 * ```ts
 * const rows = Number(table.currentSnapshot()?.summary['total-records'] ?? 0);
 * ```
 */
export interface Snapshot {
  readonly 'snapshot-id': bigint;
  readonly 'parent-snapshot-id'?: bigint | undefined;
  readonly 'sequence-number': number;
  readonly 'timestamp-ms': number;
  /** Absolute URI of the manifest list (Avro). */
  readonly 'manifest-list': string;
  /** `operation` plus string counters (`added-records`, `total-records`, ...) and Tributary's source positions. */
  readonly summary: Readonly<Record<string, string>> & { readonly operation: SnapshotOperation };
  readonly 'schema-id'?: number | undefined;
}

/**
 * A named reference to a snapshot: `main` is the table's current state.
 *
 * @example
 * ```ts
 * const main: SnapshotRef = { 'snapshot-id': 42n, type: 'branch' };
 * ```
 */
export interface SnapshotRef {
  readonly 'snapshot-id': bigint;
  readonly type: 'branch' | 'tag';
  readonly 'max-ref-age-ms'?: number | undefined;
  readonly 'max-snapshot-age-ms'?: number | undefined;
  readonly 'min-snapshots-to-keep'?: number | undefined;
}

/**
 * The table-metadata file of a format-version 2 table, in its JSON shape (spec "Table Metadata Fields").
 *
 * @example
 * ```ts
 * const schema = metadata.schemas.find((s) => s['schema-id'] === metadata['current-schema-id']);
 * ```
 */
export interface TableMetadata {
  readonly 'format-version': 2;
  readonly 'table-uuid': string;
  readonly location: string;
  readonly 'last-sequence-number': number;
  readonly 'last-updated-ms': number;
  readonly 'last-column-id': number;
  readonly schemas: readonly IcebergSchema[];
  readonly 'current-schema-id': number;
  readonly 'partition-specs': readonly PartitionSpec[];
  readonly 'default-spec-id': number;
  readonly 'last-partition-id': number;
  readonly properties: Readonly<Record<string, string>>;
  readonly 'current-snapshot-id'?: bigint | null | undefined;
  readonly snapshots: readonly Snapshot[];
  readonly 'snapshot-log': readonly { readonly 'timestamp-ms': number; readonly 'snapshot-id': bigint }[];
  readonly 'metadata-log': readonly { readonly 'timestamp-ms': number; readonly 'metadata-file': string }[];
  readonly 'sort-orders': readonly SortOrder[];
  readonly 'default-sort-order-id': number;
  readonly refs: Readonly<Record<string, SnapshotRef>>;
  /** Statistics files; kept as read, never written by Tributary. */
  readonly statistics?: readonly unknown[] | undefined;
  readonly 'partition-statistics'?: readonly unknown[] | undefined;
}

// Integers that fit a double stay numbers; larger ones (Java's 63-bit snapshot ids) become bigint instead of rounding.
function parseNumber(text: string): number | bigint {
  if (isInteger(text) && !isSafeNumber(text)) return BigInt(text);
  return Number(text);
}

/**
 * Parses JSON without losing 63-bit integers: integers beyond 2^53 come back as `bigint`.
 *
 * @example
 * ```ts
 * losslessParse('{"snapshot-id": 8744736658442914487}'); // { 'snapshot-id': 8744736658442914487n }
 * ```
 */
export function losslessParse(text: string): unknown {
  return parse(text, null, parseNumber);
}

/**
 * Serializes JSON, writing `bigint` values as plain JSON integers.
 *
 * @example
 * ```ts
 * losslessStringify({ 'snapshot-id': 8744736658442914487n }); // '{"snapshot-id":8744736658442914487}'
 * ```
 */
export function losslessStringify(value: unknown, indent?: number): string {
  const text = stringify(value, undefined, indent);
  if (text === undefined) throw new TypeError('value cannot be serialized to JSON');
  return text;
}

function toId(value: unknown): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return BigInt(value);
  throw new TypeError(`expected an integer snapshot id, got ${JSON.stringify(String(value))}`);
}

function toNumber(value: unknown, field: string): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  throw new TypeError(`"${field}" must be a number`);
}

/**
 * Reads a table-metadata file. Snapshot ids become `bigint` wherever they appear. Anything that is not format-version 2
 * table metadata fails with a `LakehouseError` of code `CORRUPT_METADATA` naming the file.
 *
 * @example
 * ```ts
 * const metadata = parseTableMetadata(await store.get(key), 'db.orders', store.uri(key));
 * ```
 */
export function parseTableMetadata(input: string | Uint8Array, table?: string, file?: string): TableMetadata {
  const text = typeof input === 'string' ? input : new TextDecoder().decode(input);
  const fail = (problem: string, cause?: unknown): never => {
    throw new LakehouseError(
      'CORRUPT_METADATA',
      `Table metadata${file === undefined ? '' : ` ${file}`} of ${table ?? 'the table'} is unusable: ${problem}. ` +
        'The table stays at its previous metadata version; restore or remove the damaged file.',
      { table, file, cause },
    );
  };
  let raw: Record<string, unknown>;
  try {
    const parsed = losslessParse(text);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return fail('it is not a JSON object');
    raw = parsed as Record<string, unknown>;
  } catch (error) {
    return fail('it is not valid JSON', error);
  }
  try {
    const version = toNumber(raw['format-version'], 'format-version');
    if (version !== 2) fail(`format-version ${version} is not supported (Tributary reads and writes version 2)`);
    for (const field of ['table-uuid', 'location']) {
      if (typeof raw[field] !== 'string') fail(`"${field}" is missing`);
    }
    for (const field of ['schemas', 'partition-specs', 'sort-orders']) {
      if (!Array.isArray(raw[field])) fail(`"${field}" is missing`);
    }
    const snapshots = ((raw.snapshots as Record<string, unknown>[] | undefined) ?? []).map((s) => {
      const parent = s['parent-snapshot-id'];
      const snapshot: Record<string, unknown> = {
        ...s,
        'snapshot-id': toId(s['snapshot-id']),
        'sequence-number': toNumber(s['sequence-number'] ?? 0, 'sequence-number'),
        'timestamp-ms': toNumber(s['timestamp-ms'], 'timestamp-ms'),
      };
      if (parent === undefined || parent === null) delete snapshot['parent-snapshot-id'];
      else snapshot['parent-snapshot-id'] = toId(parent);
      if (typeof s['manifest-list'] !== 'string') fail(`snapshot ${String(s['snapshot-id'])} has no manifest-list`);
      return snapshot as unknown as Snapshot;
    });
    const refs: Record<string, SnapshotRef> = {};
    for (const [name, ref] of Object.entries((raw.refs as Record<string, Record<string, unknown>> | undefined) ?? {})) {
      refs[name] = { ...ref, 'snapshot-id': toId(ref['snapshot-id']) } as unknown as SnapshotRef;
    }
    const current = raw['current-snapshot-id'];
    const currentId = current === undefined || current === null || toId(current) === -1n ? null : toId(current);
    // Older writers set current-snapshot-id without refs; the spec says main then defaults to it.
    if (currentId !== null && refs.main === undefined) refs.main = { 'snapshot-id': currentId, type: 'branch' };
    return {
      ...(raw as object),
      'last-sequence-number': toNumber(raw['last-sequence-number'] ?? 0, 'last-sequence-number'),
      'last-updated-ms': toNumber(raw['last-updated-ms'], 'last-updated-ms'),
      'last-column-id': toNumber(raw['last-column-id'], 'last-column-id'),
      'current-schema-id': toNumber(raw['current-schema-id'], 'current-schema-id'),
      'default-spec-id': toNumber(raw['default-spec-id'], 'default-spec-id'),
      'last-partition-id': toNumber(raw['last-partition-id'], 'last-partition-id'),
      'default-sort-order-id': toNumber(raw['default-sort-order-id'] ?? 0, 'default-sort-order-id'),
      properties: (raw.properties as Record<string, string> | undefined) ?? {},
      'current-snapshot-id': currentId,
      snapshots,
      'snapshot-log': ((raw['snapshot-log'] as Record<string, unknown>[] | undefined) ?? []).map((entry) => ({
        'timestamp-ms': toNumber(entry['timestamp-ms'], 'timestamp-ms'),
        'snapshot-id': toId(entry['snapshot-id']),
      })),
      'metadata-log': (raw['metadata-log'] as TableMetadata['metadata-log'] | undefined) ?? [],
      refs,
    } as unknown as TableMetadata;
  } catch (error) {
    if (error instanceof LakehouseError) throw error;
    return fail(error instanceof Error ? error.message : String(error), error);
  }
}

/**
 * Writes table metadata as JSON. `current-snapshot-id` is written as `-1`-free: absent snapshots are `null`, which
 * every reader accepts.
 *
 * @example
 * ```ts
 * await store.putIfAbsent(key, serializeTableMetadata(metadata));
 * ```
 */
export function serializeTableMetadata(metadata: TableMetadata): string {
  return losslessStringify(metadata, 2);
}

/**
 * The table's current schema.
 *
 * @example
 * ```ts
 * const columns = currentSchema(metadata).fields.map((f) => f.name);
 * ```
 */
export function currentSchema(metadata: TableMetadata): IcebergSchema {
  return schemaById(metadata, metadata['current-schema-id']);
}

/**
 * The schema with this id.
 *
 * @example
 * ```ts
 * const schemaOfSnapshot = schemaById(metadata, snapshot['schema-id'] ?? metadata['current-schema-id']);
 * ```
 */
export function schemaById(metadata: TableMetadata, schemaId: number): IcebergSchema {
  const schema = metadata.schemas.find((s) => s['schema-id'] === schemaId);
  if (schema === undefined) {
    throw new LakehouseError('CORRUPT_METADATA', `Table metadata has no schema with id ${schemaId}.`);
  }
  return schema;
}

/**
 * The partition spec with this id (the default spec when omitted).
 *
 * @example
 * ```ts
 * const spec = specById(metadata);
 * ```
 */
export function specById(metadata: TableMetadata, specId = metadata['default-spec-id']): PartitionSpec {
  const spec = metadata['partition-specs'].find((s) => s['spec-id'] === specId);
  if (spec === undefined) {
    throw new LakehouseError('CORRUPT_METADATA', `Table metadata has no partition spec with id ${specId}.`);
  }
  return spec;
}

/**
 * The snapshot `main` points at, or `undefined` for a table without data.
 *
 * @example
 * ```ts
 * const id = currentSnapshot(metadata)?.['snapshot-id'];
 * ```
 */
export function currentSnapshot(metadata: TableMetadata): Snapshot | undefined {
  const id = metadata.refs.main?.['snapshot-id'] ?? metadata['current-snapshot-id'];
  if (id === undefined || id === null) return undefined;
  return snapshotById(metadata, id);
}

/**
 * The snapshot with this id; fails with `SNAPSHOT_NOT_FOUND` when the table has none (expired or never existed).
 *
 * @example
 * ```ts
 * const old = snapshotById(metadata, 3051729675574597004n);
 * ```
 */
export function snapshotById(metadata: TableMetadata, snapshotId: bigint): Snapshot {
  const snapshot = metadata.snapshots.find((s) => s['snapshot-id'] === snapshotId);
  if (snapshot === undefined) {
    throw new LakehouseError(
      'SNAPSHOT_NOT_FOUND',
      `Snapshot ${snapshotId} is not in the table (it never existed or was expired). ` +
        `Known snapshots: ${metadata.snapshots.map((s) => String(s['snapshot-id'])).join(', ') || 'none'}.`,
      { snapshotId: String(snapshotId) },
    );
  }
  return snapshot;
}

/**
 * The snapshot that was current at `timestampMs` (time travel by time), from the snapshot log of `main`; fails with
 * `SNAPSHOT_NOT_FOUND` when the table had no snapshot yet at that time.
 *
 * @example
 * ```ts
 * const yesterday = snapshotAsOf(metadata, Date.now() - 86_400_000);
 * ```
 */
export function snapshotAsOf(metadata: TableMetadata, timestampMs: number): Snapshot {
  let found: bigint | undefined;
  for (const entry of metadata['snapshot-log']) {
    if (entry['timestamp-ms'] <= timestampMs) found = entry['snapshot-id'];
  }
  if (found === undefined) {
    throw new LakehouseError(
      'SNAPSHOT_NOT_FOUND',
      `The table had no snapshot at ${new Date(timestampMs).toISOString()} (its first snapshot is later).`,
    );
  }
  return snapshotById(metadata, found);
}

/**
 * Snapshot ancestry of `snapshotId` (itself first, then its parent, ...), stopping at expired parents.
 *
 * @example
 * ```ts
 * const history = ancestors(metadata, currentSnapshot(metadata)!['snapshot-id']);
 * ```
 */
export function ancestors(metadata: TableMetadata, snapshotId: bigint | undefined): Snapshot[] {
  const byId = new Map(metadata.snapshots.map((s) => [s['snapshot-id'], s]));
  const chain: Snapshot[] = [];
  let id = snapshotId;
  while (id !== undefined) {
    const snapshot = byId.get(id);
    if (snapshot === undefined) break;
    chain.push(snapshot);
    id = snapshot['parent-snapshot-id'];
  }
  return chain;
}
