/**
 * A bucket of its own on the test S3 server for one test file: created in `beforeAll`, emptied and removed in
 * `afterAll`, with object stores over it that are closed on the way out.
 */
import { randomUUID } from 'node:crypto';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { s3ObjectStore } from '@tributary/connectors/s3';
import type { ObjectStore } from '@tributary/connectors/s3';
import { services } from '../../../../test/support/services.js';

export class TestBucket {
  readonly name: string;
  readonly admin = new S3Client({
    endpoint: services.s3Endpoint,
    region: services.s3Region,
    credentials: services.s3Credentials,
    forcePathStyle: true,
    maxAttempts: 1,
  });
  readonly #stores: ObjectStore[] = [];

  constructor(label: string) {
    this.name = `tributary-lake-${label}-${randomUUID().slice(0, 8)}`;
  }

  async create(): Promise<void> {
    await this.admin.send(new CreateBucketCommand({ Bucket: this.name }));
  }

  /** A new store client on `prefix` of the bucket (closed by {@link destroy}). */
  store(prefix: string): ObjectStore {
    const store = s3ObjectStore({
      bucket: this.name,
      prefix,
      endpoint: services.s3Endpoint,
      region: services.s3Region,
      forcePathStyle: true,
      credentials: services.s3Credentials,
    });
    return this.track(store);
  }

  /** Closes `store` with the bucket. */
  track(store: ObjectStore): ObjectStore {
    this.#stores.push(store);
    return store;
  }

  /** Every key starting with `prefix`, sorted. */
  async keys(prefix = ''): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.admin.send(new ListObjectsV2Command({ Bucket: this.name, Prefix: prefix, ContinuationToken: token }));
      for (const object of page.Contents ?? []) if (object.Key !== undefined) keys.push(object.Key);
      token = page.NextContinuationToken;
    } while (token !== undefined);
    return keys.sort();
  }

  /** Closes the stores, deletes every object and the bucket. */
  async destroy(): Promise<void> {
    try {
      await Promise.all(this.#stores.map((store) => store.close()));
      const keys = await this.keys();
      for (let i = 0; i < keys.length; i += 1000) {
        const objects = keys.slice(i, i + 1000).map((Key) => ({ Key }));
        await this.admin.send(new DeleteObjectsCommand({ Bucket: this.name, Delete: { Objects: objects, Quiet: true } }));
      }
      await this.admin.send(new DeleteBucketCommand({ Bucket: this.name }));
    } finally {
      this.admin.destroy();
    }
  }
}
