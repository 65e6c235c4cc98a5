import { InvalidOptionsError } from '@tributary/core';

/**
 * The parts of a CDC topic name.
 *
 * @example
 * ```ts
 * const parts: TopicNameParts = { source: 'shop', database: 'public', table: 'orders' };
 * ```
 */
export interface TopicNameParts {
  /** The logical source (Debezium `topic.prefix`), e.g. `shop`. */
  readonly source: string;
  /** Database or schema, e.g. `public`. */
  readonly database: string;
  /** Table, e.g. `orders`. */
  readonly table: string;
}

const part = /^[A-Za-z0-9_-]+$/;

/**
 * The topic of a table's change events, `{source}.{database}.{table}` (Debezium's naming). Each part must be
 * non-empty letters, digits, `_` or `-` — no dots, so the name splits back unambiguously — and the whole name at most
 * 249 characters (Kafka's limit).
 *
 * @throws InvalidOptionsError naming the bad part
 *
 * @example
 * ```ts
 * topicName({ source: 'shop', database: 'public', table: 'orders' }); // 'shop.public.orders'
 * ```
 */
export function topicName(parts: TopicNameParts): string {
  const issues: string[] = [];
  for (const key of ['source', 'database', 'table'] as const) {
    const value: unknown = (parts as unknown as Record<string, unknown>)?.[key];
    if (typeof value !== 'string' || !part.test(value)) issues.push(`${key}: must be a non-empty string of letters, digits, "_" or "-" (no dots), got ${JSON.stringify(value)}`);
  }
  if (issues.length > 0) throw new InvalidOptionsError('topicName', issues);
  const name = `${parts.source}.${parts.database}.${parts.table}`;
  if (name.length > 249) throw new InvalidOptionsError('topicName', [`(parts): the topic name would be ${name.length} characters; Kafka allows at most 249`]);
  return name;
}
