/**
 * Sort orders (spec, "Sorting" and Appendix C): the JSON shape and a builder from column names.
 *
 * @module
 */
import { z } from 'zod';
import { LakehouseError } from '../errors.js';
import { parseOptions } from '../internal/parse-options.js';
import { findField } from '../schema/schema-utils.js';
import type { IcebergSchema } from '../schema/types.js';
import { formatTransform, parseTransform, requireResultType } from './transforms.js';

/**
 * One field of a sort order.
 *
 * @example
 * ```ts
 * const field: SortField = { transform: 'identity', 'source-id': 2, direction: 'asc', 'null-order': 'nulls-first' };
 * ```
 */
export interface SortField {
  /** Transform applied to the source value before comparing, usually `identity`. */
  readonly transform: string;
  /** Field id of the source column. */
  readonly 'source-id': number;
  /** Ascending or descending. */
  readonly direction: 'asc' | 'desc';
  /** Whether nulls come before or after every value. */
  readonly 'null-order': 'nulls-first' | 'nulls-last';
}

/**
 * A sort order as table metadata stores it. Order id 0 is reserved for the unsorted order, which has no fields.
 *
 * @example
 * ```ts
 * const byTime: SortOrder = { 'order-id': 1, fields: [{ transform: 'identity', 'source-id': 3, direction: 'asc', 'null-order': 'nulls-first' }] };
 * ```
 */
export interface SortOrder {
  /** Id of the order within the table; 0 is the unsorted order. */
  readonly 'order-id': number;
  /** Sort keys, most significant first. */
  readonly fields: readonly SortField[];
}

/**
 * The unsorted order (id 0, no fields): what streaming writers declare, since sorting on write is optional.
 *
 * @example
 * ```ts
 * const metadata = { 'sort-orders': [UNSORTED_ORDER], 'default-sort-order-id': 0 };
 * ```
 */
export const UNSORTED_ORDER: SortOrder = Object.freeze({ 'order-id': 0, fields: Object.freeze([]) });

const requestSchema = z.strictObject({
  /** Column to sort by, dotted for nested struct fields. */
  column: z.string().min(1),
  /** Default `asc`. */
  direction: z.enum(['asc', 'desc']).default('asc'),
  /** Where nulls go. Default `first` for `asc` and `last` for `desc` (nulls count as smallest). */
  nulls: z.enum(['first', 'last']).optional(),
  /** Transform applied before comparing, as in partition specs. Default `identity`. */
  transform: z.string().min(1).default('identity'),
});

/**
 * One sort field to build.
 *
 * @interface
 * @example
 * ```ts
 * const newestFirst: SortFieldRequest = { column: 'created_at', direction: 'desc' };
 * ```
 */
export type SortFieldRequest = z.input<typeof requestSchema>;

const optionsSchema = z.strictObject({
  /** Id of the new order; must not be 0 (the unsorted order) unless there are no fields. Default `1`. */
  orderId: z.number().int().nonnegative().default(1),
});

/**
 * Options of {@link buildSortOrder}.
 *
 * @interface
 * @example
 * ```ts
 * const options: BuildSortOrderOptions = { orderId: 2 };
 * ```
 */
export type BuildSortOrderOptions = z.input<typeof optionsSchema>;

function invalidOrder(problem: string): never {
  throw new LakehouseError('INVALID_SORT_ORDER', `Invalid sort order: ${problem}.`);
}

/**
 * Builds a sort order from column names, checking that each column exists, is a primitive outside lists and maps, and
 * suits its transform. No fields gives {@link UNSORTED_ORDER}. Problems throw a `LakehouseError` of code
 * `INVALID_SORT_ORDER` naming the column.
 *
 * @example
 * ```ts
 * buildSortOrder(schema, [{ column: 'customer_id' }, { column: 'created_at', direction: 'desc' }]);
 * // { 'order-id': 1, fields: [
 * //   { transform: 'identity', 'source-id': 2, direction: 'asc', 'null-order': 'nulls-first' },
 * //   { transform: 'identity', 'source-id': 3, direction: 'desc', 'null-order': 'nulls-last' } ] }
 * ```
 */
export function buildSortOrder(schema: IcebergSchema, fields: readonly SortFieldRequest[], options: BuildSortOrderOptions = {}): SortOrder {
  const { orderId } = parseOptions(optionsSchema, 'buildSortOrder', options);
  const requests = parseOptions(z.array(requestSchema), 'buildSortOrder fields', fields);
  if (requests.length === 0) return UNSORTED_ORDER;
  if (orderId === 0) invalidOrder('order id 0 is reserved for the unsorted order; use 1 or higher');
  return {
    'order-id': orderId,
    fields: requests.map((request) => {
      const source = findField(schema, request.column);
      if (source === undefined) invalidOrder(`column "${request.column}" is not in the schema (columns: ${schema.fields.map((field) => field.name).join(', ')})`);
      if (typeof source.type !== 'string') invalidOrder(`column "${request.column}" is a ${source.type.type}; only primitive columns can be sorted by`);
      if (source.inCollection) invalidOrder(`column "${request.column}" is inside a list or map`);
      const transform = parseTransform(request.transform);
      requireResultType(transform, source.type, request.column);
      const nulls = request.nulls ?? (request.direction === 'asc' ? 'first' : 'last');
      return {
        transform: formatTransform(transform),
        'source-id': source.id,
        direction: request.direction,
        'null-order': nulls === 'first' ? 'nulls-first' : 'nulls-last',
      };
    }),
  };
}
