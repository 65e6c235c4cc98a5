/**
 * The orders table the lakehouse conformance suites write: one column of each common type, and a deterministic row
 * generator (nulls, decimals with exact scale, timestamps with milliseconds, dates).
 */
import type { IcebergSchema, Row } from '../../src/schema/types.js';

export const ordersSchema: IcebergSchema = {
  type: 'struct',
  'schema-id': 0,
  'identifier-field-ids': [1],
  fields: [
    { id: 1, name: 'order_id', required: true, type: 'long' },
    { id: 2, name: 'customer', required: false, type: 'string' },
    { id: 3, name: 'quantity', required: false, type: 'int' },
    { id: 4, name: 'amount', required: false, type: 'decimal(12, 2)' },
    { id: 5, name: 'created_at', required: false, type: 'timestamptz' },
    { id: 6, name: 'day', required: false, type: 'date' },
    { id: 7, name: 'paid', required: false, type: 'boolean' },
    { id: 8, name: 'score', required: false, type: 'double' },
  ],
};

/** `count` rows with order ids from `start`; `customerShift` changes the customer names (an update of the same ids). */
export function makeOrderRows(count: number, start = 0, customerShift = 0): Row[] {
  return Array.from({ length: count }, (_, i) => {
    const id = start + i;
    const created = Date.UTC(2026, 0, 1) + id * 3_600_000 * 7 + (id % 1000);
    return {
      order_id: id,
      customer: id % 7 === 0 ? null : `customer-${(id + customerShift) % 13}`,
      quantity: id % 5,
      amount: `${Math.floor(id * 1.37)}.${String(id % 100).padStart(2, '0')}`,
      created_at: new Date(created),
      day: new Date(created).toISOString().slice(0, 10),
      paid: id % 2 === 0,
      score: id / 8,
    };
  });
}
