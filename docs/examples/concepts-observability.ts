/**
 * docs/guides/concepts.md — observability.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { createRuntime, jsonLogger, PrometheusMetrics } from '@tributary/core';
import type { Logger, Runtime, Topology } from '@tributary/core';

export function observedRuntime<V>(topology: Topology<V>): { runtime: Runtime; server: Server } {
  const metrics = new PrometheusMetrics();
  const runtime = createRuntime(topology, { metrics, logger: jsonLogger({ level: 'info' }) });
  // Prometheus scrapes the text exposition; keep the endpoint on loopback or behind your service's auth.
  const server = createServer((_request, response) => {
    response.setHeader('content-type', 'text/plain; version=0.0.4');
    response.end(metrics.expose());
  }).listen(9464, '127.0.0.1');
  return { runtime, server };
}

/** Any object with pino's four methods is a Logger; this one forwards warnings and errors to the console. */
export const consoleLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (fields, message) => console.warn(message, fields),
  error: (fields, message) => console.error(message, fields),
};
