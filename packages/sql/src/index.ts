/**
 * `@tributary/sql`: read-only SQL over Tributary's Iceberg tables, at the current snapshot or as of a snapshot id or
 * time. Anything exported here is public API.
 *
 * @packageDocumentation
 */
export { SqlError } from './errors.js';
export type { SqlErrorContext } from './errors.js';
export { sqlEngine } from './engine/sql-engine.js';
export type { SqlEngine, SqlEngineOptions, QueryOptions, AsOf, SqlResult, SqlColumn, SqlRow } from './engine/sql-engine.js';
export type { JsonValue } from './engine/result-values.js';
export { ALLOWED_TABLE_FUNCTIONS } from './engine/validate-statement.js';
