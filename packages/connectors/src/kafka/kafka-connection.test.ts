import { describe, expect, it } from 'vitest';
import { InvalidOptionsError } from '@tributary/core';
import { kafkaAdmin, kafkaSink, kafkaSource } from '../kafka.js';
import { errorChain, isMembershipError, offsetToNumber, parsePartitionId, rootMessage } from './kafka-connection.js';

const brokers = ['127.0.0.1:9092'];

describe('kafka connection options', () => {
  it('refuses rejectUnauthorized: false unless allowInsecureTls is set', () => {
    expect(() => kafkaAdmin({ brokers, ssl: { rejectUnauthorized: false } })).toThrow(InvalidOptionsError);
    expect(() => kafkaAdmin({ brokers, ssl: { rejectUnauthorized: false } })).toThrow(/ssl\.rejectUnauthorized: false turns broker certificate verification off/);
    expect(() => kafkaAdmin({ brokers, ssl: { rejectUnauthorized: false }, allowInsecureTls: true })).not.toThrow();
    expect(() => kafkaAdmin({ brokers, ssl: true })).not.toThrow();
    expect(() => kafkaAdmin({ brokers, ssl: { ca: '-----BEGIN CERTIFICATE-----' } })).not.toThrow();
  });

  it('refuses SASL PLAIN without TLS unless explicitly allowed; SCRAM and OAUTHBEARER are fine without it', () => {
    const plain = { mechanism: 'plain', username: 'u', password: 'p4ssw0rd' } as const;
    expect(() => kafkaSource({ brokers, topics: ['t'], groupId: 'g', sasl: plain })).toThrow(/sasl: PLAIN without TLS/);
    expect(() => kafkaSink({ brokers, topic: 't', sasl: plain })).toThrow(InvalidOptionsError);
    expect(() => kafkaAdmin({ brokers, sasl: plain, ssl: true })).not.toThrow();
    expect(() => kafkaAdmin({ brokers, sasl: plain, allowSaslPlainWithoutTls: true })).not.toThrow();
    expect(() => kafkaAdmin({ brokers, sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p4ssw0rd' } })).not.toThrow();
    expect(() => kafkaAdmin({ brokers, sasl: { mechanism: 'oauthbearer', oauthBearerProvider: () => Promise.resolve({ value: 't' }) } })).not.toThrow();
  });

  it('names bad fields and never echoes a password', () => {
    let caught: unknown;
    try {
      kafkaAdmin({ brokers: ['no-port'], sasl: { mechanism: 'scram-sha-256', username: 'u', password: '' }, retry: { retries: 100 } });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidOptionsError);
    const issues = (caught as InvalidOptionsError).issues.join('\n');
    expect(issues).toMatch(/brokers\.0: must be host:port/);
    expect(issues).toMatch(/retry\.retries: must be between 0 and 20/);
    expect(() => kafkaAdmin({ brokers, sasl: { mechanism: 'gssapi' } as never })).toThrow(/sasl\.mechanism: must be/);
    expect(() => kafkaAdmin({ brokers, unknownOption: 1 } as never)).toThrow(/unknownOption/);
  });

  it('validates source and sink options at construction', () => {
    expect(() => kafkaSource({ brokers, topics: [], groupId: 'g' })).toThrow(/topics/);
    expect(() => kafkaSource({ brokers, topics: ['bad topic'], groupId: 'g' })).toThrow(/topics/);
    expect(() => kafkaSource({ brokers, topics: 't', groupId: '' })).toThrow(/groupId/);
    expect(() => kafkaSource({ brokers, topics: 't', groupId: 'g', heartbeatIntervalMs: 10_000, sessionTimeoutMs: 6_000 })).toThrow(/heartbeatIntervalMs: must be below sessionTimeoutMs/);
    expect(() => kafkaSource({ brokers, topics: 't', groupId: 'g', startFrom: 'middle' as never })).toThrow(/startFrom/);
    expect(() => kafkaSource({ brokers, topics: 't', groupId: 'g', deserializer: 'avro' as never })).toThrow(/deserializer/);
    expect(() => kafkaSink({ brokers, topic: 't', maxInFlightRequests: 6 })).toThrow(/maxInFlightRequests/);
    expect(() => kafkaSink({ brokers, topic: '..' })).toThrow(/topic/);
    expect(kafkaSource({ brokers, topics: ['a', 'b', 'a'], groupId: 'g' }).topics).toEqual(['a', 'b']);
    expect(kafkaSource({ brokers, topics: 'orders', groupId: 'g' }).name).toBe('kafka:orders');
  });
});

describe('kafka connection helpers', () => {
  it('parses position ids', () => {
    expect(parsePartitionId('orders:3')).toEqual({ topic: 'orders', partition: 3 });
    expect(parsePartitionId('a.b-c_d:0')).toEqual({ topic: 'a.b-c_d', partition: 0 });
    expect(parsePartitionId('orders')).toBeUndefined();
    expect(parsePartitionId('orders:')).toBeUndefined();
    expect(parsePartitionId('orders:-1')).toBeUndefined();
    expect(parsePartitionId(':1')).toBeUndefined();
  });

  it('turns offsets into numbers and refuses those beyond 2^53', () => {
    expect(offsetToNumber('42', { topic: 't', partition: 0 })).toBe(42);
    expect(() => offsetToNumber('9007199254740993', { topic: 't', partition: 0 })).toThrow(/exceeds 2\^53/);
  });

  it('recognises membership errors through kafkajs wrapper chains', () => {
    const inner = Object.assign(new Error('The group is rebalancing, so a rejoin is needed'), { type: 'REBALANCE_IN_PROGRESS', retriable: false });
    const wrapped = Object.assign(new Error('wrapper'), { name: 'KafkaJSNonRetriableError', cause: inner });
    expect(isMembershipError(wrapped)).toBe(true);
    expect(isMembershipError(Object.assign(new Error('x'), { type: 'UNKNOWN_TOPIC_OR_PARTITION' }))).toBe(false);
    expect(rootMessage(wrapped)).toBe('The group is rebalancing, so a rejoin is needed');
    expect(errorChain(wrapped)).toHaveLength(2);
  });
});
