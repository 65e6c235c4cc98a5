/**
 * Smoke test of the real Redis started by `scripts/services.sh up redis`.
 * Fails (fast, no retries) when nothing answers on services.redisUrl.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { services } from '../support/services.js';

const prefix = `tributary:test:smoke:${randomUUID()}:`;
let redis: Redis;

beforeAll(async () => {
  redis = new Redis(services.redisUrl, {
    lazyConnect: true,
    connectTimeout: 3_000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null, // no reconnect loop: a down server is an immediate failure
  });
  let lastError: Error | undefined;
  redis.on('error', (e: Error) => (lastError = e));
  try {
    await redis.connect();
  } catch (e) {
    throw new Error(`Redis is not reachable at ${services.redisUrl} (run: bash scripts/services.sh up redis): ${String(lastError ?? e)}`, {
      cause: e,
    });
  }
});

afterAll(async () => {
  if (redis?.status !== 'ready') {
    redis?.disconnect();
    return;
  }
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  expect(await redis.keys(`${prefix}*`)).toEqual([]);
  await redis.quit();
});

describe('redis service', () => {
  it('answers PING and runs with the append-only file on', async () => {
    expect(await redis.ping()).toBe('PONG');
    const [, appendonly] = await redis.config('GET', 'appendonly');
    const [, appendfsync] = await redis.config('GET', 'appendfsync');
    expect(appendonly).toBe('yes');
    expect(appendfsync).toBe('everysec');
  });

  it('round-trips a string with SET/GET', async () => {
    const key = `${prefix}string`;
    expect(await redis.set(key, 'hello tributary', 'EX', 60)).toBe('OK');
    expect(await redis.get(key)).toBe('hello tributary');
    expect(await redis.get(`${prefix}missing`)).toBeNull();
  });

  it('round-trips a hash', async () => {
    const key = `${prefix}offsets`;
    expect(await redis.hset(key, { 'orders:0': '41', 'orders:1': '7' })).toBe(2);
    expect(await redis.hincrby(key, 'orders:0', 1)).toBe(42);
    expect(await redis.hgetall(key)).toEqual({ 'orders:0': '42', 'orders:1': '7' });
  });

  it('runs a pipeline', async () => {
    const key = `${prefix}counter`;
    const results = await redis.pipeline().set(key, '1').incrby(key, 41).get(key).exec();
    expect(results).toEqual([
      [null, 'OK'],
      [null, 42],
      [null, '42'],
    ]);
  });

  it('applies MULTI/EXEC atomically (data and offsets together)', async () => {
    const data = `${prefix}tx:data`;
    const offsets = `${prefix}tx:offsets`;
    const results = await redis.multi().set(data, 'v1').hset(offsets, 'orders:0', '100').hget(offsets, 'orders:0').exec();
    expect(results).toEqual([
      [null, 'OK'],
      [null, 1],
      [null, '100'],
    ]);
    expect(await redis.get(data)).toBe('v1');
  });
});
