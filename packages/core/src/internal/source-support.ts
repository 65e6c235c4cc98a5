import { z } from 'zod';
import type { Clock } from '../runtime/clock.js';

/** Zod check for an injected {@link Clock}. */
export const clockSchema = z.custom<Clock>(
  (value) =>
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Clock).now === 'function' &&
    typeof (value as Clock).setTimer === 'function',
  'must be a Clock with now() and setTimer()',
);

/** Zod check for a user callback; the schema only checks that it is a function, the declared type is `F`. */
export const functionSchema = <F>() => z.custom<F>((value) => typeof value === 'function', 'must be a function');

/** `batchSize` of the in-memory sources: max records per poll. */
export const batchSizeSchema = z.int('must be a positive integer').positive('must be a positive integer').default(1000);

/** `pollIntervalMs` of the in-memory sources: how long an empty poll waits. */
export const pollIntervalSchema = z
  .number('must be a number of milliseconds')
  .nonnegative('must be a non-negative number of milliseconds')
  .refine(Number.isFinite, 'must be finite')
  .default(100);

/**
 * Waits until `register`'s wake-up fires, `delayMs` of `clock` time passed, or a signal aborts — whichever comes
 * first — and cleans the other two up. Never rejects: an abort just ends the wait early.
 */
export function waitForWake(
  clock: Clock,
  delayMs: number,
  signals: readonly (AbortSignal | undefined)[],
  register?: (wake: () => void) => () => void,
): Promise<void> {
  if (delayMs <= 0 || signals.some((signal) => signal?.aborted === true)) return Promise.resolve();
  return new Promise<void>((resolve) => {
    let done = false;
    const cleanups: (() => void)[] = [];
    const finish = (): void => {
      if (done) return;
      done = true;
      for (const cleanup of cleanups) cleanup();
      resolve();
    };
    for (const signal of signals) {
      if (signal === undefined) continue;
      signal.addEventListener('abort', finish, { once: true });
      cleanups.push(() => signal.removeEventListener('abort', finish));
    }
    cleanups.push(clock.setTimer(delayMs, finish));
    if (register) cleanups.push(register(finish));
    // A wake-up that fired while registering has already resolved; release what was registered after it.
    if (done) for (const cleanup of cleanups) cleanup();
  });
}

/** Per-batch limit: the source's batch size, capped by what the runtime has room for. */
export const batchLimit = (batchSize: number, maxRecords: number): number =>
  Math.max(0, Math.min(batchSize, Number.isFinite(maxRecords) ? Math.floor(maxRecords) : batchSize));
