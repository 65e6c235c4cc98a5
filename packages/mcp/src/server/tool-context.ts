import type { Logger } from '@tributary/core';
import type { KafkaAdminOptions } from '@tributary/connectors/kafka';
import type { KafkaAdminLike } from '../tools/kafka-tools.js';
import type { LakehouseToolsContext } from '../tools/lakehouse-tools.js';
import type { ToolRunner } from './run-tool.js';

/** Limits every tool call of one server shares (parsed from the server configuration). */
export interface ToolLimits {
  readonly maxRows: number;
  readonly maxBytes: number;
  readonly timeoutMs: number;
  readonly maxConcurrentCalls: number;
}

/** Kafka as the tools see it: the admin (connected on first use) and, when given as options, how to connect clients. */
export interface KafkaAccess {
  readonly admin: () => Promise<KafkaAdminLike>;
  /**
   * The `kafka` options of the configuration (brokers, ssl, sasl...), for tools that need a producer or consumer of
   * their own. `undefined` when the configuration passed a ready `KafkaAdmin`.
   */
  readonly options: KafkaAdminOptions | undefined;
  /** Allowlisted topics; `undefined` means every non-internal topic. */
  readonly topics: readonly string[] | undefined;
}

/** What every tool group receives from the server. */
export interface ToolContext {
  readonly run: ToolRunner;
  readonly limits: ToolLimits;
  /** Whether tools that change state may be registered at all (`writesEnabled`, default false). */
  readonly writesEnabled: boolean;
  readonly logger: Logger;
  /** Present when `kafka` is configured. */
  readonly kafka: KafkaAccess | undefined;
  /** Present when `catalog` is configured. */
  readonly lakehouse: LakehouseToolsContext | undefined;
}

/** Tool groups return a cleanup run when the server closes (close clients they opened). */
export type ToolCleanup = (() => void | Promise<void>) | undefined;

/** Read-only tool annotations (hints only: read-only is enforced by not registering write tools). */
export const READ_ONLY_TOOL = { readOnlyHint: true, destructiveHint: false, openWorldHint: false } as const;
