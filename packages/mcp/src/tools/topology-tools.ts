import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { InvalidOptionsError, systemClock } from '@tributary/core';
import type { Runtime, RuntimeStatus, StreamRecord } from '@tributary/core';
import { ToolError } from '../errors.js';
import { offsetReader } from './kafka-tools.js';
import type { KafkaAccess, ToolCleanup, ToolContext } from '../server/tool-context.js';
import { READ_ONLY_TOOL } from '../server/tool-context.js';
import { capItems, dataResult, toJson } from '../server/tool-result.js';
import type { JsonValue } from '../server/tool-result.js';

const isRuntime = (value: unknown): value is Runtime =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as { status?: unknown }).status === 'function' &&
  typeof (value as { metrics?: unknown }).metrics === 'object' &&
  (value as { metrics?: unknown }).metrics !== null;

const runtimeSchema = z.custom<Runtime>(isRuntime, { message: 'expected a Runtime (createRuntime(...))' });

const topicName = z
  .string()
  .min(1)
  .max(249)
  .regex(/^[A-Za-z0-9._-]+$/, 'expected a Kafka topic name (letters, digits, ".", "_", "-")');

/**
 * `topologies` section of the server configuration: running topologies of this process, each a `Runtime` (from
 * `createRuntime`) or `{ runtime, name }` (`name` defaults to the topology's own name). `describe_topology` reads
 * their status and metrics; nothing is changed.
 *
 * @example
 * ```ts
 * const runtime = createRuntime(job);
 * await runtime.start();
 * createTributaryMcpServer({ topologies: [runtime] }); // or [{ runtime, name: 'orders-to-lake' }]
 * ```
 */
export const topologiesConfigSchema = z
  .array(
    z.union([runtimeSchema, z.strictObject({ runtime: runtimeSchema, name: z.string().min(1).max(200).optional() })], {
      error: 'expected a Runtime (createRuntime(...)) or { runtime, name? }',
    }),
  )
  .max(1_000);

/**
 * `deadLetters` section of the server configuration: the dead-letter topics written by `kafkaDeadLetterSink` that an
 * agent may read (`topics`), the topics `replay_dead_letters` may write to (`replayTopics`), and the most dead letters
 * one replay may re-produce (`maxReplay`, default 100). Needs `kafka`.
 *
 * Replay exists only with `writesEnabled`, needs `kafka` given as options (brokers), not as a ready `KafkaAdmin`, and
 * writes only to `replayTopics`: without it every replay is refused. There is no fallback to the Kafka `topics`
 * allowlist, because reading a topic must not imply writing to it. A dead letter's source topic comes from its
 * `tributary.source.partition` header — data that anyone able to produce to the dead-letter topic can forge — so a
 * dead letter whose header names a topic outside `replayTopics` is skipped, never written. Dead-letter topics, and the
 * alerts and alert-rules topics, are never replay targets.
 *
 * @example
 * ```ts
 * createTributaryMcpServer({ kafka: { brokers: ['127.0.0.1:9092'] }, deadLetters: { topics: ['orders.dlq'], replayTopics: ['orders'] } });
 * ```
 */
export const deadLettersConfigSchema = z.strictObject({
  /** Dead-letter topics an agent may read. Required. */
  topics: z.array(topicName).min(1).max(1_000),
  /**
   * Topics a replay may write to: the only ones, whatever a dead letter's headers name. Unset: replay is refused.
   * Must not hold a dead-letter, alerts or alert-rules topic.
   */
  replayTopics: z.array(topicName).min(1).max(10_000).optional(),
  /** Most dead letters one `replay_dead_letters` call may re-produce. Default 100; at most 10 000. */
  maxReplay: z.number().int().min(1).max(10_000).default(100),
});

/**
 * Header names `kafkaDeadLetterSink` writes (the wire format of `DEAD_LETTER_HEADERS` in `@tributary/connectors/kafka`,
 * repeated here so that loading the tools does not load the Kafka connector).
 */
const HEADERS = {
  errorCode: 'tributary.error.code',
  errorMessage: 'tributary.error.message',
  errorName: 'tributary.error.name',
  stage: 'tributary.stage',
  sourcePartition: 'tributary.source.partition',
  sourceOffset: 'tributary.source.offset',
  failedAt: 'tributary.failed.at',
} as const;

/**
 * Headers a replayed record carries: which dead letter it came from (`<dlq topic>:<partition>:<offset>`) and when it
 * was replayed (ms since the epoch). A dead letter carrying `replayedFrom` failed again after a replay.
 *
 * @example
 * ```ts
 * const origin = message.headers[REPLAY_HEADERS.replayedFrom]; // 'orders.dlq:0:42'
 * ```
 */
export const REPLAY_HEADERS = { replayedFrom: 'tributary.replayed-from', replayedAt: 'tributary.replayed-at' } as const;

const envelopeHeaders = new Set<string>([...Object.values(HEADERS), ...Object.values(REPLAY_HEADERS)]);

const timestamp = z
  .union([z.number().int().min(0).max(8.64e15), z.iso.datetime({ offset: true })])
  .describe('ms since the epoch, or an ISO-8601 date-time with zone.');
const toMs = (value: number | string): number => (typeof value === 'number' ? value : Date.parse(value));
const offsetRanges = z
  .array(
    z.strictObject({
      partition: z.number().int().min(0).max(100_000).describe('Partition of the dead-letter topic.'),
      from: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).describe('First offset (inclusive).'),
      to: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional().describe('End offset (exclusive). Default: the end of the partition now.'),
    }),
  )
  .min(1)
  .max(10_000);

/** Splits `"<topic>:<partition>"`. */
function splitPartitionId(id: string | undefined): { topic: string; partition: number } | undefined {
  if (id === undefined) return undefined;
  const colon = id.lastIndexOf(':');
  const partition = Number(id.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(partition) || partition < 0) return undefined;
  return { topic: id.slice(0, colon), partition };
}

/**
 * A time as ms and ISO-8601. A watermark past the range of dates (the runtime's end-of-time mark once a bounded input
 * is exhausted) keeps its ms and has `iso: null`.
 */
const isoOrNull = (ms: number | null | undefined): JsonValue => {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return null;
  return { ms, iso: Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : null };
};

/** The original payload as an agent can read it: text when it is UTF-8 (and its JSON when it parses), hex otherwise. */
function payloadView(value: Buffer | null): { payload: JsonValue; payload_encoding: JsonValue; payload_json?: JsonValue } {
  if (value === null) return { payload: null, payload_encoding: null };
  const text = value.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(value)) return { payload: value.toString('hex'), payload_encoding: 'hex' };
  try {
    return { payload: text, payload_encoding: 'utf8', payload_json: toJson(JSON.parse(text)) };
  } catch {
    return { payload: text, payload_encoding: 'utf8' };
  }
}

/** One dead letter read back: what failed, where, when, and the original record. */
interface DeadLetterRead {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: number;
  readonly key: string | null;
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, string>>;
  readonly source: { topic: string; partition: number } | undefined;
  readonly sourceOffset: number | undefined;
}

function toDeadLetter(topic: string, record: StreamRecord<unknown>): DeadLetterRead {
  const value = record.value;
  const offset = Number(record.headers[HEADERS.sourceOffset]);
  return {
    topic,
    partition: splitPartitionId(record.position.partition)?.partition ?? 0,
    offset: record.position.offset,
    timestamp: record.eventTime,
    key: record.key,
    value: Buffer.isBuffer(value) ? value : typeof value === 'string' ? Buffer.from(value, 'utf8') : null,
    headers: record.headers,
    source: splitPartitionId(record.headers[HEADERS.sourcePartition]),
    sourceOffset: Number.isSafeInteger(offset) ? offset : undefined,
  };
}

function deadLetterJson(letter: DeadLetterRead): Record<string, JsonValue> {
  const h = letter.headers;
  const failedAt = Number(h[HEADERS.failedAt]);
  const ownHeaders: Record<string, string> = {};
  for (const [name, value] of Object.entries(h)) if (!envelopeHeaders.has(name)) ownHeaders[name] = value;
  return {
    dead_letter: { topic: letter.topic, partition: letter.partition, offset: letter.offset, timestamp: new Date(letter.timestamp).toISOString() },
    error: { code: h[HEADERS.errorCode] ?? null, name: h[HEADERS.errorName] ?? null, message: h[HEADERS.errorMessage] ?? null },
    stage: h[HEADERS.stage] ?? null,
    source: letter.source === undefined ? null : { topic: letter.source.topic, partition: letter.source.partition, offset: letter.sourceOffset ?? null },
    failed_at: isoOrNull(Number.isFinite(failedAt) ? failedAt : null),
    replayed_from: h[REPLAY_HEADERS.replayedFrom] ?? null,
    key: letter.key,
    headers: ownHeaders,
    ...payloadView(letter.value),
  };
}

/** Parses Prometheus text exposition and keeps the samples labelled with this topology (histograms: sum and count). */
function topologyMetrics(runtime: Runtime, topology: string): JsonValue[] | null {
  const expose = (runtime.metrics as { expose?: unknown }).expose;
  if (typeof expose !== 'function') return null;
  const text = String((expose as () => string).call(runtime.metrics));
  const samples: JsonValue[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null) continue;
    const [, name, rawLabels, rawValue] = match;
    if (name === undefined || name.endsWith('_bucket')) continue;
    const labels: Record<string, string> = {};
    for (const pair of (rawLabels ?? '').matchAll(/([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1]!] = pair[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    if (labels['topology'] !== topology) continue;
    delete labels['topology'];
    const value = Number(rawValue);
    samples.push({ name, labels, value: Number.isFinite(value) ? value : String(rawValue) });
  }
  return samples;
}

/** A topology's answer without its two lists that can grow without bound (partitions, metric samples). */
function describeStatus(name: string, status: RuntimeStatus): { base: Record<string, JsonValue>; partitions: JsonValue[] } {
  const ids = new Set<string>([...status.partitions, ...Object.keys(status.polled), ...Object.keys(status.committed), ...Object.keys(status.lag)]);
  const partitions = [...ids].sort().map((partition) => ({
    partition,
    polled: status.polled[partition] ?? null,
    committed: status.committed[partition] ?? null,
    lag: status.lag[partition] ?? null,
    watermark: isoOrNull(status.partitionWatermarks[partition]),
  }));
  const lags = Object.values(status.lag);
  return {
    base: {
      name,
      topology: status.topology,
      state: status.state,
      steps: [...status.steps],
      paused: status.paused,
      in_flight: status.inFlight,
      records_polled: status.recordsPolled,
      dead_letters: status.deadLetters,
      late: status.late,
      checkpoints: status.checkpoints,
      watermark: isoOrNull(status.watermark),
      lag: { total: lags.length === 0 ? null : lags.reduce((sum, lag) => sum + lag, 0), known: lags.length > 0 },
      last_checkpoint: { positions: { ...status.committed } },
    },
    partitions,
  };
}

/**
 * Fits the topologies' partition lists and metric samples into `maxBytes`: the fixed fields first, then each topology in
 * turn gets an equal share of what is left (partitions before metrics), and what one leaves unused passes to the next.
 * `last_checkpoint.positions` holds one entry per partition too, so it is cut with the partition list.
 */
function fitTopologies(
  entries: { base: Record<string, JsonValue>; partitions: JsonValue[]; metrics: JsonValue[] | null }[],
  maxBytes: number,
): { topologies: Record<string, JsonValue>[]; truncated: boolean } {
  // The fixed fields with every added field present (lists empty, `truncated: false` as long as `true`), so what is
  // left for the lists is measured against the answer as it will be written.
  const bases = entries.map(({ base, partitions, metrics }) => ({
    ...base,
    last_checkpoint: { positions: {} },
    partitions: [],
    partitions_total: partitions.length,
    partitions_truncated: false,
    metrics: metrics === null ? null : [],
    metrics_total: metrics === null ? null : metrics.length,
    metrics_truncated: false,
  }));
  const envelope = Buffer.byteLength(JSON.stringify({ topologies: [], truncated: false }));
  const fitted = capItems(bases, Math.floor(maxBytes / 2) - envelope);
  let left = maxBytes - envelope - Buffer.byteLength(JSON.stringify(fitted.kept)) - 2 * fitted.kept.length;
  let truncated = fitted.truncated;
  const topologies = fitted.kept.map((base, index) => {
    const entry = entries[index]!;
    const share = Math.max(0, Math.floor(left / (fitted.kept.length - index)));
    // A partition's entry plus its checkpoint position: count both against the share.
    const committed = (entry.base['last_checkpoint'] as { positions: Record<string, JsonValue> }).positions;
    const partitions = capItems(entry.partitions, Math.floor(share / 2));
    const positions: Record<string, JsonValue> = {};
    for (const partition of partitions.kept) {
      const id = (partition as { partition: string }).partition;
      if (id in committed) positions[id] = committed[id]!;
    }
    const positionsSize = Buffer.byteLength(JSON.stringify(positions));
    const partitionsSize = Buffer.byteLength(JSON.stringify(partitions.kept));
    const metrics = entry.metrics === null ? null : capItems(entry.metrics, Math.max(0, share - partitionsSize - positionsSize));
    const metricsSize = metrics === null ? 4 : Buffer.byteLength(JSON.stringify(metrics.kept));
    left -= partitionsSize + positionsSize + metricsSize;
    truncated ||= partitions.truncated || (metrics?.truncated ?? false);
    return {
      ...base,
      last_checkpoint: { positions },
      partitions: partitions.kept,
      partitions_total: entry.partitions.length,
      partitions_truncated: partitions.truncated,
      metrics: metrics === null ? null : metrics.kept,
      metrics_total: entry.metrics === null ? null : entry.metrics.length,
      metrics_truncated: metrics?.truncated ?? false,
    };
  });
  return { topologies, truncated };
}

/** The topics of the `alerts` section: never replay targets, since a replay there would forge alerts or rules. */
export interface ProtectedAlertTopics {
  readonly topic: string;
  readonly rulesTopic?: string | undefined;
}

/**
 * Registers `describe_topology`, `read_dead_letters` and (writes enabled) `replay_dead_letters`. `alerts` (the server's
 * `alerts` section) names topics a replay must never write to.
 */
export function registerTopologyTools(
  server: McpServer,
  context: ToolContext,
  topologies: z.output<typeof topologiesConfigSchema> | undefined,
  deadLetters: z.output<typeof deadLettersConfigSchema> | undefined,
  alerts?: ProtectedAlertTopics,
): ToolCleanup {
  if (topologies !== undefined && topologies.length > 0) registerDescribeTopology(server, context, topologies);
  if (deadLetters === undefined) return undefined;
  const kafka = context.kafka;
  if (kafka === undefined) {
    throw new InvalidOptionsError('createTributaryMcpServer', ['deadLetters: needs `kafka` (brokers or a KafkaAdmin) to read dead-letter topics']);
  }
  const forbidden = new Map<string, string>();
  for (const topic of deadLetters.topics) forbidden.set(topic, 'a dead-letter topic');
  if (alerts !== undefined) {
    forbidden.set(alerts.topic, 'the alerts topic');
    if (alerts.rulesTopic !== undefined) forbidden.set(alerts.rulesTopic, 'the alert-rules topic');
  }
  const clashes = (deadLetters.replayTopics ?? []).filter((topic) => forbidden.has(topic));
  if (clashes.length > 0) {
    throw new InvalidOptionsError(
      'createTributaryMcpServer',
      clashes.map((topic) => `deadLetters.replayTopics: ${JSON.stringify(topic)} is ${forbidden.get(topic)!}; a replay must never write there`),
    );
  }
  registerDeadLetterTools(server, context, kafka, deadLetters, new Set(forbidden.keys()));
  return undefined;
}

function registerDescribeTopology(server: McpServer, context: ToolContext, topologies: z.output<typeof topologiesConfigSchema>): void {
  const { limits } = context;
  const entries = topologies.map((entry) => (isRuntime(entry) ? { runtime: entry, name: undefined } : entry));
  const named = new Map<string, Runtime>();
  for (const { runtime, name } of entries) {
    const key = name ?? runtime.status().topology;
    if (named.has(key)) throw new InvalidOptionsError('createTributaryMcpServer', [`topologies: two topologies are named "${key}"; give each a distinct { runtime, name }`]);
    named.set(key, runtime);
  }
  server.registerTool(
    'describe_topology',
    {
      description:
        'State of running topologies of this process: steps, state, metrics, watermarks (ISO and ms), lag per partition ' +
        'and in total, records in flight, dead-letter and late counts, last checkpoint positions. Without name: every topology.',
      inputSchema: {
        name: z.string().min(1).max(200).optional().describe(`Topology name. Default: all (${named.size} configured).`),
      },
      annotations: READ_ONLY_TOOL,
    },
    (args) =>
      context.run('describe_topology', args, () => {
        let selected: [string, Runtime][];
        if (args.name === undefined) {
          selected = [...named];
        } else {
          const runtime = named.get(args.name);
          if (runtime === undefined) {
            throw new ToolError('UNKNOWN_TOPOLOGY', `No topology named ${JSON.stringify(args.name)}. Known: ${[...named.keys()].map((n) => JSON.stringify(n)).join(', ')}.`, {
              tool: 'describe_topology',
            });
          }
          selected = [[args.name, runtime]];
        }
        const statuses = selected.map(([name, runtime]) => ({ name, runtime, status: runtime.status() }));
        const { topologies: described, truncated } = fitTopologies(
          statuses.map(({ name, runtime, status }) => ({ ...describeStatus(name, status), metrics: topologyMetrics(runtime, status.topology) })),
          limits.maxBytes,
        );
        const summary = statuses
          .map(({ name, status }) => {
            const lags = Object.values(status.lag);
            const lag = lags.length === 0 ? 'unknown' : String(lags.reduce((sum, value) => sum + value, 0));
            return `${name}: ${status.state}, ${status.inFlight} in flight, lag ${lag}, ${status.deadLetters} dead letter(s)`;
          })
          .join('; ');
        return Promise.resolve(
          dataResult(
            `${described.length} topolog${described.length === 1 ? 'y' : 'ies'}${described.length < statuses.length ? ` of ${statuses.length}` : ''}. ${summary}.${truncated ? ' Cut to fit the size cap: see partitions_truncated / metrics_truncated (partitions_total / metrics_total give the full counts); ask for one topology by name for more.' : ''}`,
            'running topologies',
            { topologies: described, truncated },
          ),
        );
      }),
  );
}

function registerDeadLetterTools(
  server: McpServer,
  context: ToolContext,
  kafka: KafkaAccess,
  config: z.output<typeof deadLettersConfigSchema>,
  forbidden: ReadonlySet<string>,
): void {
  const { run, limits } = context;
  const dlqTopics = new Set(config.topics);
  // Only the explicit replay allowlist, minus what must never be written (checked at registration too).
  const replayTopics = config.replayTopics?.filter((topic) => !forbidden.has(topic) && !topic.startsWith('__'));

  const requireDeadLetterTopic = async (tool: string, topic: string): Promise<void> => {
    // Same answer for "not allowlisted" and "does not exist".
    if (!dlqTopics.has(topic) || !(await (await kafka.admin()).listTopics()).includes(topic)) {
      throw new ToolError('UNKNOWN_TOPIC', `${JSON.stringify(topic)} is not an available dead-letter topic. Available: ${config.topics.map((t) => JSON.stringify(t)).join(', ')}.`, { tool });
    }
  };

  /** Reads dead letters by offsets and/or time range (offsets first, then filtered by time). */
  const select = async (
    tool: string,
    args: { topic: string; from?: number | string | undefined; to?: number | string | undefined; offsets?: z.output<typeof offsetRanges> | undefined },
    limit: number,
    signal: AbortSignal,
  ): Promise<{ letters: DeadLetterRead[]; complete: boolean }> => {
    const byTime = args.from !== undefined || args.to !== undefined;
    let from = 0;
    let to = Number.MAX_SAFE_INTEGER;
    if (byTime) {
      if (args.from === undefined || args.to === undefined) {
        throw new ToolError('INVALID_ARGUMENTS', `A time range needs both from and to; ${args.from === undefined ? 'from' : 'to'} is missing.`, { tool });
      }
      from = toMs(args.from);
      to = toMs(args.to);
      if (!(from < to)) {
        throw new ToolError('INVALID_RANGE', `The time range is empty or inverted: from (${new Date(from).toISOString()}) must be before to (${new Date(to).toISOString()}).`, { tool });
      }
    }
    let partitions: Record<number, { from: number; to?: number }> | undefined;
    if (args.offsets !== undefined) {
      partitions = {};
      for (const [index, range] of args.offsets.entries()) {
        if (range.partition in partitions) throw new ToolError('INVALID_RANGE', `offsets[${index}]: partition ${range.partition} is given twice; give one range per partition.`, { tool });
        if (range.to !== undefined && !(range.from < range.to)) {
          throw new ToolError('INVALID_RANGE', `offsets[${index}].to (${range.to}) must be after offsets[${index}].from (${range.from}): the offset range [from, to) is empty or inverted.`, { tool });
        }
        partitions[range.partition] = range.to === undefined ? { from: range.from } : { from: range.from, to: range.to };
      }
    }
    await requireDeadLetterTopic(tool, args.topic);
    const admin = await kafka.admin();
    const common = { topic: args.topic, limit, deserializer: 'bytes' as const, timeoutMs: limits.timeoutMs, signal };
    let read: { records: readonly StreamRecord<unknown>[]; complete: boolean };
    if (byTime && partitions === undefined) {
      read = await admin.readTopicRange({ ...common, from, to });
    } else {
      try {
        read = await offsetReader(admin, tool)(partitions === undefined ? common : { ...common, partitions });
      } catch (error) {
        if ((error as { code?: unknown }).code === 'KAFKA_PARTITION_NOT_FOUND') {
          throw new ToolError('UNKNOWN_PARTITION', `${(error as Error).message.replace(/^readTopicOffsets: partitions: /, 'offsets: ')}`, { tool });
        }
        throw error;
      }
    }
    const letters = read.records.filter((record) => record.eventTime >= from && record.eventTime < to).map((record) => toDeadLetter(args.topic, record));
    return { letters, complete: read.complete };
  };

  const selection = {
    topic:
      config.topics.length === 1
        ? topicName.default(config.topics[0]!).describe(`Dead-letter topic. Default: ${config.topics[0]!} (the only one).`)
        : topicName.describe(`Dead-letter topic: one of ${config.topics.join(', ')}.`),
    from: timestamp.optional().describe('Failure-time range start (inclusive; the dead letter\'s timestamp is the failure time). With `to`.'),
    to: timestamp.optional().describe('Failure-time range end (exclusive). With `from`.'),
    offsets: offsetRanges
      .optional()
      .describe('Dead-letter offsets per partition, [from, to); combined with from / to, both must hold (the limit then counts records of the offset range). Default: from the oldest retained.'),
  };

  server.registerTool(
    'read_dead_letters',
    {
      description:
        'Reads dead letters (records a topology could not process) from a dead-letter topic, oldest first: the error ' +
        '(code, name, message), the stage that failed, the source topic / partition / offset, the failure time, and the ' +
        'original payload (text, its JSON when it parses, or hex). Select by failure-time range and/or offsets.',
      inputSchema: {
        ...selection,
        limit: z.number().int().min(1).max(limits.maxRows).default(Math.min(100, limits.maxRows)).describe(`Most dead letters, at most ${limits.maxRows}. Default 100.`),
      },
      annotations: READ_ONLY_TOOL,
    },
    (args) =>
      run('read_dead_letters', args, async (signal) => {
        const { letters, complete } = await select('read_dead_letters', args, args.limit, signal);
        // Error codes are header text anyone producing to the topic can write: they stay inside the fenced data, and
        // the summary carries only counts.
        const byCode = new Map<string | null, number>();
        for (const letter of letters) {
          const code = letter.headers[HEADERS.errorCode] ?? null;
          byCode.set(code, (byCode.get(code) ?? 0) + 1);
        }
        const codeCounts = [...byCode].map(([code, count]) => ({ code, count }));
        const codes = capItems(codeCounts, Math.floor(limits.maxBytes / 4));
        const { kept, truncated } = capItems(letters.map(deadLetterJson), limits.maxBytes - Buffer.byteLength(JSON.stringify(codes.kept)));
        const whole = complete && !truncated && !codes.truncated;
        return dataResult(
          `${kept.length} dead letter(s) from ${args.topic}${whole ? '' : ' (incomplete: limit, size cap or timeout reached)'}; ${byCode.size} distinct error code(s), listed in by_error_code.`,
          `dead-letter topic ${args.topic}`,
          { topic: args.topic, dead_letters: kept, by_error_code: codes.kept, complete: whole },
        );
      }),
  );

  if (!context.writesEnabled) return;

  const replayList = replayTopics === undefined || replayTopics.length === 0 ? 'none (deadLetters.replayTopics is not configured)' : replayTopics.join(', ');

  server.registerTool(
    'replay_dead_letters',
    {
      description:
        'Re-produces selected dead letters (original key, payload and headers) to their source topic, or to target_topic, ' +
        `with header ${REPLAY_HEADERS.replayedFrom}=<dlq topic>:<partition>:<offset>. Writes only to the configured replay ` +
        `topics (${replayList}); a dead letter whose source topic is not one of them is skipped. dry_run (default true) ` +
        `only reports what would be replayed and to which topics. Refuses selections of more than max_records (at most ` +
        `${config.maxReplay}). Dead letters that already failed after a replay are skipped unless include_replayed is true.`,
      inputSchema: {
        ...selection,
        max_records: z
          .number()
          .int()
          .min(1)
          .max(config.maxReplay)
          .default(Math.min(10, config.maxReplay))
          .describe(`Most dead letters to replay; a selection with more is refused, not cut. At most ${config.maxReplay}. Default ${Math.min(10, config.maxReplay)}.`),
        target_topic: topicName.optional().describe(`Topic to write to instead of each dead letter's source topic: one of the replay topics (${replayList}).`),
        dry_run: z.boolean().default(true).describe('Only report what would be replayed (default true). Set false to write.'),
        include_replayed: z.boolean().default(false).describe('Also replay dead letters that failed again after an earlier replay. Default false.'),
      },
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    (args) =>
      run('replay_dead_letters', args, async (signal) => {
        const tool = 'replay_dead_letters';
        const options = kafka.options;
        if (replayTopics === undefined || replayTopics.length === 0) {
          throw new ToolError(
            'REPLAY_UNAVAILABLE',
            'replay_dead_letters writes only to explicitly allowlisted topics, and none is configured: the operator must set deadLetters.replayTopics (the topics replays may write to). Nothing was replayed.',
            { tool },
          );
        }
        if (options === undefined) {
          throw new ToolError(
            'REPLAY_UNAVAILABLE',
            'replay_dead_letters needs Kafka connection options: configure `kafka` as options ({ brokers: [...] }) instead of a ready KafkaAdmin, so the server can open a producer.',
            { tool },
          );
        }
        const admin = await kafka.admin();
        const existing = new Set(await admin.listTopics());
        // A target must be allowlisted for replay and exist; the same answer for both, as for every allowlist.
        const writable = (topic: string): boolean => replayTopics.includes(topic) && existing.has(topic);
        if (args.target_topic !== undefined && !writable(args.target_topic)) {
          throw new ToolError(
            'TARGET_NOT_ALLOWED',
            `target_topic ${JSON.stringify(args.target_topic)} is not a topic replay may write to. Replay topics: ${replayTopics.map((t) => JSON.stringify(t)).join(', ')}. Nothing was replayed.`,
            { tool },
          );
        }
        const { letters, complete } = await select(tool, args, args.max_records + 1, signal);
        if (letters.length > args.max_records) {
          throw new ToolError(
            'TOO_MANY_DEAD_LETTERS',
            `The selection holds more than ${args.max_records} dead letters (max_records). Narrow it (offsets, a shorter time range) or raise max_records (at most ${config.maxReplay}); nothing was replayed.`,
            { tool },
          );
        }
        if (!complete) {
          throw new ToolError(
            'INCOMPLETE_SELECTION',
            `The selection could not be read completely (the offset range holds more than ${args.max_records} records before the time filter, or the read took over ${limits.timeoutMs} ms); narrow it. Nothing was replayed.`,
            { tool },
          );
        }
        const partitionCounts = new Map<string, number>();
        const plan: { letter: DeadLetterRead; target: string; partition: number | undefined; from: string }[] = [];
        const skipped: JsonValue[] = [];
        for (const letter of letters) {
          const from = `${letter.topic}:${letter.partition}:${letter.offset}`;
          const previous = letter.headers[REPLAY_HEADERS.replayedFrom];
          if (previous !== undefined && !args.include_replayed) {
            skipped.push({ dead_letter: from, reason: `failed again after a replay of ${previous}; set include_replayed to replay it again` });
            continue;
          }
          if (letter.value === null) {
            skipped.push({ dead_letter: from, reason: 'no payload (null value): replaying it would write a tombstone' });
            continue;
          }
          let target = args.target_topic;
          if (target === undefined) {
            // The source topic is header text: it is only a candidate, written to only when the operator allowlisted it.
            const named = letter.source?.topic;
            if (named === undefined) {
              skipped.push({ dead_letter: from, reason: `no ${HEADERS.sourcePartition} header: not written by kafkaDeadLetterSink; give target_topic to replay it` });
              continue;
            }
            if (!writable(named)) {
              skipped.push({
                dead_letter: from,
                reason: `its ${HEADERS.sourcePartition} header names a topic that is not a replay topic (${replayTopics.join(', ')}); give target_topic to replay it to one of those`,
                header_topic: named,
              });
              continue;
            }
            target = named;
          }
          let count = partitionCounts.get(target);
          if (count === undefined) {
            count = (await admin.describeTopic(target)).partitions.length;
            partitionCounts.set(target, count);
          }
          // Back to the partition it came from keeps its order relative to its neighbours; elsewhere the key decides.
          const samePartition = letter.source !== undefined && letter.source.topic === target && letter.source.partition < count;
          plan.push({ letter, target, partition: samePartition ? letter.source.partition : undefined, from });
        }
        const planned = plan.map(({ letter, target, partition, from }) => ({
          dead_letter: from,
          target_topic: target,
          target_partition: partition ?? null,
          key: letter.key,
          error_code: letter.headers[HEADERS.errorCode] ?? null,
          source: letter.source === undefined ? null : `${letter.source.topic}:${letter.source.partition}@${letter.sourceOffset ?? '?'}`,
        }));
        const perTarget = new Map<string, number>();
        for (const { target } of plan) perTarget.set(target, (perTarget.get(target) ?? 0) + 1);
        // Every target passed the allowlist, so naming them outside the fence repeats configuration, not data.
        const targets = [...perTarget].map(([topic, records]) => ({ topic, records }));
        const targetText = targets.length === 0 ? '' : ` to ${targets.map((t) => `${t.topic} (${t.records})`).join(', ')}`;
        const half = Math.floor(limits.maxBytes / 2);
        const cappedSkipped = capItems(skipped, half);
        if (args.dry_run || plan.length === 0) {
          const { kept, truncated } = capItems(planned, half);
          return dataResult(
            `${args.dry_run ? 'Dry run: would replay' : 'Replayed'} ${plan.length} dead letter(s) from ${args.topic}${targetText}; ${skipped.length} skipped.${args.dry_run && plan.length > 0 ? ' Call again with dry_run: false to write.' : ''}`,
            `dead-letter topic ${args.topic}`,
            { dry_run: args.dry_run, replayed: 0, targets, would_replay: kept, skipped: cappedSkipped.kept, skipped_count: skipped.length, truncated: truncated || cappedSkipped.truncated },
          );
        }
        const replayedAt = String(Date.now());
        const { kafkaSink } = await import('@tributary/connectors/kafka');
        const { logger: _logger, ...connection } = options;
        const byRecord = new Map<StreamRecord<null>, (typeof plan)[number]>();
        const records = plan.map((entry) => {
          const record: StreamRecord<null> = { key: entry.letter.key, value: null, eventTime: entry.letter.timestamp, position: { partition: entry.from, offset: 0 }, headers: {} };
          byRecord.set(record, entry);
          return record;
        });
        const entryOf = (record: StreamRecord<null>): (typeof plan)[number] => byRecord.get(record)!;
        const sink = kafkaSink<null>({
          ...connection,
          name: 'replay-dead-letters',
          idempotent: true,
          timestamp: 'send-time',
          topic: (record) => entryOf(record).target,
          key: (record) => entryOf(record).letter.key,
          value: (record) => entryOf(record).letter.value,
          partition: (record) => entryOf(record).partition,
          headers: (record) => {
            const { letter, from } = entryOf(record);
            const headers: Record<string, string> = {};
            for (const [name, value] of Object.entries(letter.headers)) if (!envelopeHeaders.has(name)) headers[name] = value;
            headers[REPLAY_HEADERS.replayedFrom] = from;
            headers[REPLAY_HEADERS.replayedAt] = replayedAt;
            return headers;
          },
        });
        try {
          await sink.open({ stepName: 'replay-dead-letters', clock: systemClock, logger: context.logger, signal });
          await sink.write(records);
          await sink.commit({ id: 1, positions: {}, reason: 'request' });
        } finally {
          await sink.close();
        }
        const { kept, truncated } = capItems(planned, half);
        return dataResult(`Replayed ${sink.sent} dead letter(s) from ${args.topic}${targetText}; ${skipped.length} skipped.`, `dead-letter topic ${args.topic}`, {
          dry_run: false,
          replayed: sink.sent,
          targets,
          records: kept,
          skipped: cappedSkipped.kept,
          skipped_count: skipped.length,
          truncated: truncated || cappedSkipped.truncated,
        });
      }),
  );
}
