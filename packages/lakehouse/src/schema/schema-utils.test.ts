import { describe, expect, it } from 'vitest';
import { LakehouseError } from '../errors.js';
import {
  decimalOf,
  decimalRequiredBytes,
  findField,
  fixedLengthOf,
  identifierProblem,
  indexById,
  indexByName,
  isPrimitiveType,
  lastColumnId,
  primitiveOf,
  structPathOf,
  validateSchema,
  valueAtPath,
} from './schema-utils.js';
import type { IcebergSchema, PrimitiveType } from './types.js';

const schema: IcebergSchema = {
  type: 'struct',
  'schema-id': 1,
  'identifier-field-ids': [1],
  fields: [
    { id: 1, name: 'id', required: true, type: 'long' },
    {
      id: 2,
      name: 'address',
      required: false,
      type: { type: 'struct', fields: [{ id: 3, name: 'city', required: true, type: 'string' }] },
    },
    { id: 4, name: 'tags', required: false, type: { type: 'list', 'element-id': 5, element: 'string', 'element-required': true } },
    {
      id: 6,
      name: 'attrs',
      required: true,
      type: { type: 'map', 'key-id': 7, key: 'string', 'value-id': 8, value: { type: 'struct', fields: [{ id: 9, name: 'v', required: true, type: 'int' }] }, 'value-required': false },
    },
  ],
};

describe('type parameters', () => {
  it('recognizes primitive types and their parameters', () => {
    expect(isPrimitiveType('decimal(9,2)')).toBe(true);
    expect(isPrimitiveType('decimal(39, 2)')).toBe(false);
    expect(isPrimitiveType('decimal(2, 3)')).toBe(false);
    expect(isPrimitiveType('fixed[0]')).toBe(false);
    expect(isPrimitiveType('timestamp_ns')).toBe(false);
    // The spec also allows the spelling without a space, which the PrimitiveType template does not model.
    expect(decimalOf('decimal(9,2)' as PrimitiveType)).toEqual({ precision: 9, scale: 2 });
    expect(decimalOf('long')).toBeUndefined();
    expect(fixedLengthOf('fixed[16]')).toBe(16);
    expect(primitiveOf('uuid')).toBe('uuid');
    expect(primitiveOf({ type: 'struct', fields: [] })).toBeUndefined();
  });

  it('sizes decimal fixed storage as the spec table does', () => {
    expect([1, 2, 3, 4, 9, 10, 18, 19, 38].map(decimalRequiredBytes)).toEqual([1, 1, 2, 2, 4, 5, 8, 9, 16]);
  });
});

describe('lookups', () => {
  it('indexes every id with full names and context', () => {
    const byId = indexById(schema);
    expect([...byId.keys()].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(byId.get(3)).toMatchObject({ name: 'address.city', parentId: 2, inCollection: false, optionalAncestor: true });
    expect(byId.get(5)).toMatchObject({ name: 'tags.element', inCollection: true });
    expect(byId.get(5)?.field).toBeUndefined();
    expect(byId.get(9)).toMatchObject({ name: 'attrs.value.v', parentId: 8, inCollection: true });
    expect(indexByName(schema).get('attrs.key')?.id).toBe(7);
    expect(findField(schema, 'id')?.id).toBe(1);
    expect(findField(schema, 'address.city')?.id).toBe(3);
    expect(findField(schema, 'ID')).toBeUndefined();
    expect(lastColumnId(schema)).toBe(9);
    expect(structPathOf(schema, 3)).toEqual(['address', 'city']);
    expect(structPathOf(schema, 9)).toBeUndefined();
    expect(valueAtPath({ address: { city: 'Lyon' } }, ['address', 'city'])).toBe('Lyon');
    expect(valueAtPath({ address: null }, ['address', 'city'])).toBeUndefined();
  });

  it('says why a field cannot identify rows', () => {
    const byId = indexById(schema);
    expect(identifierProblem(byId.get(1)!)).toBeUndefined();
    expect(identifierProblem(byId.get(3)!)).toBe('it is inside an optional struct');
    expect(identifierProblem(byId.get(5)!)).toBe('it is inside a list or map');
    expect(identifierProblem(byId.get(2)!)).toBe('it is a struct, not a primitive');
  });
});

describe('validateSchema', () => {
  it('accepts a valid schema', () => {
    expect(() => validateSchema(schema)).not.toThrow();
  });

  const invalid = (change: Partial<IcebergSchema>, message: RegExp) => {
    let error: unknown;
    try {
      validateSchema({ ...schema, ...change });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(LakehouseError);
    expect((error as LakehouseError).code).toBe('INVALID_SCHEMA');
    expect((error as Error).message).toMatch(message);
  };

  it('names duplicate ids, reserved ids, bad types and duplicate names', () => {
    invalid({ fields: [...schema.fields, { id: 3, name: 'other', required: false, type: 'int' }] }, /fields "address.city" and "other" share the id 3/);
    invalid({ fields: [{ id: 2_147_483_448, name: 'x', required: false, type: 'int' }], 'identifier-field-ids': [] }, /ids must be integers from 1 to 2147483447/);
    invalid({ fields: [{ id: 1, name: 'x', required: false, type: 'varchar' as never }], 'identifier-field-ids': [] }, /field "x" has type "varchar", which is not an Iceberg primitive/);
    invalid({ fields: [...schema.fields, { id: 10, name: 'id', required: false, type: 'int' }] }, /two fields named "id"/);
    invalid({ fields: [...schema.fields, { id: 10, name: 'address.city', required: false, type: 'int' }] }, /full name "address.city"/);
    invalid({ 'schema-id': -1 }, /schema-id must be a non-negative integer/);
  });

  it('checks identifier fields', () => {
    invalid({ 'identifier-field-ids': [42] }, /identifier-field-ids names id 42, which no field has/);
    invalid({ 'identifier-field-ids': [3] }, /identifier field "address.city" cannot identify rows: it is inside an optional struct/);
    invalid({ 'identifier-field-ids': [9] }, /inside a list or map/);
  });
});
