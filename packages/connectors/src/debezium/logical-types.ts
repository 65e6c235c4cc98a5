/**
 * Exact conversions of Debezium / Kafka Connect logical values to their JavaScript representations.
 * Every function throws `RangeError` or `TypeError` for a value it cannot represent; the converter turns that into a
 * `DEBEZIUM_SCHEMA_MISMATCH` naming the column.
 * @module
 */

/** Two's-complement big-endian bytes (Java's `BigInteger.toByteArray()`) as an integer. */
export function twosComplementToBigInt(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n;
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  if ((bytes[0]! & 0x80) !== 0) value -= 1n << BigInt(bytes.length * 8);
  return value;
}

/**
 * `unscaled × 10^-scale` as an exact decimal string that keeps the scale's digits: `(123450n, 2)` -> `"1234.50"`,
 * `(-5n, 2)` -> `"-0.05"`, `(12n, -3)` -> `"12000"`.
 */
export function formatDecimal(unscaled: bigint, scale: number): string {
  if (!Number.isInteger(scale)) throw new RangeError(`decimal scale must be an integer, got ${scale}`);
  const negative = unscaled < 0n;
  let digits = (negative ? -unscaled : unscaled).toString();
  const sign = negative ? '-' : '';
  if (scale <= 0) return digits === '0' ? '0' : sign + digits + '0'.repeat(-scale);
  if (digits.length <= scale) digits = '0'.repeat(scale - digits.length + 1) + digits;
  const point = digits.length - scale;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/**
 * A decimal that JsonConverter wrote as a JSON number (`decimal.format=NUMERIC`) as a string with `scale` digits. Exact
 * for integers (`bigint`) and for numbers with at most 15 significant digits; beyond that the digits were already lost
 * when the JSON was parsed (use the default `decimal.format=BASE64`).
 */
export function formatNumericDecimal(value: number | bigint, scale: number): string {
  if (typeof value === 'bigint') return formatDecimal(value * 10n ** BigInt(Math.max(scale, 0)), Math.max(scale, 0));
  if (!Number.isFinite(value)) throw new RangeError(`a decimal must be finite, got ${value}`);
  if (scale <= 0) return BigInt(Math.round(value)).toString();
  if (Math.abs(value) < 1e21 && scale <= 100) return value.toFixed(scale);
  throw new RangeError(`a decimal of magnitude ${Math.abs(value) >= 1e21 ? '>= 1e21' : '< 1e21'} cannot be written exactly with scale ${scale}`);
}

const msPerDay = 86_400_000;

/** Days since 1970-01-01 as an ISO-8601 date, `YYYY-MM-DD` (years beyond 0000-9999 in ISO extended form, `+YYYYYY`). */
export function formatEpochDay(days: number): string {
  if (!Number.isInteger(days)) throw new RangeError('a date must be a whole number of days');
  const iso = new Date(days * msPerDay).toISOString();
  return iso.slice(0, iso.indexOf('T'));
}

const pad = (value: number | bigint, width: number): string => value.toString().padStart(width, '0');

/**
 * A time of day given in `unitsPerSecond` (1_000, 1_000_000 or 1_000_000_000) since midnight, as `HH:MM:SS.fff…` with
 * exactly as many fraction digits as the unit has (3, 6, 9). Hours may exceed 23 and the value may be negative: MySQL's
 * `TIME` is a duration (-838:59:59 to 838:59:59) that Debezium writes through the same types.
 */
export function formatTimeOfDay(value: number | bigint, unitsPerSecond: number): string {
  const digits = unitsPerSecond === 1_000 ? 3 : unitsPerSecond === 1_000_000 ? 6 : 9;
  if (typeof value === 'number' && !Number.isSafeInteger(value)) throw new RangeError('a time must be an integer within ±2^53');
  const big = BigInt(value);
  const negative = big < 0n;
  const magnitude = negative ? -big : big;
  const units = BigInt(unitsPerSecond);
  const fraction = magnitude % units;
  const seconds = magnitude / units;
  const hours = seconds / 3600n;
  const minutes = (seconds / 60n) % 60n;
  return `${negative ? '-' : ''}${pad(hours, 2)}:${pad(minutes, 2)}:${pad(seconds % 60n, 2)}.${pad(fraction, digits)}`;
}

/**
 * A point in time given in `unitsPerMilli` (1, 1_000 or 1_000_000) since the epoch, as an ISO-8601 UTC string with
 * exactly 3, 6 or 9 fraction digits: `1709296496123456` micros -> `"2024-03-01T12:34:56.123456Z"`.
 */
export function formatEpochTimestamp(value: number | bigint, unitsPerMilli: number): string {
  if (typeof value === 'number' && !Number.isSafeInteger(value)) throw new RangeError('a timestamp must be an integer within ±2^53');
  if (unitsPerMilli === 1) return new Date(Number(value)).toISOString();
  const big = BigInt(value);
  const per = BigInt(unitsPerMilli);
  let millis = big / per;
  let rest = big % per;
  if (rest < 0n) {
    rest += per;
    millis -= 1n;
  }
  const iso = new Date(Number(millis)).toISOString();
  return `${iso.slice(0, -1)}${pad(rest, unitsPerMilli === 1_000 ? 3 : 6)}Z`;
}
