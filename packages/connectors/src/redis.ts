/**
 * `@tributary/connectors/redis`: Redis for Tributary topologies, over ioredis (an optional peer dependency:
 * `npm install ioredis`; loaded only when a connection opens).
 *
 * - {@link RedisStateStore}: operator state (windows, dedupe) that survives crashes and follows partitions.
 * - {@link redisSink}: a hot-store sink — values, hashes, sorted sets, TTLs, deletes — at-least-once or exactly-once
 *   (data and source positions in one Lua script, with a fencing token).
 * - {@link redisLookup}: a batched, cached lookup for core's `enrich` operator.
 *
 * Anything exported here is public API.
 *
 * @packageDocumentation
 */
export { RedisStateStore } from './redis/redis-state-store.js';
export type { RedisStateStoreOptions } from './redis/redis-state-store.js';
export { redisSink, RedisSink } from './redis/redis-sink.js';
export type { RedisSinkOptions } from './redis/redis-sink.js';
export type { RedisCommand, RedisSinkOperation, RedisHashFields } from './redis/redis-sink-commands.js';
export { redisLookup } from './redis/redis-lookup.js';
export type { RedisLookup, RedisLookupOptions } from './redis/redis-lookup.js';
export type { RedisConnectionOptions } from './redis/redis-connection.js';
