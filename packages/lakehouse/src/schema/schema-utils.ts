/**
 * Lookups and checks over an {@link IcebergSchema}: fields by id or name, type parameters, and the rules a schema must
 * satisfy before it is written to table metadata.
 *
 * @module
 */
import { LakehouseError } from '../errors.js';
import type { IcebergSchema, IcebergType, NestedField, PrimitiveType, StructType } from './types.js';

/**
 * Highest field id a table may use; ids above it are reserved for metadata columns such as `_file` and `_pos`
 * (spec, "Reserved Field IDs").
 *
 * @example
 * ```ts
 * if (nextId > MAX_FIELD_ID) throw new Error('no field ids left');
 * ```
 */
export const MAX_FIELD_ID = 2_147_483_447;

/**
 * Largest decimal precision Iceberg allows.
 *
 * @example
 * ```ts
 * const widest = `decimal(${MAX_DECIMAL_PRECISION}, 2)`; // 'decimal(38, 2)'
 * ```
 */
export const MAX_DECIMAL_PRECISION = 38;

const SIMPLE_PRIMITIVES: ReadonlySet<string> = new Set([
  'boolean',
  'int',
  'long',
  'float',
  'double',
  'date',
  'time',
  'timestamp',
  'timestamptz',
  'string',
  'uuid',
  'binary',
]);

const DECIMAL_PATTERN = /^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$/;
const FIXED_PATTERN = /^fixed\[\s*(\d+)\s*\]$/;

/**
 * Whether `type` is an Iceberg primitive type string this library supports (including `decimal(P, S)` with
 * `0 < P <= 38`, `0 <= S <= P`, and `fixed[L]` with `L > 0`).
 *
 * @example
 * ```ts
 * isPrimitiveType('decimal(12, 2)'); // true
 * isPrimitiveType('varchar'); // false
 * ```
 */
export function isPrimitiveType(type: unknown): type is PrimitiveType {
  if (typeof type !== 'string') return false;
  if (SIMPLE_PRIMITIVES.has(type)) return true;
  const decimal = DECIMAL_PATTERN.exec(type);
  if (decimal !== null) {
    const precision = Number(decimal[1]);
    const scale = Number(decimal[2]);
    return precision > 0 && precision <= MAX_DECIMAL_PRECISION && scale <= precision;
  }
  const fixed = FIXED_PATTERN.exec(type);
  return fixed !== null && Number(fixed[1]) > 0;
}

/**
 * The primitive type of `type`, or `undefined` for a struct, list or map.
 *
 * @example
 * ```ts
 * primitiveOf('long'); // 'long'
 * primitiveOf({ type: 'list', 'element-id': 3, element: 'string', 'element-required': false }); // undefined
 * ```
 */
export function primitiveOf(type: IcebergType): PrimitiveType | undefined {
  return typeof type === 'string' ? type : undefined;
}

/**
 * Precision and scale of a `decimal(P, S)` type (either spelling, `decimal(9,2)` or `decimal(9, 2)`), or `undefined`
 * for any other type.
 *
 * @example
 * ```ts
 * decimalOf('decimal(12, 2)'); // { precision: 12, scale: 2 }
 * ```
 */
export function decimalOf(type: IcebergType): { readonly precision: number; readonly scale: number } | undefined {
  if (typeof type !== 'string') return undefined;
  const match = DECIMAL_PATTERN.exec(type);
  if (match === null) return undefined;
  return { precision: Number(match[1]), scale: Number(match[2]) };
}

/**
 * Length in bytes of a `fixed[L]` type, or `undefined` for any other type.
 *
 * @example
 * ```ts
 * fixedLengthOf('fixed[16]'); // 16
 * ```
 */
export function fixedLengthOf(type: IcebergType): number | undefined {
  if (typeof type !== 'string') return undefined;
  const match = FIXED_PATTERN.exec(type);
  return match === null ? undefined : Number(match[1]);
}

/**
 * Fewest bytes a two's-complement integer needs to hold every unscaled value of `decimal(precision, S)`: the size of
 * the Avro and Parquet `fixed` a decimal is stored in.
 *
 * @example
 * ```ts
 * decimalRequiredBytes(9); // 4
 * decimalRequiredBytes(38); // 16
 * ```
 */
export function decimalRequiredBytes(precision: number): number {
  const largest = 10n ** BigInt(precision) - 1n;
  let bytes = 1;
  while (largest >= 1n << BigInt(8 * bytes - 1)) bytes++;
  return bytes;
}

/**
 * A field, list element or map key/value of a schema, with where it sits.
 *
 * @example
 * ```ts
 * const field = findField(schema, 'address.city');
 * if (field?.inCollection === false) console.log(field.id, field.type);
 * ```
 */
export interface IndexedField {
  /** Field id (or element, key or value id). */
  readonly id: number;
  /** Full dotted name: `address.city`; list elements end in `.element`, map parts in `.key` / `.value`. */
  readonly name: string;
  /** Type of the field's values. */
  readonly type: IcebergType;
  /** Whether the field itself may not hold null (map keys are always required). */
  readonly required: boolean;
  /** The struct field itself; absent for list elements and map keys/values. */
  readonly field?: NestedField | undefined;
  /** Id of the enclosing field, list or map; absent at the top level. */
  readonly parentId?: number | undefined;
  /** Whether a list or map lies on the way from the schema root (such fields cannot be partition or identifier sources). */
  readonly inCollection: boolean;
  /** Whether an optional struct encloses the field (its value can be null even when it is required). */
  readonly optionalAncestor: boolean;
}

interface WalkState {
  readonly prefix: string;
  readonly parentId: number | undefined;
  readonly inCollection: boolean;
  readonly optionalAncestor: boolean;
}

function walk(type: IcebergType, state: WalkState, visit: (entry: IndexedField) => void): void {
  if (typeof type === 'string') return;
  const join = (name: string) => (state.prefix === '' ? name : `${state.prefix}.${name}`);
  if (type.type === 'struct') {
    for (const field of type.fields) {
      const entry: IndexedField = {
        id: field.id,
        name: join(field.name),
        type: field.type,
        required: field.required,
        field,
        parentId: state.parentId,
        inCollection: state.inCollection,
        optionalAncestor: state.optionalAncestor,
      };
      visit(entry);
      walk(
        field.type,
        {
          prefix: entry.name,
          parentId: field.id,
          inCollection: state.inCollection,
          optionalAncestor: state.optionalAncestor || !field.required,
        },
        visit,
      );
    }
  } else if (type.type === 'list') {
    const entry: IndexedField = {
      id: type['element-id'],
      name: join('element'),
      type: type.element,
      required: type['element-required'],
      parentId: state.parentId,
      inCollection: true,
      optionalAncestor: state.optionalAncestor,
    };
    visit(entry);
    walk(type.element, { prefix: entry.name, parentId: entry.id, inCollection: true, optionalAncestor: state.optionalAncestor }, visit);
  } else {
    const key: IndexedField = {
      id: type['key-id'],
      name: join('key'),
      type: type.key,
      required: true,
      parentId: state.parentId,
      inCollection: true,
      optionalAncestor: state.optionalAncestor,
    };
    const value: IndexedField = {
      id: type['value-id'],
      name: join('value'),
      type: type.value,
      required: type['value-required'],
      parentId: state.parentId,
      inCollection: true,
      optionalAncestor: state.optionalAncestor,
    };
    visit(key);
    walk(type.key, { prefix: key.name, parentId: key.id, inCollection: true, optionalAncestor: state.optionalAncestor }, visit);
    visit(value);
    walk(type.value, { prefix: value.name, parentId: value.id, inCollection: true, optionalAncestor: state.optionalAncestor }, visit);
  }
}

/**
 * Calls `visit` for every field id of a schema or type, parents before children.
 *
 * @example
 * ```ts
 * const ids: number[] = [];
 * visitFields(schema, (field) => ids.push(field.id));
 * ```
 */
export function visitFields(schema: IcebergSchema | StructType, visit: (entry: IndexedField) => void): void {
  walk({ type: 'struct', fields: schema.fields }, { prefix: '', parentId: undefined, inCollection: false, optionalAncestor: false }, visit);
}

/**
 * Every field of a schema by id, nested fields, list elements and map keys/values included.
 *
 * @example
 * ```ts
 * const byId = indexById(schema);
 * byId.get(1)?.name; // 'order_id'
 * ```
 */
export function indexById(schema: IcebergSchema | StructType): ReadonlyMap<number, IndexedField> {
  const index = new Map<number, IndexedField>();
  visitFields(schema, (entry) => {
    if (!index.has(entry.id)) index.set(entry.id, entry);
  });
  return index;
}

/**
 * Every field of a schema by full dotted name (`address.city`, `tags.element`, `attributes.key`).
 *
 * @example
 * ```ts
 * indexByName(schema).get('address.city')?.id; // 7
 * ```
 */
export function indexByName(schema: IcebergSchema | StructType): ReadonlyMap<string, IndexedField> {
  const index = new Map<string, IndexedField>();
  visitFields(schema, (entry) => {
    if (!index.has(entry.name)) index.set(entry.name, entry);
  });
  return index;
}

/**
 * Looks a field up by its full dotted name (case-sensitive), or `undefined` when the schema has none.
 *
 * @example
 * ```ts
 * findField(schema, 'order_id')?.id; // 1
 * ```
 */
export function findField(schema: IcebergSchema | StructType, name: string): IndexedField | undefined {
  // Top-level names are by far the most common lookups; avoid building the whole index for them.
  const top = schema.fields.find((field) => field.name === name);
  if (top !== undefined) {
    return { id: top.id, name: top.name, type: top.type, required: top.required, field: top, inCollection: false, optionalAncestor: false };
  }
  return indexByName(schema).get(name);
}

/**
 * Names from the schema root to a field that is reachable through structs only (top-level columns and fields of nested
 * structs), or `undefined` when the id is unknown or lies inside a list or map. Unlike the dotted name it stays exact
 * when a name contains `.`.
 *
 * @example
 * ```ts
 * structPathOf(schema, 7); // ['address', 'city']
 * ```
 */
export function structPathOf(schema: IcebergSchema | StructType, id: number): readonly string[] | undefined {
  const search = (fields: readonly NestedField[], prefix: readonly string[]): readonly string[] | undefined => {
    for (const field of fields) {
      const path = [...prefix, field.name];
      if (field.id === id) return path;
      if (typeof field.type !== 'string' && field.type.type === 'struct') {
        const found = search(field.type.fields, path);
        if (found !== undefined) return found;
      }
    }
    return undefined;
  };
  return search(schema.fields, []);
}

/**
 * Highest field id used anywhere in a schema (0 for a schema without fields). A table's `last-column-id` is at least
 * this; it can be higher when columns were deleted, and new ids must come after the table's value, not this one.
 *
 * @example
 * ```ts
 * lastColumnId(schema); // 2
 * ```
 */
export function lastColumnId(schema: IcebergSchema | StructType): number {
  let last = 0;
  visitFields(schema, (entry) => {
    if (entry.id > last) last = entry.id;
  });
  return last;
}

/**
 * Why a field cannot identify rows (spec, "Identifier Field IDs"), or `undefined` when it can: identifier fields are
 * required primitives other than float/double, outside lists and maps and outside optional structs.
 *
 * @example
 * ```ts
 * identifierProblem(findField(schema, 'amount')!); // 'it is optional'
 * ```
 */
export function identifierProblem(entry: IndexedField): string | undefined {
  if (typeof entry.type !== 'string') return `it is a ${entry.type.type}, not a primitive`;
  if (entry.type === 'float' || entry.type === 'double') return `it is a ${entry.type} (floating-point values cannot identify rows)`;
  if (entry.inCollection) return 'it is inside a list or map';
  if (!entry.required) return 'it is optional';
  if (entry.optionalAncestor) return 'it is inside an optional struct';
  return undefined;
}

function invalidSchema(problem: string): never {
  throw new LakehouseError('INVALID_SCHEMA', `Invalid Iceberg schema: ${problem}.`);
}

function checkType(type: IcebergType, where: string): void {
  if (typeof type === 'string') {
    if (!isPrimitiveType(type)) {
      invalidSchema(
        `${where} has type ${JSON.stringify(type)}, which is not an Iceberg primitive ` +
          `(boolean, int, long, float, double, decimal(P, S) with P <= 38, date, time, timestamp, timestamptz, string, uuid, fixed[L], binary)`,
      );
    }
    return;
  }
  if (type.type === 'struct') {
    const names = new Set<string>();
    for (const field of type.fields) {
      if (field.name === '') invalidSchema(`${where} has a field with an empty name`);
      if (names.has(field.name)) invalidSchema(`${where} has two fields named "${field.name}"; names must be unique within a struct`);
      names.add(field.name);
    }
  } else if (type.type !== 'list' && type.type !== 'map') {
    invalidSchema(`${where} has an unknown type ${JSON.stringify(type)}`);
  }
}

/**
 * Checks the rules a schema must satisfy before it goes into table metadata, and throws a `LakehouseError` of code
 * `INVALID_SCHEMA` naming the first problem: known types, ids positive, unique and not reserved, field names unique
 * per struct, identifier fields present and able to identify rows.
 *
 * @example
 * ```ts
 * validateSchema({ type: 'struct', 'schema-id': 0, fields: [{ id: 1, name: 'id', required: true, type: 'long' }] });
 * ```
 */
export function validateSchema(schema: IcebergSchema): void {
  if (!Number.isInteger(schema['schema-id']) || schema['schema-id'] < 0) invalidSchema(`schema-id must be a non-negative integer, got ${String(schema['schema-id'])}`);
  checkType({ type: 'struct', fields: schema.fields }, 'the schema');
  const byId = new Map<number, string>();
  const names = new Set<string>();
  visitFields(schema, (entry) => {
    if (!Number.isInteger(entry.id) || entry.id <= 0 || entry.id > MAX_FIELD_ID) {
      invalidSchema(`field "${entry.name}" has id ${String(entry.id)}; ids must be integers from 1 to ${MAX_FIELD_ID}`);
    }
    const previous = byId.get(entry.id);
    if (previous !== undefined) invalidSchema(`fields "${previous}" and "${entry.name}" share the id ${entry.id}; every id must be unique`);
    byId.set(entry.id, entry.name);
    if (names.has(entry.name)) invalidSchema(`two fields have the full name "${entry.name}" (a field name containing "." collides with a nested field)`);
    names.add(entry.name);
    checkType(entry.type, `field "${entry.name}"`);
    if (entry.field !== undefined && entry.field.doc !== undefined && typeof entry.field.doc !== 'string') {
      invalidSchema(`field "${entry.name}" has a doc that is not a string`);
    }
  });
  const byIdIndex = indexById(schema);
  for (const id of schema['identifier-field-ids'] ?? []) {
    const entry = byIdIndex.get(id);
    if (entry === undefined) invalidSchema(`identifier-field-ids names id ${id}, which no field has`);
    const problem = identifierProblem(entry);
    if (problem !== undefined) invalidSchema(`identifier field "${entry.name}" cannot identify rows: ${problem}`);
  }
}

/**
 * The value at a struct path of a row (see {@link structPathOf}); `undefined` when the row or an enclosing struct
 * value is null or missing.
 *
 * @example
 * ```ts
 * valueAtPath({ address: { city: 'Lyon' } }, ['address', 'city']); // 'Lyon'
 * ```
 */
export function valueAtPath(row: unknown, path: readonly string[]): unknown {
  let current: unknown = row;
  for (const name of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Readonly<Record<string, unknown>>)[name];
  }
  return current;
}
