import type { ObjectStore } from '@tributary/connectors/s3';
import { LakehouseError } from '../errors.js';

/**
 * Reads and writes table files by absolute URI. Tables record absolute URIs (`file:///…`, `s3://…`), so IO maps each
 * URI back to a key of the object store that holds it.
 *
 * @example
 * ```ts
 * const bytes = await io.read('file:///warehouse/silver/orders/metadata/v3.metadata.json');
 * ```
 */
export interface FileIO {
  /** URI of the store's root, ending in `/`. */
  readonly location: string;
  /** Absolute URI of a key relative to the store root. */
  uri(key: string): string;
  read(uri: string): Promise<Uint8Array>;
  write(uri: string, bytes: Uint8Array | string): Promise<void>;
  /** Creates the file only if absent; `false` when it existed (nothing changed). */
  writeIfAbsent(uri: string, bytes: Uint8Array | string): Promise<boolean>;
  exists(uri: string): Promise<boolean>;
  deleteMany(uris: Iterable<string>): Promise<void>;
  /** Files under a URI prefix, with size and modification time. */
  list(prefixUri: string): AsyncIterable<{ readonly uri: string; readonly size: number; readonly lastModified: Date }>;
  /** The object store underneath. */
  readonly store: ObjectStore;
}

// `file:/x`, `file://x` and `file:///x` all name the same local path; Java writers emit `file:/x`.
function normalize(uri: string): string {
  const local = /^file:\/*(.*)$/.exec(uri);
  return local ? `file:///${local[1]}` : uri;
}

/**
 * IO over one object store (local disk or S3). URIs outside the store are refused with a clear error.
 *
 * @example
 * ```ts
 * const io = objectStoreFileIO(localObjectStore({ root: './warehouse' }));
 * ```
 */
export function objectStoreFileIO(store: ObjectStore): FileIO {
  const root = normalize(store.location);
  const keyOf = (uri: string): string => {
    const normalized = normalize(uri);
    if (!normalized.startsWith(root)) {
      throw new LakehouseError(
        'OUTSIDE_WAREHOUSE',
        `File ${uri} is outside the object store at ${store.location}; configure IO for that location.`,
        { file: uri },
      );
    }
    return decodeURIComponent(normalized.slice(root.length));
  };
  return {
    location: root,
    store,
    uri: (key) => store.uri(key),
    read: async (uri) => store.get(keyOf(uri)),
    write: async (uri, bytes) => {
      await store.put(keyOf(uri), bytes);
    },
    writeIfAbsent: async (uri, bytes) => (await store.putIfAbsent(keyOf(uri), bytes)).created,
    exists: async (uri) => {
      try {
        await store.head(keyOf(uri));
        return true;
      } catch (error) {
        if ((error as { code?: string }).code === 'OBJECT_NOT_FOUND') return false;
        throw error;
      }
    },
    deleteMany: async (uris) => store.deleteMany([...uris].map(keyOf)),
    async *list(prefixUri) {
      for await (const info of store.list(keyOf(prefixUri))) {
        yield { uri: store.uri(info.key), size: info.size, lastModified: info.lastModified };
      }
    },
  };
}
