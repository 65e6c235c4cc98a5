import { describe, expect, it } from 'vitest';
import { LakehouseError } from '../errors.js';
import { addColumn, deleteColumn, makeOptional, renameColumn, setIdentifierFields, widenColumn } from './evolution.js';
import type { SchemaVersion } from './evolution.js';
import { findField, lastColumnId } from './schema-utils.js';

const base: SchemaVersion = {
  lastColumnId: 12,
  schema: {
    type: 'struct',
    'schema-id': 3,
    'identifier-field-ids': [1],
    fields: [
      { id: 1, name: 'id', required: true, type: 'long' },
      { id: 2, name: 'quantity', required: true, type: 'int' },
      { id: 3, name: 'price', required: false, type: 'decimal(9, 2)' },
      { id: 4, name: 'score', required: false, type: 'float' },
      {
        id: 5,
        name: 'address',
        required: false,
        type: {
          type: 'struct',
          fields: [
            { id: 6, name: 'city', required: true, type: 'string' },
            { id: 7, name: 'zip', required: false, type: 'string' },
          ],
        },
      },
      {
        id: 8,
        name: 'lines',
        required: false,
        type: {
          type: 'list',
          'element-id': 9,
          element: { type: 'struct', fields: [{ id: 10, name: 'sku', required: true, type: 'string' }] },
          'element-required': true,
        },
      },
      { id: 11, name: 'created_at', required: false, type: 'timestamptz' },
    ],
  },
};

function failure(run: () => unknown): LakehouseError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(LakehouseError);
    expect((error as LakehouseError).code).toBe('INVALID_SCHEMA_CHANGE');
    return error as LakehouseError;
  }
  throw new Error('expected a schema change error');
}

describe('addColumn', () => {
  it('adds an optional column after last-column-id with a new schema id', () => {
    const next = addColumn(base, 'country', 'string', { doc: 'ISO code', after: 'id' });
    expect(next.lastColumnId).toBe(13);
    expect(next.schema['schema-id']).toBe(4);
    expect(next.schema['identifier-field-ids']).toEqual([1]);
    expect(next.schema.fields.map((field) => field.name)).toEqual(['id', 'country', 'quantity', 'price', 'score', 'address', 'lines', 'created_at']);
    expect(next.schema.fields[1]).toEqual({ id: 13, name: 'country', required: false, type: 'string', doc: 'ISO code' });
    expect(addColumn(base, 'first', 'long', { first: true }).schema.fields[0]?.name).toBe('first');
    // The input is untouched.
    expect(base.schema.fields).toHaveLength(7);
  });

  it('assigns fresh ids to every nested part of the new type', () => {
    const next = addColumn(base, 'attributes', {
      type: 'map',
      'key-id': 0,
      key: 'string',
      'value-id': 0,
      value: { type: 'struct', fields: [{ id: 0, name: 'v', required: false, type: 'string' }] },
      'value-required': false,
    });
    expect(next.schema.fields.at(-1)).toEqual({
      id: 13,
      name: 'attributes',
      required: false,
      type: {
        type: 'map',
        'key-id': 14,
        key: 'string',
        'value-id': 15,
        value: { type: 'struct', fields: [{ id: 16, name: 'v', required: false, type: 'string' }] },
        'value-required': false,
      },
    });
    expect(next.lastColumnId).toBe(16);
    expect(lastColumnId(next.schema)).toBe(16);
  });

  it('adds into nested structs, including the struct of a list element', () => {
    const zip4 = addColumn(base, 'address.zip4', 'string', { after: 'zip' });
    expect(findField(zip4.schema, 'address.zip4')).toMatchObject({ id: 13, required: false });
    const discount = addColumn(zip4, 'lines.element.discount', 'decimal(9, 2)');
    expect(findField(discount.schema, 'lines.element.discount')?.id).toBe(14);
    const dotted = addColumn(base, ['a.b'], 'string');
    expect(dotted.schema.fields.at(-1)?.name).toBe('a.b');
  });

  it('refuses required columns, duplicates, unknown parents and bad types', () => {
    expect(failure(() => addColumn(base, 'must', 'string', { required: true })).message).toMatch(
      /Cannot add column "must": rows already written have no value for a new required column/,
    );
    expect(failure(() => addColumn(base, 'quantity', 'long')).message).toMatch(/already has a field named "quantity"/);
    expect(failure(() => addColumn(base, 'nope.x', 'long')).message).toMatch(/its parent "nope" is not in the schema/);
    expect(failure(() => addColumn(base, 'id.x', 'long')).message).toMatch(/its parent "id" is a long, not a struct/);
    expect(failure(() => addColumn(base, 'x', 'string', { after: 'nope' })).message).toMatch(/after: no sibling is named "nope"/);
    expect(failure(() => addColumn(base, 'x', 'varchar' as never)).message).toMatch(/not an Iceberg primitive/);
  });
});

describe('renameColumn', () => {
  it('keeps the id and the identifier fields', () => {
    const next = renameColumn(base, 'address.city', 'town');
    expect(findField(next.schema, 'address.town')?.id).toBe(6);
    expect(findField(next.schema, 'address.city')).toBeUndefined();
    expect(renameColumn(base, 'id', 'order_id').schema['identifier-field-ids']).toEqual([1]);
    expect(renameColumn(base, 'id', 'id')).toBe(base);
  });

  it('refuses unknown columns and name clashes', () => {
    expect(failure(() => renameColumn(base, 'nope', 'x')).message).toMatch(/Cannot rename column "nope": schema 3 has no such column \(columns: id, quantity/);
    expect(failure(() => renameColumn(base, 'price', 'score')).message).toMatch(/already has a field named "score"/);
  });
});

describe('widenColumn', () => {
  it('allows exactly the v2 promotions', () => {
    expect(findField(widenColumn(base, 'quantity', 'long').schema, 'quantity')?.type).toBe('long');
    expect(findField(widenColumn(base, 'score', 'double').schema, 'score')?.type).toBe('double');
    expect(findField(widenColumn(base, 'price', 'decimal(12, 2)').schema, 'price')?.type).toBe('decimal(12, 2)');
    expect(widenColumn(base, 'quantity', 'int')).toBe(base);
  });

  it('refuses narrowing, rescaling and cross-type changes, naming the column', () => {
    expect(failure(() => widenColumn(base, 'id', 'int')).message).toMatch(
      /Cannot widen column "id": long cannot become int; allowed promotions are int -> long, float -> double and decimal/,
    );
    expect(failure(() => widenColumn(base, 'price', 'decimal(12, 3)')).message).toMatch(/decimal\(9, 2\) cannot become decimal\(12, 3\)/);
    expect(failure(() => widenColumn(base, 'price', 'decimal(8, 2)')).message).toMatch(/cannot become decimal\(8, 2\)/);
    expect(failure(() => widenColumn(base, 'quantity', 'string')).message).toMatch(/int cannot become string/);
    expect(failure(() => widenColumn(base, 'address', 'string')).message).toMatch(/struct cannot become string/);
  });
});

describe('makeOptional', () => {
  it('relaxes required columns but not identifier fields', () => {
    expect(findField(makeOptional(base, 'quantity').schema, 'quantity')?.required).toBe(false);
    expect(findField(makeOptional(base, 'address.city').schema, 'address.city')?.required).toBe(false);
    expect(makeOptional(base, 'price')).toBe(base);
    expect(failure(() => makeOptional(base, 'id')).message).toMatch(/it is an identifier field/);
  });
});

describe('deleteColumn', () => {
  it('removes the column and keeps last-column-id', () => {
    const next = deleteColumn(base, 'created_at');
    expect(findField(next.schema, 'created_at')).toBeUndefined();
    expect(next.lastColumnId).toBe(12);
    expect(next.schema['schema-id']).toBe(4);
    // A later add never reuses the deleted id.
    expect(addColumn(next, 'created_at', 'timestamptz').schema.fields.at(-1)?.id).toBe(13);
    expect(findField(deleteColumn(base, 'address.zip').schema, 'address')?.type).toEqual({
      type: 'struct',
      fields: [{ id: 6, name: 'city', required: true, type: 'string' }],
    });
  });

  it('protects identifier fields, partition sources (nested too) and the last field', () => {
    expect(failure(() => deleteColumn(base, 'id')).message).toMatch(/"id" is an identifier field/);
    expect(failure(() => deleteColumn(base, 'created_at', { partitionSourceIds: [11] })).message).toMatch(/a partition spec reads "created_at"/);
    expect(failure(() => deleteColumn(base, 'address', { partitionSourceIds: [6] })).message).toMatch(/a partition spec reads "address.city"/);
    expect(failure(() => deleteColumn(base, 'lines.element.sku')).message).toMatch(/no such column|last field of its struct/);
    const single: SchemaVersion = { lastColumnId: 1, schema: { type: 'struct', 'schema-id': 0, fields: [{ id: 1, name: 'only', required: false, type: 'string' }] } };
    expect(failure(() => deleteColumn(single, 'only')).message).toMatch(/it is the last column of the table/);
    const city = deleteColumn(base, 'address.zip');
    expect(failure(() => deleteColumn(city, 'address.city')).message).toMatch(/last field of its struct; delete "address" instead/);
  });
});

describe('setIdentifierFields', () => {
  it('replaces or clears the identifier fields', () => {
    expect(setIdentifierFields(base, ['id', 'quantity']).schema['identifier-field-ids']).toEqual([1, 2]);
    expect(setIdentifierFields(base, []).schema['identifier-field-ids']).toBeUndefined();
    expect(setIdentifierFields(base, ['id'])).toBe(base);
  });

  it('explains why a column cannot identify rows', () => {
    expect(failure(() => setIdentifierFields(base, ['price'])).message).toMatch(/Cannot use as identifier column "price": it is optional/);
    expect(failure(() => setIdentifierFields(base, ['address.city'])).message).toMatch(/it is inside an optional struct/);
    expect(failure(() => setIdentifierFields(base, ['lines.element.sku'])).message).toMatch(/inside a list or map/);
    expect(failure(() => setIdentifierFields(base, ['address'])).message).toMatch(/it is a struct, not a primitive/);
    expect(failure(() => setIdentifierFields(base, ['nope'])).message).toMatch(/has no such column/);
  });
});
