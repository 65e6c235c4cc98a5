import { encodeBase64 } from './binary.js';

/**
 * A stable string for a key value: JSON with object keys sorted, `bigint` written as its exact digits, bytes as base64,
 * `undefined` as `null`. Equal keys give equal strings whatever order their fields came in.
 *
 * @example
 * ```ts
 * canonicalJson({ b: 'x', a: 1 }); // '{"a":1,"b":"x"}'
 * ```
 */
export function canonicalJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : JSON.stringify(String(value));
    case 'bigint':
      return value.toString();
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value instanceof Uint8Array) return JSON.stringify(encodeBase64(value));
      if (value instanceof Date) return JSON.stringify(value.toISOString());
      if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
      if (value instanceof Map) return canonicalJson(Object.fromEntries(value as Map<unknown, unknown>));
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record).sort();
      return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`).join(',')}}`;
    }
    default:
      throw new TypeError(`a ${typeof value} cannot be part of a key`);
  }
}
