import type * as Avsc from 'avsc';
import { z } from 'zod';
import { formatDecimal, formatEpochDay, formatEpochTimestamp, formatTimeOfDay, twosComplementToBigInt } from '../debezium/logical-types.js';
import { ConnectorError } from '../errors.js';
import { parseOptions } from './parse-options.js';
import { functionSchema, milliseconds } from './kafka-connection.js';
import type { KafkaDeserializer, KafkaMessageMeta } from './kafka-deserializer.js';

/**
 * A schema as a Confluent-compatible schema registry returns it for an id.
 *
 * @example
 * ```ts
 * const { schemaType, schema } = await registry.schema(42);
 * ```
 */
export interface RegisteredSchema {
  readonly id: number;
  /** `AVRO` (the registry's default when it omits the field), `JSON` or `PROTOBUF`. */
  readonly schemaType: string;
  /** The schema text (Avro JSON, JSON Schema, or a .proto file). */
  readonly schema: string;
  /** Schemas this one references (`{ name, subject, version }`), as the registry lists them. */
  readonly references: readonly { readonly name: string; readonly subject: string; readonly version: number }[];
}

/**
 * The parts of a message in the Confluent wire format: magic byte 0, a 4-byte big-endian schema id, the payload.
 *
 * @example
 * ```ts
 * const frame: ConfluentFrame = decodeConfluentFrame(value);
 * ```
 */
export interface ConfluentFrame {
  readonly schemaId: number;
  readonly payload: Buffer;
}

/**
 * Splits a value in the Confluent wire format (`0x00`, schema id as int32 big-endian, payload).
 *
 * @throws ConnectorError `KAFKA_NOT_CONFLUENT_FRAMED` when the value is shorter than 5 bytes or the magic byte is not 0
 *
 * @example
 * ```ts
 * const { schemaId, payload } = decodeConfluentFrame(message.value!);
 * ```
 */
export function decodeConfluentFrame(value: Buffer | Uint8Array): ConfluentFrame {
  const bytes = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (bytes.length < 5 || bytes[0] !== 0) {
    const what = bytes.length < 5 ? `${bytes.length} byte(s), fewer than the 5-byte header` : `magic byte ${bytes[0]}, not 0`;
    throw new ConnectorError('KAFKA_NOT_CONFLUENT_FRAMED', `The value is not in the Confluent wire format (${what}). Was it written with a schema-registry serializer?`, {
      connector: 'kafka',
    });
  }
  return { schemaId: bytes.readInt32BE(1), payload: bytes.subarray(5) };
}

/**
 * Builds a value in the Confluent wire format: the inverse of {@link decodeConfluentFrame}.
 *
 * @example
 * ```ts
 * await producer.send({ topic, messages: [{ value: encodeConfluentFrame(42, Buffer.from(JSON.stringify(order))) }] });
 * ```
 */
export function encodeConfluentFrame(schemaId: number, payload: Buffer | Uint8Array): Buffer {
  if (!Number.isInteger(schemaId) || schemaId < 0 || schemaId > 0x7fffffff) {
    throw new ConnectorError('KAFKA_INVALID_SCHEMA_ID', `Schema id ${schemaId} is not a non-negative 32-bit integer.`, { connector: 'kafka' });
  }
  const header = Buffer.alloc(5);
  header.writeInt32BE(schemaId, 1);
  return Buffer.concat([header, payload]);
}

const schemaRegistrySchema = z.strictObject({
  /** Base URL of the registry, e.g. `https://registry:8081`. No credentials in it: use `basicAuth`. Required. */
  url: z
    .string()
    .refine((value) => URL.canParse(value) && /^https?:$/.test(new URL(value).protocol), 'must be an http(s) URL')
    .refine((value) => !URL.canParse(value) || (new URL(value).username === '' && new URL(value).password === ''), 'must not contain credentials; use basicAuth'),
  /** HTTP basic authentication (Confluent Cloud API key and secret). Never logged. Default: none. */
  basicAuth: z.strictObject({ username: z.string().min(1), password: z.string().min(1) }).optional(),
  /** Per request, in ms. Default `10_000`. */
  timeoutMs: milliseconds('timeoutMs').default(10_000),
  /** Schemas kept in memory, by id and by subject version (least recently used dropped first). Registered schemas never change, so entries never expire. Default `1_000`. */
  cacheSize: z.int().positive('must be a positive integer').default(1_000),
  /** The fetch implementation. Default: the global `fetch`. */
  fetch: functionSchema<typeof fetch>().optional(),
});

/**
 * Options of {@link schemaRegistry}.
 *
 * @example
 * ```ts
 * const options: SchemaRegistryOptions = { url: 'https://registry:8081', cacheSize: 500 };
 * ```
 *
 * @interface
 */
export type SchemaRegistryOptions = z.input<typeof schemaRegistrySchema>;

/**
 * A client of a Confluent-compatible schema registry, built by {@link schemaRegistry}: looks schemas up by id, with a
 * cache and one request per id at a time.
 *
 * @example
 * ```ts
 * const registry: SchemaRegistry = schemaRegistry({ url: 'http://registry:8081' });
 * console.log((await registry.schema(1)).schemaType, registry.requests);
 * ```
 */
export class SchemaRegistry {
  readonly #options: z.output<typeof schemaRegistrySchema>;
  readonly #cache = new Map<string, Promise<RegisteredSchema>>();
  #requests = 0;

  /** @internal use {@link schemaRegistry} */
  constructor(options: z.output<typeof schemaRegistrySchema>) {
    this.#options = options;
  }

  /** HTTP requests made so far (cache misses). */
  get requests(): number {
    return this.#requests;
  }

  /**
   * The schema registered under `id` (`GET /schemas/ids/{id}`). Cached; concurrent lookups of one id share a request.
   *
   * @throws ConnectorError `KAFKA_SCHEMA_NOT_FOUND` (404, not retriable) or `KAFKA_SCHEMA_REGISTRY_FAILED` (network,
   *   timeout or other status; retriable for 5xx, 429 and network errors)
   */
  schema(id: number): Promise<RegisteredSchema> {
    return this.#cached(`id:${id}`, () => this.#get(`/schemas/ids/${id}`, `schema id ${id}`, (body) => ({ id, ...registered(body) })));
  }

  /**
   * The schema registered as `version` of `subject` (`GET /subjects/{subject}/versions/{version}`): how schema
   * references are resolved. Cached like {@link SchemaRegistry.schema}, in the same bounded cache.
   *
   * @throws ConnectorError `KAFKA_SCHEMA_NOT_FOUND` or `KAFKA_SCHEMA_REGISTRY_FAILED`, as {@link SchemaRegistry.schema}
   */
  subjectVersion(subject: string, version: number): Promise<RegisteredSchema> {
    return this.#cached(`subject:${version}:${subject}`, () =>
      this.#get(`/subjects/${encodeURIComponent(subject)}/versions/${version}`, `subject "${subject}" version ${version}`, (body) => ({
        id: typeof body.id === 'number' ? body.id : -1,
        ...registered(body),
      })),
    );
  }

  #cached(key: string, load: () => Promise<RegisteredSchema>): Promise<RegisteredSchema> {
    const cached = this.#cache.get(key);
    if (cached !== undefined) {
      // Refresh the entry's place in the LRU order.
      this.#cache.delete(key);
      this.#cache.set(key, cached);
      return cached;
    }
    const request = load();
    this.#cache.set(key, request);
    request.catch(() => this.#cache.delete(key));
    while (this.#cache.size > this.#options.cacheSize) this.#cache.delete(this.#cache.keys().next().value!);
    return request;
  }

  async #get(path: string, what: string, parse: (body: RegistryBody) => RegisteredSchema): Promise<RegisteredSchema> {
    const { url, basicAuth, timeoutMs } = this.#options;
    const fetchImpl = this.#options.fetch ?? fetch;
    const endpoint = `${url.replace(/\/+$/, '')}${path}`;
    const headers: Record<string, string> = { accept: 'application/vnd.schemaregistry.v1+json, application/json' };
    if (basicAuth !== undefined) headers.authorization = `Basic ${Buffer.from(`${basicAuth.username}:${basicAuth.password}`).toString('base64')}`;
    this.#requests++;
    let response: Response;
    let body: RegistryBody | undefined;
    try {
      response = await fetchImpl(endpoint, { headers, signal: AbortSignal.timeout(timeoutMs) });
      if (response.ok) body = (await response.json()) as RegistryBody;
    } catch (error) {
      throw new ConnectorError('KAFKA_SCHEMA_REGISTRY_FAILED', `Schema registry ${url} did not answer for ${what}: ${error instanceof Error ? error.message : String(error)}.`, {
        connector: 'kafka',
        retriable: true,
        cause: error,
      });
    }
    if (response.status === 404) {
      throw new ConnectorError('KAFKA_SCHEMA_NOT_FOUND', `${capitalize(what)} is not registered at ${url}. The message was written against another registry, or the schema was deleted.`, {
        connector: 'kafka',
      });
    }
    if (!response.ok || body === undefined) {
      throw new ConnectorError('KAFKA_SCHEMA_REGISTRY_FAILED', `Schema registry ${url} answered ${response.status} for ${what}.`, {
        connector: 'kafka',
        retriable: response.status >= 500 || response.status === 429,
      });
    }
    if (typeof body.schema !== 'string') {
      throw new ConnectorError('KAFKA_SCHEMA_REGISTRY_FAILED', `Schema registry ${url} returned no schema text for ${what}.`, { connector: 'kafka' });
    }
    return parse(body);
  }
}

interface RegistryBody {
  id?: unknown;
  schema?: unknown;
  schemaType?: unknown;
  references?: unknown;
}

function registered(body: RegistryBody): Omit<RegisteredSchema, 'id'> {
  return {
    schemaType: typeof body.schemaType === 'string' ? body.schemaType : 'AVRO',
    schema: body.schema as string,
    references: Array.isArray(body.references) ? (body.references as RegisteredSchema['references']) : [],
  };
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * A client of a Confluent-compatible schema registry (Confluent Schema Registry, Redpanda, Karapace, Apicurio's
 * compatibility API).
 *
 * @example
 * ```ts
 * const registry = schemaRegistry({ url: 'https://registry:8081', basicAuth: { username: key, password: secret } });
 * ```
 */
export function schemaRegistry(options: SchemaRegistryOptions): SchemaRegistry {
  return new SchemaRegistry(parseOptions(schemaRegistrySchema, 'schemaRegistry', options));
}

/** Decodes the payload of one message (the bytes after the Confluent header) with the schema it was written with. */
type PayloadDecoder<V> = (payload: Buffer, meta: KafkaMessageMeta) => V;

/**
 * Options of {@link confluentDeserializer}.
 *
 * @example
 * ```ts
 * const options: ConfluentDeserializerOptions<Order> = { registry: schemaRegistry({ url: 'http://registry:8081' }) };
 * ```
 */
export interface ConfluentDeserializerOptions<V> {
  /** Where schemas are looked up. */
  readonly registry: SchemaRegistry;
  /**
   * Turns a registered schema into a decoder of payloads, instead of the built-in Avro and JSON Schema decoding (e.g.
   * for Protobuf). Called once per schema id; the decoder is cached. May be asynchronous; `registry` is at hand to
   * resolve references.
   */
  readonly compile?: (
    schema: RegisteredSchema,
    registry: SchemaRegistry,
  ) => ((payload: Buffer, meta: KafkaMessageMeta) => V) | Promise<(payload: Buffer, meta: KafkaMessageMeta) => V>;
}

/**
 * A {@link KafkaDeserializer} for values in the Confluent wire format: reads the schema id, fetches the writer's schema
 * from the registry (cached), and decodes the payload with it. Tombstones stay `null`.
 *
 * - **Avro** (with `avsc`, loaded on the first Avro schema): each record is decoded with the schema it was written with,
 *   so records written before and after a schema change each keep their own fields. Schema references are fetched
 *   from the registry (`subject` / `version`). Records become plain objects; `bytes` and `fixed` stay `Buffer`s; a
 *   union gives the branch's value (`null` included) when JavaScript values tell its branches apart, otherwise (two
 *   records, two maps, ...) Avro's JSON form (`{ "branch.Name": value }`).
 *   `long` is a `number`, or an exact `bigint` beyond ±2^53. Logical types read as the Debezium decoder writes them:
 *   `decimal` an exact string with its scale (`"1234.50"`), `date` `YYYY-MM-DD`, `time-millis`/`-micros`
 *   `HH:MM:SS.fff(fff)`, `timestamp-millis`/`-micros`/`-nanos` ISO-8601 UTC with 3/6/9 digits (`local-timestamp-*`: the
 *   same without the `Z`), `uuid` its string.
 * - **JSON Schema**: the payload parsed as JSON, integers beyond ±2^53 as exact `bigint`s (validate with a schema
 *   downstream).
 * - Other types (Protobuf): pass `compile`.
 *
 * A value that is not framed, names an id the registry does not know, or does not decode goes to the dead letters. A
 * registry that does not answer (network, timeout, 5xx, 429) is retried by the source, which then fails with
 * `KAFKA_DESERIALIZER_UNAVAILABLE` rather than dead-letter good records.
 *
 * @example
 * ```ts
 * const registry = schemaRegistry({ url: 'http://registry:8081' });
 * const orders = kafkaSource<Order>({ brokers, groupId: 'g', topics: ['orders'], deserializer: confluentDeserializer({ registry }) });
 * ```
 */
export function confluentDeserializer<V = unknown>(options: ConfluentDeserializerOptions<V>): KafkaDeserializer<V> {
  const { registry } = options;
  const compile = options.compile ?? (defaultCompile as (schema: RegisteredSchema, registry: SchemaRegistry) => Promise<PayloadDecoder<V>>);
  const decoders = new Map<number, Promise<PayloadDecoder<V>>>();
  return async (value, meta) => {
    if (value === null) return null as V;
    const { schemaId, payload } = decodeConfluentFrame(value);
    let decoder = decoders.get(schemaId);
    if (decoder === undefined) {
      decoder = registry.schema(schemaId).then((schema) => compile(schema, registry));
      decoders.set(schemaId, decoder);
      decoder.catch(() => decoders.delete(schemaId));
      // Bounded like the registry's cache: ids are few in practice, but a hostile topic could name many.
      while (decoders.size > 1_000) decoders.delete(decoders.keys().next().value!);
    }
    return (await decoder)(payload, meta);
  };
}

async function defaultCompile(schema: RegisteredSchema, registry: SchemaRegistry): Promise<PayloadDecoder<unknown>> {
  if (schema.schemaType === 'JSON') return (payload) => parseJsonExact(payload.toString('utf8'));
  if (schema.schemaType === 'AVRO') return compileAvro(schema, registry);
  throw new ConnectorError(
    'KAFKA_SCHEMA_TYPE_UNSUPPORTED',
    `Schema id ${schema.id} is ${schema.schemaType}; confluentDeserializer decodes Avro and JSON Schema payloads by itself. Pass \`compile\` for ${schema.schemaType}.`,
    { connector: 'kafka' },
  );
}

const longDigits = /\d{16}/;
const integerText = /^-?\d+$/;

/** `JSON.parse`, with integers beyond ±2^53 exact (`bigint`) through the reviver's source text; only text with a long digit run pays for it. */
function parseJsonExact(text: string): unknown {
  if (!longDigits.test(text)) return JSON.parse(text);
  return JSON.parse(text, (_key, value: unknown, context?: { source?: string }) =>
    typeof value === 'number' && !Number.isSafeInteger(value) && context?.source !== undefined && integerText.test(context.source) ? BigInt(context.source) : value,
  );
}

/** References followed for one schema, all levels together: beyond this a schema is refused rather than looped on. */
const maxReferences = 100;

async function compileAvro(schema: RegisteredSchema, registry: SchemaRegistry): Promise<PayloadDecoder<unknown>> {
  const kit = await avroKit();
  // One avsc registry per writer schema: referenced named types are parsed into it first, then the schema itself.
  const named: Record<string, Avsc.Type> = { long: kit.long };
  const options: Partial<Avsc.ForSchemaOptions> = { registry: named, logicalTypes: kit.logicalTypes };
  const seen = new Set<string>();
  const parse = (registeredSchema: RegisteredSchema, what: string): Avsc.Type => {
    try {
      return kit.avro.Type.forSchema(JSON.parse(registeredSchema.schema) as Avsc.Schema, options);
    } catch (error) {
      throw new ConnectorError('KAFKA_SCHEMA_INVALID', `${what} is not a usable Avro schema: ${error instanceof Error ? error.message : String(error)}.`, { connector: 'kafka', cause: error });
    }
  };
  const addReferences = async (references: RegisteredSchema['references']): Promise<void> => {
    for (const reference of references) {
      const key = `${reference.version}:${reference.subject}`;
      if (seen.has(key)) continue;
      seen.add(key);
      if (seen.size > maxReferences) {
        throw new ConnectorError('KAFKA_SCHEMA_INVALID', `Schema id ${schema.id} references more than ${maxReferences} schemas.`, { connector: 'kafka' });
      }
      const referenced = await registry.subjectVersion(reference.subject, reference.version);
      if (referenced.schemaType !== 'AVRO') {
        throw new ConnectorError('KAFKA_SCHEMA_INVALID', `Schema id ${schema.id} references ${reference.name} (subject "${reference.subject}" version ${reference.version}), a ${referenced.schemaType} schema.`, {
          connector: 'kafka',
        });
      }
      await addReferences(referenced.references);
      // A reference whose names are already known (the same type reached twice) adds nothing.
      if (named[reference.name] === undefined) parse(referenced, `Referenced schema ${reference.name} (subject "${reference.subject}" version ${reference.version})`);
    }
  };
  await addReferences(schema.references);
  const type = parse(schema, `Schema id ${schema.id}`);
  return (payload) => plain(type.fromBuffer(payload));
}

/** avsc's records are class instances with methods; the JSON path gives plain objects, and so does this one. */
function plain(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return value;
  if (Array.isArray(value)) return value.map(plain);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) out[key] = plain((value as Record<string, unknown>)[key]);
  return out;
}

interface AvroKit {
  avro: typeof Avsc;
  long: Avsc.Type;
  logicalTypes: Record<string, new (schema: Avsc.Schema, opts?: unknown) => Avsc.types.LogicalType>;
}

let avroKitPromise: Promise<AvroKit> | undefined;

/** avsc and the types built on it, loaded on the first Avro schema so JSON-only users never load it. */
function avroKit(): Promise<AvroKit> {
  avroKitPromise ??= import('avsc').then((module) => buildAvroKit((module as unknown as { default?: typeof Avsc }).default ?? module));
  return avroKitPromise;
}

function buildAvroKit(avro: typeof Avsc): AvroKit {
  const minSafe = BigInt(Number.MIN_SAFE_INTEGER);
  const maxSafe = BigInt(Number.MAX_SAFE_INTEGER);
  const long = avro.types.LongType.__with({
    fromBuffer: (buffer: Buffer) => {
      const value = buffer.readBigInt64LE();
      return value >= minSafe && value <= maxSafe ? Number(value) : value;
    },
    toBuffer: (value: number | bigint) => {
      const buffer = Buffer.alloc(8);
      buffer.writeBigInt64LE(BigInt(value));
      return buffer;
    },
    fromJSON: (value: unknown) => (typeof value === 'bigint' || Number.isSafeInteger(value) ? value : BigInt(value as number)),
    toJSON: (value: number | bigint) => Number(value),
    isValid: (value: unknown) => typeof value === 'bigint' || (typeof value === 'number' && Number.isSafeInteger(value)),
    compare: (a: number | bigint, b: number | bigint) => (a === b ? 0 : a < b ? -1 : 1),
  });

  const isLong = (type: Avsc.Type): boolean => type.typeName === 'long' || type.typeName === 'abstract:long';

  /**
   * A logical type read into its string form. Decoding only: it never writes. The constructor throws for a logical
   * type on the wrong underlying type, and avsc then uses the underlying type as the Avro specification says.
   */
  abstract class ReadOnlyLogicalType extends avro.types.LogicalType {
    protected override _toValue(): never {
      throw new TypeError(`confluentDeserializer's Avro types decode only (logical type ${this.typeName})`);
    }
    // Decoding uses the writer's own schema, so resolution is only ever between identical types.
    protected override _resolve(type: Avsc.Type): ((value: unknown) => unknown) | undefined {
      return type.typeName === this.typeName ? (value) => value : undefined;
    }
  }

  class DecimalType extends ReadOnlyLogicalType {
    readonly scale: number;
    constructor(schema: Avsc.Schema, opts?: unknown) {
      super(schema, opts);
      const { precision, scale = 0 } = schema as { precision?: unknown; scale?: unknown };
      const underlying = this.underlyingType.typeName;
      if (underlying !== 'bytes' && underlying !== 'fixed') throw new TypeError('decimal must annotate bytes or fixed');
      if (!Number.isInteger(precision) || (precision as number) < 1) throw new TypeError('decimal needs a positive precision');
      if (!Number.isInteger(scale) || (scale as number) < 0 || (scale as number) > (precision as number)) throw new TypeError('decimal scale must be 0..precision');
      this.scale = scale as number;
    }
    protected override _fromValue(value: Buffer): string {
      return formatDecimal(twosComplementToBigInt(value), this.scale);
    }
  }

  const onInt = (underlying: 'int' | 'long', format: (value: number | bigint) => string): new (schema: Avsc.Schema, opts?: unknown) => Avsc.types.LogicalType =>
    class extends ReadOnlyLogicalType {
      constructor(schema: Avsc.Schema, opts?: unknown) {
        super(schema, opts);
        const type = this.underlyingType;
        if (underlying === 'int' ? type.typeName !== 'int' : !isLong(type)) throw new TypeError(`must annotate ${underlying}`);
      }
      protected override _fromValue(value: number | bigint): string {
        return format(value);
      }
    };
  const local = (text: string): string => text.slice(0, -1);

  return {
    avro,
    long,
    logicalTypes: {
      decimal: DecimalType,
      date: onInt('int', (days) => formatEpochDay(Number(days))),
      'time-millis': onInt('int', (value) => formatTimeOfDay(value, 1_000)),
      'time-micros': onInt('long', (value) => formatTimeOfDay(value, 1_000_000)),
      'timestamp-millis': onInt('long', (value) => formatEpochTimestamp(value, 1)),
      'timestamp-micros': onInt('long', (value) => formatEpochTimestamp(value, 1_000)),
      'timestamp-nanos': onInt('long', (value) => formatEpochTimestamp(value, 1_000_000)),
      'local-timestamp-millis': onInt('long', (value) => local(formatEpochTimestamp(value, 1))),
      'local-timestamp-micros': onInt('long', (value) => local(formatEpochTimestamp(value, 1_000))),
      'local-timestamp-nanos': onInt('long', (value) => local(formatEpochTimestamp(value, 1_000_000))),
    },
  };
}
