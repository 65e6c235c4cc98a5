import type { ObjectStore } from '@tributary/connectors/s3';
import { z } from 'zod';
import { LakehouseError } from '../errors.js';
import { parseOptions } from '../internal/parse-options.js';
import { validateSchema } from '../schema/schema-utils.js';
import { losslessParse, losslessStringify, parseTableMetadata } from '../metadata/table-metadata.js';
import type { TableRequirement, TableUpdate } from '../metadata/table-update.js';
import { CommitConflictError, CommitStateUnknownError, formatIdentifier } from './catalog.js';
import type { Catalog, CreateTableRequest, LoadedTable, TableIdentifier } from './catalog.js';
import { objectStoreFileIO } from './file-io.js';
import type { FileIO } from './file-io.js';

/** Longest delay a Node timer accepts. */
const maxTimerDelayMs = 2_147_483_647;

const functionSchema = <F>(message: string) => z.custom<F>((value) => typeof value === 'function', { message });

const isObjectStore = (value: unknown): value is ObjectStore =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as Partial<ObjectStore>).location === 'string' &&
  typeof (value as Partial<ObjectStore>).get === 'function' &&
  typeof (value as Partial<ObjectStore>).putIfAbsent === 'function';

const validHeaders = (headers: Record<string, string>): boolean => {
  try {
    new Headers(headers);
    return true;
  } catch {
    return false;
  }
};

const restCatalogOptionsSchema = z
  .strictObject({
    /**
     * Base URL of the catalog's REST API, without the `/v1` part: `http://127.0.0.1:8181`, or
     * `https://host/api/catalog` for servers that mount the API under a path. No credentials or query string in it
     * (use `token` or `headers`). Required.
     */
    uri: z
      .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
      .refine((value) => {
        const url = new URL(value);
        return url.username === '' && url.password === '';
      }, 'must not contain credentials: pass them as token or headers')
      .refine((value) => {
        const url = new URL(value);
        return url.search === '' && url.hash === '';
      }, 'must not have a query string or fragment'),
    /** Name used in logs and errors. Default `'rest'`. */
    name: z.string('must be a string').min(1, 'must be a non-empty string').default('rest'),
    /** Warehouse to ask the server's configuration for (sent as `?warehouse=` to `GET /v1/config`). Default: none. */
    warehouse: z.string('must be a string').min(1, 'must be a non-empty string').optional(),
    /**
     * Bearer token sent as `Authorization: Bearer <token>` on every request. Never logged, never part of an error
     * message. Default: none (no `Authorization` header unless `headers` has one).
     */
    token: z.string('must be a string').min(1, 'must be a non-empty string').optional(),
    /**
     * Extra HTTP headers sent on every request (e.g. an API key). Their values are treated as secrets: never part of an
     * error message. Default: none.
     */
    headers: z
      .record(z.string(), z.string('must be a string'), 'must be an object of header names to string values')
      .refine(validHeaders, 'must be valid HTTP header names and values')
      .optional(),
    /**
     * Where the files of the catalog's tables live: the client writes data files, manifests and manifest lists itself,
     * under the table location the server reports (`file:///...` or `s3://...`), and reads them back for scans.
     * Either one `ObjectStore` whose location covers every table (`localObjectStore({ root: warehouseDir })`,
     * `s3ObjectStore({ bucket, prefix })`), or a function from a table location to the store that holds it (called
     * for each loaded table; return the same store instance for the same bucket, it is not closed by the catalog).
     * A file outside the store fails with `OUTSIDE_WAREHOUSE` when it is read or written. Required.
     */
    io: z.custom<ObjectStore | ((tableLocation: string) => ObjectStore)>(
      (value) => typeof value === 'function' || isObjectStore(value),
      'must be an ObjectStore (localObjectStore / s3ObjectStore) or a function (tableLocation) => ObjectStore',
    ),
    /** Bound of one HTTP request (response body included) in milliseconds. Default `30_000`. */
    timeoutMs: z
      .number('must be a number of milliseconds')
      .int('must be an integer number of milliseconds')
      .positive('must be a positive number of milliseconds')
      .max(maxTimerDelayMs, `must be at most ${maxTimerDelayMs} ms`)
      .default(30_000),
    /**
     * Retries of a request that is safe to repeat (reads, and namespace creation) after a network error, a timeout, a
     * 429 or a 5xx answer. Commits, table creation and drops are never repeated automatically: their outcome after such
     * a failure is unknown, and the caller decides. Default `3`.
     */
    retries: z.number('must be a number').int('must be an integer').min(0, 'must be at least 0').max(20, 'must be at most 20').default(3),
    /** First backoff before a retry in milliseconds; doubled on each retry, with jitter (50–100 % of it). Default `200`. */
    retryDelayMs: z
      .number('must be a number of milliseconds')
      .int('must be an integer number of milliseconds')
      .min(0, 'must be at least 0')
      .max(60_000, 'must be at most 60_000 ms')
      .default(200),
    /** Entries asked for per page of `listNamespaces` / `listTables` (`pageSize`). Default: the server's choice. */
    pageSize: z.number('must be a number').int('must be an integer').positive('must be a positive integer').optional(),
    /** The `fetch` to send requests with (for proxies, custom agents or tests). Default: the global `fetch`. */
    fetch: functionSchema<typeof globalThis.fetch>('must be a fetch function').optional(),
  })
  .refine(
    (options) => options.token === undefined || !Object.keys(options.headers ?? {}).some((name) => name.toLowerCase() === 'authorization'),
    { message: 'token and an Authorization header are both set: pass only one', path: ['token'] },
  );

/**
 * Options of {@link restCatalog}. `uri` and `io` are required.
 *
 * @example
 * ```ts
 * import { localObjectStore } from '@tributary/connectors/s3';
 *
 * const options: RestCatalogOptions = {
 *   uri: 'http://127.0.0.1:8181',
 *   io: localObjectStore({ root: '/var/lib/iceberg/warehouse' }),
 *   token: process.env.CATALOG_TOKEN,
 *   timeoutMs: 10_000,
 * };
 * ```
 *
 * @interface
 */
export type RestCatalogOptions = z.input<typeof restCatalogOptionsSchema>;

type ParsedOptions = z.output<typeof restCatalogOptionsSchema>;

type Method = 'GET' | 'HEAD' | 'POST' | 'DELETE';

/** What the catalog's `GET /v1/config` decided: where the routes are and how namespaces go into a path. */
interface ServerConfig {
  /** `/v1` or `/v1/<prefix>`, appended to `uri`. */
  readonly root: string;
  /** Separator of namespace levels in a path, URL-encoded as the server gave it (`%1F` by default). */
  readonly separator: string;
  /** The same, decoded: levels may not contain it. */
  readonly separatorText: string;
  /** Routes the server declared, as `METHOD /v1/{prefix}/...`; `undefined` when it declared none. */
  readonly endpoints: ReadonlySet<string> | undefined;
}

interface HttpAnswer {
  readonly status: number;
  readonly text: string;
  readonly headers: Headers;
  /** Requests sent to get this answer. */
  readonly attempts: number;
}

/** The request never got an answer: a network error or the timeout. */
class NoAnswer extends Error {
  constructor(
    readonly reason: string,
    readonly attempts: number,
    options: { cause: unknown },
  ) {
    super(reason, options);
  }
}

interface Request {
  readonly method: Method;
  /** Path below `uri` (`/v1/namespaces/...`). */
  readonly path: string;
  readonly query?: Readonly<Record<string, string | undefined>> | undefined;
  readonly body?: string | undefined;
  /** Whether the request may be repeated after a network error, timeout, 429 or 5xx. */
  readonly repeatable: boolean;
}

const TABLE_HEAD_ENDPOINT = 'HEAD /v1/{prefix}/namespaces/{namespace}/tables/{table}';
const SERVER_MESSAGE_LIMIT = 500;

// The server hands out `file:/abs` for metadata files and `file:///abs` for table locations; one form keeps
// comparisons simple and matches what the FileIO produces.
function normalizeLocation(uri: string): string {
  const local = /^file:\/*(.*)$/.exec(uri);
  return local ? `file:///${local[1]}` : uri;
}

/**
 * A {@link Catalog} backed by an Iceberg REST catalog server (Apache Iceberg's REST protocol: Polaris, Nessie, Gravitino,
 * Lakekeeper, Iceberg's own reference server, ...). The server keeps the table list and each table's current metadata
 * and arbitrates commits; this client writes the data files, manifests and manifest lists itself through `io`, then
 * commits requirements + updates to the server.
 *
 * - The server's `GET /v1/config` is fetched once, at the first call (its `prefix` and `namespace-separator` shape every
 *   path); a failed fetch is tried again at the next call.
 * - JSON is parsed and written losslessly: snapshot ids are `bigint` and travel as exact 64-bit JSON integers.
 * - `createTable`: the server assigns fresh column, partition field and sort order ids. Use the schema, spec and
 *   sort order of the returned metadata from then on (map your columns by name), never the ids you passed. Tables are
 *   created as format-version 2 (a `format-version` property other than `'2'` is refused).
 * - `commitTable`: 409 is a {@link CommitConflictError} (reload, rebase, retry); a network error, a timeout, a 5xx, or
 *   a 200 whose body cannot be read is a {@link CommitStateUnknownError} (the commit may have landed: keep its files,
 *   reload and look). A commit is never repeated automatically. 400 is `INVALID_UPDATE`, 404 `TABLE_NOT_FOUND`.
 * - Reads (and namespace creation, which is idempotent) are retried on network errors, timeouts, 429 and 5xx with
 *   jittered exponential backoff.
 * - Errors name the catalog, the table, the request and the HTTP status, and carry only the server's error `type` and
 *   `message` (never its stack trace). The token and header values never appear in an error.
 *
 * Other error codes: `TABLE_EXISTS`, `NAMESPACE_NOT_FOUND` (`listTables` of a missing namespace), `CORRUPT_METADATA`
 * (the server's metadata is unusable), `CATALOG_UNAVAILABLE` (no answer or 5xx after the retries; retriable),
 * `CATALOG_AUTH_FAILED` (401, 403, 419), `CATALOG_BAD_RESPONSE` (an answer that is not the JSON the protocol
 * specifies), `CATALOG_REQUEST_FAILED` (any other refusal).
 *
 * @param options see {@link RestCatalogOptions}: `uri` and `io` (required), `name` (default `'rest'`), `warehouse`,
 *   `token`, `headers`, `timeoutMs` (default `30_000`), `retries` (default `3`), `retryDelayMs` (default `200`),
 *   `pageSize`, `fetch` (default: the global `fetch`)
 * @throws InvalidOptionsError at construction, naming the bad option
 *
 * @example
 * ```ts
 * import { localObjectStore } from '@tributary/connectors/s3';
 *
 * const catalog = restCatalog({
 *   uri: 'http://127.0.0.1:8181',
 *   io: localObjectStore({ root: '/var/lib/iceberg/warehouse' }),
 * });
 * const table = await Table.create(catalog, 'silver.orders', { schema });
 * await table.append([{ order_id: 1n, status: 'new' }]);
 * ```
 */
export function restCatalog(options: RestCatalogOptions): Catalog {
  return createRestCatalog(parseOptions(restCatalogOptionsSchema, 'restCatalog', options));
}

// A closure, not a class: nothing reachable from the returned object (util.inspect, JSON.stringify) holds the token.
function createRestCatalog(options: ParsedOptions): Catalog {
  const name = options.name;
  const base = options.uri.replace(/\/+$/, '');
  const doFetch = options.fetch ?? globalThis.fetch;
  // Header names are case-insensitive: the caller's `Accept` replaces ours rather than joining it.
  const headers = new Headers({ accept: 'application/json' });
  for (const [header, value] of Object.entries(options.headers ?? {})) headers.set(header, value);
  if (options.token !== undefined) headers.set('authorization', `Bearer ${options.token}`);
  const bodyHeaders = new Headers(headers);
  bodyHeaders.set('content-type', 'application/json');
  // Anything the caller configured as a credential is cut out of text the server sends back before it reaches an error.
  const secrets = [options.token, ...Object.values(options.headers ?? {})].filter((s): s is string => s !== undefined && s.length >= 4);
  const redact = (text: string): string => secrets.reduce((out, secret) => out.split(secret).join('***'), text);

  const fileIOs = new WeakMap<ObjectStore, FileIO>();
  const ioFor = (location: string): FileIO => {
    const store = typeof options.io === 'function' ? options.io(location) : options.io;
    if (!isObjectStore(store)) {
      throw new LakehouseError('INVALID_OPTIONS', `The io function of catalog ${name} returned no ObjectStore for ${location}.`);
    }
    let io = fileIOs.get(store);
    if (io === undefined) {
      io = objectStoreFileIO(store);
      fileIOs.set(store, io);
    }
    return io;
  };

  const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
  const backoff = (attempt: number): number => {
    const full = Math.min(30_000, options.retryDelayMs * 2 ** attempt);
    return Math.round(full * (0.5 + Math.random() / 2));
  };

  const describeFailure = (error: unknown): string => {
    if ((error as { name?: string } | null)?.name === 'TimeoutError') return `no answer within ${options.timeoutMs} ms`;
    const cause = (error as { cause?: { code?: string; message?: string } } | null)?.cause;
    const detail = cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
    return `network error (${redact(detail)})`;
  };

  /**
   * Sends one request; repeats it (when allowed) after a network error, timeout, 429 or 5xx. Resolves with the last
   * answer whatever its status; rejects with {@link NoAnswer} when no answer came at all.
   */
  const send = async (url: string, request: Request): Promise<HttpAnswer> => {
    const attempts = request.repeatable ? options.retries + 1 : 1;
    for (let attempt = 1; ; attempt++) {
      try {
        const response = await doFetch(url, {
          method: request.method,
          headers: request.body === undefined ? headers : bodyHeaders,
          body: request.body ?? null,
          // A redirect would turn a POST into a GET and could carry the credentials elsewhere: report it instead.
          redirect: 'manual',
          signal: AbortSignal.timeout(options.timeoutMs),
        });
        const text = request.method === 'HEAD' ? '' : await response.text();
        const answer = { status: response.status, text, headers: response.headers, attempts: attempt };
        if (attempt < attempts && (response.status === 429 || response.status >= 500)) {
          await sleep(backoff(attempt - 1));
          continue;
        }
        return answer;
      } catch (error) {
        if (attempt < attempts) {
          await sleep(backoff(attempt - 1));
          continue;
        }
        throw new NoAnswer(describeFailure(error), attempt, { cause: error });
      }
    }
  };

  let config: Promise<ServerConfig> | undefined;
  const serverConfig = (): Promise<ServerConfig> => {
    config ??= loadConfig().catch((error: unknown) => {
      config = undefined;
      throw error;
    });
    return config;
  };
  const loadConfig = async (): Promise<ServerConfig> => {
    const path = '/v1/config';
    const query = { warehouse: options.warehouse };
    const answer = await call(`${base}${path}${queryString(query)}`, { method: 'GET', path, query, repeatable: true }, {});
    if (answer.status !== 200) throw failure(answer, { method: 'GET', path }, {}, 'reading the catalog configuration');
    const body = jsonObject(answer, { method: 'GET', path }, 'the catalog configuration');
    const defaults = stringMap(body.defaults);
    const overrides = stringMap(body.overrides);
    const merged = { ...defaults, ...overrides };
    const prefix = merged.prefix?.replace(/^\/+|\/+$/g, '');
    const separator = merged['namespace-separator'] ?? '%1F';
    let separatorText: string;
    try {
      separatorText = decodeURIComponent(separator);
    } catch {
      separatorText = separator;
    }
    const endpoints = Array.isArray(body.endpoints)
      ? new Set(body.endpoints.filter((e): e is string => typeof e === 'string').map((e) => e.trim().replace(/\s+/g, ' ')))
      : undefined;
    return { root: prefix === undefined || prefix === '' ? '/v1' : `/v1/${prefix}`, separator, separatorText, endpoints };
  };

  /** Like `send`, but turns "no answer" into `CATALOG_UNAVAILABLE` (the right error for every call except commits). */
  const call = async (url: string, request: Request, context: { table?: string }): Promise<HttpAnswer> => {
    try {
      return await send(url, request);
    } catch (error) {
      if (!(error instanceof NoAnswer)) throw error;
      const tries = error.attempts > 1 ? ` after ${error.attempts} attempts` : '';
      throw new LakehouseError(
        'CATALOG_UNAVAILABLE',
        `Catalog ${name} (${base}) did not answer ${request.method} ${request.path}${tries}: ${error.reason}. ` +
          `Check that the catalog server is running and reachable${request.repeatable ? '' : '; the request may or may not have been applied'}.`,
        { ...context, retriable: true, cause: error.cause },
      );
    }
  };

  /** The server's `{"error": {"type", "message"}}`, reduced to what is safe to repeat (no stack, no secrets). */
  const serverError = (answer: HttpAnswer): string => {
    let type: string | undefined;
    let message: string | undefined;
    try {
      const parsed = losslessParse(answer.text) as { error?: { type?: unknown; message?: unknown } } | null;
      if (typeof parsed?.error?.type === 'string') type = parsed.error.type;
      if (typeof parsed?.error?.message === 'string') message = parsed.error.message;
    } catch {
      // Not JSON (an HTML error page, a proxy's text): say so, without repeating it.
    }
    if (type === undefined && message === undefined) {
      const kind = answer.headers.get('content-type')?.split(';')[0]?.trim();
      return answer.text === '' ? 'no error details' : `no error details (a ${kind ?? 'non-JSON'} body)`;
    }
    const text = redact([type, message].filter((part) => part !== undefined).join(': '));
    return text.length > SERVER_MESSAGE_LIMIT ? `${text.slice(0, SERVER_MESSAGE_LIMIT)}…` : text;
  };

  /** The error for an answer with an unexpected status. */
  const failure = (answer: HttpAnswer, request: { method: Method; path: string }, context: { table?: string }, doing: string): LakehouseError => {
    const status = answer.status;
    const what = `Catalog ${name}: ${doing} failed: ${request.method} ${request.path} answered HTTP ${status} (${serverError(answer)})`;
    if (status === 401 || status === 403 || status === 419) {
      return new LakehouseError('CATALOG_AUTH_FAILED', `${what}. Check the catalog token or credentials and their permissions.`, context);
    }
    if (status >= 300 && status < 400) {
      const location = answer.headers.get('location');
      return new LakehouseError(
        'CATALOG_REQUEST_FAILED',
        `${what}: a redirect${location === null ? '' : ` to ${redact(location)}`}. Set uri to the address the API is served at.`,
        context,
      );
    }
    if (status === 429 || status >= 500) {
      const tries = answer.attempts > 1 ? ` (${answer.attempts} attempts)` : '';
      return new LakehouseError('CATALOG_UNAVAILABLE', `${what}${tries}. The server is overloaded or failing; try again later.`, {
        ...context,
        retriable: true,
      });
    }
    return new LakehouseError('CATALOG_REQUEST_FAILED', `${what}.`, context);
  };

  const jsonObject = (answer: HttpAnswer, request: { method: Method; path: string }, what: string, context: { table?: string } = {}): Record<string, unknown> => {
    let parsed: unknown;
    try {
      parsed = losslessParse(answer.text);
    } catch (error) {
      throw new LakehouseError(
        'CATALOG_BAD_RESPONSE',
        `Catalog ${name}: ${request.method} ${request.path} answered HTTP ${answer.status} with a body that is not JSON, where ${what} was expected. ` +
          'Check that uri points at an Iceberg REST catalog.',
        { ...context, cause: error },
      );
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new LakehouseError(
        'CATALOG_BAD_RESPONSE',
        `Catalog ${name}: ${request.method} ${request.path} answered HTTP ${answer.status} with JSON that is not an object, where ${what} was expected.`,
        context,
      );
    }
    return parsed as Record<string, unknown>;
  };

  const namespacePath = (cfg: ServerConfig, namespace: readonly string[]): string => {
    if (namespace.length === 0) throw new LakehouseError('INVALID_NAMESPACE', `Catalog ${name}: a namespace needs at least one level.`);
    return namespace
      .map((level) => {
        if (level === '' || level.includes(cfg.separatorText)) {
          throw new LakehouseError(
            'INVALID_NAMESPACE',
            `Catalog ${name}: namespace level ${JSON.stringify(level)} is empty or contains the server's namespace separator ` +
              `${JSON.stringify(cfg.separatorText)}; pass each level as its own array element.`,
          );
        }
        return encodeURIComponent(level);
      })
      .join(cfg.separator);
  };
  const tablePath = (cfg: ServerConfig, id: TableIdentifier): string =>
    `${cfg.root}/namespaces/${namespacePath(cfg, id.namespace)}/tables/${encodeURIComponent(id.name)}`;

  /** A request to the API, with "no answer" as `CATALOG_UNAVAILABLE`. */
  const api = async (request: Request, context: { table?: string } = {}): Promise<HttpAnswer> =>
    call(`${base}${request.path}${queryString(request.query)}`, request, context);

  const toLoaded = (id: TableIdentifier, answer: HttpAnswer, request: { method: Method; path: string }): LoadedTable => {
    const table = formatIdentifier(id);
    const body = jsonObject(answer, request, 'a table', { table });
    const location = body['metadata-location'];
    if (typeof location !== 'string' || body.metadata === null || typeof body.metadata !== 'object') {
      throw new LakehouseError(
        'CATALOG_BAD_RESPONSE',
        `Catalog ${name}: ${request.method} ${request.path} answered without "metadata-location" and "metadata" for table ${table}.`,
        { table },
      );
    }
    const metadataLocation = normalizeLocation(location);
    const metadata = parseTableMetadata(losslessStringify(body.metadata), table, metadataLocation);
    return { identifier: id, metadata, metadataLocation, io: ioFor(metadata.location) };
  };

  const listPages = async <T>(
    cfg: ServerConfig,
    path: string,
    query: Record<string, string | undefined>,
    field: string,
    context: { table?: string },
    doing: string,
    onMissing: () => LakehouseError,
  ): Promise<T[]> => {
    const items: T[] = [];
    const seen = new Set<string>();
    let pageToken: string | undefined;
    for (;;) {
      const request: Request = {
        method: 'GET',
        path,
        query: { ...query, pageToken, pageSize: options.pageSize === undefined ? undefined : String(options.pageSize) },
        repeatable: true,
      };
      const answer = await api(request, context);
      if (answer.status === 404) throw onMissing();
      if (answer.status !== 200) throw failure(answer, request, context, doing);
      const body = jsonObject(answer, request, `a list of ${field}`, context);
      const page = body[field];
      if (!Array.isArray(page)) {
        throw new LakehouseError('CATALOG_BAD_RESPONSE', `Catalog ${name}: GET ${path} answered without a "${field}" list.`, context);
      }
      items.push(...(page as T[]));
      const next = body['next-page-token'];
      if (typeof next !== 'string' || next === '') return items;
      if (seen.has(next)) {
        throw new LakehouseError('CATALOG_BAD_RESPONSE', `Catalog ${name}: GET ${path} sent page token ${JSON.stringify(next)} twice.`, context);
      }
      seen.add(next);
      pageToken = next;
    }
  };

  const createNamespace = async (
    namespace: readonly string[],
    properties: Readonly<Record<string, string>>,
    parentsCreated = false,
  ): Promise<void> => {
    const cfg = await serverConfig();
    namespacePath(cfg, namespace);
    const path = `${cfg.root}/namespaces`;
    const request: Request = {
      method: 'POST',
      path,
      body: JSON.stringify({ namespace, properties }),
      // Safe to repeat: a namespace that exists already (also one our lost first attempt created) is a success.
      repeatable: true,
    };
    const answer = await api(request);
    if (answer.status === 200 || answer.status === 204 || answer.status === 409) return;
    // Catalogs that keep a namespace tree refuse a child whose parent is missing: create the parents first.
    if (answer.status === 404 && namespace.length > 1 && !parentsCreated) {
      await createNamespace(namespace.slice(0, -1), {});
      return createNamespace(namespace, properties, true);
    }
    throw failure(answer, request, {}, `creating namespace ${namespace.join('.')}`);
  };

  return {
    name,
    createNamespace: async (namespace, properties = {}) => createNamespace(namespace, properties),

    async listNamespaces() {
      const cfg = await serverConfig();
      const all: string[][] = [];
      // The REST API lists one level at a time; walk the tree for all levels.
      const walk = async (parent: readonly string[] | undefined): Promise<void> => {
        const children = await listPages<string[]>(
          cfg,
          `${cfg.root}/namespaces`,
          { parent: parent?.join(cfg.separatorText) },
          'namespaces',
          {},
          'listing namespaces',
          () => new LakehouseError('NAMESPACE_NOT_FOUND', `Catalog ${name}: namespace ${parent?.join('.') ?? ''} disappeared while listing namespaces.`),
        );
        for (const child of children) {
          if (!Array.isArray(child) || child.some((level) => typeof level !== 'string')) continue;
          all.push(child);
          await walk(child);
        }
      };
      await walk(undefined);
      return all.sort((a, b) => a.join('.').localeCompare(b.join('.')));
    },

    async listTables(namespace) {
      const cfg = await serverConfig();
      const identifiers = await listPages<{ namespace?: unknown; name?: unknown }>(
        cfg,
        `${cfg.root}/namespaces/${namespacePath(cfg, namespace)}/tables`,
        {},
        'identifiers',
        {},
        `listing the tables of namespace ${namespace.join('.')}`,
        () =>
          new LakehouseError('NAMESPACE_NOT_FOUND', `Catalog ${name}: namespace ${namespace.join('.')} does not exist; create it with createNamespace.`),
      );
      return identifiers
        .filter((entry) => typeof entry.name === 'string')
        .map((entry) => ({
          namespace: Array.isArray(entry.namespace) ? entry.namespace.map(String) : [...namespace],
          name: entry.name as string,
        }))
        .sort((a, b) => a.name.localeCompare(b.name));
    },

    async tableExists(id) {
      const cfg = await serverConfig();
      const table = formatIdentifier(id);
      // Servers that do not declare the HEAD route (the protocol's default route set has none) are asked with a load.
      const method: Method = cfg.endpoints?.has(TABLE_HEAD_ENDPOINT) === true ? 'HEAD' : 'GET';
      const request: Request = { method, path: tablePath(cfg, id), repeatable: true };
      const answer = await api(request, { table });
      if (answer.status === 200 || answer.status === 204) return true;
      if (answer.status === 404) return false;
      throw failure(answer, request, { table }, `checking whether table ${table} exists`);
    },

    async createTable(id, createRequest: CreateTableRequest) {
      validateSchema(createRequest.schema);
      const cfg = await serverConfig();
      const table = formatIdentifier(id);
      const formatVersion = createRequest.properties?.['format-version'];
      if (formatVersion !== undefined && formatVersion !== '2') {
        throw new LakehouseError(
          'INVALID_TABLE_PROPERTIES',
          `Catalog ${name}: table ${table} cannot be created with format-version ${formatVersion}: Tributary reads and writes format-version 2.`,
          { table },
        );
      }
      const request: Request = {
        method: 'POST',
        path: `${cfg.root}/namespaces/${namespacePath(cfg, id.namespace)}/tables`,
        body: losslessStringify({
          name: id.name,
          ...(createRequest.location === undefined ? {} : { location: createRequest.location }),
          schema: createRequest.schema,
          ...(createRequest.partitionSpec === undefined ? {} : { 'partition-spec': createRequest.partitionSpec }),
          ...(createRequest.sortOrder === undefined ? {} : { 'write-order': createRequest.sortOrder }),
          'stage-create': false,
          properties: { ...createRequest.properties, 'format-version': '2' },
        }),
        repeatable: false,
      };
      let answer = await api(request, { table });
      if (answer.status === 404) {
        // The Catalog contract creates the namespace along with the table.
        await createNamespace(id.namespace, {});
        answer = await api(request, { table });
      }
      if (answer.status === 409) {
        throw new LakehouseError('TABLE_EXISTS', `Table ${table} already exists in catalog ${name}.`, { table });
      }
      if (answer.status !== 200) throw failure(answer, request, { table }, `creating table ${table}`);
      return toLoaded(id, answer, request);
    },

    async loadTable(id) {
      const cfg = await serverConfig();
      const table = formatIdentifier(id);
      const request: Request = { method: 'GET', path: tablePath(cfg, id), repeatable: true };
      const answer = await api(request, { table });
      if (answer.status === 404) {
        throw new LakehouseError('TABLE_NOT_FOUND', `Table ${table} does not exist in catalog ${name} (${base}).`, { table });
      }
      if (answer.status !== 200) throw failure(answer, request, { table }, `loading table ${table}`);
      return toLoaded(id, answer, request);
    },

    async commitTable(id, requirements: readonly TableRequirement[], updates: readonly TableUpdate[]) {
      const cfg = await serverConfig();
      const table = formatIdentifier(id);
      const path = tablePath(cfg, id);
      const request: Request = {
        method: 'POST',
        path,
        body: losslessStringify({ identifier: { namespace: id.namespace, name: id.name }, requirements, updates }),
        repeatable: false,
      };
      const unknown = (why: string, cause?: unknown): CommitStateUnknownError =>
        new CommitStateUnknownError(
          `Commit to table ${table} in catalog ${name} has an unknown outcome: POST ${path} ${why}. The commit may have been applied: ` +
            'keep the files it references, reload the table and check whether the change is there before retrying.',
          { table, cause },
        );
      let answer: HttpAnswer;
      try {
        answer = await send(`${base}${path}`, request);
      } catch (error) {
        if (error instanceof NoAnswer) throw unknown(`got no answer: ${error.reason}`, error.cause);
        throw error;
      }
      const status = answer.status;
      if (status === 200) {
        try {
          return toLoaded(id, answer, request);
        } catch (error) {
          // The server accepted the commit; only its answer is unusable. Deleting the commit's files now could
          // break the table, so the caller must treat this like any other unknown outcome.
          throw unknown(`answered HTTP 200 with a body that cannot be used (${(error as Error).message})`, error);
        }
      }
      if (status === 409) {
        throw new CommitConflictError(
          `Commit to table ${table} in catalog ${name} conflicts with a concurrent change (HTTP 409: ${serverError(answer)}). ` +
            'Reload the table, rebase the change and commit again.',
          { table },
        );
      }
      if (status === 404) {
        throw new LakehouseError('TABLE_NOT_FOUND', `Commit to table ${table} failed: the table does not exist in catalog ${name} (HTTP 404: ${serverError(answer)}).`, {
          table,
        });
      }
      if (status === 400) {
        throw new LakehouseError(
          'INVALID_UPDATE',
          `Catalog ${name} refused the commit to table ${table} as invalid (HTTP 400: ${serverError(answer)}). Nothing was applied.`,
          { table },
        );
      }
      if (status >= 500) throw unknown(`answered HTTP ${status} (${serverError(answer)})`);
      throw failure(answer, request, { table }, `committing to table ${table}`);
    },

    async dropTable(id, dropOptions = {}) {
      const cfg = await serverConfig();
      const table = formatIdentifier(id);
      const request: Request = {
        method: 'DELETE',
        path: tablePath(cfg, id),
        query: { purgeRequested: dropOptions.purge === true ? 'true' : undefined },
        // Not repeated: a second attempt after a lost answer would report a missing table.
        repeatable: false,
      };
      const answer = await api(request, { table });
      if (answer.status === 200 || answer.status === 204) return;
      if (answer.status === 404) {
        throw new LakehouseError('TABLE_NOT_FOUND', `Table ${table} does not exist in catalog ${name}; nothing was dropped.`, { table });
      }
      throw failure(answer, request, { table }, `dropping table ${table}`);
    },
  };
}

function queryString(query: Readonly<Record<string, string | undefined>> | undefined): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) if (value !== undefined) params.set(key, value);
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

function stringMap(value: unknown): Record<string, string> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return {};
  return Object.fromEntries(Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}
