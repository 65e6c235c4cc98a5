import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LakehouseError } from '../errors.js';
import type { IcebergSchema, Row } from '../schema/types.js';
import { buildPartitionSpec, partitionValues } from '../spec/partition-spec.js';
import { serializeValue, truncateLowerBound, truncateUpperBound } from '../spec/single-value.js';
import { compareLiterals, toLiteral } from '../spec/values.js';
import type { Expression, FileMetrics } from './expression.js';
import {
  alwaysFalse,
  alwaysTrue,
  and,
  bindExpression,
  canContainFile,
  canContainPartition,
  eq,
  evaluateRow,
  formatExpression,
  gt,
  gte,
  isIn,
  isNull,
  lt,
  lte,
  not,
  notEq,
  notIn,
  notNull,
  notStartsWith,
  or,
  startsWith,
} from './expression.js';

const schema: IcebergSchema = {
  type: 'struct',
  'schema-id': 0,
  'identifier-field-ids': [1],
  fields: [
    { id: 1, name: 'id', required: true, type: 'long' },
    { id: 2, name: 'name', required: false, type: 'string' },
    { id: 3, name: 'created_at', required: false, type: 'timestamptz' },
    { id: 4, name: 'amount', required: false, type: 'decimal(9, 2)' },
    { id: 5, name: 'score', required: false, type: 'double' },
    {
      id: 6,
      name: 'address',
      required: false,
      type: { type: 'struct', fields: [{ id: 7, name: 'city', required: true, type: 'string' }] },
    },
    { id: 8, name: 'tags', required: false, type: { type: 'list', 'element-id': 9, element: 'string', 'element-required': false } },
    { id: 10, name: 'day', required: false, type: 'date' },
    { id: 11, name: 'ref', required: false, type: 'uuid' },
  ],
};

describe('bindExpression', () => {
  it('resolves columns to field ids and values to literals', () => {
    expect(bindExpression(eq('amount', '12.3'), schema)).toEqual({
      op: 'predicate',
      fieldId: 4,
      column: 'amount',
      type: 'decimal(9, 2)',
      path: ['amount'],
      predicate: { op: '=', literal: 1230n },
    });
    expect(bindExpression(gte('address.city', 'L'), schema)).toMatchObject({ fieldId: 7, path: ['address', 'city'] });
    expect(bindExpression(lt('created_at', new Date(1)), schema)).toMatchObject({ predicate: { op: '<', literal: 1000n } });
  });

  it('pushes not down to the predicates', () => {
    const bound = bindExpression(not(and(lt('id', 5), or(isNull('name'), startsWith('name', 'a')))), schema);
    expect(bound).toMatchObject({
      op: 'or',
      left: { predicate: { op: '>=', literal: 5n } },
      right: { op: 'and', left: { predicate: { op: 'not-null' } }, right: { predicate: { op: 'not-starts-with', literal: 'a' } } },
    });
    expect(bindExpression(not(not(eq('id', 1))), schema)).toMatchObject({ predicate: { op: '=', literal: 1n } });
    expect(bindExpression(not(isIn('name', ['a', 'b'])), schema)).toMatchObject({ predicate: { op: 'not-in', literals: ['a', 'b'] } });
  });

  it('folds constants, single-value and empty lists, and nullness of required columns', () => {
    expect(bindExpression(and(alwaysTrue(), eq('id', 1)), schema)).toMatchObject({ op: 'predicate' });
    expect(bindExpression(or(alwaysTrue(), eq('id', 1)), schema)).toEqual({ op: 'true' });
    expect(bindExpression(not(alwaysFalse()), schema)).toEqual({ op: 'true' });
    expect(bindExpression(isIn('id', []), schema)).toEqual({ op: 'false' });
    expect(bindExpression(notIn('id', []), schema)).toEqual({ op: 'true' });
    expect(bindExpression(isIn('id', [3, 3n]), schema)).toMatchObject({ predicate: { op: '=', literal: 3n } });
    expect(bindExpression(isNull('id'), schema)).toEqual({ op: 'false' });
    expect(bindExpression(notNull('id'), schema)).toEqual({ op: 'true' });
    // Required inside an optional struct: null when the struct is.
    expect(bindExpression(isNull('address.city'), schema)).toMatchObject({ op: 'predicate' });
    expect(and()).toEqual({ op: 'true' });
    expect(or()).toEqual({ op: 'false' });
  });

  it('explains unknown columns, wrong types and missing values', () => {
    const fails = (expression: Expression, message: RegExp) => {
      let error: unknown;
      try {
        bindExpression(expression, schema);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(LakehouseError);
      expect((error as Error).message).toMatch(message);
    };
    fails(eq('nope', 1), /column "nope" is not in the table schema \(columns: id, name, created_at/);
    fails(eq('Name', 'x'), /did you mean "name"\? names are case-sensitive/);
    fails(eq('address', 'x'), /column "address" is a struct; filters compare primitive columns only/);
    fails(eq('tags.element', 'x'), /inside a list or map/);
    fails(eq('id', null), /has no value; to find nulls use isNull\('id'\)/);
    fails(eq('id', 'abc'), /Value "abc" for column "id" is not a valid long/);
    fails(eq('score', Number.NaN), /compares with NaN/);
    fails(startsWith('id', '1'), /starts-with needs a string column; "id" is long/);
    fails({ op: 'in', column: 'id', value: 3 } as unknown as Expression, /needs an array of values/);
    fails({ op: 'like', column: 'id', value: 3 } as unknown as Expression, /unknown operator "like"/);
  });
});

describe('evaluateRow', () => {
  const row: Row = { id: 7n, name: 'alpha', created_at: new Date('2024-03-05T13:00:00Z'), amount: '10.50', score: 0.5, address: { city: 'Lyon' } };

  it('evaluates comparisons on any accepted value form', () => {
    const matches = (expression: Expression, subject: Row = row) => evaluateRow(bindExpression(expression, schema), subject);
    expect(matches(eq('id', 7))).toBe(true);
    expect(matches(gt('amount', 10.4))).toBe(true);
    expect(matches(lte('created_at', '2024-03-05T13:00:00Z'))).toBe(true);
    expect(matches(lt('created_at', '2024-03-05T13:00:00Z'))).toBe(false);
    expect(matches(and(startsWith('name', 'al'), notStartsWith('name', 'be')))).toBe(true);
    expect(matches(eq('address.city', 'Lyon'))).toBe(true);
    expect(matches(isIn('name', ['beta', 'alpha']))).toBe(true);
    expect(matches(notEq('name', 'alpha'))).toBe(false);
  });

  it('treats nulls as SQL does, including under not', () => {
    const nullName: Row = { id: 1n, name: null };
    const matches = (expression: Expression) => evaluateRow(bindExpression(expression, schema), nullName);
    expect(matches(isNull('name'))).toBe(true);
    expect(matches(notEq('name', 'x'))).toBe(false);
    expect(matches(notIn('name', ['x', 'y']))).toBe(false);
    expect(matches(not(eq('name', 'x')))).toBe(false);
    expect(matches(not(lt('name', 'x')))).toBe(false);
    expect(matches(not(isNull('name')))).toBe(false);
    expect(matches(eq('address.city', 'Lyon'))).toBe(false);
    expect(matches(isNull('address.city'))).toBe(true);
  });
});

describe('canContainFile', () => {
  const metrics = (overrides: Partial<FileMetrics> = {}): FileMetrics => ({
    recordCount: 10,
    valueCounts: new Map([
      [1, 10],
      [2, 10],
      [5, 10],
    ]),
    nullValueCounts: new Map([
      [1, 0],
      [2, 2],
      [5, 0],
    ]),
    lowerBounds: new Map([
      [1, serializeValue('long', 10n)],
      [2, serializeValue('string', 'banana')],
    ]),
    upperBounds: new Map([
      [1, serializeValue('long', 20n)],
      [2, serializeValue('string', 'cherry')],
    ]),
    ...overrides,
  });
  const may = (expression: Expression, file: FileMetrics = metrics()) => canContainFile(bindExpression(expression, schema), file);

  it('prunes on bounds only when no value can match', () => {
    expect(may(lt('id', 10))).toBe(false);
    expect(may(lt('id', 11))).toBe(true);
    expect(may(lte('id', 9))).toBe(false);
    expect(may(gt('id', 20))).toBe(false);
    expect(may(gte('id', 20))).toBe(true);
    expect(may(eq('id', 21))).toBe(false);
    expect(may(eq('id', 15))).toBe(true);
    expect(may(isIn('id', [1, 30]))).toBe(false);
    expect(may(isIn('id', [1, 15]))).toBe(true);
    expect(may(notEq('id', 15))).toBe(true);
    expect(may(startsWith('name', 'c'))).toBe(true);
    expect(may(startsWith('name', 'd'))).toBe(false);
    expect(may(startsWith('name', 'ba'))).toBe(true);
    expect(may(startsWith('name', 'ap'))).toBe(false);
    expect(may(or(eq('id', 50), startsWith('name', 'ch')))).toBe(true);
    expect(may(and(eq('id', 15), startsWith('name', 'z')))).toBe(false);
  });

  it('prunes on null counts', () => {
    expect(may(isNull('id'))).toBe(false);
    expect(may(isNull('name'))).toBe(true);
    const allNull = metrics({ nullValueCounts: new Map([[2, 10]]) });
    expect(may(notNull('name'), allNull)).toBe(false);
    expect(may(notEq('name', 'x'), allNull)).toBe(false);
    expect(may(isNull('name'), allNull)).toBe(true);
    expect(may(eq('id', 15), { recordCount: 0 })).toBe(false);
  });

  it('prunes not-starts-with only when both bounds carry the prefix', () => {
    const prefixed = metrics({ lowerBounds: new Map([[2, 'abc-1']]), upperBounds: new Map([[2, 'abc-9']]) });
    expect(may(notStartsWith('name', 'abc'), prefixed)).toBe(false);
    expect(may(notStartsWith('name', 'abc-5'), prefixed)).toBe(true);
  });

  it('skips files holding only NaN and null doubles for comparisons, and never prunes on uuid bounds', () => {
    const nan = metrics({ nanValueCounts: new Map([[5, 10]]) });
    expect(may(gt('score', 0), nan)).toBe(false);
    expect(may(notEq('score', 0), nan)).toBe(true);
    const uuid = metrics({
      lowerBounds: new Map([[11, serializeValue('uuid', '00000000-0000-0000-0000-000000000001')]]),
      upperBounds: new Map([[11, serializeValue('uuid', '00000000-0000-0000-0000-000000000002')]]),
    });
    expect(may(eq('ref', 'ffffffff-0000-0000-0000-000000000000'), uuid)).toBe(true);
  });

  it('keeps files whose statistics are missing or unreadable', () => {
    expect(may(eq('id', 99), {})).toBe(true);
    expect(may(eq('id', 99), metrics({ lowerBounds: new Map([[1, Uint8Array.of(1, 2, 3)]]), upperBounds: new Map() }))).toBe(true);
    expect(may(eq('id', 99), { lowerBounds: { 1: 5n }, upperBounds: { 1: 8n } })).toBe(false);
  });

  // Soundness: for any rows and filter, a file whose statistics come from those rows is kept when a row matches.
  it('never prunes a file that holds a matching row', () => {
    // Small domains so that literals often hit the bounds exactly, where off-by-one pruning mistakes show.
    const names = fc.option(fc.string({ unit: fc.constantFrom('a', 'b', 'é', '😀'), maxLength: 7 }), { nil: null });
    const rows = fc.array(fc.record({ id: fc.bigInt({ min: -5n, max: 5n }), name: names }), { minLength: 1, maxLength: 6 });
    const filter = fc.oneof(
      fc.tuple(fc.constantFrom('<', '<=', '>', '>=', '=', '!='), fc.bigInt({ min: -6n, max: 6n })).map(([op, value]) => ({ op, column: 'id', value })),
      fc.tuple(fc.constantFrom('starts-with', 'not-starts-with', '<', '>=', '='), fc.string({ unit: fc.constantFrom('a', 'b', 'é', '😀'), maxLength: 6 })).map(
        ([op, value]) => ({ op, column: 'name', value }),
      ),
      fc.constantFrom(isNull('name'), notNull('name')),
    );
    const expressions = fc.oneof(filter, fc.tuple(filter, filter).map(([a, b]) => and(a, b)), fc.tuple(filter, filter).map(([a, b]) => or(a, not(b))));
    fc.assert(
      fc.property(rows, expressions, (sample, expression) => {
        const bound = bindExpression(expression, schema);
        if (!sample.some((row) => evaluateRow(bound, row))) return;
        const present = sample.filter((row) => row.name !== null).map((row) => row.name!);
        const ids = sample.map((row) => row.id);
        const byOrder = (a: string, b: string) => compareLiterals(a, b);
        const sorted = [...present].sort(byOrder);
        const lowerName = sorted[0] === undefined ? undefined : truncateLowerBound('string', sorted[0], 3);
        const upperName = sorted.at(-1) === undefined ? undefined : truncateUpperBound('string', sorted.at(-1), 3);
        const file: FileMetrics = {
          recordCount: sample.length,
          valueCounts: new Map([
            [1, sample.length],
            [2, sample.length],
          ]),
          nullValueCounts: new Map([
            [1, 0],
            [2, sample.length - present.length],
          ]),
          lowerBounds: new Map<number, unknown>([[1, ids.reduce((a, b) => (a < b ? a : b))], ...(lowerName === undefined ? [] : [[2, lowerName] as const])]),
          upperBounds: new Map<number, unknown>([[1, ids.reduce((a, b) => (a > b ? a : b))], ...(upperName === undefined ? [] : [[2, upperName] as const])]),
        };
        expect(canContainFile(bound, file)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('canContainPartition', () => {
  const spec = buildPartitionSpec(schema, [
    { column: 'created_at', transform: 'day' },
    { column: 'id', transform: 'bucket[8]' },
    { column: 'name', transform: 'truncate[2]' },
    { column: 'amount' },
  ]);
  const valuesOf = (row: Row) => partitionValues(spec, schema, row);
  const row: Row = { id: 34n, name: 'alpha', created_at: new Date('2024-03-05T13:00:00Z'), amount: '10.50' };

  it('prunes partitions through every transform of the column', () => {
    const may = (expression: Expression, values: readonly unknown[] = valuesOf(row)) => canContainPartition(bindExpression(expression, schema), spec, schema, values);
    expect(may(gte('created_at', '2024-03-06T00:00:00Z'))).toBe(false);
    expect(may(gte('created_at', '2024-03-05T23:59:59Z'))).toBe(true);
    expect(may(lt('created_at', '2024-03-05T00:00:00Z'))).toBe(false);
    expect(may(eq('id', 34))).toBe(true);
    expect(may(eq('id', 35)) === (toLiteral('int', valuesOf({ id: 35n })[1]) === valuesOf(row)[1])).toBe(true);
    expect(may(gt('id', 1000))).toBe(true);
    expect(may(startsWith('name', 'be'))).toBe(false);
    expect(may(startsWith('name', 'alp'))).toBe(true);
    expect(may(eq('amount', '10.51'))).toBe(false);
    expect(may(eq('amount', 10.5))).toBe(true);
    expect(may(isNull('name'))).toBe(false);
    expect(may(isNull('name'), valuesOf({ id: 1n }))).toBe(true);
    expect(may(or(eq('amount', '1.00'), startsWith('name', 'al')))).toBe(true);
  });

  it('reads partition values as manifests return them (bytes for decimals) and ignores unknown transforms', () => {
    const manifestValues = [19787, 3, 'al', Uint8Array.of(0x04, 0x1a)];
    expect(canContainPartition(bindExpression(eq('amount', '10.50'), schema), spec, schema, manifestValues)).toBe(true);
    expect(canContainPartition(bindExpression(eq('amount', '10.49'), schema), spec, schema, manifestValues)).toBe(false);
    const future = { 'spec-id': 9, fields: [{ 'source-id': 2, 'field-id': 1000, name: 'z', transform: 'zorder' }] };
    expect(canContainPartition(bindExpression(eq('name', 'x'), schema), future, schema, ['whatever'])).toBe(true);
  });

  it('never prunes a partition holding a matching row', () => {
    const rows = fc.record({
      id: fc.bigInt({ min: -100n, max: 100n }),
      name: fc.option(fc.string({ unit: fc.constantFrom('a', 'b', 'é'), maxLength: 4 }), { nil: null }),
      created_at: fc.option(fc.bigInt({ min: -400_000_000_000n, max: 400_000_000_000n }), { nil: null }),
      amount: fc.option(fc.bigInt({ min: -5000n, max: 5000n }), { nil: null }),
    });
    const predicate = fc.oneof(
      fc.tuple(fc.constantFrom('<', '<=', '>', '>=', '=', '!='), fc.bigInt({ min: -100n, max: 100n })).map(([op, value]) => ({ op, column: 'id', value })),
      fc.tuple(fc.constantFrom('<', '<=', '>', '>=', '='), fc.bigInt({ min: -400_000_000_000n, max: 400_000_000_000n })).map(
        ([op, value]) => ({ op, column: 'created_at', value }),
      ),
      fc.tuple(fc.constantFrom('<', '>', '=', 'starts-with', 'not-starts-with'), fc.string({ unit: fc.constantFrom('a', 'b', 'é'), maxLength: 4 })).map(
        ([op, value]) => ({ op, column: 'name', value }),
      ),
      fc.tuple(fc.constantFrom('<', '>=', '='), fc.bigInt({ min: -5000n, max: 5000n })).map(([op, value]) => ({ op, column: 'amount', value })),
      fc.constantFrom(isNull('name'), notNull('created_at')),
    );
    const expressions = fc.oneof(predicate, fc.tuple(predicate, predicate).map(([a, b]) => or(not(a), b)));
    fc.assert(
      fc.property(rows, expressions, (sample, expression) => {
        const bound = bindExpression(expression, schema);
        if (!evaluateRow(bound, sample)) return;
        expect(canContainPartition(bound, spec, schema, valuesOf(sample))).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('formatExpression', () => {
  it('renders SQL-like text', () => {
    expect(formatExpression(and(eq('country', "O'Hare"), not(isNull('email')), isIn('id', [1n, 2n])))).toBe(
      "((country = 'O''Hare' AND NOT (email IS NULL)) AND id IN (1, 2))",
    );
    expect(formatExpression(or(startsWith('sku', 'EU-'), lt('at', new Date(0))))).toBe("(sku STARTS WITH 'EU-' OR at < '1970-01-01T00:00:00.000Z')");
  });
});
