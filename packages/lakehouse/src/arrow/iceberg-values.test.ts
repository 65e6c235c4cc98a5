import { describe, expect, it } from 'vitest';
import {
  daysFromCivil,
  formatDate,
  formatDecimal,
  formatTime,
  parseDate,
  parseDecimal,
  parseTime,
  parseTimestamp,
  readInt128,
  writeInt128,
} from './iceberg-values.js';

describe('iceberg values', () => {
  it('converts days both ways, agreeing with Date for every day from 1600 to 2400', () => {
    for (let day = daysFromCivil(1600, 1, 1); day <= daysFromCivil(2400, 12, 31); day += 1) {
      const text = new Date(day * 86_400_000).toISOString().slice(0, 10);
      if (formatDate(day) !== text || parseDate(text) !== day) throw new Error(`day ${day}: ${formatDate(day)} vs ${text}`);
    }
    expect(formatDate(daysFromCivil(-44, 3, 15))).toBe('-000044-03-15');
    expect(formatDate(daysFromCivil(12_000, 1, 1))).toBe('+012000-01-01');
    expect([parseDate('2023-02-29'), parseDate('2024-13-01'), parseDate('2024-1-01'), parseDate('2024-01-00')]).toEqual([undefined, undefined, undefined, undefined]);
  });

  it('parses times and ISO timestamps to exact microseconds', () => {
    expect(parseTime('23:59:59.999999')).toBe(86_399_999_999);
    expect(formatTime(86_399_999_999)).toBe('23:59:59.999999');
    expect([parseTime('24:00:00'), parseTime('12:60:00'), parseTime('1:00:00')]).toEqual([undefined, undefined, undefined]);
    expect(parseTimestamp('1970-01-01T00:00:00Z')).toBe(0);
    expect(parseTimestamp('1970-01-01T01:00:00+01:00')).toBe(0);
    expect(parseTimestamp('1970-01-01T00:00:00-0130')).toBe(5_400_000_000);
    expect(parseTimestamp('2024-05-01')).toBe(1_714_521_600_000_000);
    expect(parseTimestamp('2024-05-01T10:00')).toBe(1_714_557_600_000_000);
    expect(parseTimestamp('9999-12-31T23:59:59.999999Z')).toBe(253_402_300_799_999_999n);
    expect(parseTimestamp('-000001-01-01T00:00:00Z')).toBe(-62_198_755_200_000_000n);
    expect([parseTimestamp('2024-05-01T25:00:00Z'), parseTimestamp('2024-05-01T10:00:00+24:00'), parseTimestamp('May 1')]).toEqual([undefined, undefined, undefined]);
  });

  it('parses decimals exactly and refuses lost digits', () => {
    expect(parseDecimal('12.3', 4, 2)).toEqual({ unscaled: 1230 });
    expect(parseDecimal('-0.001e3', 4, 2)).toEqual({ unscaled: -100 });
    expect(parseDecimal('1.5E-1', 4, 2)).toEqual({ unscaled: 15 });
    expect(parseDecimal('12345678901234567.89', 19, 2)).toEqual({ unscaled: 1234567890123456789n });
    expect(parseDecimal('1.005', 4, 2)).toEqual({ problem: 'has 3 decimal places, more than the scale 2' });
    expect(parseDecimal('1.0050', 4, 2)).toEqual({ problem: 'has 3 decimal places, more than the scale 2' });
    expect(parseDecimal('100.00', 4, 2)).toEqual({ problem: 'has 5 significant digits, more than the precision 4' });
    expect(parseDecimal('1e500', 4, 2)).toEqual({ problem: 'has an exponent out of range' });
    expect(parseDecimal('', 4, 2)).toEqual({ problem: 'is not a decimal number' });
    expect(formatDecimal(-5n, 3)).toBe('-0.005');
    expect(formatDecimal(12n, 0)).toBe('12');
  });

  it('writes and reads 128-bit two’s complement integers', () => {
    const values = [0n, 1n, -1n, 2n ** 53n - 1n, -(2n ** 53n), 2n ** 53n, 2n ** 64n + 5n, -(10n ** 38n) + 1n, 10n ** 38n - 1n, -(2n ** 127n), 2n ** 127n - 1n];
    const words = new Uint32Array(4);
    for (const value of values) {
      writeInt128(value, words, 0);
      expect(readInt128(words, 0)).toBe(value);
      if (value >= -(2n ** 53n) && value < 2n ** 53n) {
        writeInt128(Number(value), words, 0);
        expect(readInt128(words, 0)).toBe(value);
      }
    }
  });
});
