/**
 * JSON parsing that keeps integers beyond ±2^53 exact, as `bigint`.
 *
 * Debezium writes `int64` columns, nanosecond timestamps and `ts_ns` as JSON integers that a plain `JSON.parse` rounds.
 * When the text is at hand the decoder parses it here: runs of 16+ digits are rare, so text without them takes the
 * plain (fast) path, and only text with them pays for a reviver that reads each number's source text (ES2025
 * `JSON.parse` source text access, in Node >= 21; without it the numbers stay rounded, as with `JSON.parse`).
 * @module
 */

const longDigitRun = /\d{16}/;
const integerText = /^-?\d+$/;

interface ReviverContext {
  source?: string;
}

function reviveBigIntegers(_key: string, value: unknown, context?: ReviverContext): unknown {
  if (typeof value === 'number' && !Number.isSafeInteger(value) && context?.source !== undefined && integerText.test(context.source)) {
    return BigInt(context.source);
  }
  return value;
}

/** Parses JSON text; integers beyond ±2^53 come back as exact `bigint`s. Throws `SyntaxError` like `JSON.parse`. */
export function parseLosslessJson(text: string): unknown {
  if (!longDigitRun.test(text)) return JSON.parse(text);
  return JSON.parse(text, reviveBigIntegers);
}
