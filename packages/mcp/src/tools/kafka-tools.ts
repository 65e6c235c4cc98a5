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
 * tests.
 *
 * @example
 * ```ts
 * const admin: KafkaAdminLike = kafkaAdmin({ brokers: ['127.0.0.1:9092'] });
 * const server = createTributaryMcpServer({ kafka: admin, topics: ['orders'] });
 * ```
 */
export type KafkaAdminLike = Pick<KafkaAdmin, 'listTopics' | 'describeTopic' | 'consumerGroupLag' | 'readTopicRange' | 'close'>;

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
        'Reads records of a topic whose timestamps fall in [from, to), oldest first, decoded as json (default), string ' +
        'or debezium (the change envelope reduced to op / before / after / source).',
      inputSchema: {
        topic: topicName,
        from: timestamp,
        to: timestamp,
        partitions: z.array(z.number().int().min(0).max(100_000)).min(1).max(10_000).optional(),
        limit: z.number().int().min(1).max(limits.maxRows).default(Math.min(100, limits.maxRows)).describe(`Most records, at most ${limits.maxRows}. Default 100.`),
        decoding: z.enum(['json', 'string', 'debezium']).default('json'),
      },
      annotations: readOnly,
    },
    (args) =>
      run('read_topic', args, async (signal) => {
        const from = toMs(args.from);
        const to = toMs(args.to);
        if (!(from < to)) {
          throw new ToolError('INVALID_RANGE', `The time range is empty or inverted: from (${new Date(from).toISOString()}) must be before to (${new Date(to).toISOString()}).`, {
            tool: 'read_topic',
          });
        }
        await requireTopic('read_topic', args.topic);
        const range = await (await context.admin()).readTopicRange({
          topic: args.topic,
          from,
          to,
          limit: args.limit,
          deserializer: args.decoding === 'string' ? 'string' : 'json',
          timeoutMs: limits.timeoutMs,
          signal,
          ...(args.partitions === undefined ? {} : { partitions: args.partitions }),
        });
        const records = range.records.map((record) => ({
          partition: toJson(record.position.partition),
          offset: toJson(record.position.offset),
          timestamp: new Date(record.eventTime).toISOString(),
          key: record.key,
          value: args.decoding === 'debezium' ? debeziumView(record.value) : toJson(record.value),
          headers: toJson(record.headers),
        }));
        const { kept, truncated } = capItems(records, limits.maxBytes);
        const data: Record<string, JsonValue> = {
          topic: args.topic,
          records: kept,
          undecodable: toJson(range.undecodable),
          complete: range.complete && !truncated,
        };
        return dataResult(
          `${kept.length} record(s) from ${args.topic}${data['complete'] === true ? '' : ' (incomplete: limit, size cap or timeout reached)'}; ${range.undecodable.length} undecodable.`,
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
