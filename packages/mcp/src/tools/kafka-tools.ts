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

/** Registers `list_topics`, `describe_topic` and `read_topic`. */
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
}
