/**
 * docs/reference/operators.md — route, branch, toSink.
 */
import { branch, map, memorySink, route, toSink } from '@tributary/core';
import type { Chunk } from '@tributary/core';
import type { Observable } from 'rxjs';

interface Change {
  readonly op: 'c' | 'u' | 'd' | 'r' | 't';
  readonly id: string;
  readonly row: { readonly amount: number; readonly currency: string } | null;
}

export const inserts = memorySink<Change>({ name: 'inserts' });
export const upserts = memorySink<Change>({ name: 'upserts' });
export const deletes = memorySink<string>({ name: 'deletes' });

/** By event type: each branch gets its records plus every watermark and barrier, and ends in its own sink. */
export const byOperation = (changes: Observable<Chunk<Change>>): Observable<Chunk<never>> =>
  changes.pipe(
    route(
      (change) => change.op,
      {
        c: (created) => created.pipe(toSink(inserts)),
        u: (updated) => updated.pipe(toSink(upserts)),
        d: (deleted) => deleted.pipe(map((change) => change.id, { name: 'deleted-id' }), toSink(deletes)),
      },
      { name: 'by-op', unmatched: 'skip' }, // snapshot reads ('r') and truncates ('t') are dropped on purpose
    ),
  );

export const review = memorySink<Change>({ name: 'review' });
export const ledger = memorySink<Change>({ name: 'ledger' });
export const audit = memorySink<Change>({ name: 'audit' });

/** By predicate, to every matching case (mode 'all'); what matches nothing goes to `otherwise`. */
export const payments = (changes: Observable<Chunk<Change>>): Observable<Chunk<never>> =>
  changes.pipe(
    branch(
      [
        { when: (change) => (change.row?.amount ?? 0) >= 10_000, then: (large) => large.pipe(toSink(review)) },
        { when: (change) => change.row !== null, then: (rows) => rows.pipe(toSink(ledger)) },
      ],
      { name: 'payment-kind', mode: 'all', otherwise: (rest) => rest.pipe(toSink(audit)) },
    ),
  );

/** A branch may also return records: the output type is the union of what the branches emit. */
export const amounts = (changes: Observable<Chunk<Change>>): Observable<Chunk<number | string>> =>
  changes.pipe(
    route((change) => (change.row === null ? 'gone' : 'present'), {
      present: (present) => present.pipe(map((change) => change.row!.amount, { name: 'amount' })),
      gone: (gone) => gone.pipe(map((change) => change.id, { name: 'gone-id' })),
    }),
  );
