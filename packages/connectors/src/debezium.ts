/**
 * `@tributary/connectors/debezium`: decode Debezium change events (JSON envelopes from Kafka, with or without an
 * embedded schema) into typed change events, and turn them into upsert / delete / truncate intents for keyed sinks.
 * It loads no client library: it decodes values a Kafka source already read.
 *
 * Anything exported here is public API.
 *
 * @packageDocumentation
 */
export { DebeziumDecoder, DEFAULT_UNAVAILABLE_PLACEHOLDER } from './debezium/debezium-decoder.js';
export type { DebeziumDecoderOptions } from './debezium/debezium-decoder.js';
export { decodeDebezium } from './debezium/decode-debezium.js';
export type { DecodeDebeziumOptions, DecodedChangeEvent } from './debezium/decode-debezium.js';
export { changesToIntents } from './debezium/changes-to-intents.js';
export type { ChangesToIntentsOptions, ChangeIntent, UpsertIntent, DeleteIntent, TruncateIntent } from './debezium/changes-to-intents.js';
export { DebeziumDecodeError } from './debezium/debezium-decode-error.js';
export type { DebeziumErrorCode, DebeziumDecodeErrorContext } from './debezium/debezium-decode-error.js';
export { canonicalJson } from './debezium/canonical-json.js';
export type {
  ChangeEvent,
  ChangeEventKind,
  RowChangeEvent,
  CreateEvent,
  UpdateEvent,
  DeleteEvent,
  TruncateEvent,
  TombstoneEvent,
  HeartbeatEvent,
  TransactionEvent,
  SchemaChangeEvent,
  LogicalMessageEvent,
  ChangeSource,
  TransactionInfo,
  ColumnInfo,
  DebeziumRow,
  SnapshotMarker,
} from './debezium/change-event.js';
