import { LakehouseError } from '../errors.js';
import type { IcebergSchema, IcebergType, PrimitiveType, StructType } from '../schema/types.js';
import type { PartitionSpec } from '../spec/partition-spec.js';
import { readAvroFile, writeAvroFile } from './avro-file.js';

/**
 * What a data or delete file holds: `0` rows, `1` position deletes, `2` equality deletes (spec "Manifests").
 *
 * @example
 * ```ts
 * const isDeleteFile = (file: DataFile) => file.content !== FileContent.Data;
 * ```
 */
export const FileContent = { Data: 0, PositionDeletes: 1, EqualityDeletes: 2 } as const;
/** One of {@link FileContent}'s values. */
export type FileContent = (typeof FileContent)[keyof typeof FileContent];

/**
 * A data file or delete file as a manifest lists it. Statistics are keyed by field id; bounds are single-value
 * serialized bytes (spec Appendix D). Partition values are in their transform's result form: `int`/`date` as number,
 * `long`/`time`/`timestamp` as bigint (microseconds), `binary`/`fixed`/`uuid` as bytes.
 *
 * @example
 * ```ts
 * const rows = dataFiles.reduce((sum, file) => sum + file.recordCount, 0);
 * ```
 */
export interface DataFile {
  readonly content: FileContent;
  /** Absolute URI. */
  readonly filePath: string;
  readonly fileFormat: 'PARQUET' | 'AVRO' | 'ORC';
  /** Partition tuple, by partition field name. */
  readonly partition: Readonly<Record<string, unknown>>;
  readonly recordCount: number;
  readonly fileSizeInBytes: number;
  readonly columnSizes?: ReadonlyMap<number, number> | undefined;
  readonly valueCounts?: ReadonlyMap<number, number> | undefined;
  readonly nullValueCounts?: ReadonlyMap<number, number> | undefined;
  readonly nanValueCounts?: ReadonlyMap<number, number> | undefined;
  readonly lowerBounds?: ReadonlyMap<number, Uint8Array> | undefined;
  readonly upperBounds?: ReadonlyMap<number, Uint8Array> | undefined;
  readonly splitOffsets?: readonly number[] | undefined;
  readonly equalityIds?: readonly number[] | undefined;
  readonly sortOrderId?: number | undefined;
  /** Position delete files that reference one data file only name it here (lets readers skip unrelated deletes). */
  readonly referencedDataFile?: string | undefined;
}

/**
 * Entry status in a manifest: existing (carried over), added by this manifest's snapshot, or deleted by it.
 *
 * @example
 * ```ts
 * const live = entries.filter((e) => e.status !== EntryStatus.Deleted);
 * ```
 */
export const EntryStatus = { Existing: 0, Added: 1, Deleted: 2 } as const;
/** One of {@link EntryStatus}'s values. */
export type EntryStatus = (typeof EntryStatus)[keyof typeof EntryStatus];

/**
 * One row of a manifest. New entries leave the sequence numbers unset: readers inherit them from the manifest list,
 * which is what lets a commit retry with a new sequence number without rewriting manifests of added files.
 *
 * @example
 * ```ts
 * const entry: ManifestEntry = { status: EntryStatus.Added, snapshotId, dataFile };
 * ```
 */
export interface ManifestEntry {
  readonly status: EntryStatus;
  readonly snapshotId?: bigint | undefined;
  /** Data sequence number (when the rows were written; deletes apply to files with a lower or equal one). */
  readonly sequenceNumber?: number | undefined;
  readonly fileSequenceNumber?: number | undefined;
  readonly dataFile: DataFile;
}

/**
 * Per partition field, a summary over every file of a manifest (used to skip whole manifests when planning).
 *
 * @example
 * ```ts
 * const mayHaveNulls = manifest.partitions?.[0]?.containsNull ?? true;
 * ```
 */
export interface PartitionFieldSummary {
  readonly containsNull: boolean;
  readonly containsNan?: boolean | undefined;
  readonly lowerBound?: Uint8Array | undefined;
  readonly upperBound?: Uint8Array | undefined;
}

/**
 * One row of a manifest list: a manifest and what it holds.
 *
 * @example
 * ```ts
 * const deleteManifests = manifests.filter((m) => m.content === 1);
 * ```
 */
export interface ManifestFile {
  readonly manifestPath: string;
  readonly manifestLength: number;
  readonly partitionSpecId: number;
  /** `0` data files, `1` delete files. */
  readonly content: 0 | 1;
  readonly sequenceNumber: number;
  readonly minSequenceNumber: number;
  readonly addedSnapshotId: bigint;
  readonly addedFilesCount: number;
  readonly existingFilesCount: number;
  readonly deletedFilesCount: number;
  readonly addedRowsCount: number;
  readonly existingRowsCount: number;
  readonly deletedRowsCount: number;
  readonly partitions?: readonly PartitionFieldSummary[] | undefined;
}

// ---- Avro schemas (spec "Manifests" and "Manifest Lists", format version 2) ----

const optional = (type: unknown): unknown[] => ['null', type];

function intMap(name: string, fieldId: number, keyId: number, valueId: number, valueType: string): object {
  return {
    name,
    type: optional({
      type: 'array',
      logicalType: 'map',
      items: {
        type: 'record',
        name: `k${keyId}_v${valueId}`,
        fields: [
          { name: 'key', type: 'int', 'field-id': keyId },
          { name: 'value', type: valueType, 'field-id': valueId },
        ],
      },
    }),
    default: null,
    'field-id': fieldId,
  };
}

function decimalBytes(precision: number): number {
  // Smallest byte count whose two's-complement range holds `precision` decimal digits.
  let bytes = 1;
  while (2 ** (8 * bytes - 1) < 10 ** precision) bytes++;
  return bytes;
}

/**
 * The Avro type for an Iceberg primitive (spec "Avro" type mapping), with `name` for the named types it needs.
 *
 * @example
 * ```ts
 * avroTypeOf('date', 'p1000'); // { type: 'int', logicalType: 'date' }
 * ```
 */
export function avroTypeOf(type: IcebergType, name: string): unknown {
  if (typeof type !== 'string') {
    throw new LakehouseError('UNSUPPORTED_TYPE', `Partition values of nested type ${type.type} are not supported.`);
  }
  switch (type) {
    case 'boolean':
    case 'int':
    case 'long':
    case 'float':
    case 'double':
    case 'string':
      return type;
    case 'date':
      return { type: 'int', logicalType: 'date' };
    case 'time':
      return { type: 'long', logicalType: 'time-micros' };
    case 'timestamp':
      return { type: 'long', logicalType: 'timestamp-micros', 'adjust-to-utc': false };
    case 'timestamptz':
      return { type: 'long', logicalType: 'timestamp-micros', 'adjust-to-utc': true };
    case 'binary':
      return 'bytes';
    case 'uuid':
      return { type: 'fixed', name, size: 16, logicalType: 'uuid' };
    default: {
      const fixed = /^fixed\[(\d+)\]$/.exec(type);
      if (fixed) return { type: 'fixed', name, size: Number(fixed[1]) };
      const decimal = /^decimal\((\d+),\s*(\d+)\)$/.exec(type);
      if (decimal) {
        const precision = Number(decimal[1]);
        return { type: 'fixed', name, size: decimalBytes(precision), logicalType: 'decimal', precision, scale: Number(decimal[2]) };
      }
      throw new LakehouseError('UNSUPPORTED_TYPE', `Unknown Iceberg type ${String(type)}.`);
    }
  }
}

function partitionRecord(partitionType: StructType): object {
  return {
    type: 'record',
    name: 'r102',
    fields: partitionType.fields.map((field) => ({
      name: field.name,
      type: optional(avroTypeOf(field.type, `p${field.id}`)),
      default: null,
      'field-id': field.id,
    })),
  };
}

/**
 * The Avro schema of a v2 manifest for a partition type.
 *
 * @example
 * ```ts
 * const schema = manifestEntrySchema({ type: 'struct', fields: [] }); // unpartitioned
 * ```
 */
export function manifestEntrySchema(partitionType: StructType): object {
  return {
    type: 'record',
    name: 'manifest_entry',
    fields: [
      { name: 'status', type: 'int', 'field-id': 0 },
      { name: 'snapshot_id', type: optional('long'), default: null, 'field-id': 1 },
      { name: 'sequence_number', type: optional('long'), default: null, 'field-id': 3 },
      { name: 'file_sequence_number', type: optional('long'), default: null, 'field-id': 4 },
      {
        name: 'data_file',
        'field-id': 2,
        type: {
          type: 'record',
          name: 'r2',
          fields: [
            { name: 'content', type: 'int', 'field-id': 134 },
            { name: 'file_path', type: 'string', 'field-id': 100 },
            { name: 'file_format', type: 'string', 'field-id': 101 },
            { name: 'partition', type: partitionRecord(partitionType), 'field-id': 102 },
            { name: 'record_count', type: 'long', 'field-id': 103 },
            { name: 'file_size_in_bytes', type: 'long', 'field-id': 104 },
            intMap('column_sizes', 108, 117, 118, 'long'),
            intMap('value_counts', 109, 119, 120, 'long'),
            intMap('null_value_counts', 110, 121, 122, 'long'),
            intMap('nan_value_counts', 137, 138, 139, 'long'),
            intMap('lower_bounds', 125, 126, 127, 'bytes'),
            intMap('upper_bounds', 128, 129, 130, 'bytes'),
            { name: 'key_metadata', type: optional('bytes'), default: null, 'field-id': 131 },
            {
              name: 'split_offsets',
              type: optional({ type: 'array', items: 'long', 'element-id': 133 }),
              default: null,
              'field-id': 132,
            },
            {
              name: 'equality_ids',
              type: optional({ type: 'array', items: 'int', 'element-id': 136 }),
              default: null,
              'field-id': 135,
            },
            { name: 'sort_order_id', type: optional('int'), default: null, 'field-id': 140 },
            { name: 'referenced_data_file', type: optional('string'), default: null, 'field-id': 143 },
          ],
        },
      },
    ],
  };
}

/** The Avro schema of a v2 manifest list. */
export const MANIFEST_LIST_SCHEMA = {
  type: 'record',
  name: 'manifest_file',
  fields: [
    { name: 'manifest_path', type: 'string', 'field-id': 500 },
    { name: 'manifest_length', type: 'long', 'field-id': 501 },
    { name: 'partition_spec_id', type: 'int', 'field-id': 502 },
    { name: 'content', type: 'int', 'field-id': 517 },
    { name: 'sequence_number', type: 'long', 'field-id': 515 },
    { name: 'min_sequence_number', type: 'long', 'field-id': 516 },
    { name: 'added_snapshot_id', type: 'long', 'field-id': 503 },
    { name: 'added_files_count', type: 'int', 'field-id': 504 },
    { name: 'existing_files_count', type: 'int', 'field-id': 505 },
    { name: 'deleted_files_count', type: 'int', 'field-id': 506 },
    { name: 'added_rows_count', type: 'long', 'field-id': 512 },
    { name: 'existing_rows_count', type: 'long', 'field-id': 513 },
    { name: 'deleted_rows_count', type: 'long', 'field-id': 514 },
    {
      name: 'partitions',
      type: optional({
        type: 'array',
        'element-id': 508,
        items: {
          type: 'record',
          name: 'r508',
          fields: [
            { name: 'contains_null', type: 'boolean', 'field-id': 509 },
            { name: 'contains_nan', type: optional('boolean'), default: null, 'field-id': 518 },
            { name: 'lower_bound', type: optional('bytes'), default: null, 'field-id': 510 },
            { name: 'upper_bound', type: optional('bytes'), default: null, 'field-id': 511 },
          ],
        },
      }),
      default: null,
      'field-id': 507,
    },
    { name: 'key_metadata', type: optional('bytes'), default: null, 'field-id': 519 },
  ],
} as const;

// ---- encoding ----

const toBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

function mapToAvro<V>(map: ReadonlyMap<number, V> | undefined, convert: (v: V) => unknown): unknown {
  if (map === undefined) return null;
  return [...map].sort(([a], [b]) => a - b).map(([key, value]) => ({ key, value: convert(value) }));
}

function mapFromAvro<V>(value: unknown, convert: (v: unknown) => V): Map<number, V> | undefined {
  if (value === null || value === undefined) return undefined;
  return new Map((value as { key: number; value: unknown }[]).map((e) => [e.key, convert(e.value)]));
}

function partitionValueToAvro(type: IcebergType, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (type === 'long' || type === 'time' || type === 'timestamp' || type === 'timestamptz') {
    return typeof value === 'bigint' ? value : BigInt(value as number);
  }
  if (type === 'uuid' && typeof value === 'string') return Buffer.from(value.replace(/-/g, ''), 'hex');
  const decimal = typeof type === 'string' ? /^decimal\((\d+),\s*(\d+)\)$/.exec(type) : null;
  if (decimal && typeof value === 'bigint') {
    // Avro decimals are fixed-size two's-complement big-endian: sign-extend the unscaled value to the full width.
    const size = decimalBytes(Number(decimal[1]));
    const bytes = Buffer.alloc(size);
    let rest = BigInt.asUintN(size * 8, value);
    for (let i = size - 1; i >= 0; i--) {
      bytes[i] = Number(rest & 0xffn);
      rest >>= 8n;
    }
    return bytes;
  }
  if (value instanceof Uint8Array) return toBuffer(value);
  return value;
}

function partitionValueFromAvro(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return new Uint8Array(value);
  return value;
}

/**
 * Everything a manifest's header describes, besides its entries.
 *
 * @example
 * ```ts
 * const context: ManifestContext = { schema, spec, partitionType, content: 'data' };
 * ```
 */
export interface ManifestContext {
  readonly schema: IcebergSchema;
  readonly spec: PartitionSpec;
  readonly partitionType: StructType;
  readonly content: 'data' | 'deletes';
}

/**
 * Encodes a v2 manifest (Avro). All entries must share the context's partition spec and content kind.
 *
 * @example
 * ```ts
 * const bytes = writeManifest(context, [{ status: EntryStatus.Added, snapshotId, dataFile }]);
 * ```
 */
export function writeManifest(context: ManifestContext, entries: readonly ManifestEntry[]): Uint8Array {
  const records = entries.map((entry) => {
    const file = entry.dataFile;
    const partition: Record<string, unknown> = {};
    for (const field of context.partitionType.fields) {
      partition[field.name] = partitionValueToAvro(field.type, file.partition[field.name]);
    }
    const optionalLong = (value: number | bigint | undefined): bigint | null => (value === undefined ? null : BigInt(value));
    return {
      status: entry.status,
      snapshot_id: entry.snapshotId ?? null,
      sequence_number: optionalLong(entry.sequenceNumber),
      file_sequence_number: optionalLong(entry.fileSequenceNumber),
      data_file: {
        content: file.content,
        file_path: file.filePath,
        file_format: file.fileFormat,
        partition,
        record_count: BigInt(file.recordCount),
        file_size_in_bytes: BigInt(file.fileSizeInBytes),
        column_sizes: mapToAvro(file.columnSizes, BigInt),
        value_counts: mapToAvro(file.valueCounts, BigInt),
        null_value_counts: mapToAvro(file.nullValueCounts, BigInt),
        nan_value_counts: mapToAvro(file.nanValueCounts, BigInt),
        lower_bounds: mapToAvro(file.lowerBounds, toBuffer),
        upper_bounds: mapToAvro(file.upperBounds, toBuffer),
        key_metadata: null,
        split_offsets: file.splitOffsets?.map(BigInt) ?? null,
        equality_ids: file.equalityIds ? [...file.equalityIds] : null,
        sort_order_id: file.sortOrderId ?? null,
        referenced_data_file: file.referencedDataFile ?? null,
      },
    };
  });
  return writeAvroFile(manifestEntrySchema(context.partitionType), records, {
    schema: JSON.stringify(context.schema),
    'schema-id': String(context.schema['schema-id']),
    'partition-spec': JSON.stringify(context.spec.fields),
    'partition-spec-id': String(context.spec['spec-id']),
    'format-version': '2',
    content: context.content,
  });
}

type AvroDataFile = Record<string, unknown> & { partition: Record<string, unknown> };

/**
 * Decodes a manifest written by any v1 or v2 writer. Sequence numbers left unset by the writer are inherited from
 * `manifest` (its list entry), as the spec prescribes for entries added by the manifest's own snapshot.
 *
 * @example
 * ```ts
 * const entries = readManifest(await io.read(manifest.manifestPath), manifest);
 * ```
 */
export function readManifest(bytes: Uint8Array, manifest: ManifestFile): ManifestEntry[] {
  const { records } = readAvroFile(bytes, manifest.manifestPath);
  return records.map((raw) => {
    const record = raw as Record<string, unknown>;
    const file = record.data_file as AvroDataFile;
    const status = Number(record.status) as EntryStatus;
    const snapshotId = (record.snapshot_id as bigint | null) ?? manifest.addedSnapshotId;
    const explicitSequence = record.sequence_number as bigint | null | undefined;
    const explicitFileSequence = record.file_sequence_number as bigint | null | undefined;
    // Inheritance: an ADDED entry with a null sequence number takes the manifest's (spec "Sequence Number Inheritance").
    const inherit = status === EntryStatus.Added ? manifest.sequenceNumber : undefined;
    const partition: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(file.partition)) partition[key] = partitionValueFromAvro(value);
    const splitOffsets = file.split_offsets as bigint[] | null | undefined;
    const equalityIds = file.equality_ids as number[] | null | undefined;
    const dataFile: DataFile = {
      content: Number(file.content ?? 0) as FileContent,
      filePath: file.file_path as string,
      fileFormat: String(file.file_format).toUpperCase() as DataFile['fileFormat'],
      partition,
      recordCount: Number(file.record_count),
      fileSizeInBytes: Number(file.file_size_in_bytes),
      columnSizes: mapFromAvro(file.column_sizes, Number),
      valueCounts: mapFromAvro(file.value_counts, Number),
      nullValueCounts: mapFromAvro(file.null_value_counts, Number),
      nanValueCounts: mapFromAvro(file.nan_value_counts, Number),
      lowerBounds: mapFromAvro(file.lower_bounds, (v) => new Uint8Array(v as Buffer)),
      upperBounds: mapFromAvro(file.upper_bounds, (v) => new Uint8Array(v as Buffer)),
      splitOffsets: splitOffsets?.map(Number) ?? undefined,
      equalityIds: equalityIds ?? undefined,
      sortOrderId: (file.sort_order_id as number | null | undefined) ?? undefined,
      referencedDataFile: (file.referenced_data_file as string | null | undefined) ?? undefined,
    };
    return {
      status,
      snapshotId,
      sequenceNumber: explicitSequence === null || explicitSequence === undefined ? inherit : Number(explicitSequence),
      fileSequenceNumber:
        explicitFileSequence === null || explicitFileSequence === undefined ? inherit : Number(explicitFileSequence),
      dataFile,
    };
  });
}

/**
 * Encodes a v2 manifest list (Avro).
 *
 * @example
 * ```ts
 * const bytes = writeManifestList(manifests, { snapshotId, parentSnapshotId, sequenceNumber });
 * ```
 */
export function writeManifestList(
  manifests: readonly ManifestFile[],
  header: { snapshotId: bigint; parentSnapshotId: bigint | undefined; sequenceNumber: number },
): Uint8Array {
  const records = manifests.map((m) => ({
    manifest_path: m.manifestPath,
    manifest_length: BigInt(m.manifestLength),
    partition_spec_id: m.partitionSpecId,
    content: m.content,
    sequence_number: BigInt(m.sequenceNumber),
    min_sequence_number: BigInt(m.minSequenceNumber),
    added_snapshot_id: m.addedSnapshotId,
    added_files_count: m.addedFilesCount,
    existing_files_count: m.existingFilesCount,
    deleted_files_count: m.deletedFilesCount,
    added_rows_count: BigInt(m.addedRowsCount),
    existing_rows_count: BigInt(m.existingRowsCount),
    deleted_rows_count: BigInt(m.deletedRowsCount),
    partitions:
      m.partitions?.map((p) => ({
        contains_null: p.containsNull,
        contains_nan: p.containsNan ?? null,
        lower_bound: p.lowerBound ? toBuffer(p.lowerBound) : null,
        upper_bound: p.upperBound ? toBuffer(p.upperBound) : null,
      })) ?? null,
    key_metadata: null,
  }));
  return writeAvroFile(MANIFEST_LIST_SCHEMA, records, {
    'snapshot-id': String(header.snapshotId),
    'parent-snapshot-id': header.parentSnapshotId === undefined ? 'null' : String(header.parentSnapshotId),
    'sequence-number': String(header.sequenceNumber),
    'format-version': '2',
  });
}

/**
 * Decodes a manifest list (v1 or v2). A v1 list has no sequence numbers; they read as 0.
 *
 * @example
 * ```ts
 * const manifests = readManifestList(await io.read(snapshot['manifest-list']), snapshot['manifest-list']);
 * ```
 */
export function readManifestList(bytes: Uint8Array, file?: string): ManifestFile[] {
  const { records } = readAvroFile(bytes, file);
  return records.map((raw) => {
    const r = raw as Record<string, unknown>;
    const count = (value: unknown): number => (value === null || value === undefined ? 0 : Number(value));
    const partitions = r.partitions as Record<string, unknown>[] | null | undefined;
    return {
      manifestPath: r.manifest_path as string,
      manifestLength: Number(r.manifest_length),
      partitionSpecId: Number(r.partition_spec_id),
      content: count(r.content) as 0 | 1,
      sequenceNumber: count(r.sequence_number),
      minSequenceNumber: count(r.min_sequence_number),
      addedSnapshotId: r.added_snapshot_id as bigint,
      addedFilesCount: count(r.added_files_count ?? r.added_data_files_count),
      existingFilesCount: count(r.existing_files_count ?? r.existing_data_files_count),
      deletedFilesCount: count(r.deleted_files_count ?? r.deleted_data_files_count),
      addedRowsCount: count(r.added_rows_count),
      existingRowsCount: count(r.existing_rows_count),
      deletedRowsCount: count(r.deleted_rows_count),
      partitions: partitions?.map((p) => ({
        containsNull: Boolean(p.contains_null),
        containsNan: (p.contains_nan as boolean | null | undefined) ?? undefined,
        lowerBound: p.lower_bound ? new Uint8Array(p.lower_bound as Buffer) : undefined,
        upperBound: p.upper_bound ? new Uint8Array(p.upper_bound as Buffer) : undefined,
      })),
    };
  });
}

/** Iceberg's reserved field ids of position delete files: `file_path` and `pos` (spec "Position Delete Files"). */
export const POSITION_DELETE_SCHEMA: IcebergSchema = {
  type: 'struct',
  'schema-id': 0,
  fields: [
    { id: 2147483546, name: 'file_path', required: true, type: 'string' },
    { id: 2147483545, name: 'pos', required: true, type: 'long' },
  ],
};

/** Primitive type guard used by readers of partition structs. */
export function isPrimitive(type: IcebergType): type is PrimitiveType {
  return typeof type === 'string';
}
