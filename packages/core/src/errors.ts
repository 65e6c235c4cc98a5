/**
 * The error vocabulary shared by every Tributary package.
 *
 * Every error Tributary throws or hands to a dead-letter output is a {@link TributaryError}: it carries a stable
 * string `code` to branch on, whether retrying can help (`retriable`), and the underlying `cause` (ES2022).
 * Messages say what happened, with what input, and what to do about it.
 *
 * @module
 */

/** Options shared by every {@link TributaryError} constructor. */
export interface TributaryErrorOptions {
  /** The lower-level error that caused this one, if any. */
  cause?: unknown;
  /** Whether repeating the same operation may succeed (a broker failover, a throttled request). Default `false`. */
  retriable?: boolean;
}

/**
 * Base class of all Tributary errors.
 *
 * @example
 * ```ts
 * try {
 *   await runtime.start();
 * } catch (error) {
 *   if (error instanceof TributaryError && error.retriable) scheduleRetry();
 *   else throw error;
 * }
 * ```
 */
export class TributaryError extends Error {
  /** Stable machine-readable identifier, e.g. `INVALID_OPTIONS`. */
  readonly code: string;
  /** Whether repeating the same operation may succeed. */
  readonly retriable: boolean;

  constructor(code: string, message: string, options: TributaryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = options.retriable ?? false;
  }
}

/**
 * Invalid options given to a factory or operator. Thrown at construction, never later, and names every bad field.
 *
 * @example
 * ```ts
 * // throws InvalidOptionsError: Invalid options for window "per-merchant": size: must be a positive number of milliseconds
 * window({ name: 'per-merchant', size: -1 });
 * ```
 */
export class InvalidOptionsError extends TributaryError {
  /** What was being configured: an operator, source or sink name. */
  readonly subject: string;
  /** One entry per invalid field, as `path: problem`. */
  readonly issues: readonly string[];

  constructor(subject: string, issues: readonly string[], options: TributaryErrorOptions = {}) {
    super('INVALID_OPTIONS', `Invalid options for ${subject}: ${issues.join('; ')}`, options);
    this.subject = subject;
    this.issues = issues;
  }
}

/** Where a failing record came from; attached to errors raised by steps. */
export interface RecordErrorContext extends TributaryErrorOptions {
  /** Name of the failing step. */
  stage: string;
  /** Source partition of the record. */
  partition?: string;
  /** Source offset of the record. */
  offset?: number;
}

/**
 * A step whose error policy is `fail` met a record it could not process. The runtime stops without committing the
 * record's position, so after the cause is fixed a restart processes the record again.
 *
 * @example
 * ```ts
 * runtime.done.catch((error) => {
 *   if (error instanceof StepFailedError) console.error(`${error.stage} failed at ${error.partition}@${error.offset}`);
 * });
 * ```
 */
export class StepFailedError extends TributaryError {
  /** The failing step. */
  readonly stage: string;
  /** Source partition of the failing record. */
  readonly partition: string | undefined;
  /** Source offset of the failing record. */
  readonly offset: number | undefined;

  constructor(message: string, context: RecordErrorContext) {
    super('STEP_FAILED', message, context);
    this.stage = context.stage;
    this.partition = context.partition;
    this.offset = context.offset;
  }
}
