import type { LogFields, Logger } from '@tributary/core';
import type { logCreator, LogEntry } from 'kafkajs';

/**
 * kafkajs log levels as names.
 *
 * @example
 * ```ts
 * const level: KafkaLogLevel = process.env.KAFKA_DEBUG ? 'debug' : 'warn';
 * ```
 */
export type KafkaLogLevel = 'nothing' | 'error' | 'warn' | 'info' | 'debug';

/**
 * Options of {@link kafkaLogCreator}.
 *
 * @example
 * ```ts
 * const options: KafkaLogCreatorOptions = { secrets: new Set([process.env.KAFKA_PASSWORD!]) };
 * ```
 */
export interface KafkaLogCreatorOptions {
  /**
   * Secret values (passwords, tokens, private keys) to blank out wherever they appear in a log line, also inside
   * longer strings. The set is read at every log call, so values added later (fresh OAuth tokens) are covered too.
   * Default: none (field-name redaction still applies).
   */
  readonly secrets?: ReadonlySet<string>;
}

/**
 * What replaces a secret in a log line.
 *
 * @example
 * ```ts
 * if (line.includes(REDACTED_SECRET)) console.log('a secret was blanked in this line');
 * ```
 */
export const REDACTED_SECRET = '[REDACTED]';

/** Field names whose values are always blanked, whatever they hold. */
const secretKey = /pass(word|phrase)?|secret|token|credential|authorization|auth_?bytes|sasl|private|^key$|^cert$|^ca$|oauth|bearer/i;

// kafkajs numeric levels: NOTHING 0, ERROR 1, WARN 2, INFO 4, DEBUG 5.
const levelNames: Record<number, keyof Logger> = { 1: 'error', 2: 'warn', 4: 'info', 5: 'debug' };

/**
 * A kafkajs `logCreator` that writes through a Tributary `Logger`, with secrets redacted: any field whose name
 * looks like a credential (`password`, `token`, `sasl`, `key`, ...) is blanked, and every configured secret value is
 * blanked wherever it appears in any string (also inside error messages and nested objects). Every factory of
 * `@tributary/connectors/kafka` installs it; use it directly for a kafkajs client of your own.
 *
 * Lines arrive as `logger[level]({ namespace, ...fields }, 'kafkajs: <message>')`.
 *
 * @param logger where the lines go
 * @param options `secrets`: values to blank out (default none)
 *
 * @example
 * ```ts
 * const secrets = new Set([process.env.KAFKA_PASSWORD!]);
 * const kafka = new Kafka({ brokers, sasl: { mechanism: 'scram-sha-512', username: 'app', password: process.env.KAFKA_PASSWORD! },
 *   logCreator: kafkaLogCreator(jsonLogger(), { secrets }) });
 * ```
 */
export function kafkaLogCreator(logger: Logger, options: KafkaLogCreatorOptions = {}): logCreator {
  const secrets = options.secrets ?? new Set<string>();
  return () =>
    ({ namespace, level, log }: LogEntry) => {
      const method = levelNames[level];
      if (method === undefined) return;
      const { message, timestamp: _timestamp, logger: _source, ...rest } = log as LogEntry['log'] & Record<string, unknown>;
      const fields = redactValue({ namespace, ...rest }, secrets, 0) as LogFields;
      logger[method](fields, `kafkajs: ${redactString(String(message), secrets)}`);
    };
}

/**
 * Redacts secrets from log fields: credential-like field names blanked, known secret values blanked in every string.
 *
 * @internal
 */
export function redactFields(fields: LogFields, secrets: ReadonlySet<string>): LogFields {
  return redactValue(fields, secrets, 0) as LogFields;
}

function redactString(value: string, secrets: ReadonlySet<string>): string {
  let out = value;
  for (const secret of secrets) {
    // Very short secrets would blank unrelated text; credentials are never that short in practice.
    if (secret.length < 4) continue;
    if (out.includes(secret)) out = out.split(secret).join(REDACTED_SECRET);
  }
  return out;
}

function redactValue(value: unknown, secrets: ReadonlySet<string>, depth: number): unknown {
  if (typeof value === 'string') return redactString(value, secrets);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 6) return '[nested]';
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return `[${value.byteLength} bytes]`;
  if (value instanceof Error) return { name: value.name, message: redactString(value.message, secrets) };
  if (Array.isArray(value)) return value.map((item) => redactValue(item, secrets, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] = secretKey.test(key) && item !== undefined && item !== null && item !== false ? REDACTED_SECRET : redactValue(item, secrets, depth + 1);
  }
  return out;
}
