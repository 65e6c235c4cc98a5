/**
 * `@tributary/connectors`: Kafka, Debezium, Redis and S3 connectors.
 *
 * Each connector lives behind its own subpath export (`@tributary/connectors/kafka`, ...) so that importing one never
 * loads another's client library. The package root holds only what they share. Anything exported here is public API.
 *
 * @packageDocumentation
 */
export { ConnectorError } from './errors.js';
export type { ConnectorErrorContext } from './errors.js';
