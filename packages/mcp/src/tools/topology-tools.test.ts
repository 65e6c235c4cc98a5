import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { createRuntime, defineTopology, InvalidOptionsError, memorySink, memorySource, PrometheusMetrics, toSink, validate } from '@tributary/core';
import type { Runtime, StreamRecord } from '@tributary/core';
import { DEAD_LETTER_HEADERS } from '@tributary/connectors/kafka';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createTributaryMcpServer } from '../server/create-tributary-mcp-server.js';
import type { TributaryMcpConfig } from '../server/create-tributary-mcp-server.js';
import type { KafkaAdminLike } from './kafka-tools.js';
import { REPLAY_HEADERS } from './topology-tools.js';

async function connect(config: TributaryMcpConfig): Promise<Client> {
  const server = createTributaryMcpServer(config);
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  await server.connect(serverTransport);
  const client = new Client({ name: 'test', version: '1.0.0' });
  await client.connect(clientTransport);
  return client;
}
const textOf = (result: CallToolResult): string => result.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');

/** A fake admin whose offset reads return `records`. */
const fakeAdmin = (records: StreamRecord<unknown>[]): KafkaAdminLike => ({
  listTopics: () => Promise.resolve(['orders', 'orders.dlq']),
  describeTopic: () => Promise.reject(new Error('not used')),
  consumerGroupLag: () => Promise.reject(new Error('not used')),
  readTopicRange: () => Promise.reject(new Error('not used')),
  readTopicOffsets: <V>() => Promise.resolve({ records: records as StreamRecord<V>[], undecodable: [], partitions: [], complete: true }),
  close: () => Promise.resolve(),
});

/** A bounded topology over memory: 10 numbers, the odd ones rejected by validate. */
async function finishedRuntime(name: string): Promise<Runtime> {
  const runtime = createRuntime(
    defineTopology({
      name,
      source: memorySource(
        Array.from({ length: 10 }, (_, i) => ({ n: i % 2 === 0 ? i : -i })),
        { eventTime: (_value, index) => 1_700_000_000_000 + index * 1_000, partitions: 2 },
      ),
      pipeline: (values) => values.pipe(validate(z.object({ n: z.number().nonnegative() }), { name: 'non-negative' }), toSink(memorySink())),
    }),
    { metrics: new PrometheusMetrics() },
  );
  await runtime.start();
  await runtime.done;
  return runtime;
}

describe('topology tools', () => {
  it('mirror the dead-letter header names of kafkaDeadLetterSink and mark replays under tributary.*', () => {
    expect(DEAD_LETTER_HEADERS).toEqual({
      errorCode: 'tributary.error.code',
      errorMessage: 'tributary.error.message',
      errorName: 'tributary.error.name',
      stage: 'tributary.stage',
      sourcePartition: 'tributary.source.partition',
      sourceOffset: 'tributary.source.offset',
      failedAt: 'tributary.failed.at',
    });
    expect(REPLAY_HEADERS.replayedFrom).toBe('tributary.replayed-from');
  });

  it('describe_topology reports each runtime as its status() does, and refuses unknown names', async () => {
    const first = await finishedRuntime('numbers-a');
    const second = await finishedRuntime('numbers-b');
    const client = await connect({ topologies: [first, { runtime: second, name: 'second' }] });
    const result = (await client.callTool({ name: 'describe_topology', arguments: {} })) as CallToolResult;
    expect(result.isError, textOf(result)).not.toBe(true);
    const topologies = (result.structuredContent as { topologies: Record<string, unknown>[] }).topologies;
    expect(topologies.map((t) => t['name'])).toEqual(['numbers-a', 'second']);
    const status = first.status();
    expect(topologies[0]).toMatchObject({
      topology: 'numbers-a',
      state: 'finished',
      steps: [...status.steps],
      records_polled: 10,
      dead_letters: 5,
      late: 0,
      in_flight: 0,
      checkpoints: status.checkpoints,
      last_checkpoint: { positions: status.committed },
    });
    // The watermark of an exhausted bounded input is the end of time: ms kept, no date.
    expect(topologies[0]!['watermark']).toEqual(status.watermark === null ? null : { ms: status.watermark, iso: status.watermark > 8.64e15 ? null : new Date(status.watermark).toISOString() });
    const metrics = topologies[0]!['metrics'] as { name: string; labels: Record<string, string>; value: number }[];
    expect(metrics.find((m) => m.name === 'tributary_dead_letters_total' && m.labels['step'] === 'non-negative')?.value).toBe(5);
    expect(textOf(result)).toMatch(/numbers-a: finished, 0 in flight/);

    const unknown = (await client.callTool({ name: 'describe_topology', arguments: { name: 'numbers-c' } })) as CallToolResult;
    expect(unknown.isError).toBe(true);
    expect(textOf(unknown)).toMatch(/UNKNOWN_TOPOLOGY: No topology named "numbers-c". Known: "numbers-a", "second"/);
    await client.close();
  });

  it('registers nothing without configuration and refuses bad configuration eagerly', async () => {
    const client = await connect({ kafka: fakeAdmin([]) });
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).not.toContain('describe_topology');
    expect(names).not.toContain('read_dead_letters');
    await client.close();
    const runtime = await finishedRuntime('twice');
    expect(() => createTributaryMcpServer({ topologies: [runtime, runtime] })).toThrow(/two topologies are named "twice"/);
    expect(() => createTributaryMcpServer({ topologies: [{ status: 'no' } as unknown as Runtime] })).toThrow(InvalidOptionsError);
    expect(() => createTributaryMcpServer({ deadLetters: { topics: ['orders.dlq'] } })).toThrow(/deadLetters: needs `kafka`/);
    expect(() => createTributaryMcpServer({ deadLetters: { topics: [] } })).toThrow(InvalidOptionsError);
  });

  it('read_dead_letters shows binary payloads as hex and text payloads as text (fake admin)', async () => {
    const record = (offset: number, value: Buffer | null): StreamRecord<unknown> => ({
      key: `k${offset}`,
      value,
      eventTime: 1_700_000_000_000 + offset,
      position: { partition: 'orders.dlq:0', offset },
      headers: { [DEAD_LETTER_HEADERS.errorCode]: 'KAFKA_DESERIALIZE_FAILED', [DEAD_LETTER_HEADERS.sourcePartition]: 'orders:3', [DEAD_LETTER_HEADERS.sourceOffset]: String(100 + offset) },
    });
    const admin = fakeAdmin([record(0, Buffer.from([0xff, 0x00, 0x10])), record(1, Buffer.from('plain text')), record(2, null)]);
    const client = await connect({ kafka: admin, deadLetters: { topics: ['orders.dlq'] } });
    const result = (await client.callTool({ name: 'read_dead_letters', arguments: { topic: 'orders.dlq' } })) as CallToolResult;
    const letters = (result.structuredContent as { dead_letters: Record<string, unknown>[] }).dead_letters;
    expect(letters.map((l) => [l['payload'], l['payload_encoding'], l['payload_json']])).toEqual([
      ['ff0010', 'hex', undefined],
      ['plain text', 'utf8', undefined],
      [null, null, undefined],
    ]);
    expect(letters[0]).toMatchObject({ source: { topic: 'orders', partition: 3, offset: 100 }, error: { code: 'KAFKA_DESERIALIZE_FAILED', name: null, message: null } });
    // With a single dead-letter topic, it is the default.
    const byDefault = (await client.callTool({ name: 'read_dead_letters', arguments: {} })) as CallToolResult;
    expect((byDefault.structuredContent as { topic: string }).topic).toBe('orders.dlq');
    const hidden = (await client.callTool({ name: 'read_dead_letters', arguments: { topic: 'orders' } })) as CallToolResult;
    expect(textOf(hidden)).toMatch(/UNKNOWN_TOPIC/);
    await client.close();
  });
});
