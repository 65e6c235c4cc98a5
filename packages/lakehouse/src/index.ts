/**
 * `@tributary/lakehouse`: Apache Iceberg v2 tables of Parquet files — catalogs (local disk, S3, REST), append,
 * upsert and delete by primary key, time travel, incremental reads, maintenance, and the Iceberg sink for
 * topologies. Anything exported here is public API.
 *
 * @packageDocumentation
 */
export { LakehouseError } from './errors.js';
export type { LakehouseErrorContext } from './errors.js';

// Schema and types
export type {
  PrimitiveType,
  StructType,
  ListType,
  MapType,
  IcebergType,
  NestedField,
  IcebergSchema,
  Row,
  ColumnMetrics,
} from './schema/types.js';
export { addColumn, renameColumn, widenColumn, makeOptional, deleteColumn, setIdentifierFields } from './schema/evolution.js';
export type { SchemaVersion, AddColumnOptions, DeleteColumnOptions } from './schema/evolution.js';
export { icebergSchemaFromZod } from './schema/from-zod.js';
export type { IcebergSchemaFromZodOptions } from './schema/from-zod.js';
export { SchemaViolationError } from './arrow/schema-violation-error.js';
export type { SchemaViolationContext } from './arrow/schema-violation-error.js';

// Partitioning and sort orders
export { buildPartitionSpec, createPartitioner, partitionType, partitionValues, partitionPath, UNPARTITIONED_SPEC } from './spec/partition-spec.js';
export type { PartitionSpec, PartitionField, PartitionFieldRequest, BuildPartitionSpecOptions } from './spec/partition-spec.js';
export { buildSortOrder, UNSORTED_ORDER } from './spec/sort-order.js';
export type { SortOrder, SortField, SortFieldRequest, BuildSortOrderOptions } from './spec/sort-order.js';
export { parseTransform, formatTransform, applyTransform } from './spec/transforms.js';
export type { Transform, TransformName } from './spec/transforms.js';
export type { Literal } from './spec/values.js';

// Arrow and Parquet
export { toArrowSchema, FIELD_ID_KEY } from './arrow/arrow-schema.js';
export { rowsToArrow, arrowToRows } from './arrow/rows-to-arrow.js';
export type { RowsToArrowOptions } from './arrow/rows-to-arrow.js';
export { writeParquet } from './parquet/write-parquet.js';
export type { ParquetFile, ParquetCompression, WriteParquetOptions } from './parquet/write-parquet.js';
export { readParquet } from './parquet/read-parquet.js';
export type { ReadParquetOptions } from './parquet/read-parquet.js';

// Metadata
export {
  parseTableMetadata,
  serializeTableMetadata,
  currentSchema,
  currentSnapshot,
  snapshotById,
  snapshotAsOf,
  ancestors,
} from './metadata/table-metadata.js';
export type { TableMetadata, Snapshot, SnapshotRef, SnapshotOperation } from './metadata/table-metadata.js';
export type { TableUpdate, TableRequirement } from './metadata/table-update.js';
export { FileContent, EntryStatus } from './metadata/manifest.js';
export type { DataFile, ManifestEntry, ManifestFile, PartitionFieldSummary } from './metadata/manifest.js';

// Catalogs
export { tableIdentifier, formatIdentifier, CommitConflictError, CommitStateUnknownError } from './catalog/catalog.js';
export type { Catalog, TableIdentifier, LoadedTable, CreateTableRequest } from './catalog/catalog.js';
export { storageCatalog } from './catalog/storage-catalog.js';
export type { StorageCatalogOptions } from './catalog/storage-catalog.js';
export { restCatalog } from './catalog/rest-catalog.js';
export type { RestCatalogOptions } from './catalog/rest-catalog.js';
export { objectStoreFileIO } from './catalog/file-io.js';
export type { FileIO } from './catalog/file-io.js';

// Tables
export { Table, TableTransaction } from './table/table.js';
export type { WriteOptions, TableChanges } from './table/table.js';
export type { ScanOptions, ScanPlan, FileScanTask } from './table/table-scan.js';
export type { CommitRetryOptions } from './table/snapshot-producer.js';
export {
  eq,
  notEq,
  lt,
  lte,
  gt,
  gte,
  isIn,
  notIn,
  isNull,
  notNull,
  startsWith,
  notStartsWith,
  and,
  or,
  not,
  alwaysTrue,
  alwaysFalse,
  formatExpression,
} from './table/expression.js';
export type { Expression, ComparisonOperator } from './table/expression.js';

// Topologies
export { icebergSink, positionsSummaryKey } from './sink/iceberg-sink.js';
export type { IcebergSinkOptions, RowChange } from './sink/iceberg-sink.js';

// Medallion layers
export { BRONZE_SCHEMA, bronzeRow, bronzeSink } from './medallion/bronze.js';
export type { BronzeSinkOptions } from './medallion/bronze.js';
export { cdcRowChange, silverSink } from './medallion/silver.js';
export type { CdcChange, SilverSinkOptions } from './medallion/silver.js';
export { goldSchema, goldRowChanges, goldSink } from './medallion/gold.js';
export type { GoldSinkOptions } from './medallion/gold.js';

// Maintenance
export { compactTable, expireSnapshots, removeOrphanFiles } from './table/maintenance.js';
export type {
  CompactTableOptions,
  CompactTableResult,
  ExpireSnapshotsOptions,
  ExpireSnapshotsResult,
  RemoveOrphanFilesOptions,
  RemoveOrphanFilesResult,
} from './table/maintenance.js';
