import { TributaryError } from '@tributary/core';
import type { TributaryErrorOptions } from '@tributary/core';

/** Where in a source the failing record or request was: any subset may be known. */
export interface ConnectorErrorContext extends TributaryErrorOptions {
  /** Connector family, e.g. `kafka`, `redis`, `s3`, `debezium`. */
  connector: string;
  /** Kafka topic, Redis key prefix or S3 bucket involved. */
  topic?: string;
  /** Kafka partition. */
  partition?: number;
  /** Kafka offset, as a decimal string (offsets exceed 2^53). */
  offset?: string;
}

/**
 * Error raised by a connector: carries which connector failed and the source position involved.
 *
 * @example
 * ```ts
 * throw new ConnectorError('KAFKA_UNREACHABLE', 'No broker answered at 127.0.0.1:9092 after 5 attempts; check `brokers`.', {
 *   connector: 'kafka',
 *   retriable: true,
 * });
 * ```
 */
export class ConnectorError extends TributaryError {
  /** Connector family that raised the error. */
  readonly connector: string;
  /** Topic, key prefix or bucket involved, when known. */
  readonly topic: string | undefined;
  /** Partition involved, when known. */
  readonly partition: number | undefined;
  /** Offset involved, when known. */
  readonly offset: string | undefined;

  constructor(code: string, message: string, context: ConnectorErrorContext) {
    super(code, message, context);
    this.connector = context.connector;
    this.topic = context.topic;
    this.partition = context.partition;
    this.offset = context.offset;
  }
}
