import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { InvalidOptionsError } from '@tributary/core';
import { z } from 'zod';
import { parseRedisOptions, redisConnectionShape, resolveConnection, safeRedisError } from './redis-connection.js';

const schema = z.strictObject(redisConnectionShape);
const resolve = (options: z.input<typeof schema>) => resolveConnection(schema.parse(options));

describe('resolveConnection', () => {
  it('defaults to 127.0.0.1:6379, database 0, no TLS', () => {
    expect(resolve({})).toMatchObject({ host: '127.0.0.1', port: 6379, db: 0, tls: false, username: undefined, password: undefined, describe: 'redis://127.0.0.1:6379/0' });
  });

  it('reads user, password, host, port and database from a URL; rediss:// turns TLS on with verification', () => {
    const resolved = resolve({ url: 'rediss://app%40x:p%40ss%3Aword@cache.internal:6380/4' });
    expect(resolved).toMatchObject({ host: 'cache.internal', port: 6380, db: 4, username: 'app@x', password: 'p@ss:word', tls: { insecureSkipVerify: false } });
    expect(resolved.describe).toBe('rediss://app%40x@cache.internal:6380/4');
  });

  it('lets separate fields override the URL', () => {
    const resolved = resolve({ url: 'redis://u:p@a:1/2', host: 'b', port: 3, db: 5, username: 'v', password: 'q', tls: false });
    expect(resolved).toMatchObject({ host: 'b', port: 3, db: 5, username: 'v', password: 'q', tls: false, describe: 'redis://v@b:3/5' });
  });

  it('understands IPv6 hosts', () => {
    expect(resolve({ url: 'redis://[::1]:7000' })).toMatchObject({ host: '::1', port: 7000, describe: 'redis://[::1]:7000/0' });
  });

  it('never puts the password in the description that is logged', () => {
    const resolved = resolve({ url: 'redis://user:hunter2@h:1', password: 'hunter3' });
    expect(resolved.describe).not.toMatch(/hunter/);
  });
});

describe('connection options', () => {
  const parse = (options: unknown) => parseRedisOptions(schema, 'test', options);

  it('has documented defaults', () => {
    expect(parse({})).toMatchObject({ connectTimeoutMs: 5_000, maxRetries: 3, commandTimeoutMs: 30_000, connectionName: 'tributary' });
  });

  it('names each bad field, without echoing the URL (which may hold a password)', () => {
    const error = (() => {
      try {
        parse({ url: 'redis://u:s3cret@h:1/notanumber', port: 0, maxRetries: -1 });
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(InvalidOptionsError);
    expect((error as InvalidOptionsError).issues).toEqual([
      'url: the path of the URL must be a database number, like /0',
      'port: must be between 1 and 65535',
      'maxRetries: must be a non-negative integer',
    ]);
    expect((error as Error).message).not.toContain('s3cret');
  });

  it('keeps certificate verification on unless insecureSkipVerify is set explicitly', () => {
    expect(() => parse({ tls: { rejectUnauthorized: false } })).toThrow('tls.rejectUnauthorized: must be true: certificate verification stays on');
    expect(parse({ tls: { rejectUnauthorized: true } }).tls).toEqual({ rejectUnauthorized: true, insecureSkipVerify: false });
    expect(parse({ tls: { insecureSkipVerify: true } }).tls).toEqual({ insecureSkipVerify: true });
    expect(() => parse({ tls: 'yes' })).toThrow('tls: must be true, false, or TLS settings');
    expect(() => parse({ tls: { verify: false } })).toThrow(/tls/);
  });

  it('refuses URLs of other schemes', () => {
    expect(() => parse({ url: 'http://h:1' })).toThrow('url: must be a redis:// or rediss:// URL');
    expect(() => parse({ url: 'not a url' })).toThrow('url: must be a redis:// or rediss:// URL');
  });
});

describe('safeRedisError', () => {
  it('keeps name, message and code, and drops the command arguments ioredis attaches (a HELLO carries the password)', () => {
    const original = Object.assign(new Error('WRONGPASS invalid username-password pair'), {
      name: 'ReplyError',
      code: 'WRONGPASS',
      command: { name: 'hello', args: ['3', 'AUTH', 'user', 'the-password'] },
    });
    const safe = safeRedisError(original);
    expect(safe).toMatchObject({ name: 'ReplyError', message: 'WRONGPASS invalid username-password pair', code: 'WRONGPASS', commandName: 'hello' });
    expect(`${inspect(safe, { depth: 10 })}${JSON.stringify(safe)}${safe.stack}`).not.toContain('the-password');
  });

  it('turns non-errors into errors', () => {
    expect(safeRedisError('boom').message).toBe('boom');
  });
});
