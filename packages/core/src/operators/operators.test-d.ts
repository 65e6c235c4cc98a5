import { of } from 'rxjs';
import type { Observable } from 'rxjs';
import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import type { Chunk } from '../record/chunk.js';
import { branch } from './branch.js';
import type { Operator } from './define-operator.js';
import { filter } from './filter.js';
import { flatMap } from './flat-map.js';
import { map } from './map.js';
import { mask } from './mask.js';
import { route } from './route.js';
import { validate } from './validate.js';

type Change = { op: 'c' | 'u' | 'd'; after: { id: string; email: string } | null };
declare const changes: Observable<Chunk<Change>>;
declare const raw: Observable<Chunk<unknown>>;
/** Shaped like `toSink`: consumes records and emits only control chunks. */
declare function sinkLike<V>(): Operator<V, never>;

/** Type assertions on the value type of a chunk stream. */
const valueOf = <V>(_stream: Observable<Chunk<V>>) => expectTypeOf<V>();

describe('operator types', () => {
  it('validate outputs z.output of the schema', () => {
    const Order = z.object({ id: z.string(), amount: z.coerce.number(), currency: z.string().default('EUR') });
    const validated = raw.pipe(validate(Order));
    valueOf(validated).toEqualTypeOf<z.output<typeof Order>>();
    expectTypeOf(validate(Order)).toEqualTypeOf<Operator<unknown, { id: string; amount: number; currency: string }>>();
    // validate accepts any input stream, not only unknown.
    const fromChanges = changes.pipe(validate(z.object({ op: z.enum(['c', 'u', 'd']) })));
    valueOf(fromChanges).toEqualTypeOf<{ op: 'c' | 'u' | 'd' }>();
  });

  it('filter with a type guard narrows, a boolean predicate keeps the type', () => {
    const withAfter = changes.pipe(filter((change): change is Change & { after: { id: string; email: string } } => change.after !== null));
    valueOf(withAfter).toEqualTypeOf<Change & { after: { id: string; email: string } }>();
    const kept = changes.pipe(filter((change) => change.op !== 'd'));
    valueOf(kept).toEqualTypeOf<Change>();
    expectTypeOf(filter((value: string | number): value is string => typeof value === 'string')).toEqualTypeOf<
      Operator<string | number, string>
    >();
  });

  it('flatMap infers the element type of the iterable', () => {
    const ids = changes.pipe(flatMap((change) => (change.after ? [change.after.id] : [])));
    valueOf(ids).toEqualTypeOf<string>();
    function* twice(change: Change): Generator<number> {
      yield change.op.length;
      yield 2;
    }
    expectTypeOf(flatMap(twice)).toEqualTypeOf<Operator<Change, number>>();
  });

  it('mask keeps the value type', () => {
    const masked = changes.pipe(mask({ fields: { 'after.email': 'redact' } }));
    valueOf(masked).toEqualTypeOf<Change>();
  });

  it('route infers the input from the pipe, checks branch inputs, and outputs the union of its branches', () => {
    const routed = changes.pipe(
      route((change) => change.op, {
        c: (inserts) => inserts.pipe(map((change) => change.after?.id ?? '')),
        u: (updates) => updates.pipe(map((change) => change.after === null)),
        d: (deletes) => deletes,
      }),
    );
    valueOf(routed).toEqualTypeOf<string | boolean | Change>();

    // Branches that all end in a sink emit no data: the route's output is Chunk<never>, as a topology requires.
    const sunk = changes.pipe(route((change) => change.op, { c: (s) => s.pipe(sinkLike()), u: (s) => s.pipe(sinkLike()), d: (s) => s.pipe(sinkLike()) }));
    valueOf(sunk).toEqualTypeOf<never>();

    // The selector may return keys without a branch (they follow `unmatched` at run time).
    const partial = changes.pipe(route((change) => change.op, { c: (s) => s, u: (s) => s.pipe(map(() => 0)) }));
    valueOf(partial).toEqualTypeOf<Change | number>();
    // A branch must accept the stream's chunks.
    changes.pipe(
      route((change) => change.op, {
        c: (s) => s,
        // @ts-expect-error this branch expects numbers, the stream carries changes
        u: (s: Observable<Chunk<number>>) => s,
      }),
    );
    // A selector typed `string` can choose any branch.
    const byType = route((event: { type: string }) => event.type, { created: (s) => s, removed: (s) => s.pipe(map(() => null)) });
    expectTypeOf(byType).toEqualTypeOf<Operator<{ type: string }, { type: string } | null>>();
  });

  it('branch outputs the union of its cases and otherwise', () => {
    const branched = changes.pipe(
      branch(
        [
          { when: (change) => change.op === 'c', then: (inserts) => inserts.pipe(map(() => 1)) },
          { when: (change) => change.op === 'd', then: (deletes) => deletes.pipe(map(() => 'deleted' as const)) },
        ],
        { otherwise: (rest) => rest.pipe(map((change) => change.after)) },
      ),
    );
    valueOf(branched).toEqualTypeOf<number | 'deleted' | Change['after']>();
    const withoutOtherwise = changes.pipe(branch([{ when: () => true, then: (all) => all.pipe(map(() => 1n)) }]));
    valueOf(withoutOtherwise).toEqualTypeOf<bigint>();
    // Standalone, the value type comes from the cases.
    const cases = [{ when: (change: Change) => change.op === 'c', then: (s: Observable<Chunk<Change>>) => s.pipe(map((change) => change.op)) }];
    expectTypeOf(branch(cases)).toEqualTypeOf<Operator<Change, 'c' | 'u' | 'd'>>();
  });

  it('a mismatched operator in a pipe is a compile error', () => {
    const Order = z.object({ id: z.string(), amount: z.number() });
    // @ts-expect-error the value is { id, amount }, not a string
    raw.pipe(validate(Order), filter((value: string) => value.length > 0));
    // @ts-expect-error map's input does not match the filtered type
    changes.pipe(filter((change): change is Change & { op: 'c' } => change.op === 'c'), map((value: number) => value + 1));
    // @ts-expect-error route's selector must read the stream's value type
    changes.pipe(route((value: { kind: string }) => value.kind, { a: (s) => s }));
    of<Chunk<number>>({ kind: 'data', records: [] }).pipe(
      // @ts-expect-error the projection reads a property numbers do not have
      flatMap((value) => [value.length]),
    );
  });
});
