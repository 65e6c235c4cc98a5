/**
 * Calling MCP tools from tests through the SDK's own client: the raw result, its text, and its structured data
 * (asserting the call was not an error, with the error text as the failure message).
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { expect } from 'vitest';

/** Calls a tool and returns its result as the server sent it (errors included). */
export const callTool = async (client: Client, name: string, args: Record<string, unknown> = {}): Promise<CallToolResult> =>
  (await client.callTool({ name, arguments: args })) as CallToolResult;

/** The text blocks of a result, one per line. */
export const resultText = (result: CallToolResult): string => result.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');

/** The structured content of a successful result; fails the test, showing the error text, when the call failed. */
export const resultData = (result: CallToolResult): Record<string, unknown> => {
  expect(result.isError, resultText(result)).not.toBe(true);
  return result.structuredContent as Record<string, unknown>;
};

/** Calls a tool that must succeed and returns its structured content. */
export const callData = async (client: Client, name: string, args: Record<string, unknown> = {}): Promise<Record<string, unknown>> =>
  resultData(await callTool(client, name, args));
