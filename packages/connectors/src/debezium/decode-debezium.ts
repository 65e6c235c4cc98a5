import { z } from 'zod';
import { defineOperator, handleRecordError, InvalidOptionsError } from '@tributary/core';
import type { DeadLetter, Operator, StreamRecord } from '@tributary/core';
import { canonicalJson } from './canonical-json.js';
import type { ChangeEvent, ChangeEventKind, DebeziumRow } from './change-event.js';
import { DebeziumDecoder, debeziumDecoderShape } from './debezium-decoder.js';

const allKinds = ['change', 'truncate', 'tombstone', 'heartbeat', 'transaction', 'schema-change', 'message'] as const satisfies readonly ChangeEventKind[];

// A function so the option types can carry the operator's type parameters; the runtime schema is the same for all.
function decodeDebeziumOptionsSchema<Row, Before, Kind extends ChangeEventKind>() {
  return z.strictObject({
    /** Step name in metrics, logs and dead letters. Default `decode-debezium-<n>`. */
    name: z.string().min(1, 'must be a non-empty string').optional(),
    /**
     * What happens to a record that cannot be decoded (see `DebeziumErrorCode`): `dlq` (default) — to the dead letters
     * with its code and source position; `skip` — logged and dropped; `fail` — the runtime stops without committing it.
     */
    onError: z.enum(['dlq', 'skip', 'fail']).default('dlq'),
    ...debeziumDecoderShape<Row, Before>(),
    /**
     * Which kinds of event to pass on; the others are dropped (they are Debezium's own control messages, not failures).
     * The output type narrows to the kinds listed. Default: all — `change`, `truncate`, `tombstone`, `heartbeat`,
     * `transaction`, `schema-change`, `message`.
     */
    kinds: (z.array(z.enum(allKinds)).min(1, 'must list at least one kind') as unknown as z.ZodType<readonly Kind[], readonly Kind[]>).optional(),
    /**
     * The output records' event time: `record` (default) — keep the source record's (the Kafka timestamp), so the
     * source's watermarks stay valid; `source` — `source.ts_ms`, when the change happened in the database (commit
     * time); `envelope` — the envelope's `ts_ms`, when Debezium processed it. Events without that field keep the
     * record's time. `source` times are earlier than Kafka timestamps: give the source's watermark enough
     * out-of-orderness for the connector's lag, or windows will see late records.
     */
    eventTime: z.enum(['record', 'source', 'envelope']).default('record'),
  });
}

const optionsSchemaInstance = decodeDebeziumOptionsSchema<unknown, unknown, ChangeEventKind>();

/**
 * Options of {@link decodeDebezium}: `name` (default `decode-debezium-<n>`), `onError` (default `dlq`), `row`
 * (default none), `beforeRow` (default none), `kinds` (default all), `eventTime` (default `record`),
 * `unavailableValuePlaceholder` (default `'__debezium_unavailable_value'`), `unsafeIntegers` (default `error`).
 *
 * @example
 * ```ts
 * const options: DecodeDebeziumOptions<Order> = { name: 'decode-orders', row: Order, eventTime: 'source' };
 * ```
 *
 * @interface
 */
export type DecodeDebeziumOptions<Row = DebeziumRow, Before = DebeziumRow, Kind extends ChangeEventKind = ChangeEventKind> = z.input<
  ReturnType<typeof decodeDebeziumOptionsSchema<Row, Before, Kind>>
>;

/** The events a {@link decodeDebezium} step passes on: those of the listed kinds. *
 * @example
 * ```ts
 * type OrderChanges = DecodedChangeEvent<Order, DebeziumRow, 'change' | 'truncate'>; // RowChangeEvent<Order> | TruncateEvent
 * ```
 */
export type DecodedChangeEvent<Row = DebeziumRow, Before = DebeziumRow, Kind extends ChangeEventKind = ChangeEventKind> = Extract<
  ChangeEvent<Row, Before>,
  { kind: Kind }
>;

/**
 * Decodes Debezium Kafka records into typed {@link ChangeEvent}s inside a topology (see `DebeziumDecoder` for the
 * formats and value representations). Record values may be JSON text, UTF-8 bytes or already parsed JSON; `null` is a
 * tombstone. Each output record keeps its position and headers; its key becomes the canonical JSON of the decoded
 * Debezium key (`{"id":42}`: sorted fields, exact), so later keyed steps see one key per row whatever the converter
 * wrote; records whose key is not JSON keep theirs.
 *
 * A record that cannot be decoded — not JSON, no envelope, an unknown `op`, a payload that contradicts its embedded
 * schema, a row that fails `row` / `beforeRow` — follows `onError` (dead letters by default) with a
 * {@link DebeziumDecodeError} whose code says which. Events of kinds not in `kinds` are dropped.
 *
 * @param options see {@link DecodeDebeziumOptions}
 * @throws InvalidOptionsError at construction, naming the bad option
 *
 * @example
 * ```ts
 * const Order = z.object({ id: z.number(), amount: z.string(), placed_at: z.string() });
 * const changes = records.pipe(
 *   decodeDebezium({ name: 'decode-orders', row: Order, kinds: ['change', 'truncate'] }),
 * ); // Operator<unknown, RowChangeEvent<{ id: number; amount: string; placed_at: string }> | TruncateEvent>
 * ```
 */
export function decodeDebezium<Row = DebeziumRow, Before = DebeziumRow, const Kind extends ChangeEventKind = ChangeEventKind>(
  options: DecodeDebeziumOptions<Row, Before, Kind> = {},
): Operator<unknown, DecodedChangeEvent<Row, Before, Kind>> {
  const result = optionsSchemaInstance.safeParse(options);
  if (!result.success) {
    throw new InvalidOptionsError(
      'decodeDebezium',
      result.error.issues.map((issue) => `${issue.path.length > 0 ? issue.path.map(String).join('.') : '(options)'}: ${issue.message}`),
    );
  }
  const { name, onError, kinds, eventTime, row, beforeRow, unavailableValuePlaceholder, unsafeIntegers } = result.data;
  const decoder = new DebeziumDecoder<Row, Before>({
    row: row as z.ZodType<Row> | undefined,
    beforeRow: beforeRow as z.ZodType<Before> | undefined,
    unavailableValuePlaceholder,
    unsafeIntegers,
  });
  const wanted = new Set<ChangeEventKind>(kinds ?? allKinds);

  return defineOperator<unknown, DecodedChangeEvent<Row, Before, Kind>>('decode-debezium', name, (context) => ({
    data(records, emit) {
      const out: StreamRecord<DecodedChangeEvent<Row, Before, Kind>>[] = [];
      let letters: DeadLetter[] | undefined;
      for (const record of records) {
        let event: ChangeEvent<Row, Before>;
        try {
          event = decoder.decode(record.value, record.key, record.position);
        } catch (error) {
          const letter = handleRecordError(onError, context, record, error);
          if (letter) (letters ??= []).push(letter);
          continue;
        }
        if (!wanted.has(event.kind)) continue;
        out.push({
          key: event.key === null ? record.key : canonicalJson(event.key),
          value: event as DecodedChangeEvent<Row, Before, Kind>,
          eventTime: eventTimeOf(event, eventTime) ?? record.eventTime,
          position: record.position,
          headers: record.headers,
        });
      }
      emit.data(out);
      if (letters) emit.deadLetters(letters);
    },
  }));
}

function eventTimeOf(event: ChangeEvent<unknown, unknown>, mode: 'record' | 'source' | 'envelope'): number | undefined {
  if (mode === 'record') return undefined;
  if (mode === 'source') return 'source' in event && event.source !== undefined ? event.source.tsMs : undefined;
  return 'tsMs' in event ? event.tsMs : undefined;
}
