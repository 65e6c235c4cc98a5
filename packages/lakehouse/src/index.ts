/**
 * `@tributary/lakehouse`: Apache Iceberg v2 tables of Parquet files. Anything exported here is public API.
 *
 * @packageDocumentation
 */
export { LakehouseError } from './errors.js';
export type { LakehouseErrorContext } from './errors.js';
