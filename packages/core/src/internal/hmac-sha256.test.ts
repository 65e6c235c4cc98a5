import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createHmacSha256 } from './hmac-sha256.js';

const reference = (key: string, message: string) => createHmac('sha256', key).update(message, 'utf8').digest('hex');

describe('createHmacSha256', () => {
  it('matches RFC 4231 test case 2', () => {
    expect(createHmacSha256('Jefe')('what do ya want for nothing?')).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });

  it('matches node:crypto at every padding boundary and for multi-block messages', () => {
    const hmac = createHmacSha256('pepper');
    for (let length = 0; length <= 300; length++) {
      const message = 'x'.repeat(length);
      expect(hmac(message), `length ${length}`).toBe(reference('pepper', message));
    }
  });

  it('matches node:crypto for keys shorter than, equal to and longer than a block', () => {
    for (const key of ['k', 'k'.repeat(63), 'k'.repeat(64), 'k'.repeat(65), 'ключ'.repeat(40)]) {
      expect(createHmacSha256(key)('alice@example.com'), `key length ${key.length}`).toBe(reference(key, 'alice@example.com'));
    }
  });

  it('matches node:crypto for arbitrary Unicode keys and messages, reusing one hasher', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 80, unit: 'grapheme' }), fc.array(fc.string({ maxLength: 200, unit: 'grapheme' }), { maxLength: 8 }), (key, messages) => {
        const hmac = createHmacSha256(key);
        for (const message of messages) expect(hmac(message)).toBe(reference(key, message));
      }),
      { numRuns: 300 },
    );
  });

  it('keeps independent hashers independent', () => {
    const a = createHmacSha256('a');
    const b = createHmacSha256('b');
    const first = a('same');
    b('something much longer than a single block so that the buffers would be clobbered if they were shared ........');
    expect(a('same')).toBe(first);
    expect(first).toBe(reference('a', 'same'));
  });
});
