/**
 * JSON parsing that keeps integers beyond ±2^53 exact, as `bigint`.
 *
 * Debezium writes `int64` columns and nanosecond timestamps as JSON integers that a plain `JSON.parse` rounds. When
 * the text is at hand the decoder parses it here. A reviver that reads each number's source text (ES2025 `JSON.parse`
 * source text access, Node >= 21; without it numbers stay rounded, as with `JSON.parse`) costs about 4x a plain parse,
 * so a scan first looks for an integer literal beyond ±2^53 and only text that has one pays for the reviver.
 * Debezium's own `ts_ns` fields (envelope and source) are such literals in every event since Debezium 2.6; the scan
 * ignores them, so they stay rounded unless something else in the text needs the exact path.
 * @module
 */

const integerText = /^-?\d+$/;
const maxSafeDigits = String(Number.MAX_SAFE_INTEGER);

interface ReviverContext {
  source?: string;
}

function reviveBigIntegers(_key: string, value: unknown, context?: ReviverContext): unknown {
  if (typeof value === 'number' && !Number.isSafeInteger(value) && context?.source !== undefined && integerText.test(context.source)) {
    return BigInt(context.source);
  }
  return value;
}

/**
 * Whether `text` holds an integer literal beyond ±2^53 (other than a `ts_ns` value) that a plain parse would round.
 * A plain loop over the characters: about 1 µs per kilobyte, a fraction of the parse.
 */
function hasUnsafeInteger(text: string): boolean {
  let run = 0;
  for (let i = 0; i <= text.length; i++) {
    const code = i < text.length ? text.charCodeAt(i) : 0;
    if (code >= 48 && code <= 57) {
      run++;
      continue;
    }
    if (run >= 16 && isUnsafeLiteral(text, i - run, i, code)) return true;
    run = 0;
  }
  return false;
}

/** Digits `text[start, end)` followed by `next`: an integer literal beyond ±2^53 that is not a `ts_ns` value? */
function isUnsafeLiteral(text: string, start: number, end: number, next: number): boolean {
  if (next === 46 /* . */ || next === 101 /* e */ || next === 69 /* E */) return false;
  let before = start - 1;
  if (before >= 0 && text.charCodeAt(before) === 45 /* - */) before--;
  if (before >= 0 && text.charCodeAt(before) === 46 /* . */) return false;
  if (text.startsWith('"ts_ns":', before - 7)) return false;
  const digits = end - start;
  return digits > 16 || text.slice(start, end) > maxSafeDigits;
}

/**
 * Parses JSON text; integers beyond ±2^53 come back as exact `bigint`s (Debezium's `ts_ns` fields excepted when
 * nothing else needs the exact path). Throws `SyntaxError` like `JSON.parse`.
 */
export function parseLosslessJson(text: string): unknown {
  if (!hasUnsafeInteger(text)) return JSON.parse(text);
  return JSON.parse(text, reviveBigIntegers);
}
