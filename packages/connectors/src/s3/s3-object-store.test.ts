/**
 * Unit tests of the S3 store's own logic — retry classification, backoff, batching, multipart clean-up, the
 * lost-answer checks — against an in-memory fake of `S3Client.send`. The behaviour against a real S3 server is tested
 * in test/integration/s3-object-store.test.ts.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import { S3ServiceException } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { InvalidOptionsError } from '@tributary/core';
import type { LogFields, Logger } from '@tributary/core';
import { describe, expect, it } from 'vitest';
import type {
  ObjectStoreError} from './object-store-errors.js';
import {
  ConditionalConflictError,
  ObjectNotFoundError,
  S3RequestFailedError,
  ThrottledError,
} from './object-store-errors.js';
import { backoffDelayMs, classifyS3Error } from './retry-policy.js';
import { multipartEtag, s3ObjectStore } from './s3-object-store.js';
import type { S3ObjectStoreOptions } from './s3-object-store.js';

const MiB = 1024 * 1024;

interface Call {
  readonly action: string;
  readonly input: Record<string, unknown>;
}

type Handler = (action: string, input: Record<string, unknown>, signal: AbortSignal | undefined, calls: readonly Call[]) => unknown;

/** A stand-in for S3Client: records each command and answers with `handler`. */
function fakeClient(handler: Handler): { client: S3Client; calls: Call[] } {
  const calls: Call[] = [];
  const client = {
    send: (command: { constructor: { name: string }; input: Record<string, unknown> }, options?: { abortSignal?: AbortSignal }) => {
      const action = command.constructor.name.replace(/Command$/, '');
      calls.push({ action, input: command.input });
      // Like the SDK, answer asynchronously, also with a rejection for a handler that throws.
      return Promise.resolve().then(() => handler(action, command.input, options?.abortSignal, calls));
    },
    destroy: () => undefined,
  };
  return { client: client as unknown as S3Client, calls };
}

function s3Error(name: string, statusCode: number, message = `${name} happened`): S3ServiceException {
  const error = new S3ServiceException({ name, $fault: statusCode >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: statusCode, requestId: 'REQ123' }, message });
  return Object.assign(error, { Code: name });
}

function networkError(code: string): Error {
  return Object.assign(new Error(`socket failure ${code}`), { code });
}

/** Resolves when `signal` aborts, like a request that never answers. */
function hang(signal: AbortSignal | undefined): Promise<never> {
  return new Promise((_, reject) => signal?.addEventListener('abort', () => reject(Object.assign(new Error('Request aborted'), { name: 'AbortError' }))));
}

/** The rejection of `promise` (failing the test when it resolves). */
async function rejection<E = ObjectStoreError>(promise: Promise<unknown>): Promise<E> {
  try {
    await promise;
  } catch (error) {
    return error as E;
  }
  throw new Error('expected a rejection');
}

function capturingLogger(): Logger & { lines: { level: string; fields: LogFields; message: string }[] } {
  const lines: { level: string; fields: LogFields; message: string }[] = [];
  const at = (level: string) => (fields: LogFields, message: string) => lines.push({ level, fields, message });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

function store(client: S3Client, options: Partial<S3ObjectStoreOptions> = {}) {
  return s3ObjectStore({ bucket: 'unit-bucket', prefix: 'pre', client, retry: { maxAttempts: 4, baseDelayMs: 1, maxDelayMs: 4 }, ...options });
}

const bodyOf = (bytes: Uint8Array) => ({ Body: { transformToByteArray: () => Promise.resolve(bytes) }, ContentLength: bytes.length, ETag: '"e"', $metadata: { httpStatusCode: 200 } });

describe('backoffDelayMs', () => {
  const settings = { baseDelayMs: 100, maxDelayMs: 1_000 };

  it('draws uniformly below a ceiling that doubles per retry and stops at maxDelayMs (full jitter)', () => {
    const top = () => 0.999_999;
    expect([1, 2, 3, 4, 5, 6].map((retry) => backoffDelayMs(retry, settings, top))).toEqual([99, 199, 399, 799, 999, 999]);
    expect(backoffDelayMs(3, settings, () => 0)).toBe(0);
    expect(backoffDelayMs(3, settings, () => 0.5)).toBe(200);
  });

  it('stays within bounds with the real random source', () => {
    for (let retry = 1; retry <= 10; retry++) {
      for (let sample = 0; sample < 50; sample++) {
        const delay = backoffDelayMs(retry, settings);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThan(Math.min(1_000, 100 * 2 ** (retry - 1)));
      }
    }
  });
});

describe('classifyS3Error', () => {
  it.each([
    ['503 SlowDown', s3Error('SlowDown', 503), 'throttled', true, false],
    ['429 TooManyRequests', s3Error('TooManyRequests', 429), 'throttled', true, false],
    ['500 InternalError', s3Error('InternalError', 500), 'server', true, true],
    ['502 BadGateway', s3Error('BadGateway', 502), 'server', true, true],
    ['503 ServiceUnavailable', s3Error('ServiceUnavailable', 503), 'server', true, true],
    ['400 RequestTimeout', s3Error('RequestTimeout', 400), 'server', true, true],
    ['409 OperationAborted', s3Error('OperationAborted', 409), 'server', true, false],
    ['ECONNRESET', networkError('ECONNRESET'), 'network', true, true],
    ['ECONNREFUSED', networkError('ECONNREFUSED'), 'network', true, false],
    ['socket TimeoutError', Object.assign(new Error('timed out'), { name: 'TimeoutError' }), 'network', true, true],
    ['404 NoSuchKey', s3Error('NoSuchKey', 404), 'not-found', false, false],
    ['404 NotFound (HEAD)', s3Error('NotFound', 404), 'not-found', false, false],
    ['404 NoSuchBucket', s3Error('NoSuchBucket', 404), 'no-such-bucket', false, false],
    ['412 PreconditionFailed', s3Error('PreconditionFailed', 412), 'precondition', false, false],
    ['409 ConditionalRequestConflict', s3Error('ConditionalRequestConflict', 409), 'conditional-conflict', true, false],
    ['409 ObjectParentIsFile', s3Error('ObjectParentIsFile', 409), 'client', false, false],
    ['416 InvalidRange', s3Error('InvalidRange', 416), 'invalid-range', false, false],
    ['403 AccessDenied', s3Error('AccessDenied', 403), 'client', false, false],
    ['400 InvalidArgument', s3Error('InvalidArgument', 400), 'client', false, false],
    ['no credentials', Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }), 'credentials', false, false],
    ['a bug', new TypeError('x is not a function'), 'client', false, false],
  ])('%s', (_label, error, kind, retriable, ambiguous) => {
    expect(classifyS3Error(error)).toMatchObject({ kind, retriable, ambiguous });
  });

  it('finds a network code on a cause', () => {
    expect(classifyS3Error(new Error('fetch failed', { cause: networkError('EPIPE') }))).toMatchObject({ kind: 'network', code: 'EPIPE' });
  });
});

describe('s3ObjectStore retries', () => {
  it('retries 503 SlowDown with backoff and succeeds, logging each retry without secrets', async () => {
    const logger = capturingLogger();
    const { client, calls } = fakeClient((_action, _input, _signal, all) => {
      if (all.length <= 2) throw s3Error('SlowDown', 503);
      return { ETag: '"etag-1"', $metadata: { httpStatusCode: 200 } };
    });
    const result = await store(client, { logger }).put('k/v.json', 'hello');
    expect(result).toEqual({ key: 'k/v.json', etag: '"etag-1"', size: 5 });
    expect(calls.map((call) => call.action)).toEqual(['PutObject', 'PutObject', 'PutObject']);
    expect(calls[0]!.input).toMatchObject({ Bucket: 'unit-bucket', Key: 'pre/k/v.json' });
    expect(logger.lines).toHaveLength(2);
    expect(logger.lines[0]).toMatchObject({
      level: 'warn',
      fields: { connector: 's3', bucket: 'unit-bucket', key: 'pre/k/v.json', action: 'PutObject', attempt: 1, maxAttempts: 4, statusCode: 503, code: 'SlowDown' },
    });
  });

  it('gives up after maxAttempts of throttling with a retriable ThrottledError naming bucket and key', async () => {
    const { client, calls } = fakeClient(() => {
      throw s3Error('TooManyRequests', 429);
    });
    const error = await rejection(store(client).get('busy/key'));
    expect(error).toBeInstanceOf(ThrottledError);
    expect(error).toMatchObject({ code: 'THROTTLED', retriable: true, statusCode: 429, connector: 's3', topic: 'unit-bucket', key: 'busy/key', operation: 'get' });
    expect((error as Error).message).toContain('s3://unit-bucket/pre/busy/key');
    expect((error as Error).message).toContain('after 4 attempts');
    expect(calls).toHaveLength(4);
  });

  it('retries 5xx and network errors, then reports a retriable S3_REQUEST_FAILED', async () => {
    const failures = [s3Error('InternalError', 500), networkError('ECONNRESET'), s3Error('BadGateway', 502), s3Error('InternalError', 500)];
    const { client, calls } = fakeClient((_action, _input, _signal, all) => {
      throw failures[all.length - 1]!;
    });
    const error = await rejection(store(client).head('flaky'));
    expect(error).toBeInstanceOf(S3RequestFailedError);
    expect(error).toMatchObject({ code: 'S3_REQUEST_FAILED', retriable: true, statusCode: 500, s3Code: 'InternalError', requestId: 'REQ123' });
    expect(calls).toHaveLength(4);
  });

  it('does not retry 4xx answers: 403 fails at once, not retriable, with a hint and no credentials', async () => {
    const { client, calls } = fakeClient(() => {
      throw s3Error('AccessDenied', 403, 'Access Denied');
    });
    const error = await rejection<S3RequestFailedError>(store(client).put('k', 'v'));
    expect(error).toMatchObject({ code: 'S3_REQUEST_FAILED', retriable: false, statusCode: 403, s3Code: 'AccessDenied' });
    expect(error.message).toMatch(/Check the credentials \(not shown\)/);
    expect(calls).toHaveLength(1);
  });

  it('maps 404 NoSuchKey to ObjectNotFoundError without retrying, and NoSuchBucket to a hint', async () => {
    const { client, calls } = fakeClient((_action, input) => {
      throw input.Key === 'pre/gone' ? s3Error('NoSuchKey', 404) : s3Error('NoSuchBucket', 404);
    });
    await expect(store(client).get('gone')).rejects.toBeInstanceOf(ObjectNotFoundError);
    expect(calls).toHaveLength(1);
    await expect(store(client).get('other')).rejects.toThrow(/bucket "unit-bucket" does not exist/);
  });

  it('abandons an attempt after attemptTimeoutMs and retries it', async () => {
    const { client, calls } = fakeClient((_action, _input, signal, all) => (all.length === 1 ? hang(signal) : bodyOf(new Uint8Array([1, 2]))));
    expect(await store(client, { attemptTimeoutMs: 50 }).get('slow')).toEqual(new Uint8Array([1, 2]));
    expect(calls).toHaveLength(2);
  });

  it('rejects with OBJECT_STORE_TIMEOUT when the whole call exceeds timeoutMs, naming the last failure', async () => {
    // The first attempt fails with a 500; the retry never answers: the call's deadline, not the attempts, ends it.
    const { client, calls } = fakeClient((_action, _input, signal, all) => {
      if (all.length === 1) throw s3Error('InternalError', 500);
      return hang(signal);
    });
    const started = Date.now();
    const error = await rejection<ObjectStoreError>(store(client, { attemptTimeoutMs: 60_000 }).get('k', { timeoutMs: 300 }));
    expect(error).toMatchObject({ code: 'OBJECT_STORE_TIMEOUT', retriable: true, operation: 'get', key: 'k' });
    expect(error.message).toMatch(/within 300 ms.*Last failure: 500 InternalError/);
    expect(calls).toHaveLength(2);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('stops retrying at once when the caller aborts, rejecting with the signal reason', async () => {
    let firstAttempt!: () => void;
    const attempted = new Promise<void>((resolve) => (firstAttempt = resolve));
    const { client, calls } = fakeClient(() => {
      firstAttempt();
      throw s3Error('SlowDown', 503);
    });
    const controller = new AbortController();
    const reason = new Error('shutting down');
    const started = Date.now();
    const pending = store(client, { retry: { maxAttempts: 20, baseDelayMs: 10_000, maxDelayMs: 10_000 } }).get('k', { signal: controller.signal });
    await attempted;
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    expect(calls).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(5_000); // did not sit out the backoff of up to 10 s
  });
});

describe('s3ObjectStore conditional writes', () => {
  it('sends If-None-Match: * and reads 412 as created: false, without retrying', async () => {
    const { client, calls } = fakeClient(() => {
      throw s3Error('PreconditionFailed', 412);
    });
    expect(await store(client).putIfAbsent('m/v1.json', '{}')).toEqual({ created: false, key: 'm/v1.json' });
    expect(calls).toHaveLength(1);
    expect(calls[0]!.input).toMatchObject({ IfNoneMatch: '*', Key: 'pre/m/v1.json' });
  });

  it('turns 409 ConditionalRequestConflict into a retriable ConditionalConflictError, without retrying', async () => {
    const { client, calls } = fakeClient(() => {
      throw s3Error('ConditionalRequestConflict', 409);
    });
    const error = await rejection(store(client).putIfAbsent('m/v1.json', '{}'));
    expect(error).toBeInstanceOf(ConditionalConflictError);
    expect(error).toMatchObject({ code: 'CONDITIONAL_CONFLICT', retriable: true });
    expect(calls).toHaveLength(1);
  });

  it('after an attempt that may have written (500) and a 412, reports created: true when the object holds our bytes', async () => {
    const body = new TextEncoder().encode('{"snapshot":42}');
    const { client, calls } = fakeClient((action, _input, _signal, all) => {
      if (action === 'GetObject') return { ...bodyOf(body), ETag: '"ours"' };
      throw all.length === 1 ? s3Error('InternalError', 500) : s3Error('PreconditionFailed', 412);
    });
    expect(await store(client).putIfAbsent('m/v2.json', body)).toEqual({ created: true, key: 'm/v2.json', etag: '"ours"', size: body.length });
    expect(calls.map((call) => call.action)).toEqual(['PutObject', 'PutObject', 'GetObject']);
  });

  it('after an attempt that may have written and a 412, reports created: false when the object holds other bytes', async () => {
    const { client } = fakeClient((action, _input, _signal, all) => {
      if (action === 'GetObject') return bodyOf(new TextEncoder().encode('{"snapshot":41}'));
      throw all.length === 1 ? networkError('ECONNRESET') : s3Error('PreconditionFailed', 412);
    });
    expect(await store(client).putIfAbsent('m/v2.json', '{"snapshot":42}')).toEqual({ created: false, key: 'm/v2.json' });
  });

  it('after a throttled attempt (not processed) a 412 is a plain lost race: no read-back', async () => {
    const { client, calls } = fakeClient((_action, _input, _signal, all) => {
      throw all.length === 1 ? s3Error('SlowDown', 503) : s3Error('PreconditionFailed', 412);
    });
    expect(await store(client).putIfAbsent('m/v3.json', 'x')).toEqual({ created: false, key: 'm/v3.json' });
    expect(calls.map((call) => call.action)).toEqual(['PutObject', 'PutObject']);
  });
});

describe('s3ObjectStore multipart uploads', () => {
  const options = { partSizeBytes: 5 * MiB, multipartThresholdBytes: 5 * MiB, partConcurrency: 2 } as const;

  it('uploads parts of partSizeBytes in order and completes with their ETags', async () => {
    const { client, calls } = fakeClient((action, input) => {
      if (action === 'CreateMultipartUpload') return { UploadId: 'up-1' };
      if (action === 'UploadPart') return { ETag: `"part-${String(input.PartNumber)}"` };
      if (action === 'CompleteMultipartUpload') return { ETag: '"whole-3"' };
      throw new Error(`unexpected ${action}`);
    });
    const bytes = new Uint8Array(10 * MiB + 7);
    const result = await store(client, options).put('big', bytes);
    expect(result).toEqual({ key: 'big', etag: '"whole-3"', size: bytes.length });
    const parts = calls.filter((call) => call.action === 'UploadPart');
    expect(parts.map((call) => [call.input.PartNumber, (call.input.Body as Uint8Array).length])).toEqual([
      [1, 5 * MiB],
      [2, 5 * MiB],
      [3, 7],
    ]);
    const complete = calls.find((call) => call.action === 'CompleteMultipartUpload')!;
    expect(complete.input).toMatchObject({
      UploadId: 'up-1',
      MultipartUpload: { Parts: [{ PartNumber: 1, ETag: '"part-1"' }, { PartNumber: 2, ETag: '"part-2"' }, { PartNumber: 3, ETag: '"part-3"' }] },
    });
    expect(complete.input.IfNoneMatch).toBeUndefined();
  });

  it('aborts the upload when a part fails for good, after the parts in flight settled, and reports the part error', async () => {
    let inFlight = 0;
    const { client, calls } = fakeClient(async (action, input, signal) => {
      if (action === 'CreateMultipartUpload') return { UploadId: 'up-2' };
      if (action === 'AbortMultipartUpload') {
        expect(inFlight).toBe(0);
        return {};
      }
      if (action === 'UploadPart') {
        if (input.PartNumber === 2) throw s3Error('AccessDenied', 403);
        inFlight++;
        try {
          return await hang(signal); // part 1 never finishes on its own: the failure of part 2 must cancel it
        } finally {
          inFlight--;
        }
      }
      throw new Error(`unexpected ${action}`);
    });
    const error = await rejection(store(client, options).put('big', new Uint8Array(12 * MiB)));
    expect(error).toMatchObject({ code: 'S3_REQUEST_FAILED', statusCode: 403 });
    expect(calls.map((call) => call.action)).toContain('AbortMultipartUpload');
    expect(calls.map((call) => call.action)).not.toContain('CompleteMultipartUpload');
    expect(calls.find((call) => call.action === 'AbortMultipartUpload')!.input).toMatchObject({ UploadId: 'up-2', Key: 'pre/big' });
  });

  it('aborts the upload and reports created: false when a conditional complete gets 412', async () => {
    const { client, calls } = fakeClient((action) => {
      if (action === 'CreateMultipartUpload') return { UploadId: 'up-3' };
      if (action === 'UploadPart') return { ETag: '"p"' };
      if (action === 'CompleteMultipartUpload') throw s3Error('PreconditionFailed', 412);
      if (action === 'AbortMultipartUpload') return {};
      throw new Error(`unexpected ${action}`);
    });
    expect(await store(client, options).putIfAbsent('big', new Uint8Array(6 * MiB))).toEqual({ created: false, key: 'big' });
    expect(calls.find((call) => call.action === 'CompleteMultipartUpload')!.input.IfNoneMatch).toBe('*');
    expect(calls.at(-1)!.action).toBe('AbortMultipartUpload');
  });

  it('recognises its own completed upload when the answer to CompleteMultipartUpload was lost', async () => {
    const partEtag = (n: number) => `"${createHash('md5').update(`part ${n}`).digest('hex')}"`;
    const expected = multipartEtag([{ ETag: partEtag(1) }, { ETag: partEtag(2) }]);
    const size = 6 * MiB;
    const { client, calls } = fakeClient((action, input, _signal, all) => {
      if (action === 'CreateMultipartUpload') return { UploadId: 'up-4' };
      if (action === 'UploadPart') return { ETag: partEtag(input.PartNumber as number) };
      if (action === 'CompleteMultipartUpload') {
        throw all.filter((call) => call.action === 'CompleteMultipartUpload').length === 1 ? networkError('ECONNRESET') : s3Error('NoSuchUpload', 404);
      }
      if (action === 'HeadObject') return { ETag: expected, ContentLength: size };
      throw new Error(`unexpected ${action}`);
    });
    expect(await store(client, options).put('big', new Uint8Array(size))).toEqual({ key: 'big', etag: expected, size });
    expect(calls.map((call) => call.action)).not.toContain('AbortMultipartUpload');
  });

  it('computes the multipart ETag S3 gives: MD5 of the part MD5s, "-", part count', () => {
    const one = createHash('md5').update('a').digest('hex');
    const two = createHash('md5').update('b').digest('hex');
    const expected = createHash('md5').update(Buffer.concat([Buffer.from(one, 'hex'), Buffer.from(two, 'hex')])).digest('hex');
    expect(multipartEtag([{ ETag: `"${one}"` }, { ETag: `"${two}"` }])).toBe(`"${expected}-2"`);
    expect(multipartEtag([{ ETag: '"not-an-md5"' }])).toBeUndefined();
  });
});

describe('s3ObjectStore requests', () => {
  it('deletes in DeleteObjects batches of at most 1000 keys, once per distinct key', async () => {
    const { client, calls } = fakeClient(() => ({ Deleted: [] }));
    const keys = Array.from({ length: 2500 }, (_, index) => `d/${index}`);
    await store(client).deleteMany([...keys, 'd/0', 'd/1']);
    const batches = calls.map((call) => (call.input.Delete as { Objects: { Key: string }[]; Quiet: boolean }));
    expect(batches.map((batch) => batch.Objects.length)).toEqual([1000, 1000, 500]);
    expect(batches.every((batch) => batch.Quiet)).toBe(true);
    expect(batches.flatMap((batch) => batch.Objects.map((object) => object.Key))).toEqual(keys.map((key) => `pre/${key}`));
  });

  it('reports keys DeleteObjects could not delete', async () => {
    const { client } = fakeClient(() => ({ Errors: [{ Key: 'pre/locked', Code: 'AccessDenied', Message: 'Access Denied' }] }));
    const error = await rejection<S3RequestFailedError>(store(client).deleteMany(['locked', 'free']));
    expect(error).toMatchObject({ code: 'S3_REQUEST_FAILED', retriable: false, key: 'locked', s3Code: 'AccessDenied' });
    expect(error.message).toContain('"locked" (AccessDenied: Access Denied)');
  });

  it('lists page by page with continuation tokens, stripping the prefix', async () => {
    const { client, calls } = fakeClient((_action, input) => {
      const page = input.ContinuationToken === undefined ? 0 : Number(input.ContinuationToken);
      const keys = [0, 1].map((index) => `pre/k${page * 2 + index}`);
      return {
        Contents: keys.map((Key) => ({ Key, Size: 1, ETag: '"e"', LastModified: new Date(0) })),
        IsTruncated: page < 2,
        NextContinuationToken: page < 2 ? String(page + 1) : undefined,
      };
    });
    const keys: string[] = [];
    for await (const entry of store(client).list('', { pageSize: 2, startAfter: 'a' })) keys.push(entry.key);
    expect(keys).toEqual(['k0', 'k1', 'k2', 'k3', 'k4', 'k5']);
    expect(calls.map((call) => [call.input.MaxKeys, call.input.ContinuationToken, call.input.StartAfter, call.input.Prefix])).toEqual([
      [2, undefined, 'pre/a', 'pre/'],
      [2, '1', undefined, 'pre/'],
      [2, '2', undefined, 'pre/'],
    ]);
  });

  it('cuts a range out of a whole-object answer from a server that ignores Range', async () => {
    const { client } = fakeClient(() => bodyOf(new TextEncoder().encode('0123456789')));
    expect(new TextDecoder().decode(await store(client).getRange('r', 3, 5))).toBe('345');
    await expect(store(client).getRange('r', 10, 12)).rejects.toMatchObject({ code: 'INVALID_RANGE', key: 'r' });
  });

  it('retries a response body that ended early', async () => {
    const { client, calls } = fakeClient((_action, _input, _signal, all) =>
      all.length === 1 ? { ...bodyOf(new Uint8Array(3)), ContentLength: 10 } : bodyOf(new Uint8Array(10)),
    );
    expect((await store(client).get('k')).length).toBe(10);
    expect(calls).toHaveLength(2);
  });
});

describe('s3ObjectStore options and secrets', () => {
  it('validates options at construction, naming the field', () => {
    expect(() => s3ObjectStore({} as never)).toThrow(/bucket:/);
    expect(() => s3ObjectStore({ bucket: 'b', partSizeBytes: MiB })).toThrow(/partSizeBytes: must be at least 5242880/);
    expect(() => s3ObjectStore({ bucket: 'b', endpoint: 'not a url' })).toThrow(/endpoint: must be a URL/);
    expect(() => s3ObjectStore({ bucket: 'b', prefix: '../x' })).toThrow(/prefix: must not contain a "\.\." segment/);
    expect(() => s3ObjectStore({ bucket: 'b', retry: { maxAttempts: 0 } })).toThrow(/retry.maxAttempts: must be at least 1/);
    expect(() => s3ObjectStore({ bucket: 'b', unknown: 1 } as never)).toThrow(InvalidOptionsError);
    const { client } = fakeClient(() => ({}));
    expect(() => s3ObjectStore({ bucket: 'b', client, endpoint: 'http://x' })).toThrow(/endpoint: must not be given together with client/);
  });

  it('never echoes credentials in an options error', () => {
    const error = (() => {
      try {
        s3ObjectStore({ bucket: 'b', credentials: { accessKeyId: 42, secretAccessKey: 'TOP-SECRET-VALUE' } as never });
      } catch (caught) {
        return caught as InvalidOptionsError;
      }
      throw new Error('expected an error');
    })();
    expect(error.message).toMatch(/credentials/);
    expect(inspect(error, { depth: 10 })).not.toContain('TOP-SECRET-VALUE');
  });

  it('keeps configured credentials out of logs, errors and the inspected store', async () => {
    const secret = 'TOP-SECRET-VALUE-3f9c';
    const token = 'SESSION-TOKEN-VALUE-77aa';
    const logger = capturingLogger();
    // Nothing listens on port 9 of loopback: connection refused, retried, then reported.
    const unreachable = s3ObjectStore({
      bucket: 'b',
      endpoint: 'http://127.0.0.1:9',
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: secret, sessionToken: token },
      retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 },
      logger,
    });
    const error = await rejection<S3RequestFailedError>(unreachable.put('k', 'v'));
    await unreachable.close();
    expect(error).toMatchObject({ code: 'S3_REQUEST_FAILED', retriable: true, s3Code: 'ECONNREFUSED' });
    expect(logger.lines.length).toBe(2);
    const everything = [JSON.stringify(logger.lines), error.message, inspect(error, { depth: 20 }), inspect(unreachable, { depth: 20 }), JSON.stringify(unreachable)].join('\n');
    expect(everything).not.toContain(secret);
    expect(everything).not.toContain(token);
  });

  it('loads the AWS SDK only when a request is made and refuses calls after close', async () => {
    const { client, calls } = fakeClient(() => ({}));
    const s3 = store(client);
    expect(s3.location).toBe('s3://unit-bucket/pre/');
    expect(s3.uri('a/b')).toBe('s3://unit-bucket/pre/a/b');
    await s3.close();
    await expect(s3.get('x')).rejects.toBeInstanceOf(S3RequestFailedError);
    expect(calls).toHaveLength(0);
  });
});

describe('the ./s3 subpath', () => {
  it('imports the AWS SDK only lazily (type-only imports, one dynamic import), so localObjectStore works without it', async () => {
    const directory = path.dirname(fileURLToPath(import.meta.url));
    const files = [path.join(directory, '..', 's3.ts'), ...(await readdir(directory)).filter((name) => name.endsWith('.ts') && !name.includes('.test')).map((name) => path.join(directory, name))];
    const dynamic: string[] = [];
    for (const file of files) {
      const source = await readFile(file, 'utf8');
      const staticImports = [...source.matchAll(/^import\s+(?!type\b)[^;]*?from\s+'(@aws-sdk\/[^']+)'/gm)].map((match) => match[1]);
      expect(staticImports, `${path.basename(file)} imports the AWS SDK eagerly`).toEqual([]);
      expect(source).not.toMatch(/require\(\s*'@aws-sdk/);
      if (source.includes("import('@aws-sdk/client-s3')")) dynamic.push(path.basename(file));
    }
    expect(dynamic).toEqual(['s3-object-store.ts']);
  });
});
