import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { jsonLogger } from '@tributary/core';
import type { Logger } from '@tributary/core';
import { localObjectStore, s3ObjectStore } from '@tributary/connectors/s3';
import { storageCatalog } from '@tributary/lakehouse';
import { parseOptions } from '../internal/parse-options.js';
import { createTributaryMcpServer } from '../server/create-tributary-mcp-server.js';
import { serveHttp } from '../transport/serve-http.js';
import { serveStdio } from '../transport/serve-stdio.js';

type S3Section = { bucket: string; prefix?: string | undefined; region?: string | undefined; endpoint?: string | undefined; forcePathStyle?: boolean | undefined };

// Only the keys that are set: the S3 store's options do not accept explicit undefineds.
function s3Options(s3: S3Section): Parameters<typeof s3ObjectStore>[0] {
  return {
    bucket: s3.bucket,
    ...(s3.prefix === undefined ? {} : { prefix: s3.prefix }),
    ...(s3.region === undefined ? {} : { region: s3.region }),
    ...(s3.endpoint === undefined ? {} : { endpoint: s3.endpoint }),
    ...(s3.forcePathStyle === undefined ? {} : { forcePathStyle: s3.forcePathStyle }),
  };
}

/** Environment variable holding the bearer token for `--http` (kept out of config files and command lines). */
export const TOKEN_ENV = 'TRIBUTARY_MCP_TOKEN';

const configFileSchema = z.strictObject({
  /**
   * Where the Iceberg warehouse lives: `{ "path": "./warehouse" }` (relative to the config file) or
   * `{ "s3": { "bucket", "prefix", "region", "endpoint", "forcePathStyle" } }` (credentials from the AWS default chain).
   */
  warehouse: z
    .union([
      z.strictObject({ path: z.string().min(1) }),
      z.strictObject({
        s3: z.strictObject({
          bucket: z.string().min(3),
          prefix: z.string().optional(),
          region: z.string().optional(),
          endpoint: z.url().optional(),
          forcePathStyle: z.boolean().optional(),
        }),
      }),
    ])
    .optional(),
  tables: z.array(z.string()).optional(),
  kafka: z.looseObject({ brokers: z.array(z.string()).min(1) }).optional(),
  topics: z.array(z.string()).optional(),
  limits: z.looseObject({}).optional(),
  /** Checked by the server's own schema (see `TributaryMcpConfig`). */
  redis: z.looseObject({}).optional(),
  deadLetters: z.looseObject({}).optional(),
  alerts: z.looseObject({}).optional(),
  writesEnabled: z.boolean().optional(),
  http: z
    .strictObject({ host: z.string().optional(), port: z.number().int().min(0).max(65_535).optional(), allowedOrigins: z.array(z.string()).optional() })
    .optional(),
});

/**
 * The JSON config file of `tributary mcp --config <file>`.
 *
 * @interface
 * @example
 * ```ts
 * const file: McpConfigFile = { warehouse: { path: './warehouse' }, tables: ['silver.orders'], kafka: { brokers: ['127.0.0.1:9092'] } };
 * ```
 */
export type McpConfigFile = z.input<typeof configFileSchema>;

/**
 * Where the CLI reads and writes: stdio for MCP, stderr for logs, the environment for the token.
 *
 * @example
 * ```ts
 * const io: CliIo = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env };
 * ```
 */
export interface CliIo {
  /** MCP input for stdio mode. */
  readonly stdin: Readable;
  /** MCP output for stdio mode: nothing else is ever written to it. */
  readonly stdout: Writable;
  /** Usage, errors and audit log lines. */
  readonly stderr: Writable;
  /** Environment (for `TRIBUTARY_MCP_TOKEN`). */
  readonly env: Readonly<Record<string, string | undefined>>;
}

const USAGE = `Usage: tributary mcp --config <file.json> [--http [--port N] [--host H]]

  Serves Tributary's lakehouse tables and Kafka topics to MCP clients, read-only.
  stdio by default; --http serves Streamable HTTP (bearer token from ${TOKEN_ENV}).
`;

/**
 * Runs the `tributary` command line. Resolves with a stop function once serving, or with the exit code when it
 * did not start (usage errors, invalid config).
 *
 * @example
 * ```ts
 * const outcome = await runCli(['mcp', '--config', 'mcp.json'], { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env });
 * ```
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<{ exitCode: number } | { stop: () => Promise<void>; url?: string }> {
  const fail = (message: string): { exitCode: number } => {
    io.stderr.write(`${message}\n`);
    return { exitCode: 2 };
  };
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: { config: { type: 'string' }, http: { type: 'boolean' }, port: { type: 'string' }, host: { type: 'string' }, help: { type: 'boolean' } },
    });
  } catch (error) {
    return fail(`${(error as Error).message}\n\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help === true) {
    io.stderr.write(USAGE);
    return { exitCode: 0 };
  }
  if (positionals[0] !== 'mcp' || positionals.length !== 1) return fail(USAGE);
  if (values.config === undefined) return fail(`--config <file.json> is required.\n\n${USAGE}`);

  const configPath = resolve(values.config);
  let file: z.output<typeof configFileSchema>;
  try {
    file = parseOptions(configFileSchema, `config file ${configPath}`, JSON.parse(await readFile(configPath, 'utf8')));
  } catch (error) {
    return fail(`Cannot use config file ${configPath}: ${(error as Error).message}`);
  }

  const logger: Logger = jsonLogger({ write: (line) => io.stderr.write(`${line}\n`) });
  const config: Record<string, unknown> = { logger };
  if (file.warehouse !== undefined) {
    const store =
      'path' in file.warehouse
        ? localObjectStore({ root: resolve(dirname(configPath), file.warehouse.path) })
        : s3ObjectStore(s3Options(file.warehouse.s3));
    config['catalog'] = storageCatalog({ store });
  }
  for (const key of ['tables', 'kafka', 'topics', 'limits', 'redis', 'deadLetters', 'alerts', 'writesEnabled'] as const) if (file[key] !== undefined) config[key] = file[key];

  // Fields are checked by createTributaryMcpServer's own schema right below.
  const makeServer = () => createTributaryMcpServer(config);
  try {
    makeServer(); // validates the whole configuration before serving anything
  } catch (error) {
    return fail(`Invalid configuration in ${configPath}: ${(error as Error).message}`);
  }

  if (values.http !== true) {
    const stop = await serveStdio(makeServer(), { stdin: io.stdin, stdout: io.stdout });
    return { stop };
  }
  const token = io.env[TOKEN_ENV];
  if (token === undefined || token.length < 16) return fail(`--http needs a bearer token of at least 16 characters in ${TOKEN_ENV}.`);
  const port = values.port ?? (file.http?.port === undefined ? undefined : String(file.http.port));
  if (port !== undefined && !/^\d{1,5}$/.test(port)) return fail(`--port must be a number, got ${JSON.stringify(port)}.`);
  try {
    const endpoint = await serveHttp(makeServer, {
      token,
      ...(port === undefined ? {} : { port: Number(port) }),
      ...((values.host ?? file.http?.host) === undefined ? {} : { host: values.host ?? file.http?.host }),
      ...(file.http?.allowedOrigins === undefined ? {} : { allowedOrigins: file.http.allowedOrigins }),
    });
    io.stderr.write(`tributary mcp: serving ${endpoint.url}\n`);
    return { stop: () => endpoint.close(), url: endpoint.url };
  } catch (error) {
    return fail(`Cannot serve HTTP: ${(error as Error).message}`);
  }
}
