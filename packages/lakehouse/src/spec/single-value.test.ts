import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LakehouseError } from '../errors.js';
import type { PrimitiveType } from '../schema/types.js';
import { DEFAULT_BOUND_LENGTH, deserializeValue, serializeValue, truncateLowerBound, truncateUpperBound } from './single-value.js';
import { compareBytes, compareStrings } from './values.js';

const hex = (bytes: Uint8Array) => Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');

describe('serializeValue (spec Appendix D)', () => {
  it.each<[PrimitiveType, unknown, string]>([
    ['boolean', false, '00'],
    ['boolean', true, '01'],
    ['int', 1, '01000000'],
    ['int', -2, 'feffffff'],
    ['long', 34n, '2200000000000000'],
    ['long', -1, 'ffffffffffffffff'],
    ['float', 1, '0000803f'],
    ['double', 1, '000000000000f03f'],
    ['date', '1970-01-02', '01000000'],
    ['date', new Date('1969-12-31T12:00:00Z'), 'ffffffff'],
    ['time', '00:00:01', '40420f0000000000'],
    ['time', 1_000_000n, '40420f0000000000'],
    ['timestamp', 1n, '0100000000000000'],
    ['timestamptz', new Date(1), 'e803000000000000'],
    ['timestamptz', '1970-01-01T00:00:00.000001Z', '0100000000000000'],
    ['string', 'iceberg', hex(new TextEncoder().encode('iceberg'))],
    ['string', 'é', 'c3a9'],
    ['uuid', 'F79C3E09-677C-4BBD-A479-3F349CB785E7', 'f79c3e09677c4bbda4793f349cb785e7'],
    ['fixed[3]', Uint8Array.of(1, 2, 3), '010203'],
    ['binary', Uint8Array.of(), ''],
    ['decimal(9, 2)', '14.20', '058c'],
    ['decimal(9, 2)', '-14.20', 'fa74'],
    ['decimal(9, 2)', '0', '00'],
    ['decimal(9, 2)', '1.28', '0080'],
    ['decimal(9, 2)', '-1.28', '80'],
    ['decimal(9, 2)', '-1.29', 'ff7f'],
    ['decimal(9, 2)', 12345n, '3039'],
    ['decimal(38, 0)', '99999999999999999999999999999999999999', '4b3b4ca85a86c47a098a223fffffffff'],
  ])('%s %o -> %s', (type, value, expected) => {
    expect(hex(serializeValue(type, value))).toBe(expected);
  });

  it('rejects values that do not fit the type, naming the type and what to pass', () => {
    expect(() => serializeValue('int', 2 ** 31)).toThrow(/not a valid int \(outside the 32-bit range; widen the column to long\)/);
    expect(() => serializeValue('decimal(4, 2)', '123.45')).toThrow(/not a valid decimal\(4, 2\) \(more than 4 digits\)/);
    expect(() => serializeValue('decimal(9, 2)', '1.234')).toThrow(LakehouseError);
    expect(() => serializeValue('fixed[2]', Uint8Array.of(1))).toThrow(/exactly 2 bytes/);
    expect(() => serializeValue('timestamptz', 5)).toThrow(/ambiguous between milliseconds and microseconds/);
    expect(() => serializeValue('date', '2023-02-29')).toThrow(/not a valid date/);
    expect(() => serializeValue('uuid', 'nope')).toThrow(/not a valid uuid/);
  });
});

describe('deserializeValue', () => {
  it('returns spec values: text decimals and dates, bigint longs and microseconds', () => {
    expect(deserializeValue('decimal(9, 2)', Uint8Array.of(0x05, 0x8c))).toBe('14.20');
    expect(deserializeValue('date', serializeValue('date', '2024-03-05'))).toBe('2024-03-05');
    expect(deserializeValue('long', serializeValue('long', 7))).toBe(7n);
    expect(deserializeValue('timestamptz', serializeValue('timestamptz', new Date(1)))).toBe(1000n);
    expect(deserializeValue('time', serializeValue('time', '22:31:08'))).toBe(81_068_000_000n);
    expect(deserializeValue('uuid', serializeValue('uuid', 'f79c3e09-677c-4bbd-a479-3f349cb785e7'))).toBe('f79c3e09-677c-4bbd-a479-3f349cb785e7');
    expect(deserializeValue('boolean', Uint8Array.of(7))).toBe(true);
  });

  it('reads bounds written before int -> long and float -> double promotion', () => {
    expect(deserializeValue('long', serializeValue('int', -5))).toBe(-5n);
    expect(deserializeValue('double', serializeValue('float', 1.5))).toBe(1.5);
  });

  it('reports malformed bytes as corrupt metadata', () => {
    expect(() => deserializeValue('int', Uint8Array.of(1, 2))).toThrow(expect.objectContaining({ code: 'CORRUPT_METADATA' }));
    expect(() => deserializeValue('string', Uint8Array.of(0xff))).toThrow(/not valid UTF-8/);
  });

  const roundTrips: [PrimitiveType, fc.Arbitrary<unknown>][] = [
    ['boolean', fc.boolean()],
    ['int', fc.integer()],
    ['long', fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })],
    ['float', fc.float({ noNaN: true }).map((value) => Math.fround(value))],
    ['double', fc.double({ noNaN: true })],
    ['date', fc.integer({ min: -700_000, max: 2_900_000 }).map((days) => new Date(days * 86_400_000).toISOString().slice(0, 10))],
    ['time', fc.bigInt({ min: 0n, max: 86_400_000_000n - 1n })],
    ['timestamptz', fc.bigInt({ min: -(2n ** 62n), max: 2n ** 62n })],
    ['string', fc.string({ unit: 'grapheme' })],
    ['uuid', fc.uuid()],
    ['binary', fc.uint8Array()],
    ['fixed[5]', fc.uint8Array({ minLength: 5, maxLength: 5 })],
    ['decimal(38, 10)', fc.bigInt({ min: -(10n ** 38n) + 1n, max: 10n ** 38n - 1n })],
  ];
  for (const [type, values] of roundTrips) {
    it(`round-trips ${type}`, () => {
      fc.assert(
        fc.property(values, (value) => {
          const back = deserializeValue(type, serializeValue(type, value));
          if (type.startsWith('decimal')) expect(serializeValue(type, back)).toEqual(serializeValue(type, value));
          else expect(back).toEqual(value);
        }),
      );
    });
  }

  it('writes decimals in the fewest bytes', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 38n) + 1n, max: 10n ** 38n - 1n }), (unscaled) => {
        const bytes = serializeValue('decimal(38, 0)', unscaled);
        if (bytes.length > 1) {
          // With one byte fewer the sign bit would differ from the value's sign: the leading byte is needed.
          const redundant = (bytes[0] === 0x00 && bytes[1]! < 0x80) || (bytes[0] === 0xff && bytes[1]! >= 0x80);
          expect(redundant).toBe(false);
        }
      }),
    );
  });
});

describe('truncateLowerBound / truncateUpperBound', () => {
  it('keeps 16 code points by default', () => {
    expect(DEFAULT_BOUND_LENGTH).toBe(16);
    expect(truncateLowerBound('string', 'abcdefghijklmnopqrstuvwxyz')).toBe('abcdefghijklmnop');
    expect(truncateUpperBound('string', 'abcdefghijklmnopqrstuvwxyz')).toBe('abcdefghijklmnoq');
    expect(truncateUpperBound('string', 'short')).toBe('short');
    expect(truncateLowerBound('binary', new Uint8Array(20))).toHaveLength(16);
  });

  it('increments the last code point that can be, skipping surrogates, or gives up', () => {
    expect(truncateUpperBound('string', 'a\u{10FFFF}bc', 2)).toBe('b');
    expect(truncateUpperBound('string', 'a\uD7FFbc', 2)).toBe('a\uE000');
    expect(truncateUpperBound('string', '😀😀😀', 2)).toBe('😀😁');
    expect(truncateUpperBound('string', '\u{10FFFF}\u{10FFFF}x', 2)).toBeUndefined();
    expect(truncateUpperBound('binary', Uint8Array.of(1, 0xff, 3), 2)).toEqual(Uint8Array.of(2));
    expect(truncateUpperBound('binary', Uint8Array.of(0xff, 0xff, 3), 2)).toBeUndefined();
    expect(truncateLowerBound('binary', Uint8Array.of(1, 2, 3), 2)).toEqual(Uint8Array.of(1, 2));
  });

  it('passes bounds of other types through', () => {
    expect(truncateLowerBound('long', 5n, 1)).toBe(5n);
    expect(truncateUpperBound('decimal(9, 2)', '1234567.89', 1)).toBe('1234567.89');
    const fixed = Uint8Array.of(1, 2, 3);
    expect(truncateUpperBound('fixed[3]', fixed, 1)).toBe(fixed);
  });

  it('brackets the value: lower <= value <= upper, in UTF-8 byte order', () => {
    const text = fc.string({ unit: fc.constantFrom('a', 'z', '\u007F', 'é', '\uD7FF', '\uFFFF', '😀', '\u{10FFFF}'), maxLength: 8 });
    fc.assert(
      fc.property(text, fc.integer({ min: 1, max: 6 }), (value, length) => {
        const lower = truncateLowerBound('string', value, length) as string;
        const upper = truncateUpperBound('string', value, length) as string | undefined;
        expect(compareStrings(lower, value)).toBeLessThanOrEqual(0);
        expect(Array.from(lower).length).toBeLessThanOrEqual(length);
        if (upper !== undefined) {
          expect(compareStrings(upper, value)).toBeGreaterThanOrEqual(0);
          expect(Array.from(upper).length).toBeLessThanOrEqual(length);
          const utf8 = new TextEncoder();
          expect(compareBytes(utf8.encode(upper), utf8.encode(value))).toBeGreaterThanOrEqual(0);
        }
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 8 }), fc.integer({ min: 1, max: 6 }), (value, length) => {
        expect(compareBytes(truncateLowerBound('binary', value, length) as Uint8Array, value)).toBeLessThanOrEqual(0);
        const upper = truncateUpperBound('binary', value, length) as Uint8Array | undefined;
        if (upper !== undefined) expect(compareBytes(upper, value)).toBeGreaterThanOrEqual(0);
        else expect(value.slice(0, length).every((byte) => byte === 0xff)).toBe(true);
      }),
    );
  });
});
