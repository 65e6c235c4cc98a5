import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeBase64, encodeBase64 } from './binary.js';
import { canonicalJson } from './canonical-json.js';
import { formatDecimal, formatEpochDay, formatEpochTimestamp, formatTimeOfDay, twosComplementToBigInt } from './logical-types.js';
import { parseLosslessJson } from './lossless-json.js';

/** Java's BigInteger.toByteArray(): minimal two's-complement big-endian bytes. */
function javaBytes(value: bigint): Uint8Array {
  const bytes: number[] = [];
  let rest = value;
  for (;;) {
    bytes.unshift(Number(rest & 0xffn));
    const done = (rest >= -128n && rest <= 127n);
    rest >>= 8n;
    if (done) break;
  }
  return new Uint8Array(bytes);
}

describe('logical type conversions', () => {
  it('decodes two\'s-complement unscaled decimals exactly (property)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }), fc.integer({ min: 0, max: 30 }), (unscaled, scale) => {
        const text = formatDecimal(twosComplementToBigInt(javaBytes(unscaled)), scale);
        // Reading the string back gives the same unscaled value and exactly `scale` fraction digits.
        const [whole, fraction = ''] = text.replace('-', '').split('.');
        expect(fraction.length).toBe(scale);
        expect(BigInt((text.startsWith('-') ? '-' : '') + whole + fraction)).toBe(unscaled);
      }),
    );
  });

  it('formats decimals with their scale', () => {
    expect(formatDecimal(123450n, 2)).toBe('1234.50');
    expect(formatDecimal(-5n, 2)).toBe('-0.05');
    expect(formatDecimal(0n, 3)).toBe('0.000');
    expect(formatDecimal(12n, -3)).toBe('12000');
    expect(formatDecimal(0n, -3)).toBe('0');
    expect(() => formatDecimal(1n, 1.5)).toThrow(RangeError);
  });

  it('formats dates, times and timestamps exactly at every precision', () => {
    expect(formatEpochDay(0)).toBe('1970-01-01');
    expect(formatEpochDay(-719162)).toBe('0001-01-01');
    expect(formatTimeOfDay(0, 1_000_000)).toBe('00:00:00.000000');
    expect(formatTimeOfDay(86_399_999_999_999n, 1_000_000_000)).toBe('23:59:59.999999999');
    expect(formatEpochTimestamp(0, 1)).toBe('1970-01-01T00:00:00.000Z');
    expect(formatEpochTimestamp(-1n, 1_000_000)).toBe('1969-12-31T23:59:59.999999999Z');
    expect(formatEpochTimestamp(1_000_001, 1_000)).toBe('1970-01-01T00:00:01.000001Z');
    expect(() => formatEpochTimestamp(1e20, 1)).toThrow(RangeError);
    expect(() => formatEpochDay(0.5)).toThrow(RangeError);
  });

  it('matches Date for millisecond timestamps and keeps microseconds (property)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -62_135_596_800_000_000n, max: 253_402_300_799_999_999n }), (micros) => {
        const text = formatEpochTimestamp(micros, 1_000);
        const rest = ((micros % 1000n) + 1000n) % 1000n;
        expect(Date.parse(text)).toBe(Number((micros - rest) / 1000n));
        expect(BigInt(text.slice(-4, -1))).toBe(rest);
      }),
    );
  });
});

describe('binary, JSON and key helpers', () => {
  it('round-trips base64 and rejects what is not base64', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        expect(decodeBase64(encodeBase64(bytes))).toEqual(bytes);
      }),
    );
    expect(encodeBase64(new Uint8Array([0xde, 0xad, 0xbe, 0xef]))).toBe('3q2+7w==');
    expect(decodeBase64('3q2-7w')).toEqual(new Uint8Array([0xde, 0xad, 0xbe, 0xef]));
    for (const bad of ['a', 'ab$=', '====', 'abc==']) expect(decodeBase64(bad), bad).toBeUndefined();
  });

  it('parses integers beyond 2^53 exactly and leaves everything else to JSON.parse', () => {
    expect(parseLosslessJson('{"a":9007199254740993,"b":[-12345678901234567890],"c":1.5,"d":"12345678901234567890","e":9007199254740991}')).toEqual({
      a: 9007199254740993n,
      b: [-12345678901234567890n],
      c: 1.5,
      d: '12345678901234567890',
      e: 9007199254740991,
    });
    expect(parseLosslessJson('{"a":1e400}')).toEqual({ a: Number.POSITIVE_INFINITY });
    expect(() => parseLosslessJson('{')).toThrow(SyntaxError);
  });

  it('writes canonical keys: sorted fields, exact bigints, base64 bytes', () => {
    expect(canonicalJson({ b: 'x', a: 1 })).toBe('{"a":1,"b":"x"}');
    expect(canonicalJson({ id: 12345678901234567890n, raw: new Uint8Array([1]), list: [null, undefined], nested: { z: 1, y: 2 } })).toBe(
      '{"id":12345678901234567890,"list":[null,null],"nested":{"y":2,"z":1},"raw":"AQ=="}',
    );
    expect(canonicalJson(Number.NaN)).toBe('"NaN"');
    expect(() => canonicalJson({ f: () => 1 })).toThrow(TypeError);
  });
});
