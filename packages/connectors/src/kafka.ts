/**
 * `@tributary/connectors/kafka`. Anything exported here is public API.
 *
 * @packageDocumentation
 */
export {};
