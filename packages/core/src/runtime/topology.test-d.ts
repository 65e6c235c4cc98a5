import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import type { Observable } from 'rxjs';
import { dedupe } from '../operators/dedupe.js';
import { filter } from '../operators/filter.js';
import { map } from '../operators/map.js';
import { toSink } from '../operators/to-sink.js';
import { validate } from '../operators/validate.js';
import { window } from '../operators/window.js';
import type { WindowResult } from '../operators/window.js';
import { count, sum } from '../operators/window-aggregates.js';
import { tumbling } from '../operators/window-assigners.js';
import type { Chunk } from '../record/chunk.js';
import { memorySink } from '../sinks/memory-sink.js';
import { memorySource } from '../sources/memory-source.js';
import { defineTopology } from './topology.js';

const Order = z.object({ id: z.string(), merchant: z.string(), amount: z.number(), status: z.enum(['placed', 'paid']) });

describe('types through a topology', () => {
  it('infers the value type through a 5-operator pipeline', () => {
    const input = {} as Observable<Chunk<unknown>>;
    const out = input.pipe(
      validate(Order),
      filter((order) => order.status === 'paid'),
      dedupe({ key: (order) => order.id, within: { ttlMs: 60_000 } }),
      map((order) => ({ ...order, cents: Math.round(order.amount * 100) })),
      window({ key: (order) => order.merchant, window: tumbling(60_000), aggregate: { orders: count(), cents: sum((order: { cents: number }) => order.cents) } }),
    );
    expectTypeOf(out).toEqualTypeOf<Observable<Chunk<WindowResult<{ orders: number; cents: number }>>>>();
  });

  it('a mismatched operator is a compile error', () => {
    const input = {} as Observable<Chunk<unknown>>;
    input.pipe(
      validate(Order),
      // @ts-expect-error — `amount` is a number; a string operation on it does not type-check
      map((order) => order.amount.toUpperCase()),
    );
    const numbers = {} as Observable<Chunk<number>>;
    // @ts-expect-error — a sink of strings cannot take numbers
    numbers.pipe(toSink(memorySink<string>()));
  });

  it('a topology whose pipeline does not end in a sink is a compile error', () => {
    defineTopology({ name: 'ok', source: memorySource<number>([1]), pipeline: (s) => s.pipe(toSink(memorySink<number>())) });
    defineTopology({
      name: 'no-sink',
      source: memorySource<number>([1]),
      // @ts-expect-error — records would reach the end of the topology without a sink
      pipeline: (s) => s.pipe(map((n) => n + 1)),
    });
  });
});
