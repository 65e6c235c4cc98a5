/**
 * Adds the Parquet `UUID` logical type to the FIXED_LEN_BYTE_ARRAY(16) columns of Iceberg `uuid` fields, which the
 * Iceberg spec's Parquet mapping asks for and arrow-rs (inside parquet-wasm) does not write: it would need Arrow's
 * canonical `arrow.uuid` extension type, a build feature parquet-wasm leaves off.
 *
 * Only the footer's schema elements change. Everything else in the footer (row groups, statistics, page index
 * offsets, key-value metadata) is copied byte for byte, and the data pages before the footer are untouched, so no
 * offset moves. The footer is Thrift's compact protocol; this walks it just far enough to find the schema elements.
 *
 * @module
 */
import { LakehouseError } from '../errors.js';

const STOP = 0;
const COMPACT_TRUE = 1;
const COMPACT_FALSE = 2;
const COMPACT_BYTE = 3;
const COMPACT_I16 = 4;
const COMPACT_I32 = 5;
const COMPACT_I64 = 6;
const COMPACT_DOUBLE = 7;
const COMPACT_BINARY = 8;
const COMPACT_LIST = 9;
const COMPACT_SET = 10;
const COMPACT_MAP = 11;
const COMPACT_STRUCT = 12;

const FIXED_LEN_BYTE_ARRAY = 7;
/** FileMetaData.schema, SchemaElement.type / field_id / logicalType, LogicalType.UUID. */
const FILE_SCHEMA = 2;
const ELEMENT_TYPE = 1;
const ELEMENT_FIELD_ID = 9;
const ELEMENT_LOGICAL_TYPE = 10;
const LOGICAL_UUID = 14;

class CompactReader {
  position: number;
  private readonly bytes: Uint8Array;

  constructor(bytes: Uint8Array, start: number) {
    this.bytes = bytes;
    this.position = start;
  }

  byte(): number {
    if (this.position >= this.bytes.length) throw new Error('footer ends early');
    return this.bytes[this.position++]!;
  }

  varint(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const byte = this.byte();
      result += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7;
      if (shift > 63) throw new Error('varint too long');
    }
  }

  zigzag(): number {
    const value = this.varint();
    return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
  }

  skip(type: number): void {
    switch (type) {
      case COMPACT_TRUE:
      case COMPACT_FALSE:
        return;
      case COMPACT_BYTE:
        this.position += 1;
        return;
      case COMPACT_I16:
      case COMPACT_I32:
      case COMPACT_I64:
        this.varint();
        return;
      case COMPACT_DOUBLE:
        this.position += 8;
        return;
      case COMPACT_BINARY: {
        // Read the length first: `position += varint()` would add it to the position from before the varint.
        const length = this.varint();
        this.position += length;
        return;
      }
      case COMPACT_LIST:
      case COMPACT_SET: {
        const header = this.byte();
        const size = header >> 4 === 15 ? this.varint() : header >> 4;
        const elementType = header & 0x0f;
        for (let index = 0; index < size; index++) {
          // Booleans inside a list take one byte each.
          if (elementType === COMPACT_TRUE || elementType === COMPACT_FALSE) this.position += 1;
          else this.skip(elementType);
        }
        return;
      }
      case COMPACT_MAP: {
        const size = this.varint();
        if (size === 0) return;
        const types = this.byte();
        for (let index = 0; index < size; index++) {
          this.skip(types >> 4);
          this.skip(types & 0x0f);
        }
        return;
      }
      case COMPACT_STRUCT:
        this.struct(() => false);
        return;
      default:
        throw new Error(`unknown compact type ${type} at byte ${this.position}`);
    }
  }

  /**
   * Reads a struct's fields until STOP; `visit(fieldId, type)` reads the field itself and returns true, or returns
   * false to have it skipped. Returns the id of the last field read.
   */
  struct(visit: (fieldId: number, type: number) => boolean): number {
    let fieldId = 0;
    for (;;) {
      const header = this.byte();
      if (header === STOP) return fieldId;
      const delta = header >> 4;
      fieldId = delta === 0 ? this.zigzag() : fieldId + delta;
      const type = header & 0x0f;
      if (!visit(fieldId, type)) this.skip(type);
    }
  }
}

interface ElementSpan {
  readonly start: number;
  /** Position of the element's STOP byte. */
  readonly stop: number;
  readonly lastFieldId: number;
  readonly physicalType: number | undefined;
  readonly fieldId: number | undefined;
  readonly hasLogicalType: boolean;
}

/** Returns `file` with the UUID logical type on the columns of `uuidFieldIds` (the same bytes when there are none). */
export function annotateUuidColumns(file: Uint8Array, uuidFieldIds: ReadonlySet<number>): Uint8Array {
  if (uuidFieldIds.size === 0) return file;
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const footerLength = view.getUint32(file.length - 8, true);
  const footerStart = file.length - 8 - footerLength;
  let spans: ElementSpan[];
  let footerEnd: number;
  try {
    ({ spans, footerEnd } = schemaSpans(file, footerStart));
  } catch (error) {
    throw new LakehouseError('PARQUET_WRITE_FAILED', `Could not read back the Parquet footer just written: ${String(error)}. This is a bug; please report it.`, { cause: error });
  }
  const targets = spans.filter(
    (span) => span.physicalType === FIXED_LEN_BYTE_ARRAY && span.fieldId !== undefined && uuidFieldIds.has(span.fieldId) && !span.hasLogicalType,
  );
  if (targets.length === 0) return file;

  const parts: Uint8Array[] = [file.subarray(0, footerStart)];
  let copied = footerStart;
  for (const span of targets) {
    parts.push(file.subarray(copied, span.stop));
    // Field 10 (struct) after the element's last field, then LogicalType { 14: UUIDType {} }, then the element's STOP.
    parts.push(Uint8Array.of(fieldHeader(ELEMENT_LOGICAL_TYPE - span.lastFieldId, COMPACT_STRUCT), (LOGICAL_UUID << 4) | COMPACT_STRUCT, STOP, STOP));
    copied = span.stop;
  }
  parts.push(file.subarray(copied, footerEnd));
  const newFooterLength = footerEnd - footerStart + targets.length * 4;
  const trailer = new Uint8Array(8);
  new DataView(trailer.buffer).setUint32(0, newFooterLength, true);
  trailer.set([0x50, 0x41, 0x52, 0x31], 4); // PAR1
  parts.push(trailer);
  const out = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let position = 0;
  for (const part of parts) {
    out.set(part, position);
    position += part.length;
  }
  return out;
}

function fieldHeader(delta: number, type: number): number {
  if (delta < 1 || delta > 15) throw new Error(`cannot encode field delta ${delta}`);
  return (delta << 4) | type;
}

function schemaSpans(file: Uint8Array, footerStart: number): { spans: ElementSpan[]; footerEnd: number } {
  const reader = new CompactReader(file, footerStart);
  const spans: ElementSpan[] = [];
  reader.struct((fieldId, type) => {
    if (fieldId !== FILE_SCHEMA || type !== COMPACT_LIST) return false;
    const header = reader.byte();
    const size = header >> 4 === 15 ? reader.varint() : header >> 4;
    if ((header & 0x0f) !== COMPACT_STRUCT) throw new Error('schema is not a list of structs');
    for (let index = 0; index < size; index++) {
      const start = reader.position;
      let physicalType: number | undefined;
      let elementFieldId: number | undefined;
      let hasLogicalType = false;
      const lastFieldId = reader.struct((elementField, elementType) => {
        if (elementField === ELEMENT_TYPE && elementType === COMPACT_I32) {
          physicalType = reader.zigzag();
          return true;
        }
        if (elementField === ELEMENT_FIELD_ID && elementType === COMPACT_I32) {
          elementFieldId = reader.zigzag();
          return true;
        }
        if (elementField === ELEMENT_LOGICAL_TYPE) hasLogicalType = true;
        return false;
      });
      spans.push({ start, stop: reader.position - 1, lastFieldId, physicalType, fieldId: elementFieldId, hasLogicalType });
    }
    return true;
  });
  return { spans, footerEnd: reader.position };
}
