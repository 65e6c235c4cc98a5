/**
 * The cancellation scope of one store call: the caller's signal and the call's deadline folded into one signal whose
 * `reason` is what the call rejects with (the caller's reason, or an `OBJECT_STORE_TIMEOUT` error).
 *
 * @internal
 */
import { InvalidOptionsError } from '@tributary/core';
import { z } from 'zod';
import { ObjectStoreError } from './object-store-errors.js';
import type { ObjectStoreErrorContext } from './object-store-errors.js';
import type { ObjectStoreCallOptions } from './object-store.js';

/** Beyond 2^31 - 1 ms a Node timer fires at once instead of late, so longer timeouts are refused. */
export const maxTimerDelayMs = 2_147_483_647;

const callOptionsSchema = z.looseObject({
  signal: z.instanceof(AbortSignal, { error: 'must be an AbortSignal' }).optional(),
  timeoutMs: z
    .number('must be a number of milliseconds')
    .int('must be an integer number of milliseconds')
    .positive('must be a positive number of milliseconds')
    .max(maxTimerDelayMs, `must be at most ${maxTimerDelayMs} ms`)
    .optional(),
});

/** Checks the `signal` and `timeoutMs` of one call; `subject` (e.g. `s3ObjectStore.get`) names it in the error. */
export function parseCallOptions(options: ObjectStoreCallOptions | undefined, subject: string): { signal: AbortSignal | undefined; timeoutMs: number | undefined } {
  const parsed = callOptionsSchema.safeParse(options ?? {});
  if (parsed.success) return { signal: parsed.data.signal, timeoutMs: parsed.data.timeoutMs };
  throw new InvalidOptionsError(
    subject,
    parsed.error.issues.map((issue) => `${issue.path.length > 0 ? issue.path.map(String).join('.') : '(options)'}: ${issue.message}`),
  );
}

export class CallScope {
  readonly signal: AbortSignal;
  readonly #controller = new AbortController();
  readonly #timer: NodeJS.Timeout;
  readonly #callerSignal: AbortSignal | undefined;
  readonly #onCallerAbort: () => void;

  constructor(callerSignal: AbortSignal | undefined, timeoutMs: number, context: Omit<ObjectStoreErrorContext, 'retriable' | 'cause'>) {
    this.signal = this.#controller.signal;
    this.#callerSignal = callerSignal;
    this.#onCallerAbort = () => this.#controller.abort(callerSignal?.reason);
    if (callerSignal?.aborted === true) this.#controller.abort(callerSignal.reason);
    else callerSignal?.addEventListener('abort', this.#onCallerAbort, { once: true });
    const started = Date.now();
    this.#timer = setTimeout(() => {
      const where = context.key === undefined ? context.location : `${context.location} key "${context.key}"`;
      this.#controller.abort(
        new ObjectStoreError(
          'OBJECT_STORE_TIMEOUT',
          `${context.operation} on ${where} did not finish within ${timeoutMs} ms (after ${Date.now() - started} ms). ` +
            'Raise timeoutMs for this call or the store, or check the connection.',
          { ...context, retriable: true },
        ),
      );
    }, timeoutMs);
  }

  /** Throws the scope's reason if it has been aborted. */
  throwIfAborted(): void {
    if (this.signal.aborted) throw this.signal.reason;
  }

  /** Stops the deadline timer and detaches from the caller's signal. */
  dispose(): void {
    clearTimeout(this.#timer);
    this.#callerSignal?.removeEventListener('abort', this.#onCallerAbort);
  }
}

/** Runs `body` in a fresh scope, disposing of it afterwards. */
export async function inScope<T>(
  callerSignal: AbortSignal | undefined,
  timeoutMs: number,
  context: Omit<ObjectStoreErrorContext, 'retriable' | 'cause'>,
  body: (scope: CallScope) => Promise<T>,
): Promise<T> {
  const scope = new CallScope(callerSignal, timeoutMs, context);
  try {
    scope.throwIfAborted();
    return await body(scope);
  } finally {
    scope.dispose();
  }
}

/**
 * Settles like `promise`, or rejects with `signal.reason` as soon as `signal` aborts — for work that cannot itself be
 * cancelled (reading a caller's stream). A late rejection of `promise` is swallowed, so it never goes unhandled.
 */
export function raceSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(signal.reason as Error);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- pass the rejection through unchanged
        reject(error);
      },
    );
  });
}

/** Waits `ms` milliseconds, or rejects with `signal.reason` when `signal` aborts first. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
