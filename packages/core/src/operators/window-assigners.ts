import { z } from 'zod';
import { parseOptions } from '../internal/parse-options.js';

/**
 * Fixed-size, non-overlapping windows aligned to the epoch: a record at event time `t` belongs to exactly one window,
 * `[floor(t / size) * size, that + size)`.
 *
 * @example
 * ```ts
 * const perMinute: TumblingWindows = tumbling(60_000);
 * ```
 */
export interface TumblingWindows {
  /** Discriminator. */
  readonly type: 'tumbling';
  /** Window length in milliseconds. */
  readonly size: number;
}

/**
 * Fixed-size windows that start every `advance` milliseconds and overlap when `advance < size`: a record at `t` belongs
 * to every window `[k * advance, k * advance + size)` that contains `t`.
 *
 * @example
 * ```ts
 * const lastFiveMinutesEveryMinute: HoppingWindows = hopping(300_000, 60_000);
 * ```
 */
export interface HoppingWindows {
  /** Discriminator. */
  readonly type: 'hopping';
  /** Window length in milliseconds. */
  readonly size: number;
  /** Distance between window starts in milliseconds; at most `size`. */
  readonly advance: number;
}

/**
 * One window per distinct event time `t` of a key, covering the trailing `size` milliseconds `(t - size, t]`, reported
 * as `[t - size + 1, t + 1)`: the aggregate "as of each event" (SQL `RANGE BETWEEN size - 1 PRECEDING AND CURRENT ROW`).
 *
 * @example
 * ```ts
 * const trailingHour: SlidingWindows = sliding(3_600_000);
 * ```
 */
export interface SlidingWindows {
  /** Discriminator. */
  readonly type: 'sliding';
  /** Length of the trailing range in milliseconds. */
  readonly size: number;
}

/**
 * Activity sessions per key: records closer than `gap` milliseconds to each other form one session
 * `[first event time, last event time + gap)`; a record that bridges two sessions merges them.
 *
 * @example
 * ```ts
 * const visits: SessionWindows = session(30 * 60_000);
 * ```
 */
export interface SessionWindows {
  /** Discriminator. */
  readonly type: 'session';
  /** Inactivity gap in milliseconds that closes a session. */
  readonly gap: number;
}

/**
 * How the `window` operator groups records of a key into windows: {@link tumbling}, {@link hopping}, {@link sliding}
 * or {@link session}. Assigners are plain data, so they can be logged and compared.
 *
 * @example
 * ```ts
 * const assigner: WindowAssigner = process.env.SESSIONS ? session(60_000) : tumbling(60_000);
 * ```
 */
export type WindowAssigner = TumblingWindows | HoppingWindows | SlidingWindows | SessionWindows;

const milliseconds = z
  .number({ error: 'must be a positive integer number of milliseconds' })
  .int({ error: 'must be a positive integer number of milliseconds' })
  .positive({ error: 'must be a positive integer number of milliseconds' })
  .max(Number.MAX_SAFE_INTEGER, { error: 'must be a positive integer number of milliseconds' });

const tumblingSchema = z.strictObject({ type: z.literal('tumbling'), size: milliseconds });
const hoppingSchema = z
  .strictObject({ type: z.literal('hopping'), size: milliseconds, advance: milliseconds })
  .refine((value) => value.advance <= value.size, {
    path: ['advance'],
    error: 'must not exceed size (windows further apart than their size would leave gaps no record belongs to)',
  });
const slidingSchema = z.strictObject({ type: z.literal('sliding'), size: milliseconds });
const sessionSchema = z.strictObject({ type: z.literal('session'), gap: milliseconds });

/** Validates an assigner object, including one written by hand instead of with the factories. Internal. */
export const windowAssignerSchema = z.discriminatedUnion('type', [tumblingSchema, hoppingSchema, slidingSchema, sessionSchema], {
  error: 'must be tumbling(size), hopping(size, advance), sliding(size) or session(gap)',
});

/**
 * Tumbling windows of `size` milliseconds (see {@link TumblingWindows}).
 *
 * @param size window length in ms; a positive integer, else `InvalidOptionsError` naming `size`
 *
 * @example
 * ```ts
 * orders.pipe(window({ key: (order) => order.merchantId, window: tumbling(60_000), aggregate: { orders: count() } }));
 * ```
 */
export function tumbling(size: number): TumblingWindows {
  return parseOptions(tumblingSchema, 'tumbling', { type: 'tumbling', size });
}

/**
 * Hopping windows of `size` milliseconds starting every `advance` milliseconds (see {@link HoppingWindows}).
 *
 * @param size window length in ms; a positive integer
 * @param advance distance between window starts in ms; a positive integer no larger than `size`
 *
 * @example
 * ```ts
 * // A five-minute total, updated every minute.
 * orders.pipe(window({ key: (o) => o.merchantId, window: hopping(300_000, 60_000), aggregate: { total: sum((o) => o.amount) } }));
 * ```
 */
export function hopping(size: number, advance: number): HoppingWindows {
  return parseOptions(hoppingSchema, 'hopping', { type: 'hopping', size, advance });
}

/**
 * Sliding windows over the trailing `size` milliseconds of every event (see {@link SlidingWindows}).
 *
 * @param size length of the trailing range in ms; a positive integer
 *
 * @example
 * ```ts
 * // For every payment: how many payments the card made in the 10 minutes up to and including it.
 * payments.pipe(window({ key: (p) => p.cardId, window: sliding(600_000), aggregate: { recent: count() } }));
 * ```
 */
export function sliding(size: number): SlidingWindows {
  return parseOptions(slidingSchema, 'sliding', { type: 'sliding', size });
}

/**
 * Session windows closed by `gap` milliseconds of inactivity (see {@link SessionWindows}).
 *
 * @param gap inactivity gap in ms; a positive integer
 *
 * @example
 * ```ts
 * clicks.pipe(window({ key: (c) => c.userId, window: session(30 * 60_000), aggregate: { clicks: count() } }));
 * ```
 */
export function session(gap: number): SessionWindows {
  return parseOptions(sessionSchema, 'session', { type: 'session', gap });
}
