/**
 * `@tributary/connectors/kafka`: Kafka source, sinks, admin and time-range reader over kafkajs 2.2.4 (an optional peer
 * dependency, loaded on first use). Anything exported here is public API.
 *
 * @packageDocumentation
 */
export { kafkaSource, KafkaSource } from './kafka/kafka-source.js';
export type { KafkaSourceOptions, KafkaSourceStats } from './kafka/kafka-source.js';
export { kafkaSink, KafkaSink } from './kafka/kafka-sink.js';
export type { KafkaSinkOptions, KafkaOutgoingMessage } from './kafka/kafka-sink.js';
export { kafkaDeadLetterSink, DEAD_LETTER_HEADERS } from './kafka/kafka-dead-letter-sink.js';
export type { KafkaDeadLetterSinkOptions } from './kafka/kafka-dead-letter-sink.js';
export { kafkaAdmin, KafkaAdmin } from './kafka/kafka-admin.js';
export type {
  KafkaAdminOptions,
  TopicDeclaration,
  TopicDeclarationResult,
  TopicDescription,
  TopicPartitionDescription,
  ConsumerGroupLag,
  PartitionLag,
} from './kafka/kafka-admin.js';
export type { ReadTopicRangeOptions, TopicRange } from './kafka/read-topic-range.js';
export { kafkaAlertRules, KafkaAlertRules, type KafkaAlertRulesOptions } from './kafka/kafka-alert-rules.js';
export type { ReadTopicOffsetsOptions, TopicOffsets, PartitionOffsetsRead } from './kafka/read-topic-offsets.js';
export { topicName } from './kafka/topic-name.js';
export type { TopicNameParts } from './kafka/topic-name.js';
export type { KafkaDeserializer, KafkaMessageMeta } from './kafka/kafka-deserializer.js';
export { schemaRegistry, SchemaRegistry, confluentDeserializer, decodeConfluentFrame, encodeConfluentFrame } from './kafka/schema-registry.js';
export type { SchemaRegistryOptions, RegisteredSchema, ConfluentFrame, ConfluentDeserializerOptions } from './kafka/schema-registry.js';
export type { KafkaConnectionOptions } from './kafka/kafka-connection.js';
export { kafkaLogCreator, REDACTED_SECRET } from './kafka/kafka-log-creator.js';
export type { KafkaLogCreatorOptions, KafkaLogLevel } from './kafka/kafka-log-creator.js';
