/**
 * Iceberg partition transforms (spec, "Partition Transforms"): parsing, applying them to values, the 32-bit Murmur3
 * hash behind `bucket[N]` (Appendix B), partition path strings, and the inclusive projection of column predicates onto
 * partition values that scan planning prunes with.
 *
 * @module
 */
import { LakehouseError } from '../errors.js';
import { decimalOf, fixedLengthOf } from '../schema/schema-utils.js';
import type { PrimitiveType } from '../schema/types.js';
import type { Literal } from './values.js';
import {
  compareLiterals,
  dateStringFromDays,
  daysFromMicros,
  decimalStringFromUnscaled,
  minimalBigEndianBytes,
  timeStringFromMicros,
  timestampStringFromMicros,
  toLiteral,
  uuidToBytes,
} from './values.js';

/**
 * A transform as written in partition specs and sort orders.
 *
 * @example
 * ```ts
 * const transform: TransformName = 'bucket[16]';
 * ```
 */
export type TransformName = 'identity' | 'year' | 'month' | 'day' | 'hour' | 'void' | `bucket[${number}]` | `truncate[${number}]`;

/**
 * A parsed transform.
 *
 * @example
 * ```ts
 * parseTransform('truncate[4]'); // { kind: 'truncate', width: 4 }
 * ```
 */
export type Transform =
  | {
      /** A transform without parameter. */
      readonly kind: 'identity' | 'year' | 'month' | 'day' | 'hour' | 'void';
    }
  | {
      /** `bucket[N]`: hash modulo N. */
      readonly kind: 'bucket';
      /** N, at least 1. */
      readonly buckets: number;
    }
  | {
      /** `truncate[W]`: integers rounded down to a multiple of W, strings and binary cut to W code points or bytes. */
      readonly kind: 'truncate';
      /** W, at least 1. */
      readonly width: number;
    };

const SIMPLE = new Set(['identity', 'year', 'month', 'day', 'hour', 'void']);
const PARAMETERIZED = /^(bucket|truncate)\[\s*(\d+)\s*\]$/;

/**
 * Parses a transform string. Unknown transforms (and `bucket[0]`, `truncate[0]`) throw a `LakehouseError` of code
 * `UNKNOWN_TRANSFORM`: writers must not write with them (spec, "Partitioning").
 *
 * @example
 * ```ts
 * parseTransform('bucket[16]'); // { kind: 'bucket', buckets: 16 }
 * ```
 */
export function parseTransform(text: string): Transform {
  const trimmed = text.trim().toLowerCase();
  if (SIMPLE.has(trimmed)) return { kind: trimmed as 'identity' };
  const match = PARAMETERIZED.exec(trimmed);
  if (match !== null) {
    const parameter = Number(match[2]);
    if (parameter > 0 && parameter <= 2_147_483_647) {
      return match[1] === 'bucket' ? { kind: 'bucket', buckets: parameter } : { kind: 'truncate', width: parameter };
    }
  }
  throw new LakehouseError(
    'UNKNOWN_TRANSFORM',
    `Unknown partition transform ${JSON.stringify(text)}; use identity, year, month, day, hour, void, bucket[N] or truncate[W] with N, W >= 1.`,
  );
}

/**
 * The string form of a transform, as partition specs and sort orders store it.
 *
 * @example
 * ```ts
 * formatTransform({ kind: 'bucket', buckets: 16 }); // 'bucket[16]'
 * ```
 */
export function formatTransform(transform: Transform): TransformName {
  if (transform.kind === 'bucket') return `bucket[${transform.buckets}]`;
  if (transform.kind === 'truncate') return `truncate[${transform.width}]`;
  return transform.kind;
}

function parsed(transform: string | Transform): Transform {
  return typeof transform === 'string' ? parseTransform(transform) : transform;
}

const TEMPORAL_SOURCES = new Set<PrimitiveType>(['date', 'timestamp', 'timestamptz']);
const BUCKET_SOURCES = new Set<PrimitiveType>(['int', 'long', 'date', 'time', 'timestamp', 'timestamptz', 'string', 'uuid', 'binary']);
const TRUNCATE_SOURCES = new Set<PrimitiveType>(['int', 'long', 'string', 'binary']);

/**
 * The type a transform produces from `sourceType`, or `undefined` when it does not apply to that type: `identity`,
 * `truncate` and `void` keep the source type, `bucket`, `year`, `month` and `hour` give `int`, `day` gives `date`.
 *
 * @example
 * ```ts
 * transformResultType('day', 'timestamptz'); // 'date'
 * transformResultType('hour', 'date'); // undefined
 * ```
 */
export function transformResultType(transform: string | Transform, sourceType: PrimitiveType): PrimitiveType | undefined {
  const t = parsed(transform);
  switch (t.kind) {
    case 'identity':
    case 'void':
      return sourceType;
    case 'bucket':
      return BUCKET_SOURCES.has(sourceType) || decimalOf(sourceType) !== undefined || fixedLengthOf(sourceType) !== undefined ? 'int' : undefined;
    case 'truncate':
      return TRUNCATE_SOURCES.has(sourceType) || decimalOf(sourceType) !== undefined ? sourceType : undefined;
    case 'year':
    case 'month':
      return TEMPORAL_SOURCES.has(sourceType) ? 'int' : undefined;
    case 'day':
      return TEMPORAL_SOURCES.has(sourceType) ? 'date' : undefined;
    case 'hour':
      return sourceType === 'timestamp' || sourceType === 'timestamptz' ? 'int' : undefined;
  }
}

/**
 * The result type of a transform on `sourceType`; throws a `LakehouseError` of code `INVALID_TRANSFORM` when the
 * transform does not apply to that type.
 *
 * @example
 * ```ts
 * requireResultType('bucket[16]', 'long'); // 'int'
 * ```
 */
export function requireResultType(transform: string | Transform, sourceType: PrimitiveType, column?: string): PrimitiveType {
  const t = parsed(transform);
  const resultType = transformResultType(t, sourceType);
  if (resultType !== undefined) return resultType;
  const allowed =
    t.kind === 'bucket'
      ? 'int, long, decimal, date, time, timestamp, timestamptz, string, uuid, fixed or binary'
      : t.kind === 'truncate'
        ? 'int, long, decimal, string or binary'
        : t.kind === 'hour'
          ? 'timestamp or timestamptz'
          : 'date, timestamp or timestamptz';
  throw new LakehouseError(
    'INVALID_TRANSFORM',
    `Transform ${formatTransform(t)} does not apply to ${column === undefined ? '' : `column "${column}" of type `}${sourceType}; it takes ${allowed} values.`,
  );
}

// ---------------------------------------------------------------------------------------------------------------------
// Murmur3

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/**
 * The 32-bit Murmur3 hash, x86 variant, of `bytes` as a signed 32-bit integer (as Java's `int`), seeded with 0 unless
 * given.
 *
 * @example
 * ```ts
 * murmur3Hash32(new TextEncoder().encode('iceberg')); // 1210000089
 * ```
 */
export function murmur3Hash32(bytes: Uint8Array, seed = 0): number {
  let hash = seed | 0;
  const blocks = bytes.length - (bytes.length % 4);
  for (let index = 0; index < blocks; index += 4) {
    hash = mixBlock(hash, bytes[index]! | (bytes[index + 1]! << 8) | (bytes[index + 2]! << 16) | (bytes[index + 3]! << 24));
  }
  const tail = bytes.length % 4;
  if (tail > 0) {
    let k = 0;
    if (tail === 3) k ^= bytes[blocks + 2]! << 16;
    if (tail >= 2) k ^= bytes[blocks + 1]! << 8;
    k ^= bytes[blocks]!;
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    hash ^= k;
  }
  hash ^= bytes.length;
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash | 0;
}

const encoder = new TextEncoder();

function mixBlock(hash: number, block: number): number {
  let k = Math.imul(block, C1);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, C2);
  hash ^= k;
  hash = (hash << 13) | (hash >>> 19);
  return (Math.imul(hash, 5) + 0xe6546b64) | 0;
}

/**
 * Murmur3 of a long's 8 little-endian bytes, from its low and high 32-bit halves: the same value as hashing the bytes,
 * without allocating them (bucketing runs once per row).
 */
function hashLongHalves(low: number, high: number): number {
  let hash = mixBlock(mixBlock(0, low), high);
  hash ^= 8;
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash | 0;
}

let scratch = new Uint8Array(256);

function hashString(text: string): number {
  // encodeInto a reused buffer: allocating a fresh array per value made string bucketing 4x slower.
  if (scratch.length < text.length * 3) scratch = new Uint8Array(text.length * 3);
  const { written } = encoder.encodeInto(text, scratch);
  return murmur3Hash32(scratch.subarray(0, written));
}

function hashInteger(value: number): number {
  // A 32-bit int sign-extends to a long: the high half is all ones for negatives.
  return hashLongHalves(value | 0, value < 0 ? -1 : 0);
}

function hashLong(value: bigint): number {
  return hashLongHalves(Number(BigInt.asIntN(32, value)), Number(BigInt.asIntN(32, value >> 32n)));
}

function hashLiteral(type: PrimitiveType, literal: Literal): number {
  switch (type) {
    // int and date hash as longs so that promoting int to long keeps bucket values (Appendix B, note 1).
    case 'int':
    case 'date':
      return hashInteger(literal as number);
    case 'long':
    case 'time':
    case 'timestamp':
    case 'timestamptz':
      return hashLong(literal as bigint);
    case 'string':
      return hashString(literal as string);
    case 'uuid':
      return murmur3Hash32(uuidToBytes(literal as string));
    case 'binary':
      return murmur3Hash32(literal as Uint8Array);
    default:
      if (decimalOf(type) !== undefined) return murmur3Hash32(minimalBigEndianBytes(literal as bigint));
      if (fixedLengthOf(type) !== undefined) return murmur3Hash32(literal as Uint8Array);
      throw new LakehouseError('INVALID_TRANSFORM', `Values of type ${type} cannot be bucketed; bucket int, long, decimal, date, time, timestamps, string, uuid, fixed or binary.`);
  }
}

/**
 * The Appendix B hash of one value of `type` (any accepted row value form): what `bucket[N]` reduces modulo N.
 *
 * @example
 * ```ts
 * bucketHash('long', 34n); // 2017239379
 * bucketHash('decimal(4, 2)', '14.20'); // -500754589
 * ```
 */
export function bucketHash(type: PrimitiveType, value: unknown): number {
  return hashLiteral(type, toLiteral(type, value));
}

// ---------------------------------------------------------------------------------------------------------------------
// Applying transforms

const MICROS_PER_HOUR = 3_600_000_000n;

function floorDiv(value: bigint, divisor: bigint): bigint {
  const quotient = value / divisor;
  return value % divisor < 0n ? quotient - 1n : quotient;
}

function daysOf(sourceType: PrimitiveType, literal: Literal): number {
  return sourceType === 'date' ? (literal as number) : daysFromMicros(literal as bigint);
}

function yearMonthOf(days: number): { year: number; month: number } {
  const date = new Date(days * 86_400_000);
  if (Number.isNaN(date.getTime())) {
    throw new LakehouseError('INVALID_VALUE', `A date ${days} days from 1970-01-01 is outside the range year and month transforms support (±270,000 years).`);
  }
  return { year: date.getUTCFullYear(), month: date.getUTCMonth() };
}

function truncateCodePoints(text: string, width: number): string {
  let count = 0;
  let end = 0;
  for (const character of text) {
    if (count === width) return text.slice(0, end);
    count++;
    end += character.length;
  }
  return text;
}

/**
 * Applies a parsed transform to a literal of `sourceType` (see `values.ts`), giving a literal of the result type;
 * `null` stays `null`. {@link applyTransform} does the same for any accepted value.
 *
 * @example
 * ```ts
 * transformLiteral({ kind: 'truncate', width: 10 }, 'int', -1); // -10
 * ```
 */
export function transformLiteral(transform: Transform, sourceType: PrimitiveType, literal: Literal | null): Literal | null {
  requireResultType(transform, sourceType);
  if (literal === null || transform.kind === 'void') return null;
  switch (transform.kind) {
    case 'identity':
      return literal;
    case 'bucket':
      return (hashLiteral(sourceType, literal) & 0x7fffffff) % transform.buckets;
    case 'year':
      return yearMonthOf(daysOf(sourceType, literal)).year - 1970;
    case 'month': {
      const { year, month } = yearMonthOf(daysOf(sourceType, literal));
      return (year - 1970) * 12 + month;
    }
    case 'day':
      return daysOf(sourceType, literal);
    case 'hour':
      return Number(floorDiv(literal as bigint, MICROS_PER_HOUR));
    case 'truncate': {
      const width = transform.width;
      if (typeof literal === 'number') return literal - (((literal % width) + width) % width);
      if (typeof literal === 'bigint') {
        const w = BigInt(width);
        return literal - (((literal % w) + w) % w);
      }
      if (typeof literal === 'string') return truncateCodePoints(literal, width);
      return (literal as Uint8Array).length <= width ? literal : (literal as Uint8Array).slice(0, width);
    }
  }
}

/**
 * Applies a transform to one value of `sourceType` (any accepted value form) and returns the partition value as a
 * literal of the result type (see `values.ts`): `year`/`month`/`hour` as an `int` count of years, months or hours
 * since 1970, `day` as a `date` (days since 1970-01-01), `bucket[N]` as an `int` in `[0, N)`, `truncate[W]` and
 * `identity` as literals of the source type (long and timestamps as bigint, decimals as the unscaled bigint), `void`
 * and null inputs as `null`.
 *
 * @example
 * ```ts
 * applyTransform('month', 'timestamptz', new Date('2024-03-05T13:00:00Z')); // 650
 * applyTransform('day', 'timestamptz', '2024-03-05T13:00:00Z'); // 19787
 * applyTransform('bucket[16]', 'long', 34n); // 3
 * applyTransform('truncate[50]', 'decimal(9, 2)', '10.65'); // 1050n
 * ```
 */
export function applyTransform(transform: string | Transform, sourceType: PrimitiveType, value: unknown): Literal | null {
  const t = parsed(transform);
  requireResultType(t, sourceType);
  return transformLiteral(t, sourceType, value === null || value === undefined ? null : toLiteral(sourceType, value));
}

// ---------------------------------------------------------------------------------------------------------------------
// Partition paths

function base64(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function humanLiteral(type: PrimitiveType, literal: Literal): string {
  switch (type) {
    case 'date':
      return dateStringFromDays(literal as number);
    case 'time':
      return timeStringFromMicros(literal as bigint);
    case 'timestamp':
      return timestampStringFromMicros(literal as bigint, false);
    case 'timestamptz':
      return timestampStringFromMicros(literal as bigint, true);
    case 'binary':
      return base64(literal as Uint8Array);
    default: {
      const decimal = decimalOf(type);
      if (decimal !== undefined) return decimalStringFromUnscaled(literal as bigint, decimal.scale);
      if (literal instanceof Uint8Array) return base64(literal);
      return String(literal);
    }
  }
}

function pad(value: number, width: number): string {
  const text = String(Math.abs(value)).padStart(width, '0');
  return value < 0 ? `-${text}` : text;
}

/**
 * The human-readable, URL-encoded text of a partition value for data file paths: `2024` for `year`, `2024-03` for
 * `month`, `2024-03-05` for `day`, `2024-03-05-13` for `hour`, `null` for null, the value itself otherwise (binary as
 * base64). Only for paths: nothing parses it back.
 *
 * @example
 * ```ts
 * partitionPathValue('month', 'int', 650); // '2024-03'
 * partitionPathValue('identity', 'string', 'a b/c'); // 'a%20b%2Fc'
 * ```
 */
export function partitionPathValue(transform: string | Transform, resultType: PrimitiveType, value: unknown): string {
  if (value === null || value === undefined) return 'null';
  const t = parsed(transform);
  const literal = toLiteral(resultType, value);
  let text: string;
  switch (t.kind) {
    case 'year':
      text = pad(1970 + (literal as number), 4);
      break;
    case 'month': {
      const months = literal as number;
      const year = 1970 + Math.floor(months / 12);
      text = `${pad(year, 4)}-${pad(months - (year - 1970) * 12 + 1, 2)}`;
      break;
    }
    case 'hour': {
      const hours = literal as number;
      const days = Math.floor(hours / 24);
      text = `${dateStringFromDays(days)}-${pad(hours - days * 24, 2)}`;
      break;
    }
    default:
      text = humanLiteral(resultType, literal);
  }
  return encodeURIComponent(text);
}

// ---------------------------------------------------------------------------------------------------------------------
// Predicates on literals and their projection onto partition values

/**
 * A predicate on one value, with literals in canonical form (see `values.ts`): the form expressions take once bound,
 * and the form their projections onto partition values take.
 *
 * @example
 * ```ts
 * const predicate: LiteralPredicate = { op: '<', literal: 100n };
 * ```
 */
export type LiteralPredicate =
  | {
      /** A test of nullness. */
      readonly op: 'is-null' | 'not-null';
    }
  | {
      /** A comparison with one literal (`starts-with` on strings only). */
      readonly op: '<' | '<=' | '>' | '>=' | '=' | '!=' | 'starts-with' | 'not-starts-with';
      /** The value compared with, canonical for the type. */
      readonly literal: Literal;
    }
  | {
      /** Membership in a set of literals. */
      readonly op: 'in' | 'not-in';
      /** The set, canonical for the type. */
      readonly literals: readonly Literal[];
    };

function startsWith(value: Literal, prefix: Literal): boolean {
  return typeof value === 'string' && typeof prefix === 'string' && value.startsWith(prefix);
}

/**
 * Evaluates a predicate on one value (`null` for null) with SQL's treatment of nulls: only `is-null` holds for a null;
 * every comparison, including `!=`, `not-in` and `not-starts-with`, is false for it.
 *
 * @example
 * ```ts
 * evaluateLiteralPredicate({ op: '>=', literal: 10 }, 12); // true
 * evaluateLiteralPredicate({ op: '!=', literal: 10 }, null); // false
 * ```
 */
export function evaluateLiteralPredicate(predicate: LiteralPredicate, value: Literal | null): boolean {
  if (predicate.op === 'is-null') return value === null;
  if (value === null) return false;
  switch (predicate.op) {
    case 'in':
      return predicate.literals.some((literal) => compareLiterals(value, literal) === 0);
    case 'not-in':
      return predicate.literals.every((literal) => compareLiterals(value, literal) !== 0);
    case 'starts-with':
      return startsWith(value, predicate.literal);
    case 'not-starts-with':
      return !startsWith(value, predicate.literal);
  }
  if (!('literal' in predicate)) return true;
  // Iceberg orders NaN above everything; in predicates it matches nothing but `!=`.
  if (typeof value === 'number' && Number.isNaN(value)) return predicate.op === '!=';
  const order = compareLiterals(value, predicate.literal);
  switch (predicate.op) {
    case '<':
      return order < 0;
    case '<=':
      return order <= 0;
    case '>':
      return order > 0;
    case '>=':
      return order >= 0;
    case '=':
      return order === 0;
    case '!=':
      return order !== 0;
  }
}

function codePointLength(text: string): number {
  let count = 0;
  for (const _character of text) count++;
  return count;
}

/** The next smaller (`-1`) or larger (`+1`) value of a discrete type, for turning `<` into `<=` and `>` into `>=`. */
function step(literal: Literal, direction: -1 | 1): Literal {
  return typeof literal === 'bigint' ? literal + BigInt(direction) : (literal as number) + direction;
}

/**
 * Projects a predicate on a source column onto the partition values a transform makes of it, inclusively: every row
 * that satisfies the predicate has a partition value that satisfies the projection, so a partition whose value fails
 * the projection holds no matching rows. Returns `true` when nothing can be said (the partition may match). Literals
 * are canonical (see `values.ts`) of `sourceType` in, of the transform's result type out.
 *
 * Orderings survive the monotone transforms (`identity`, `truncate`, `year`, `month`, `day`, `hour`); `bucket` keeps
 * only `=` and `in`; `void` keeps nothing.
 *
 * @example
 * ```ts
 * projectInclusive('day', 'timestamptz', { op: '<', literal: 1709596800000000n }); // { op: '<=', literal: 19786 }
 * projectInclusive('bucket[16]', 'long', { op: '>', literal: 5n }); // true
 * ```
 */
export function projectInclusive(transform: string | Transform, sourceType: PrimitiveType, predicate: LiteralPredicate): LiteralPredicate | true {
  const t = parsed(transform);
  if (t.kind === 'void') return true;
  if (predicate.op === 'is-null' || predicate.op === 'not-null') return predicate;
  if (t.kind === 'identity') return predicate;
  const apply = (literal: Literal) => transformLiteral(t, sourceType, literal)!;
  if (predicate.op === 'in') return { op: 'in', literals: predicate.literals.map(apply) };
  if (predicate.op === '=') return { op: '=', literal: apply(predicate.literal) };
  if (t.kind === 'bucket' || predicate.op === 'not-in') return true;
  // Discrete, ordered sources: x < v means x <= v - 1, and the transform keeps order, so T(x) <= T(v - 1).
  if (!('literal' in predicate)) return true;
  const discrete = typeof predicate.literal === 'number' || typeof predicate.literal === 'bigint';
  switch (predicate.op) {
    case '<':
      return discrete ? { op: '<=', literal: apply(step(predicate.literal, -1)) } : { op: '<=', literal: apply(predicate.literal) };
    case '<=':
      return { op: '<=', literal: apply(predicate.literal) };
    case '>':
      return discrete ? { op: '>=', literal: apply(step(predicate.literal, 1)) } : { op: '>=', literal: apply(predicate.literal) };
    case '>=':
      return { op: '>=', literal: apply(predicate.literal) };
    case 'starts-with': {
      if (t.kind !== 'truncate' || typeof predicate.literal !== 'string') return true;
      // A truncated value keeps prefixes up to the width; a longer prefix pins the whole truncated value.
      return codePointLength(predicate.literal) <= t.width ? predicate : { op: '=', literal: apply(predicate.literal) };
    }
    case 'not-starts-with':
      // trunc(x) is a prefix of x: if trunc(x) started with p, so would x. So x not starting with p implies trunc(x) does not.
      return t.kind === 'truncate' && typeof predicate.literal === 'string' ? predicate : true;
    case '!=':
      return true;
  }
}

/**
 * Whether a partition value can hold rows matching `predicate` (literal form, on the source column), given the
 * partition field's transform. Conservative: `true` unless the projection proves it impossible.
 *
 * @example
 * ```ts
 * partitionMightMatch('bucket[16]', 'long', { op: '=', literal: 34n }, 3); // true
 * ```
 */
export function partitionMightMatch(transform: string | Transform, sourceType: PrimitiveType, predicate: LiteralPredicate, partitionValue: Literal | null): boolean {
  const projected = projectInclusive(transform, sourceType, predicate);
  return projected === true || evaluateLiteralPredicate(projected, partitionValue);
}
