/**
 * The value forms of the spec layer and conversions between them.
 *
 * Three forms meet here:
 *
 * - **Row values** (see `schema/types.ts`): what writers accept and readers return. Every function of the spec layer
 *   accepts any of them, and the two forms below, as input.
 * - **Literals** ({@link Literal}): one canonical form per type. Transforms, partition tuples and bound expressions
 *   hand values out in this form, which is also what Avro manifests store (after bytes for uuid and decimal):
 *
 *   | type | literal |
 *   |---|---|
 *   | `boolean` | `boolean` |
 *   | `int` | `number` |
 *   | `long` | `bigint` |
 *   | `float`, `double` | `number` (`float` rounded to 32 bits) |
 *   | `decimal(P, S)` | `bigint`, the unscaled value (also accepted: its two's-complement big-endian bytes) |
 *   | `date` | `number`, days since 1970-01-01 |
 *   | `time` | `bigint`, microseconds of the day |
 *   | `timestamp`, `timestamptz` | `bigint`, microseconds since the epoch (UTC) |
 *   | `string` | `string` |
 *   | `uuid` | `string`, lowercase 8-4-4-4-12 (also accepted: its 16 bytes) |
 *   | `binary`, `fixed[L]` | `Uint8Array` |
 *
 * - **Spec values**: what `deserializeValue` hands bounds out as, matching `ColumnMetrics`: the row values readers
 *   return, except `time`, `timestamp` and `timestamptz`, which stay `bigint` microseconds so no precision is lost.
 *   So `decimal` is a string with exactly S decimals, `date` a `YYYY-MM-DD` string, `long` a bigint.
 *
 * @module
 */
import { LakehouseError } from '../errors.js';
import { decimalOf, fixedLengthOf } from '../schema/schema-utils.js';
import type { PrimitiveType } from '../schema/types.js';

/**
 * The canonical JavaScript form of a primitive value (see the module doc for the form per type).
 *
 * @example
 * ```ts
 * const day: Literal = toLiteral('date', '2024-03-05'); // 19787
 * ```
 */
export type Literal = boolean | number | bigint | string | Uint8Array;

const INT_MIN = -(2 ** 31);
const INT_MAX = 2 ** 31 - 1;
const LONG_MIN = -(2n ** 63n);
const LONG_MAX = 2n ** 63n - 1n;
const MICROS_PER_DAY = 86_400_000_000n;
const MS_PER_DAY = 86_400_000;

function describe(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  if (value instanceof Date) return `Date(${Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString()})`;
  if (value instanceof Uint8Array) return `Uint8Array(${value.length})`;
  if (value === null) return 'null';
  if (typeof value === 'object') return (value.constructor as { name?: string } | undefined)?.name ?? 'object';
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'symbol' || value === undefined) return String(value);
  return typeof value;
}

/**
 * Throws the error every conversion here uses: which value, for which column and type, and what would be accepted.
 */
function invalid(type: PrimitiveType, value: unknown, column: string | undefined, accepted: string, why?: string): never {
  const where = column === undefined ? '' : ` for column "${column}"`;
  throw new LakehouseError(
    'INVALID_VALUE',
    `Value ${describe(value)}${where} is not a valid ${type}${why === undefined ? '' : ` (${why})`}; pass ${accepted}.`,
  );
}

// ---------------------------------------------------------------------------------------------------------------------
// Dates and times

function utcMillis(year: number, month: number, day: number): number {
  // Date.UTC maps years 0-99 to 1900-1999; setUTCFullYear does not.
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  return date.getTime();
}

function parseYear(text: string): number {
  return Number(text);
}

const DATE_PATTERN = /^([+-]\d{6}|\d{4})-(\d{2})-(\d{2})$/;

/**
 * Days since 1970-01-01 of an ISO `YYYY-MM-DD` date, or `undefined` when the text is not a real calendar date.
 *
 * @example
 * ```ts
 * daysFromDateString('2017-11-16'); // 17486
 * ```
 */
export function daysFromDateString(text: string): number | undefined {
  const match = DATE_PATTERN.exec(text);
  if (match === null) return undefined;
  const year = parseYear(match[1]!);
  const month = Number(match[2]);
  const day = Number(match[3]);
  const millis = utcMillis(year, month, day);
  const check = new Date(millis);
  if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day) return undefined;
  return millis / MS_PER_DAY;
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}

function formatYear(year: number): string {
  if (year >= 0 && year <= 9999) return pad(year, 4);
  return `${year < 0 ? '-' : '+'}${pad(Math.abs(year), 6)}`;
}

/**
 * The ISO `YYYY-MM-DD` date of a day count since 1970-01-01.
 *
 * @example
 * ```ts
 * dateStringFromDays(17486); // '2017-11-16'
 * ```
 */
export function dateStringFromDays(days: number): string {
  const date = new Date(days * MS_PER_DAY);
  return `${formatYear(date.getUTCFullYear())}-${pad(date.getUTCMonth() + 1, 2)}-${pad(date.getUTCDate(), 2)}`;
}

const TIME_PATTERN = /^(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?$/;

function fractionMicros(fraction: string | undefined): bigint {
  if (fraction === undefined || fraction === '') return 0n;
  // Digits beyond microseconds are dropped: the fraction is positive, so dropping floors the instant.
  return BigInt(fraction.slice(0, 6).padEnd(6, '0'));
}

/**
 * Microseconds of the day of an ISO `HH:MM[:SS[.ffffff]]` time, or `undefined` when the text is not a time of day.
 *
 * @example
 * ```ts
 * timeMicrosFromString('22:31:08'); // 81068000000n
 * ```
 */
export function timeMicrosFromString(text: string): bigint | undefined {
  const match = TIME_PATTERN.exec(text);
  if (match === null) return undefined;
  const hours = Number(match[1]);
  const minutes = Number(match[2]);
  const seconds = Number(match[3] ?? '0');
  if (hours > 23 || minutes > 59 || seconds > 59) return undefined;
  return BigInt((hours * 60 + minutes) * 60 + seconds) * 1_000_000n + fractionMicros(match[4]);
}

function formatClock(micros: bigint): string {
  const seconds = Number(micros / 1_000_000n);
  const fraction = micros % 1_000_000n;
  return `${pad(Math.floor(seconds / 3600), 2)}:${pad(Math.floor(seconds / 60) % 60, 2)}:${pad(seconds % 60, 2)}.${String(fraction).padStart(6, '0')}`;
}

/**
 * The ISO `HH:MM:SS.ffffff` form of microseconds of the day.
 *
 * @example
 * ```ts
 * timeStringFromMicros(81068000000n); // '22:31:08.000000'
 * ```
 */
export function timeStringFromMicros(micros: bigint): string {
  return formatClock(micros);
}

const TIMESTAMP_PATTERN =
  /^([+-]\d{6}|\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

/**
 * Microseconds since the epoch of an ISO-8601 date-time (`2017-11-16T22:31:08.000001`, optional `Z` or `±HH:MM`
 * offset; without one the text is read as UTC), or `undefined` when it is not one. Digits beyond microseconds are
 * dropped.
 *
 * @example
 * ```ts
 * timestampMicrosFromString('2017-11-16T14:31:08-08:00'); // 1510871468000000n
 * ```
 */
export function timestampMicrosFromString(text: string): bigint | undefined {
  const match = TIMESTAMP_PATTERN.exec(text.trim());
  if (match === null) return undefined;
  const days = daysFromDateString(`${match[1]!}-${match[2]!}-${match[3]!}`);
  if (days === undefined) return undefined;
  const hours = Number(match[4] ?? '0');
  const minutes = Number(match[5] ?? '0');
  const seconds = Number(match[6] ?? '0');
  if (hours > 23 || minutes > 59 || seconds > 59) return undefined;
  let offsetMinutes = 0;
  const zone = match[8];
  if (zone !== undefined && zone !== 'Z' && zone !== 'z') {
    const digits = zone.slice(1).replace(':', '');
    const offsetHours = Number(digits.slice(0, 2));
    const offsetMins = Number(digits.slice(2) || '0');
    if (offsetHours > 18 || offsetMins > 59) return undefined;
    offsetMinutes = (zone.startsWith('-') ? -1 : 1) * (offsetHours * 60 + offsetMins);
  }
  const secondsOfDay = (hours * 60 + minutes - offsetMinutes) * 60 + seconds;
  return BigInt(days) * MICROS_PER_DAY + BigInt(secondsOfDay) * 1_000_000n + fractionMicros(match[7]);
}

function floorDiv(value: bigint, divisor: bigint): bigint {
  const quotient = value / divisor;
  return value % divisor < 0n ? quotient - 1n : quotient;
}

/**
 * Days since 1970-01-01 (rounded down) of microseconds since the epoch.
 *
 * @example
 * ```ts
 * daysFromMicros(-1n); // -1
 * ```
 */
export function daysFromMicros(micros: bigint): number {
  return Number(floorDiv(micros, MICROS_PER_DAY));
}

/**
 * The ISO-8601 form `YYYY-MM-DDTHH:MM:SS.ffffff` of microseconds since the epoch, with `+00:00` appended when `withZone`.
 *
 * @example
 * ```ts
 * timestampStringFromMicros(1510871468000001n, true); // '2017-11-16T22:31:08.000001+00:00'
 * ```
 */
export function timestampStringFromMicros(micros: bigint, withZone: boolean): string {
  const days = floorDiv(micros, MICROS_PER_DAY);
  const text = `${dateStringFromDays(Number(days))}T${formatClock(micros - days * MICROS_PER_DAY)}`;
  return withZone ? `${text}+00:00` : text;
}

// ---------------------------------------------------------------------------------------------------------------------
// Decimals

const DECIMAL_TEXT = /^([+-])?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/**
 * The unscaled value of a decimal written as text (`"12.3"`, `"-0.05"`, `"1.5e3"`) at `scale`, or `undefined` when the
 * text is not a number or has more significant decimal places than `scale` (it is never rounded).
 *
 * @example
 * ```ts
 * unscaledFromDecimalString('12.3', 2); // 1230n
 * ```
 */
export function unscaledFromDecimalString(text: string, scale: number): bigint | undefined {
  const match = DECIMAL_TEXT.exec(text.trim());
  if (match === null) return undefined;
  const whole = match[2] ?? '';
  const fraction = match[3] ?? '';
  if (whole === '' && fraction === '') return undefined;
  const exponent = Number(match[4] ?? '0');
  let digits = BigInt(`${whole}${fraction}` || '0');
  // The text's own scale: digits after the point, moved by the exponent.
  const textScale = fraction.length - exponent;
  if (textScale <= scale) {
    digits *= 10n ** BigInt(scale - textScale);
  } else {
    const divisor = 10n ** BigInt(textScale - scale);
    if (digits % divisor !== 0n) return undefined;
    digits /= divisor;
  }
  return match[1] === '-' ? -digits : digits;
}

/**
 * The text of a decimal with exactly `scale` decimal places.
 *
 * @example
 * ```ts
 * decimalStringFromUnscaled(-5n, 2); // '-0.05'
 * ```
 */
export function decimalStringFromUnscaled(unscaled: bigint, scale: number): string {
  const negative = unscaled < 0n;
  const digits = String(negative ? -unscaled : unscaled).padStart(scale + 1, '0');
  const text = scale === 0 ? digits : `${digits.slice(0, digits.length - scale)}.${digits.slice(digits.length - scale)}`;
  return negative ? `-${text}` : text;
}

/**
 * Minimum-length two's-complement big-endian bytes of an integer (as Java's `BigInteger.toByteArray`): the form
 * Iceberg hashes and stores decimal bounds in.
 *
 * @example
 * ```ts
 * minimalBigEndianBytes(1420n); // Uint8Array [0x05, 0x8c]
 * ```
 */
export function minimalBigEndianBytes(value: bigint): Uint8Array {
  let length = 1;
  while (value < -(1n << BigInt(8 * length - 1)) || value >= 1n << BigInt(8 * length - 1)) length++;
  return bigEndianBytes(value, length);
}

/**
 * Two's-complement big-endian bytes of an integer in exactly `length` bytes (sign-extended), as Avro and Parquet store
 * decimals in a `fixed` of `decimalRequiredBytes(P)` bytes.
 *
 * @example
 * ```ts
 * bigEndianBytes(-1n, 4); // Uint8Array [0xff, 0xff, 0xff, 0xff]
 * ```
 */
export function bigEndianBytes(value: bigint, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let rest = BigInt.asUintN(8 * length, value);
  for (let index = length - 1; index >= 0; index--) {
    bytes[index] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  return bytes;
}

/**
 * The integer held in two's-complement big-endian bytes.
 *
 * @example
 * ```ts
 * integerFromBigEndianBytes(Uint8Array.of(0xff, 0x38)); // -200n
 * ```
 */
export function integerFromBigEndianBytes(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n;
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return BigInt.asIntN(8 * bytes.length, value);
}

// ---------------------------------------------------------------------------------------------------------------------
// UUIDs

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The 16 big-endian bytes of a canonical UUID string.
 *
 * @example
 * ```ts
 * uuidToBytes('f79c3e09-677c-4bbd-a479-3f349cb785e7')[0]; // 0xf7
 * ```
 */
export function uuidToBytes(uuid: string): Uint8Array {
  if (!UUID_PATTERN.test(uuid)) {
    throw new LakehouseError('INVALID_VALUE', `Value ${describe(uuid)} is not a UUID; pass the canonical 8-4-4-4-12 hexadecimal form.`);
  }
  const hex = uuid.replaceAll('-', '');
  const bytes = new Uint8Array(16);
  for (let index = 0; index < 16; index++) bytes[index] = Number.parseInt(hex.slice(index * 2, index * 2 + 2), 16);
  return bytes;
}

/**
 * The lowercase canonical string of 16 UUID bytes.
 *
 * @example
 * ```ts
 * uuidFromBytes(uuidToBytes('F79C3E09-677C-4BBD-A479-3F349CB785E7')); // 'f79c3e09-677c-4bbd-a479-3f349cb785e7'
 * ```
 */
export function uuidFromBytes(bytes: Uint8Array): string {
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

// ---------------------------------------------------------------------------------------------------------------------
// Row value -> literal

function toLong(type: PrimitiveType, value: unknown, column: string | undefined, accepted: string): bigint {
  let result: bigint;
  if (typeof value === 'bigint') result = value;
  else if (typeof value === 'number' && Number.isSafeInteger(value)) result = BigInt(value);
  else if (typeof value === 'string' && /^[+-]?\d+$/.test(value.trim())) result = BigInt(value.trim());
  else return invalid(type, value, column, accepted);
  if (result < LONG_MIN || result > LONG_MAX) invalid(type, value, column, accepted, 'outside the 64-bit range');
  return result;
}

/**
 * Converts a row value (any form `schema/types.ts` lists for `type`, a spec value, or a literal) to the canonical
 * {@link Literal} of `type`. Throws a `LakehouseError` of code `INVALID_VALUE` naming the value, the column and the
 * accepted forms. `null` and `undefined` are not values; callers handle them first.
 *
 * @example
 * ```ts
 * toLiteral('decimal(9, 2)', '14.2'); // 1420n
 * toLiteral('timestamptz', new Date('2017-11-16T22:31:08Z')); // 1510871468000000n
 * ```
 */
export function toLiteral(type: PrimitiveType, value: unknown, column?: string): Literal {
  switch (type) {
    case 'boolean':
      if (typeof value === 'boolean') return value;
      return invalid(type, value, column, 'true or false');
    case 'int': {
      const accepted = 'a 32-bit integer number';
      let result: number;
      if (typeof value === 'number') result = value;
      else if (typeof value === 'bigint') result = Number(value);
      else return invalid(type, value, column, accepted);
      if (!Number.isInteger(result)) invalid(type, value, column, accepted, 'not an integer');
      if (result < INT_MIN || result > INT_MAX) invalid(type, value, column, accepted, 'outside the 32-bit range; widen the column to long');
      return result === 0 ? 0 : result;
    }
    case 'long':
      return toLong(type, value, column, 'a bigint or a safe integer number');
    case 'float':
    case 'double':
      if (typeof value === 'number') return type === 'float' ? Math.fround(value) : value;
      return invalid(type, value, column, 'a number');
    case 'date': {
      const accepted = 'a YYYY-MM-DD string, a Date (its UTC day) or a number of days since 1970-01-01';
      if (typeof value === 'number') {
        if (Number.isInteger(value)) return value;
        return invalid(type, value, column, accepted, 'not a whole number of days');
      }
      if (typeof value === 'string') return daysFromDateString(value) ?? invalid(type, value, column, accepted);
      if (value instanceof Date) {
        const millis = value.getTime();
        if (Number.isNaN(millis)) return invalid(type, value, column, accepted);
        return Math.floor(millis / MS_PER_DAY);
      }
      return invalid(type, value, column, accepted);
    }
    case 'time': {
      const accepted = 'an HH:MM:SS[.ffffff] string or a bigint of microseconds of the day';
      let micros: bigint;
      if (typeof value === 'bigint') micros = value;
      else if (typeof value === 'number' && Number.isSafeInteger(value)) micros = BigInt(value);
      else if (typeof value === 'string') micros = timeMicrosFromString(value) ?? invalid(type, value, column, accepted);
      else return invalid(type, value, column, accepted);
      if (micros < 0n || micros >= MICROS_PER_DAY) invalid(type, value, column, accepted, 'not within one day');
      return micros;
    }
    case 'timestamp':
    case 'timestamptz': {
      const accepted = 'a Date, an ISO-8601 string or a bigint of microseconds since the epoch';
      let micros: bigint;
      if (typeof value === 'bigint') micros = value;
      else if (value instanceof Date) {
        const millis = value.getTime();
        if (Number.isNaN(millis)) return invalid(type, value, column, accepted);
        micros = BigInt(millis) * 1000n;
      } else if (typeof value === 'string') micros = timestampMicrosFromString(value) ?? invalid(type, value, column, accepted);
      else if (typeof value === 'number') {
        return invalid(type, value, column, accepted, 'a number is ambiguous between milliseconds and microseconds');
      } else return invalid(type, value, column, accepted);
      if (micros < LONG_MIN || micros > LONG_MAX) invalid(type, value, column, accepted, 'outside the 64-bit range');
      return micros;
    }
    case 'string':
      if (typeof value === 'string') return value;
      return invalid(type, value, column, 'a string');
    case 'uuid': {
      const accepted = 'a UUID string (8-4-4-4-12 hexadecimal) or its 16 bytes';
      if (typeof value === 'string') {
        if (UUID_PATTERN.test(value)) return value.toLowerCase();
        return invalid(type, value, column, accepted);
      }
      if (value instanceof Uint8Array && value.length === 16) return uuidFromBytes(value);
      return invalid(type, value, column, accepted);
    }
    case 'binary':
      if (value instanceof Uint8Array) return value;
      if (value instanceof ArrayBuffer) return new Uint8Array(value);
      return invalid(type, value, column, 'a Uint8Array');
    default:
      return toParameterizedLiteral(type, value, column);
  }
}

function toParameterizedLiteral(type: PrimitiveType, value: unknown, column: string | undefined): Literal {
  const decimal = decimalOf(type);
  if (decimal !== undefined) {
    const accepted = `a decimal string with at most ${decimal.scale} decimal places, a number, or a bigint of the unscaled value`;
    let unscaled: bigint;
    if (typeof value === 'bigint') unscaled = value;
    // Avro and Parquet store decimals as two's-complement big-endian bytes; manifests hand partition values back so.
    else if (value instanceof Uint8Array && value.length > 0) unscaled = integerFromBigEndianBytes(value);
    else if (typeof value === 'string') unscaled = unscaledFromDecimalString(value, decimal.scale) ?? invalid(type, value, column, accepted);
    else if (typeof value === 'number') {
      // String() yields the shortest text that reads back as the same double, so 0.1 stays "0.1", not 0.1000000000000000055.
      if (!Number.isFinite(value)) return invalid(type, value, column, accepted, 'not finite');
      unscaled = unscaledFromDecimalString(String(value), decimal.scale) ?? invalid(type, value, column, accepted, `more than ${decimal.scale} decimal places`);
    } else return invalid(type, value, column, accepted);
    const limit = 10n ** BigInt(decimal.precision);
    if (unscaled <= -limit || unscaled >= limit) invalid(type, value, column, accepted, `more than ${decimal.precision} digits`);
    return unscaled;
  }
  const length = fixedLengthOf(type);
  if (length !== undefined) {
    const accepted = `a Uint8Array of exactly ${length} bytes`;
    const bytes = value instanceof Uint8Array ? value : value instanceof ArrayBuffer ? new Uint8Array(value) : invalid(type, value, column, accepted);
    if (bytes.length !== length) invalid(type, value, column, accepted, `${bytes.length} bytes`);
    return bytes;
  }
  throw new LakehouseError('INVALID_SCHEMA', `Unknown Iceberg primitive type ${JSON.stringify(type)}${column === undefined ? '' : ` of column "${column}"`}.`);
}

/**
 * Converts a literal back to the spec-value form (see the module doc): `decimal` as text, `date` as `YYYY-MM-DD`, time
 * and timestamps as bigint microseconds, everything else as its literal.
 *
 * @example
 * ```ts
 * fromLiteral('decimal(9, 2)', 1420n); // '14.20'
 * fromLiteral('date', 17486); // '2017-11-16'
 * ```
 */
export function fromLiteral(type: PrimitiveType, literal: Literal): unknown {
  if (type === 'date' && typeof literal === 'number') return dateStringFromDays(literal);
  const decimal = decimalOf(type);
  if (decimal !== undefined && typeof literal === 'bigint') return decimalStringFromUnscaled(literal, decimal.scale);
  return literal;
}

/**
 * Converts any accepted row value to the spec-value form of `type`: the form bounds and partition values use.
 *
 * @example
 * ```ts
 * toSpecValue('date', new Date('2024-03-05T13:00:00Z')); // '2024-03-05'
 * ```
 */
export function toSpecValue(type: PrimitiveType, value: unknown, column?: string): unknown {
  return fromLiteral(type, toLiteral(type, value, column));
}

// ---------------------------------------------------------------------------------------------------------------------
// Ordering

/**
 * Compares strings by Unicode code point, which is the order of their UTF-8 bytes and so the order Iceberg bounds use.
 * (JavaScript's `<` compares UTF-16 code units and puts U+10000.. before U+E000..U+FFFF.)
 *
 * @example
 * ```ts
 * compareStrings('\uFFFF', '\u{10000}'); // -1
 * ```
 */
export function compareStrings(left: string, right: string): number {
  const length = Math.min(left.length, right.length);
  for (let index = 0; index < length; index++) {
    const a = left.charCodeAt(index);
    const b = right.charCodeAt(index);
    if (a !== b) {
      // Surrogates (D800-DFFF) encode code points above FFFF, so they must sort after E000-FFFF: shift both ranges.
      const fixedA = a >= 0xd800 ? (a >= 0xe000 ? a - 0x800 : a + 0x2000) : a;
      const fixedB = b >= 0xd800 ? (b >= 0xe000 ? b - 0x800 : b + 0x2000) : b;
      return fixedA < fixedB ? -1 : 1;
    }
  }
  return left.length === right.length ? 0 : left.length < right.length ? -1 : 1;
}

/**
 * Compares byte arrays as unsigned bytes, lexicographically (shorter prefix first).
 *
 * @example
 * ```ts
 * compareBytes(Uint8Array.of(1), Uint8Array.of(1, 0)); // -1
 * ```
 */
export function compareBytes(left: Uint8Array, right: Uint8Array): number {
  const length = Math.min(left.length, right.length);
  for (let index = 0; index < length; index++) {
    const difference = left[index]! - right[index]!;
    if (difference !== 0) return difference < 0 ? -1 : 1;
  }
  return left.length === right.length ? 0 : left.length < right.length ? -1 : 1;
}

/**
 * Compares two literals of the same type: numbers and bigints numerically, strings by code point, bytes unsigned,
 * `false` before `true`. NaN compares equal to itself and above every number, as Iceberg orders floating point.
 *
 * @example
 * ```ts
 * compareLiterals(3n, 10n); // -1
 * ```
 */
export function compareLiterals(left: Literal, right: Literal): number {
  if (typeof left === 'number' && typeof right === 'number') {
    if (Number.isNaN(left) || Number.isNaN(right)) return Number.isNaN(left) ? (Number.isNaN(right) ? 0 : 1) : -1;
    return left < right ? -1 : left > right ? 1 : 0;
  }
  if (typeof left === 'bigint' && typeof right === 'bigint') return left < right ? -1 : left > right ? 1 : 0;
  if (typeof left === 'string' && typeof right === 'string') return compareStrings(left, right);
  if (left instanceof Uint8Array && right instanceof Uint8Array) return compareBytes(left, right);
  if (typeof left === 'boolean' && typeof right === 'boolean') return left === right ? 0 : left ? 1 : -1;
  throw new TypeError(`cannot compare ${describe(left)} with ${describe(right)}: literals of different types`);
}

/**
 * Whether two literals of the same type are equal (bytes by content).
 *
 * @example
 * ```ts
 * literalEquals(Uint8Array.of(1, 2), Uint8Array.of(1, 2)); // true
 * ```
 */
export function literalEquals(left: Literal, right: Literal): boolean {
  return compareLiterals(left, right) === 0;
}
