import { z } from 'zod';
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
  /** Schemas kept in memory (least recently used dropped first). Schemas by id never change, so entries never expire. Default `1_000`. */
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
  readonly #cache = new Map<number, Promise<RegisteredSchema>>();
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
    const cached = this.#cache.get(id);
    if (cached !== undefined) {
      // Refresh the entry's place in the LRU order.
      this.#cache.delete(id);
      this.#cache.set(id, cached);
      return cached;
    }
    const request = this.#fetchSchema(id);
    this.#cache.set(id, request);
    request.catch(() => this.#cache.delete(id));
    while (this.#cache.size > this.#options.cacheSize) this.#cache.delete(this.#cache.keys().next().value!);
    return request;
  }

  async #fetchSchema(id: number): Promise<RegisteredSchema> {
    const { url, basicAuth, timeoutMs } = this.#options;
    const fetchImpl = this.#options.fetch ?? fetch;
    const endpoint = `${url.replace(/\/+$/, '')}/schemas/ids/${id}`;
    const headers: Record<string, string> = { accept: 'application/vnd.schemaregistry.v1+json, application/json' };
    if (basicAuth !== undefined) headers.authorization = `Basic ${Buffer.from(`${basicAuth.username}:${basicAuth.password}`).toString('base64')}`;
    this.#requests++;
    let response: Response;
    try {
      response = await fetchImpl(endpoint, { headers, signal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      throw new ConnectorError('KAFKA_SCHEMA_REGISTRY_FAILED', `Schema registry ${url} did not answer for schema id ${id}: ${error instanceof Error ? error.message : String(error)}.`, {
        connector: 'kafka',
        retriable: true,
        cause: error,
      });
    }
    if (response.status === 404) {
      throw new ConnectorError('KAFKA_SCHEMA_NOT_FOUND', `Schema id ${id} is not registered at ${url}. The message was written against another registry, or the schema was deleted.`, {
        connector: 'kafka',
      });
    }
    if (!response.ok) {
      throw new ConnectorError('KAFKA_SCHEMA_REGISTRY_FAILED', `Schema registry ${url} answered ${response.status} for schema id ${id}.`, {
        connector: 'kafka',
        retriable: response.status >= 500 || response.status === 429,
      });
    }
    const body = (await response.json()) as { schema?: unknown; schemaType?: unknown; references?: unknown };
    if (typeof body.schema !== 'string') {
      throw new ConnectorError('KAFKA_SCHEMA_REGISTRY_FAILED', `Schema registry ${url} returned no schema text for id ${id}.`, { connector: 'kafka' });
    }
    return {
      id,
      schemaType: typeof body.schemaType === 'string' ? body.schemaType : 'AVRO',
      schema: body.schema,
      references: Array.isArray(body.references) ? (body.references as RegisteredSchema['references']) : [],
    };
  }
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

/**
 * Options of {@link confluentDeserializer}.
 *
 * @example
 * ```ts
 * const options: ConfluentDeserializerOptions<Order> = { registry, compile: (schema) => avroDecoder(schema.schema) };
 * ```
 */
export interface ConfluentDeserializerOptions<V> {
  /** Where schemas are looked up. */
  readonly registry: SchemaRegistry;
  /**
   * Turns a registered schema into a decoder of payloads; called once per schema id (the decoder is cached). For Avro,
   * e.g. with `avsc`: `(schema) => { const type = avro.Type.forSchema(JSON.parse(schema.schema)); return (payload) => type.fromBuffer(payload); }`.
   * For JSON Schema the default parses the payload as JSON (validate it downstream with `validate`).
   */
  readonly compile?: (schema: RegisteredSchema) => (payload: Buffer, meta: KafkaMessageMeta) => V;
}

/**
 * A {@link KafkaDeserializer} for values in the Confluent wire format: reads the schema id, fetches the schema from the
 * registry (cached), and decodes the payload with the decoder `compile` built for that schema. Tombstones stay
 * `null`. A value that is not framed, names an unknown schema, or fails to decode goes to the dead letters.
 *
 * Tributary ships no Avro decoder (the connectors package has no Avro dependency): pass `compile` for Avro or
 * Protobuf. Without `compile`, JSON Schema payloads are parsed as JSON and other schema types are refused.
 *
 * @example
 * ```ts
 * const registry = schemaRegistry({ url: 'http://registry:8081' });
 * const orders = kafkaSource<Order>({ brokers, groupId: 'g', topics: ['orders'], deserializer: confluentDeserializer({ registry }) });
 * ```
 */
export function confluentDeserializer<V = unknown>(options: ConfluentDeserializerOptions<V>): KafkaDeserializer<V> {
  const { registry } = options;
  const compile = options.compile ?? defaultCompile<V>;
  const decoders = new Map<number, Promise<(payload: Buffer, meta: KafkaMessageMeta) => V>>();
  return async (value, meta) => {
    if (value === null) return null as V;
    const { schemaId, payload } = decodeConfluentFrame(value);
    let decoder = decoders.get(schemaId);
    if (decoder === undefined) {
      decoder = registry.schema(schemaId).then(compile);
      decoders.set(schemaId, decoder);
      decoder.catch(() => decoders.delete(schemaId));
    }
    return (await decoder)(payload, meta);
  };
}

function defaultCompile<V>(schema: RegisteredSchema): (payload: Buffer) => V {
  if (schema.schemaType !== 'JSON') {
    throw new ConnectorError(
      'KAFKA_SCHEMA_TYPE_UNSUPPORTED',
      `Schema id ${schema.id} is ${schema.schemaType}; confluentDeserializer decodes only JSON Schema payloads by itself. Pass \`compile\` (e.g. with avsc for Avro).`,
      { connector: 'kafka' },
    );
  }
  return (payload) => JSON.parse(payload.toString('utf8')) as V;
}
