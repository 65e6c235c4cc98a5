/**
 * Connecting to Redis: bounded failures when nothing (or something wrong) answers, TLS that cannot be switched off by
 * accident, an ACL user with a password — and proof that the password appears in no log line and no error.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import net from 'node:net';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Redis } from 'ioredis';
import { createRuntime, defineTopology, jsonLogger, memorySource, toSink } from '@tributary/core';
import { ConnectorError } from '@tributary/connectors';
import { redisLookup, redisSink, RedisStateStore } from '@tributary/connectors/redis';
import { connectAdmin, deleteUnder, prefixesFor, redisHost, redisPort, redisUrl } from './redis-test-support.js';

let admin: Redis;
const prefixes = prefixesFor('connection');
const users: string[] = [];

beforeAll(async () => {
  admin = await connectAdmin();
});

afterAll(async () => {
  if (admin === undefined) return;
  for (const user of users) await admin.call('ACL', 'DELUSER', user);
  await deleteUnder(admin, prefixes.root);
  admin.disconnect();
});

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A server that accepts connections and never says a word. */
async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => void sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

async function failure(operation: () => Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const started = Date.now();
  try {
    await operation();
  } catch (error) {
    return { error, ms: Date.now() - started };
  }
  throw new Error('expected the operation to fail');
}

describe('Redis connections: failing fast and clearly', () => {
  it('an unreachable Redis fails the store, the sink, a runtime using the sink and the lookup with REDIS_UNREACHABLE, in bounded time', async () => {
    const port = await closedPort();
    const connection = { host: '127.0.0.1', port, connectTimeoutMs: 500, maxRetries: 2 };
    const store = new RedisStateStore({ ...connection, keyPrefix: 'never:' });
    const sink = redisSink({ ...connection, exactlyOnce: true });
    const lookup = redisLookup(connection);
    const runtime = createRuntime(defineTopology({ name: 'unreachable', source: memorySource([1, 2, 3]), pipeline: (s) => s.pipe(toSink(redisSink(connection))) }));
    for (const attempt of [() => store.connect(), () => store.get('s', 'k'), () => sink.open(), () => lookup(['k']), () => runtime.start()]) {
      const { error, ms } = await failure(attempt);
      expect(error).toBeInstanceOf(ConnectorError);
      expect(error).toMatchObject({ code: 'REDIS_UNREACHABLE', connector: 'redis', retriable: true });
      expect((error as Error).message).toContain(`redis://127.0.0.1:${port}/0`);
      expect((error as Error).message).toContain('after 3 attempt(s)');
      // Three refused attempts with 100 + 200 ms between them; far below any hang.
      expect(ms).toBeLessThan(3_000);
    }
    await store.close();
    await lookup.close();
  });

  it('a server that accepts but never answers fails within connectTimeoutMs per attempt', async () => {
    const server = await silentServer();
    try {
      const store = new RedisStateStore({ host: '127.0.0.1', port: server.port, connectTimeoutMs: 300, maxRetries: 1 });
      const { error, ms } = await failure(() => store.connect());
      expect(error).toMatchObject({ code: 'REDIS_UNREACHABLE', message: expect.stringContaining('after 2 attempt(s)') });
      expect(ms).toBeGreaterThanOrEqual(600);
      expect(ms).toBeLessThan(2_000);
      await store.close();
    } finally {
      await server.close();
    }
  });

  it('TLS against a server without TLS fails clearly instead of falling back to plain text', async () => {
    const lines: string[] = [];
    const store = new RedisStateStore({ url: redisUrl, tls: true, connectTimeoutMs: 500, maxRetries: 0, logger: jsonLogger({ level: 'debug', write: (line) => void lines.push(line) }) });
    const { error, ms } = await failure(() => store.connect());
    expect(error).toMatchObject({ code: 'REDIS_UNREACHABLE', message: expect.stringContaining(`rediss://${redisHost}:${redisPort}/0`) });
    expect(ms).toBeLessThan(2_000);
    await store.close();
    const insecure = new RedisStateStore({ url: redisUrl, tls: { insecureSkipVerify: true }, connectTimeoutMs: 500, maxRetries: 0, logger: jsonLogger({ write: (line) => void lines.push(line) }) });
    await failure(() => insecure.connect());
    await insecure.close();
    expect(lines.some((line) => line.includes('TLS certificate verification is OFF'))).toBe(true);
  });

  it('refuses options that would turn certificate verification off by accident', () => {
    expect(() => new RedisStateStore({ tls: { rejectUnauthorized: false as true } })).toThrow(/tls\.rejectUnauthorized: must be true.*insecureSkipVerify/);
    expect(() => redisSink({ url: 'http://127.0.0.1:6379' })).toThrow(/url: must be a redis:\/\/ or rediss:\/\/ URL/);
    expect(() => redisLookup({ port: 70_000 })).toThrow(/port: must be between 1 and 65535/);
  });
});

describe('Redis connections: an ACL user with a password', () => {
  /** A least-privilege user limited to `prefix`, as the security checklist recommends: ~prefix* and -@dangerous. */
  async function aclUser(prefix: string): Promise<{ username: string; password: string }> {
    const username = `tributary-test-${randomUUID()}`;
    const password = `pw-${randomBytes(24).toString('hex')}`;
    users.push(username);
    await admin.call('ACL', 'SETUSER', username, 'on', `>${password}`, 'resetkeys', `~${prefix}*`, 'resetchannels', '+@all', '-@dangerous');
    return { username, password };
  }

  it('state store, sink (in a runtime) and lookup work as the ACL user, and no log line or error carries the password', async () => {
    const prefix = prefixes.next('acl');
    const { username, password } = await aclUser(prefix);
    const lines: string[] = [];
    const logger = jsonLogger({ level: 'debug', write: (line) => void lines.push(line) });
    const consoleLines: string[] = [];
    const spies = (['log', 'info', 'warn', 'error', 'debug'] as const).map((method) =>
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => void consoleLines.push(args.map((arg) => inspect(arg, { depth: 6 })).join(' '))),
    );
    const errors: unknown[] = [];
    try {
      const credentials = { host: redisHost, port: redisPort, username, password };
      const store = new RedisStateStore({ ...credentials, keyPrefix: `${prefix}state:`, logger });
      await store.put('scope', 'k', { n: 1 });
      await store.snapshot('scope', 1);
      expect(await store.get('scope', 'k')).toEqual({ n: 1 });
      await store.close();

      // The URL form, with the password inside it.
      const urlWithPassword = `redis://${encodeURIComponent(username)}:${encodeURIComponent(password)}@${redisHost}:${redisPort}/0`;
      const sink = redisSink<{ id: number }>({ url: urlWithPassword, keyPrefix: prefix, key: (r) => `order:${r.value.id}`, exactlyOnce: true });
      const runtime = createRuntime(
        defineTopology({ name: 'acl', source: memorySource([{ id: 1 }, { id: 2 }]), pipeline: (orders) => orders.pipe(toSink(sink)) }),
        { logger },
      );
      await runtime.start();
      await runtime.done;
      expect(await admin.get(`${prefix}order:2`)).toBe('{"id":2}');

      const lookup = redisLookup({ ...credentials, keyPrefix: prefix, logger });
      expect(await lookup(['order:1'])).toEqual(new Map([['order:1', { id: 1 }]]));
      // Really that user: a key outside its pattern is refused by Redis.
      const outside = redisLookup({ ...credentials, keyPrefix: 'somewhere-else:', logger });
      errors.push(await outside(['x']).catch((error: unknown) => error));
      expect(errors[0]).toMatchObject({ code: 'REDIS_LOOKUP_FAILED', message: expect.stringContaining('NOPERM') });
      await lookup.close();
      await outside.close();

      // Wrong password: refused at once (not retried), with a clear error that does not carry what was sent.
      const wrongPassword = `wrong-${randomBytes(16).toString('hex')}`;
      const refused = new RedisStateStore({ ...credentials, password: wrongPassword, keyPrefix: `${prefix}x:`, maxRetries: 3, logger });
      const { error, ms } = await failure(() => refused.connect());
      errors.push(error);
      expect(error).toMatchObject({ code: 'REDIS_AUTH_FAILED', retriable: false, message: expect.stringContaining('WRONGPASS') });
      expect(ms).toBeLessThan(1_000);
      await refused.close();
      const badUrl = redisSink({ url: `redis://${username}:${wrongPassword}@${redisHost}:${redisPort}` });
      errors.push(await badUrl.open().catch((e: unknown) => e));
      expect(errors[2]).toMatchObject({ code: 'REDIS_AUTH_FAILED' });

      // The logs are not empty: they name the user and the server, never the password.
      expect(lines.some((line) => line.includes(`redis://${encodeURIComponent(username)}@${redisHost}:${redisPort}/0`))).toBe(true);
      const everything = [...lines, ...consoleLines, ...errors.map((e) => `${inspect(e, { depth: 10 })} ${JSON.stringify(e)} ${String((e as Error).cause)}`)].join('\n');
      for (const secret of [password, encodeURIComponent(password), wrongPassword]) expect(everything).not.toContain(secret);
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
  });
});
