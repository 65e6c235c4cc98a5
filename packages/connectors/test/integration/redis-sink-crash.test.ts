/**
 * Scenario 10 with a real crash of the server: a private redis-server (Debian's binary, AOF with
 * `appendfsync everysec`, like the shared test service) is SIGKILLed while an exactly-once sink has committed two
 * checkpoints and buffers uncommitted records; the job's next checkpoint fails. After Redis restarts from its AOF, a
 * new runtime resumes from the positions Redis kept: every record is applied exactly once — nothing dropped, nothing
 * doubled — whether or not the last commit made it into the AOF.
 *
 * The shared Redis is never touched: other tests use it.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { ConnectorError } from '@tributary/connectors';
import { createRuntime, defineTopology, memorySource, MemoryLog, toSink } from '@tributary/core';
import type { Runtime } from '@tributary/core';
import { redisSink } from '@tributary/connectors/redis';
import { waitFor } from './redis-test-support.js';

const cleanups: (() => Promise<void>)[] = [];

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Starts redis-server on `port` with its data in `dir`; resolves once it answers PING (after loading its AOF). */
async function startRedis(port: number, dir: string): Promise<ChildProcess> {
  const server = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', '--logfile', path.join(dir, 'redis.log')],
    { stdio: 'ignore' },
  );
  const exited = new Promise<never>((_, reject) => {
    server.once('error', (error) => reject(new Error(`redis-server could not start (is Debian's redis-server installed?): ${error.message}`)));
    server.once('exit', (code) => reject(new Error(`redis-server exited with code ${code}; see ${path.join(dir, 'redis.log')}`)));
  });
  const ready = waitFor(async () => {
    const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      return (await probe.ping()) === 'PONG';
    } catch {
      return false;
    } finally {
      probe.disconnect();
    }
  }, `redis-server on port ${port}`);
  await Promise.race([ready, exited]);
  exited.catch(() => undefined);
  return server;
}

async function kill(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  server.kill('SIGKILL');
  await exited;
}

/** Everything in the AOF files on disk, as text. */
async function aofText(dir: string): Promise<string> {
  const aofDir = path.join(dir, 'appendonlydir');
  const files = await readdir(aofDir).catch(() => [] as string[]);
  const parts = await Promise.all(files.map((file) => readFile(path.join(aofDir, file), 'latin1')));
  return parts.join('');
}

describe('redisSink exactly-once across a SIGKILL of redis-server (appendfsync everysec)', () => {
  it('resumes from what Redis kept: every record applied exactly once', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'tributary-redis-crash-'));
    const port = await freePort();
    let server = await startRedis(port, dir);
    cleanups.push(async () => {
      await kill(server);
      await rm(dir, { recursive: true, force: true });
    });
    const prefix = 'crash:';
    interface Order {
      id: number;
    }
    const log = new MemoryLog<Order>({ name: 'orders', partitions: 3 });
    const append = (from: number, to: number) => {
      for (let id = from; id < to; id++) log.append(id % 3, { value: { id }, key: String(id) });
    };
    const newRuntime = (): Runtime =>
      createRuntime(
        defineTopology({
          name: 'crash',
          source: memorySource(log, { group: 'g' }),
          pipeline: (orders) =>
            orders.pipe(
              toSink(
                redisSink<Order>({
                  host: '127.0.0.1',
                  port,
                  keyPrefix: prefix,
                  name: 'orders',
                  key: (r) => `order:${r.value.id}`,
                  commands: (r) => [['HINCRBY', `${prefix}applied`, String(r.value.id), 1]],
                  exactlyOnce: true,
                  connectTimeoutMs: 500,
                  maxRetries: 1,
                }),
              ),
            ),
        }),
        { checkpointIntervalMs: 3_600_000, maxBatch: 20 },
      );
    const caughtUp = (runtime: Runtime) => () => {
      const status = runtime.status();
      return status.inFlight === 0 && log.partitions().every((partition) => status.polled[partition] === log.endOffset(partition));
    };

    const run1 = newRuntime();
    await run1.start();
    append(0, 100);
    await waitFor(caughtUp(run1), 'run 1 to handle records 0-99');
    await run1.checkpoint();
    // Make sure the first commit is in the AOF file, so Redis keeps at least one commit of every partition. (If a
    // crash lost every commit of a partition, the runtime would resume from the source's own position: see the
    // exactly-once notes of RedisSink.)
    await waitFor(async () => (await aofText(dir)).includes('committedAt'), 'the first commit in the AOF on disk', 5_000);
    append(100, 200);
    await waitFor(caughtUp(run1), 'run 1 to handle records 100-199');
    // Acknowledged. Redis normally writes the AOF before replying, but with everysec a busy disk can postpone the write:
    // the test accepts either outcome, since the sink must cope with both.
    await run1.checkpoint();
    append(200, 300);
    await waitFor(caughtUp(run1), 'run 1 to buffer records 200-299');

    await kill(server);
    const started = Date.now();
    const failed = await run1.checkpoint().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failed).toBeInstanceOf(ConnectorError);
    expect((failed as ConnectorError).code).toMatch(/^REDIS_(CONNECTION_LOST|UNREACHABLE)$/);
    expect(Date.now() - started).toBeLessThan(5_000);
    await run1.done.catch(() => undefined);

    server = await startRedis(port, dir);
    const admin = new Redis({ port, host: '127.0.0.1' });
    cleanups.push(() => Promise.resolve(admin.disconnect()));
    const kept = await admin.hget(`${prefix}tributary:offsets:orders`, 'checkpoint');
    expect(['1', '2']).toContain(kept); // the first commit survived; the second one may have

    const run2 = newRuntime();
    log.end();
    await run2.start();
    await run2.done;

    const applied = await admin.hgetall(`${prefix}applied`);
    expect(Object.keys(applied).length).toBe(300);
    expect(Object.entries(applied).filter(([, count]) => count !== '1')).toEqual([]);
    const offsets = await admin.hgetall(`${prefix}tributary:offsets:orders`);
    for (const partition of log.partitions()) expect(offsets[`offset:${partition}`]).toBe(String(log.endOffset(partition)));
  });
});
