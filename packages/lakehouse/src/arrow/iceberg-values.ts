/**
 * Conversions between the JavaScript values of the row convention (see `schema/types.ts`) and the physical values
 * Iceberg stores: days, microseconds, unscaled decimals, UUID bytes. Kept free of Arrow so the Parquet and manifest
 * code can share them.
 *
 * @module
 */

export const MICROS_PER_DAY = 86_400_000_000;
const MICROS_PER_SECOND = 1_000_000;
const SECONDS_PER_DAY = 86_400;
/** Beyond this many seconds from the epoch, microseconds no longer fit a double exactly (2^53 µs ≈ 285 years). */
const SAFE_SECONDS = 9_007_199_254;

/** Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

/** `YYYY-MM-DD` of a day number (years outside 0..9999 get a sign and more digits, as ISO 8601 extends them). */
export function formatDate(days: number): string {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365);
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const mp = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  const yearText = year >= 0 && year <= 9999 ? String(year).padStart(4, '0') : (year < 0 ? '-' : '+') + String(Math.abs(year)).padStart(6, '0');
  return `${yearText}-${month < 10 ? '0' : ''}${month}-${day < 10 ? '0' : ''}${day}`;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function isLeap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

function validDay(year: number, month: number, day: number): boolean {
  if (month < 1 || month > 12 || day < 1) return false;
  const last = month === 2 && isLeap(year) ? 29 : DAYS_IN_MONTH[month - 1]!;
  return day <= last;
}

function digit(text: string, index: number): number {
  const code = text.charCodeAt(index) - 48;
  return code >= 0 && code <= 9 ? code : -1000_000;
}

/** Day number of a `YYYY-MM-DD` string, or `undefined` when it is not one (or names no real day). */
export function parseDate(text: string): number | undefined {
  if (text.length !== 10 || text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45) return undefined;
  const year = digit(text, 0) * 1000 + digit(text, 1) * 100 + digit(text, 2) * 10 + digit(text, 3);
  const month = digit(text, 5) * 10 + digit(text, 6);
  const day = digit(text, 8) * 10 + digit(text, 9);
  if (year < 0 || !validDay(year, month, day)) return undefined;
  return daysFromCivil(year, month, day);
}

/** Microseconds of `.f…` fraction digits (more than 6 are truncated: Iceberg keeps microseconds). */
function fractionMicros(fraction: string | undefined): number {
  if (fraction === undefined || fraction === '') return 0;
  return Number((fraction.length >= 6 ? fraction.slice(0, 6) : fraction.padEnd(6, '0')));
}

const TIME = /^(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?$/;

/** Microseconds of the day of `HH:MM:SS[.ffffff]`, or `undefined` when the text is not a valid time. */
export function parseTime(text: string): number | undefined {
  const match = TIME.exec(text);
  if (!match) return undefined;
  const hours = Number(match[1]);
  const minutes = Number(match[2]);
  const seconds = Number(match[3]);
  if (hours > 23 || minutes > 59 || seconds > 59) return undefined;
  return (hours * 3600 + minutes * 60 + seconds) * MICROS_PER_SECOND + fractionMicros(match[4]);
}

/** `HH:MM:SS.ffffff` of microseconds of the day. */
export function formatTime(micros: number): string {
  const seconds = Math.floor(micros / MICROS_PER_SECOND);
  const fraction = micros - seconds * MICROS_PER_SECOND;
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  return `${two(hours)}:${two(minutes)}:${two(seconds % 60)}.${String(fraction).padStart(6, '0')}`;
}

function two(value: number): string {
  return value < 10 ? `0${value}` : String(value);
}

const TIMESTAMP = /^([+-]\d{6}|\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

/**
 * Microseconds since the epoch of an ISO-8601 date-time (`2024-05-01T12:30:00.123456Z`, offset or `Z` optional; no
 * zone means UTC; a bare date is its midnight; digits beyond microseconds are truncated), as a number when exact and a
 * bigint otherwise; `undefined` when the text is not such a date-time.
 */
export function parseTimestamp(text: string): number | bigint | undefined {
  const match = TIMESTAMP.exec(text);
  if (!match) return undefined;
  const year = Number(match[1]);
  const month = Number(match[2]);
  const day = Number(match[3]);
  const hours = match[4] === undefined ? 0 : Number(match[4]);
  const minutes = match[5] === undefined ? 0 : Number(match[5]);
  const secs = match[6] === undefined ? 0 : Number(match[6]);
  if (!validDay(year, month, day) || hours > 23 || minutes > 59 || secs > 59) return undefined;
  let offsetSeconds = 0;
  const zone = match[8];
  if (zone !== undefined && zone !== 'Z' && zone !== 'z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const offsetHours = Number(digits.slice(0, 2));
    const offsetMinutes = digits.length > 2 ? Number(digits.slice(2, 4)) : 0;
    if (offsetHours > 23 || offsetMinutes > 59) return undefined;
    offsetSeconds = sign * (offsetHours * 3600 + offsetMinutes * 60);
  }
  const seconds = daysFromCivil(year, month, day) * SECONDS_PER_DAY + hours * 3600 + minutes * 60 + secs - offsetSeconds;
  return secondsToMicros(seconds, fractionMicros(match[7]));
}

/** `seconds * 1e6 + micros`, exact: a number when it fits a double exactly, else a bigint. */
export function secondsToMicros(seconds: number, micros: number): number | bigint {
  if (seconds < SAFE_SECONDS && seconds > -SAFE_SECONDS) return seconds * MICROS_PER_SECOND + micros;
  return BigInt(seconds) * 1_000_000n + BigInt(micros);
}

/** Microseconds since the epoch of a `Date` (exact: a bigint when a double cannot hold it), or `undefined` if invalid. */
export function dateToMicros(date: Date): number | bigint | undefined {
  const millis = date.getTime();
  if (Number.isNaN(millis)) return undefined;
  const micros = millis * 1000;
  return Number.isSafeInteger(micros) ? micros : BigInt(millis) * 1000n;
}

/** A `Date` of microseconds since the epoch (rounded down to the millisecond). */
export function microsToDate(micros: bigint): Date {
  const millis = micros >= 0n ? micros / 1000n : -((-micros + 999n) / 1000n);
  return new Date(Number(millis));
}

const HEX = '0123456789abcdef';

/** The 16 bytes of a canonical `8-4-4-4-12` UUID string, written at `offset`; `false` when the text is not one. */
export function writeUuid(text: string, out: Uint8Array, offset: number): boolean {
  if (text.length !== 36) return false;
  let byte = 0;
  for (let index = 0; index < 36; ) {
    if (index === 8 || index === 13 || index === 18 || index === 23) {
      if (text.charCodeAt(index) !== 45) return false;
      index++;
      continue;
    }
    const high = hexValue(text.charCodeAt(index));
    const low = hexValue(text.charCodeAt(index + 1));
    if (high < 0 || low < 0) return false;
    out[offset + byte++] = (high << 4) | low;
    index += 2;
  }
  return true;
}

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 97 && code <= 102) return code - 87;
  if (code >= 65 && code <= 70) return code - 55;
  return -1;
}

/** Canonical lower-case UUID string of 16 bytes at `offset`. */
export function formatUuid(bytes: Uint8Array, offset = 0): string {
  let text = '';
  for (let index = 0; index < 16; index++) {
    if (index === 4 || index === 6 || index === 8 || index === 10) text += '-';
    const byte = bytes[offset + index]!;
    text += HEX[byte >> 4]! + HEX[byte & 15]!;
  }
  return text;
}

/** Why a decimal value does not fit, or the unscaled value (a number when exact in a double, else a bigint). */
export type DecimalParse = { readonly unscaled: number | bigint } | { readonly problem: string };

const DECIMAL_TEXT = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/**
 * The unscaled value of a decimal string at `scale` (`"12.3"` at scale 2 is 1230), checked against `precision`.
 * Digits beyond the scale are accepted only when they are zeros: rounding money silently is not ours to decide.
 */
export function parseDecimal(text: string, precision: number, scale: number): DecimalParse {
  const match = DECIMAL_TEXT.exec(text);
  if (!match || (match[2] === '' && (match[3] === undefined || match[3] === ''))) return { problem: 'is not a decimal number' };
  const negative = match[1] === '-';
  let integerDigits = match[2]!;
  let fractionDigits = match[3] ?? '';
  if (match[4] !== undefined) {
    // Move the point by the exponent so the digits read as plain notation.
    const exponent = Number(match[4]);
    if (Math.abs(exponent) > 400) return { problem: 'has an exponent out of range' };
    const all = integerDigits + fractionDigits;
    const point = integerDigits.length + exponent;
    if (point <= 0) {
      integerDigits = '';
      fractionDigits = '0'.repeat(-point) + all;
    } else if (point >= all.length) {
      integerDigits = all + '0'.repeat(point - all.length);
      fractionDigits = '';
    } else {
      integerDigits = all.slice(0, point);
      fractionDigits = all.slice(point);
    }
  }
  if (fractionDigits.length > scale) {
    const extra = fractionDigits.slice(scale);
    if (!/^0*$/.test(extra)) return { problem: `has ${trimZeros(fractionDigits).length} decimal places, more than the scale ${scale}` };
    fractionDigits = fractionDigits.slice(0, scale);
  }
  const digits = (integerDigits + fractionDigits.padEnd(scale, '0')).replace(/^0+/, '');
  if (digits.length > precision) return { problem: `has ${digits.length} significant digits, more than the precision ${precision}` };
  if (digits === '') return { unscaled: 0 };
  if (digits.length <= 15) {
    const value = Number(digits);
    return { unscaled: negative ? -value : value };
  }
  const value = BigInt(digits);
  return { unscaled: negative ? -value : value };
}

function trimZeros(fraction: string): string {
  return fraction.replace(/0+$/, '');
}

/** Decimal text with exactly `scale` decimals of an unscaled value. */
export function formatDecimal(unscaled: bigint, scale: number): string {
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString();
  if (scale === 0) return (negative ? '-' : '') + digits;
  const padded = digits.padStart(scale + 1, '0');
  return `${negative ? '-' : ''}${padded.slice(0, -scale)}.${padded.slice(-scale)}`;
}

/** Reads a little-endian two's-complement 128-bit integer of four 32-bit words. */
export function readInt128(words: Uint32Array, offset: number): bigint {
  const w0 = words[offset]!;
  const w1 = words[offset + 1]!;
  const w2 = words[offset + 2]!;
  const w3 = words[offset + 3]!;
  // Fast path: the value fits in 53 bits (w2 and w3 are pure sign extension).
  if (w3 === 0 && w2 === 0 && w1 < 0x200000) return BigInt(w1 * 4_294_967_296 + w0);
  if (w3 === 0xffffffff && w2 === 0xffffffff && w1 >= 0xffe00000) return BigInt((w1 - 4_294_967_296) * 4_294_967_296 + w0);
  const unsigned = (BigInt(w3) << 96n) | (BigInt(w2) << 64n) | (BigInt(w1) << 32n) | BigInt(w0);
  return BigInt.asIntN(128, unsigned);
}

/** Writes an integer as little-endian two's-complement 128 bits (four 32-bit words). */
export function writeInt128(value: number | bigint, words: Uint32Array, offset: number): void {
  if (typeof value === 'number') {
    const high = Math.floor(value / 4_294_967_296);
    words[offset] = value - high * 4_294_967_296;
    words[offset + 1] = high;
    const sign = value < 0 ? 0xffffffff : 0;
    words[offset + 2] = sign;
    words[offset + 3] = sign;
    return;
  }
  const unsigned = BigInt.asUintN(128, value);
  words[offset] = Number(unsigned & 0xffffffffn);
  words[offset + 1] = Number((unsigned >> 32n) & 0xffffffffn);
  words[offset + 2] = Number((unsigned >> 64n) & 0xffffffffn);
  words[offset + 3] = Number(unsigned >> 96n);
}
