import { describe, expect, it } from 'vitest';
import type { LogFields, Logger } from '@tributary/core';
import { kafkaLogCreator, REDACTED_SECRET } from './kafka-log-creator.js';

function recording(): Logger & { entries: { level: string; fields: LogFields; message: string }[] } {
  const entries: { level: string; fields: LogFields; message: string }[] = [];
  const log = (level: string) => (fields: LogFields, message: string) => void entries.push({ level, fields, message });
  return { entries, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

// kafkajs numeric levels: ERROR 1, WARN 2, INFO 4, DEBUG 5.
const entry = (level: number, message: string, extra: Record<string, unknown> = {}) => ({
  namespace: 'Connection',
  level,
  label: 'X',
  log: { timestamp: '2026-01-01T00:00:00.000Z', logger: 'kafkajs', message, ...extra },
});

describe('kafkaLogCreator', () => {
  it('maps kafkajs levels and keeps the namespace and fields', () => {
    const logger = recording();
    const log = kafkaLogCreator(logger)(5);
    log(entry(1, 'boom', { broker: 'b:1' }));
    log(entry(2, 'careful'));
    log(entry(4, 'joined'));
    log(entry(5, 'request', { correlationId: 7 }));
    log(entry(0, 'nothing'));
    expect(logger.entries.map((e) => e.level)).toEqual(['error', 'warn', 'info', 'debug']);
    expect(logger.entries[0]).toEqual({ level: 'error', message: 'kafkajs: boom', fields: { namespace: 'Connection', broker: 'b:1' } });
    expect(logger.entries[3]!.fields).toEqual({ namespace: 'Connection', correlationId: 7 });
  });

  it('blanks credential-like fields whatever they hold', () => {
    const logger = recording();
    kafkaLogCreator(logger)(5)(
      entry(5, 'auth', {
        sasl: { mechanism: 'plain', username: 'u', password: 'x' },
        password: 'p',
        authBytes: 'abc',
        token: { value: 'v' },
        ssl: { key: 'PRIVATE', cert: 'CERT', ca: 'CA' },
        nested: { deeper: { secretAccessKey: 'k' } },
      }),
    );
    const fields = logger.entries[0]!.fields as Record<string, unknown>;
    expect(fields.sasl).toBe(REDACTED_SECRET);
    expect(fields.password).toBe(REDACTED_SECRET);
    expect(fields.authBytes).toBe(REDACTED_SECRET);
    expect(fields.token).toBe(REDACTED_SECRET);
    expect(fields.ssl).toEqual({ key: REDACTED_SECRET, cert: REDACTED_SECRET, ca: REDACTED_SECRET });
    expect(fields.nested).toEqual({ deeper: { secretAccessKey: REDACTED_SECRET } });
  });

  it('blanks known secret values anywhere: messages, nested strings, errors, arrays — also secrets added later', () => {
    const secrets = new Set(['hunter2-password']);
    const logger = recording();
    const log = kafkaLogCreator(logger, { secrets })(5);
    log(
      entry(1, 'auth failed for hunter2-password!', {
        error: new Error('bad credentials hunter2-password'),
        stack: 'Error: hunter2-password\n    at x',
        list: ['a', 'xhunter2-passwordx'],
        data: { response: { authBytes: undefined, text: 'server said hunter2-password' } },
        payload: Buffer.from('hunter2-password'),
      }),
    );
    const later = 'eyJhbGciOiJIUzI1NiJ9.token-value';
    secrets.add(later);
    log(entry(5, `sending ${later}`, { header: `Bearer ${later}` }));
    const text = JSON.stringify(logger.entries);
    expect(text).not.toContain('hunter2-password');
    expect(text).not.toContain(later);
    expect(logger.entries[0]!.message).toBe(`kafkajs: auth failed for ${REDACTED_SECRET}!`);
    expect((logger.entries[0]!.fields as Record<string, unknown>).payload).toBe('[16 bytes]');
    expect((logger.entries[0]!.fields as Record<string, unknown>).error).toEqual({ name: 'Error', message: `bad credentials ${REDACTED_SECRET}` });
  });
});
