import { describe, expect, it } from 'vitest';
import { InvalidOptionsError } from '@tributary/core';
import { topicName } from './topic-name.js';

describe('topicName', () => {
  it('joins source, database and table with dots', () => {
    expect(topicName({ source: 'shop', database: 'public', table: 'orders' })).toBe('shop.public.orders');
    expect(topicName({ source: 'a-1', database: 'B_2', table: 'c' })).toBe('a-1.B_2.c');
  });

  it('refuses empty parts, dots, spaces and names over 249 characters, naming the part', () => {
    expect(() => topicName({ source: '', database: 'public', table: 'orders' })).toThrow(/source: must be/);
    expect(() => topicName({ source: 'shop', database: 'pub.lic', table: 'orders' })).toThrow(/database: .*no dots/);
    expect(() => topicName({ source: 'shop', database: 'public', table: 'my table' })).toThrow(/table/);
    expect(() => topicName({ source: 'shop', database: 'public' } as never)).toThrow(InvalidOptionsError);
    expect(() => topicName({ source: 'x'.repeat(200), database: 'y'.repeat(30), table: 'z'.repeat(30) })).toThrow(/at most 249/);
  });
});
