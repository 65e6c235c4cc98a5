/**
 * Schema evolution (spec, "Schema Evolution") as pure functions: each takes the current schema with the table's
 * `last-column-id` and returns the next ones, or throws a `LakehouseError` of code `INVALID_SCHEMA_CHANGE` naming the
 * column. Field ids never change and are never reused, so data files written under earlier schemas keep reading right.
 *
 * @module
 */
import { z } from 'zod';
import { LakehouseError } from '../errors.js';
import { parseOptions } from '../internal/parse-options.js';
import { decimalOf, findField, identifierProblem, indexById, indexByName, validateSchema } from './schema-utils.js';
import type { IndexedField } from './schema-utils.js';
import type { IcebergSchema, IcebergType, NestedField, PrimitiveType } from './types.js';

/**
 * A schema together with the table's `last-column-id` (which can exceed the schema's highest id after deletes): what
 * every evolution step takes and returns.
 *
 * @example
 * ```ts
 * const current: SchemaVersion = { schema: metadata.schemas.at(-1)!, lastColumnId: metadata['last-column-id'] };
 * ```
 */
export interface SchemaVersion {
  /** The schema; each change returns one with `schema-id` one higher (a commit may renumber it). */
  readonly schema: IcebergSchema;
  /** Highest field id the table ever assigned; new columns get ids after it. */
  readonly lastColumnId: number;
}

function invalidChange(action: string, column: string, problem: string): never {
  throw new LakehouseError('INVALID_SCHEMA_CHANGE', `Cannot ${action} column "${column}": ${problem}.`);
}

function columnName(name: string | readonly string[]): string {
  return typeof name === 'string' ? name : name.join('.');
}

function requireColumn(base: SchemaVersion, action: string, name: string): IndexedField {
  const field = findField(base.schema, name);
  if (field?.field === undefined) {
    invalidChange(action, name, `schema ${base.schema['schema-id']} has no such column (columns: ${base.schema.fields.map((item) => item.name).join(', ')})`);
  }
  return field;
}

/** Rewrites the fields of the struct owned by `target` (`null`: the schema root); everything else is kept. */
function editStruct(
  fields: readonly NestedField[],
  owner: number | null,
  target: number | null,
  edit: (fields: readonly NestedField[]) => readonly NestedField[],
): readonly NestedField[] {
  const edited = owner === target ? edit(fields) : fields;
  return edited.map((field) => {
    const type = editType(field.type, field.id, target, edit);
    return type === field.type ? field : { ...field, type };
  });
}

function editType(type: IcebergType, owner: number, target: number | null, edit: (fields: readonly NestedField[]) => readonly NestedField[]): IcebergType {
  if (typeof type === 'string') return type;
  switch (type.type) {
    case 'struct':
      return { type: 'struct', fields: editStruct(type.fields, owner, target, edit) };
    case 'list': {
      const element = editType(type.element, type['element-id'], target, edit);
      return element === type.element ? type : { ...type, element };
    }
    case 'map': {
      const key = editType(type.key, type['key-id'], target, edit);
      const value = editType(type.value, type['value-id'], target, edit);
      return key === type.key && value === type.value ? type : { ...type, key, value };
    }
  }
}

function next(base: SchemaVersion, fields: readonly NestedField[], lastColumnId = base.lastColumnId, identifiers = base.schema['identifier-field-ids']): SchemaVersion {
  const schema: IcebergSchema = {
    type: 'struct',
    'schema-id': base.schema['schema-id'] + 1,
    ...(identifiers === undefined || identifiers.length === 0 ? {} : { 'identifier-field-ids': identifiers }),
    fields,
  };
  validateSchema(schema);
  return { schema, lastColumnId };
}

function editField(base: SchemaVersion, field: IndexedField, change: (field: NestedField) => NestedField | undefined): readonly NestedField[] {
  return editStruct(base.schema.fields, null, field.parentId ?? null, (fields) =>
    fields.flatMap((item) => {
      if (item.id !== field.id) return [item];
      const changed = change(item);
      return changed === undefined ? [] : [changed];
    }),
  );
}

/** Gives a new type fresh ids after `lastId`: a struct's own fields first, then their children, as Iceberg does. */
function freshIds(type: IcebergType, allocate: () => number): IcebergType {
  if (typeof type === 'string') return type;
  switch (type.type) {
    case 'struct': {
      const ids = type.fields.map(() => allocate());
      return {
        type: 'struct',
        fields: type.fields.map((field, index) => ({ ...field, id: ids[index]!, type: freshIds(field.type, allocate) })),
      };
    }
    case 'list': {
      const elementId = allocate();
      return { ...type, 'element-id': elementId, element: freshIds(type.element, allocate) };
    }
    case 'map': {
      const keyId = allocate();
      const valueId = allocate();
      return { ...type, 'key-id': keyId, key: freshIds(type.key, allocate), 'value-id': valueId, value: freshIds(type.value, allocate) };
    }
  }
}

const addOptionsSchema = z.strictObject({
  /** Must stay `false` (the default): rows written before the change have no value for a new column. */
  required: z.boolean().default(false),
  /** Column documentation. Default none. */
  doc: z.string().optional(),
  /** Sibling to place the new column after. Default: at the end of its struct. */
  after: z.string().min(1).optional(),
  /** Place the new column first in its struct. Default `false`. */
  first: z.boolean().default(false),
});

/**
 * Options of {@link addColumn}.
 *
 * @interface
 * @example
 * ```ts
 * const options: AddColumnOptions = { doc: 'Two-letter country code', after: 'customer' };
 * ```
 */
export type AddColumnOptions = z.input<typeof addOptionsSchema>;

/**
 * Adds an optional column. `name` is a top-level name, or a dotted path whose last part is added to the struct the
 * rest names (`address.zip`; `lines.element.discount` for the struct inside a list); pass an array of names when a
 * name itself contains a dot. The type may be nested; its ids (any placeholder numbers) are replaced with fresh ones
 * after `lastColumnId`. Required columns cannot be added to v2 tables: existing rows have no value for them.
 *
 * @example
 * ```ts
 * const v1 = addColumn(current, 'country', 'string', { doc: 'ISO 3166 code', after: 'customer' });
 * const v2 = addColumn(v1, 'lines', { type: 'list', 'element-id': 0, element: 'string', 'element-required': false });
 * ```
 */
export function addColumn(base: SchemaVersion, name: string | readonly string[], type: IcebergType, options: AddColumnOptions = {}): SchemaVersion {
  const parsed = parseOptions(addOptionsSchema, 'addColumn', options);
  const display = columnName(name);
  const path = typeof name === 'string' ? name.split('.') : [...name];
  const leaf = path.pop();
  if (leaf === undefined || leaf === '') invalidChange('add', display, 'the column name is empty');
  if (parsed.required) {
    invalidChange('add', display, 'rows already written have no value for a new required column (v2 tables have no column defaults); add it as optional');
  }
  let parentId: number | null = null;
  if (path.length > 0) {
    const parentName = path.join('.');
    const parent = typeof name === 'string' ? indexByName(base.schema).get(parentName) : findStructPath(base, path);
    if (parent === undefined) invalidChange('add', display, `its parent "${parentName}" is not in the schema`);
    if (typeof parent.type === 'string' || parent.type.type !== 'struct') {
      invalidChange('add', display, `its parent "${parentName}" is a ${typeof parent.type === 'string' ? parent.type : parent.type.type}, not a struct`);
    }
    parentId = parent.id;
  }
  let lastColumnId = base.lastColumnId;
  const allocate = () => ++lastColumnId;
  const id = allocate();
  const field: NestedField = {
    id,
    name: leaf,
    required: false,
    type: freshIds(type, allocate),
    ...(parsed.doc === undefined ? {} : { doc: parsed.doc }),
  };
  const fields = editStruct(base.schema.fields, null, parentId, (siblings) => {
    if (siblings.some((sibling) => sibling.name === leaf)) invalidChange('add', display, `its struct already has a field named "${leaf}"`);
    if (parsed.first) return [field, ...siblings];
    if (parsed.after === undefined) return [...siblings, field];
    const index = siblings.findIndex((sibling) => sibling.name === parsed.after);
    if (index < 0) invalidChange('add', display, `after: no sibling is named "${parsed.after}"`);
    return [...siblings.slice(0, index + 1), field, ...siblings.slice(index + 1)];
  });
  try {
    return next(base, fields, lastColumnId);
  } catch (error) {
    if (error instanceof LakehouseError && error.code === 'INVALID_SCHEMA') invalidChange('add', display, error.message);
    throw error;
  }
}

function findStructPath(base: SchemaVersion, path: readonly string[]): IndexedField | undefined {
  let fields = base.schema.fields;
  let found: IndexedField | undefined;
  for (const part of path) {
    const field = fields.find((item) => item.name === part);
    if (field === undefined) return undefined;
    found = { id: field.id, name: part, type: field.type, required: field.required, field, inCollection: false, optionalAncestor: false };
    fields = typeof field.type !== 'string' && field.type.type === 'struct' ? field.type.fields : [];
  }
  return found;
}

/**
 * Renames a column; its id stays, so files written before read under the new name. `newName` is the new last part
 * only (renaming `address.city` to `town` gives `address.town`).
 *
 * @example
 * ```ts
 * const next = renameColumn(current, 'cust', 'customer');
 * ```
 */
export function renameColumn(base: SchemaVersion, name: string, newName: string): SchemaVersion {
  const field = requireColumn(base, 'rename', name);
  if (newName === '') invalidChange('rename', name, 'the new name is empty');
  if (newName === field.field!.name) return base;
  const fields = editStruct(base.schema.fields, null, field.parentId ?? null, (siblings) => {
    if (siblings.some((sibling) => sibling.name === newName)) invalidChange('rename', name, `its struct already has a field named "${newName}"`);
    return siblings.map((sibling) => (sibling.id === field.id ? { ...sibling, name: newName } : sibling));
  });
  return next(base, fields);
}

function widening(from: IcebergType, to: PrimitiveType): boolean {
  if (from === 'int' && to === 'long') return true;
  if (from === 'float' && to === 'double') return true;
  const source = decimalOf(from);
  const target = decimalOf(to);
  return source !== undefined && target !== undefined && target.scale === source.scale && target.precision > source.precision;
}

/**
 * Promotes a column to a wider type, the only type changes Iceberg v2 allows: `int` to `long`, `float` to `double`,
 * `decimal(P, S)` to `decimal(P', S)` with `P' > P`. The same type again is no change (the input comes back).
 * Promotions keep partition values (bucket hashes ints as longs), so partition source columns may be widened too.
 *
 * @example
 * ```ts
 * const next = widenColumn(current, 'quantity', 'long');
 * ```
 */
export function widenColumn(base: SchemaVersion, name: string, newType: PrimitiveType): SchemaVersion {
  const field = requireColumn(base, 'widen', name);
  const from = field.type;
  if (from === newType) return base;
  if (!widening(from, newType)) {
    const current = typeof from === 'string' ? from : from.type;
    invalidChange(
      'widen',
      name,
      `${current} cannot become ${newType}; allowed promotions are int -> long, float -> double and decimal(P, S) -> decimal(P', S) with P' > P`,
    );
  }
  return next(base, editField(base, field, (item) => ({ ...item, type: newType })));
}

/**
 * Makes a required column optional (the reverse is not allowed: old rows may hold nulls). Already optional: no change
 * (the input comes back). Identifier fields must stay required.
 *
 * @example
 * ```ts
 * const next = makeOptional(current, 'email');
 * ```
 */
export function makeOptional(base: SchemaVersion, name: string): SchemaVersion {
  const field = requireColumn(base, 'make optional', name);
  if (!field.required) return base;
  if ((base.schema['identifier-field-ids'] ?? []).includes(field.id)) {
    invalidChange('make optional', name, 'it is an identifier field; change the identifier fields first (setIdentifierFields)');
  }
  return next(base, editField(base, field, (item) => ({ ...item, required: false })));
}

const deleteOptionsSchema = z.strictObject({
  /** Field ids that partition specs read (`source-id` of every spec the table keeps). Default none. */
  partitionSourceIds: z.array(z.number().int()).default([]),
});

/**
 * Options of {@link deleteColumn}.
 *
 * @interface
 * @example
 * ```ts
 * const options: DeleteColumnOptions = { partitionSourceIds: metadata['partition-specs'].flatMap((s) => s.fields.map((f) => f['source-id'])) };
 * ```
 */
export type DeleteColumnOptions = z.input<typeof deleteOptionsSchema>;

/**
 * Deletes a column (with everything nested in it). Identifier fields and partition source columns (pass their ids)
 * cannot be deleted, nor the last column of the table or of a struct. The id is never reused.
 *
 * @example
 * ```ts
 * const next = deleteColumn(current, 'legacy_flag', { partitionSourceIds: [3] });
 * ```
 */
export function deleteColumn(base: SchemaVersion, name: string, options: DeleteColumnOptions = {}): SchemaVersion {
  const { partitionSourceIds } = parseOptions(deleteOptionsSchema, 'deleteColumn', options);
  const field = requireColumn(base, 'delete', name);
  const removed = new Set<number>([field.id]);
  for (const entry of indexById({ type: 'struct', fields: [field.field!] }).values()) removed.add(entry.id);
  const byId = indexById(base.schema);
  const identifier = (base.schema['identifier-field-ids'] ?? []).find((id) => removed.has(id));
  if (identifier !== undefined) {
    invalidChange('delete', name, `"${byId.get(identifier)?.name ?? identifier}" is an identifier field; change the identifier fields first (setIdentifierFields)`);
  }
  const source = partitionSourceIds.find((id) => removed.has(id));
  if (source !== undefined) {
    invalidChange('delete', name, `a partition spec reads "${byId.get(source)?.name ?? source}"; evolve the partition spec away from it first`);
  }
  const fields = editField(base, field, () => undefined);
  if (fields.length === 0) invalidChange('delete', name, 'it is the last column of the table');
  const emptied = editStruct(fields, null, field.parentId ?? null, (siblings) => {
    if (siblings.length === 0) invalidChange('delete', name, `it is the last field of its struct; delete "${byId.get(field.parentId!)?.name ?? 'the struct'}" instead`);
    return siblings;
  });
  return next(base, emptied);
}

/**
 * Replaces the identifier fields (the row key of upserts and deletes); an empty list clears them. Each must be a
 * required primitive other than float/double, outside lists, maps and optional structs.
 *
 * @example
 * ```ts
 * const next = setIdentifierFields(current, ['tenant_id', 'order_id']);
 * ```
 */
export function setIdentifierFields(base: SchemaVersion, names: readonly string[]): SchemaVersion {
  const ids = names.map((name) => {
    const field = findField(base.schema, name);
    if (field === undefined) invalidChange('use as identifier', name, `schema ${base.schema['schema-id']} has no such column`);
    const problem = identifierProblem(field);
    if (problem !== undefined) invalidChange('use as identifier', name, problem);
    return field.id;
  });
  const unique = [...new Set(ids)];
  const current = base.schema['identifier-field-ids'] ?? [];
  if (unique.length === current.length && unique.every((id, index) => current[index] === id)) return base;
  return next(base, base.schema.fields, base.lastColumnId, unique);
}
