import { Observable, Subject, Subscription } from 'rxjs';
import { z } from 'zod';
import { TributaryError } from '../errors.js';
import type { BarrierChunk, Chunk, WatermarkChunk } from '../record/chunk.js';
import type { DeadLetter } from '../record/dead-letter.js';
import type { StreamRecord } from '../record/stream-record.js';
import type { StepContext } from '../runtime/step-context.js';
import type { Operator } from '../operators/define-operator.js';
import type { BranchPipeline } from '../operators/route.js';
import { currentStepHost } from './step-host.js';

/**
 * Splits one input batch between branches: pushes each record onto `batches[branch]` (creating the array on first
 * use, in input order) and pushes the dead letters of records that found no branch, or whose selector threw, onto
 * `letters`. May throw (`fail` policies); the error then errors the output.
 */
export type Distribute<V> = (
  records: readonly StreamRecord<V>[],
  batches: (StreamRecord<V>[] | undefined)[],
  letters: DeadLetter[],
) => void;

/** A branch, named for error messages (`route` key, `case <n>`, `otherwise`). */
export interface NamedBranch<V> {
  readonly label: string;
  readonly pipeline: BranchPipeline<V, unknown>;
}

type ProgressChunk = WatermarkChunk | BarrierChunk;

/**
 * The engine of `route` and `branch`: fans records out to sub-pipelines and merges their outputs.
 *
 * Guarantees (the runtime's progress tracking depends on them):
 * - Each branch is fed by its own Subject, and every branch pipeline is subscribed synchronously inside the outer
 *   subscription, before the input, so steps and sinks inside branches find the runtime's ambient step host.
 * - Data records go only to their branch(es), one batch per branch per input chunk, in input order.
 * - Every watermark and barrier goes into every branch; the output emits it once, after every branch that is still
 *   running has emitted it. Branches must pass each one through, once and in order; a branch that emits another
 *   progress chunk than the one expected errors the output instead of hanging it.
 * - Output order respects barriers: whatever a branch emits after it passed a progress chunk that is still waiting
 *   for slower branches is held back until that chunk is emitted, and dead letters and late records arriving from
 *   upstream (or produced by routing) are emitted in their input position relative to the progress chunks. So
 *   nothing that followed a barrier at the input precedes it at the output, which keeps exactly-once sinks downstream
 *   of the merge exact. Otherwise everything is forwarded as it comes.
 * - Input completion completes every branch; the output completes when all branches have. Any error errors the
 *   output and unsubscribes everything.
 */
export function fanOut<V, R>(
  kind: string,
  name: string | undefined,
  branches: readonly NamedBranch<V>[],
  makeDistribute: (context: StepContext) => Distribute<V>,
): Operator<V, R> {
  return (input) =>
    new Observable<Chunk<R>>((subscriber) => {
      const context = currentStepHost().createStepContext(kind, name);
      const distribute = makeDistribute(context);
      const count = branches.length;
      const subjects = branches.map(() => new Subject<Chunk<V>>());
      /** Progress chunks each branch has emitted so far. */
      const passed = new Array<number>(count).fill(0);
      const finished = new Array<boolean>(count).fill(false);
      let finishedCount = 0;
      let inputDone = false;
      /** Progress chunks sent into the branches so far. */
      let sent = 0;
      /** Progress chunks emitted downstream so far; `waiting` holds the ones sent but not yet emitted, oldest first. */
      let released = 0;
      const waiting: ProgressChunk[] = [];
      /** Chunks that may only be emitted once `released >= after`, in arrival order. */
      let held: { after: number; chunk: Chunk<R> }[] = [];

      const fail = (error: unknown): void => subscriber.error(error);

      const emit = (chunk: Chunk<R>): void => {
        if (chunk.kind === 'data') context.metrics.recordsOut(chunk.records.length);
        subscriber.next(chunk);
      };

      const forward = (after: number, chunk: Chunk<R>): void => {
        if (after <= released) emit(chunk);
        else held.push({ after, chunk });
      };

      const release = (): void => {
        while (waiting.length > 0 && !subscriber.closed) {
          const next = released + 1;
          for (let index = 0; index < count; index++) if (!finished[index] && passed[index]! < next) return;
          const progress = waiting.shift()!;
          released = next;
          subscriber.next(progress);
          if (held.length > 0) {
            const later: { after: number; chunk: Chunk<R> }[] = [];
            for (const entry of held) {
              if (entry.after <= released) emit(entry.chunk);
              else later.push(entry);
            }
            held = later;
          }
        }
      };

      const completeIfDone = (): void => {
        if (!inputDone || finishedCount < count) return;
        release();
        for (const entry of held) emit(entry.chunk);
        held = [];
        subscriber.complete();
      };

      const subscriptions = new Subscription();

      // Branches first and synchronously: the runtime's step host is only installed during this subscription.
      branches.forEach((branch, index) => {
        subscriptions.add(
          branch.pipeline(subjects[index]!.asObservable()).subscribe({
            next(chunk) {
              try {
                if (chunk.kind === 'watermark' || chunk.kind === 'barrier') {
                  const expected = waiting[passed[index]! - released];
                  if (expected === undefined || !sameProgress(expected, chunk)) {
                    fail(brokenProgressError(context.stepName, branch.label, chunk, expected));
                    return;
                  }
                  passed[index]!++;
                  release();
                } else {
                  forward(passed[index]!, chunk as Chunk<R>);
                }
              } catch (error) {
                fail(error);
              }
            },
            error: fail,
            complete() {
              // A finished branch emits nothing more, so it no longer holds progress back.
              finished[index] = true;
              finishedCount++;
              try {
                release();
                completeIfDone();
              } catch (error) {
                fail(error);
              }
            },
          }),
        );
      });

      const batches: (StreamRecord<V>[] | undefined)[] = new Array<StreamRecord<V>[] | undefined>(count);
      subscriptions.add(
        input.subscribe({
          next(chunk) {
            try {
              switch (chunk.kind) {
                case 'data': {
                  context.metrics.recordsIn(chunk.records.length);
                  const letters: DeadLetter[] = [];
                  batches.fill(undefined);
                  distribute(chunk.records, batches, letters);
                  for (let index = 0; index < count; index++) {
                    const batch = batches[index];
                    if (batch !== undefined && batch.length > 0 && !finished[index]) subjects[index]!.next({ kind: 'data', records: batch });
                  }
                  batches.fill(undefined);
                  if (letters.length > 0) {
                    context.metrics.deadLetters(letters.length);
                    forward(sent, { kind: 'dead-letter', letters });
                  }
                  return;
                }
                case 'watermark':
                case 'barrier':
                  sent++;
                  waiting.push(chunk);
                  for (let index = 0; index < count; index++) if (!finished[index]) subjects[index]!.next(chunk);
                  release();
                  return;
                case 'dead-letter':
                case 'late':
                  forward(sent, chunk);
                  return;
              }
            } catch (error) {
              fail(error);
            }
          },
          error: fail,
          complete() {
            inputDone = true;
            try {
              for (const subject of subjects) subject.complete();
              completeIfDone();
            } catch (error) {
              fail(error);
            }
          },
        }),
      );
      return subscriptions;
    });
}

/** Options schema of a function-valued argument. */
export const functionSchema = z.custom<(...args: never[]) => unknown>((value) => typeof value === 'function', 'must be a function');

function sameProgress(expected: ProgressChunk, actual: ProgressChunk): boolean {
  if (expected.kind === 'barrier') return actual.kind === 'barrier' && actual.id === expected.id;
  return actual.kind === 'watermark' && actual.time === expected.time;
}

function describeProgress(chunk: ProgressChunk): string {
  return chunk.kind === 'barrier' ? `barrier ${chunk.id}` : `watermark ${chunk.time}`;
}

function brokenProgressError(stepName: string, label: string, actual: ProgressChunk, expected: ProgressChunk | undefined): TributaryError {
  const wanted = expected === undefined ? 'no progress chunk was pending' : `${describeProgress(expected)} was expected next`;
  return new TributaryError(
    'BRANCH_BROKE_PROGRESS',
    `Branch "${label}" of step "${stepName}" emitted ${describeProgress(actual)} but ${wanted}. A branch must pass every ` +
      'watermark and barrier through exactly once and in order; RxJS operators that drop, reorder or invent chunks ' +
      '(filter, take, debounce, buffer on raw chunks) break progress tracking.',
  );
}
