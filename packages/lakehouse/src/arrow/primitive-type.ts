import { LakehouseError } from '../errors.js';
import type { IcebergType, PrimitiveType } from '../schema/types.js';

/** An Iceberg primitive type with its parameters parsed out of the metadata spelling. */
export type ParsedPrimitive =
  | {
      readonly kind:
        | 'boolean'
        | 'int'
        | 'long'
        | 'float'
        | 'double'
        | 'date'
        | 'time'
        | 'timestamp'
        | 'timestamptz'
        | 'string'
        | 'uuid'
        | 'binary';
    }
  | { readonly kind: 'decimal'; readonly precision: number; readonly scale: number }
  | { readonly kind: 'fixed'; readonly length: number };

const SIMPLE = new Set(['boolean', 'int', 'long', 'float', 'double', 'date', 'time', 'timestamp', 'timestamptz', 'string', 'uuid', 'binary']);
const DECIMAL = /^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$/;
const FIXED = /^fixed\[\s*(\d+)\s*\]$/;

/** Whether a type is primitive (a string in metadata) rather than struct, list or map. */
export function isPrimitive(type: IcebergType): type is PrimitiveType {
  return typeof type === 'string';
}

/**
 * Parses a primitive type's metadata spelling. Decimal precision is limited to 38 (spec); Iceberg has no larger
 * decimal, and Arrow's Decimal128 holds exactly that many digits.
 */
export function parsePrimitive(type: PrimitiveType, column: string): ParsedPrimitive {
  if (SIMPLE.has(type)) return { kind: type as 'boolean' };
  const decimal = DECIMAL.exec(type);
  if (decimal) {
    const precision = Number(decimal[1]);
    const scale = Number(decimal[2]);
    if (precision < 1 || precision > 38 || scale > precision) {
      throw new LakehouseError(
        'INVALID_SCHEMA',
        `Column "${column}" has type ${type}: precision must be 1..38 and scale at most the precision. Fix the schema.`,
      );
    }
    return { kind: 'decimal', precision, scale };
  }
  const fixed = FIXED.exec(type);
  if (fixed) {
    const length = Number(fixed[1]);
    if (length < 1) throw new LakehouseError('INVALID_SCHEMA', `Column "${column}" has type ${type}: the length must be at least 1. Fix the schema.`);
    return { kind: 'fixed', length };
  }
  throw new LakehouseError('INVALID_SCHEMA', `Column "${column}" has unknown Iceberg type ${JSON.stringify(type)}. Use a type of the Iceberg v2 spec.`);
}
