import type { LogFields, Logger } from '@tributary/core';
import { describe, expect, it } from 'vitest';
import { redactSecrets, runTool } from './run-tool.js';

describe('redactSecrets', () => {
  it('replaces values under secret-looking keys at any depth and keeps the rest', () => {
    expect(
      redactSecrets({ sql: 'SELECT 1', password: 'p', nested: { apiKey: 'k', list: [{ token: 't', topic: 'orders' }] }, sasl: { mechanism: 'plain' }, id: 5n }),
    ).toEqual({ sql: 'SELECT 1', password: '[REDACTED]', nested: { apiKey: '[REDACTED]', list: [{ token: '[REDACTED]', topic: 'orders' }] }, sasl: '[REDACTED]', id: '5' });
  });
});

describe('runTool', () => {
  it('returns an error result with the code and message, without a stack, and logs the failure', async () => {
    const lines: LogFields[] = [];
    const logger: Logger = { debug: () => undefined, info: (f) => lines.push(f), warn: (f) => lines.push(f), error: (f) => lines.push(f) };
    const failure = Object.assign(new Error('boom at /secret/path'), { code: 'SOMETHING_BROKE' });
    const result = await runTool('t', { secret: 's' }, logger, { timeoutMs: 1_000 }, () => Promise.reject(failure));
    expect(result).toEqual({ isError: true, content: [{ type: 'text', text: 'SOMETHING_BROKE: boom at /secret/path' }] });
    expect(lines).toEqual([{ tool: 't', arguments: { secret: '[REDACTED]' }, durationMs: expect.any(Number) as number, outcome: 'error' }]);
  });
});
