import { describe, expect, it } from 'vitest';
import { InvalidOptionsError, TributaryError } from '@tributary/core';
import type { AlertRule } from '@tributary/core';
import { kafkaAlertRules } from './kafka-alert-rules.js';
import type { KafkaAlertRulesOptions } from './kafka-alert-rules.js';

// Nothing listens here: every check below must fail before a connection is attempted.
const offline: KafkaAlertRulesOptions = { brokers: ['127.0.0.1:1'], topic: 'alert-rules', retry: { retries: 0 }, connectionTimeoutMs: 200 };
const rule: AlertRule = { id: 'revenue-drop', metric: 'revenue', condition: '<', threshold: 100, severity: 'warning' };

async function rejection(promise: Promise<unknown>): Promise<InvalidOptionsError> {
  const error: unknown = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(InvalidOptionsError);
  return error as InvalidOptionsError;
}

describe('kafkaAlertRules options', () => {
  it('refuses a missing topic, an invalid topic name and absurd values, naming each field', () => {
    expect(() => kafkaAlertRules({ brokers: ['127.0.0.1:9092'] } as never)).toThrow(/topic/);
    expect(() => kafkaAlertRules({ ...offline, topic: 'bad topic!' })).toThrow(/topic: must be 1-249 characters/);
    expect(() => kafkaAlertRules({ ...offline, partitions: 0 })).toThrow(/partitions: must be a positive integer/);
    expect(() => kafkaAlertRules({ ...offline, catchUpTimeoutMs: -5 })).toThrow(/catchUpTimeoutMs/);
    expect(() => kafkaAlertRules({ ...offline, brokers: [] })).toThrow(/brokers: must name at least one broker/);
  });

  it('keeps the connection security rules of the other Kafka factories', () => {
    expect(() => kafkaAlertRules({ ...offline, sasl: { mechanism: 'plain', username: 'u', password: 'p' } })).toThrow(/PLAIN without TLS/);
  });
});

describe('KafkaAlertRules before start', () => {
  it('current() says to call start() first instead of returning an empty rule set', () => {
    const rules = kafkaAlertRules(offline);
    expect(() => rules.current()).toThrow(TributaryError);
    expect(() => rules.current()).toThrow(/call and await start\(\)/);
  });

  it('put validates the rule before touching Kafka and names every invalid field', async () => {
    const rules = kafkaAlertRules(offline);
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...rule, id: 'has space' }, /id: must be 1-64 letters/],
      [{ ...rule, id: 'x'.repeat(65) }, /id: must be 1-64 letters/],
      [{ ...rule, id: '' }, /id: /],
      [{ ...rule, metric: '' }, /metric: must be a non-empty string/],
      [{ ...rule, condition: '!=' }, /condition: must be one of/],
      [{ ...rule, threshold: Number.POSITIVE_INFINITY }, /threshold: must be a finite number/],
      [{ ...rule, threshold: Number.NaN }, /threshold: must be a finite number/],
      [{ ...rule, threshold: '5' }, /threshold: must be a finite number/],
      [{ ...rule, severity: 'fatal' }, /severity: must be 'info', 'warning' or 'critical'/],
      [{ ...rule, key: '' }, /key: must be a non-empty string/],
      [{ ...rule, extra: true }, /extra/],
    ];
    for (const [input, message] of cases) {
      const error = await rejection(rules.put(input as unknown as AlertRule));
      expect(error.message, JSON.stringify(input)).toMatch(message);
    }
    const both = await rejection(rules.put({ ...rule, metric: '', severity: 'fatal' } as unknown as AlertRule));
    expect(both.issues).toHaveLength(2);
  });

  it('delete refuses an invalid id before touching Kafka', async () => {
    const rules = kafkaAlertRules(offline);
    expect((await rejection(rules.delete('../etc'))).message).toMatch(/kafkaAlertRules.delete/);
  });

  it('a closed store refuses to start', async () => {
    const rules = kafkaAlertRules(offline);
    await rules.close();
    await expect(rules.start()).rejects.toThrow(/was closed/);
  });
});
