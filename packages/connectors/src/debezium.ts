/**
 * `@tributary/connectors/debezium`. Anything exported here is public API.
 *
 * @packageDocumentation
 */
export {};
