/**
 * `@tributary/connectors/s3`: an object store over S3 (and S3-compatible servers) and the same interface on local
 * disk, with conditional creation for commit protocols such as Iceberg's. Anything exported here is public API.
 *
 * Importing this subpath does not load the AWS SDK: `s3ObjectStore` loads `@aws-sdk/client-s3` (an optional peer
 * dependency) on its first request, so `localObjectStore` works without it.
 *
 * @packageDocumentation
 */
export type {
  ObjectStore,
  ObjectBody,
  ObjectStoreCallOptions,
  ObjectPutOptions,
  ObjectReadOptions,
  ObjectListOptions,
  ObjectInfo,
  ObjectPutResult,
  PutIfAbsentResult,
} from './s3/object-store.js';
export { s3ObjectStore } from './s3/s3-object-store.js';
export type { S3ObjectStoreOptions } from './s3/s3-object-store.js';
export { localObjectStore } from './s3/local-object-store.js';
export type { LocalObjectStoreOptions } from './s3/local-object-store.js';
export {
  ObjectStoreError,
  ObjectNotFoundError,
  PreconditionFailedError,
  ConditionalConflictError,
  ThrottledError,
  S3RequestFailedError,
} from './s3/object-store-errors.js';
export type { ObjectStoreErrorCode, ObjectStoreErrorContext } from './s3/object-store-errors.js';
