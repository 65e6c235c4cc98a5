/**
 * docs/guides/agent-mcp.md — serving Tributary's tables, topics and a running topology to an AI agent from code.
 */
import { createRuntime } from '@tributary/core';
import type { Runtime, Topology } from '@tributary/core';
import { localObjectStore } from '@tributary/connectors/s3';
import { storageCatalog } from '@tributary/lakehouse';
import { createTributaryMcpServer, serveHttp, serveStdio } from '@tributary/mcp';
import type { TributaryMcpConfig } from '@tributary/mcp';

/** The lakehouse and Kafka, read-only: what `tributary mcp --config mcp.json` serves. */
export function readOnlyConfig(): TributaryMcpConfig {
  const catalog = storageCatalog({ store: localObjectStore({ root: './warehouse' }) });
  return {
    catalog,
    // Allowlists: anything not named here is answered as if it did not exist.
    tables: ['silver.orders', 'gold.merchant_minutes'],
    kafka: { brokers: ['127.0.0.1:9092'] },
    topics: ['shop.public.orders'],
    limits: { maxRows: 500, maxBytes: 128 * 1024, timeoutMs: 15_000, maxConcurrentCalls: 4 },
  };
}

/** A desktop client launches this process and talks MCP on its stdin / stdout. */
export async function serveToDesktopClient(): Promise<() => Promise<void>> {
  return serveStdio(createTributaryMcpServer(readOnlyConfig()));
}

/** Streamable HTTP on 127.0.0.1, bearer token from the environment; one server per session. */
export async function serveToRemoteAgent(): Promise<void> {
  const token = process.env['TRIBUTARY_MCP_TOKEN'];
  if (token === undefined) throw new Error('set TRIBUTARY_MCP_TOKEN');
  const endpoint = await serveHttp(() => createTributaryMcpServer(readOnlyConfig()), { token, port: 8765 });
  console.error(`MCP endpoint: ${endpoint.url}`);
}

/**
 * Embedded in the service that runs the topology: `describe_topology` then sees the live runtime (steps, lag,
 * watermarks, in-flight, dead-letter and late counts).
 */
export async function serveWithRunningTopology(job: Topology<unknown>): Promise<Runtime> {
  const runtime = createRuntime(job);
  await runtime.start();
  await serveStdio(createTributaryMcpServer({ ...readOnlyConfig(), topologies: [runtime] }));
  return runtime;
}
