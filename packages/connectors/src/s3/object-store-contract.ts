/**
 * The behaviour every {@link ObjectStore} must show, written once and run against each implementation (the local
 * store in its unit test, the S3 store against a real server in `test/integration/s3-object-store.test.ts`).
 * Framework-agnostic like core's `stateStoreContract`: each case creates a store with the factory and rejects with
 * what the store got wrong.
 *
 * Not exported from the `./s3` barrel (a `./testing` subpath would need a package.json change).
 *
 * @internal
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ObjectStoreError } from './object-store-errors.js';
import type { ObjectStoreErrorCode } from './object-store-errors.js';
import type { ObjectBody, ObjectInfo, ObjectStore, PutIfAbsentResult } from './object-store.js';

/** What the factory handed to {@link objectStoreContract} returns for each case. */
export interface ObjectStoreContractFixture {
  /** The store under test, empty. */
  readonly store: ObjectStore;
  /**
   * Writes that were started and neither finished nor rolled back, as descriptions: S3 multipart uploads still open
   * under the store's prefix; temporary files under the local store's root. Must be empty after every failed write.
   */
  leftovers(): Promise<readonly string[]>;
  /**
   * Bytes above which `put` goes multipart (S3) — the large-body cases write more than twice this. For a store without
   * multipart, any size of a few MiB.
   */
  readonly multipartThresholdBytes: number;
  /** Runs after the case, passed or failed. */
  cleanup?(): Promise<void>;
}

/** One case: use `name` as the test name and `run` as its body. */
export interface ObjectStoreContractCase {
  readonly name: string;
  readonly run: () => Promise<void>;
}

/**
 * The cases, each bound to `factory`.
 *
 * @example
 * ```ts
 * for (const c of objectStoreContract(async () => ({ store, leftovers, multipartThresholdBytes: 5 * 1024 * 1024 }))) it(c.name, c.run);
 * ```
 */
export function objectStoreContract(factory: () => Promise<ObjectStoreContractFixture>): ObjectStoreContractCase[] {
  return cases.map(({ name, body }) => ({
    name,
    run: async () => {
      const fixture = await factory();
      try {
        await body(fixture);
      } finally {
        await fixture.cleanup?.();
      }
    },
  }));
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const text = (bytes: Uint8Array) => decoder.decode(bytes);
const bytesOf = (value: string) => encoder.encode(value);

/** Awaits `promise`, asserting it rejects with an ObjectStoreError of `code`; returns the error. */
async function rejectsWith(promise: Promise<unknown>, code: ObjectStoreErrorCode, what: string): Promise<ObjectStoreError> {
  const outcome = await promise.then(
    (value: unknown) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!('error' in outcome)) assert.fail(`${what}: expected a rejection with ${code}, got a result ${JSON.stringify(outcome.value)}`);
  assert.ok(outcome.error instanceof ObjectStoreError, `${what}: expected an ObjectStoreError ${code}, got ${String(outcome.error)}`);
  assert.equal(outcome.error.code, code, `${what}: code (message: ${outcome.error.message})`);
  return outcome.error;
}

/** Awaits `promise`, asserting it rejects with exactly `reason`. */
async function rejectsWithReason(promise: Promise<unknown>, reason: unknown, what: string): Promise<void> {
  const outcome = await promise.then(
    () => ({ settled: 'resolved' as const }),
    (error: unknown) => ({ settled: 'rejected' as const, error }),
  );
  assert.equal(outcome.settled, 'rejected', `${what}: expected a rejection with the signal's reason`);
  assert.equal(outcome.settled === 'rejected' ? outcome.error : undefined, reason, `${what}: rejected with something else than the signal's reason`);
}

async function collect(iterable: AsyncIterable<ObjectInfo>): Promise<ObjectInfo[]> {
  const entries: ObjectInfo[] = [];
  for await (const entry of iterable) entries.push(entry);
  return entries;
}

const byUtf8 = (left: string, right: string) => Buffer.compare(Buffer.from(left), Buffer.from(right));

const keysOf = (entries: readonly ObjectInfo[]) => entries.map((entry) => entry.key);

/** Deterministic pseudo-random bytes (a different pattern per seed), so a mix-up of parts shows. */
function patternBytes(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let state = (seed * 2_654_435_761) >>> 0 || 1;
  for (let index = 0; index < length; index++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    bytes[index] = state & 0xff;
  }
  return bytes;
}

/** `bytes` as a stream of chunks of uneven sizes, so part boundaries never line up with chunk boundaries. */
async function* chunked(bytes: Uint8Array, sizes: readonly number[] = [65_536, 1_000_003, 7, 300_000]): AsyncGenerator<Uint8Array> {
  let offset = 0;
  for (let index = 0; offset < bytes.length; index++) {
    const size = sizes[index % sizes.length]!;
    yield bytes.subarray(offset, offset + size);
    offset += size;
    await Promise.resolve();
  }
}

/** A stream that yields `bytes` in chunks, calls `onStall`, then waits until `release()` (and ends). */
function stallingBody(bytes: Uint8Array, onStall: () => void): { body: ObjectBody; release: () => void } {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  async function* body(): AsyncGenerator<Uint8Array> {
    yield* chunked(bytes);
    onStall();
    await released;
  }
  return { body: body(), release };
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function assertAbsent(store: ObjectStore, key: string, what: string): Promise<void> {
  await rejectsWith(store.head(key), 'OBJECT_NOT_FOUND', `${what}: head of a key that must not exist`);
}

async function assertNoLeftovers(fixture: ObjectStoreContractFixture, what: string): Promise<void> {
  assert.deepEqual(await fixture.leftovers(), [], `${what}: a failed write left something behind`);
}

const cases: { name: string; body: (fixture: ObjectStoreContractFixture) => Promise<void> | void }[] = [
  {
    name: 'put then get returns the bytes; a second put replaces them; strings are stored as UTF-8',
    async body({ store }) {
      const first = await store.put('data/a.bin', new Uint8Array([0, 1, 2, 255]));
      assert.equal(first.key, 'data/a.bin');
      assert.equal(first.size, 4);
      assert.match(first.etag, /^".+"$/, 'etag is quoted like S3 ETags');
      assert.deepEqual(await store.get('data/a.bin'), new Uint8Array([0, 1, 2, 255]));

      const second = await store.put('data/a.bin', 'zweite Fassung ✓');
      assert.equal(second.size, bytesOf('zweite Fassung ✓').length);
      assert.notEqual(second.etag, first.etag, 'a rewrite changes the etag');
      assert.equal(text(await store.get('data/a.bin')), 'zweite Fassung ✓');

      const empty = await store.put('data/empty', new Uint8Array(0));
      assert.equal(empty.size, 0);
      assert.deepEqual(await store.get('data/empty'), new Uint8Array(0));
      assert.equal((await store.head('data/empty')).size, 0);
    },
  },
  {
    name: 'head reports size, etag (the one put returned) and lastModified',
    async body({ store }) {
      const before = Date.now();
      const written = await store.put('meta/info.json', '{"a":1}');
      const info = await store.head('meta/info.json');
      assert.equal(info.key, 'meta/info.json');
      assert.equal(info.size, 7);
      assert.equal(info.etag, written.etag);
      assert.ok(info.lastModified instanceof Date);
      // Servers store seconds; allow clock skew of a minute between the test host and the server.
      assert.ok(Math.abs(info.lastModified.getTime() - before) < 60_000, `lastModified ${info.lastModified.toISOString()} is not about now`);
    },
  },
  {
    name: 'get, getRange and head of a missing key reject with OBJECT_NOT_FOUND naming the key; delete of one succeeds',
    async body({ store }) {
      for (const [what, call] of [
        ['get', () => store.get('missing/key.json')],
        ['getRange', () => store.getRange('missing/key.json', 0, 10)],
        ['head', () => store.head('missing/key.json')],
      ] as const) {
        const error = await rejectsWith(call(), 'OBJECT_NOT_FOUND', what);
        assert.equal(error.retriable, false, `${what}: not found is not retriable`);
        assert.equal(error.key, 'missing/key.json');
        assert.ok(error.message.includes('missing/key.json'), `${what}: message names the key: ${error.message}`);
      }
      await store.delete('missing/key.json');
      await store.put('present', 'x');
      await rejectsWith(store.get('present/below'), 'OBJECT_NOT_FOUND', 'get of a key below an object');
      await rejectsWith(store.get('pres'), 'OBJECT_NOT_FOUND', 'get of a prefix of a key');
    },
  },
  {
    name: 'getRange returns inclusive byte ranges, cuts a range at the end, and refuses a start past the end',
    async body({ store }) {
      await store.put('ranges/file', '0123456789');
      assert.equal(text(await store.getRange('ranges/file', 0, 0)), '0');
      assert.equal(text(await store.getRange('ranges/file', 2, 5)), '2345');
      assert.equal(text(await store.getRange('ranges/file', 7, 9)), '789');
      assert.equal(text(await store.getRange('ranges/file', 7, 1_000)), '789', 'a range running past the end is cut');
      await rejectsWith(store.getRange('ranges/file', 10, 12), 'INVALID_RANGE', 'start at the end');
      await rejectsWith(store.getRange('ranges/file', 5, 4), 'INVALID_RANGE', 'end before start');
      await rejectsWith(store.getRange('ranges/file', -1, 4), 'INVALID_RANGE', 'negative start');
    },
  },
  {
    name: 'reads with ifMatch succeed on the current version and reject with PRECONDITION_FAILED after a rewrite',
    async body({ store }) {
      const { etag } = await store.put('versions/file', 'version one');
      assert.equal(text(await store.get('versions/file', { ifMatch: etag })), 'version one');
      assert.equal(text(await store.getRange('versions/file', 0, 6, { ifMatch: etag })), 'version');
      await store.put('versions/file', 'version two!');
      const error = await rejectsWith(store.get('versions/file', { ifMatch: etag }), 'PRECONDITION_FAILED', 'get with a stale etag');
      assert.equal(error.retriable, false);
      await rejectsWith(store.getRange('versions/file', 0, 3, { ifMatch: etag }), 'PRECONDITION_FAILED', 'getRange with a stale etag');
      await rejectsWith(store.head('versions/file', { ifMatch: etag }), 'PRECONDITION_FAILED', 'head with a stale etag');
    },
  },
  {
    name: 'list yields keys under a prefix in UTF-8 byte order, with sizes and etags, honouring startAfter and limit',
    async body({ store }) {
      // "-" < "." < "/" < "0" in bytes, so a folder's keys sort between "a.txt" and "a0", as in S3; and U+FFFD sorts
      // before U+1F600 in UTF-8 although not in JavaScript's UTF-16 string order.
      const keys = ['l/a-c', 'l/a.txt', 'l/a/b', 'l/a0', 'l/b/z', 'l/b/é', 'l/b/\uFFFD', 'l/b/\u{1F600}', 'l/p/x.1', 'l/p/x/1', 'l/p/y'];
      const shuffled = [...keys].reverse();
      const written = new Map<string, string>();
      for (const key of shuffled) written.set(key, (await store.put(key, `body of ${key}`)).etag);
      await store.put('other/not-listed', 'x');
      await store.put('l2', 'not under "l/"');

      const all = await collect(store.list('l/'));
      assert.deepEqual(keysOf(all), keys);
      for (const entry of all) {
        assert.equal(entry.size, bytesOf(`body of ${entry.key}`).length, `size of ${entry.key}`);
        assert.equal(entry.etag, written.get(entry.key), `etag of ${entry.key}`);
        assert.ok(entry.lastModified instanceof Date);
      }
      assert.deepEqual(keysOf(await collect(store.list('l/p/x'))), ['l/p/x.1', 'l/p/x/1'], 'a prefix ending inside a segment');
      assert.deepEqual(keysOf(await collect(store.list('l/b/'))), ['l/b/z', 'l/b/é', 'l/b/\uFFFD', 'l/b/\u{1F600}']);
      assert.deepEqual(keysOf(await collect(store.list('l/', { startAfter: 'l/a.txt' }))), keys.slice(2));
      assert.deepEqual(keysOf(await collect(store.list('l/', { startAfter: 'l/a/' }))), keys.slice(2), 'startAfter between keys');
      assert.deepEqual(keysOf(await collect(store.list('l/', { startAfter: 'l/p/y' }))), []);
      assert.deepEqual(keysOf(await collect(store.list('l/', { limit: 3 }))), keys.slice(0, 3));
      assert.deepEqual(keysOf(await collect(store.list('l/', { startAfter: 'l/a0', limit: 2 }))), ['l/b/z', 'l/b/é']);
      assert.deepEqual(keysOf(await collect(store.list('nothing/here/'))), []);
      assert.deepEqual(keysOf(await collect(store.list())), [...keys, 'l2', 'other/not-listed'].sort(byUtf8), 'the whole store');
    },
  },
  {
    name: 'list pages through many keys with a small page size without losing or repeating any',
    async body({ store }) {
      const keys = Array.from({ length: 23 }, (_, index) => `pages/k-${String(index).padStart(3, '0')}`);
      await Promise.all(keys.map((key) => store.put(key, key)));
      assert.deepEqual(keysOf(await collect(store.list('pages/', { pageSize: 5 }))), keys);
      assert.deepEqual(keysOf(await collect(store.list('pages/', { pageSize: 5, limit: 12 }))), keys.slice(0, 12));
      assert.deepEqual(keysOf(await collect(store.list('pages/', { pageSize: 4, startAfter: keys[9] }))), keys.slice(10));
      // Stopping early is allowed and leaves nothing open.
      for await (const entry of store.list('pages/', { pageSize: 2 })) {
        assert.equal(entry.key, keys[0]);
        break;
      }
    },
  },
  {
    name: 'delete removes one object; deleteMany removes many, ignoring absent and repeated keys',
    async body({ store }) {
      const keys = Array.from({ length: 25 }, (_, index) => `del/${index % 3}/item-${index}`);
      await Promise.all(keys.map((key) => store.put(key, key)));
      await store.put('del-keep/x', 'kept');

      await store.delete(keys[0]!);
      await assertAbsent(store, keys[0]!, 'after delete');
      await store.deleteMany([...keys.slice(1, 20), keys[3]!, 'del/never-written']);
      assert.deepEqual(keysOf(await collect(store.list('del/'))), keys.slice(20).sort());
      await store.deleteMany([]);
      await store.deleteMany(keys.slice(20));
      assert.deepEqual(keysOf(await collect(store.list('del'))), ['del-keep/x']);
      assert.equal(text(await store.get('del-keep/x')), 'kept');
      // A key whose folder was emptied can be written again.
      await store.put(keys[5]!, 'again');
      assert.equal(text(await store.get(keys[5]!)), 'again');
    },
  },
  {
    name: 'putIfAbsent creates a new key once; later calls report created: false and change nothing',
    async body({ store }) {
      const first = await store.putIfAbsent('commit/v1.metadata.json', '{"winner":true}');
      assert.equal(first.created, true);
      assert.ok(first.created && first.size === 15 && /^".+"$/.test(first.etag));
      const second = await store.putIfAbsent('commit/v1.metadata.json', '{"winner":false, "longer": 1}');
      assert.deepEqual(second, { created: false, key: 'commit/v1.metadata.json' });
      assert.equal(text(await store.get('commit/v1.metadata.json')), '{"winner":true}');
      assert.equal((await store.head('commit/v1.metadata.json')).etag, first.created ? first.etag : '');
      // put still overwrites unconditionally.
      await store.put('commit/v1.metadata.json', 'overwritten');
      assert.equal(text(await store.get('commit/v1.metadata.json')), 'overwritten');
    },
  },
  {
    name: 'of 8 concurrent putIfAbsent calls on one key exactly one creates it, and the object holds its body',
    async body({ store }) {
      const attempt = async (writer: number): Promise<PutIfAbsentResult> => {
        // S3 may answer 409 ConditionalRequestConflict to a racing writer: the documented answer is to call again.
        for (let tries = 0; ; tries++) {
          try {
            return await store.putIfAbsent('race/v2.metadata.json', `writer-${writer}`);
          } catch (error) {
            if (!(error instanceof ObjectStoreError && error.code === 'CONDITIONAL_CONFLICT') || tries >= 10) throw error;
          }
        }
      };
      for (let round = 0; round < 3; round++) {
        const key = `race/v2.metadata.json`;
        const results = await Promise.all(Array.from({ length: 8 }, (_, writer) => attempt(writer)));
        const winners = results.flatMap((result, writer) => (result.created ? [writer] : []));
        assert.equal(winners.length, 1, `round ${round}: exactly one creator, got ${JSON.stringify(results)}`);
        assert.equal(text(await store.get(key)), `writer-${winners[0]}`);
        await store.delete(key);
      }
    },
  },
  {
    name: 'a body above the multipart threshold, streamed in uneven chunks, round-trips byte for byte',
    async body(fixture) {
      const { store, multipartThresholdBytes } = fixture;
      const bytes = patternBytes(2 * multipartThresholdBytes + 12_345, 7);
      const written = await store.put('big/file.parquet', chunked(bytes));
      assert.equal(written.size, bytes.length);
      const info = await store.head('big/file.parquet');
      assert.equal(info.size, bytes.length);
      assert.equal(info.etag, written.etag);
      assert.equal(sha256(await store.get('big/file.parquet')), sha256(bytes), 'content differs');
      // Ranges across the boundaries where parts (of at least the threshold) were cut.
      const boundary = multipartThresholdBytes;
      assert.deepEqual(await store.getRange('big/file.parquet', boundary - 3, boundary + 3), bytes.subarray(boundary - 3, boundary + 4));
      assert.deepEqual(await store.getRange('big/file.parquet', bytes.length - 5, bytes.length + 100), bytes.subarray(bytes.length - 5));
      // The same from one Uint8Array, conditionally.
      const conditional = await store.putIfAbsent('big/other.parquet', bytes);
      assert.equal(conditional.created, true);
      assert.deepEqual(await store.putIfAbsent('big/other.parquet', bytes.subarray(1)), { created: false, key: 'big/other.parquet' });
      assert.equal(sha256(await store.get('big/other.parquet')), sha256(bytes));
      await assertNoLeftovers(fixture, 'after a large conditional put that lost');
    },
  },
  {
    name: 'a body stream that fails mid-upload rejects with OBJECT_BODY_FAILED and leaves no object and no upload behind',
    async body(fixture) {
      const { store, multipartThresholdBytes } = fixture;
      const failure = new Error('disk read failed');
      async function* failing(): AsyncGenerator<Uint8Array> {
        yield* chunked(patternBytes(multipartThresholdBytes + 3 * 1024 * 1024, 3));
        throw failure;
      }
      const error = await rejectsWith(store.put('broken/file.bin', failing()), 'OBJECT_BODY_FAILED', 'put of a failing stream');
      assert.equal(error.cause, failure, 'the stream error is the cause');
      assert.equal(error.retriable, false);
      assert.ok(error.message.includes('broken/file.bin'), error.message);
      await assertAbsent(store, 'broken/file.bin', 'after a failed stream');
      await assertNoLeftovers(fixture, 'after a failed stream');

      async function* wrongType(): AsyncGenerator<unknown> {
        yield await Promise.resolve(42);
      }
      await rejectsWith(store.put('broken/typed.bin', wrongType() as AsyncIterable<Uint8Array>), 'OBJECT_BODY_FAILED', 'a stream of numbers');
      await rejectsWith(store.putIfAbsent('broken/typed.bin', 42 as unknown as string), 'OBJECT_BODY_FAILED', 'a number body');
      await assertAbsent(store, 'broken/typed.bin', 'after bad bodies');
      await assertNoLeftovers(fixture, 'after bad bodies');
    },
  },
  {
    name: 'an aborted signal rejects every call with its reason; aborting a streaming put rolls it back',
    async body(fixture) {
      const { store, multipartThresholdBytes } = fixture;
      await store.put('abort/existing', 'x');
      const aborted = new AbortController();
      const reason = new Error('caller gave up');
      aborted.abort(reason);
      const signal = aborted.signal;
      await rejectsWithReason(store.get('abort/existing', { signal }), reason, 'get');
      await rejectsWithReason(store.head('abort/existing', { signal }), reason, 'head');
      await rejectsWithReason(store.put('abort/new', 'x', { signal }), reason, 'put');
      await rejectsWithReason(store.putIfAbsent('abort/new', 'x', { signal }), reason, 'putIfAbsent');
      await rejectsWithReason(store.delete('abort/existing', { signal }), reason, 'delete');
      await rejectsWithReason(store.deleteMany(['abort/existing'], { signal }), reason, 'deleteMany');
      await rejectsWithReason(collect(store.list('abort/', { signal })), reason, 'list');
      await assertAbsent(store, 'abort/new', 'after aborted puts');
      assert.equal(text(await store.get('abort/existing')), 'x', 'aborted deletes deleted nothing');

      // Abort while the body is streaming, after more than the multipart threshold was sent.
      const controller = new AbortController();
      const midway = new Error('shutdown');
      const { body, release } = stallingBody(patternBytes(multipartThresholdBytes + 2 * 1024 * 1024, 5), () => controller.abort(midway));
      try {
        await rejectsWithReason(store.put('abort/big.bin', body, { signal: controller.signal }), midway, 'put aborted mid-stream');
      } finally {
        release();
      }
      await assertAbsent(store, 'abort/big.bin', 'after an aborted streaming put');
      await assertNoLeftovers(fixture, 'after an aborted streaming put');
    },
  },
  {
    name: 'a call that exceeds timeoutMs rejects with a retriable OBJECT_STORE_TIMEOUT and is rolled back',
    async body(fixture) {
      const { store, multipartThresholdBytes } = fixture;
      const { body, release } = stallingBody(patternBytes(multipartThresholdBytes + 1024 * 1024, 9), () => undefined);
      const started = Date.now();
      try {
        const error = await rejectsWith(store.put('slow/file.bin', body, { timeoutMs: 1_500 }), 'OBJECT_STORE_TIMEOUT', 'stalled put');
        assert.equal(error.retriable, true);
        assert.ok(error.message.includes('1500 ms'), error.message);
      } finally {
        release();
      }
      assert.ok(Date.now() - started < 15_000, 'the timeout cut the call short');
      await assertAbsent(store, 'slow/file.bin', 'after a timed-out put');
      await assertNoLeftovers(fixture, 'after a timed-out put');
    },
  },
  {
    name: 'keys that are not safe relative paths are refused with INVALID_KEY by every method',
    async body({ store }) {
      const bad = ['', '/abs/key', '../escape', 'a/../../escape', 'a/./b', 'a//b', 'trailing/', '.', '..', 'back\\slash', 'nul\u0000byte', 'x/.tributary-tmp-1', 'a'.repeat(1025)];
      for (const key of bad) {
        const what = `key ${JSON.stringify(key.slice(0, 40))}`;
        await rejectsWith(store.put(key, 'x'), 'INVALID_KEY', `put ${what}`);
        await rejectsWith(store.putIfAbsent(key, 'x'), 'INVALID_KEY', `putIfAbsent ${what}`);
        await rejectsWith(store.get(key), 'INVALID_KEY', `get ${what}`);
        await rejectsWith(store.getRange(key, 0, 1), 'INVALID_KEY', `getRange ${what}`);
        await rejectsWith(store.head(key), 'INVALID_KEY', `head ${what}`);
        await rejectsWith(store.delete(key), 'INVALID_KEY', `delete ${what}`);
        await rejectsWith(store.deleteMany(['fine', key]), 'INVALID_KEY', `deleteMany ${what}`);
        assert.throws(() => store.uri(key), (error: unknown) => error instanceof ObjectStoreError && error.code === 'INVALID_KEY', `uri ${what}`);
      }
      for (const prefix of ['/abs', '../', 'a/../', 'a//', 'back\\']) {
        await rejectsWith(collect(store.list(prefix)), 'INVALID_KEY', `list prefix ${JSON.stringify(prefix)}`);
      }
      assert.deepEqual(keysOf(await collect(store.list())), [], 'nothing was written');
      // Unusual but valid keys work.
      for (const key of ['..dots', 'a/..b/c.', 'spaces in key', 'ünï/cødé', 'x/.hidden']) {
        await store.put(key, key);
        assert.equal(text(await store.get(key)), key);
      }
    },
  },
  {
    name: 'uri(key) is the location followed by the key',
    body({ store }) {
      assert.ok(store.location.endsWith('/'), store.location);
      const uri = store.uri('db/t/metadata/v1.metadata.json');
      assert.ok(uri.startsWith(store.location), uri);
      assert.ok(uri.endsWith('/db/t/metadata/v1.metadata.json'), uri);
      assert.match(uri, /^(s3|file):\/\//);
    },
  },
];
