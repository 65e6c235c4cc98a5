/** Structured log fields. Never put credentials here; connectors redact what they pass. */
export type LogFields = Readonly<Record<string, unknown>>;

/**
 * The logger Tributary writes to. Shaped like pino's methods (`logger.info(fields, message)`), so a pino instance
 * can be passed as is.
 *
 * @example
 * ```ts
 * import pino from 'pino';
 * const runtime = createRuntime(topology, { logger: pino({ redact: ['password'] }) });
 * ```
 */
export interface Logger {
  debug(fields: LogFields, message: string): void;
  info(fields: LogFields, message: string): void;
  warn(fields: LogFields, message: string): void;
  error(fields: LogFields, message: string): void;
}

/** A logger that discards everything: the default. */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/**
 * A logger writing one JSON object per line to a stream (stderr by default), with `level`, `time`, `msg` and fields.
 *
 * @example
 * ```ts
 * const runtime = createRuntime(topology, { logger: jsonLogger({ level: 'info' }) });
 * ```
 */
export function jsonLogger(options: { level?: 'debug' | 'info' | 'warn' | 'error'; write?: (line: string) => void } = {}): Logger {
  const order = { debug: 10, info: 20, warn: 30, error: 40 } as const;
  const threshold = order[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const emit = (level: keyof typeof order) => (fields: LogFields, message: string) => {
    if (order[level] < threshold) return;
    write(JSON.stringify({ ...fields, level, time: new Date().toISOString(), msg: message }));
  };
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
}
