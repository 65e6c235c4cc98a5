import { z } from 'zod';
import { defineOperator, handleRecordError, InvalidOptionsError } from '@tributary/core';
import type { DeadLetter, Operator, StreamRecord } from '@tributary/core';
import { canonicalJson } from './canonical-json.js';
import type { ChangeEvent, ChangeSource, DebeziumRow, RowChangeEvent, TransactionInfo } from './change-event.js';
import { DebeziumDecodeError } from './debezium-decode-error.js';

/** Insert or replace the row stored under `key`. *
 * @example
 * ```ts
 * if (intent.kind === 'upsert') await redis.hset(`order:${intent.key}`, flatten(intent.row));
 * ```
 */
export interface UpsertIntent<Row = DebeziumRow> {
  readonly kind: 'upsert';
  /** The row's key string (see {@link ChangesToIntentsOptions}). */
  readonly key: string;
  /** The new row image. */
  readonly row: Row;
  /**
   * Columns the database did not provide (unchanged TOAST): absent from `row`; keep the stored value for them. A sink
   * that cannot merge should treat a non-empty list as "read the old row first".
   */
  readonly unavailable: readonly string[];
  /** The operation it came from: `c` insert, `r` snapshot read, `u` update. */
  readonly op: 'c' | 'r' | 'u';
  readonly source: ChangeSource;
  readonly transaction: TransactionInfo | undefined;
}

/** Remove the row stored under `key`. *
 * @example
 * ```ts
 * if (intent.kind === 'delete') await redis.del(`order:${intent.key}`);
 * ```
 */
export interface DeleteIntent {
  readonly kind: 'delete';
  readonly key: string;
  /** `d` for a delete; `u` for the old key of an update that changed the primary key. */
  readonly op: 'd' | 'u';
  readonly source: ChangeSource;
  readonly transaction: TransactionInfo | undefined;
}

/** Remove every row of a table. *
 * @example
 * ```ts
 * if (intent.kind === 'truncate') console.log(`truncate ${intent.table.schema}.${intent.table.table}`);
 * ```
 */
export interface TruncateIntent {
  readonly kind: 'truncate';
  readonly table: { readonly db: string | undefined; readonly schema: string | undefined; readonly table: string | undefined };
  readonly source: ChangeSource;
  readonly transaction: TransactionInfo | undefined;
}

/**
 * What a change means for a store keyed by primary key: the vocabulary key-value and table sinks apply.
 *
 * @example
 * ```ts
 * function apply(store: Map<string, Order>, intent: ChangeIntent<Order>): void {
 *   if (intent.kind === 'upsert') store.set(intent.key, { ...store.get(intent.key), ...intent.row });
 *   else if (intent.kind === 'delete') store.delete(intent.key);
 *   else store.clear();
 * }
 * ```
 */
export type ChangeIntent<Row = DebeziumRow> = UpsertIntent<Row> | DeleteIntent | TruncateIntent;

const functionSchema = <F>() => z.custom<F>((value) => typeof value === 'function', { message: 'must be a function' });

function changesToIntentsOptionsSchema<Row, Before>() {
  return z.strictObject({
    /** Step name in metrics, logs and dead letters. Default `changes-to-intents-<n>`. */
    name: z.string().min(1, 'must be a non-empty string').optional(),
    /** What happens to a change whose key cannot be computed: `dlq` (default) | `skip` | `fail`. */
    onError: z.enum(['dlq', 'skip', 'fail']).default('dlq'),
    /**
     * How to key rows. Either the primary key columns, e.g. `['tenant_id', 'order_id']` — the key is then the canonical
     * JSON of those columns (`{"order_id":7,"tenant_id":"t1"}`, fields sorted: the same string `decodeDebezium` makes
     * of Debezium's record key when these are the table's key columns) — or a function of a row image returning a
     * string: it gets `after` for inserts and updates and `before` (or, when there is none, the decoded record key)
     * for deletes and for the old image of updates. Required.
     */
    key: z.union([
      z.array(z.string().min(1, 'column names must be non-empty')).min(1, 'must name at least one column').readonly(),
      functionSchema<(row: Row | Before) => string>(),
    ]),
  });
}

const optionsSchemaInstance = changesToIntentsOptionsSchema<unknown, unknown>();

/** Options of {@link changesToIntents}: `key` (required), `name` (default `changes-to-intents-<n>`), `onError` (default `dlq`). *
 * @example
 * ```ts
 * const byColumns: ChangesToIntentsOptions = { key: ['tenant_id', 'order_id'] };
 * const byFunction: ChangesToIntentsOptions<Order> = { key: (row) => `${String(row.id)}` };
 * ```
 *
 * @interface
 */
export type ChangesToIntentsOptions<Row = DebeziumRow, Before = DebeziumRow> = z.input<ReturnType<typeof changesToIntentsOptionsSchema<Row, Before>>>;

/**
 * Turns decoded change events into what a keyed store must do: inserts, snapshot reads and updates become
 * `{ kind: 'upsert', key, row }`, deletes `{ kind: 'delete', key }`, truncates `{ kind: 'truncate', table }`. An update
 * whose old image has a different key (a primary key change, when the old image is logged) becomes a delete of the old
 * key followed by an upsert of the new one. Intents leave in input order, so per-key order holds; each output record
 * keeps the change's position and takes the intent key as its record key.
 *
 * Tombstones (they repeat the delete before them), heartbeats, transaction boundaries, schema changes and logical
 * messages produce nothing. A change whose key cannot be computed (a key column missing, a key function that throws or
 * returns a non-string) follows `onError` with code `DEBEZIUM_KEY_MISSING`.
 *
 * @param options see {@link ChangesToIntentsOptions}
 * @throws InvalidOptionsError at construction, naming the bad option
 *
 * @example
 * ```ts
 * const intents = records.pipe(
 *   decodeDebezium({ row: Order, kinds: ['change', 'truncate'] }),
 *   changesToIntents<Order>({ key: ['order_id'] }),
 * ); // Operator<..., ChangeIntent<Order>>
 * ```
 */
export function changesToIntents<Row = DebeziumRow, Before = DebeziumRow>(options: ChangesToIntentsOptions<Row, Before>): Operator<ChangeEvent<Row, Before>, ChangeIntent<Row>> {
  const result = optionsSchemaInstance.safeParse(options);
  if (!result.success) {
    throw new InvalidOptionsError(
      'changesToIntents',
      result.error.issues.map((issue) => `${issue.path.length > 0 ? issue.path.map(String).join('.') : '(options)'}: ${issue.message}`),
    );
  }
  const { name, onError, key } = result.data;
  /** The key of an image; `undefined` when the image lacks a key column. */
  const keyOf: (image: DebeziumRow) => string | undefined =
    typeof key === 'function'
      ? (image) => {
          const value = (key as (row: unknown) => unknown)(image);
          if (typeof value !== 'string') throw new TypeError(`the key function returned ${typeof value}, not a string`);
          return value;
        }
      : (image) => {
          const picked: Record<string, unknown> = {};
          for (const column of key) {
            if (!Object.hasOwn(image, column)) return undefined;
            picked[column] = image[column];
          }
          return canonicalJson(picked);
        };
  const keyName = typeof key === 'function' ? 'the key function' : `key columns ${key.join(', ')}`;

  return defineOperator<ChangeEvent<Row, Before>, ChangeIntent<Row>>('changes-to-intents', name, (context) => ({
    data(records, emit) {
      const out: StreamRecord<ChangeIntent<Row>>[] = [];
      let letters: DeadLetter[] | undefined;
      const push = (record: StreamRecord<unknown>, intentKey: string | null, intent: ChangeIntent<Row>): void => {
        out.push({ key: intentKey, value: intent, eventTime: record.eventTime, position: record.position, headers: record.headers });
      };
      for (const record of records) {
        const event = record.value;
        try {
          if (event.kind === 'truncate') {
            const { db, schema, table } = event.source;
            push(record, null, { kind: 'truncate', table: { db, schema, table }, source: event.source, transaction: event.transaction });
            continue;
          }
          if (event.kind !== 'change') continue;
          const change = event;
          const { source, transaction } = change;
          if (change.op === 'd') {
            const image = (change.before ?? change.key);
            const deleted = (image === null ? undefined : keyOf(image)) ?? (change.key === null || image === change.key ? undefined : keyOf(change.key));
            if (deleted === undefined) throw missingKey(change, keyName, 'before');
            push(record, deleted, { kind: 'delete', key: deleted, op: 'd', source, transaction });
            continue;
          }
          const upserted = keyOf(change.after as DebeziumRow);
          if (upserted === undefined) throw missingKey(change, keyName, 'after');
          if (change.op === 'u' && change.before !== null) {
            const previous = keyOf(change.before as DebeziumRow);
            if (previous !== undefined && previous !== upserted) push(record, previous, { kind: 'delete', key: previous, op: 'u', source, transaction });
          }
          push(record, upserted, { kind: 'upsert', key: upserted, row: change.after, unavailable: change.unavailable, op: change.op, source, transaction });
        } catch (error) {
          const wrapped =
            error instanceof DebeziumDecodeError
              ? error
              : new DebeziumDecodeError('DEBEZIUM_KEY_MISSING', `Could not compute the key of a change with ${keyName}: ${(error as Error).message}.`, { cause: error });
          const letter = handleRecordError(onError, context, record, wrapped);
          if (letter) (letters ??= []).push(letter);
        }
      }
      emit.data(out);
      if (letters) emit.deadLetters(letters);
    },
  }));
}

function missingKey(change: RowChangeEvent<unknown, unknown>, keyName: string, image: 'before' | 'after'): DebeziumDecodeError {
  const table = [change.source.schema ?? change.source.db, change.source.table].filter(Boolean).join('.');
  return new DebeziumDecodeError(
    'DEBEZIUM_KEY_MISSING',
    `The ${image} image of a ${change.op} change of ${table || 'a table'} lacks ${keyName}` +
      (image === 'before' ? ' and so does the record key' : '') +
      '. Name the table\'s primary key columns in `key` (a row schema that strips them also loses them).',
  );
}
