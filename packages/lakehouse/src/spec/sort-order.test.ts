import { describe, expect, it } from 'vitest';
import { LakehouseError } from '../errors.js';
import type { IcebergSchema } from '../schema/types.js';
import { buildSortOrder, UNSORTED_ORDER } from './sort-order.js';

const schema: IcebergSchema = {
  type: 'struct',
  'schema-id': 0,
  fields: [
    { id: 1, name: 'id', required: true, type: 'long' },
    { id: 2, name: 'customer_id', required: false, type: 'string' },
    { id: 3, name: 'created_at', required: false, type: 'timestamptz' },
    { id: 4, name: 'items', required: false, type: { type: 'list', 'element-id': 5, element: 'string', 'element-required': false } },
  ],
};

describe('buildSortOrder', () => {
  it('builds fields with nulls first for ascending and last for descending by default', () => {
    expect(buildSortOrder(schema, [{ column: 'customer_id' }, { column: 'created_at', direction: 'desc' }, { column: 'id', nulls: 'last', transform: 'bucket[4]' }])).toEqual({
      'order-id': 1,
      fields: [
        { transform: 'identity', 'source-id': 2, direction: 'asc', 'null-order': 'nulls-first' },
        { transform: 'identity', 'source-id': 3, direction: 'desc', 'null-order': 'nulls-last' },
        { transform: 'bucket[4]', 'source-id': 1, direction: 'asc', 'null-order': 'nulls-last' },
      ],
    });
  });

  it('gives the unsorted order (id 0) for no fields', () => {
    expect(buildSortOrder(schema, [])).toEqual({ 'order-id': 0, fields: [] });
    expect(UNSORTED_ORDER).toEqual({ 'order-id': 0, fields: [] });
  });

  it('rejects unknown or unsortable columns and the reserved id', () => {
    expect(() => buildSortOrder(schema, [{ column: 'nope' }])).toThrow(/column "nope" is not in the schema/);
    expect(() => buildSortOrder(schema, [{ column: 'items' }])).toThrow(/column "items" is a list/);
    expect(() => buildSortOrder(schema, [{ column: 'customer_id', transform: 'day' }])).toThrow(LakehouseError);
    expect(() => buildSortOrder(schema, [{ column: 'id' }], { orderId: 0 })).toThrow(/order id 0 is reserved/);
    expect(() => buildSortOrder(schema, [{ column: 'id', direction: 'up' as never }])).toThrow(/direction/);
  });
});
