import { describe, expect, it } from 'vitest';
import { decodeHeaders, valueDecoder } from './kafka-deserializer.js';
import type { KafkaMessageMeta } from './kafka-deserializer.js';

const meta: KafkaMessageMeta = { topic: 't', partition: 0, offset: 5, key: 'k', headers: {}, timestamp: 1 };

describe('kafka deserializers', () => {
  it('decodes json, string and bytes, with tombstones as null', () => {
    expect(valueDecoder('json')(Buffer.from('{"a":[1,2]}'), meta)).toEqual({ a: [1, 2] });
    expect(valueDecoder('json')(null, meta)).toBeNull();
    expect(() => valueDecoder('json')(Buffer.from('{"a":'), meta)).toThrow(SyntaxError);
    expect(valueDecoder('string')(Buffer.from('héllo'), meta)).toBe('héllo');
    expect(valueDecoder('string')(null, meta)).toBeNull();
    const bytes = Buffer.from([0, 1, 2]);
    expect(valueDecoder('bytes')(bytes, meta)).toBe(bytes);
  });

  it('passes custom functions the value and the message meta', () => {
    const decode = valueDecoder((value, m) => `${m.topic}:${m.offset}:${value?.toString('utf8') ?? '-'}`);
    expect(decode(Buffer.from('x'), meta)).toBe('t:5:x');
  });

  it('decodes headers as UTF-8, the last value of a repeated header winning', () => {
    expect(decodeHeaders(undefined)).toEqual({});
    expect(decodeHeaders({ a: Buffer.from('1'), b: 'two', c: [Buffer.from('first'), Buffer.from('last')], d: undefined })).toEqual({ a: '1', b: 'two', c: 'last' });
  });
});
