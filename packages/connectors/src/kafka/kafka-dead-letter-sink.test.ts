import { describe, expect, it } from 'vitest';
import { deadLetterPayload } from './kafka-dead-letter-sink.js';

describe('deadLetterPayload', () => {
  it('keeps bytes and text as they were, and tombstones null', () => {
    expect(deadLetterPayload(Buffer.from('raw'))).toEqual(Buffer.from('raw'));
    expect(deadLetterPayload(new Uint8Array([1, 2]))).toEqual(Buffer.from([1, 2]));
    expect(deadLetterPayload('text')).toBe('text');
    expect(deadLetterPayload(null)).toBeNull();
  });

  it('writes values holding 64-bit integers as JSON with the integers as exact strings', () => {
    const value = { id: 9_007_199_254_740_993n, nested: [1n, 'x'] };
    expect(deadLetterPayload(value)).toBe('{"id":"9007199254740993","nested":["1","x"]}');
  });
});
