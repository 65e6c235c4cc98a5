import { Observable } from 'rxjs';
import type { OperatorFunction } from 'rxjs';
import { StepFailedError } from '../errors.js';
import { currentStepHost } from '../internal/step-host.js';
import type { StepHost } from '../internal/step-host.js';
import type { BarrierChunk, Chunk, DeadLetterChunk, LateChunk } from '../record/chunk.js';
import type { DeadLetter, LateRecord } from '../record/dead-letter.js';
import type { StreamRecord } from '../record/stream-record.js';
import type { ErrorPolicy, StepContext } from '../runtime/step-context.js';

/**
 * A Tributary operator: an RxJS `OperatorFunction` over {@link Chunk}s whose records change from `In` to `Out`.
 * Compose them with `observable.pipe(...)` like any RxJS operator; the value type is inferred step by step.
 */
export type Operator<In, Out> = OperatorFunction<Chunk<In>, Chunk<Out>>;

/** How a step hands results downstream. Everything emitted stays in order with the chunks around it. */
export interface Emit<Out> {
  /** Records for the next step. */
  data(records: readonly StreamRecord<Out>[]): void;
  /** Records this step could not process. */
  deadLetters(letters: readonly DeadLetter[]): void;
  /** Records this step judged late. */
  late(records: readonly LateRecord[]): void;
}

/** What a step does with each kind of chunk. Only `data` is required; every handler may return a promise. */
export interface StepHandlers<In, Out> {
  /** A batch of input records. */
  data(records: readonly StreamRecord<In>[], emit: Emit<Out>): void | Promise<void>;
  /** The watermark advanced to `time`; called before the watermark moves on (windows fire here). */
  watermark?(time: number, emit: Emit<Out>): void | Promise<void>;
  /** A barrier arrived; called before it moves on (buffers drain here). */
  barrier?(barrier: BarrierChunk, emit: Emit<Out>): void | Promise<void>;
  /** Rewrites dead letters and late records passing through (used by `mask`). */
  passThrough?(chunk: DeadLetterChunk | LateChunk): DeadLetterChunk | LateChunk | Promise<DeadLetterChunk | LateChunk>;
  /** The input ended (a bounded source was exhausted); flush what is left. */
  complete?(emit: Emit<Out>): void | Promise<void>;
}

/**
 * Builds a Tributary operator from chunk handlers. Control chunks (watermarks, barriers, dead letters, late records) move
 * on in order after the handler for them ran; a handler that returns a promise holds back every later chunk until it
 * settles, so order is preserved and barriers still mean "everything before me is done".
 *
 * @param kind operator kind, used for the default step name (`<kind>-<n>`)
 * @param name the user's step name, if any
 * @param setup called once per subscription with the step's context
 *
 * @example
 * ```ts
 * // A custom operator that stamps a header on every record.
 * export function stamp<V>(header: string, value: string, name?: string): Operator<V, V> {
 *   return defineOperator<V, V>('stamp', name, () => ({
 *     data(records, emit) {
 *       emit.data(records.map((record) => ({ ...record, headers: { ...record.headers, [header]: value } })));
 *     },
 *   }));
 * }
 * ```
 */
export function defineOperator<In, Out>(
  kind: string,
  name: string | undefined,
  setup: (context: StepContext) => StepHandlers<In, Out>,
): Operator<In, Out> {
  return defineOperatorNamed(kind, name, undefined, setup);
}

/**
 * {@link defineOperator} with a fallback step name used when `name` is absent (e.g. a sink's own name).
 *
 * @internal
 */
export function defineOperatorNamed<In, Out>(
  kind: string,
  name: string | undefined,
  fallback: string | undefined,
  setup: (context: StepContext, host: StepHost) => StepHandlers<In, Out>,
): Operator<In, Out> {
  return (input) => {
    // The name is claimed when the operator is applied (pipe order), the context is created at subscription.
    const host = currentStepHost();
    const stepName = host.reserveStepName(kind, name, fallback);
    return new Observable<Chunk<Out>>((subscriber) => {
      const context = host.createStepContext(kind, stepName);
      const handlers = setup(context, host);
      const emit: Emit<Out> = {
        data(records) {
          if (records.length === 0) return;
          context.metrics.recordsOut(records.length);
          subscriber.next({ kind: 'data', records });
        },
        deadLetters(letters) {
          if (letters.length === 0) return;
          context.metrics.deadLetters(letters.length);
          subscriber.next({ kind: 'dead-letter', letters });
        },
        late(records) {
          if (records.length === 0) return;
          context.metrics.late(records.length);
          subscriber.next({ kind: 'late', records });
        },
      };

      const handle = (chunk: Chunk<In>): void | Promise<void> => {
        switch (chunk.kind) {
          case 'data':
            context.metrics.recordsIn(chunk.records.length);
            return handlers.data(chunk.records, emit);
          case 'watermark':
            return then(handlers.watermark?.(chunk.time, emit), () => subscriber.next(chunk));
          case 'barrier':
            return then(handlers.barrier?.(chunk, emit), () => subscriber.next(chunk));
          case 'dead-letter':
          case 'late': {
            if (!handlers.passThrough) return void subscriber.next(chunk);
            const rewritten = handlers.passThrough(chunk);
            if (isPromise<DeadLetterChunk | LateChunk>(rewritten)) return rewritten.then((done) => subscriber.next(done));
            return void subscriber.next(rewritten);
          }
        }
      };

      const queue: Chunk<In>[] = [];
      let busy = false;
      let inputDone = false;
      let finished = false;

      const finish = (): void => {
        if (finished) return;
        finished = true;
        const result = handlers.complete?.(emit);
        if (isPromise(result)) result.then(() => subscriber.complete(), (error: unknown) => subscriber.error(error));
        else subscriber.complete();
      };

      // Runs queued chunks until one returns a promise; resumes when it settles.
      const drain = (): void => {
        while (queue.length > 0 && !subscriber.closed) {
          const chunk = queue.shift()!;
          let result: void | Promise<void>;
          try {
            result = handle(chunk);
          } catch (error) {
            subscriber.error(error);
            return;
          }
          if (isPromise(result)) {
            busy = true;
            result.then(
              () => {
                busy = false;
                drain();
              },
              (error: unknown) => subscriber.error(error),
            );
            return;
          }
        }
        if (inputDone) {
          try {
            finish();
          } catch (error) {
            subscriber.error(error);
          }
        }
      };

      const subscription = input.subscribe({
        next(chunk) {
          queue.push(chunk);
          if (!busy) drain();
        },
        error: (error: unknown) => subscriber.error(error),
        complete() {
          inputDone = true;
          if (!busy) drain();
        },
      });
      return () => subscription.unsubscribe();
    });
  };
}

/**
 * Applies a step's error policy to a record that failed: `dlq` returns a dead letter to emit, `skip` logs and returns
 * nothing, `fail` throws {@link StepFailedError} (the runtime stops without committing the record).
 */
export function handleRecordError(
  policy: ErrorPolicy,
  context: StepContext,
  record: StreamRecord<unknown>,
  error: unknown,
): DeadLetter | undefined {
  if (policy === 'dlq') return context.deadLetter(record, error);
  if (policy === 'skip') {
    context.logger.warn(
      { step: context.stepName, partition: record.position.partition, offset: record.position.offset, error: String(error) },
      'record skipped by error policy',
    );
    return undefined;
  }
  const message = error instanceof Error ? error.message : String(error);
  throw new StepFailedError(
    `Step "${context.stepName}" failed on ${record.position.partition}@${record.position.offset}: ${message}`,
    { stage: context.stepName, partition: record.position.partition, offset: record.position.offset, cause: error },
  );
}

const isPromise = <T = void>(value: unknown): value is Promise<T> =>
  typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';

const then = (result: void | Promise<void>, next: () => void): void | Promise<void> =>
  isPromise(result) ? result.then(next) : next();
