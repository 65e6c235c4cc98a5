import { describe, expect, it } from 'vitest';
import { silentLogger, systemClock } from '@tributary/core';
import type { SourceContext } from '@tributary/core';
import { kafkaSource } from './kafka-source.js';

const context = (withDeadLetters: boolean): SourceContext => ({
  clock: systemClock,
  logger: silentLogger,
  signal: new AbortController().signal,
  assigned: () => Promise.resolve({}),
  revoked: () => Promise.resolve(),
  ...(withDeadLetters ? { deadLetters: () => undefined } : {}),
});

describe('kafkaSource lifecycle without a broker', () => {
  it('refuses a context without deadLetters before connecting (undecodable records would be lost)', async () => {
    const source = kafkaSource({ brokers: ['127.0.0.1:1'], topics: ['t'], groupId: 'g' });
    await expect(source.open(context(false))).rejects.toMatchObject({ code: 'SOURCE_NEEDS_DEAD_LETTERS' });
  });

  it('poll before open throws; commit before open (or after close) is refused', async () => {
    const source = kafkaSource({ brokers: ['127.0.0.1:1'], topics: ['t'], groupId: 'g' });
    await expect(source.poll(10, new AbortController().signal)).rejects.toMatchObject({ code: 'SOURCE_NOT_OPEN' });
    await expect(source.commit({ 't:0': 1 })).rejects.toMatchObject({ code: 'KAFKA_SOURCE_CLOSED' });
    await source.close();
    await expect(source.commit({ 't:0': 1 })).rejects.toMatchObject({ code: 'KAFKA_SOURCE_CLOSED' });
    expect(source.partitions()).toEqual([]);
    expect(source.stats()).toMatchObject({ pauses: 0, buffered: 0, lateRevokes: 0 });
  });
});
