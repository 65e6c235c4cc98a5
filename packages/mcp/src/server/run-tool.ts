import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '@tributary/core';
import { errorResult } from './tool-result.js';

const SECRET_KEY = /pass(word)?|secret|token|authorization|credential|api[-_]?key|private[-_]?key|sasl/i;

/** Replaces values under secret-looking keys (at any depth) with `[REDACTED]`, for audit logs. */
export function redactSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactSecrets);
  if (value === null || typeof value !== 'object') return typeof value === 'bigint' ? value.toString() : value;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) out[key] = SECRET_KEY.test(key) ? '[REDACTED]' : redactSecrets(inner);
  return out;
}

/** Limits every tool call of one server shares. */
export interface RunToolLimits {
  readonly timeoutMs: number;
  /** Calls allowed to run at once; more are refused with `BUSY` (a rate limit that needs no clock). */
  readonly maxConcurrentCalls: number;
}

/** Runs one tool call under the server's limits (see {@link runTool}). */
export type ToolRunner = (tool: string, args: unknown, handler: (signal: AbortSignal) => Promise<CallToolResult>) => Promise<CallToolResult>;

/** A runner for one server: its calls share the logger, the timeout and the concurrency budget. */
export function toolRunner(logger: Logger, limits: RunToolLimits): ToolRunner {
  let active = 0;
  return async (tool, args, handler) => {
    if (active >= limits.maxConcurrentCalls) {
      logger.warn({ tool, arguments: redactSecrets(args), durationMs: 0, outcome: 'busy' }, `mcp tool ${tool} busy`);
      return errorResult('BUSY', `${limits.maxConcurrentCalls} tool calls are already running; retry when one has finished.`);
    }
    active += 1;
    try {
      return await runTool(tool, args, logger, limits, handler);
    } finally {
      active -= 1;
    }
  };
}

class ToolTimeout extends Error {}

/**
 * Runs one tool call: enforces the timeout (the handler's signal aborts), turns every failure into an `isError`
 * result carrying the error's code and message (never a stack), and writes one audit log line per call.
 */
export async function runTool(
  tool: string,
  args: unknown,
  logger: Logger,
  limits: { readonly timeoutMs: number },
  handler: (signal: AbortSignal) => Promise<CallToolResult>,
): Promise<CallToolResult> {
  const started = performance.now();
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new ToolTimeout());
    }, limits.timeoutMs);
  });
  timedOut.catch(() => {});
  let result: CallToolResult;
  let outcome: string;
  try {
    result = await Promise.race([handler(controller.signal), timedOut]);
    outcome = result.isError === true ? 'refused' : 'ok';
  } catch (error) {
    if (error instanceof ToolTimeout) {
      result = errorResult('TOOL_TIMEOUT', `${tool} did not finish within ${limits.timeoutMs} ms. Narrow the request (fewer rows, a smaller range).`);
      outcome = 'timeout';
    } else {
      const code = typeof (error as { code?: unknown }).code === 'string' ? (error as { code: string }).code : 'TOOL_FAILED';
      const message = error instanceof Error ? error.message : String(error);
      result = errorResult(code, message);
      outcome = 'error';
    }
  } finally {
    clearTimeout(timer);
  }
  const durationMs = Math.round(performance.now() - started);
  const fields = { tool, arguments: redactSecrets(args), durationMs, outcome };
  if (outcome === 'ok') logger.info(fields, `mcp tool ${tool} ok`);
  else logger.warn(fields, `mcp tool ${tool} ${outcome}`);
  return result;
}
