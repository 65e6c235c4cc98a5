/**
 * Smoke test of the real S3-compatible server started by `scripts/services.sh up s3`
 * (see docs/decisions/0002-s3-compatible-server.md). Fails when nothing answers on services.s3Endpoint.
 */
import { randomUUID } from 'node:crypto';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { services } from '../support/services.js';

const bucket = `tributary-smoke-${randomUUID().slice(0, 8)}`;
const s3 = new S3Client({
  endpoint: services.s3Endpoint,
  region: services.s3Region,
  credentials: services.s3Credentials,
  forcePathStyle: true,
  maxAttempts: 1, // a down server or a 412 must surface at once, not after retries
});

async function deleteAll(): Promise<void> {
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const o of page.Contents ?? []) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key }));
    token = page.NextContinuationToken;
  } while (token);
}

beforeAll(async () => {
  const res = await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  expect(res.$metadata.httpStatusCode).toBe(200);
});

afterAll(async () => {
  try {
    await deleteAll();
    await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
  } finally {
    s3.destroy();
  }
});

describe('s3 service', () => {
  it('puts and gets an object', async () => {
    const put = await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: 'data/hello.txt', Body: 'hello tributary', ContentType: 'text/plain' }),
    );
    expect(put.$metadata.httpStatusCode).toBe(200);
    expect(put.ETag).toMatch(/^"[0-9a-f]{32}"$/);

    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'data/hello.txt' }));
    expect(got.ContentLength).toBe(15);
    expect(got.ETag).toBe(put.ETag);
    expect(await got.Body!.transformToString()).toBe('hello tributary');
  });

  it('serves a ranged get', async () => {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'data/hello.txt', Range: 'bytes=6-14' }));
    expect(got.$metadata.httpStatusCode).toBe(206);
    expect(got.ContentRange).toBe('bytes 6-14/15');
    expect(await got.Body!.transformToString()).toBe('tributary');
  });

  it('lists objects with ListObjectsV2 (prefix and delimiter)', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'data/sub/a.bin', Body: 'a' }));
    const flat = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'data/' }));
    expect(flat.Contents?.map((o) => o.Key).sort()).toEqual(['data/hello.txt', 'data/sub/a.bin']);
    expect(flat.KeyCount).toBe(2);

    const grouped = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'data/', Delimiter: '/' }));
    expect(grouped.Contents?.map((o) => o.Key)).toEqual(['data/hello.txt']);
    expect(grouped.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['data/sub/']);
  });

  it('rejects a second If-None-Match: * put of the same key with 412 PreconditionFailed', async () => {
    const key = 'metadata/v1.metadata.json';
    const first = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: '{"v":1}', IfNoneMatch: '*' }));
    expect(first.$metadata.httpStatusCode).toBe(200);

    const second = await s3
      .send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: '{"v":"loser"}', IfNoneMatch: '*' }))
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(second).toBeInstanceOf(S3ServiceException);
    const err = second as S3ServiceException;
    expect(err.name).toBe('PreconditionFailed');
    expect(err.$metadata.httpStatusCode).toBe(412);

    // The losing write changed nothing.
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    expect(await got.Body!.transformToString()).toBe('{"v":1}');
    expect(got.ETag).toBe(first.ETag);
  });

  it('lets exactly one of several concurrent If-None-Match: * puts win', async () => {
    const key = 'metadata/v2.metadata.json';
    const outcomes = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) =>
        s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: `writer-${i}`, IfNoneMatch: '*' })),
      ),
    );
    const winners = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [i] : []));
    const losers = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as S3ServiceException] : []));
    expect(winners).toHaveLength(1);
    // 412 when the key exists; AWS may also answer 409 ConditionalRequestConflict to a racing writer.
    for (const l of losers) expect([412, 409]).toContain(l.$metadata.httpStatusCode);
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    expect(await got.Body!.transformToString()).toBe(`writer-${winners[0]}`);
  });

  it('round-trips a two-part multipart upload', async () => {
    const key = 'data/big.parquet';
    const part1 = Buffer.alloc(5 * 1024 * 1024, 0x61); // 5 MiB: the minimum size of a non-last part
    const part2 = Buffer.from('the last part may be small');
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    expect(UploadId).toBeTruthy();
    const p1 = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: part1 }));
    const p2 = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 2, Body: part2 }));
    const done = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId,
        MultipartUpload: {
          Parts: [
            { PartNumber: 1, ETag: p1.ETag },
            { PartNumber: 2, ETag: p2.ETag },
          ],
        },
      }),
    );
    expect(done.ETag).toMatch(/-2"$/);

    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    expect(head.ContentLength).toBe(part1.length + part2.length);
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const body = Buffer.from(await got.Body!.transformToByteArray());
    expect(body.equals(Buffer.concat([part1, part2]))).toBe(true);

    // A ranged read across the part boundary.
    const edge = await s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${part1.length - 2}-${part1.length + 2}` }),
    );
    expect(await edge.Body!.transformToString()).toBe('aathe');
  });

  it('deletes an object', async () => {
    const del = await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'data/hello.txt' }));
    expect(del.$metadata.httpStatusCode).toBe(204);
    const gone = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'data/hello.txt' })).then(
      () => undefined,
      (e: unknown) => e as S3ServiceException,
    );
    expect(gone?.$metadata.httpStatusCode).toBe(404);
  });
});
