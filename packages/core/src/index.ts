/**
 * `@tributary/core`: the typed stream model, operators and runtime of Tributary.
 *
 * Anything exported here is public API; keep the list explicit (no `export *`). The package root imports nothing but
 * rxjs and zod (checked by a test); Node-only pieces live in `@tributary/core/node`, test helpers in
 * `@tributary/core/testing`.
 *
 * @packageDocumentation
 */
export { TributaryError, InvalidOptionsError, StepFailedError } from './errors.js';
export type { TributaryErrorOptions, RecordErrorContext } from './errors.js';

// Record and stream model
export type { StreamRecord, SourcePosition, RecordHeaders, Positions } from './record/stream-record.js';
export type { DeadLetter, DeadLetterError, LateRecord } from './record/dead-letter.js';
export { END_OF_TIME } from './record/chunk.js';
export type { Chunk, DataChunk, ControlChunk, WatermarkChunk, BarrierChunk, DeadLetterChunk, LateChunk, Checkpoint } from './record/chunk.js';

// Runtime
export { defineTopology } from './runtime/topology.js';
export type { Topology } from './runtime/topology.js';
export { createRuntime } from './runtime/runtime.js';
export type { Runtime, RuntimeOptions, RuntimeStatus } from './runtime/runtime.js';
export { systemClock } from './runtime/clock.js';
export type { Clock } from './runtime/clock.js';
export { silentLogger, jsonLogger } from './runtime/logger.js';
export type { Logger, LogFields } from './runtime/logger.js';
export { PrometheusMetrics } from './runtime/metrics.js';
export type { Metrics, Counter, Gauge, Histogram, MetricLabels } from './runtime/metrics.js';
export type { StepContext, StepMetrics, KeyedState, ErrorPolicy } from './runtime/step-context.js';
export { WatermarkTracker } from './runtime/watermark-tracker.js';
export type { WatermarkOptions } from './runtime/watermark-tracker.js';

// Operators
export { defineOperator, handleRecordError } from './operators/define-operator.js';
export type { Operator, Emit, StepHandlers } from './operators/define-operator.js';
export { map } from './operators/map.js';
export type { MapOptions } from './operators/map.js';
export { filter } from './operators/filter.js';
export type { FilterOptions } from './operators/filter.js';
export { flatMap } from './operators/flat-map.js';
export type { FlatMapOptions } from './operators/flat-map.js';
export { validate } from './operators/validate.js';
export type { ValidateOptions } from './operators/validate.js';
export { ValidationError } from './operators/validation-error.js';
export { mask, REDACTED } from './operators/mask.js';
export type { MaskOptions, FieldMask } from './operators/mask.js';
export { enrich } from './operators/enrich.js';
export type { EnrichOptions, LookupResult } from './operators/enrich.js';
export { LookupCache } from './operators/lookup-cache.js';
export type { LookupCacheOptions, CachedLookup } from './operators/lookup-cache.js';
export { route } from './operators/route.js';
export type { RouteOptions, RouteBranches, BranchPipeline, BranchOutput } from './operators/route.js';
export { branch } from './operators/branch.js';
export type { BranchOptions, BranchCase } from './operators/branch.js';
export { dedupe } from './operators/dedupe.js';
export type { DedupeOptions } from './operators/dedupe.js';
export { window } from './operators/window.js';
export type { WindowOptions, WindowResult, WindowBounds } from './operators/window.js';
export { count, sum, avg, min, max, reduce } from './operators/window-aggregates.js';
export type { Aggregate, AggregateKind, AggregateValues, Reducer } from './operators/window-aggregates.js';
export { tumbling, hopping, sliding, session } from './operators/window-assigners.js';
export type { WindowAssigner, TumblingWindows, HoppingWindows, SlidingWindows, SessionWindows } from './operators/window-assigners.js';
export type { Alert, AlertRule, AlertSeverity, AlertCondition } from './operators/alert.js';
export { anomalies } from './operators/anomalies.js';
export type { AnomaliesOptions } from './operators/anomalies.js';
export { thresholdAlerts } from './operators/threshold-alerts.js';
export type { ThresholdAlertsOptions, AlertRulesProvider } from './operators/threshold-alerts.js';
export { toSink } from './operators/to-sink.js';
export type { ToSinkOptions } from './operators/to-sink.js';

// Sources, sinks, state
export type { Source, SourceContext } from './sources/source.js';
export type { Sink, SinkContext, SinkWriteResult, CommittedPositions } from './sinks/sink.js';
export { MemoryLog } from './sources/memory-log.js';
export type { MemoryLogOptions, MemoryLogEntry, MemoryLogValueOptions } from './sources/memory-log.js';
export { memorySource } from './sources/memory-source.js';
export type { MemorySource, MemorySourceOptions, MemoryValuesSourceOptions } from './sources/memory-source.js';
export { iterableSource } from './sources/iterable-source.js';
export type { IterableSource, IterableSourceOptions, IterableInput } from './sources/iterable-source.js';
export { memorySink } from './sinks/memory-sink.js';
export type { MemorySink, MemorySinkOptions } from './sinks/memory-sink.js';
export type { StateStore, StateChange, StatePutOptions } from './state/state-store.js';
export { MemoryStateStore } from './state/memory-state-store.js';
export { jsonProblem } from './state/json-problem.js';
export type { MemoryStateStoreOptions } from './state/memory-state-store.js';
