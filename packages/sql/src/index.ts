/**
 * `@tributary/sql`: read-only SQL over Tributary's Iceberg tables, at the current snapshot or as of a snapshot id or
 * time. Anything exported here is public API.
 *
 * @packageDocumentation
 */
export { SqlError } from './errors.js';
export type { SqlErrorContext } from './errors.js';
