import { InvalidOptionsError } from '@tributary/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { LakehouseError } from '../errors.js';
import { icebergSchemaFromZod } from './from-zod.js';
import { lastColumnId } from './schema-utils.js';

describe('icebergSchemaFromZod', () => {
  it('maps zod kinds to Iceberg types and numbers top-level columns first', () => {
    const Order = z.object({
      order_id: z.bigint(),
      customer: z.string().describe('Customer name'),
      count: z.number().int(),
      small: z.int32(),
      ratio: z.number(),
      single: z.float32(),
      paid: z.boolean(),
      created_at: z.date(),
      ref: z.uuid(),
      ref2: z.string().min(1).uuid(),
      day: z.iso.date(),
      at: z.iso.time(),
      seen: z.iso.datetime(),
      local: z.iso.datetime({ local: true }),
      status: z.enum(['new', 'paid']),
      kind: z.literal('order'),
      level: z.union([z.literal(1), z.literal(2)]),
      huge: z.uint64(),
      code: z.templateLiteral(['A-', z.number()]),
    });
    const schema = icebergSchemaFromZod(Order);
    expect(schema.fields.map((field) => [field.id, field.name, field.type, field.required])).toEqual([
      [1, 'order_id', 'long', true],
      [2, 'customer', 'string', true],
      [3, 'count', 'long', true],
      [4, 'small', 'int', true],
      [5, 'ratio', 'double', true],
      [6, 'single', 'float', true],
      [7, 'paid', 'boolean', true],
      [8, 'created_at', 'timestamptz', true],
      [9, 'ref', 'uuid', true],
      [10, 'ref2', 'uuid', true],
      [11, 'day', 'date', true],
      [12, 'at', 'time', true],
      [13, 'seen', 'timestamptz', true],
      [14, 'local', 'timestamp', true],
      [15, 'status', 'string', true],
      [16, 'kind', 'string', true],
      [17, 'level', 'long', true],
      [18, 'huge', 'decimal(20, 0)', true],
      [19, 'code', 'string', true],
    ]);
    expect(schema.fields[1]?.doc).toBe('Customer name');
    expect(schema['schema-id']).toBe(0);
    expect(schema['identifier-field-ids']).toBeUndefined();
  });

  it('makes optional, nullable and null-union fields optional, and defaults required', () => {
    const schema = icebergSchemaFromZod(
      z.object({
        a: z.string().optional(),
        b: z.string().nullable(),
        c: z.nullish(z.string()),
        d: z.union([z.string(), z.null()]),
        e: z.string().default('x'),
        f: z.string().optional().describe('doc on the wrapper'),
        g: z.string().readonly().catch('y'),
      }),
    );
    expect(schema.fields.map((field) => [field.name, field.required])).toEqual([
      ['a', false],
      ['b', false],
      ['c', false],
      ['d', false],
      ['e', true],
      ['f', false],
      ['g', true],
    ]);
    expect(schema.fields[5]?.doc).toBe('doc on the wrapper');
  });

  it('assigns ids to nested structs, lists and maps after the top-level columns', () => {
    const schema = icebergSchemaFromZod(
      z.object({
        id: z.bigint(),
        address: z.object({ city: z.string(), zip: z.string().optional() }).optional(),
        tags: z.array(z.string().nullable()),
        attributes: z.record(z.string(), z.number()),
        lines: z.array(z.object({ sku: z.string(), qty: z.number().int() })),
        byCode: z.map(z.number().int(), z.string().optional()),
      }),
    );
    expect(schema.fields).toEqual([
      { id: 1, name: 'id', required: true, type: 'long' },
      {
        id: 2,
        name: 'address',
        required: false,
        type: {
          type: 'struct',
          fields: [
            { id: 7, name: 'city', required: true, type: 'string' },
            { id: 8, name: 'zip', required: false, type: 'string' },
          ],
        },
      },
      { id: 3, name: 'tags', required: true, type: { type: 'list', 'element-id': 9, element: 'string', 'element-required': false } },
      {
        id: 4,
        name: 'attributes',
        required: true,
        type: { type: 'map', 'key-id': 10, key: 'string', 'value-id': 11, value: 'double', 'value-required': true },
      },
      {
        id: 5,
        name: 'lines',
        required: true,
        type: {
          type: 'list',
          'element-id': 12,
          element: {
            type: 'struct',
            fields: [
              { id: 13, name: 'sku', required: true, type: 'string' },
              { id: 14, name: 'qty', required: true, type: 'long' },
            ],
          },
          'element-required': true,
        },
      },
      {
        id: 6,
        name: 'byCode',
        required: true,
        type: { type: 'map', 'key-id': 15, key: 'long', 'value-id': 16, value: 'string', 'value-required': false },
      },
    ]);
    expect(lastColumnId(schema)).toBe(16);
  });

  it('follows pipes, codecs and lazy schemas to their output type', () => {
    const schema = icebergSchemaFromZod(
      z.object({
        flag: z.stringbool(),
        trimmed: z.string().pipe(z.string().min(1)),
        later: z.lazy(() => z.number().int()),
      }),
    );
    expect(schema.fields.map((field) => field.type)).toEqual(['boolean', 'string', 'long']);
  });

  it('applies type overrides by path, including list elements and map values', () => {
    const schema = icebergSchemaFromZod(
      z.object({
        amount: z.string(),
        quantity: z.number().int(),
        payload: z.instanceof(Uint8Array),
        scores: z.array(z.number()),
        prices: z.record(z.string(), z.string()),
        nested: z.object({ at: z.custom<bigint>() }),
      }),
      {
        types: {
          amount: 'decimal(12, 2)',
          quantity: 'int',
          payload: 'binary',
          'scores.element': 'float',
          'prices.value': 'decimal(9, 2)',
          'nested.at': 'timestamp',
        },
      },
    );
    expect(schema.fields.map((field) => field.type)).toEqual([
      'decimal(12, 2)',
      'int',
      'binary',
      { type: 'list', 'element-id': 7, element: 'float', 'element-required': true },
      { type: 'map', 'key-id': 8, key: 'string', 'value-id': 9, value: 'decimal(9, 2)', 'value-required': true },
      { type: 'struct', fields: [{ id: 10, name: 'at', required: true, type: 'timestamp' }] },
    ]);
  });

  it('sets identifier fields and checks that they can identify rows', () => {
    const Row = z.object({ tenant: z.string(), id: z.bigint(), note: z.string().optional(), score: z.number(), meta: z.object({ key: z.string() }) });
    expect(icebergSchemaFromZod(Row, { identifierFields: ['tenant', 'id', 'meta.key'] })['identifier-field-ids']).toEqual([1, 2, 6]);
    expect(() => icebergSchemaFromZod(Row, { identifierFields: ['note'] })).toThrow(/identifier field "note" cannot identify rows: it is optional/);
    expect(() => icebergSchemaFromZod(Row, { identifierFields: ['score'] })).toThrow(/it is a double/);
    expect(() => icebergSchemaFromZod(Row, { identifierFields: ['nope'] })).toThrow(/identifier field "nope" is not in the schema \(columns: tenant, id/);
  });

  it('names the path of anything it cannot map', () => {
    const fails = (schema: z.core.$ZodType, message: RegExp) => {
      let error: unknown;
      try {
        icebergSchemaFromZod(schema);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(LakehouseError);
      expect((error as LakehouseError).code).toBe('UNSUPPORTED_ZOD_TYPE');
      expect((error as Error).message).toMatch(message);
    };
    fails(z.object({ a: z.object({ b: z.any() }) }), /for "a.b": zod any schemas carry no Iceberg type\. Pass types: \{ 'a.b': '<iceberg type>' \}/);
    fails(z.object({ t: z.tuple([z.string()]) }), /"t": zod tuple schemas/);
    fails(z.object({ u: z.union([z.string(), z.number()]) }), /"u": a union of string \| number has no single Iceberg type/);
    fails(z.object({ s: z.set(z.string()) }), /"s": a Set has no Iceberg type; use z.array/);
    fails(z.object({ x: z.string().transform((value) => value.length) }), /"x": its \.transform\(\) output has no declared type/);
    fails(z.object({ l: z.array(z.unknown()) }), /"l.element"/);
    fails(z.string(), /the schema root: a table schema must be a zod object, not string/);
    type Node = { next?: Node };
    const Recursive: z.ZodType<Node> = z.lazy(() => z.object({ next: Recursive }));
    fails(z.object({ node: Recursive }), /recursive|"node.next.next/);
  });

  it('rejects bad options', () => {
    const Row = z.object({ a: z.string() });
    expect(() => icebergSchemaFromZod(Row, { types: { a: 'varchar' } })).toThrow(InvalidOptionsError);
    expect(() => icebergSchemaFromZod(Row, { types: { b: 'string' } })).toThrow(InvalidOptionsError);
    expect(() => icebergSchemaFromZod(Row, { types: { b: 'string' } })).toThrow(/types\.b: the zod schema has no such path/);
    expect(() => icebergSchemaFromZod(Row, { schemaId: -1 })).toThrow(InvalidOptionsError);
  });
});
