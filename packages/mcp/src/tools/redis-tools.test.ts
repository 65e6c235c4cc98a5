import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { ToolError } from '../errors.js';
import { createTributaryMcpServer } from '../server/create-tributary-mcp-server.js';
import { REDIS_READ_COMMANDS, checkPattern, keyAllowed, literalPrefix, parseScoreBound, readOnlyRedis, redisConfigSchema } from './redis-tools.js';
import type { RedisClientLike } from './redis-tools.js';

const prefixes = ['app:customer:', 'app:top:'];

function refusal(action: () => unknown): ToolError {
  try {
    action();
  } catch (error) {
    if (error instanceof ToolError) return error;
    throw error;
  }
  throw new Error('expected a ToolError');
}

/** A client that records every command and answers nothing useful: the guards must refuse before it is asked. */
function recordingClient(): { client: RedisClientLike; sent: string[] } {
  const sent: string[] = [];
  const answer = (command: string): Promise<unknown> => {
    sent.push(command);
    return Promise.resolve(command === 'SCAN' ? ['0', []] : command === 'TYPE' ? 'none' : -2);
  };
  const client = {
    call: (command: string) => answer(command),
    callBuffer: (command: string) => answer(command),
  } as unknown as RedisClientLike;
  return { client, sent };
}

describe('literalPrefix', () => {
  it.each([
    ['app:customer:*', 'app:customer:', false],
    ['app:customer:1?', 'app:customer:1', false],
    ['app:[ab]x', 'app:', false],
    ['*', '', false],
    ['?*', '', false],
    ['[a-z]*', '', false],
    ['app:a\\*b*', 'app:a*b', false],
    ['app:a\\[b', 'app:a[b', true],
    ['app:exact', 'app:exact', true],
    ['app:trailing\\', 'app:trailing\\', true],
  ])('%s -> %s (complete %s)', (pattern, prefix, complete) => {
    expect(literalPrefix(pattern)).toEqual({ prefix, complete });
  });
});

describe('checkPattern', () => {
  it.each(['app:customer:*', 'app:customer:4?', 'app:top:[0-9]*', 'app:customer:\\*odd*', 'app:customer:exact'])('accepts %s', (pattern) => {
    expect(() => checkPattern(pattern, prefixes)).not.toThrow();
  });

  it('refuses a pattern that would scan all keys, saying which prefixes are allowed', () => {
    for (const pattern of ['*', '?*', '[a-z]*', '**', '\\*']) {
      const error = refusal(() => checkPattern(pattern, prefixes));
      expect(error.code).toBe('PATTERN_REFUSED');
      expect(error.message).toContain('"app:customer:", "app:top:"');
    }
    expect(refusal(() => checkPattern('*', prefixes)).message).toContain('would scan every Redis key');
  });

  it('refuses patterns whose literal prefix is outside the allowlist, or shorter than an allowed prefix', () => {
    for (const pattern of ['other:*', 'app:*', 'app:cust*', 'app:customer*', 'app?customer:*', 'app:[c]ustomer:*', 'session:1']) {
      expect(refusal(() => checkPattern(pattern, prefixes)).code, pattern).toBe('PATTERN_REFUSED');
    }
  });

  it('keyAllowed compares literally (glob characters in a key are just characters)', () => {
    expect(keyAllowed('app:customer:1', prefixes)).toBe(true);
    expect(keyAllowed('app:customer', prefixes)).toBe(false);
    expect(keyAllowed('xapp:customer:1', prefixes)).toBe(false);
  });
});

describe('parseScoreBound', () => {
  it('reads inclusive, exclusive and infinite bounds', () => {
    expect(parseScoreBound('(10')).toEqual({ value: 10, exclusive: true, arg: '(10' });
    expect(parseScoreBound('-inf')).toEqual({ value: -Infinity, exclusive: false, arg: '-inf' });
    expect(parseScoreBound('+inf').value).toBe(Infinity);
    expect(parseScoreBound('(-1.5e2').value).toBe(-150);
    expect(parseScoreBound(3)).toEqual({ value: 3, exclusive: false, arg: '3' });
  });
});

describe('readOnlyRedis', () => {
  it('sends read commands and refuses every other command without sending it', async () => {
    const { client, sent } = recordingClient();
    const redis = readOnlyRedis(client);
    await redis.read('type', 'app:customer:1');
    await redis.readBuffer('GETRANGE', 'app:customer:1', 0, 10);
    await redis.read('HSTRLEN', 'app:customer:1', 'name');
    await redis.read('memory', 'usage', 'app:customer:1', 'SAMPLES', 0);
    for (const command of ['SET', 'DEL', 'KEYS', 'EVAL', 'FLUSHALL', 'CONFIG', 'GETDEL', 'EXPIRE', 'SCRIPT', 'MULTI', 'select', 'MEMORY', 'USAGE']) {
      await expect(redis.read(command, 'x'), command).rejects.toMatchObject({ code: 'REDIS_COMMAND_REFUSED' });
      await expect(redis.readBuffer(command, 'x'), command).rejects.toMatchObject({ code: 'REDIS_COMMAND_REFUSED' });
    }
    // MEMORY only with USAGE: PURGE, DOCTOR, STATS and MALLOC-STATS are not key reads.
    for (const subcommand of ['PURGE', 'DOCTOR', 'STATS', 'MALLOC-STATS', 'HELP']) {
      await expect(redis.read('MEMORY', subcommand), subcommand).rejects.toMatchObject({ code: 'REDIS_COMMAND_REFUSED', message: expect.stringContaining(`MEMORY ${subcommand}`) });
    }
    expect(sent).toEqual(['TYPE', 'GETRANGE', 'HSTRLEN', 'MEMORY']);
    expect(REDIS_READ_COMMANDS.has('MEMORY USAGE')).toBe(true);
    expect(REDIS_READ_COMMANDS.has('MEMORY')).toBe(false);
  });
});

describe('redisConfigSchema', () => {
  it('accepts the JSON of a CLI config file', () => {
    const parsed = redisConfigSchema.parse(JSON.parse('{"url":"rediss://reader@redis.internal:6380/2","password":"s3cret","tls":{"servername":"redis.internal"},"keyPrefixes":["app:"],"maxScanKeys":5000}'));
    expect(parsed.keyPrefixes).toEqual(['app:']);
    expect(parsed.maxScanKeys).toBe(5000);
    expect(redisConfigSchema.parse({ host: 'redis', port: 6380, db: 1, keyPrefixes: ['a:'] }).maxScanKeys).toBe(100_000);
  });

  it('requires a non-empty allowlist of non-empty prefixes', () => {
    expect(redisConfigSchema.safeParse({ url: 'redis://127.0.0.1:6379' }).success).toBe(false);
    expect(redisConfigSchema.safeParse({ url: 'redis://127.0.0.1:6379', keyPrefixes: [] }).success).toBe(false);
    expect(redisConfigSchema.safeParse({ url: 'redis://127.0.0.1:6379', keyPrefixes: [''] }).success).toBe(false);
  });

  it('refuses a bad URL, an unknown field, and a client given together with connection settings', () => {
    expect(redisConfigSchema.safeParse({ url: 'http://127.0.0.1', keyPrefixes: ['a:'] }).success).toBe(false);
    expect(redisConfigSchema.safeParse({ url: 'redis://127.0.0.1/x', keyPrefixes: ['a:'] }).success).toBe(false);
    expect(redisConfigSchema.safeParse({ hots: 'typo', keyPrefixes: ['a:'] }).success).toBe(false);
    const { client } = recordingClient();
    expect(redisConfigSchema.safeParse({ client, keyPrefixes: ['a:'] }).success).toBe(true);
    expect(redisConfigSchema.safeParse({ client, url: 'redis://127.0.0.1', keyPrefixes: ['a:'] }).success).toBe(false);
  });

  it('names the field when the server configuration is invalid', () => {
    expect(() => createTributaryMcpServer({ redis: { url: 'redis://127.0.0.1', keyPrefixes: [] } })).toThrow(/redis\.keyPrefixes/);
  });
});

describe('redis_lookup refusals (no Redis reached)', () => {
  async function connected(): Promise<{ call: (args: Record<string, unknown>) => Promise<CallToolResult>; sent: string[]; close: () => Promise<void> }> {
    const { client, sent } = recordingClient();
    const server = createTributaryMcpServer({ redis: { client, keyPrefixes: prefixes }, limits: { maxRows: 500 } });
    const mcp = new Client({ name: 'redis-tools-test', version: '1.0.0' });
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await server.connect(serverSide);
    await mcp.connect(clientSide);
    return {
      call: async (args) => (await mcp.callTool({ name: 'redis_lookup', arguments: args })) as CallToolResult,
      sent,
      close: async () => {
        await mcp.close();
        await server.close();
      },
    };
  }
  const text = (result: CallToolResult): string => result.content.map((part) => (part.type === 'text' ? part.text : '')).join('');

  it('is registered only when redis is configured', async () => {
    // Kafka configured (it connects lazily, never here) so that the server has tools to list.
    const server = createTributaryMcpServer({ kafka: { brokers: ['127.0.0.1:1'] } });
    const mcp = new Client({ name: 'redis-tools-test', version: '1.0.0' });
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await server.connect(serverSide);
    await mcp.connect(clientSide);
    const names = (await mcp.listTools()).tools.map((tool) => tool.name);
    expect(names).toContain('list_topics');
    expect(names).not.toContain('redis_lookup');
    await mcp.close();
    await server.close();
  });

  it('refuses hostile input with a clear error before sending any command', async () => {
    const { call, sent, close } = await connected();
    try {
      const cases: [Record<string, unknown>, RegExp][] = [
        [{ pattern: '*' }, /PATTERN_REFUSED.*would scan every Redis key.*"app:customer:"/s],
        [{ pattern: '?*' }, /PATTERN_REFUSED/],
        [{ pattern: 'session:*' }, /PATTERN_REFUSED.*not under an allowed key prefix/s],
        [{ keys: ['app:customer:1', 'session:abc'] }, /KEY_NOT_ALLOWED.*"session:abc"/s],
        [{ keys: ['app:customer:1'], pattern: 'app:customer:*' }, /INVALID_ARGUMENTS/],
        [{}, /INVALID_ARGUMENTS/],
        [{ keys: ['app:top:1'], score_range: { min: 10, max: 1 } }, /INVALID_RANGE/],
        [{ keys: ['app:top:1'], score_range: { min: '(5', max: '-inf' } }, /INVALID_RANGE/],
        [{ keys: ['app:top:1'], rank_range: { start: 5, stop: 2 } }, /INVALID_RANGE/],
        [{ keys: ['app:top:1'], rank_range: { start: 0, stop: 1 }, score_range: { min: 0, max: 1 } }, /INVALID_ARGUMENTS/],
        [{ pattern: 'app:customer:*', max_keys: 1_000_000 }, /max_keys|too big|less than/i],
        [{ keys: ['app:top:1'], limit: 10_000_000 }, /limit|too big|less than/i],
        [{ keys: Array.from({ length: 101 }, (_, i) => `app:customer:${i}`) }, /keys|too big/i],
        [{ keys: ['app:top:1'], score_range: { min: 'drop table', max: 1 } }, /score|expected/i],
      ];
      for (const [args, expected] of cases) {
        const result = await call(args);
        expect(result.isError, JSON.stringify(args)).toBe(true);
        expect(text(result), JSON.stringify(args)).toMatch(expected);
      }
      expect(sent).toEqual([]);
    } finally {
      await close();
    }
  });
});
