/**
 * Partition specs (spec, "Partitioning" and Appendix C): the JSON shape, a builder from column names, and the partition
 * tuple, struct type and path of a row.
 *
 * @module
 */
import { z } from 'zod';
import { LakehouseError } from '../errors.js';
import { parseOptions } from '../internal/parse-options.js';
import { findField, indexById, structPathOf, valueAtPath } from '../schema/schema-utils.js';
import type { IcebergSchema, PrimitiveType, Row, StructType } from '../schema/types.js';
import type { Transform, TransformName } from './transforms.js';
import { formatTransform, parseTransform, partitionPathValue, requireResultType, transformLiteral } from './transforms.js';
import type { Literal } from './values.js';
import { toLiteral } from './values.js';

/**
 * One field of a partition spec: which column, through which transform, under which name and partition field id.
 *
 * @example
 * ```ts
 * const field: PartitionField = { 'source-id': 4, 'field-id': 1000, name: 'ts_day', transform: 'day' };
 * ```
 */
export interface PartitionField {
  /** Field id of the source column in the table schema. */
  readonly 'source-id': number;
  /** Unique across all specs of a table; partition field ids start at 1000. */
  readonly 'field-id': number;
  /** Name of the partition field: the key in partition paths and in the manifests' partition struct. */
  readonly name: string;
  /** Transform from source value to partition value, e.g. `day` or `bucket[16]`. */
  readonly transform: string;
}

/**
 * A partition spec as table metadata stores it. The unpartitioned spec has id 0 and no fields.
 *
 * @example
 * ```ts
 * const spec: PartitionSpec = { 'spec-id': 0, fields: [{ 'source-id': 4, 'field-id': 1000, name: 'ts_day', transform: 'day' }] };
 * ```
 */
export interface PartitionSpec {
  /** Id of the spec within the table; data files record the spec they were written with. */
  readonly 'spec-id': number;
  /** Partition fields in tuple order; empty for an unpartitioned table. */
  readonly fields: readonly PartitionField[];
}

/**
 * The spec of an unpartitioned table.
 *
 * @example
 * ```ts
 * const metadata = { 'partition-specs': [UNPARTITIONED_SPEC], 'default-spec-id': 0, 'last-partition-id': 999 };
 * ```
 */
export const UNPARTITIONED_SPEC: PartitionSpec = Object.freeze({ 'spec-id': 0, fields: Object.freeze([]) });

/**
 * First partition field id; a table that never had partition fields has `last-partition-id` 999.
 *
 * @example
 * ```ts
 * const lastPartitionId = FIRST_PARTITION_FIELD_ID - 1; // 999 for a new unpartitioned table
 * ```
 */
export const FIRST_PARTITION_FIELD_ID = 1000;

const requestSchema = z.strictObject({
  /** Source column, dotted for nested struct fields (`address.city`). */
  column: z.string().min(1),
  /** Transform, as in specs: `identity`, `year`, `month`, `day`, `hour`, `bucket[N]`, `truncate[W]`, `void`. */
  transform: z.string().min(1).default('identity'),
  /** Partition field name; default `<column>` for identity, `<column>_<transform>` otherwise (see {@link buildPartitionSpec}). */
  name: z.string().min(1).optional(),
});

/**
 * One partition field to build: a column and a transform, optionally a name.
 *
 * @interface
 * @example
 * ```ts
 * const byDay: PartitionFieldRequest = { column: 'created_at', transform: 'day' };
 * ```
 */
export type PartitionFieldRequest = Omit<z.input<typeof requestSchema>, 'transform'> & {
  /** Transform, as in specs: `identity`, `year`, `month`, `day`, `hour`, `bucket[N]`, `truncate[W]`, `void`. Default `identity`. */
  readonly transform?: TransformName | (string & {});
};

const optionsSchema = z.strictObject({
  /** Id of the new spec. Default `0` (the first spec of a table). */
  specId: z.number().int().nonnegative().default(0),
  /** The table's `last-partition-id`; new fields get ids after it. Default `999` (no partition fields yet). */
  lastPartitionId: z.number().int().min(FIRST_PARTITION_FIELD_ID - 1).default(FIRST_PARTITION_FIELD_ID - 1),
  /**
   * The table's existing specs: a field with the same source column and transform as one of theirs keeps its field
   * id, as the spec requires. Default none.
   */
  existingSpecs: z.array(z.custom<PartitionSpec>((value) => typeof value === 'object' && value !== null && Array.isArray((value as PartitionSpec).fields))).default([]),
});

/**
 * Options of {@link buildPartitionSpec}.
 *
 * @interface
 * @example
 * ```ts
 * const options: BuildPartitionSpecOptions = { specId: 1, lastPartitionId: 1000 };
 * ```
 */
export type BuildPartitionSpecOptions = z.input<typeof optionsSchema>;

function invalidSpec(problem: string): never {
  throw new LakehouseError('INVALID_PARTITION_SPEC', `Invalid partition spec: ${problem}.`);
}

function defaultName(column: string, transform: Transform): string {
  switch (transform.kind) {
    case 'identity':
      return column;
    case 'bucket':
      return `${column}_bucket_${transform.buckets}`;
    case 'truncate':
      return `${column}_trunc_${transform.width}`;
    case 'void':
      return `${column}_null`;
    default:
      return `${column}_${transform.kind}`;
  }
}

/**
 * Builds a partition spec from column names, checking that every column exists, is a primitive outside lists and maps,
 * and suits its transform. Field names default to the column name for `identity`, `<column>_bucket_<N>`,
 * `<column>_trunc_<W>`, `<column>_year` / `_month` / `_day` / `_hour`, and `<column>_null` for `void`. New fields get
 * ids after `lastPartitionId`; the table's new `last-partition-id` is the larger of it and the spec's highest field id.
 * Problems throw a `LakehouseError` of code `INVALID_PARTITION_SPEC` (or `INVALID_TRANSFORM`) naming the column;
 * malformed options throw `InvalidOptionsError`.
 *
 * @example
 * ```ts
 * const spec = buildPartitionSpec(schema, [
 *   { column: 'created_at', transform: 'day' },
 *   { column: 'id', transform: 'bucket[16]' },
 * ]);
 * // { 'spec-id': 0, fields: [
 * //   { 'source-id': 3, 'field-id': 1000, name: 'created_at_day', transform: 'day' },
 * //   { 'source-id': 1, 'field-id': 1001, name: 'id_bucket_16', transform: 'bucket[16]' } ] }
 * ```
 */
export function buildPartitionSpec(
  schema: IcebergSchema,
  fields: readonly PartitionFieldRequest[],
  options: BuildPartitionSpecOptions = {},
): PartitionSpec {
  const parsedOptions = parseOptions(optionsSchema, 'buildPartitionSpec', options);
  const requests = parseOptions(z.array(requestSchema), 'buildPartitionSpec fields', fields);
  let nextId = parsedOptions.lastPartitionId;
  const names = new Set<string>();
  const seen = new Set<string>();
  const result: PartitionField[] = [];
  for (const request of requests) {
    const source = findField(schema, request.column);
    if (source === undefined) {
      invalidSpec(`column "${request.column}" is not in the schema (columns: ${schema.fields.map((field) => field.name).join(', ')})`);
    }
    if (typeof source.type !== 'string') invalidSpec(`column "${request.column}" is a ${source.type.type}; only primitive columns can be partition sources`);
    if (source.inCollection) invalidSpec(`column "${request.column}" is inside a list or map; partition sources must be reachable through structs only`);
    const transform = parseTransform(request.transform);
    requireResultType(transform, source.type, request.column);
    const transformText = formatTransform(transform);
    const name = request.name ?? defaultName(request.column, transform);
    if (names.has(name)) invalidSpec(`two partition fields are named "${name}"; pass a distinct name`);
    const clash = findField(schema, name);
    if (clash !== undefined && !(transform.kind === 'identity' && clash.id === source.id)) {
      invalidSpec(`partition field name "${name}" is also a column name; pass another name for the ${transformText} of "${request.column}"`);
    }
    const key = `${source.id}:${transformText}`;
    if (seen.has(key)) invalidSpec(`column "${request.column}" is partitioned by ${transformText} twice`);
    seen.add(key);
    names.add(name);
    const existing = parsedOptions.existingSpecs
      .flatMap((spec) => spec.fields)
      .find((field) => field['source-id'] === source.id && field.transform === transformText);
    const fieldId = existing?.['field-id'] ?? ++nextId;
    result.push({ 'source-id': source.id, 'field-id': fieldId, name, transform: transformText });
  }
  return { 'spec-id': parsedOptions.specId, fields: result };
}

interface CompiledField {
  readonly field: PartitionField;
  readonly transform: Transform;
  readonly sourceType: PrimitiveType;
  readonly resultType: PrimitiveType;
  readonly path: readonly string[];
  readonly column: string;
}

function compile(spec: PartitionSpec, schema: IcebergSchema): readonly CompiledField[] {
  const byId = indexById(schema);
  return spec.fields.map((field) => {
    const source = byId.get(field['source-id']);
    const path = structPathOf(schema, field['source-id']);
    if (source === undefined || path === undefined) {
      invalidSpec(`partition field "${field.name}" reads column id ${field['source-id']}, which schema ${schema['schema-id']} has not (outside lists and maps)`);
    }
    if (typeof source.type !== 'string') invalidSpec(`partition field "${field.name}" reads "${source.name}", a ${source.type.type}, not a primitive`);
    const transform = parseTransform(field.transform);
    const resultType = requireResultType(transform, source.type, source.name);
    return { field, transform, sourceType: source.type, resultType, path, column: source.name };
  });
}

/**
 * The struct type of a spec's partition tuples, as manifests declare the `partition` field: one optional field per
 * partition field, with the partition field id and the transform's result type.
 *
 * @example
 * ```ts
 * partitionType(spec, schema);
 * // { type: 'struct', fields: [{ id: 1000, name: 'created_at_day', required: false, type: 'date' }] }
 * ```
 */
export function partitionType(spec: PartitionSpec, schema: IcebergSchema): StructType {
  return {
    type: 'struct',
    fields: compile(spec, schema).map((compiled) => ({
      id: compiled.field['field-id'],
      name: compiled.field.name,
      required: false,
      type: compiled.resultType,
    })),
  };
}

/**
 * A function computing the partition tuple of rows under a spec; prepares the spec once for many rows. Values are
 * literals of each field's result type (see `values.ts` and `applyTransform`): `day` as days since 1970-01-01,
 * `year`/`month`/`hour` and buckets as numbers, identity and truncate as literals of the source type (long and
 * timestamps as bigint, decimals as the unscaled bigint, uuids as strings), nulls as `null`. A row value that does not
 * fit its column throws a `LakehouseError` of code `INVALID_VALUE` naming the column.
 *
 * @example
 * ```ts
 * const partitionOf = createPartitioner(spec, schema);
 * const tuple = partitionOf({ id: 1n, created_at: new Date('2024-03-05T13:00:00Z') }); // [19787]
 * ```
 */
export function createPartitioner(spec: PartitionSpec, schema: IcebergSchema): (row: Row) => (Literal | null)[] {
  const compiled = compile(spec, schema);
  return (row) =>
    compiled.map((field) => {
      const value = valueAtPath(row, field.path);
      if (value === null || value === undefined) return null;
      return transformLiteral(field.transform, field.sourceType, toLiteral(field.sourceType, value, field.column));
    });
}

/**
 * The partition tuple of one row under a spec (see {@link createPartitioner} for many rows).
 *
 * @example
 * ```ts
 * partitionValues(spec, schema, { id: 34n, created_at: '2024-03-05T13:00:00Z' }); // [19787, 3]
 * ```
 */
export function partitionValues(spec: PartitionSpec, schema: IcebergSchema, row: Row): (Literal | null)[] {
  return createPartitioner(spec, schema)(row);
}

/**
 * The Hive-style relative path of a partition, `name=value/name=value`, with names and values URL-encoded (see
 * `partitionPathValue`); `''` for an unpartitioned spec. Values may be in any accepted form (literals, manifest
 * bytes for decimals and uuids, row values). Distinct tuples give distinct paths, so the path also serves as
 * a grouping key.
 *
 * @example
 * ```ts
 * partitionPath(spec, schema, [19787, 3]); // 'created_at_day=2024-03-05/id_bucket_16=3'
 * ```
 */
export function partitionPath(spec: PartitionSpec, schema: IcebergSchema, values: readonly unknown[]): string {
  const compiled = compile(spec, schema);
  if (values.length !== compiled.length) {
    invalidSpec(`spec ${spec['spec-id']} has ${compiled.length} fields but the partition tuple has ${values.length} values`);
  }
  return compiled
    .map((field, index) => `${encodeURIComponent(field.field.name)}=${partitionPathValue(field.transform, field.resultType, values[index])}`)
    .join('/');
}

/**
 * Whether a spec partitions nothing: no fields, or only `void` ones.
 *
 * @example
 * ```ts
 * isUnpartitioned(UNPARTITIONED_SPEC); // true
 * ```
 */
export function isUnpartitioned(spec: PartitionSpec): boolean {
  return spec.fields.every((field) => field.transform === 'void');
}
