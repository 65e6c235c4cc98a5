import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { of } from 'rxjs';
import type { Observable } from 'rxjs';
import type { Chunk, Operator } from '@tributary/core';
import type { ChangeEvent, DebeziumRow, RowChangeEvent, TruncateEvent } from './change-event.js';
import { changesToIntents } from './changes-to-intents.js';
import type { ChangeIntent } from './changes-to-intents.js';
import { decodeDebezium } from './decode-debezium.js';
import { DebeziumDecoder } from './debezium-decoder.js';

const Order = z.object({ id: z.number(), amount: z.string() });
type Order = z.output<typeof Order>;

describe('Debezium types', () => {
  it('types rows from the row schema and before images from beforeRow', () => {
    expectTypeOf(decodeDebezium()).toEqualTypeOf<Operator<unknown, ChangeEvent<DebeziumRow, DebeziumRow>>>();
    const typed = decodeDebezium({ row: Order });
    expectTypeOf(typed).toEqualTypeOf<Operator<unknown, ChangeEvent<Order, DebeziumRow>>>();
    const both = decodeDebezium({ row: Order, beforeRow: Order.pick({ id: true }) });
    expectTypeOf(both).toEqualTypeOf<Operator<unknown, ChangeEvent<Order, { id: number }>>>();
    const decoder = new DebeziumDecoder({ row: Order });
    expectTypeOf(decoder.decode('{}')).toEqualTypeOf<ChangeEvent<Order, DebeziumRow>>();
  });

  it('narrows the output to the kinds listed', () => {
    const narrowed = decodeDebezium({ row: Order, kinds: ['change', 'truncate'] });
    expectTypeOf(narrowed).toEqualTypeOf<Operator<unknown, RowChangeEvent<Order, DebeziumRow> | TruncateEvent>>();
  });

  it('narrows row changes on op', () => {
    const event = {} as ChangeEvent<Order>;
    if (event.kind === 'change') {
      if (event.op === 'd') {
        expectTypeOf(event.after).toEqualTypeOf<null>();
        expectTypeOf(event.before).toEqualTypeOf<DebeziumRow | null>();
      } else {
        expectTypeOf(event.after).toEqualTypeOf<Order>();
      }
    }
  });

  it('composes with changesToIntents in a pipe', () => {
    const input = of<Chunk<unknown>>({ kind: 'data', records: [] });
    const intents = input.pipe(decodeDebezium({ row: Order, kinds: ['change', 'truncate'] }), changesToIntents<Order>({ key: ['id'] }));
    expectTypeOf(intents).toEqualTypeOf<Observable<Chunk<ChangeIntent<Order>>>>();
    changesToIntents<Order>({ key: (row) => String(row.id) });
    // @ts-expect-error key columns must be strings
    changesToIntents({ key: [1] });
    // @ts-expect-error unknown kinds are rejected
    decodeDebezium({ kinds: ['update'] });
  });
});
