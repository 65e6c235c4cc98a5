import {
  Binary,
  Bool,
  DateDay,
  Decimal,
  Field,
  FixedSizeBinary,
  Float32,
  Float64,
  Int32,
  Int64,
  List,
  Map_,
  Schema,
  Struct,
  TimeMicrosecond,
  TimestampMicrosecond,
  Utf8,
} from 'apache-arrow';
import type { DataType } from 'apache-arrow';
import type { IcebergSchema, IcebergType, NestedField } from '../schema/types.js';
import { isPrimitive, parsePrimitive } from './primitive-type.js';

/**
 * The Arrow field-metadata key holding a field's Iceberg id. Parquet writers built on Arrow (arrow-rs, pyarrow)
 * turn it into the Parquet schema's `field_id`, which is how Iceberg readers match columns.
 *
 * @example
 * ```ts
 * const field = new Field('order_id', new Int64(), false, new Map([[FIELD_ID_KEY, '1']]));
 * ```
 */
export const FIELD_ID_KEY = 'PARQUET:field_id';

/**
 * The Iceberg id carried by an Arrow field, or `undefined` when it has none.
 *
 * @example
 * ```ts
 * const id = fieldIdOf(toArrowSchema(schema).fields[0]!); // 1
 * ```
 */
export function fieldIdOf(field: Field): number | undefined {
  const raw = field.metadata.get(FIELD_ID_KEY);
  if (raw === undefined) return undefined;
  const id = Number(raw);
  return Number.isInteger(id) ? id : undefined;
}

/**
 * The Arrow schema of an Iceberg schema: every field, nested ones included (list elements, map keys and values,
 * struct children), carries its Iceberg id as `PARQUET:field_id` metadata, and required fields are non-nullable.
 *
 * Types follow the Iceberg spec's Parquet/Arrow mapping: `long` → Int64, `decimal(P, S)` → Decimal128(P, S),
 * `date` → Date32 (days), `time` → Time64 µs, `timestamp` → Timestamp µs without zone, `timestamptz` →
 * Timestamp µs `UTC`, `uuid` → FixedSizeBinary(16), `fixed[L]` → FixedSizeBinary(L), `binary` → Binary,
 * `string` → Utf8. Lists name their element `element` (as Iceberg's Parquet writer does); maps hold an `entries`
 * struct of `key` and `value` (Arrow's fixed name for it; readers match the entries by position, their leaves by id).
 *
 * @example
 * ```ts
 * const arrowSchema = toArrowSchema({
 *   type: 'struct',
 *   'schema-id': 0,
 *   fields: [{ id: 1, name: 'order_id', required: true, type: 'long' }],
 * });
 * arrowSchema.fields[0]!.metadata.get('PARQUET:field_id'); // '1'
 * ```
 */
export function toArrowSchema(schema: IcebergSchema): Schema {
  return new Schema(schema.fields.map((field) => toArrowField(field, field.name)));
}

/**
 * The Arrow field of one Iceberg field (see {@link toArrowSchema}).
 *
 * @example
 * ```ts
 * const field = toArrowField({ id: 2, name: 'amount', required: false, type: 'decimal(12, 2)' });
 * ```
 */
export function toArrowField(field: NestedField, path: string = field.name): Field {
  return makeField(field.name, field.id, !field.required, toArrowType(field.type, path));
}

function makeField(name: string, id: number, nullable: boolean, type: DataType): Field {
  return new Field(name, type, nullable, new Map([[FIELD_ID_KEY, String(id)]]));
}

/**
 * The Arrow type of an Iceberg type, nested fields carrying their ids.
 *
 * @example
 * ```ts
 * toArrowType('timestamptz'); // Timestamp<MICROSECOND, UTC>
 * ```
 */
export function toArrowType(type: IcebergType, path = '(type)'): DataType {
  if (isPrimitive(type)) {
    const parsed = parsePrimitive(type, path);
    switch (parsed.kind) {
      case 'boolean':
        return new Bool();
      case 'int':
        return new Int32();
      case 'long':
        return new Int64();
      case 'float':
        return new Float32();
      case 'double':
        return new Float64();
      case 'decimal':
        return new Decimal(parsed.scale, parsed.precision, 128);
      case 'date':
        return new DateDay();
      case 'time':
        return new TimeMicrosecond();
      case 'timestamp':
        return new TimestampMicrosecond();
      case 'timestamptz':
        return new TimestampMicrosecond('UTC');
      case 'string':
        return new Utf8();
      case 'uuid':
        return new FixedSizeBinary(16);
      case 'fixed':
        return new FixedSizeBinary(parsed.length);
      case 'binary':
        return new Binary();
    }
  }
  switch (type.type) {
    case 'struct':
      return new Struct(type.fields.map((child) => toArrowField(child, `${path}.${child.name}`)));
    case 'list':
      return new List(makeField('element', type['element-id'], !type['element-required'], toArrowType(type.element, `${path}.element`)));
    case 'map': {
      const key = makeField('key', type['key-id'], false, toArrowType(type.key, `${path}.key`));
      const value = makeField('value', type['value-id'], !type['value-required'], toArrowType(type.value, `${path}.value`));
      const entries: Field<Struct<{ key: DataType; value: DataType }>> = new Field('entries', new Struct<{ key: DataType; value: DataType }>([key, value] as Field<DataType>[]), false);
      return new Map_(entries);
    }
  }
}
