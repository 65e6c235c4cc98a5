import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { silentLogger } from '@tributary/core';
import type { AlertRule, Logger } from '@tributary/core';
import type { Admin, Batch, Consumer, Kafka, Producer } from 'kafkajs';
import { ConnectorError } from '../errors.js';
import { parseOptions } from './parse-options.js';
import {
  checkConnectionSecurity,
  connectOrFail,
  createKafkaClient,
  kafkaConnectionShape,
  loadKafkaJs,
  loggerSchema,
  milliseconds,
  offsetToNumber,
  rootMessage,
  toConnectorError,
} from './kafka-connection.js';
import { topicSchema } from './kafka-source.js';

const finiteNumber = z.number('must be a finite number').refine((value) => Number.isFinite(value), 'must be a finite number');

/** What a stored rule must look like; the same checks for `put` and for records read back from the topic. */
const alertRuleSchema = z.strictObject({
  id: z.string('must be a string').regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 letters, digits, ".", "_" or "-"'),
  metric: z.string('must be a string').min(1, 'must be a non-empty string').max(256, 'must be at most 256 characters'),
  condition: z.enum(['>', '>=', '<', '<='], "must be one of '>', '>=', '<', '<='"),
  threshold: finiteNumber,
  key: z.string('must be a string').min(1, 'must be a non-empty string').max(1_024, 'must be at most 1024 characters').optional(),
  severity: z.enum(['info', 'warning', 'critical'], "must be 'info', 'warning' or 'critical'"),
  description: z.string('must be a string').max(2_000, 'must be at most 2000 characters').optional(),
});

const ruleIdSchema = alertRuleSchema.shape.id;

/** The parsed rule without `undefined`-valued optional fields (exactOptionalPropertyTypes, and clean JSON). */
function toRule(parsed: z.output<typeof alertRuleSchema>): AlertRule {
  return {
    id: parsed.id,
    metric: parsed.metric,
    condition: parsed.condition,
    threshold: parsed.threshold,
    ...(parsed.key === undefined ? {} : { key: parsed.key }),
    severity: parsed.severity,
    ...(parsed.description === undefined ? {} : { description: parsed.description }),
  };
}

const kafkaAlertRulesSchema = z.strictObject({
  ...kafkaConnectionShape,
  /** Compacted topic holding the rules (key = rule id, value = rule JSON, tombstone = deleted). Required. */
  topic: topicSchema,
  /** Partitions of the topic when it has to be created. Default `1` (rules are few; one partition keeps one order). */
  partitions: z.int('must be a positive integer').positive('must be a positive integer').max(1_000, 'must be at most 1000').default(1),
  /** Replication factor of the topic when it has to be created. Default: the broker's `default.replication.factor`. */
  replicationFactor: z.int('must be a positive integer').positive('must be a positive integer').optional(),
  /** Longest `start()` may take to read the topic to its end, and a `put`/`delete` to be read back, in ms. Default `30_000`. */
  catchUpTimeoutMs: milliseconds('catchUpTimeoutMs').default(30_000),
  /** Where warnings (invalid records in the topic, a topic that is not compacted) and kafkajs log lines go. Default: silent. */
  logger: loggerSchema.optional(),
});

/**
 * Options of {@link kafkaAlertRules}: the connection options ({@link KafkaConnectionOptions}) plus `topic` (required),
 * `partitions` (default `1`) and `replicationFactor` (default: the broker's) of the topic when it is created,
 * `catchUpTimeoutMs` (default `30_000`) and `logger` (default silent).
 *
 * @example
 * ```ts
 * const options: KafkaAlertRulesOptions = { brokers: ['kafka:9092'], topic: 'tributary.alert-rules', replicationFactor: 3 };
 * ```
 *
 * @interface
 */
export type KafkaAlertRulesOptions = z.input<typeof kafkaAlertRulesSchema>;

type Settings = z.output<typeof kafkaAlertRulesSchema>;

interface Clients {
  readonly kafka: Kafka;
  readonly admin: Admin;
  readonly consumer: Consumer;
  readonly groupId: string;
}

interface Waiter {
  readonly targets: ReadonlyMap<number, number>;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/**
 * Alert rules kept in a compacted Kafka topic — key = rule id, value = the rule as JSON, a tombstone deletes it — so
 * that every process reading the topic converges on the same rule set and a restart rebuilds it. Built by
 * {@link kafkaAlertRules}. {@link KafkaAlertRules.current} matches the `{ current() }` rule provider of core's
 * `thresholdAlerts`.
 *
 * `start()` reads the topic from its beginning to the end offsets it had when `start()` was called, then keeps
 * following it: rules written by other instances appear in `current()` shortly after they are written. `put` and
 * `delete` resolve once this instance has read its own write back, so `current()` reflects it right after.
 *
 * A record whose value is not a valid rule (or whose id differs from its key) removes that key's rule and is logged
 * as a warning: the latest record of a key defines it, even when it is broken.
 *
 * @example
 * ```ts
 * const rules: KafkaAlertRules = kafkaAlertRules({ brokers: ['kafka:9092'], topic: 'tributary.alert-rules' });
 * await rules.start();
 * await rules.put({ id: 'revenue-drop', metric: 'revenue', condition: '<', threshold: 100, severity: 'warning' });
 * console.log(rules.current().map((rule) => rule.id));
 * await rules.close();
 * ```
 */
export class KafkaAlertRules {
  readonly #settings: Settings;
  readonly #logger: Logger;
  readonly #rules = new Map<string, AlertRule>();
  /**
   * Next offset to read, per partition, as far as this instance has applied the topic. It only moves forward: records
   * below it are never applied again (see `#apply`).
   */
  readonly #positions = new Map<number, number>();
  #waiters: Waiter[] = [];
  #snapshot: readonly AlertRule[] = Object.freeze([]);
  #starting: Promise<Clients> | undefined;
  #producer: Promise<Producer> | undefined;
  #ready = false;
  #closed = false;
  #failure: Error | undefined;

  /** @internal use {@link kafkaAlertRules} */
  constructor(settings: Settings) {
    this.#settings = settings;
    this.#logger = settings.logger ?? silentLogger;
  }

  /** The rules topic. */
  get topic(): string {
    return this.#settings.topic;
  }

  /**
   * Creates the topic (`cleanup.policy=compact`) when it does not exist, reads it to its current end and keeps
   * following it. Idempotent: later calls return the same promise. A failed start may be retried.
   *
   * @throws ConnectorError `KAFKA_UNREACHABLE`, `KAFKA_DECLARE_FAILED`, or `ALERT_RULES_CATCH_UP_TIMEOUT` when the
   * topic could not be read to its end within `catchUpTimeoutMs`
   *
   * @example
   * ```ts
   * await rules.start();
   * ```
   */
  async start(): Promise<void> {
    await this.#start();
  }

  /**
   * The rules as this instance knows them, sorted by id. The array is frozen and replaced on every change, so it may
   * be kept and compared by identity.
   *
   * @throws ConnectorError `ALERT_RULES_NOT_STARTED` before `start()` resolved; the consumer's failure when it stopped
   *
   * @example
   * ```ts
   * const critical = rules.current().filter((rule) => rule.severity === 'critical');
   * ```
   */
  current(): readonly AlertRule[] {
    if (this.#failure !== undefined) throw this.#failure;
    if (!this.#ready) {
      throw new ConnectorError('ALERT_RULES_NOT_STARTED', `kafkaAlertRules(${this.#settings.topic}): call and await start() before current().`, {
        connector: 'kafka',
        topic: this.#settings.topic,
      });
    }
    return this.#snapshot;
  }

  /**
   * Validates a rule and writes it (creates or replaces the rule with its id). Resolves with the stored rule once this
   * instance has read it back.
   *
   * @throws InvalidOptionsError naming every invalid field (`threshold: must be a finite number`)
   *
   * @example
   * ```ts
   * await rules.put({ id: 'latency-high', metric: 'p99', condition: '>', threshold: 250, key: 'checkout', severity: 'critical' });
   * ```
   */
  async put(rule: AlertRule): Promise<AlertRule> {
    const parsed = toRule(parseOptions(alertRuleSchema, 'kafkaAlertRules.put', rule));
    await this.#write(parsed.id, JSON.stringify(parsed));
    return parsed;
  }

  /**
   * Deletes a rule (writes a tombstone for its id). Resolves once this instance has read the tombstone back, with
   * whether the rule existed before.
   *
   * @throws InvalidOptionsError when `id` is not a valid rule id
   *
   * @example
   * ```ts
   * if (!(await rules.delete('revenue-drop'))) console.log('there was no such rule');
   * ```
   */
  async delete(id: string): Promise<boolean> {
    const parsed = parseOptions(ruleIdSchema, 'kafkaAlertRules.delete', id);
    await this.#start();
    const existed = this.#rules.has(parsed);
    await this.#write(parsed, null);
    return existed;
  }

  /**
   * Stops following the topic, disconnects, and removes this instance's ephemeral consumer group.
   *
   * @example
   * ```ts
   * await rules.close();
   * ```
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#failAll(new ConnectorError('ALERT_RULES_CLOSED', `kafkaAlertRules(${this.#settings.topic}) was closed.`, { connector: 'kafka', topic: this.#settings.topic }));
    const clients = await this.#starting?.catch(() => undefined);
    const producer = await this.#producer?.catch(() => undefined);
    await producer?.disconnect().catch(() => undefined);
    if (clients !== undefined) await this.#disconnect(clients);
  }

  #start(): Promise<Clients> {
    if (this.#closed) {
      return Promise.reject(new ConnectorError('ALERT_RULES_CLOSED', `kafkaAlertRules(${this.#settings.topic}) was closed.`, { connector: 'kafka', topic: this.#settings.topic }));
    }
    if (this.#starting === undefined) {
      const starting = this.#connectAndCatchUp();
      this.#starting = starting;
      starting.catch(() => {
        if (this.#starting === starting) this.#starting = undefined;
      });
    }
    return this.#starting;
  }

  async #connectAndCatchUp(): Promise<Clients> {
    const settings = this.#settings;
    const { topic } = settings;
    const kafka = await createKafkaClient('kafkaAlertRules', settings, { logger: this.#logger });
    const retry = { retries: settings.retry.retries, initialRetryTime: settings.retry.initialRetryTimeMs, maxRetryTime: settings.retry.maxRetryTimeMs };
    const admin = kafka.admin({ retry });
    await connectOrFail('admin client', settings, () => admin.connect());
    const groupId = `tributary-alert-rules-${randomUUID()}`;
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 250, sessionTimeout: 10_000, heartbeatInterval: 1_000, allowAutoTopicCreation: false, retry });
    const clients: Clients = { kafka, admin, consumer, groupId };
    try {
      await this.#declareTopic(admin);
      const offsets = await admin.fetchTopicOffsets(topic);
      const ends = new Map<number, number>();
      for (const { partition, low, high } of offsets) {
        // Everything before the earliest retained offset is gone: an empty partition is read to its end already.
        this.#positions.set(partition, Math.max(this.#positions.get(partition) ?? 0, offsetToNumber(low, { topic, partition })));
        ends.set(partition, offsetToNumber(high, { topic, partition }));
      }
      consumer.on(consumer.events.END_BATCH_PROCESS, (event) => {
        // Also fires for batches that held only control records, which never reach eachBatch.
        const { partition, lastOffset } = event.payload;
        this.#advance(partition, Number(lastOffset) + 1);
      });
      consumer.on(consumer.events.CRASH, (event) => {
        if (event.payload.restart) {
          // The restarted consumer reads the topic from its start again; #apply skips what it applied already.
          this.#logger.warn({ topic, error: rootMessage(event.payload.error) }, 'kafkaAlertRules: the rules consumer crashed; kafkajs restarts it');
          return;
        }
        const failure = toConnectorError(event.payload.error, {
          code: 'ALERT_RULES_CONSUMER_FAILED',
          message: `kafkaAlertRules(${topic}): the consumer following the rules topic stopped: ${rootMessage(event.payload.error)}. Close this instance and create a new one.`,
          topic,
        });
        this.#failure = failure;
        this.#logger.error({ topic, error: rootMessage(event.payload.error) }, 'kafkaAlertRules: the rules consumer stopped');
        this.#failAll(failure);
      });
      await connectOrFail('consumer', settings, () => consumer.connect());
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({ autoCommit: false, eachBatch: ({ batch }) => Promise.resolve(this.#apply(batch)) });
      await this.#caughtUp(ends, 'read the rules topic to its end');
      this.#ready = true;
      return clients;
    } catch (error) {
      await this.#disconnect(clients);
      throw error;
    }
  }

  async #declareTopic(admin: Admin): Promise<void> {
    const { topic, partitions, replicationFactor } = this.#settings;
    let created: boolean;
    try {
      created = await admin.createTopics({
        waitForLeaders: true,
        topics: [
          {
            topic,
            numPartitions: partitions,
            ...(replicationFactor === undefined ? {} : { replicationFactor }),
            configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
          },
        ],
      });
    } catch (error) {
      throw toConnectorError(error, {
        code: 'KAFKA_DECLARE_FAILED',
        message: `kafkaAlertRules: the rules topic "${topic}" could not be created: ${rootMessage(error)}. Create it with cleanup.policy=compact, or grant Create on it.`,
        topic,
      });
    }
    if (created) return;
    // An existing topic is not altered (it may be shared), but a non-compacted one loses rules to retention.
    const { ConfigResourceTypes } = await loadKafkaJs();
    const described = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['cleanup.policy'] }], includeSynonyms: false }).catch(() => undefined);
    const policy = described?.resources[0]?.configEntries.find((entry) => entry.configName === 'cleanup.policy')?.configValue;
    if (policy !== undefined && !policy.split(',').includes('compact')) {
      this.#logger.warn({ topic, cleanupPolicy: policy }, 'kafkaAlertRules: the rules topic is not compacted, so retention will delete rules; set cleanup.policy=compact on it');
    }
  }

  /**
   * Applies a fetched batch. Records below the partition's position were applied already: kafkajs re-reads the topic
   * from its start whenever the consumer rejoins the group (after a crash kafkajs restarts it from, for one),
   * because this group never commits. Applying them again would bring deleted or replaced rules back until the
   * consumer caught up again, so they are skipped.
   */
  #apply(batch: Batch): void {
    const { topic } = this.#settings;
    const applied = this.#positions.get(batch.partition) ?? 0;
    let changed = false;
    for (const message of batch.messages) {
      const offset = offsetToNumber(message.offset, { topic, partition: batch.partition });
      if (offset < applied) continue;
      const key = message.key === null || message.key === undefined ? null : message.key.toString('utf8');
      if (key === null) {
        this.#logger.warn({ topic, partition: batch.partition, offset }, 'kafkaAlertRules: record without a key ignored (the key is the rule id)');
        continue;
      }
      if (message.value === null || message.value === undefined) {
        changed = this.#rules.delete(key) || changed;
        continue;
      }
      const rule = this.#decode(key, message.value, batch.partition, offset);
      if (rule === undefined) {
        changed = this.#rules.delete(key) || changed;
      } else {
        this.#rules.set(key, rule);
        changed = true;
      }
    }
    if (changed) this.#snapshot = Object.freeze([...this.#rules.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)));
    const last = batch.messages.at(-1);
    if (last !== undefined) this.#advance(batch.partition, Number(last.offset) + 1);
  }

  #decode(key: string, value: Buffer, partition: number, offset: number): AlertRule | undefined {
    let json: unknown;
    try {
      json = JSON.parse(value.toString('utf8'));
    } catch {
      this.#logger.warn({ topic: this.#settings.topic, partition, offset, key }, 'kafkaAlertRules: record value is not JSON; the rule of its key is dropped');
      return undefined;
    }
    const parsed = alertRuleSchema.safeParse(json);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((issue) => `${issue.path.map(String).join('.') || '(value)'}: ${issue.message}`);
      this.#logger.warn({ topic: this.#settings.topic, partition, offset, key, issues }, 'kafkaAlertRules: record value is not a valid rule; the rule of its key is dropped');
      return undefined;
    }
    if (parsed.data.id !== key) {
      this.#logger.warn({ topic: this.#settings.topic, partition, offset, key, id: parsed.data.id }, 'kafkaAlertRules: rule id differs from its record key; the rule of the key is dropped');
      return undefined;
    }
    return toRule(parsed.data);
  }

  #advance(partition: number, next: number): void {
    if (next <= (this.#positions.get(partition) ?? 0)) return;
    this.#positions.set(partition, next);
    this.#waiters = this.#waiters.filter((waiter) => {
      if (!this.#reached(waiter.targets)) return true;
      waiter.resolve();
      return false;
    });
  }

  #reached(targets: ReadonlyMap<number, number>): boolean {
    for (const [partition, target] of targets) if ((this.#positions.get(partition) ?? 0) < target) return false;
    return true;
  }

  /** Resolves once every partition has been applied up to its target offset (exclusive). */
  #caughtUp(targets: ReadonlyMap<number, number>, what: string): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (this.#reached(targets)) return Promise.resolve();
    const { topic, catchUpTimeoutMs } = this.#settings;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        const behind = [...targets].filter(([partition, target]) => (this.#positions.get(partition) ?? 0) < target).map(([partition, target]) => `${partition}: at ${this.#positions.get(partition) ?? 0} of ${target}`);
        reject(
          new ConnectorError('ALERT_RULES_CATCH_UP_TIMEOUT', `kafkaAlertRules(${topic}): could not ${what} within ${catchUpTimeoutMs} ms (partition ${behind.join(', ')}). Check the broker and raise catchUpTimeoutMs if the topic is large.`, {
            connector: 'kafka',
            topic,
            retriable: true,
          }),
        );
      }, catchUpTimeoutMs);
      const waiter: Waiter = {
        targets,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.#waiters.push(waiter);
    });
  }

  #failAll(error: Error): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.reject(error);
  }

  async #write(id: string, value: string | null): Promise<void> {
    const { kafka } = await this.#start();
    const { topic } = this.#settings;
    const producer = await this.#connectProducer(kafka);
    let written: { partition: number; offset: number };
    try {
      const [meta] = await producer.send({ topic, acks: -1, messages: [{ key: id, value }] });
      if (meta === undefined) throw new Error('the broker acknowledged no record');
      written = { partition: meta.partition, offset: offsetToNumber(meta.baseOffset ?? '0', { topic, partition: meta.partition }) };
    } catch (error) {
      // An idempotent producer whose retries ran out may be out of sequence: never reuse it.
      this.#producer = undefined;
      await producer.disconnect().catch(() => undefined);
      throw toConnectorError(error, {
        code: 'KAFKA_PRODUCE_FAILED',
        message: `kafkaAlertRules(${topic}): ${value === null ? 'deleting' : 'writing'} rule "${id}" failed: ${rootMessage(error)}. Check the broker and your ACLs (Write on the topic).`,
        topic,
      });
    }
    await this.#caughtUp(new Map([[written.partition, written.offset + 1]]), `read rule "${id}" back`);
  }

  #connectProducer(kafka: Kafka): Promise<Producer> {
    const settings = this.#settings;
    if (this.#producer === undefined) {
      const connecting = (async () => {
        const producer = kafka.producer({
          idempotent: true,
          maxInFlightRequests: 1,
          allowAutoTopicCreation: false,
          retry: { retries: settings.retry.retries, initialRetryTime: settings.retry.initialRetryTimeMs, maxRetryTime: settings.retry.maxRetryTimeMs },
        });
        await connectOrFail('producer', settings, () => producer.connect());
        return producer;
      })();
      this.#producer = connecting;
      connecting.catch(() => {
        if (this.#producer === connecting) this.#producer = undefined;
      });
    }
    return this.#producer;
  }

  async #disconnect(clients: Clients): Promise<void> {
    await clients.consumer.disconnect().catch(() => undefined);
    // The group never commits, so it holds nothing worth keeping: remove it rather than wait for its expiry.
    await clients.admin.deleteGroups([clients.groupId]).catch((error: unknown) =>
      this.#logger.debug({ groupId: clients.groupId, error: rootMessage(error) }, 'kafkaAlertRules: ephemeral group not deleted'),
    );
    await clients.admin.disconnect().catch(() => undefined);
  }
}

/**
 * A store of alert rules in a compacted Kafka topic, shared by every process that reads the topic: topologies pass
 * it to `thresholdAlerts({ rules })`, operators and the MCP server's `create_alert_rule` / `delete_alert_rule` write
 * to it. Call `start()` before `current()`; `put` and `delete` start it themselves.
 *
 * @param options connection options ({@link KafkaConnectionOptions}) plus `topic` and the options of
 *   {@link KafkaAlertRulesOptions}
 * @throws InvalidOptionsError at construction, naming the bad option
 *
 * @example
 * ```ts
 * const rules = kafkaAlertRules({ brokers: ['kafka:9092'], topic: 'tributary.alert-rules' });
 * await rules.start();
 * const alerts = windowed.pipe(thresholdAlerts({ rules })); // reads rules.current() as rules change
 * ```
 */
export function kafkaAlertRules(options: KafkaAlertRulesOptions): KafkaAlertRules {
  const parsed = parseOptions(kafkaAlertRulesSchema, 'kafkaAlertRules', options);
  checkConnectionSecurity('kafkaAlertRules', parsed);
  return new KafkaAlertRules(parsed);
}
