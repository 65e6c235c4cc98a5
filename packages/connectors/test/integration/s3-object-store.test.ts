/**
 * The S3 object store against the real S3-compatible server (versitygw, see docs/decisions/0002): the shared
 * behavioural suite, plus what only S3 has (multipart uploads, their clean-up, credentials). Fails — does not skip —
 * when nothing answers on services.s3Endpoint.
 */
import { createHash, randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  AbortMultipartUploadCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import type { LogFields } from '@tributary/core';
import { afterAll, describe, expect, it } from 'vitest';
import { s3ObjectStore, S3RequestFailedError } from '../../src/s3.js';
import type { ObjectStore, S3ObjectStoreOptions } from '../../src/s3.js';
import { objectStoreContract } from '../../src/s3/object-store-contract.js';
import { services } from '../../../../test/support/services.js';

const MiB = 1024 * 1024;
const bucket = `tributary-objects-${randomUUID().slice(0, 8)}`;
const admin = new S3Client({
  endpoint: services.s3Endpoint,
  region: services.s3Region,
  credentials: services.s3Credentials,
  forcePathStyle: true,
  maxAttempts: 1,
});

/** Store options for the test server; every store gets its own prefix, so cases never see each other's keys. */
function options(overrides: Partial<S3ObjectStoreOptions> = {}): S3ObjectStoreOptions & { prefix: string } {
  return {
    bucket,
    prefix: `case-${randomUUID()}`,
    endpoint: services.s3Endpoint,
    region: services.s3Region,
    forcePathStyle: true,
    credentials: services.s3Credentials,
    partSizeBytes: 5 * MiB,
    multipartThresholdBytes: 5 * MiB,
    timeoutMs: 30_000,
    ...overrides,
  };
}

/** The rejection of `promise` (failing the test when it resolves). */
async function rejection<E = unknown>(promise: Promise<unknown>): Promise<E> {
  try {
    await promise;
  } catch (error) {
    return error as E;
  }
  throw new Error('expected a rejection');
}

/** Multipart uploads still open under `prefix`. */
async function openUploads(prefix: string): Promise<string[]> {
  const page = await admin.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }));
  return (page.Uploads ?? []).map((upload) => `${upload.Key ?? '?'} (upload ${upload.UploadId ?? '?'})`);
}

async function emptyBucket(): Promise<void> {
  const uploads = await admin.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  for (const upload of uploads.Uploads ?? []) {
    await admin.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: upload.Key, UploadId: upload.UploadId }));
  }
  let token: string | undefined;
  do {
    const page = await admin.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    const keys = (page.Contents ?? []).flatMap((object) => (object.Key === undefined ? [] : [{ Key: object.Key }]));
    if (keys.length > 0) await admin.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
    token = page.NextContinuationToken;
  } while (token !== undefined);
}

// The bucket is created by the first test that needs it, inside the test, so that a server that is down fails every
// test (a failing beforeAll would only mark them skipped).
let bucketCreated: Promise<unknown> | undefined;
function ensureBucket(): Promise<unknown> {
  bucketCreated ??= admin.send(new CreateBucketCommand({ Bucket: bucket }));
  return bucketCreated;
}

afterAll(async () => {
  try {
    const created = await bucketCreated?.then(
      () => true,
      () => false,
    );
    if (created === true) {
      await emptyBucket();
      await admin.send(new DeleteBucketCommand({ Bucket: bucket }));
    }
  } finally {
    admin.destroy();
  }
});

describe('s3ObjectStore on the real server: the object-store contract', () => {
  for (const contractCase of objectStoreContract(async () => {
    await ensureBucket();
    const storeOptions = options();
    const store = s3ObjectStore(storeOptions);
    return Promise.resolve({
      store,
      leftovers: () => openUploads(`${storeOptions.prefix}/`),
      multipartThresholdBytes: 5 * MiB,
      cleanup: () => store.close(),
    });
  })) {
    it(contractCase.name, contractCase.run);
  }
});

describe('s3ObjectStore on the real server', () => {
  it('uploads a body above the threshold in parts: the ETag is the multipart ETag of its 5 MiB parts', async () => {
    await ensureBucket();
    const store = s3ObjectStore(options());
    try {
      const bytes = new Uint8Array(10 * MiB + 100).map((_, index) => index % 251);
      const { etag } = await store.put('mp/file.bin', bytes);
      const partMd5s = [bytes.subarray(0, 5 * MiB), bytes.subarray(5 * MiB, 10 * MiB), bytes.subarray(10 * MiB)].map((part) =>
        createHash('md5').update(part).digest(),
      );
      const expected = `"${createHash('md5').update(Buffer.concat(partMd5s)).digest('hex')}-3"`;
      // The same formula lets the store recognise its own upload when a CompleteMultipartUpload answer is lost.
      expect(etag).toBe(expected);
      expect((await store.head('mp/file.bin')).etag).toBe(expected);
    } finally {
      await store.close();
    }
  });

  it('aborts the multipart upload when a part fails, leaving no upload and no object', async () => {
    await ensureBucket();
    // A client whose second UploadPart fails as a refused request would (403 is not retried).
    const client = new S3Client({ endpoint: services.s3Endpoint, region: services.s3Region, credentials: services.s3Credentials, forcePathStyle: true, maxAttempts: 1 });
    const seen: string[] = [];
    client.middlewareStack.add(
      (next) => async (args) => {
        const input = args.input as { PartNumber?: number };
        if (input.PartNumber !== undefined) seen.push(`part ${input.PartNumber}`);
        if (input.PartNumber === 2) {
          throw Object.assign(new Error('injected failure of part 2'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
        }
        return next(args);
      },
      { step: 'initialize', name: 'failSecondPart' },
    );
    const { prefix } = options();
    const store = s3ObjectStore({ bucket, prefix, client, partSizeBytes: 5 * MiB, multipartThresholdBytes: 5 * MiB, partConcurrency: 1 });
    try {
      const error = await rejection(store.put('mp/failing.bin', new Uint8Array(16 * MiB)));
      expect(error).toBeInstanceOf(S3RequestFailedError);
      expect(error).toMatchObject({ statusCode: 403, retriable: false, key: 'mp/failing.bin' });
      expect(seen).toEqual(['part 1', 'part 2']);
      expect(await openUploads(`${prefix}/`)).toEqual([]);
      await expect(store.head('mp/failing.bin')).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND' });
    } finally {
      await store.close();
      client.destroy();
    }
  });

  it('reports a conditional multipart put over an existing key as created: false, aborting its upload', async () => {
    await ensureBucket();
    const storeOptions = options();
    const store = s3ObjectStore(storeOptions);
    try {
      await store.put('mp/taken.bin', 'first');
      expect(await store.putIfAbsent('mp/taken.bin', new Uint8Array(6 * MiB))).toEqual({ created: false, key: 'mp/taken.bin' });
      expect(new TextDecoder().decode(await store.get('mp/taken.bin'))).toBe('first');
      expect(await openUploads(`${storeOptions.prefix}/`)).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('uses the SDK default credential chain when no credentials are given (here: environment variables)', async () => {
    await ensureBucket();
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    process.env.AWS_ACCESS_KEY_ID = services.s3Credentials.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = services.s3Credentials.secretAccessKey;
    const { credentials: _unused, ...withoutCredentials } = options();
    const store = s3ObjectStore(withoutCredentials);
    try {
      await store.put('chain/key', 'from the default chain');
      expect(new TextDecoder().decode(await store.get('chain/key'))).toBe('from the default chain');
    } finally {
      await store.close();
      for (const [name, value] of [
        ['AWS_ACCESS_KEY_ID', saved.id],
        ['AWS_SECRET_ACCESS_KEY', saved.secret],
      ] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  it('refuses a wrong secret with a non-retriable 403 that contains no secret', async () => {
    await ensureBucket();
    const secret = `wrong-secret-${randomUUID()}`;
    const lines: { fields: LogFields; message: string }[] = [];
    const log = (fields: LogFields, message: string) => lines.push({ fields, message });
    const store: ObjectStore = s3ObjectStore(
      options({ credentials: { accessKeyId: services.s3Credentials.accessKeyId, secretAccessKey: secret }, logger: { debug: log, info: log, warn: log, error: log } }),
    );
    try {
      const error = await rejection<S3RequestFailedError>(store.get('any'));
      expect(error).toBeInstanceOf(S3RequestFailedError);
      expect(error).toMatchObject({ statusCode: 403, retriable: false, s3Code: 'SignatureDoesNotMatch' });
      const everything = [error.message, inspect(error, { depth: 20 }), JSON.stringify(lines), inspect(store, { depth: 20 })].join('\n');
      expect(everything).not.toContain(secret);
    } finally {
      await store.close();
    }
  });

  it('names a missing bucket', async () => {
    await ensureBucket();
    const store = s3ObjectStore(options({ bucket: `${bucket}-missing` }));
    try {
      await expect(store.get('k')).rejects.toThrow(/bucket "tributary-objects-[0-9a-f]{8}-missing" does not exist/);
    } finally {
      await store.close();
    }
  });
});
