/**
 * `@tributary/core`: the typed stream model, operators and runtime of Tributary.
 *
 * Anything exported here is public API; keep the list explicit (no `export *`).
 *
 * @packageDocumentation
 */
export { TributaryError, InvalidOptionsError } from './errors.js';
export type { TributaryErrorOptions } from './errors.js';
