/**
 * Derives an Iceberg schema from a zod 4 object schema, so a topology's validation schema and its table schema stay
 * one definition.
 *
 * @module
 */
import { InvalidOptionsError } from '@tributary/core';
import { z } from 'zod';
import { LakehouseError } from '../errors.js';
import { parseOptions } from '../internal/parse-options.js';
import { findField, isPrimitiveType, validateSchema } from './schema-utils.js';
import type { IcebergSchema, IcebergType, NestedField, PrimitiveType } from './types.js';

const optionsSchema = z.strictObject({
  /** Columns that identify a row (the primary key for upserts and deletes); dotted for nested struct fields. Default none. */
  identifierFields: z.array(z.string().min(1)).default([]),
  /**
   * Iceberg types by column path, replacing what would be inferred (`{ quantity: 'int', 'price': 'decimal(12, 2)' }`).
   * Paths are dotted; a list's element is `<list>.element`, a map's key and value `<map>.key` / `<map>.value`. Also the
   * way to type zod kinds that carry no type of their own (`z.custom`, `z.instanceof(Uint8Array)` -> `'binary'`).
   * Default none.
   */
  types: z.record(z.string(), z.string().refine(isPrimitiveType, { message: 'not an Iceberg primitive type' })).default({}),
  /** `schema-id` of the result. Default `0`. */
  schemaId: z.number().int().nonnegative().default(0),
});

/**
 * Options of {@link icebergSchemaFromZod}.
 *
 * @interface
 * @example
 * ```ts
 * const options: IcebergSchemaFromZodOptions = { identifierFields: ['order_id'], types: { amount: 'decimal(12, 2)' } };
 * ```
 */
export type IcebergSchemaFromZodOptions = z.input<typeof optionsSchema>;

/** What the introspection reads from a zod 4 schema (`schema._zod.def`), loosely typed to survive minor versions. */
interface ZodNode {
  readonly _zod: { readonly def: ZodDef };
  readonly description?: string | undefined;
}

interface ZodDef {
  readonly type: string;
  readonly [key: string]: unknown;
}

type Draft =
  | { readonly kind: 'primitive'; readonly type: PrimitiveType }
  | { readonly kind: 'struct'; readonly fields: readonly DraftField[] }
  | { readonly kind: 'list'; readonly element: Draft; readonly elementRequired: boolean }
  | { readonly kind: 'map'; readonly key: Draft; readonly value: Draft; readonly valueRequired: boolean };

interface DraftField {
  readonly name: string;
  readonly required: boolean;
  readonly type: Draft;
  readonly doc?: string | undefined;
}

function isZodNode(value: unknown): value is ZodNode {
  if (typeof value !== 'object' || value === null || !('_zod' in value)) return false;
  const internals = (value)._zod;
  return typeof internals === 'object' && internals !== null && typeof (internals as { def?: { type?: unknown } }).def?.type === 'string';
}

function unsupported(path: string, problem: string): never {
  const where = path === '' ? 'the schema root' : `"${path}"`;
  throw new LakehouseError(
    'UNSUPPORTED_ZOD_TYPE',
    `Cannot derive an Iceberg type for ${where}: ${problem}. ` +
      (path === '' ? 'Pass a z.object(...).' : `Pass types: { '${path}': '<iceberg type>' } (e.g. 'binary', 'decimal(12, 2)') or change the zod schema.`),
  );
}

const MAX_DEPTH = 64;

class Converter {
  readonly #overrides: ReadonlyMap<string, PrimitiveType>;
  readonly used = new Set<string>();

  constructor(overrides: Readonly<Record<string, string>>) {
    this.#overrides = new Map(Object.entries(overrides) as [string, PrimitiveType][]);
  }

  /** Strips wrappers that do not change the stored type, noting whether null or undefined can come out. */
  unwrap(start: ZodNode, path: string): { node: ZodNode; required: boolean; doc: string | undefined } {
    let node = start;
    let optional = false;
    let doc = node.description;
    for (let depth = 0; ; depth++) {
      if (depth > MAX_DEPTH) unsupported(path, 'the schema is recursive (z.lazy referring to itself), which a table schema cannot be');
      const def = node._zod.def;
      let next: unknown;
      switch (def.type) {
        case 'optional':
        case 'nullable':
          optional = true;
          next = def.innerType;
          break;
        // Defaults and catches fill values in when parsing, so the parsed row always has one (if the inner type does).
        case 'default':
        case 'prefault':
        case 'catch':
        case 'readonly':
        case 'nonoptional':
          next = def.innerType;
          break;
        case 'lazy':
          next = (def.getter as () => unknown)();
          break;
        case 'pipe': {
          // Rows are written after parsing: the output side is what lands in the table.
          const out = def.out as ZodNode;
          if (out._zod.def.type === 'transform') unsupported(path, 'its .transform() output has no declared type');
          next = out;
          break;
        }
        case 'union': {
          const options = (def.options as ZodNode[]).filter((option) => {
            const type = option._zod.def.type;
            if (type === 'null' || type === 'undefined' || type === 'void') {
              optional = true;
              return false;
            }
            return true;
          });
          if (options.length === 1) {
            next = options[0];
            break;
          }
          return { node: { _zod: { def: { type: 'union', options } } }, required: !optional, doc };
        }
        default:
          return { node, required: !optional, doc };
      }
      if (!isZodNode(next)) unsupported(path, `a ${def.type} wrapper without an inner schema`);
      node = next;
      doc ??= node.description;
    }
  }

  convert(node: ZodNode, path: string): Draft {
    // A z.lazy that refers back to its own object nests forever: stop at a depth no real table has.
    if (path.split('.').length > MAX_DEPTH) unsupported(path.split('.').slice(0, 3).join('.'), 'the schema is recursive (z.lazy referring to itself), which a table schema cannot be');
    const override = this.#overrides.get(path);
    if (override !== undefined) {
      this.used.add(path);
      return { kind: 'primitive', type: override };
    }
    const def = node._zod.def;
    const primitive = (type: PrimitiveType): Draft => ({ kind: 'primitive', type });
    switch (def.type) {
      case 'string':
        return primitive(stringType(def));
      case 'number':
        return primitive(numberType(def));
      case 'bigint':
        // uint64 exceeds long; decimal(20, 0) holds every value and accepts the bigint as its unscaled value.
        return primitive(formatOf(def) === 'uint64' ? 'decimal(20, 0)' : 'long');
      case 'boolean':
        return primitive('boolean');
      case 'date':
        return primitive('timestamptz');
      case 'template_literal':
        return primitive('string');
      case 'enum':
        return primitive(literalType(Object.values(def.entries as Record<string, unknown>), path));
      case 'literal':
        return primitive(literalType(def.values as unknown[], path));
      case 'union': {
        const options = def.options as ZodNode[];
        const literals = options.every((option) => option._zod.def.type === 'literal' || option._zod.def.type === 'enum');
        if (literals) {
          const values = options.flatMap((option) => {
            const optionDef = option._zod.def;
            return optionDef.type === 'enum' ? Object.values(optionDef.entries as Record<string, unknown>) : (optionDef.values);
          });
          return primitive(literalType(values, path));
        }
        return unsupported(path, `a union of ${options.map((option) => option._zod.def.type).join(' | ')} has no single Iceberg type`);
      }
      case 'object':
        return this.struct(def.shape as Record<string, unknown>, path);
      case 'array': {
        const element = this.unwrap(def.element as ZodNode, `${path}.element`);
        return { kind: 'list', element: this.convert(element.node, `${path}.element`), elementRequired: element.required };
      }
      case 'record':
      case 'map': {
        const key = this.unwrap(def.keyType as ZodNode, `${path}.key`);
        const value = this.unwrap(def.valueType as ZodNode, `${path}.value`);
        const keyDraft = this.convert(key.node, `${path}.key`);
        return { kind: 'map', key: keyDraft, value: this.convert(value.node, `${path}.value`), valueRequired: value.required };
      }
      case 'set':
        return unsupported(path, 'a Set has no Iceberg type; use z.array(...) and write arrays');
      default:
        return unsupported(path, `zod ${def.type} schemas carry no Iceberg type`);
    }
  }

  struct(shape: Record<string, unknown>, prefix: string): Draft {
    const fields: DraftField[] = [];
    for (const [name, child] of Object.entries(shape)) {
      const path = prefix === '' ? name : `${prefix}.${name}`;
      if (!isZodNode(child)) unsupported(path, 'not a zod 4 schema');
      const { node, required, doc } = this.unwrap(child, path);
      fields.push({ name, required, type: this.convert(node, path), doc });
    }
    return { kind: 'struct', fields };
  }
}

function formatOf(def: ZodDef): string | undefined {
  let format = typeof def.format === 'string' ? def.format : undefined;
  for (const check of (def.checks as { _zod?: { def?: { format?: unknown } } }[] | undefined) ?? []) {
    const checkFormat = check._zod?.def?.format;
    if (typeof checkFormat === 'string') format = checkFormat;
  }
  return format;
}

function datetimeDef(def: ZodDef): { local?: unknown; offset?: unknown } {
  if (def.format === 'datetime') return { local: def.local, offset: def.offset };
  const check = ((def.checks as { _zod?: { def?: { format?: unknown } } }[] | undefined) ?? []).find((item) => item._zod?.def?.format === 'datetime');
  return (check?._zod?.def as { local?: unknown; offset?: unknown } | undefined) ?? {};
}

function stringType(def: ZodDef): PrimitiveType {
  switch (formatOf(def)) {
    case 'uuid':
    case 'guid':
      return 'uuid';
    case 'date':
      return 'date';
    case 'time':
      return 'time';
    case 'datetime': {
      // Only strings that never carry an offset are wall-clock times; anything else is an instant.
      const { local, offset } = datetimeDef(def);
      return local === true && offset !== true ? 'timestamp' : 'timestamptz';
    }
    default:
      return 'string';
  }
}

function numberType(def: ZodDef): PrimitiveType {
  switch (formatOf(def)) {
    case 'safeint':
    case 'uint32':
      return 'long';
    case 'int32':
      return 'int';
    case 'float32':
      return 'float';
    default:
      return 'double';
  }
}

function literalType(values: readonly unknown[], path: string): PrimitiveType {
  if (values.length > 0 && values.every((value) => typeof value === 'string')) return 'string';
  if (values.length > 0 && values.every((value) => typeof value === 'boolean')) return 'boolean';
  if (values.length > 0 && values.every((value) => typeof value === 'bigint' || (typeof value === 'number' && Number.isSafeInteger(value)))) return 'long';
  if (values.length > 0 && values.every((value) => typeof value === 'number')) return 'double';
  return unsupported(path, `its values (${values.map((value) => String(value)).join(', ')}) do not share one type`);
}

function assignIds(fields: readonly DraftField[], next: () => number): NestedField[] {
  // Ids of a struct's own fields first, then of their children, so top-level columns get 1..n as other Iceberg
  // implementations number them.
  const ids = fields.map(() => next());
  return fields.map((field, index) => {
    const result: NestedField = { id: ids[index]!, name: field.name, required: field.required, type: typeOf(field.type, next) };
    return field.doc === undefined ? result : { ...result, doc: field.doc };
  });
}

function typeOf(draft: Draft, next: () => number): IcebergType {
  switch (draft.kind) {
    case 'primitive':
      return draft.type;
    case 'struct':
      return { type: 'struct', fields: assignIds(draft.fields, next) };
    case 'list': {
      const elementId = next();
      return { type: 'list', 'element-id': elementId, element: typeOf(draft.element, next), 'element-required': draft.elementRequired };
    }
    case 'map': {
      const keyId = next();
      const valueId = next();
      return {
        type: 'map',
        'key-id': keyId,
        key: typeOf(draft.key, next),
        'value-id': valueId,
        value: typeOf(draft.value, next),
        'value-required': draft.valueRequired,
      };
    }
  }
}

/**
 * Derives an Iceberg schema from a zod 4 object schema, numbering fields 1..n (top-level columns first, then nested
 * fields, list elements and map keys/values). The schema describes rows as zod outputs them:
 *
 * | zod | Iceberg |
 * |---|---|
 * | `z.string()` | `string` (`.uuid()` -> `uuid`, `z.iso.date()` -> `date`, `z.iso.time()` -> `time`, `z.iso.datetime()` -> `timestamptz`, or `timestamp` with `{ local: true }`) |
 * | `z.number()` | `double` (`.int()` -> `long`, `z.int32()` -> `int`, `z.float32()` -> `float`) |
 * | `z.bigint()` | `long` (`z.uint64()` -> `decimal(20, 0)`) |
 * | `z.boolean()` | `boolean` |
 * | `z.date()` | `timestamptz` |
 * | `z.enum`, `z.literal`, unions of them | `string` (or `long`, `double`, `boolean` for such values) |
 * | `z.object` | `struct` |
 * | `z.array` | `list` |
 * | `z.record`, `z.map` | `map` |
 *
 * `.optional()`, `.nullable()` and unions with `z.null()` make a field optional; `.default()` keeps it required (the
 * parsed row always has a value). `.describe()` text becomes the field's `doc`. Pipes and codecs use their output
 * type; `z.lazy` is followed. Anything else (`.transform()` without a typed output, `z.any`, `z.custom`, tuples,
 * sets, mixed unions) fails with a `LakehouseError` of code `UNSUPPORTED_ZOD_TYPE` naming the field path, unless
 * `types` gives that path a type. Identifier fields must be required primitives other than float/double (code
 * `INVALID_SCHEMA` otherwise).
 *
 * @example
 * ```ts
 * const Order = z.object({
 *   order_id: z.bigint(),
 *   customer: z.string(),
 *   amount: z.string().describe('Order total in EUR'),
 *   created_at: z.date(),
 *   tags: z.array(z.string()).optional(),
 * });
 * const schema = icebergSchemaFromZod(Order, { identifierFields: ['order_id'], types: { amount: 'decimal(12, 2)' } });
 * // fields: 1 order_id long (required), 2 customer string, 3 amount decimal(12, 2), 4 created_at timestamptz,
 * //         5 tags list<string> (optional, element id 6); identifier-field-ids [1]
 * ```
 */
export function icebergSchemaFromZod(schema: z.core.$ZodType, options: IcebergSchemaFromZodOptions = {}): IcebergSchema {
  const parsed = parseOptions(optionsSchema, 'icebergSchemaFromZod', options);
  if (!isZodNode(schema)) unsupported('', 'the argument is not a zod 4 schema (zod 3 schemas are not supported)');
  const converter = new Converter(parsed.types);
  const root = converter.unwrap(schema, '');
  if (root.node._zod.def.type !== 'object') unsupported('', `a table schema must be a zod object, not ${root.node._zod.def.type}`);
  const draft = converter.struct(root.node._zod.def.shape as Record<string, unknown>, '');
  const unused = Object.keys(parsed.types).filter((path) => !converter.used.has(path));
  if (unused.length > 0) {
    throw new InvalidOptionsError(
      'icebergSchemaFromZod',
      unused.map((path) => `types.${path}: the zod schema has no such path (paths are dotted; list elements end in .element, map parts in .key / .value)`),
    );
  }
  let lastId = 0;
  const fields = assignIds((draft as Extract<Draft, { kind: 'struct' }>).fields, () => ++lastId);
  const withoutIdentifiers: IcebergSchema = { type: 'struct', 'schema-id': parsed.schemaId, fields };
  const identifierIds = parsed.identifierFields.map((name) => {
    const field = findField(withoutIdentifiers, name);
    if (field === undefined) {
      throw new LakehouseError(
        'INVALID_SCHEMA',
        `icebergSchemaFromZod: identifier field "${name}" is not in the schema (columns: ${fields.map((item) => item.name).join(', ')}).`,
      );
    }
    return field.id;
  });
  const result: IcebergSchema = identifierIds.length === 0 ? withoutIdentifiers : { ...withoutIdentifiers, 'identifier-field-ids': identifierIds };
  validateSchema(result);
  return result;
}
