import { InvalidOptionsError } from '@tributary/core';
import { describe, expect, it } from 'vitest';
import { LakehouseError } from '../errors.js';
import type { IcebergSchema } from '../schema/types.js';
import {
  buildPartitionSpec,
  createPartitioner,
  FIRST_PARTITION_FIELD_ID,
  isUnpartitioned,
  partitionPath,
  partitionType,
  partitionValues,
  UNPARTITIONED_SPEC,
} from './partition-spec.js';

const schema: IcebergSchema = {
  type: 'struct',
  'schema-id': 0,
  'identifier-field-ids': [1],
  fields: [
    { id: 1, name: 'id', required: true, type: 'long' },
    { id: 2, name: 'name', required: false, type: 'string' },
    { id: 3, name: 'created_at', required: false, type: 'timestamptz' },
    { id: 4, name: 'amount', required: false, type: 'decimal(9, 2)' },
    { id: 5, name: 'tags', required: false, type: { type: 'list', 'element-id': 8, element: 'string', 'element-required': false } },
    {
      id: 6,
      name: 'address',
      required: false,
      type: { type: 'struct', fields: [{ id: 7, name: 'city', required: false, type: 'string' }] },
    },
    { id: 9, name: 'birthday', required: false, type: 'date' },
  ],
};

describe('buildPartitionSpec', () => {
  it('names fields by convention and numbers them from 1000', () => {
    const spec = buildPartitionSpec(schema, [
      { column: 'created_at', transform: 'day' },
      { column: 'id', transform: 'bucket[16]' },
      { column: 'name', transform: 'truncate[4]' },
      { column: 'birthday', transform: 'year' },
      { column: 'birthday', transform: 'month' },
      { column: 'created_at', transform: 'hour' },
      { column: 'address.city' },
      { column: 'amount', transform: 'void' },
    ]);
    expect(spec).toEqual({
      'spec-id': 0,
      fields: [
        { 'source-id': 3, 'field-id': 1000, name: 'created_at_day', transform: 'day' },
        { 'source-id': 1, 'field-id': 1001, name: 'id_bucket_16', transform: 'bucket[16]' },
        { 'source-id': 2, 'field-id': 1002, name: 'name_trunc_4', transform: 'truncate[4]' },
        { 'source-id': 9, 'field-id': 1003, name: 'birthday_year', transform: 'year' },
        { 'source-id': 9, 'field-id': 1004, name: 'birthday_month', transform: 'month' },
        { 'source-id': 3, 'field-id': 1005, name: 'created_at_hour', transform: 'hour' },
        { 'source-id': 7, 'field-id': 1006, name: 'address.city', transform: 'identity' },
        { 'source-id': 4, 'field-id': 1007, name: 'amount_null', transform: 'void' },
      ],
    });
    expect(FIRST_PARTITION_FIELD_ID).toBe(1000);
  });

  it('continues after the table last-partition-id and reuses ids of equivalent existing fields', () => {
    const first = buildPartitionSpec(schema, [{ column: 'created_at', transform: 'day' }]);
    const second = buildPartitionSpec(
      schema,
      [
        { column: 'id', transform: 'bucket[8]', name: 'shard' },
        { column: 'created_at', transform: 'day' },
      ],
      { specId: 1, lastPartitionId: 1003, existingSpecs: [first] },
    );
    expect(second).toEqual({
      'spec-id': 1,
      fields: [
        { 'source-id': 1, 'field-id': 1004, name: 'shard', transform: 'bucket[8]' },
        { 'source-id': 3, 'field-id': 1000, name: 'created_at_day', transform: 'day' },
      ],
    });
  });

  it('gives the unpartitioned spec for no fields', () => {
    expect(buildPartitionSpec(schema, [])).toEqual(UNPARTITIONED_SPEC);
    expect(isUnpartitioned(UNPARTITIONED_SPEC)).toBe(true);
    expect(isUnpartitioned(buildPartitionSpec(schema, [{ column: 'id', transform: 'void' }]))).toBe(true);
    expect(isUnpartitioned(buildPartitionSpec(schema, [{ column: 'id' }]))).toBe(false);
  });

  it('explains what is wrong, naming the column', () => {
    const fails = (fields: Parameters<typeof buildPartitionSpec>[1], message: RegExp) => {
      let error: unknown;
      try {
        buildPartitionSpec(schema, fields);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(LakehouseError);
      expect((error as Error).message).toMatch(message);
    };
    fails([{ column: 'nope', transform: 'day' }], /column "nope" is not in the schema \(columns: id, name, created_at/);
    fails([{ column: 'name', transform: 'day' }], /Transform day does not apply to column "name" of type string/);
    fails([{ column: 'tags' }], /column "tags" is a list; only primitive columns/);
    fails([{ column: 'tags.element' }], /inside a list or map/);
    fails([{ column: 'id', transform: 'bucket[0]' }], /Unknown partition transform "bucket\[0\]"/);
    fails([{ column: 'created_at', transform: 'day', name: 'id' }], /partition field name "id" is also a column name/);
    fails(
      [
        { column: 'id', transform: 'bucket[4]', name: 'a' },
        { column: 'id', transform: 'bucket[4]', name: 'b' },
      ],
      /column "id" is partitioned by bucket\[4\] twice/,
    );
    fails(
      [
        { column: 'id', transform: 'bucket[4]', name: 'x' },
        { column: 'name', name: 'x' },
      ],
      /two partition fields are named "x"/,
    );
  });

  it('rejects malformed options with InvalidOptionsError', () => {
    expect(() => buildPartitionSpec(schema, [{ column: 'id' }], { specId: -1 })).toThrow(InvalidOptionsError);
    expect(() => buildPartitionSpec(schema, [{ column: 'id', bogus: 1 } as never])).toThrow(/bogus/);
  });
});

describe('partition tuples', () => {
  const spec = buildPartitionSpec(schema, [
    { column: 'created_at', transform: 'day' },
    { column: 'id', transform: 'bucket[16]' },
    { column: 'name', transform: 'truncate[2]' },
    { column: 'address.city' },
    { column: 'amount', transform: 'truncate[50]' },
    { column: 'created_at', transform: 'month' },
  ]);

  it('declares the partition struct with partition field ids and result types', () => {
    expect(partitionType(spec, schema)).toEqual({
      type: 'struct',
      fields: [
        { id: 1000, name: 'created_at_day', required: false, type: 'date' },
        { id: 1001, name: 'id_bucket_16', required: false, type: 'int' },
        { id: 1002, name: 'name_trunc_2', required: false, type: 'string' },
        { id: 1003, name: 'address.city', required: false, type: 'string' },
        { id: 1004, name: 'amount_trunc_50', required: false, type: 'decimal(9, 2)' },
        { id: 1005, name: 'created_at_month', required: false, type: 'int' },
      ],
    });
    expect(partitionType(UNPARTITIONED_SPEC, schema)).toEqual({ type: 'struct', fields: [] });
  });

  it('computes values from rows, nested columns included, and nulls for missing values', () => {
    const row = { id: 34n, name: 'iceberg', created_at: new Date('2024-03-05T13:45:00Z'), amount: '10.65', address: { city: 'Lyon' } };
    expect(partitionValues(spec, schema, row)).toEqual([19787, (2017239379 & 0x7fffffff) % 16, 'ic', 'Lyon', 1050n, 650]);
    expect(partitionValues(spec, schema, { id: 1 })).toEqual([null, expect.any(Number), null, null, null, null]);
    expect(createPartitioner(spec, schema)({ id: 2n, address: null })[3]).toBeNull();
  });

  it('fails on a row value that does not fit its column, naming it', () => {
    expect(() => partitionValues(spec, schema, { id: 1n, created_at: 'yesterday' })).toThrow(/Value "yesterday" for column "created_at" is not a valid timestamptz/);
  });

  it('renders paths that are readable and unique', () => {
    const row = { id: 34n, name: 'a/b', created_at: new Date('2024-03-05T13:45:00Z'), amount: '-0.01', address: { city: 'São Paulo' } };
    expect(partitionPath(spec, schema, partitionValues(spec, schema, row))).toBe(
      'created_at_day=2024-03-05/id_bucket_16=3/name_trunc_2=a%2F/address.city=S%C3%A3o%20Paulo/amount_trunc_50=-0.50/created_at_month=2024-03',
    );
    expect(partitionPath(spec, schema, [null, 0, null, null, null, null])).toBe(
      'created_at_day=null/id_bucket_16=0/name_trunc_2=null/address.city=null/amount_trunc_50=null/created_at_month=null',
    );
    expect(partitionPath(UNPARTITIONED_SPEC, schema, [])).toBe('');
    expect(() => partitionPath(spec, schema, [1])).toThrow(/has 6 fields but the partition tuple has 1 values/);
  });

  it('refuses a spec whose source column is gone from the schema', () => {
    const orphan = { 'spec-id': 3, fields: [{ 'source-id': 99, 'field-id': 1000, name: 'x', transform: 'identity' }] };
    expect(() => partitionType(orphan, schema)).toThrow(/partition field "x" reads column id 99, which schema 0 has not/);
  });
});
