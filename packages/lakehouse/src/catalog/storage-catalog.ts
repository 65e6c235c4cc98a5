import { randomUUID } from 'node:crypto';
import type { ObjectStore } from '@tributary/connectors/s3';
import { z } from 'zod';
import { LakehouseError } from '../errors.js';
import { parseOptions } from '../internal/parse-options.js';
import { parseTableMetadata, serializeTableMetadata } from '../metadata/table-metadata.js';
import type { TableMetadata } from '../metadata/table-metadata.js';
import { applyUpdates, unmetRequirement } from '../metadata/table-update.js';
import type { TableRequirement, TableUpdate } from '../metadata/table-update.js';
import { CommitConflictError, CommitStateUnknownError, formatIdentifier } from './catalog.js';
import type { Catalog, CreateTableRequest, LoadedTable, TableIdentifier } from './catalog.js';
import { objectStoreFileIO } from './file-io.js';
import { newTableMetadata } from './new-table-metadata.js';

const storageCatalogOptionsSchema = z.strictObject({
  store: z.custom<ObjectStore>(
    (value) =>
      typeof value === 'object' &&
      value !== null &&
      typeof (value as ObjectStore).putIfAbsent === 'function' &&
      typeof (value as ObjectStore).uri === 'function',
    'must be an ObjectStore (localObjectStore(...) or s3ObjectStore(...) from @tributary/connectors/s3)',
  ),
  name: z.string().min(1, 'must be a non-empty string').optional(),
  now: z.custom<() => number>((value) => typeof value === 'function', 'must be a function returning ms since the epoch').optional(),
});

/**
 * Options of {@link storageCatalog}: `store` (required) — where the warehouse lives, `localObjectStore(...)` for local
 * disk or `s3ObjectStore(...)` for S3; `name` — used in logs and errors, default `"storage"`; `now` — clock for
 * `last-updated-ms`, default `Date.now`.
 *
 * @interface
 * @example
 * ```ts
 * const options: StorageCatalogOptions = { store: localObjectStore({ root: './warehouse' }), name: 'local' };
 * ```
 */
export type StorageCatalogOptions = z.input<typeof storageCatalogOptionsSchema>;

const VERSION_FILE = /^v(\d+)\.metadata\.json$/;

/**
 * A catalog that keeps each table's metadata files in the warehouse itself, at `<namespace>/<table>/metadata/
 * v<N>.metadata.json` with `version-hint.text` naming the newest — the layout Iceberg calls a Hadoop catalog, which
 * pyiceberg, Spark and DuckDB can read directly.
 *
 * A commit creates `v<N+1>.metadata.json` only if it does not exist yet: `link()` on local disk, `If-None-Match: *`
 * on S3. Of two writers racing for the same version exactly one wins; the other gets a {@link CommitConflictError}
 * and retries on the new version. (Iceberg's own Hadoop catalog relies on rename and is unsafe on object stores; a
 * conditional create is not.)
 *
 * @example
 * ```ts
 * import { localObjectStore } from '@tributary/connectors/s3';
 * const catalog = storageCatalog({ store: localObjectStore({ root: './warehouse' }) });
 * ```
 */
export function storageCatalog(options: StorageCatalogOptions): Catalog {
  const parsed = parseOptions(storageCatalogOptionsSchema, 'storageCatalog', options);
  const { store } = parsed;
  const name = parsed.name ?? 'storage';
  const now = parsed.now ?? Date.now;
  const io = objectStoreFileIO(store);
  const tableKey = (id: TableIdentifier): string => [...id.namespace, id.name].join('/');
  const metadataKey = (id: TableIdentifier, version: number): string => `${tableKey(id)}/metadata/v${version}.metadata.json`;
  const hintKey = (id: TableIdentifier): string => `${tableKey(id)}/metadata/version-hint.text`;

  const exists = async (key: string): Promise<boolean> => {
    try {
      await store.head(key);
      return true;
    } catch (error) {
      if ((error as { code?: string }).code === 'OBJECT_NOT_FOUND') return false;
      throw error;
    }
  };

  /** The newest metadata version: the hint, then forward probing (the hint is written after the commit, best effort). */
  const latestVersion = async (id: TableIdentifier): Promise<number | undefined> => {
    let version: number | undefined;
    try {
      const hint = new TextDecoder().decode(await store.get(hintKey(id))).trim();
      if (/^\d+$/.test(hint)) version = Number(hint);
    } catch (error) {
      if ((error as { code?: string }).code !== 'OBJECT_NOT_FOUND') throw error;
    }
    if (version === undefined || !(await exists(metadataKey(id, version)))) {
      version = undefined;
      for await (const info of store.list(`${tableKey(id)}/metadata/v`)) {
        const match = VERSION_FILE.exec(info.key.slice(info.key.lastIndexOf('/') + 1));
        if (match) version = Math.max(version ?? 0, Number(match[1]));
      }
      if (version === undefined) return undefined;
    }
    while (await exists(metadataKey(id, version + 1))) version++;
    return version;
  };

  const load = async (id: TableIdentifier): Promise<{ version: number; loaded: LoadedTable } | undefined> => {
    const version = await latestVersion(id);
    if (version === undefined) return undefined;
    const key = metadataKey(id, version);
    let metadata: TableMetadata;
    try {
      metadata = parseTableMetadata(await store.get(key), formatIdentifier(id), store.uri(key));
    } catch (error) {
      if (!(error instanceof LakehouseError) || error.code !== 'CORRUPT_METADATA' || version <= 1) throw error;
      // Commits only ever create the next version, so the one before is the last good state: say where it is.
      const previous = store.uri(metadataKey(id, version - 1));
      throw new LakehouseError(
        'CORRUPT_METADATA',
        `${error.message} Readers can still open the previous version by its path, ${previous}; removing ` +
          `${store.uri(key)} makes that version current again for writers too (the commit the damaged file recorded is then lost).`,
        { table: formatIdentifier(id), file: store.uri(key), cause: error },
      );
    }
    return { version, loaded: { identifier: id, metadata, metadataLocation: store.uri(key), io } };
  };

  const notFound = (id: TableIdentifier): LakehouseError => {
    const where = store.uri(`${tableKey(id)}/metadata`);
    return new LakehouseError(
      'TABLE_NOT_FOUND',
      `Table ${formatIdentifier(id)} does not exist in catalog ${name}: there is no metadata file under ${where}. ` +
        'Create it first (Table.create, or the sink\'s `create` option), or check the name and the warehouse location.',
      { table: formatIdentifier(id), file: where },
    );
  };

  const writeHint = async (id: TableIdentifier, version: number): Promise<void> => {
    // Digits only, no newline: pyiceberg fails on a trailing newline.
    await store.put(hintKey(id), String(version)).catch(() => undefined);
  };

  /** Creates the version file if absent; resolves an unknown outcome by reading the file back. */
  const createVersion = async (id: TableIdentifier, version: number, metadata: TableMetadata): Promise<boolean> => {
    const key = metadataKey(id, version);
    const body = serializeTableMetadata(metadata);
    try {
      return (await store.putIfAbsent(key, body)).created;
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'CONDITIONAL_CONFLICT') return false;
      try {
        const stored = new TextDecoder().decode(await store.get(key));
        return stored === body;
      } catch (readError) {
        if ((readError as { code?: string }).code === 'OBJECT_NOT_FOUND') {
          throw new CommitConflictError(`Writing ${store.uri(key)} failed before it was created; retry the commit.`, {
            table: formatIdentifier(id),
            file: store.uri(key),
            cause: error,
          });
        }
        throw new CommitStateUnknownError(
          `Commit of ${formatIdentifier(id)} has an unknown outcome: writing ${store.uri(key)} failed and it cannot be read back. ` +
            'Files of this commit are kept; reload the table to see whether it landed.',
          { table: formatIdentifier(id), file: store.uri(key), cause: error },
        );
      }
    }
  };

  return {
    name,
    async createNamespace(namespace, properties = {}) {
      const key = `${namespace.join('/')}/.namespace.json`;
      await store.putIfAbsent(key, JSON.stringify({ namespace, properties }));
    },
    async listNamespaces() {
      const found = new Map<string, string[]>();
      for await (const info of store.list('')) {
        const parts = info.key.split('/');
        if (parts.at(-1) === '.namespace.json') found.set(parts.slice(0, -1).join('.'), parts.slice(0, -1));
        const metadataAt = parts.indexOf('metadata');
        if (metadataAt >= 2 && VERSION_FILE.test(parts.at(-1) ?? '')) {
          const namespace = parts.slice(0, metadataAt - 1);
          found.set(namespace.join('.'), namespace);
        }
      }
      return [...found.values()].sort((a, b) => a.join('.').localeCompare(b.join('.')));
    },
    async listTables(namespace) {
      const prefix = `${namespace.join('/')}/`;
      const names = new Set<string>();
      for await (const info of store.list(prefix)) {
        const rest = info.key.slice(prefix.length).split('/');
        if (rest.length === 3 && rest[1] === 'metadata' && VERSION_FILE.test(rest[2]!)) names.add(rest[0]!);
      }
      return [...names].sort().map((tableName) => ({ namespace: [...namespace], name: tableName }));
    },
    async tableExists(id) {
      return (await latestVersion(id)) !== undefined;
    },
    async createTable(id, request: CreateTableRequest) {
      const location = request.location ?? store.uri(tableKey(id));
      const metadata = newTableMetadata(request, location, randomUUID(), now());
      if (!(await createVersion(id, 1, metadata)) || (await exists(metadataKey(id, 2)))) {
        throw new LakehouseError('TABLE_EXISTS', `Table ${formatIdentifier(id)} already exists in catalog ${name}.`, {
          table: formatIdentifier(id),
        });
      }
      await writeHint(id, 1);
      return { identifier: id, metadata, metadataLocation: store.uri(metadataKey(id, 1)), io };
    },
    async loadTable(id) {
      const current = await load(id);
      if (current === undefined) throw notFound(id);
      return current.loaded;
    },
    async commitTable(id, requirements: readonly TableRequirement[], updates: readonly TableUpdate[]) {
      const current = await load(id);
      if (current === undefined) throw notFound(id);
      const unmet = unmetRequirement(current.loaded.metadata, requirements);
      if (unmet !== undefined) {
        throw new CommitConflictError(`Commit to ${formatIdentifier(id)} conflicts: ${unmet}.`, { table: formatIdentifier(id) });
      }
      const next = applyUpdates(current.loaded.metadata, updates, current.loaded.metadataLocation, now());
      const version = current.version + 1;
      if (!(await createVersion(id, version, next))) {
        throw new CommitConflictError(`Another writer committed version ${version} of ${formatIdentifier(id)} first.`, {
          table: formatIdentifier(id),
          file: store.uri(metadataKey(id, version)),
        });
      }
      await writeHint(id, version);
      return { identifier: id, metadata: next, metadataLocation: store.uri(metadataKey(id, version)), io };
    },
    async dropTable(id, dropOptions = {}) {
      const prefix = `${tableKey(id)}/`;
      const keys: string[] = [];
      for await (const info of store.list(prefix)) {
        if (dropOptions.purge === true || info.key.startsWith(`${prefix}metadata/`)) keys.push(info.key);
      }
      if (keys.length === 0) {
        throw new LakehouseError('TABLE_NOT_FOUND', `Table ${formatIdentifier(id)} does not exist in catalog ${name}.`, {
          table: formatIdentifier(id),
        });
      }
      await store.deleteMany(keys);
    },
  };
}
