import type { DeadLetter, LateRecord } from '../record/dead-letter.js';
import type { StreamRecord } from '../record/stream-record.js';
import { systemClock } from '../runtime/clock.js';
import type { Clock } from '../runtime/clock.js';
import { silentLogger } from '../runtime/logger.js';
import type { Logger } from '../runtime/logger.js';
import type { KeyedState, StepContext, StepMetrics } from '../runtime/step-context.js';
import type { Sink } from '../sinks/sink.js';
import { TributaryError } from '../errors.js';
import { describeError } from './describe-error.js';

/**
 * What a running topology offers its steps while the pipeline is being subscribed. The runtime installs one with
 * {@link withStepHost}; outside a runtime (plain RxJS, unit tests) a standalone host with in-memory state is used.
 */
export interface StepHost {
  /**
   * Claims a step name when an operator is applied with `pipe` (pipeline order, so default names are numbered from the
   * source towards the sinks and adding a step never renames the steps before it). An explicit `name` must be unique;
   * without one the step is called `fallback` (default `<kind>-<n>`), suffixed `-2`, `-3`, ... while taken.
   */
  reserveStepName(kind: string, name: string | undefined, fallback?: string): string;
  /** Creates the context of a step at subscription; `name` is a reserved name, a user's name, or absent. */
  createStepContext(kind: string, name: string | undefined): StepContext;
  /**
   * A sink step announces its sink so the runtime can open it, ask it where to resume and commit it. `skip()` gives,
   * once the exactly-once hand-shake ran, the positions below which records are already in the sink.
   */
  registerSink(stepName: string, sink: Sink<never>): SinkRegistration;
}

/** What a sink step gets back from {@link StepHost.registerSink}. */
export interface SinkRegistration {
  /** Per partition, the replayed offsets `[from, to)` the sink already holds (exactly-once resume), if any. */
  skip(): Readonly<Record<string, readonly [number, number]>> | undefined;
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

/** Step-name bookkeeping shared by the runtime's host and the standalone host. */
export class StepNames {
  readonly #reserved = new Set<string>();
  readonly #created = new Set<string>();
  readonly #counters = new Map<string, number>();
  /** Every name in the order it was claimed: pipeline order for steps applied with `pipe`. */
  readonly #order: string[] = [];

  /** Names of created steps, in the order they were claimed. */
  ordered(): string[] {
    return this.#order.filter((name) => this.#created.has(name));
  }

  reserve(kind: string, name: string | undefined, fallback?: string): string {
    if (name !== undefined) {
      if (this.#reserved.has(name) || this.#created.has(name)) {
        throw new TributaryError('DUPLICATE_STEP_NAME', `Two steps are named "${name}"; step names must be unique within a topology.`);
      }
      this.#reserved.add(name);
      this.#order.push(name);
      return name;
    }
    let candidate: string;
    if (fallback !== undefined) {
      candidate = fallback;
      for (let suffix = 2; this.#taken(candidate); suffix++) candidate = `${fallback}-${suffix}`;
    } else {
      let index = this.#counters.get(kind) ?? 0;
      do candidate = `${kind}-${++index}`;
      while (this.#taken(candidate));
      this.#counters.set(kind, index);
    }
    this.#reserved.add(candidate);
    this.#order.push(candidate);
    return candidate;
  }

  /** Turns a reservation (or a fresh name) into a created step; returns the final name. */
  create(kind: string, name: string | undefined): string {
    const stepName = name !== undefined && this.#reserved.has(name) ? name : this.reserve(kind, name);
    this.#reserved.delete(stepName);
    if (this.#created.has(stepName)) {
      throw new TributaryError('DUPLICATE_STEP_NAME', `Step "${stepName}" was subscribed twice; a topology's pipeline may be subscribed only once per run.`);
    }
    this.#created.add(stepName);
    return stepName;
  }

  #taken(name: string): boolean {
    return this.#reserved.has(name) || this.#created.has(name);
  }
}

function createStandaloneHost(): StepHost {
  const names = new StepNames();
  return {
    reserveStepName: (kind, name, fallback) => names.reserve(kind, name, fallback),
    createStepContext(kind, name) {
      return makeStepContext({
        stepName: names.create(kind, name),
        clock: systemClock,
        logger: silentLogger,
        metrics: noMetrics,
        states: new Map(),
      });
    },
    registerSink: () => ({ skip: () => undefined }),
  };
}
