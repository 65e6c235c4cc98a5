import type { DataType, Field } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { LakehouseError } from '../errors.js';
import type { IcebergSchema } from '../schema/types.js';
import { FIELD_ID_KEY, fieldIdOf, toArrowSchema, toArrowType } from './arrow-schema.js';
import { childFields, fieldType, typeText } from './arrow-types.js';

const nested: IcebergSchema = {
  type: 'struct',
  'schema-id': 0,
  fields: [
    { id: 1, name: 'id', required: true, type: 'long' },
    {
      id: 2,
      name: 'address',
      required: false,
      type: {
        type: 'struct',
        fields: [
          { id: 5, name: 'city', required: true, type: 'string' },
          { id: 6, name: 'zip', required: false, type: 'int' },
        ],
      },
    },
    { id: 3, name: 'tags', required: false, type: { type: 'list', 'element-id': 7, element: 'string', 'element-required': true } },
    {
      id: 4,
      name: 'attributes',
      required: true,
      type: { type: 'map', 'key-id': 8, key: 'string', 'value-id': 9, value: 'double', 'value-required': false },
    },
  ],
};

/** Every field of the Arrow schema, depth first, as `path id nullable`, map entries (no Iceberg id) included. */
function flatten(fields: readonly Field[], prefix = ''): string[] {
  return fields.flatMap((field) => [
    `${prefix}${field.name} ${field.metadata.get(FIELD_ID_KEY) ?? '-'} ${field.nullable ? 'optional' : 'required'}`,
    ...flatten(childFields(fieldType(field)), `${prefix}${field.name}.`),
  ]);
}

describe('toArrowSchema', () => {
  it('puts the Iceberg id on every field, nested ones included, and makes required fields non-nullable', () => {
    expect(flatten(toArrowSchema(nested).fields)).toEqual([
      'id 1 required',
      'address 2 optional',
      'address.city 5 required',
      'address.zip 6 optional',
      'tags 3 optional',
      'tags.element 7 required',
      'attributes 4 required',
      'attributes.entries - required',
      'attributes.entries.key 8 required',
      'attributes.entries.value 9 optional',
    ]);
    expect(fieldIdOf(toArrowSchema(nested).fields[3]!)).toBe(4);
  });

  it('maps primitive types as the Iceberg spec does', () => {
    const expected: Record<string, string> = {
      boolean: 'Bool',
      int: 'Int32',
      long: 'Int64',
      float: 'Float32',
      double: 'Float64',
      'decimal(38, 10)': 'Decimal[38e+10]',
      'decimal(9,0)': 'Decimal[9e0]',
      date: 'Date32<DAY>',
      time: 'Time64<MICROSECOND>',
      timestamp: 'Timestamp<MICROSECOND>',
      timestamptz: 'Timestamp<MICROSECOND, UTC>',
      string: 'Utf8',
      uuid: 'FixedSizeBinary[16]',
      'fixed[3]': 'FixedSizeBinary[3]',
      binary: 'Binary',
    };
    const actual = Object.fromEntries(Object.keys(expected).map((type) => [type, typeText(toArrowType(type as never))]));
    expect(actual).toEqual(expected);
    expect((toArrowType('decimal(12, 2)') as DataType & { bitWidth: number }).bitWidth).toBe(128);
  });

  it('rejects unknown types and impossible decimals with INVALID_SCHEMA', () => {
    for (const type of ['varchar', 'decimal(39, 2)', 'decimal(5, 6)', 'fixed[0]']) {
      expect(() => toArrowType(type as never, 'price')).toThrow(LakehouseError);
      expect(() => toArrowType(type as never, 'price')).toThrow(/Column "price"/);
    }
  });
});
