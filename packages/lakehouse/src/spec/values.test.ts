import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bigEndianBytes,
  compareBytes,
  compareLiterals,
  compareStrings,
  dateStringFromDays,
  daysFromDateString,
  decimalStringFromUnscaled,
  fromLiteral,
  integerFromBigEndianBytes,
  timestampMicrosFromString,
  timestampStringFromMicros,
  toLiteral,
  toSpecValue,
  unscaledFromDecimalString,
  uuidFromBytes,
  uuidToBytes,
} from './values.js';

describe('toLiteral', () => {
  it('accepts every row value form of each type', () => {
    expect(toLiteral('long', 5)).toBe(5n);
    expect(toLiteral('long', '-9223372036854775808')).toBe(-(2n ** 63n));
    expect(toLiteral('int', 7n)).toBe(7);
    expect(toLiteral('int', -0)).toBe(0);
    expect(toLiteral('float', 0.1)).toBe(Math.fround(0.1));
    expect(toLiteral('decimal(9, 2)', 0.1)).toBe(10n);
    expect(toLiteral('decimal(9, 2)', 1e-2)).toBe(1n);
    expect(toLiteral('decimal(9, 2)', '1.5e2')).toBe(15000n);
    expect(toLiteral('decimal(9, 2)', 1230n)).toBe(1230n);
    expect(toLiteral('decimal(9, 2)', Uint8Array.of(0x04, 0xce))).toBe(1230n);
    expect(toLiteral('date', '2017-11-16')).toBe(17486);
    expect(toLiteral('date', new Date('2017-11-16T23:59:59.999Z'))).toBe(17486);
    expect(toLiteral('date', new Date('1969-12-31T00:00:00.001Z'))).toBe(-1);
    expect(toLiteral('date', 17486)).toBe(17486);
    expect(toLiteral('time', '22:31:08.5')).toBe(81_068_500_000n);
    expect(toLiteral('timestamp', '2017-11-16T22:31:08.000001')).toBe(1_510_871_468_000_001n);
    expect(toLiteral('timestamptz', '2017-11-16T14:31:08.000001-08:00')).toBe(1_510_871_468_000_001n);
    expect(toLiteral('timestamptz', '2017-11-16 22:31:08Z')).toBe(1_510_871_468_000_000n);
    expect(toLiteral('timestamptz', new Date(-1))).toBe(-1000n);
    expect(toLiteral('uuid', uuidToBytes('f79c3e09-677c-4bbd-a479-3f349cb785e7'))).toBe('f79c3e09-677c-4bbd-a479-3f349cb785e7');
    expect(toLiteral('binary', new Uint8Array([1]).buffer)).toEqual(Uint8Array.of(1));
  });

  it('rejects values that do not fit, saying why', () => {
    expect(() => toLiteral('long', 2 ** 60)).toThrow(/not a valid long; pass a bigint or a safe integer number/);
    expect(() => toLiteral('long', 2n ** 63n)).toThrow(/outside the 64-bit range/);
    expect(() => toLiteral('int', 1.5)).toThrow(/not an integer/);
    expect(() => toLiteral('decimal(9, 2)', 0.125)).toThrow(/more than 2 decimal places/);
    expect(() => toLiteral('decimal(3, 0)', 1000)).toThrow(/more than 3 digits/);
    expect(() => toLiteral('time', '24:00:00')).toThrow(/not a valid time/);
    expect(() => toLiteral('timestamptz', new Date(Number.NaN))).toThrow(/Date\(Invalid Date\)/);
    expect(() => toLiteral('string', 5, 'name')).toThrow(/Value 5 for column "name" is not a valid string; pass a string/);
    expect(() => toLiteral('boolean', 'true')).toThrow(/not a valid boolean/);
  });
});

describe('dates and timestamps', () => {
  it('round-trips days through ISO dates across the whole supported range', () => {
    fc.assert(
      fc.property(fc.integer({ min: -100_000_000, max: 100_000_000 }), (days) => {
        expect(daysFromDateString(dateStringFromDays(days))).toBe(days);
      }),
    );
    expect(dateStringFromDays(-719_528)).toBe('0000-01-01');
    expect(daysFromDateString('0050-03-01')).toBe(Math.round(Date.parse('0050-03-01T00:00:00Z') / 86_400_000));
    expect(daysFromDateString('2023-02-29')).toBeUndefined();
  });

  it('round-trips microsecond timestamps through ISO text', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 16n), max: 10n ** 16n }), fc.boolean(), (micros, zone) => {
        expect(timestampMicrosFromString(timestampStringFromMicros(micros, zone))).toBe(micros);
      }),
    );
    expect(timestampStringFromMicros(-1n, true)).toBe('1969-12-31T23:59:59.999999+00:00');
    // Nanoseconds are dropped, which floors the instant.
    expect(timestampMicrosFromString('1969-12-31T23:59:59.999999999Z')).toBe(-1n);
    expect(timestampMicrosFromString('2024-03-05T13:00:00+0530')).toBe(BigInt(Date.UTC(2024, 2, 5, 7, 30)) * 1000n);
    expect(timestampMicrosFromString('2024-03-05')).toBe(BigInt(Date.UTC(2024, 2, 5)) * 1000n);
    expect(timestampMicrosFromString('yesterday')).toBeUndefined();
  });
});

describe('decimals', () => {
  it('round-trips unscaled values through text', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }), fc.integer({ min: 0, max: 10 }), (unscaled, scale) => {
        expect(unscaledFromDecimalString(decimalStringFromUnscaled(unscaled, scale), scale)).toBe(unscaled);
      }),
    );
    expect(decimalStringFromUnscaled(-5n, 2)).toBe('-0.05');
    expect(decimalStringFromUnscaled(5n, 0)).toBe('5');
    expect(unscaledFromDecimalString('1.50', 1)).toBe(15n);
    expect(unscaledFromDecimalString('1.55', 1)).toBeUndefined();
    expect(unscaledFromDecimalString('.5', 1)).toBe(5n);
    expect(unscaledFromDecimalString('-', 1)).toBeUndefined();
  });

  it('round-trips integers through big-endian bytes of any sufficient width', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 127n), max: 2n ** 127n - 1n }), (value) => {
        expect(integerFromBigEndianBytes(bigEndianBytes(value, 16))).toBe(value);
      }),
    );
    expect(bigEndianBytes(-1n, 3)).toEqual(Uint8Array.of(0xff, 0xff, 0xff));
  });
});

describe('ordering', () => {
  it('orders strings by code point, as their UTF-8 bytes', () => {
    const encoder = new TextEncoder();
    // Code points around the UTF-16 surrogate range, where JavaScript's own order differs from UTF-8's.
    const unit = fc.oneof(
      fc.constantFrom('a', '\uD7FF', '\uE000', '\uFFFF', '\u{10000}', '\u{10FFFF}'),
      fc
        .integer({ min: 0, max: 0x10ffff })
        .filter((point) => point < 0xd800 || point > 0xdfff)
        .map((point) => String.fromCodePoint(point)),
    );
    const text = fc.string({ unit, maxLength: 6 });
    fc.assert(
      fc.property(text, text, (left, right) => {
        expect(Math.sign(compareStrings(left, right))).toBe(Math.sign(compareBytes(encoder.encode(left), encoder.encode(right))));
      }),
    );
    expect(compareStrings('\uFFFF', '\u{10000}')).toBe(-1);
  });

  it('orders NaN above every number and bytes as unsigned', () => {
    expect(compareLiterals(Number.NaN, Number.POSITIVE_INFINITY)).toBe(1);
    expect(compareLiterals(Number.NaN, Number.NaN)).toBe(0);
    expect(compareLiterals(Uint8Array.of(0x80), Uint8Array.of(0x7f))).toBe(1);
    expect(compareLiterals(false, true)).toBe(-1);
    expect(() => compareLiterals(1, 1n)).toThrow(/different types/);
  });
});

describe('spec values', () => {
  it('hand decimals and dates out as text, times as bigint microseconds', () => {
    expect(fromLiteral('decimal(9, 2)', 1230n)).toBe('12.30');
    expect(fromLiteral('date', 0)).toBe('1970-01-01');
    expect(toSpecValue('timestamptz', new Date(2))).toBe(2000n);
    expect(toSpecValue('time', '00:00:01')).toBe(1_000_000n);
    expect(uuidFromBytes(uuidToBytes('F79C3E09-677C-4BBD-A479-3F349CB785E7'))).toBe('f79c3e09-677c-4bbd-a479-3f349cb785e7');
    expect(() => uuidToBytes('f79c3e09')).toThrow(/is not a UUID/);
  });
});
