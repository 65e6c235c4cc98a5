import type { Observable } from 'rxjs';
import { z } from 'zod';
import { parseOptions } from '../internal/parse-options.js';
import type { Chunk } from '../record/chunk.js';
import type { Source } from '../sources/source.js';

/**
 * A topology: one source and an RxJS pipeline of Tributary operators whose every branch ends in a sink.
 * Define it once; run it with {@link createRuntime} or drive it in tests with `TestDriver`.
 */
export interface Topology<V> {
  /** Name used in metrics, logs, state scopes and checkpoints: keep it stable across deployments. */
  readonly name: string;
  readonly source: Source<V>;
  /** Builds the pipeline; called once per run. Every branch must end in `toSink(...)`. */
  readonly pipeline: (input: Observable<Chunk<V>>) => Observable<Chunk<never>>;
}

const topologySchema = z.strictObject({
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must start with a letter or digit and contain only letters, digits, ".", "_" or "-"'),
  source: z.custom<Source<unknown>>(
    (value) => typeof value === 'object' && value !== null && typeof (value as Source<unknown>).poll === 'function',
    'must be a Source (an object with open, poll, commit, partitions and close)',
  ),
  pipeline: z.custom<(input: unknown) => unknown>((value) => typeof value === 'function', 'must be a function (input) => input.pipe(...)'),
});

/**
 * Defines a topology. The source's value type flows into the pipeline, and the pipeline must return
 * `Observable<Chunk<never>>` — which only `toSink` (or `route` / `branch` whose branches end in sinks) produces.
 *
 * @example
 * ```ts
 * const job = defineTopology({
 *   name: 'orders',
 *   source: memorySource(orders, { eventTime: (o) => o.createdAt }),
 *   pipeline: (orders) => orders.pipe(validate(Order), toSink(memorySink())),
 * });
 * ```
 */
export function defineTopology<V>(definition: Topology<V>): Topology<V> {
  parseOptions(topologySchema, 'defineTopology', definition);
  return { name: definition.name, source: definition.source, pipeline: definition.pipeline };
}
