/**
 * `@tributary/connectors/s3`. Anything exported here is public API.
 *
 * @packageDocumentation
 */
export {};
