/**
 * Iceberg's binary single-value serialization (spec, Appendix D): how one value is stored as bytes in the
 * `lower_bounds` / `upper_bounds` maps of a manifest, plus the truncation writers apply to long string and binary
 * bounds.
 *
 * @module
 */
import { LakehouseError } from '../errors.js';
import { decimalOf, fixedLengthOf } from '../schema/schema-utils.js';
import type { PrimitiveType } from '../schema/types.js';
import type { Literal } from './values.js';
import { fromLiteral, integerFromBigEndianBytes, minimalBigEndianBytes, toLiteral, uuidFromBytes, uuidToBytes } from './values.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Serializes a literal (see `values.ts`) of `type`; {@link serializeValue} is the same for any accepted value.
 *
 * @example
 * ```ts
 * serializeLiteral('long', 34n); // Uint8Array [34, 0, 0, 0, 0, 0, 0, 0]
 * ```
 */
export function serializeLiteral(type: PrimitiveType, literal: Literal): Uint8Array {
  switch (type) {
    case 'boolean':
      return Uint8Array.of(literal === true ? 1 : 0);
    case 'int':
    case 'date': {
      const bytes = new Uint8Array(4);
      new DataView(bytes.buffer).setInt32(0, literal as number, true);
      return bytes;
    }
    case 'long':
    case 'time':
    case 'timestamp':
    case 'timestamptz': {
      const bytes = new Uint8Array(8);
      new DataView(bytes.buffer).setBigInt64(0, literal as bigint, true);
      return bytes;
    }
    case 'float': {
      const bytes = new Uint8Array(4);
      new DataView(bytes.buffer).setFloat32(0, literal as number, true);
      return bytes;
    }
    case 'double': {
      const bytes = new Uint8Array(8);
      new DataView(bytes.buffer).setFloat64(0, literal as number, true);
      return bytes;
    }
    case 'string':
      return encoder.encode(literal as string);
    case 'uuid':
      return uuidToBytes(literal as string);
    case 'binary':
      return Uint8Array.from(literal as Uint8Array);
    default:
      if (decimalOf(type) !== undefined) return minimalBigEndianBytes(literal as bigint);
      if (fixedLengthOf(type) !== undefined) return Uint8Array.from(literal as Uint8Array);
      throw new LakehouseError('INVALID_SCHEMA', `Unknown Iceberg primitive type ${JSON.stringify(type)}: no single-value serialization.`);
  }
}

/**
 * Serializes one value of a primitive type as Iceberg stores bounds: booleans as one byte; `int`/`date` 4 bytes and
 * `long`/`time`/`timestamp`/`timestamptz` 8 bytes little-endian; `float`/`double` IEEE 754 little-endian; strings as
 * UTF-8; UUIDs as 16 big-endian bytes; `fixed`/`binary` as they are; decimals as the minimal two's-complement
 * big-endian bytes of the unscaled value. Accepts every row value form of the type (timestamps and times also as
 * bigint microseconds); an unacceptable value throws a `LakehouseError` of code `INVALID_VALUE`.
 *
 * @example
 * ```ts
 * serializeValue('int', 1); // Uint8Array [1, 0, 0, 0]
 * serializeValue('decimal(9, 2)', '14.20'); // Uint8Array [0x05, 0x8c]
 * ```
 */
export function serializeValue(type: PrimitiveType, value: unknown): Uint8Array {
  return serializeLiteral(type, toLiteral(type, value));
}

function corrupt(type: PrimitiveType, bytes: Uint8Array, expected: string): never {
  throw new LakehouseError('CORRUPT_METADATA', `A ${type} bound of ${bytes.length} bytes cannot be read: expected ${expected}.`);
}

/**
 * Reads serialized bytes back as a literal of `type` (see `values.ts`); {@link deserializeValue} returns spec values.
 *
 * @example
 * ```ts
 * deserializeLiteral('long', Uint8Array.of(34, 0, 0, 0)); // 34n (4 bytes: written when the column was an int)
 * ```
 */
export function deserializeLiteral(type: PrimitiveType, bytes: Uint8Array): Literal {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (type) {
    case 'boolean':
      if (bytes.length !== 1) corrupt(type, bytes, '1 byte');
      return bytes[0] !== 0;
    case 'int':
    case 'date':
      if (bytes.length !== 4) corrupt(type, bytes, '4 bytes');
      return view.getInt32(0, true);
    case 'long':
      // Type promotion does not rewrite bounds: 4 bytes were written while the column was still an int.
      if (bytes.length === 4) return BigInt(view.getInt32(0, true));
      if (bytes.length !== 8) corrupt(type, bytes, '8 bytes (or 4 from before promotion from int)');
      return view.getBigInt64(0, true);
    case 'time':
    case 'timestamp':
    case 'timestamptz':
      if (bytes.length !== 8) corrupt(type, bytes, '8 bytes');
      return view.getBigInt64(0, true);
    case 'float':
      if (bytes.length !== 4) corrupt(type, bytes, '4 bytes');
      return view.getFloat32(0, true);
    case 'double':
      // Same promotion rule as long: 4 bytes were written while the column was a float.
      if (bytes.length === 4) return view.getFloat32(0, true);
      if (bytes.length !== 8) corrupt(type, bytes, '8 bytes (or 4 from before promotion from float)');
      return view.getFloat64(0, true);
    case 'string':
      try {
        return decoder.decode(bytes);
      } catch (error) {
        throw new LakehouseError('CORRUPT_METADATA', `A string bound of ${bytes.length} bytes is not valid UTF-8.`, { cause: error });
      }
    case 'uuid':
      if (bytes.length !== 16) corrupt(type, bytes, '16 bytes');
      return uuidFromBytes(bytes);
    case 'binary':
      return Uint8Array.from(bytes);
    default: {
      if (decimalOf(type) !== undefined) {
        if (bytes.length === 0) corrupt(type, bytes, 'at least 1 byte');
        return integerFromBigEndianBytes(bytes);
      }
      const length = fixedLengthOf(type);
      if (length !== undefined) return Uint8Array.from(bytes);
      throw new LakehouseError('INVALID_SCHEMA', `Unknown Iceberg primitive type ${JSON.stringify(type)}: no single-value serialization.`);
    }
  }
}

/**
 * Reads bytes written by {@link serializeValue} (or any Iceberg writer) back as a spec value: the value readers
 * return for the type, except `time`, `timestamp` and `timestamptz`, which come back as bigint microseconds. Handles
 * bounds written before a type promotion (4-byte `long` and `double` bounds). Malformed bytes throw a
 * `LakehouseError` of code `CORRUPT_METADATA`.
 *
 * @example
 * ```ts
 * deserializeValue('decimal(9, 2)', Uint8Array.of(0x05, 0x8c)); // '14.20'
 * deserializeValue('timestamptz', serializeValue('timestamptz', new Date(0))); // 0n
 * ```
 */
export function deserializeValue(type: PrimitiveType, bytes: Uint8Array): unknown {
  return fromLiteral(type, deserializeLiteral(type, bytes));
}

/**
 * Code points (strings) or bytes (binary) Iceberg writers keep by default when they truncate bounds (the
 * `write.metadata.metrics.default` mode `truncate(16)`).
 *
 * @example
 * ```ts
 * const lower = truncateLowerBound('string', longest, DEFAULT_BOUND_LENGTH);
 * ```
 */
export const DEFAULT_BOUND_LENGTH = 16;

/** The first `count` code points of a string and whether anything was cut, without splitting the whole string. */
function leadingCodePoints(text: string, count: number): { points: number[]; cut: boolean } {
  const points: number[] = [];
  for (const character of text) {
    if (points.length === count) return { points, cut: true };
    points.push(character.codePointAt(0)!);
  }
  return { points, cut: false };
}

/**
 * A lower bound for a `string` or `binary` value no longer than `length` code points (strings) or bytes (binary): its
 * prefix, which sorts at or before it. Values of other types are returned unchanged, so a writer can pass every
 * column's bound through it.
 *
 * @example
 * ```ts
 * truncateLowerBound('string', 'iceberg-table-format', 7); // 'iceberg'
 * truncateLowerBound('long', 5n); // 5n
 * ```
 */
export function truncateLowerBound(type: PrimitiveType, value: unknown, length: number = DEFAULT_BOUND_LENGTH): unknown {
  if (type === 'string' && typeof value === 'string') {
    const { points, cut } = leadingCodePoints(value, length);
    return cut ? String.fromCodePoint(...points) : value;
  }
  if (type === 'binary' && value instanceof Uint8Array) return value.length <= length ? value : value.slice(0, length);
  return value;
}

/**
 * An upper bound for a `string` or `binary` value no longer than `length` code points (strings) or bytes (binary): the
 * value itself when it is short enough, otherwise its prefix with the last code point (byte) that can be incremented
 * incremented and the rest dropped, which sorts after every value with that prefix. `undefined` when no such bound
 * exists (every kept code point is U+10FFFF, every kept byte 0xFF): the writer then omits the upper bound. Values of
 * other types are returned unchanged.
 *
 * @example
 * ```ts
 * truncateUpperBound('string', 'iceberg-table-format', 7); // 'icebers'
 * truncateUpperBound('binary', Uint8Array.of(1, 0xff, 3), 2); // Uint8Array [2]
 * ```
 */
export function truncateUpperBound(type: PrimitiveType, value: unknown, length: number = DEFAULT_BOUND_LENGTH): unknown {
  if (type === 'string' && typeof value === 'string') {
    const { points, cut } = leadingCodePoints(value, length);
    if (!cut) return value;
    for (let index = points.length - 1; index >= 0; index--) {
      let next = points[index]! + 1;
      // Surrogate code points are not characters and have no UTF-8 form: step over them.
      if (next >= 0xd800 && next <= 0xdfff) next = 0xe000;
      if (next <= 0x10ffff) return String.fromCodePoint(...points.slice(0, index), next);
    }
    return undefined;
  }
  if (type === 'binary' && value instanceof Uint8Array) {
    if (value.length <= length) return value;
    for (let index = length - 1; index >= 0; index--) {
      if (value[index]! < 0xff) {
        const bound = value.slice(0, index + 1);
        bound[index] = value[index]! + 1;
        return bound;
      }
    }
    return undefined;
  }
  return value;
}
