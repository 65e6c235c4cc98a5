import type { DeadLetter } from '../record/dead-letter.js';
import type { Positions } from '../record/stream-record.js';
import type { Clock } from '../runtime/clock.js';
import { silentLogger } from '../runtime/logger.js';
import type { LogFields, Logger } from '../runtime/logger.js';
import type { SinkContext } from '../sinks/sink.js';
import type { SourceContext } from '../sources/source.js';

/** Test helper: a clock that only moves when told to. */
export interface ManualClock extends Clock {
  /** Moves time forward and fires every timer that came due, in due order. */
  advance(ms: number): void;
  /** Timers scheduled and neither fired nor cancelled. */
  readonly pendingTimers: number;
}

/** Test helper: a {@link ManualClock} starting at `start`. */
export function manualClock(start = 0): ManualClock {
  let now = start;
  let sequence = 0;
  const timers = new Map<number, { due: number; callback: () => void }>();
  return {
    now: () => now,
    setTimer(delayMs, callback) {
      const id = sequence++;
      timers.set(id, { due: now + Math.max(0, delayMs), callback });
      return () => void timers.delete(id);
    },
    advance(ms) {
      const target = now + ms;
      for (;;) {
        let nextId: number | undefined;
        let nextDue = Number.POSITIVE_INFINITY;
        for (const [id, timer] of timers) {
          if (timer.due <= target && timer.due < nextDue) {
            nextDue = timer.due;
            nextId = id;
          }
        }
        if (nextId === undefined) break;
        const timer = timers.get(nextId)!;
        timers.delete(nextId);
        now = timer.due;
        timer.callback();
      }
      now = target;
    },
    get pendingTimers() {
      return timers.size;
    },
  };
}

/** Test helper: a logger that keeps what it was given. */
export interface RecordingLogger extends Logger {
  readonly entries: { level: string; fields: LogFields; message: string }[];
}

export function recordingLogger(): RecordingLogger {
  const entries: RecordingLogger['entries'] = [];
  const log = (level: string) => (fields: LogFields, message: string) => void entries.push({ level, fields, message });
  return { entries, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

/** Options of {@link testSourceContext}. */
export interface TestSourceContextOptions {
  clock?: Clock;
  logger?: Logger;
  /** What `assigned` answers (the exactly-once resume positions); default `{}`. */
  resumeAt?: Positions;
  /** Install a `deadLetters` hook collecting into `letters` (default true). */
  acceptsDeadLetters?: boolean;
}

/** Test helper: a {@link SourceContext} that records the hand-shake calls. */
export interface TestSourceContext extends SourceContext {
  readonly controller: AbortController;
  readonly assignedCalls: (readonly string[])[];
  /** The source's own committed positions passed with each `assigned` call. */
  readonly assignedCommitted: (Positions | undefined)[];
  readonly revokedCalls: (readonly string[])[];
  /** Dead letters handed over through the `deadLetters` hook. */
  readonly letters: DeadLetter[];
  deadLetters?(letters: readonly DeadLetter[]): void;
}

export function testSourceContext(options: TestSourceContextOptions = {}): TestSourceContext {
  const controller = new AbortController();
  const assignedCalls: (readonly string[])[] = [];
  const assignedCommitted: (Positions | undefined)[] = [];
  const revokedCalls: (readonly string[])[] = [];
  const letters: DeadLetter[] = [];
  const context: TestSourceContext = {
    clock: options.clock ?? manualClock(),
    logger: options.logger ?? silentLogger,
    signal: controller.signal,
    controller,
    assignedCalls,
    assignedCommitted,
    revokedCalls,
    letters,
    assigned(partitions, committed) {
      assignedCalls.push([...partitions]);
      assignedCommitted.push(committed === undefined ? undefined : { ...committed });
      const resumeAt = options.resumeAt ?? {};
      return Promise.resolve(Object.fromEntries(partitions.filter((p) => resumeAt[p] !== undefined).map((p) => [p, resumeAt[p]!])));
    },
    revoked(partitions) {
      revokedCalls.push([...partitions]);
      return Promise.resolve();
    },
  };
  if (options.acceptsDeadLetters ?? true) context.deadLetters = (batch) => void letters.push(...batch);
  return context;
}

/** Test helper: a {@link SinkContext} with an abort controller. */
export function testSinkContext(clock: Clock = manualClock()): SinkContext & { readonly controller: AbortController } {
  const controller = new AbortController();
  return { stepName: 'sink', clock, logger: silentLogger, signal: controller.signal, controller };
}
