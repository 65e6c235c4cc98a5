import { describe, expect, it } from 'vitest';
import type { StreamRecord } from '@tributary/core';
import { flattenFields, RecordCommandError, recordCommands } from './redis-sink-commands.js';
import type { CommandPlan } from './redis-sink-commands.js';

const record = <V>(value: V, key: string | null = 'k1'): StreamRecord<V> => ({
  key,
  value,
  eventTime: 1_000,
  position: { partition: 'p:0', offset: 7 },
  headers: {},
});

function plan<V>(overrides: Partial<CommandPlan<V>> = {}): CommandPlan<V> {
  return {
    keyPrefix: 'app:',
    key: (r) => r.key,
    value: (r) => r.value,
    operation: (r) => (r.value === null || r.value === undefined ? 'delete' : 'upsert'),
    format: 'json',
    hashWrite: 'replace',
    fields: undefined,
    ttlMs: undefined,
    sortedSets: [],
    commands: undefined,
    ...overrides,
  };
}

describe('recordCommands', () => {
  it('json: SET of the JSON, with PX when a TTL applies; DEL for a tombstone', () => {
    expect(recordCommands(record({ a: 1 }), plan())).toEqual({ commands: [['SET', 'app:k1', '{"a":1}']], typeChecks: [] });
    expect(recordCommands(record({ a: 1 }), plan({ ttlMs: 500 }))?.commands).toEqual([['SET', 'app:k1', '{"a":1}', 'PX', 500]]);
    expect(recordCommands(record({ a: 1 }), plan({ ttlMs: () => undefined }))?.commands).toEqual([['SET', 'app:k1', '{"a":1}']]);
    expect(recordCommands(record(null), plan({ ttlMs: 500 }))?.commands).toEqual([['DEL', 'app:k1']]);
  });

  it('hash: DEL + HSET of the flattened fields (+ PEXPIRE), or HSET alone with a type check when merging', () => {
    const value = { a: 1, b: { c: 'x', d: null }, e: [1, 2], f: true };
    expect(recordCommands(record(value), plan({ format: 'hash', ttlMs: 10 }))?.commands).toEqual([
      ['DEL', 'app:k1'],
      ['HSET', 'app:k1', 'a', '1', 'b.c', 'x', 'e', '[1,2]', 'f', 'true'],
      ['PEXPIRE', 'app:k1', 10],
    ]);
    expect(recordCommands(record(value), plan({ format: 'hash', hashWrite: 'merge', fields: (v) => ({ only: (v as typeof value).a, gone: null, kept: undefined }) }))).toEqual({
      commands: [
        ['HSET', 'app:k1', 'only', '1'],
        ['HDEL', 'app:k1', 'gone'],
      ],
      typeChecks: [['app:k1', 'hash']],
    });
    // Merging the flattened value deletes the paths that are null now.
    expect(recordCommands(record(value), plan({ format: 'hash', hashWrite: 'merge' }))?.commands).toEqual([
      ['HSET', 'app:k1', 'a', '1', 'b.c', 'x', 'e', '[1,2]', 'f', 'true'],
      ['HDEL', 'app:k1', 'b.d'],
    ]);
  });

  it('sorted sets: ZADD by event time (member: the data key) with trimming and TTL; ZREM on delete; null key leaves a set out', () => {
    const sets = plan<{ n: number } | null>({
      format: 'none',
      sortedSets: [
        { key: () => 'recent', member: undefined, score: undefined, maxLength: 3, ttlMs: 60 },
        { key: (r) => (r.value === null ? null : 'by-n'), member: (r) => `m${r.key}`, score: (r) => r.value!.n, maxLength: undefined, ttlMs: undefined },
      ],
    });
    expect(recordCommands(record({ n: 5 }), sets)).toEqual({
      commands: [
        ['ZADD', 'app:recent', '1000', 'k1'],
        ['ZREMRANGEBYRANK', 'app:recent', 0, -4],
        ['PEXPIRE', 'app:recent', 60],
        ['ZADD', 'app:by-n', '5', 'mk1'],
      ],
      typeChecks: [
        ['app:recent', 'zset'],
        ['app:by-n', 'zset'],
      ],
    });
    expect(recordCommands(record(null), sets)?.commands).toEqual([['ZREM', 'app:recent', 'k1']]);
  });

  it('custom commands run after the built-in ones and learn the operation', () => {
    const seen: string[] = [];
    const withCommands = plan<number | null>({
      commands: (r, operation) => {
        seen.push(operation);
        return [['HINCRBY', 'counts', String(r.key), operation === 'delete' ? -1 : 1]];
      },
    });
    expect(recordCommands(record(1), withCommands)?.commands).toEqual([
      ['SET', 'app:k1', '1'],
      ['HINCRBY', 'counts', 'k1', 1],
    ]);
    recordCommands(record(null), withCommands);
    expect(seen).toEqual(['upsert', 'delete']);
  });

  it("'skip' produces nothing", () => {
    expect(recordCommands(record(1), plan({ operation: () => 'skip' }))).toBeUndefined();
  });

  it('explains bad records by position, never by value', () => {
    const fails = (value: unknown, overrides: Partial<CommandPlan<unknown>>, key: string | null = 'k1') => {
      try {
        recordCommands(record(value, key), plan(overrides));
      } catch (error) {
        expect(error).toBeInstanceOf(RecordCommandError);
        expect((error as Error).message).toContain('p:0@7');
        expect((error as Error).message).not.toContain('secret');
        return (error as Error).message;
      }
      throw new Error('expected a RecordCommandError');
    };
    expect(fails({ s: 'secret' }, {}, null)).toContain('needs a key');
    expect(fails({ s: 'secret', n: BigInt(1) }, {})).toContain('cannot be written as JSON');
    expect(fails('secret', { format: 'hash' })).toContain("format 'hash' needs an object");
    expect(fails({ s: 'secret' }, { ttlMs: () => 1.5 })).toContain('positive whole number');
    expect(fails({ s: 'secret' }, { operation: () => 'upsertt' as 'upsert' })).toContain("expected 'upsert', 'delete' or 'skip'");
    expect(fails({ s: 'secret' }, { commands: () => [['SET', { not: 'ok' }]] as never })).toContain('invalid command');
    expect(fails({ s: 'secret' }, { format: 'none', sortedSets: [{ key: () => 'z', member: undefined, score: () => Number.NaN, maxLength: undefined, ttlMs: undefined }] })).toContain('must be a number');
  });
});

describe('flattenFields', () => {
  it('flattens nested objects with dotted paths, stores arrays as JSON and dates as ISO text, and leaves out null', () => {
    expect(flattenFields({ a: { b: { c: 1 } }, list: [{ x: 1 }], at: new Date(0), none: null, missing: undefined, big: BigInt(2) }, record(null))).toEqual({
      fields: ['a.b.c', '1', 'list', '[{"x":1}]', 'at', '1970-01-01T00:00:00.000Z', 'big', '2'],
      cleared: ['none'],
    });
  });
});
