import type { Data, DataType, Field } from 'apache-arrow';

// apache-arrow's generics default to `any`; these narrow the few members the lakehouse reads to checked types.

/** The Arrow type of a field. */
export function fieldType(field: Field): DataType {
  return field.type as DataType;
}

/** The child fields of a nested type (struct children, list element, map entries); none for a primitive. */
export function childFields(type: DataType): readonly Field[] {
  return (type.children as Field[] | undefined) ?? [];
}

/** The printed form of a type (`Timestamp<MICROSECOND, UTC>`, `Decimal[12e+2]`). */
export function typeText(type: DataType): string {
  return (type as unknown as { toString(): string }).toString();
}

/** The offsets buffer of a variable-width or list Data (32-bit offsets). */
export function offsetsOf(data: Data): Int32Array {
  return data.valueOffsets as Int32Array;
}

/** The child Data at `index`. */
export function childData(data: Data, index: number): Data {
  return data.children[index] as Data;
}
