/**
 * Confluent-framed messages through the real broker into kafkaSource with confluentDeserializer. No schema registry
 * service runs here: a local HTTP server answers GET /schemas/ids/{id} like Confluent's. Unframed values and unknown
 * schema ids go to the dead letters; a registry that keeps failing stops the source instead.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, defineTopology, memorySink, toSink } from '@tributary/core';
import type { DeadLetter } from '@tributary/core';
import { confluentDeserializer, encodeConfluentFrame, kafkaSource, schemaRegistry } from '@tributary/connectors/kafka';
import { brokers, fastGroup, kafkaTestKit, uniqueName, waitFor, within } from './kafka-helpers.js';
import type { KafkaTestKit } from './kafka-helpers.js';

// Consumer-group timing on a shared 2-core machine occasionally needs a second try (see the session note).
describe('kafkaSource with a schema registry deserializer', { retry: 2 }, () => {
  let kit: KafkaTestKit;
  let server: Server;
  let url: string;
  let failing = false;
  beforeAll(async () => {
    kit = await kafkaTestKit();
    server = createServer((request, response) => {
      const id = /^\/schemas\/ids\/(\d+)$/.exec(request.url ?? '')?.[1];
      if (failing) response.writeHead(503).end();
      else if (id === '7') response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ schemaType: 'JSON', schema: '{"type":"object"}' }));
      else response.writeHead(404, { 'content-type': 'application/json' }).end('{"error_code":40403}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await kit?.cleanup();
  });

  it('decodes framed JSON, dead-letters unframed values and unknown schema ids', async () => {
    const topic = uniqueName('registry');
    const groupId = uniqueName('registry-group');
    kit.track('group', groupId);
    await kit.createTopic(topic, 1);
    const values = [
      encodeConfluentFrame(7, Buffer.from('{"id":1}')),
      Buffer.from('{"id":2}'), // not framed
      encodeConfluentFrame(99, Buffer.from('{"id":3}')), // unknown schema id
      encodeConfluentFrame(7, Buffer.from('{"id":4}')),
    ];
    await kit.produce(topic, values.map((value) => ({ value, raw: true })));
    const source = kafkaSource<{ id: number }>({ brokers, topics: [topic], groupId, ...fastGroup, deserializer: confluentDeserializer({ registry: schemaRegistry({ url }) }) });
    const sink = memorySink<{ id: number }>();
    const deadLetters = memorySink<DeadLetter>();
    const runtime = createRuntime(defineTopology({ name: 'kafka-registry', source, pipeline: (s) => s.pipe(toSink(sink)) }), { checkpointIntervalMs: 100, deadLetters });
    await within(runtime.start(), 30_000, 'start');
    await waitFor(() => sink.committed.length >= 2 && deadLetters.committed.length >= 2, 20_000, () => `${sink.committed.length} records, ${deadLetters.committed.length} dead letters`);
    await within(runtime.stop(), 15_000, 'stop');
    expect(sink.values).toEqual([{ id: 1 }, { id: 4 }]);
    const letters = deadLetters.values.map((letter) => ({ offset: letter.record.position.offset, code: letter.error.code, message: letter.error.message }));
    expect(letters).toEqual([
      { offset: 1, code: 'KAFKA_DESERIALIZE_FAILED', message: expect.stringMatching(/not in the Confluent wire format/) },
      { offset: 2, code: 'KAFKA_DESERIALIZE_FAILED', message: expect.stringMatching(/Schema id 99 is not registered/) },
    ]);
    expect(Buffer.isBuffer(deadLetters.values[0]!.record.value)).toBe(true);
    expect(await kit.committed(groupId, topic)).toEqual({ 0: 4 });
  });

  it('a registry that keeps failing stops the source (KAFKA_DESERIALIZER_UNAVAILABLE) instead of dead-lettering good records', async () => {
    const topic = uniqueName('registry-down');
    const groupId = uniqueName('registry-down-group');
    kit.track('group', groupId);
    await kit.createTopic(topic, 1);
    await kit.produce(topic, [{ value: encodeConfluentFrame(7, Buffer.from('{"id":1}')), raw: true }]);
    failing = true;
    try {
      const source = kafkaSource<{ id: number }>({ brokers, topics: [topic], groupId, ...fastGroup, deserializer: confluentDeserializer({ registry: schemaRegistry({ url }) }) });
      const deadLetters = memorySink<DeadLetter>();
      const runtime = createRuntime(defineTopology({ name: 'kafka-registry-down', source, pipeline: (s) => s.pipe(toSink(memorySink())) }), { deadLetters });
      await within(runtime.start(), 30_000, 'start');
      await expect(within(runtime.done, 20_000, 'runtime failure')).rejects.toMatchObject({ code: 'KAFKA_DESERIALIZER_UNAVAILABLE', retriable: true });
      expect(deadLetters.committed).toHaveLength(0);
      expect(await kit.committed(groupId, topic)).toEqual({ 0: -1 });
    } finally {
      failing = false;
    }
  });
});
