/**
 * Row filters for table scans: an expression model with builders, binding to a schema, evaluation on rows, and the
 * conservative file and partition pruning that scan planning does with manifest statistics.
 *
 * Nulls follow SQL: a comparison with a null value (including `!=`, `not-in` and `not-starts-with`) does not match;
 * only `is-null` matches a null. `not` is pushed down to the predicates when binding, which keeps that rule:
 * `not(lt('a', 5))` is `gte('a', 5)`, and neither matches a null `a`.
 *
 * @module
 */
import { LakehouseError } from '../errors.js';
import { findField, indexByName, structPathOf, valueAtPath } from '../schema/schema-utils.js';
import type { IcebergSchema, PrimitiveType, Row } from '../schema/types.js';
import type { PartitionSpec } from '../spec/partition-spec.js';
import { deserializeLiteral } from '../spec/single-value.js';
import type { LiteralPredicate, Transform } from '../spec/transforms.js';
import { evaluateLiteralPredicate, parseTransform, projectInclusive, transformResultType } from '../spec/transforms.js';
import type { Literal } from '../spec/values.js';
import { compareLiterals, compareStrings, toLiteral } from '../spec/values.js';

/**
 * Operators comparing a column with one value.
 *
 * @example
 * ```ts
 * const op: ComparisonOperator = '>=';
 * const filter: Expression = { op, column: 'amount', value: '100.00' };
 * ```
 */
export type ComparisonOperator = '=' | '!=' | '<' | '<=' | '>' | '>=';

/**
 * A filter on rows. Columns are named as in the schema, dotted for fields of nested structs (`address.city`); values
 * take any form the column's type accepts (see `schema/types.ts`). Build them with {@link eq}, {@link and}, ... or
 * write the objects directly.
 *
 * @example
 * ```ts
 * const recentEuropeanOrders: Expression = {
 *   op: 'and',
 *   left: { op: '>=', column: 'created_at', value: new Date('2024-01-01T00:00:00Z') },
 *   right: { op: 'in', column: 'country', value: ['FR', 'DE'] },
 * };
 * ```
 */
export type Expression =
  | {
      /** A constant: keep every row or none. */
      readonly op: 'true' | 'false';
    }
  | {
      /** Both or either of two expressions. */
      readonly op: 'and' | 'or';
      /** First operand. */
      readonly left: Expression;
      /** Second operand. */
      readonly right: Expression;
    }
  | {
      /** Negation. */
      readonly op: 'not';
      /** The negated expression. */
      readonly child: Expression;
    }
  | {
      /** Comparison of a column with one value (`starts-with` for string columns). */
      readonly op: ComparisonOperator | 'starts-with' | 'not-starts-with';
      /** Column name, dotted for nested struct fields. */
      readonly column: string;
      /** The value, in any form the column's type accepts. */
      readonly value: unknown;
    }
  | {
      /** Membership of a column's value in a list. */
      readonly op: 'in' | 'not-in';
      /** Column name, dotted for nested struct fields. */
      readonly column: string;
      /** The values, in any form the column's type accepts. */
      readonly value: readonly unknown[];
    }
  | {
      /** Nullness of a column. */
      readonly op: 'is-null' | 'not-null';
      /** Column name, dotted for nested struct fields. */
      readonly column: string;
    };

/**
 * A predicate bound to a schema field: the field id (what manifests key statistics by), its type and path, and the
 * predicate with literals in canonical form.
 *
 * @example
 * ```ts
 * const bound = bindExpression(eq('id', 3), schema) as BoundPredicate; // { op: 'predicate', fieldId: 1, ... }
 * ```
 */
export interface BoundPredicate {
  /** Marks a predicate among the and/or/constant nodes. */
  readonly op: 'predicate';
  /** Field id of the column. */
  readonly fieldId: number;
  /** Full dotted column name, for messages. */
  readonly column: string;
  /** Type of the column. */
  readonly type: PrimitiveType;
  /** Names from the row root to the value. */
  readonly path: readonly string[];
  /** The test on the column's value, with literals in canonical form. */
  readonly predicate: LiteralPredicate;
}

/**
 * An expression bound to a schema by {@link bindExpression}: no `not` (pushed into the predicates), constants folded.
 *
 * @example
 * ```ts
 * const bound: BoundExpression = bindExpression(and(eq('id', 3), isNull('deleted_at')), schema);
 * ```
 */
export type BoundExpression =
  | {
      /** A constant: every row matches, or none. */
      readonly op: 'true' | 'false';
    }
  | {
      /** Both or either of two bound expressions. */
      readonly op: 'and' | 'or';
      /** First operand. */
      readonly left: BoundExpression;
      /** Second operand. */
      readonly right: BoundExpression;
    }
  | BoundPredicate;

// ---------------------------------------------------------------------------------------------------------------------
// Builders

/**
 * `column = value`.
 *
 * @example
 * ```ts
 * eq('status', 'shipped');
 * ```
 */
export function eq(column: string, value: unknown): Expression {
  return { op: '=', column, value };
}

/**
 * `column != value` (does not match nulls).
 *
 * @example
 * ```ts
 * notEq('status', 'cancelled');
 * ```
 */
export function notEq(column: string, value: unknown): Expression {
  return { op: '!=', column, value };
}

/**
 * `column < value`.
 *
 * @example
 * ```ts
 * lt('amount', '100.00');
 * ```
 */
export function lt(column: string, value: unknown): Expression {
  return { op: '<', column, value };
}

/**
 * `column <= value`.
 *
 * @example
 * ```ts
 * lte('created_at', new Date('2024-12-31T23:59:59Z'));
 * ```
 */
export function lte(column: string, value: unknown): Expression {
  return { op: '<=', column, value };
}

/**
 * `column > value`.
 *
 * @example
 * ```ts
 * gt('id', 1000n);
 * ```
 */
export function gt(column: string, value: unknown): Expression {
  return { op: '>', column, value };
}

/**
 * `column >= value`.
 *
 * @example
 * ```ts
 * gte('created_at', '2024-01-01T00:00:00Z');
 * ```
 */
export function gte(column: string, value: unknown): Expression {
  return { op: '>=', column, value };
}

/**
 * `column IN (values...)`.
 *
 * @example
 * ```ts
 * isIn('country', ['FR', 'DE']);
 * ```
 */
export function isIn(column: string, values: readonly unknown[]): Expression {
  return { op: 'in', column, value: values };
}

/**
 * `column NOT IN (values...)` (does not match nulls).
 *
 * @example
 * ```ts
 * notIn('status', ['cancelled', 'refunded']);
 * ```
 */
export function notIn(column: string, values: readonly unknown[]): Expression {
  return { op: 'not-in', column, value: values };
}

/**
 * `column IS NULL`.
 *
 * @example
 * ```ts
 * isNull('deleted_at');
 * ```
 */
export function isNull(column: string): Expression {
  return { op: 'is-null', column };
}

/**
 * `column IS NOT NULL`.
 *
 * @example
 * ```ts
 * notNull('email');
 * ```
 */
export function notNull(column: string): Expression {
  return { op: 'not-null', column };
}

/**
 * String `column` starts with `prefix`.
 *
 * @example
 * ```ts
 * startsWith('sku', 'EU-');
 * ```
 */
export function startsWith(column: string, prefix: string): Expression {
  return { op: 'starts-with', column, value: prefix };
}

/**
 * String `column` does not start with `prefix` (does not match nulls).
 *
 * @example
 * ```ts
 * notStartsWith('sku', 'TEST-');
 * ```
 */
export function notStartsWith(column: string, prefix: string): Expression {
  return { op: 'not-starts-with', column, value: prefix };
}

/**
 * All of the expressions (`true` for none).
 *
 * @example
 * ```ts
 * and(eq('country', 'FR'), gte('amount', 100), notNull('email'));
 * ```
 */
export function and(...expressions: readonly Expression[]): Expression {
  if (expressions.length === 0) return { op: 'true' };
  return expressions.reduce((left, right) => ({ op: 'and', left, right }));
}

/**
 * Any of the expressions (`false` for none).
 *
 * @example
 * ```ts
 * or(eq('status', 'new'), eq('status', 'paid'));
 * ```
 */
export function or(...expressions: readonly Expression[]): Expression {
  if (expressions.length === 0) return { op: 'false' };
  return expressions.reduce((left, right) => ({ op: 'or', left, right }));
}

/**
 * The negation of an expression.
 *
 * @example
 * ```ts
 * not(isIn('status', ['cancelled', 'refunded']));
 * ```
 */
export function not(child: Expression): Expression {
  return { op: 'not', child };
}

/**
 * The filter that keeps every row.
 *
 * @example
 * ```ts
 * const filter = userFilter ?? alwaysTrue();
 * ```
 */
export function alwaysTrue(): Expression {
  return { op: 'true' };
}

/**
 * The filter that keeps no row.
 *
 * @example
 * ```ts
 * const filter = ids.length === 0 ? alwaysFalse() : isIn('id', ids);
 * ```
 */
export function alwaysFalse(): Expression {
  return { op: 'false' };
}

// ---------------------------------------------------------------------------------------------------------------------
// Binding

const TRUE: BoundExpression = Object.freeze({ op: 'true' });
const FALSE: BoundExpression = Object.freeze({ op: 'false' });

function invalidFilter(problem: string, cause?: unknown): never {
  throw new LakehouseError('INVALID_FILTER', `Invalid filter: ${problem}.`, { cause });
}

const NEGATED = {
  '=': '!=',
  '!=': '=',
  '<': '>=',
  '>=': '<',
  '<=': '>',
  '>': '<=',
  in: 'not-in',
  'not-in': 'in',
  'is-null': 'not-null',
  'not-null': 'is-null',
  'starts-with': 'not-starts-with',
  'not-starts-with': 'starts-with',
} as const;

function describeOp(expression: unknown): string {
  const op = typeof expression === 'object' && expression !== null ? (expression as { op?: unknown }).op : undefined;
  return typeof op === 'string' ? JSON.stringify(op) : 'no op';
}

function bindNode(expression: Expression, negate: boolean, schema: IcebergSchema): BoundExpression {
  if (typeof expression !== 'object' || expression === null) invalidFilter(`expected an expression object, got ${expression === null ? 'null' : typeof expression}`);
  switch (expression.op) {
    case 'true':
      return negate ? FALSE : TRUE;
    case 'false':
      return negate ? TRUE : FALSE;
    case 'not':
      return bindNode(expression.child, !negate, schema);
    case 'and':
    case 'or': {
      // De Morgan: not(a and b) = not a or not b, which is exact under SQL's null rules.
      const op = (expression.op === 'and') !== negate ? 'and' : 'or';
      const left = bindNode(expression.left, negate, schema);
      const right = bindNode(expression.right, negate, schema);
      if (op === 'and') {
        if (left.op === 'false' || right.op === 'false') return FALSE;
        if (left.op === 'true') return right;
        if (right.op === 'true') return left;
      } else {
        if (left.op === 'true' || right.op === 'true') return TRUE;
        if (left.op === 'false') return right;
        if (right.op === 'false') return left;
      }
      return { op, left, right };
    }
    default:
      if (!(expression.op in NEGATED)) {
        invalidFilter(`unknown operator ${describeOp(expression)}; use and, or, not, =, !=, <, <=, >, >=, in, not-in, is-null, not-null, starts-with, not-starts-with, true or false`);
      }
      return bindPredicate(expression, negate ? NEGATED[expression.op] : expression.op, schema);
  }
}

function suggestion(schema: IcebergSchema, column: string): string {
  const names = [...indexByName(schema).keys()];
  const lower = column.toLowerCase();
  const close = names.find((name) => name.toLowerCase() === lower);
  if (close !== undefined) return ` (did you mean "${close}"? names are case-sensitive)`;
  return ` (columns: ${schema.fields.map((field) => field.name).join(', ')})`;
}

type PredicateExpression = Extract<Expression, { readonly column: string }>;

function bindPredicate(expression: PredicateExpression, op: keyof typeof NEGATED, schema: IcebergSchema): BoundExpression {
  const column = expression.column;
  if (typeof column !== 'string') invalidFilter(`the ${describeOp(expression)} predicate has no column name`);
  const field = findField(schema, column);
  if (field === undefined) invalidFilter(`column "${column}" is not in the table schema${suggestion(schema, column)}`);
  if (typeof field.type !== 'string') invalidFilter(`column "${column}" is a ${field.type.type}; filters compare primitive columns only`);
  if (field.inCollection) invalidFilter(`column "${column}" is inside a list or map; filters reach struct fields only`);
  const type = field.type;
  const path = structPathOf(schema, field.id)!;
  const bound = (predicate: LiteralPredicate): BoundPredicate => ({ op: 'predicate', fieldId: field.id, column: field.name, type, path, predicate });
  const neverNull = field.required && !field.optionalAncestor;
  const literal = (value: unknown): Literal => {
    if (value === null || value === undefined) {
      invalidFilter(`the ${op} predicate on column "${column}" has no value; to find nulls use isNull('${column}') or notNull('${column}')`);
    }
    const result = toLiteral(type, value, column);
    if (typeof result === 'number' && Number.isNaN(result)) invalidFilter(`the ${op} predicate on column "${column}" compares with NaN, which matches nothing`);
    return result;
  };
  switch (op) {
    case 'is-null':
      return neverNull ? FALSE : bound({ op });
    case 'not-null':
      return neverNull ? TRUE : bound({ op });
    case 'in':
    case 'not-in': {
      const values = (expression as { readonly value?: unknown }).value;
      if (!Array.isArray(values)) invalidFilter(`the ${op} predicate on column "${column}" needs an array of values`);
      const literals: Literal[] = [];
      for (const value of values as unknown[]) {
        const item = literal(value);
        if (!literals.some((existing) => compareLiterals(existing, item) === 0)) literals.push(item);
      }
      // An empty list is constant; one value is a plain comparison (cheaper to prune with).
      if (literals.length === 0) return op === 'in' ? FALSE : TRUE;
      if (literals.length === 1) return bound({ op: op === 'in' ? '=' : '!=', literal: literals[0]! });
      return bound({ op, literals });
    }
    case 'starts-with':
    case 'not-starts-with': {
      const value = (expression as { readonly value?: unknown }).value;
      if (type !== 'string') invalidFilter(`${op} needs a string column; "${column}" is ${type}`);
      if (typeof value !== 'string') invalidFilter(`the ${op} predicate on column "${column}" needs a string prefix`);
      return bound({ op, literal: value });
    }
    default:
      return bound({ op, literal: literal((expression as { readonly value?: unknown }).value) });
  }
}

/**
 * Binds an expression to a schema: resolves each column to its field id (what file statistics and partition specs
 * use), converts each value to the column's type, pushes `not` down to the predicates and folds constants. Unknown
 * columns, non-primitive columns, missing values and values that do not fit the column throw a `LakehouseError`
 * (code `INVALID_FILTER`, or `INVALID_VALUE` for a value) naming the column.
 *
 * @example
 * ```ts
 * const bound = bindExpression(and(gte('created_at', '2024-01-01T00:00:00Z'), eq('country', 'FR')), schema);
 * ```
 */
export function bindExpression(expression: Expression, schema: IcebergSchema): BoundExpression {
  return bindNode(expression, false, schema);
}

// ---------------------------------------------------------------------------------------------------------------------
// Rows

/**
 * Whether a row (column name to value, nested structs as objects) matches a bound expression.
 *
 * @example
 * ```ts
 * const bound = bindExpression(gt('amount', 100), schema);
 * rows.filter((row) => evaluateRow(bound, row));
 * ```
 */
export function evaluateRow(bound: BoundExpression, row: Row): boolean {
  switch (bound.op) {
    case 'true':
      return true;
    case 'false':
      return false;
    case 'and':
      return evaluateRow(bound.left, row) && evaluateRow(bound.right, row);
    case 'or':
      return evaluateRow(bound.left, row) || evaluateRow(bound.right, row);
    case 'predicate': {
      const value = valueAtPath(row, bound.path);
      return evaluateLiteralPredicate(bound.predicate, value === null || value === undefined ? null : toLiteral(bound.type, value, bound.column));
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Files

/**
 * Statistics keyed by field id, as a `Map` or a plain object.
 *
 * @example
 * ```ts
 * const nullCounts: MetricsByFieldId<number> = new Map([[1, 0], [2, 5]]);
 * ```
 */
export type MetricsByFieldId<T> = ReadonlyMap<number, T> | Readonly<Record<number, T>>;

/**
 * What a manifest knows about one file's columns, keyed by field id (the `DataFile` fields of the same names). Bounds
 * may be serialized bytes (as manifests store them) or values; anything missing just prunes less.
 *
 * @example
 * ```ts
 * const metrics: FileMetrics = { recordCount: 10, nullValueCounts: new Map([[1, 0]]), lowerBounds: new Map([[1, 5n]]) };
 * ```
 */
export interface FileMetrics {
  /** Rows in the file; 0 means nothing can match. */
  readonly recordCount?: number | undefined;
  /** Values per column, nulls and NaNs included. */
  readonly valueCounts?: MetricsByFieldId<number> | undefined;
  /** Null values per column. */
  readonly nullValueCounts?: MetricsByFieldId<number> | undefined;
  /** NaN values per float or double column. */
  readonly nanValueCounts?: MetricsByFieldId<number> | undefined;
  /** Lower bounds: single-value serialized bytes or values; string and binary bounds may be truncated prefixes. */
  readonly lowerBounds?: MetricsByFieldId<unknown> | undefined;
  /** Upper bounds, in the same forms; truncated string and binary bounds are rounded up. */
  readonly upperBounds?: MetricsByFieldId<unknown> | undefined;
}

function lookup<T>(metrics: MetricsByFieldId<T> | undefined, id: number): T | undefined {
  if (metrics === undefined) return undefined;
  if (metrics instanceof Map) return (metrics as ReadonlyMap<number, T>).get(id);
  return (metrics as Readonly<Record<number, T>>)[id];
}

// Bytes are the serialized form for every type but binary and fixed, whose serialized form is the value itself.
function boundLiteral(type: PrimitiveType, raw: unknown): Literal | undefined {
  if (raw === null || raw === undefined) return undefined;
  try {
    const literal = raw instanceof Uint8Array && type !== 'binary' && !type.startsWith('fixed') ? deserializeLiteral(type, raw) : toLiteral(type, raw);
    return typeof literal === 'number' && Number.isNaN(literal) ? undefined : literal;
  } catch {
    // A bound we cannot read proves nothing; the file stays in the scan.
    return undefined;
  }
}

function firstCodePoints(text: string, count: number): string {
  let taken = 0;
  let end = 0;
  for (const character of text) {
    if (taken === count) break;
    taken++;
    end += character.length;
  }
  return text.slice(0, end);
}

function fileMightMatch(bound: BoundPredicate, metrics: FileMetrics): boolean {
  const id = bound.fieldId;
  const predicate = bound.predicate;
  const valueCount = lookup(metrics.valueCounts, id);
  const nullCount = lookup(metrics.nullValueCounts, id);
  const nanCount = lookup(metrics.nanValueCounts, id);
  if (predicate.op === 'is-null') return nullCount === undefined || nullCount > 0;
  const allNull = valueCount !== undefined && nullCount !== undefined && nullCount >= valueCount;
  // Every other predicate needs a non-null value.
  if (allNull) return false;
  if (predicate.op === 'not-null' || predicate.op === '!=' || predicate.op === 'not-in') return true;
  if (valueCount !== undefined && nanCount !== undefined && (nullCount ?? 0) + nanCount >= valueCount) {
    // Only nulls and NaNs: no ordered comparison or equality can hold (NaN literals are refused when binding).
    return predicate.op === 'not-starts-with';
  }
  // UUID bounds are ordered differently by different writers (signed and unsigned 64-bit halves): never prune on them.
  if (bound.type === 'uuid') return true;
  const lower = boundLiteral(bound.type, lookup(metrics.lowerBounds, id));
  const upper = boundLiteral(bound.type, lookup(metrics.upperBounds, id));
  switch (predicate.op) {
    case '<':
      return lower === undefined || compareLiterals(lower, predicate.literal) < 0;
    case '<=':
      return lower === undefined || compareLiterals(lower, predicate.literal) <= 0;
    case '>':
      return upper === undefined || compareLiterals(upper, predicate.literal) > 0;
    case '>=':
      return upper === undefined || compareLiterals(upper, predicate.literal) >= 0;
    case '=':
      return (lower === undefined || compareLiterals(lower, predicate.literal) <= 0) && (upper === undefined || compareLiterals(upper, predicate.literal) >= 0);
    case 'in':
      return predicate.literals.some(
        (literal) => (lower === undefined || compareLiterals(lower, literal) <= 0) && (upper === undefined || compareLiterals(upper, literal) >= 0),
      );
    case 'starts-with': {
      const prefix = predicate.literal as string;
      const length = Array.from(prefix).length;
      // Cutting a bound to the prefix length keeps its order against every string with that prefix.
      if (typeof lower === 'string' && compareStrings(firstCodePoints(lower, length), prefix) > 0) return false;
      if (typeof upper === 'string' && compareStrings(firstCodePoints(upper, length), prefix) < 0) return false;
      return true;
    }
    case 'not-starts-with': {
      const prefix = predicate.literal as string;
      // Strings starting with the prefix form one interval; if both bounds lie in it, so does every value.
      return !(typeof lower === 'string' && typeof upper === 'string' && lower.startsWith(prefix) && upper.startsWith(prefix));
    }
  }
}

/**
 * Whether a data file may hold rows matching a bound expression, judged from its statistics. Conservative: `false`
 * only when the statistics prove no row can match (so the scan may skip the file), `true` otherwise.
 *
 * @example
 * ```ts
 * const bound = bindExpression(gt('id', 1000n), schema);
 * const files = dataFiles.filter((file) => canContainFile(bound, file));
 * ```
 */
export function canContainFile(bound: BoundExpression, metrics: FileMetrics): boolean {
  if (metrics.recordCount === 0) return false;
  const visit = (node: BoundExpression): boolean => {
    switch (node.op) {
      case 'true':
        return true;
      case 'false':
        return false;
      case 'and':
        return visit(node.left) && visit(node.right);
      case 'or':
        return visit(node.left) || visit(node.right);
      case 'predicate':
        return fileMightMatch(node, metrics);
    }
  };
  return visit(bound);
}

// ---------------------------------------------------------------------------------------------------------------------
// Partitions

interface PartitionSource {
  readonly index: number;
  readonly transform: Transform;
}

const sourcesCache = new WeakMap<PartitionSpec, ReadonlyMap<number, readonly PartitionSource[]>>();

function sourcesOf(spec: PartitionSpec): ReadonlyMap<number, readonly PartitionSource[]> {
  let sources = sourcesCache.get(spec);
  if (sources === undefined) {
    const bySource = new Map<number, PartitionSource[]>();
    spec.fields.forEach((field, index) => {
      let transform: Transform;
      try {
        transform = parseTransform(field.transform);
      } catch {
        // Readers ignore partition fields with transforms they do not know (spec, "Partitioning").
        return;
      }
      const list = bySource.get(field['source-id']) ?? [];
      list.push({ index, transform });
      bySource.set(field['source-id'], list);
    });
    sources = bySource;
    sourcesCache.set(spec, sources);
  }
  return sources;
}

function partitionLiteral(type: PrimitiveType, value: unknown): Literal | null | undefined {
  if (value === null || value === undefined) return null;
  try {
    return toLiteral(type, value);
  } catch {
    return undefined;
  }
}

/**
 * Whether a partition (the tuple of a file's partition values under `spec`, in spec field order, in any accepted form
 * such as the literals `partitionValues` gives or the values manifests store) may hold rows matching a bound
 * expression. Each predicate is projected through every partition field of its column (`projectInclusive`);
 * conservative: `false` only when a projection proves no row can match.
 *
 * @example
 * ```ts
 * const bound = bindExpression(gte('created_at', '2024-03-01T00:00:00Z'), schema);
 * canContainPartition(bound, spec, schema, [19700]); // false: day 19700 is 2023-12-09
 * ```
 */
export function canContainPartition(bound: BoundExpression, spec: PartitionSpec, _schema: IcebergSchema, values: readonly unknown[]): boolean {
  if (spec.fields.length === 0) return true;
  const sources = sourcesOf(spec);
  const visit = (node: BoundExpression): boolean => {
    switch (node.op) {
      case 'true':
        return true;
      case 'false':
        return false;
      case 'and':
        return visit(node.left) && visit(node.right);
      case 'or':
        return visit(node.left) || visit(node.right);
      case 'predicate': {
        for (const source of sources.get(node.fieldId) ?? []) {
          const resultType = transformResultType(source.transform, node.type);
          if (resultType === undefined) continue;
          const projected = projectInclusive(source.transform, node.type, node.predicate);
          if (projected === true) continue;
          const value = partitionLiteral(resultType, values[source.index]);
          if (value !== undefined && !evaluateLiteralPredicate(projected, value)) return false;
        }
        return true;
      }
    }
  };
  return visit(bound);
}

// ---------------------------------------------------------------------------------------------------------------------
// Text

function formatValue(value: unknown): string {
  if (typeof value === 'string') return `'${value.replaceAll("'", "''")}'`;
  if (typeof value === 'bigint') return String(value);
  if (value instanceof Date) return `'${value.toISOString()}'`;
  if (value instanceof Uint8Array) return `X'${Array.from(value, (byte) => byte.toString(16).padStart(2, '0')).join('')}'`;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value) ?? 'undefined';
}

/**
 * A SQL-like rendering of an expression for logs and messages.
 *
 * @example
 * ```ts
 * formatExpression(and(eq('country', 'FR'), not(isNull('email')))); // "(country = 'FR' AND NOT (email IS NULL))"
 * ```
 */
export function formatExpression(expression: Expression): string {
  switch (expression.op) {
    case 'true':
      return 'TRUE';
    case 'false':
      return 'FALSE';
    case 'and':
    case 'or':
      return `(${formatExpression(expression.left)} ${expression.op.toUpperCase()} ${formatExpression(expression.right)})`;
    case 'not':
      return `NOT (${formatExpression(expression.child)})`;
    case 'is-null':
      return `${expression.column} IS NULL`;
    case 'not-null':
      return `${expression.column} IS NOT NULL`;
    case 'in':
    case 'not-in':
      return `${expression.column} ${expression.op === 'in' ? 'IN' : 'NOT IN'} (${expression.value.map(formatValue).join(', ')})`;
    case 'starts-with':
      return `${expression.column} STARTS WITH ${formatValue(expression.value)}`;
    case 'not-starts-with':
      return `${expression.column} NOT STARTS WITH ${formatValue(expression.value)}`;
    default:
      return `${expression.column} ${expression.op} ${formatValue(expression.value)}`;
  }
}
