import { randomBytes } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import avro from 'avsc';
import { LakehouseError } from '../errors.js';

/**
 * Avro object container files for Iceberg manifests and manifest lists, written by hand around avsc's binary encoder.
 *
 * Why not avsc's own file encoder: Iceberg readers resolve manifest columns by the `field-id` attributes of the Avro
 * schema stored in the file header, and avsc re-exports a parsed schema without them. So the header stores the schema
 * JSON exactly as we built it. Longs are `bigint` because snapshot ids of Java writers exceed 2^53.
 */

const longType = avro.types.LongType.__with({
  fromBuffer: (buffer: Buffer) => buffer.readBigInt64LE(),
  toBuffer: (value: bigint) => {
    const buffer = Buffer.alloc(8);
    buffer.writeBigInt64LE(BigInt(value));
    return buffer;
  },
  fromJSON: (value: unknown) => BigInt(value as number),
  toJSON: (value: bigint) => Number(value),
  isValid: (value: unknown) => typeof value === 'bigint' || (typeof value === 'number' && Number.isSafeInteger(value)),
  compare: (a: bigint, b: bigint) => (a === b ? 0 : a < b ? -1 : 1),
});

const MAGIC = Buffer.from([0x4f, 0x62, 0x6a, 0x01]);

const headerType = avro.Type.forSchema({
  type: 'record',
  name: 'org.apache.avro.file.Header',
  fields: [
    { name: 'magic', type: { type: 'fixed', name: 'Magic', size: 4 } },
    { name: 'meta', type: { type: 'map', values: 'bytes' } },
    { name: 'sync', type: { type: 'fixed', name: 'Sync', size: 16 } },
  ],
});
const blockLong = avro.Type.forSchema('long');

/**
 * Builds an avsc type whose longs are bigint, from an Avro schema given as JSON.
 *
 * @example
 * ```ts
 * const type = avroType({ type: 'record', name: 'r', fields: [{ name: 'id', type: 'long', 'field-id': 1 }] });
 * ```
 */
export function avroType(schema: object): avro.Type {
  return avro.Type.forSchema(schema as avro.Schema, { registry: { long: longType }, wrapUnions: false });
}

/**
 * Encodes records into one Avro container file (deflate codec), with `schema` stored verbatim in the header next to
 * the given key-value metadata.
 *
 * @example
 * ```ts
 * const bytes = writeAvroFile(manifestSchema, entries, { 'format-version': '2', content: 'data' });
 * ```
 */
export function writeAvroFile(schema: object, records: readonly unknown[], metadata: Readonly<Record<string, string>>): Uint8Array {
  const type = avroType(schema);
  const meta: Record<string, Buffer> = {
    'avro.schema': Buffer.from(JSON.stringify(schema)),
    'avro.codec': Buffer.from('deflate'),
  };
  for (const [key, value] of Object.entries(metadata)) meta[key] = Buffer.from(value);
  const sync = randomBytes(16);
  const parts: Buffer[] = [headerType.toBuffer({ magic: MAGIC, meta, sync })];
  const batchSize = 4096;
  for (let start = 0; start < records.length; start += batchSize) {
    const batch = records.slice(start, start + batchSize);
    const encoded = Buffer.concat(batch.map((record) => type.toBuffer(record)));
    const compressed = deflateRawSync(encoded);
    parts.push(blockLong.toBuffer(batch.length), blockLong.toBuffer(compressed.length), compressed, sync);
  }
  return new Uint8Array(Buffer.concat(parts));
}

/** What {@link readAvroFile} returns: the header metadata (as strings), the writer schema, and the records. */
export interface AvroFileContents {
  readonly metadata: Readonly<Record<string, string>>;
  readonly schema: unknown;
  readonly records: unknown[];
}

/**
 * Decodes an Avro container file written by any Iceberg writer (codecs `null` and `deflate`). Records are decoded
 * with the writer's schema; longs come back as `bigint`.
 *
 * @example
 * ```ts
 * const { metadata, records } = readAvroFile(await store.get(manifestKey), manifestUri);
 * ```
 */
export function readAvroFile(bytes: Uint8Array, file?: string): AvroFileContents {
  const corrupt = (problem: string, cause?: unknown): never => {
    throw new LakehouseError('CORRUPT_MANIFEST', `Avro file ${file ?? ''} is unreadable: ${problem}.`, { file, cause });
  };
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buffer.length < 4 || !buffer.subarray(0, 4).equals(MAGIC)) return corrupt('not an Avro object container file');
  let header: { meta: Record<string, Buffer>; sync: Buffer };
  let offset: number;
  try {
    const decoded = headerType.decode(buffer, 0);
    if (decoded.offset < 0) return corrupt('truncated header');
    header = decoded.value as { meta: Record<string, Buffer>; sync: Buffer };
    offset = decoded.offset;
  } catch (error) {
    return corrupt('bad header', error);
  }
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(header.meta)) metadata[key] = value.toString('utf8');
  const codec = metadata['avro.codec'] ?? 'null';
  if (codec !== 'null' && codec !== 'deflate') return corrupt(`codec ${codec} is not supported (null and deflate are)`);
  let schema: unknown;
  let type: avro.Type;
  try {
    schema = JSON.parse(metadata['avro.schema'] ?? 'null');
    type = avroType(schema as object);
  } catch (error) {
    return corrupt('bad schema in header', error);
  }
  const records: unknown[] = [];
  while (offset < buffer.length) {
    const count = blockLong.decode(buffer, offset);
    const size = blockLong.decode(buffer, count.offset);
    if (count.offset < 0 || size.offset < 0) return corrupt('truncated block header');
    const start = size.offset;
    const end = start + Number(size.value);
    if (end + 16 > buffer.length) return corrupt('truncated block');
    let block = buffer.subarray(start, end);
    if (codec === 'deflate') {
      try {
        block = inflateRawSync(block);
      } catch (error) {
        return corrupt('bad deflate block', error);
      }
    }
    let position = 0;
    for (let i = 0; i < Number(count.value); i++) {
      const record = type.decode(block, position);
      if (record.offset < 0) return corrupt('truncated record');
      records.push(record.value);
      position = record.offset;
    }
    if (!buffer.subarray(end, end + 16).equals(header.sync)) return corrupt('sync marker mismatch');
    offset = end + 16;
  }
  return { metadata, schema, records };
}
