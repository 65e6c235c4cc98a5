import type { DataType } from 'apache-arrow';
import { childFields, fieldType, typeText } from './arrow-types.js';

/**
 * Whether two Arrow types have the same layout and parameters (unit, zone, precision, scale, width), recursively,
 * ignoring child field names, nullability and metadata.
 */
export function sameArrowType(actual: DataType, expected: DataType): boolean {
  if (actual.typeId !== expected.typeId) return false;
  const actualChildren = childFields(actual);
  const expectedChildren = childFields(expected);
  if (actualChildren.length !== expectedChildren.length) return false;
  if (actualChildren.length === 0) {
    // Leaf types print their parameters; Decimal's text omits its bit width.
    const actualWidth = (actual as { bitWidth?: number }).bitWidth;
    const expectedWidth = (expected as { bitWidth?: number }).bitWidth;
    return typeText(actual) === typeText(expected) && actualWidth === expectedWidth;
  }
  return actualChildren.every((child, index) => sameArrowType(fieldType(child), fieldType(expectedChildren[index]!)));
}
