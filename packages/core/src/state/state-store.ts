/**
 * Durable home of operator state (window contents, dedupe keys), scoped so that a rebalance can hand one source
 * partition's state to another instance.
 *
 * A scope is `"<step name>/<source partition>"`. Operators never call a store on their hot path: the runtime keeps a
 * synchronous working copy per scope, loads it with {@link StateStore.scan} when a partition is assigned, writes the
 * changes with {@link StateStore.apply} at each checkpoint and then calls {@link StateStore.snapshot}, so that state
 * always lines up with committed source positions. On restart it calls {@link StateStore.restore} with the checkpoint
 * the resumed positions belong to.
 *
 * Implementations: {@link MemoryStateStore} here; a Redis store in `@tributary/connectors/redis`. Both pass the
 * contract suite in `@tributary/core/testing` (`stateStoreContract`).
 */
export interface StateStore {
  /** Name used in logs and metrics. */
  readonly name: string;
  /** Value stored under `key` in `scope`, or `undefined` when absent or expired. */
  get(scope: string, key: string): Promise<unknown>;
  /** Stores `value` (any JSON-compatible value) under `key`; with `ttlMs` it expires that long after the write. */
  put(scope: string, key: string, value: unknown, options?: StatePutOptions): Promise<void>;
  /** Removes `key`; removing an absent key is not an error. */
  delete(scope: string, key: string): Promise<void>;
  /** Entries of `scope` whose key starts with `prefix` (all when omitted), in ascending key order; expired ones skipped. */
  scan(scope: string, prefix?: string): AsyncIterable<readonly [key: string, value: unknown]>;
  /** Applies puts and deletes to one scope as one atomic step. */
  apply(scope: string, changes: readonly StateChange[]): Promise<void>;
  /** Keeps a consistent copy of `scope` as it is now, labelled with `checkpointId`. */
  snapshot(scope: string, checkpointId: number): Promise<void>;
  /**
   * Replaces the live contents of `scope` with the copy labelled `checkpointId`. Returns `false` (and empties the
   * scope) when there is no such copy, which is the case for a scope that never saw a checkpoint.
   */
  restore(scope: string, checkpointId: number): Promise<boolean>;
  /** Forgets copies of `scope` older than `checkpointId` (the copy labelled `checkpointId` stays). */
  discardSnapshotsBefore(scope: string, checkpointId: number): Promise<void>;
  /** Scopes that hold live entries or snapshots, in ascending order. */
  scopes(): Promise<readonly string[]>;
  /** Releases connections. The store is unusable afterwards. */
  close(): Promise<void>;
}

/** Options of {@link StateStore.put}. */
export interface StatePutOptions {
  /** Expire the entry this many milliseconds after the write (processing time). Default: never. */
  ttlMs?: number;
}

/** One change in a {@link StateStore.apply} batch. */
export type StateChange =
  | { readonly op: 'put'; readonly key: string; readonly value: unknown; readonly ttlMs?: number }
  | { readonly op: 'delete'; readonly key: string };
