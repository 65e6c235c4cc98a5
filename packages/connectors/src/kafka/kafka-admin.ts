import { z } from 'zod';
import { silentLogger } from '@tributary/core';
import type { Logger } from '@tributary/core';
import type { Admin, ConfigEntries, Kafka } from 'kafkajs';
import { ConnectorError } from '../errors.js';
import { parseOptions } from './parse-options.js';
import {
  checkConnectionSecurity,
  connectOrFail,
  createKafkaClient,
  kafkaConnectionShape,
  loadKafkaJs,
  loggerSchema,
  offsetToNumber,
  rootMessage,
  toConnectorError,
} from './kafka-connection.js';
import { readTopicRange } from './read-topic-range.js';
import type { ReadTopicRangeOptions, TopicRange } from './read-topic-range.js';
import { readTopicOffsets } from './read-topic-offsets.js';
import type { ReadTopicOffsetsOptions, TopicOffsets } from './read-topic-offsets.js';
import { topicSchema } from './kafka-source.js';

const kafkaAdminSchema = z.strictObject({
  ...kafkaConnectionShape,
  /** Where admin and kafkajs log lines go (secrets redacted). Default: silent. */
  logger: loggerSchema.optional(),
});

/**
 * Options of {@link kafkaAdmin}: the connection options ({@link KafkaConnectionOptions}) plus `logger` (default silent).
 *
 * @example
 * ```ts
 * const options: KafkaAdminOptions = { brokers: ['kafka:9092'], logger: jsonLogger() };
 * ```
 *
 * @interface
 */
export type KafkaAdminOptions = z.input<typeof kafkaAdminSchema>;

const configValue = z.union([z.string(), z.number(), z.boolean()], 'must be a string, number or boolean');

const topicDeclarationSchema = z.strictObject({
  /** Topic name. */
  name: topicSchema,
  /** Partition count; an existing topic with fewer partitions gets more (never fewer). */
  partitions: z.int('must be a positive integer').positive('must be a positive integer'),
  /** Replication factor of a new topic. Default: the broker's `default.replication.factor`. */
  replicationFactor: z.int('must be a positive integer').positive('must be a positive integer').optional(),
  /** Topic configs (`retention.ms`, `cleanup.policy`, `compression.type`, ...); differing values are altered. Default none. */
  config: z.record(z.string().regex(/^[a-z0-9.]+$/, 'keys must be Kafka topic config names like retention.ms'), configValue).default({}),
});

/**
 * One topic {@link KafkaAdmin.declareTopics} should make sure of.
 *
 * @example
 * ```ts
 * const orders: TopicDeclaration = { name: 'shop.public.orders', partitions: 6, config: { 'cleanup.policy': 'compact' } };
 * ```
 *
 * @interface
 */
export type TopicDeclaration = z.input<typeof topicDeclarationSchema>;

/**
 * What {@link KafkaAdmin.declareTopics} did to one topic.
 *
 * @example
 * ```ts
 * for (const result of await admin.declareTopics(topics)) if (result.action !== 'unchanged') console.log(result);
 * ```
 */
export interface TopicDeclarationResult {
  readonly name: string;
  /** `created`, `updated` (partitions added or configs altered) or `unchanged`. */
  readonly action: 'created' | 'updated' | 'unchanged';
  /** Partition count before (`0` when created) and after. */
  readonly partitions: { readonly before: number; readonly after: number };
  /** Configs that were set or changed, with the previous value (`null` when it was the default). */
  readonly configChanges: readonly { readonly name: string; readonly before: string | null; readonly after: string }[];
  /** What was declared but cannot be changed this way (fewer partitions, another replication factor). */
  readonly warnings: readonly string[];
}

/**
 * One partition of a {@link TopicDescription}.
 *
 * @example
 * ```ts
 * const [first] = (await admin.describeTopic('orders')).partitions;
 * console.log(first.latestOffset - first.earliestOffset);
 * ```
 */
export interface TopicPartitionDescription {
  readonly partition: number;
  readonly leader: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  /** First offset still in the log. */
  readonly earliestOffset: number;
  /** Offset the next record gets (high watermark). */
  readonly latestOffset: number;
}

/**
 * What {@link KafkaAdmin.describeTopic} returns.
 *
 * @example
 * ```ts
 * const { records, overrides } = await admin.describeTopic('orders');
 * ```
 */
export interface TopicDescription {
  readonly name: string;
  readonly partitions: readonly TopicPartitionDescription[];
  /** Every config with its effective value (sensitive values are never returned). */
  readonly configs: Readonly<Record<string, string>>;
  /** The configs set on the topic itself (not inherited from the broker). */
  readonly overrides: Readonly<Record<string, string>>;
  /** Records currently in the log: sum of latest - earliest. */
  readonly records: number;
}

/**
 * The lag of one partition for a consumer group.
 *
 * @example
 * ```ts
 * const behind = (await admin.consumerGroupLag('lake')).partitions.filter((p: PartitionLag) => p.lag > 1_000);
 * ```
 */
export interface PartitionLag {
  readonly topic: string;
  readonly partition: number;
  /** The group's committed position, or `null` when it has none. */
  readonly committedOffset: number | null;
  readonly earliestOffset: number;
  readonly latestOffset: number;
  /** Records not yet consumed: latest - committed (latest - earliest without a commit). */
  readonly lag: number;
}

/**
 * What {@link KafkaAdmin.consumerGroupLag} returns.
 *
 * @example
 * ```ts
 * const { state, totalLag } = await admin.consumerGroupLag('lake', 'orders');
 * ```
 */
export interface ConsumerGroupLag {
  readonly groupId: string;
  /** Group state as the coordinator reports it (`Stable`, `Empty`, `Dead`, ...). */
  readonly state: string;
  readonly partitions: readonly PartitionLag[];
  readonly totalLag: number;
}

/**
 * Topic and group administration, built by {@link kafkaAdmin}. Connects on first use (bounded retries; an
 * unreachable cluster fails with `KAFKA_UNREACHABLE`); call {@link KafkaAdmin.close} when done.
 *
 * @example
 * ```ts
 * const admin: KafkaAdmin = kafkaAdmin({ brokers: ['kafka:9092'] });
 * try { console.log(await admin.listTopics()); } finally { await admin.close(); }
 * ```
 */
export class KafkaAdmin {
  readonly #options: z.output<typeof kafkaAdminSchema>;
  readonly #logger: Logger;
  #client: Promise<{ kafka: Kafka; admin: Admin }> | undefined;

  /** @internal use {@link kafkaAdmin} */
  constructor(options: z.output<typeof kafkaAdminSchema>) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
  }

  /**
   * Makes sure each topic exists with at least the declared partitions and the declared configs. Idempotent: missing
   * topics are created, partitions added when fewer, differing configs altered (topic-level overrides that were not
   * declared are kept); a second call with the same declarations changes nothing. Returns what changed per topic.
   *
   * @example
   * ```ts
   * const changes = await admin.declareTopics([
   *   { name: 'shop.public.orders', partitions: 6, replicationFactor: 3, config: { 'cleanup.policy': 'compact', 'retention.ms': 604_800_000 } },
   * ]);
   * ```
   */
  async declareTopics(declarations: readonly TopicDeclaration[]): Promise<TopicDeclarationResult[]> {
    const parsed = parseOptions(z.array(topicDeclarationSchema), 'declareTopics', declarations);
    const { admin } = await this.#connect();
    const kafkajs = await loadKafkaJs();
    const existing = new Set(await admin.listTopics());
    const results: TopicDeclarationResult[] = [];
    for (const declaration of parsed) {
      const config = Object.fromEntries(Object.entries(declaration.config).map(([name, value]) => [name, String(value)]));
      try {
        if (!existing.has(declaration.name)) {
          await admin.createTopics({
            waitForLeaders: true,
            topics: [
              {
                topic: declaration.name,
                numPartitions: declaration.partitions,
                ...(declaration.replicationFactor === undefined ? {} : { replicationFactor: declaration.replicationFactor }),
                configEntries: Object.entries(config).map(([name, value]) => ({ name, value })),
              },
            ],
          });
          results.push({
            name: declaration.name,
            action: 'created',
            partitions: { before: 0, after: declaration.partitions },
            configChanges: Object.entries(config).map(([name, after]) => ({ name, before: null, after })),
            warnings: [],
          });
          continue;
        }
        const warnings: string[] = [];
        const metadata = await admin.fetchTopicMetadata({ topics: [declaration.name] });
        const partitionList = metadata.topics[0]?.partitions ?? [];
        const before = partitionList.length;
        let after = before;
        if (declaration.partitions > before) {
          await admin.createPartitions({ topicPartitions: [{ topic: declaration.name, count: declaration.partitions }] });
          after = declaration.partitions;
        } else if (declaration.partitions < before) {
          warnings.push(`has ${before} partitions, more than the ${declaration.partitions} declared; Kafka cannot remove partitions`);
        }
        const replicas = partitionList[0]?.replicas.length;
        if (declaration.replicationFactor !== undefined && replicas !== undefined && replicas !== declaration.replicationFactor) {
          warnings.push(`has replication factor ${replicas}, not the ${declaration.replicationFactor} declared; change it with a partition reassignment`);
        }
        const entries = await this.#topicConfigs(admin, kafkajs.ConfigResourceTypes.TOPIC, declaration.name);
        const overrides = new Map(entries.filter((entry) => entry.configSource === kafkajs.ConfigSource.TOPIC_CONFIG).map((entry) => [entry.configName, entry.configValue]));
        const current = new Map(entries.map((entry) => [entry.configName, entry]));
        const configChanges: { name: string; before: string | null; after: string }[] = [];
        for (const [name, value] of Object.entries(config)) {
          const entry = current.get(name);
          if (entry !== undefined && entry.configValue === value && overrides.has(name)) continue;
          if (entry !== undefined && entry.configValue === value && !overrides.has(name)) {
            // Same value inherited from the broker: pin it on the topic so a broker default change does not move it.
            overrides.set(name, value);
            configChanges.push({ name, before: null, after: value });
            continue;
          }
          configChanges.push({ name, before: overrides.get(name) ?? entry?.configValue ?? null, after: value });
          overrides.set(name, value);
        }
        if (configChanges.length > 0) {
          // AlterConfigs replaces the topic's whole override set: send the kept overrides along with the changes.
          await admin.alterConfigs({
            validateOnly: false,
            resources: [
              {
                type: kafkajs.ConfigResourceTypes.TOPIC,
                name: declaration.name,
                configEntries: [...overrides].map(([name, value]) => ({ name, value })),
              },
            ],
          });
        }
        const changed = after !== before || configChanges.length > 0;
        results.push({ name: declaration.name, action: changed ? 'updated' : 'unchanged', partitions: { before, after }, configChanges, warnings });
      } catch (error) {
        throw toConnectorError(error, {
          code: 'KAFKA_DECLARE_FAILED',
          message: `declareTopics: topic "${declaration.name}" could not be created or updated: ${rootMessage(error)}. Check the broker's limits and your ACLs (Create, Alter, AlterConfigs).`,
          topic: declaration.name,
        });
      }
    }
    return results;
  }

  /**
   * Partitions (leader, replicas, ISR, earliest and latest offsets) and configs of a topic.
   *
   * @throws ConnectorError `KAFKA_TOPIC_NOT_FOUND` when the topic does not exist
   *
   * @example
   * ```ts
   * const { partitions, configs } = await admin.describeTopic('shop.public.orders');
   * console.log(partitions.map((p) => p.latestOffset - p.earliestOffset), configs['retention.ms']);
   * ```
   */
  async describeTopic(topic: string): Promise<TopicDescription> {
    const name = parseOptions(topicSchema, 'describeTopic', topic);
    const { admin } = await this.#connect();
    const kafkajs = await loadKafkaJs();
    await this.#requireTopic(admin, name);
    const metadata = await admin.fetchTopicMetadata({ topics: [name] });
    const offsets = await admin.fetchTopicOffsets(name);
    const entries = await this.#topicConfigs(admin, kafkajs.ConfigResourceTypes.TOPIC, name);
    const partitions = (metadata.topics[0]?.partitions ?? [])
      .map((p) => {
        const offset = offsets.find((o) => o.partition === p.partitionId);
        return {
          partition: p.partitionId,
          leader: p.leader,
          replicas: [...p.replicas],
          isr: [...p.isr],
          earliestOffset: offsetToNumber(offset?.low ?? '0', { topic: name, partition: p.partitionId }),
          latestOffset: offsetToNumber(offset?.high ?? '0', { topic: name, partition: p.partitionId }),
        };
      })
      .sort((a, b) => a.partition - b.partition);
    const configs: Record<string, string> = {};
    const overrides: Record<string, string> = {};
    for (const entry of entries) {
      if (entry.isSensitive) continue;
      configs[entry.configName] = entry.configValue;
      if (entry.configSource === kafkajs.ConfigSource.TOPIC_CONFIG) overrides[entry.configName] = entry.configValue;
    }
    return { name, partitions, configs, overrides, records: partitions.reduce((sum, p) => sum + (p.latestOffset - p.earliestOffset), 0) };
  }

  /**
   * Per partition, how far a consumer group is behind the end of the log. Without `topic`, every topic the group has
   * committed offsets for.
   *
   * @example
   * ```ts
   * const { totalLag, partitions } = await admin.consumerGroupLag('orders-to-lake');
   * ```
   */
  async consumerGroupLag(groupId: string, topic?: string): Promise<ConsumerGroupLag> {
    const group = parseOptions(z.string().min(1, 'must be a non-empty string'), 'consumerGroupLag', groupId);
    const { admin } = await this.#connect();
    if (topic !== undefined) await this.#requireTopic(admin, parseOptions(topicSchema, 'consumerGroupLag', topic));
    const fetched = await admin.fetchOffsets({ groupId: group, ...(topic === undefined ? {} : { topics: [topic] }) });
    const described = await admin.describeGroups([group]);
    const partitions: PartitionLag[] = [];
    for (const { topic: name, partitions: committed } of fetched) {
      const offsets = await admin.fetchTopicOffsets(name);
      for (const { partition, high, low } of offsets) {
        const where = { topic: name, partition };
        const raw = committed.find((c) => c.partition === partition)?.offset ?? '-1';
        const committedOffset = Number(raw) >= 0 ? offsetToNumber(raw, where) : null;
        const latestOffset = offsetToNumber(high, where);
        const earliestOffset = offsetToNumber(low, where);
        const lag = Math.max(0, latestOffset - Math.max(committedOffset ?? earliestOffset, earliestOffset));
        partitions.push({ topic: name, partition, committedOffset, earliestOffset, latestOffset, lag });
      }
    }
    partitions.sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
    return { groupId: group, state: described.groups[0]?.state ?? 'Unknown', partitions, totalLag: partitions.reduce((sum, p) => sum + p.lag, 0) };
  }

  /**
   * Topic names, sorted. Internal topics (`__consumer_offsets`, ...) only with `includeInternal: true`.
   *
   * @example
   * ```ts
   * const cdcTopics = (await admin.listTopics()).filter((name) => name.startsWith('shop.'));
   * ```
   */
  async listTopics(options: { includeInternal?: boolean } = {}): Promise<string[]> {
    const { admin } = await this.#connect();
    const names = await admin.listTopics();
    return names.filter((name) => options.includeInternal === true || !name.startsWith('__')).sort();
  }

  /**
   * Reads the records whose timestamps lie in `[from, to)`, across partitions, in timestamp order: per partition from
   * `offsetsForTimes(from)` to `offsetsForTimes(to)` (or its end). It returns the `limit` oldest records across
   * partitions (undecodable ones count), stops fetching a partition once `limit` older records are held, and stops at
   * the timeout or when every partition is done. It joins a fresh consumer group `tributary-range-<uuid>` (kafkajs cannot
   * read without one), never commits, and deletes the group afterwards. On a broker with the default
   * `group.initial.rebalance.delay.ms` (3 s) the join alone takes that long.
   *
   * @example
   * ```ts
   * const { records, complete } = await admin.readTopicRange<Order>({
   *   topic: 'shop.public.orders', from: Date.parse('2026-01-01T10:00Z'), to: Date.parse('2026-01-01T11:00Z'), limit: 500,
   * });
   * ```
   */
  async readTopicRange<V = unknown>(options: ReadTopicRangeOptions<V>): Promise<TopicRange<V>> {
    const { kafka, admin } = await this.#connect();
    return readTopicRange(kafka, admin, this.#options, this.#logger, options);
  }

  /**
   * Reads records by offsets: per partition `[from, to)` (`to` defaulting to the partition's end offset at call time),
   * or every partition from `from` (default its log start) to its end. Records come back by partition, then offset;
   * `limit` applies across partitions. Offsets below the log start (deleted by retention) are reported per partition
   * in `missing`, never silently skipped. Like {@link KafkaAdmin.readTopicRange} it reads through a fresh consumer
   * group `tributary-offsets-<uuid>` that never commits and is deleted afterwards.
   *
   * @throws InvalidOptionsError naming the field: negative offsets, an empty or inverted range, unknown options
   * @throws ConnectorError `KAFKA_TOPIC_NOT_FOUND`, or `KAFKA_PARTITION_NOT_FOUND` naming the partitions the topic has
   *
   * @example
   * ```ts
   * const { records, partitions, complete } = await admin.readTopicOffsets<Order>({
   *   topic: 'shop.public.orders', partitions: { 0: { from: 1_200, to: 1_300 }, 2: { from: 40 } }, limit: 500,
   * });
   * ```
   */
  async readTopicOffsets<V = unknown>(options: ReadTopicOffsetsOptions<V>): Promise<TopicOffsets<V>> {
    const { kafka, admin } = await this.#connect();
    return readTopicOffsets(kafka, admin, this.#options, this.#logger, options);
  }

  /** Disconnects. The admin may be used again afterwards (it reconnects). */
  async close(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    if (client === undefined) return;
    const { admin } = await client.catch(() => ({ admin: undefined }));
    await admin?.disconnect().catch(() => undefined);
  }

  #connect(): Promise<{ kafka: Kafka; admin: Admin }> {
    this.#client ??= (async () => {
      const kafka = await createKafkaClient('kafkaAdmin', this.#options, { logger: this.#logger });
      const admin = kafka.admin({ retry: { retries: this.#options.retry.retries, initialRetryTime: this.#options.retry.initialRetryTimeMs, maxRetryTime: this.#options.retry.maxRetryTimeMs } });
      await connectOrFail('admin client', this.#options, () => admin.connect());
      return { kafka, admin };
    })();
    const client = this.#client;
    // A failed connect is not cached: the next call tries again.
    client.catch(() => {
      if (this.#client === client) this.#client = undefined;
    });
    return client;
  }

  async #requireTopic(admin: Admin, topic: string): Promise<void> {
    if (!(await admin.listTopics()).includes(topic)) {
      throw new ConnectorError('KAFKA_TOPIC_NOT_FOUND', `Topic "${topic}" does not exist on ${this.#options.brokers.join(', ')}. Check the name, or declare it with declareTopics.`, {
        connector: 'kafka',
        topic,
      });
    }
  }

  async #topicConfigs(admin: Admin, type: number, topic: string): Promise<ConfigEntries[]> {
    const described = await admin.describeConfigs({ resources: [{ type, name: topic }], includeSynonyms: false });
    return described.resources[0]?.configEntries ?? [];
  }
}

/**
 * Kafka administration for topologies and tools: idempotent topic declaration, topic description with offsets and
 * configs, consumer-group lag, topic listing, and a time-range reader.
 *
 * @param options connection options ({@link KafkaConnectionOptions}) and `logger` (default silent)
 * @throws InvalidOptionsError at construction, naming the bad option
 *
 * @example
 * ```ts
 * const admin = kafkaAdmin({ brokers: ['kafka:9092'] });
 * await admin.declareTopics([{ name: topicName({ source: 'shop', database: 'public', table: 'orders' }), partitions: 6 }]);
 * console.log(await admin.consumerGroupLag('orders-to-lake'));
 * await admin.close();
 * ```
 */
export function kafkaAdmin(options: KafkaAdminOptions): KafkaAdmin {
  const parsed = parseOptions(kafkaAdminSchema, 'kafkaAdmin', options);
  checkConnectionSecurity('kafkaAdmin', parsed);
  return new KafkaAdmin(parsed);
}
