import { ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { KafkaAdmin } from '@tributary/connectors/kafka';
import { ToolError } from '../errors.js';
import type { ToolRunner } from '../server/run-tool.js';
import { capItems, dataResult, toJson } from '../server/tool-result.js';
import type { JsonValue } from '../server/tool-result.js';

/**
 * The part of `KafkaAdmin` (from `@tributary/connectors/kafka`) the Kafka tools use: pass a real admin, or a fake in
 * tests. `readTopicOffsets` is optional so that admins written before it existed keep working; without it, reads by
 * offsets answer with a clear error.
 *
 * @example
 * ```ts
 * const admin: KafkaAdminLike = kafkaAdmin({ brokers: ['127.0.0.1:9092'] });
 * const server = createTributaryMcpServer({ kafka: admin, topics: ['orders'] });
 * ```
 */
export type KafkaAdminLike = Pick<KafkaAdmin, 'listTopics' | 'describeTopic' | 'consumerGroupLag' | 'readTopicRange' | 'close'> & Partial<Pick<KafkaAdmin, 'readTopicOffsets'>>;

/**
 * The admin's offset reader, or a `ToolError` saying the configured admin has none.
 *
 * @example
 * ```ts
 * const read = await offsetReader(admin, 'read_topic')({ topic: 'orders', partitions: { 0: { from: 10 } } });
 * ```
 */
export function offsetReader(admin: KafkaAdminLike, tool: string): NonNullable<KafkaAdminLike['readTopicOffsets']> {
  if (admin.readTopicOffsets === undefined) {
    throw new ToolError('UNSUPPORTED', 'The configured Kafka admin cannot read by offsets (no readTopicOffsets); configure kafka with options or a current KafkaAdmin.', { tool });
  }
  return admin.readTopicOffsets.bind(admin);
}

/** What the Kafka tools need from the server configuration. */
export interface KafkaToolsContext {
  readonly admin: () => Promise<KafkaAdminLike>;
  /** Allowlisted topics; `undefined` means every non-internal topic. */
  readonly topics: readonly string[] | undefined;
  readonly run: ToolRunner;
  readonly limits: { readonly maxRows: number; readonly maxBytes: number; readonly timeoutMs: number };
}

const topicName = z
  .string()
  .min(1)
  .max(249)
  .regex(/^[A-Za-z0-9._-]+$/, 'expected a Kafka topic name (letters, digits, ".", "_", "-")');
const timestamp = z
  .union([z.number().int().min(0).max(8.64e15), z.iso.datetime({ offset: true })])
  .describe('ms since the epoch, or an ISO-8601 date-time with zone.');
const toMs = (value: number | string): number => (typeof value === 'number' ? value : Date.parse(value));
const kafkaOffset = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
/** Most partitions one read_topic may name: enough for large topics, and bounds the per-partition report. */
const MAX_READ_PARTITIONS = 1_000;
/** Undecodable records listed in a read_topic answer (all are counted). */
const MAX_UNDECODABLE_LISTED = 20;
/** The reader gets this share of the tool timeout, so a partial answer comes back rather than TOOL_TIMEOUT. */
const READER_TIME_SHARE = 0.8;
/** Per-partition offset ranges `[from, to)`, as agents give them. */
const offsetRanges = z
  .array(
    z.strictObject({
      partition: z.number().int().min(0).max(100_000).describe('Partition number.'),
      from: kafkaOffset.describe('First offset to read (inclusive).'),
      to: kafkaOffset.optional().describe('End offset (exclusive). Default: the end of the partition now.'),
    }),
  )
  .min(1)
  .max(MAX_READ_PARTITIONS);

/**
 * Checks per-partition offset ranges (no duplicate partition, `from < to`) and turns them into the
 * `partitions` option of `readTopicOffsets`; throws a `ToolError` naming the field.
 */
function offsetPartitions(tool: string, field: string, ranges: z.output<typeof offsetRanges>): Record<number, { from: number; to?: number }> {
  const partitions: Record<number, { from: number; to?: number }> = {};
  ranges.forEach((range, index) => {
    if (range.partition in partitions) {
      throw new ToolError('INVALID_RANGE', `${field}[${index}]: partition ${range.partition} is given twice; give one range per partition.`, { tool });
    }
    if (range.to !== undefined && !(range.from < range.to)) {
      throw new ToolError('INVALID_RANGE', `${field}[${index}].to (${range.to}) must be after ${field}[${index}].from (${range.from}): the offset range [from, to) is empty or inverted.`, { tool });
    }
    partitions[range.partition] = range.to === undefined ? { from: range.from } : { from: range.from, to: range.to };
  });
  return partitions;
}

/**
 * Debezium decoding for agents: the envelope (with or without the schema wrapper) reduced to what changed. Values
 * that are not envelopes are returned unchanged with `op: null`.
 */
function debeziumView(value: unknown): JsonValue {
  const payload = (value as { payload?: unknown } | null)?.payload ?? value;
  if (payload === null || typeof payload !== 'object' || !('op' in payload)) return { op: null, value: toJson(value) };
  const envelope = payload as Record<string, unknown>;
  return { op: toJson(envelope['op']), before: toJson(envelope['before']), after: toJson(envelope['after']), source: toJson(envelope['source']), ts_ms: toJson(envelope['ts_ms']) };
}

interface FieldStats {
  types: Set<string>;
  present: number;
  examples: JsonValue[];
}

function jsonType(value: JsonValue): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/** Walks one value, recording the type of every field path (`after.id`, `items[].sku`). */
function observe(stats: Map<string, FieldStats>, path: string, value: JsonValue, depth: number): void {
  const type = jsonType(value);
  if (path !== '') {
    const entry = stats.get(path) ?? { types: new Set<string>(), present: 0, examples: [] };
    entry.types.add(type);
    entry.present += 1;
    if (type !== 'object' && type !== 'array' && type !== 'null' && entry.examples.length < 3 && !entry.examples.includes(value)) {
      entry.examples.push(typeof value === 'string' && value.length > 80 ? `${value.slice(0, 80)}…` : value);
    }
    stats.set(path, entry);
  }
  // Bounded depth and width: a sample must not turn into a full scan of a pathological document.
  if (depth >= 8 || stats.size >= 500) return;
  if (Array.isArray(value)) {
    for (const item of value.slice(0, 20)) observe(stats, `${path}[]`, item, depth + 1);
  } else if (value !== null && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) observe(stats, path === '' ? key : `${path}.${key}`, inner, depth + 1);
  }
}

/** Registers `list_topics`, `describe_topic`, `read_topic` and `sample_schema`, and topics as resources. */
export function registerKafkaTools(server: McpServer, context: KafkaToolsContext): void {
  const { run, limits } = context;
  const readOnly = { readOnlyHint: true, destructiveHint: false, openWorldHint: false } as const;

  const visibleTopics = async (): Promise<string[]> => {
    const topics = await (await context.admin()).listTopics();
    const allowed = context.topics;
    return (allowed === undefined ? topics : topics.filter((topic) => allowed.includes(topic))).sort();
  };
  const requireTopic = async (tool: string, topic: string): Promise<void> => {
    if (!(await visibleTopics()).includes(topic)) {
      throw new ToolError('UNKNOWN_TOPIC', `Topic ${JSON.stringify(topic)} is not available. Call list_topics for the topics you may read.`, { tool });
    }
  };

  server.registerResource(
    'topic',
    new ResourceTemplate('tributary://topics/{topic}', {
      list: async () => ({ resources: (await visibleTopics()).map((name) => ({ uri: `tributary://topics/${name}`, name, mimeType: 'application/json' })) }),
    }),
    { description: 'A Kafka topic: partitions with offsets, configs and record count.', mimeType: 'application/json' },
    async (uri, variables) => {
      const topic = String(variables['topic']);
      await requireTopic('resources/read', topic);
      const description = await (await context.admin()).describeTopic(topic);
      return { contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(toJson(description), null, 1) }] };
    },
  );

  server.registerTool(
    'list_topics',
    { description: 'Lists the Kafka topics this server lets you read (internal topics excluded).', inputSchema: {}, annotations: readOnly },
    (args) =>
      run('list_topics', args, async () => {
        const topics = await visibleTopics();
        return dataResult(`${topics.length} topic(s).`, 'the Kafka cluster', { topics });
      }),
  );

  server.registerTool(
    'describe_topic',
    {
      description: 'Partitions (leader, replicas, earliest and latest offsets), configs and record count of a topic; with group_id, that consumer group\'s lag.',
      inputSchema: { topic: topicName, group_id: z.string().min(1).max(255).optional().describe('Consumer group whose lag on this topic to report.') },
      annotations: readOnly,
    },
    (args) =>
      run('describe_topic', args, async () => {
        await requireTopic('describe_topic', args.topic);
        const admin = await context.admin();
        const description = await admin.describeTopic(args.topic);
        const data: Record<string, JsonValue> = {
          topic: description.name,
          partitions: toJson(description.partitions),
          configs: toJson(description.configs),
          overrides: toJson(description.overrides),
          records: description.records,
        };
        let summary = `Topic ${description.name}: ${description.partitions.length} partition(s), ${description.records} record(s) retained.`;
        if (args.group_id !== undefined) {
          const lag = await admin.consumerGroupLag(args.group_id, args.topic);
          data['consumer_group'] = toJson(lag);
          summary += ` Group ${lag.groupId} (${lag.state}) lags ${lag.totalLag} record(s).`;
        }
        return dataResult(summary, `topic ${description.name}`, data);
      }),
  );

  server.registerTool(
    'read_topic',
    {
      description:
        'Reads records of a topic either by time — timestamps in [from, to), oldest first — or by offsets — per ' +
        'partition [from, to), by partition then offset (give exactly one of the two). Decoded as json (default), ' +
        'string or debezium (the change envelope reduced to op / before / after / source).',
      inputSchema: {
        topic: topicName,
        from: timestamp.optional().describe('Time read: start (inclusive), ms since the epoch or ISO-8601 date-time with zone. With `to`; not with `offsets`.'),
        to: timestamp.optional().describe('Time read: end (exclusive), ms since the epoch or ISO-8601 date-time with zone. With `from`; not with `offsets`.'),
        partitions: z.array(z.number().int().min(0).max(100_000)).min(1).max(MAX_READ_PARTITIONS).optional().describe('Time read: partitions to read. Default: all.'),
        offsets: offsetRanges
          .optional()
          .describe('Offset read: per partition, offsets [from, to) (`to` default: the end of the partition now). Not with from / to. Offsets no longer in the log are reported under `partitions[].missing`.'),
        limit: z.number().int().min(1).max(limits.maxRows).default(Math.min(100, limits.maxRows)).describe(`Most records, at most ${limits.maxRows}. Default 100.`),
        decoding: z.enum(['json', 'string', 'debezium']).default('json').describe('How to decode values: json (default), string, or debezium (op / before / after / source).'),
      },
      annotations: readOnly,
    },
    (args) =>
      run('read_topic', args, async (signal) => {
        const byTime = args.from !== undefined || args.to !== undefined;
        if (byTime === (args.offsets !== undefined)) {
          throw new ToolError(
            'INVALID_ARGUMENTS',
            byTime
              ? 'Give either a time range (from and to) or offsets, not both.'
              : 'Give what to read: a time range (from and to: ms since the epoch or ISO-8601) or offsets ([{ partition, from, to? }]).',
            { tool: 'read_topic' },
          );
        }
        if (byTime && (args.from === undefined || args.to === undefined)) {
          throw new ToolError('INVALID_ARGUMENTS', `A time range needs both from and to; ${args.from === undefined ? 'from' : 'to'} is missing.`, { tool: 'read_topic' });
        }
        if (args.offsets !== undefined && args.partitions !== undefined) {
          throw new ToolError('INVALID_ARGUMENTS', 'partitions applies to time reads; with offsets, the partitions are the ones in offsets.', { tool: 'read_topic' });
        }
        let from = 0;
        let to = 0;
        if (byTime) {
          from = toMs(args.from!);
          to = toMs(args.to!);
          if (!(from < to)) {
            throw new ToolError('INVALID_RANGE', `The time range is empty or inverted: from (${new Date(from).toISOString()}) must be before to (${new Date(to).toISOString()}).`, {
              tool: 'read_topic',
            });
          }
        }
        const byOffsets = args.offsets === undefined ? undefined : offsetPartitions('read_topic', 'offsets', args.offsets);
        await requireTopic('read_topic', args.topic);
        const admin = await context.admin();
        const common = { topic: args.topic, limit: args.limit, deserializer: args.decoding === 'string' ? ('string' as const) : ('json' as const), timeoutMs: Math.max(1, Math.floor(limits.timeoutMs * READER_TIME_SHARE)), signal };
        let range: Awaited<ReturnType<KafkaAdminLike['readTopicRange']>>;
        let partitionReport: JsonValue | undefined;
        if (byOffsets === undefined) {
          range = await admin.readTopicRange({ ...common, from, to, ...(args.partitions === undefined ? {} : { partitions: args.partitions }) });
        } else {
          let read: Awaited<ReturnType<NonNullable<KafkaAdminLike['readTopicOffsets']>>>;
          try {
            read = await offsetReader(admin, 'read_topic')({ ...common, partitions: byOffsets });
          } catch (error) {
            if ((error as { code?: unknown }).code === 'KAFKA_PARTITION_NOT_FOUND') {
              throw new ToolError('UNKNOWN_PARTITION', `${(error as Error).message.replace(/^readTopicOffsets: partitions: /, 'offsets: ')} Call describe_topic for its partitions.`, { tool: 'read_topic' });
            }
            throw error;
          }
          range = read;
          partitionReport = toJson(read.partitions);
        }
        const records = range.records.map((record) => ({
          partition: toJson(record.position.partition),
          offset: toJson(record.position.offset),
          timestamp: new Date(record.eventTime).toISOString(),
          key: record.key,
          value: args.decoding === 'debezium' ? debeziumView(record.value) : toJson(record.value),
          headers: toJson(record.headers),
        }));
        // Everything in the answer shares maxBytes: the undecodable sample and the partition report are sized first.
        const undecodable = range.undecodable.slice(0, MAX_UNDECODABLE_LISTED).map((u) => ({ partition: u.partition, offset: u.offset, error: u.error.slice(0, 200) }));
        const report = Array.isArray(partitionReport) ? capItems(partitionReport, Math.floor(limits.maxBytes / 4)) : undefined;
        const overhead = 512 + Buffer.byteLength(JSON.stringify(undecodable)) + (report === undefined ? 0 : Buffer.byteLength(JSON.stringify(report.kept)));
        const { kept, truncated } = capItems(records, Math.max(0, limits.maxBytes - overhead));
        const data: Record<string, JsonValue> = {
          topic: args.topic,
          records: kept,
          undecodable,
          undecodable_count: range.undecodable.length,
          complete: range.complete && !truncated,
          ...(report === undefined ? {} : { partitions: report.kept, ...(report.truncated ? { partitions_listed: report.kept.length, partitions_read: (partitionReport as JsonValue[]).length } : {}) }),
        };
        const missing = Array.isArray(partitionReport) ? partitionReport.filter((p) => (p as { missing: unknown }).missing !== null).length : 0;
        return dataResult(
          `${kept.length} record(s) from ${args.topic}${data['complete'] === true ? '' : ' (incomplete: limit, size cap or timeout reached)'}; ${range.undecodable.length} undecodable` +
            `${missing > 0 ? `; ${missing} partition(s) had requested offsets no longer in the log (see partitions[].missing)` : ''}` +
            `${report?.truncated === true ? `; the partition report lists ${report.kept.length} of ${(partitionReport as JsonValue[]).length} partitions (size cap)` : ''}.`,
          `Kafka topic ${args.topic}`,
          data,
        );
      }),
  );

  server.registerTool(
    'sample_schema',
    {
      description:
        'Infers the schema of a topic\'s JSON values from a sample of its oldest retained records: every field path ' +
        'with the JSON types seen, how often it is present and a few example values. debezium: the change envelope ' +
        'reduced to op / before / after / source first.',
      inputSchema: {
        topic: topicName,
        sample_size: z.number().int().min(1).max(Math.min(10_000, limits.maxRows)).default(Math.min(200, limits.maxRows)),
        decoding: z.enum(['json', 'debezium']).default('json'),
      },
      annotations: readOnly,
    },
    (args) =>
      run('sample_schema', args, async (signal) => {
        await requireTopic('sample_schema', args.topic);
        const range = await (await context.admin()).readTopicRange({
          topic: args.topic,
          from: 0,
          to: Date.now() + 1,
          limit: args.sample_size,
          deserializer: 'json',
          timeoutMs: limits.timeoutMs,
          signal,
        });
        const stats = new Map<string, FieldStats>();
        for (const record of range.records) observe(stats, '', args.decoding === 'debezium' ? debeziumView(record.value) : toJson(record.value), 0);
        const sampled = range.records.length;
        const fields = [...stats.entries()]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([path, entry]) => ({ path, types: [...entry.types].sort(), present: entry.present, examples: entry.examples }));
        const { kept, truncated } = capItems(fields, limits.maxBytes);
        return dataResult(
          `${fields.length} field path(s) inferred from ${sampled} record(s) of ${args.topic}; ${range.undecodable.length} not JSON.`,
          `Kafka topic ${args.topic}`,
          { topic: args.topic, sampled, undecodable: range.undecodable.length, fields: kept, truncated },
        );
      }),
  );
}
