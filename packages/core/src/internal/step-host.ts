import type { DeadLetter, LateRecord } from '../record/dead-letter.js';
import type { Positions, StreamRecord } from '../record/stream-record.js';
import { systemClock } from '../runtime/clock.js';
import type { Clock } from '../runtime/clock.js';
import { silentLogger } from '../runtime/logger.js';
import type { Logger } from '../runtime/logger.js';
import type { KeyedState, StepContext, StepMetrics } from '../runtime/step-context.js';
import type { Sink } from '../sinks/sink.js';
import { describeError } from './describe-error.js';

/**
 * What a running topology offers its steps while the pipeline is being subscribed. The runtime installs one with
 * {@link withStepHost}; outside a runtime (plain RxJS, unit tests) a standalone host with in-memory state is used.
 */
export interface StepHost {
  createStepContext(kind: string, name: string | undefined): StepContext;
  /**
   * A sink step announces its sink so the runtime can open it, ask it where to resume and commit it. `skip()` gives,
   * once the exactly-once hand-shake ran, the positions below which records are already in the sink.
   */
  registerSink(stepName: string, sink: Sink<never>): SinkRegistration;
}

/** What a sink step gets back from {@link StepHost.registerSink}. */
export interface SinkRegistration {
  skip(): Positions | undefined;
}

const hosts: StepHost[] = [];

/** Runs `subscribe` with `host` as the ambient step host (RxJS subscription is synchronous). */
export function withStepHost<T>(host: StepHost, subscribe: () => T): T {
  hosts.push(host);
  try {
    return subscribe();
  } finally {
    hosts.pop();
  }
}

/** The host of the runtime currently subscribing, or a fresh standalone host. */
export function currentStepHost(): StepHost {
  return hosts.at(-1) ?? createStandaloneHost();
}

/** In-memory working state with change tracking, as handed to steps. */
export class WorkingState<T> implements KeyedState<T> {
  readonly entriesMap = new Map<string, T>();
  /** Keys written, deleted or read as objects since the last checkpoint capture. */
  readonly dirty = new Set<string>();

  get(key: string): T | undefined {
    const value = this.entriesMap.get(key);
    // Steps may update object values in place; anything read that could have been mutated is persisted too.
    if (typeof value === 'object' && value !== null) this.dirty.add(key);
    return value;
  }
  set(key: string, value: T): void {
    this.entriesMap.set(key, value);
    this.dirty.add(key);
  }
  delete(key: string): void {
    if (this.entriesMap.delete(key)) this.dirty.add(key);
  }
  has(key: string): boolean {
    return this.entriesMap.has(key);
  }
  entries(): IterableIterator<[string, T]> {
    for (const [key, value] of this.entriesMap) if (typeof value === 'object' && value !== null) this.dirty.add(key);
    return this.entriesMap.entries();
  }

  /** Replaces the contents with restored entries (not dirty: they are what the store already holds). */
  load(entries: Iterable<readonly [string, unknown]>): void {
    this.entriesMap.clear();
    this.dirty.clear();
    for (const [key, value] of entries) this.entriesMap.set(key, value as T);
  }
  get size(): number {
    return this.entriesMap.size;
  }
}

export interface StepContextParts {
  stepName: string;
  clock: Clock;
  logger: Logger;
  metrics: StepMetrics;
  states: Map<string, WorkingState<unknown>>;
}

export function makeStepContext(parts: StepContextParts): StepContext {
  const { stepName, clock, logger, metrics, states } = parts;
  return {
    stepName,
    clock,
    logger,
    metrics,
    state<T>(partition: string): KeyedState<T> {
      let state = states.get(partition);
      if (state === undefined) {
        state = new WorkingState<unknown>();
        states.set(partition, state);
      }
      return state as KeyedState<T>;
    },
    statePartitions: () => [...states.keys()],
    deadLetter: (record: StreamRecord<unknown>, error: unknown): DeadLetter => ({
      stage: stepName,
      error: describeError(error),
      record,
      failedAt: clock.now(),
    }),
    lateRecord: (record: StreamRecord<unknown>, watermark: number): LateRecord => ({ stage: stepName, record, watermark }),
  };
}

const noMetrics: StepMetrics = { recordsIn: () => undefined, recordsOut: () => undefined, deadLetters: () => undefined, late: () => undefined };

function createStandaloneHost(): StepHost {
  const counters = new Map<string, number>();
  return {
    createStepContext(kind, name) {
      const index = (counters.get(kind) ?? 0) + 1;
      counters.set(kind, index);
      return makeStepContext({
        stepName: name ?? `${kind}-${index}`,
        clock: systemClock,
        logger: silentLogger,
        metrics: noMetrics,
        states: new Map(),
      });
    },
    registerSink: () => ({ skip: () => undefined }),
  };
}
