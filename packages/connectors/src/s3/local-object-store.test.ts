import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { InvalidOptionsError } from '@tributary/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { localObjectStore } from './local-object-store.js';
import { reservedSegmentPrefix } from './object-key.js';
import { objectStoreContract } from './object-store-contract.js';
import { ObjectNotFoundError, ObjectStoreError } from './object-store-errors.js';
import type { ObjectStore } from './object-store.js';

const MiB = 1024 * 1024;

/** Every file under `directory` (relative paths), temporary files included. */
async function filesUnder(directory: string): Promise<string[]> {
  const entries = await readdir(directory, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => !entry.isDirectory()).map((entry) => path.relative(directory, path.join(entry.parentPath, entry.name)));
}

async function temporaryFiles(root: string): Promise<string[]> {
  return (await filesUnder(root)).filter((file) => path.basename(file).startsWith(reservedSegmentPrefix));
}

describe('localObjectStore: the object-store contract', () => {
  for (const contractCase of objectStoreContract(async () => {
    const sandbox = await mkdtemp(path.join(tmpdir(), 'tributary-local-store-'));
    const root = path.join(sandbox, 'root');
    return {
      store: localObjectStore({ root }),
      leftovers: () => temporaryFiles(root),
      multipartThresholdBytes: 5 * MiB,
      cleanup: () => rm(sandbox, { recursive: true, force: true }),
    };
  })) {
    it(contractCase.name, contractCase.run);
  }
});

describe('localObjectStore', () => {
  let sandbox: string;
  let root: string;
  let store: ObjectStore;

  beforeEach(async () => {
    sandbox = await mkdtemp(path.join(tmpdir(), 'tributary-local-store-'));
    root = path.join(sandbox, 'root');
    store = localObjectStore({ root });
  });

  afterEach(async () => {
    await store.close();
    await rm(sandbox, { recursive: true, force: true });
  });

  it('stores key a/b.json as the plain file <root>/a/b.json, so other tools can read it in place', async () => {
    await store.put('db/t/metadata/v1.metadata.json', '{"format-version":2}');
    expect(await readFile(path.join(root, 'db/t/metadata/v1.metadata.json'), 'utf8')).toBe('{"format-version":2}');
    expect(store.uri('db/t/metadata/v1.metadata.json')).toBe(`file://${root}/db/t/metadata/v1.metadata.json`);
    expect(store.location).toBe(`file://${root}/`);
  });

  it('lets exactly one of 50 concurrent putIfAbsent calls create a key, and leaves no temporary file', async () => {
    for (let round = 0; round < 5; round++) {
      const key = `metadata/v${round}.metadata.json`;
      const results = await Promise.all(Array.from({ length: 50 }, (_, writer) => store.putIfAbsent(key, `writer-${writer}`)));
      const winners = results.flatMap((result, writer) => (result.created ? [writer] : []));
      expect(winners).toHaveLength(1);
      expect(await readFile(path.join(root, key), 'utf8')).toBe(`writer-${winners[0]}`);
    }
    expect(await temporaryFiles(root)).toEqual([]);
  });

  it('lets exactly one of two stores on the same root win a putIfAbsent race (what two processes would do)', async () => {
    const other = localObjectStore({ root });
    const results = await Promise.all([
      ...Array.from({ length: 10 }, (_, writer) => store.putIfAbsent('shared/v1.json', `store-a-${writer}`)),
      ...Array.from({ length: 10 }, (_, writer) => other.putIfAbsent('shared/v1.json', `store-b-${writer}`)),
    ]);
    expect(results.filter((result) => result.created)).toHaveLength(1);
  });

  it('replaces objects atomically: concurrent readers see the old or the new body, never a mix', async () => {
    const bodies = ['A', 'B', 'C'].map((letter) => new TextEncoder().encode(letter.repeat(2 * MiB)));
    await store.put('atomic/file', bodies[0]!);
    let writing = true;
    const writer = (async () => {
      for (let round = 0; round < 12; round++) await store.put('atomic/file', bodies[round % 3]!);
      writing = false;
    })();
    let reads = 0;
    while (writing) {
      const bytes = await store.get('atomic/file');
      expect(bytes.length).toBe(2 * MiB);
      expect(bytes.every((byte) => byte === bytes[0])).toBe(true);
      reads++;
    }
    await writer;
    expect(reads).toBeGreaterThan(0);
    expect(await temporaryFiles(root)).toEqual([]);
  });

  it('never touches a path outside the root, whatever the key', async () => {
    await writeFile(path.join(sandbox, 'outside.txt'), 'secret');
    const escapes = ['../outside.txt', '../../etc/passwd', 'a/../../outside.txt', '/etc/passwd', `${sandbox}/outside.txt`, 'a/./../outside.txt', '..\\outside.txt', 'a//../outside.txt'];
    for (const key of escapes) {
      for (const call of [
        () => store.put(key, 'overwritten'),
        () => store.putIfAbsent(key, 'overwritten'),
        () => store.get(key),
        () => store.getRange(key, 0, 3),
        () => store.head(key),
        () => store.delete(key),
        () => store.deleteMany([key]),
      ]) {
        const error = await call().then(
          () => undefined,
          (caught: unknown) => caught,
        );
        expect(error, `key ${key}`).toBeInstanceOf(ObjectStoreError);
        expect((error as ObjectStoreError).code, `key ${key}`).toBe('INVALID_KEY');
      }
      expect(() => store.uri(key)).toThrow(ObjectStoreError);
    }
    expect(await readFile(path.join(sandbox, 'outside.txt'), 'utf8')).toBe('secret');
    expect((await readdir(sandbox)).sort()).toEqual(['outside.txt']);
  });

  it('does not follow a symbolic link at the key and does not list it', async () => {
    await writeFile(path.join(sandbox, 'outside.txt'), 'secret');
    await mkdir(root, { recursive: true });
    await symlink(path.join(sandbox, 'outside.txt'), path.join(root, 'link'));
    await expect(store.get('link')).rejects.toBeInstanceOf(ObjectNotFoundError);
    await expect(store.head('link')).rejects.toBeInstanceOf(ObjectNotFoundError);
    const keys: string[] = [];
    for await (const entry of store.list()) keys.push(entry.key);
    expect(keys).toEqual([]);
  });

  it('hides temporary files of interrupted writes from list and get', async () => {
    await store.put('data/real.bin', 'real');
    await writeFile(path.join(root, 'data', `${reservedSegmentPrefix}crashed`), 'half a file');
    const keys: string[] = [];
    for await (const entry of store.list('data/')) keys.push(entry.key);
    expect(keys).toEqual(['data/real.bin']);
  });

  it('removes folders a delete left empty, and keeps the root', async () => {
    await store.put('a/b/c/one', '1');
    await store.put('a/two', '2');
    await store.delete('a/b/c/one');
    expect(await readdir(path.join(root, 'a'))).toEqual(['two']);
    await store.deleteMany(['a/two']);
    expect(await readdir(root)).toEqual([]);
  });

  it('explains a key that is both an object and a folder of other keys', async () => {
    await store.put('a/b', 'x');
    const asFolder = await store.put('a/b/c', 'y').catch((error: unknown) => error as ObjectStoreError);
    expect(asFolder).toMatchObject({ code: 'LOCAL_IO_FAILED', key: 'a/b/c', retriable: false });
    expect((asFolder as ObjectStoreError).message).toMatch(/cannot be both an object and a prefix/);
    const asObject = await store.put('a', 'z').catch((error: unknown) => error as ObjectStoreError);
    expect(asObject).toMatchObject({ code: 'LOCAL_IO_FAILED', key: 'a' });
    expect(await store.putIfAbsent('a', 'z').catch((error: unknown) => (error as ObjectStoreError).code)).toBe('LOCAL_IO_FAILED');
    await expect(store.get('a')).rejects.toBeInstanceOf(ObjectNotFoundError);
    await store.delete('a'); // a folder is not an object: nothing to delete, no error
    expect(await temporaryFiles(root)).toEqual([]);
  });

  it('reads nothing from a root that does not exist yet', async () => {
    const keys: string[] = [];
    for await (const entry of store.list()) keys.push(entry.key);
    expect(keys).toEqual([]);
    await expect(store.get('x')).rejects.toBeInstanceOf(ObjectNotFoundError);
  });

  it('works with fsync off', async () => {
    const fast = localObjectStore({ root, fsync: false });
    await fast.put('x', 'y');
    expect(new TextDecoder().decode(await fast.get('x'))).toBe('y');
  });

  it('refuses calls after close', async () => {
    await store.close();
    await expect(store.get('x')).rejects.toMatchObject({ code: 'LOCAL_IO_FAILED' });
  });

  it('validates its options at construction and the call options at each call', async () => {
    expect(() => localObjectStore({ root: '' })).toThrow(InvalidOptionsError);
    expect(() => localObjectStore({ root: '/tmp/x', fsync: 'yes' } as never)).toThrow(/fsync: must be true or false/);
    expect(() => localObjectStore({ root: '/tmp/x', timeoutMs: -1 })).toThrow(/timeoutMs: must be a positive number/);
    expect(() => localObjectStore({ root: '/tmp/x', extra: 1 } as never)).toThrow(/extra/);
    await expect(store.get('x', { timeoutMs: 0 })).rejects.toBeInstanceOf(InvalidOptionsError);
    await expect(store.get('x', { signal: 'no' as never })).rejects.toThrow(/signal: must be an AbortSignal/);
  });
});
