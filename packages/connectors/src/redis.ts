/**
 * `@tributary/connectors/redis`. Anything exported here is public API.
 *
 * @packageDocumentation
 */
export {};
