/**
 * `@tributary/core/node`: Node-only sources; anything exported here is public API.
 *
 * These use Node built-ins (`node:fs`), so they live behind this subpath and the package root stays loadable anywhere.
 * Keep the list explicit (no `export *`).
 *
 * @packageDocumentation
 */
export { ndjsonFileSource, NdjsonParseError } from './sources/ndjson-file-source.js';
export type { NdjsonFileSource, NdjsonFileSourceOptions } from './sources/ndjson-file-source.js';
