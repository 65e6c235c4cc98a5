/**
 * Key rules shared by both object stores, so that a key accepted by one is accepted by the other and a key can never
 * name a path outside the local store's root.
 *
 * @internal
 */

/** S3's limit on key length, in UTF-8 bytes. */
export const maxKeyBytes = 1024;

/**
 * Segments starting with this are where the local store keeps its temporary files; reserved on both stores so that a
 * listing never shows a half-written object and a key never collides with a temporary file.
 */
export const reservedSegmentPrefix = '.tributary-tmp-';

const encoder = new TextEncoder();

/**
 * Why `key` is not a valid object key, or `undefined` when it is. Valid: non-empty `/`-separated segments, none of
 * them `.` or `..` or starting with the reserved prefix; no NUL, no backslash, no control character; no leading or
 * trailing `/`; at most {@link maxKeyBytes} UTF-8 bytes.
 */
export function keyProblem(key: unknown): string | undefined {
  if (typeof key !== 'string') return `must be a string, got ${typeof key}`;
  if (key.length === 0) return 'must not be empty';
  if (encoder.encode(key).length > maxKeyBytes) return `must be at most ${maxKeyBytes} UTF-8 bytes`;
  return pathProblem(key, false);
}

/**
 * Why `prefix` is not a valid listing prefix (`''` is valid), or `undefined`. A prefix follows the key rules except
 * that it may end with `/` or in the middle of a segment; a complete `.` or `..` segment is still refused.
 */
export function prefixProblem(prefix: unknown): string | undefined {
  if (typeof prefix !== 'string') return `must be a string, got ${typeof prefix}`;
  if (prefix.length === 0) return undefined;
  if (encoder.encode(prefix).length > maxKeyBytes) return `must be at most ${maxKeyBytes} UTF-8 bytes`;
  return pathProblem(prefix, true);
}

function pathProblem(path: string, isPrefix: boolean): string | undefined {
  // Control characters (NUL included) break file systems, XML listings and logs alike.
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(path)) return 'must not contain control characters (NUL included)';
  if (path.includes('\\')) return 'must not contain a backslash (use "/" between segments)';
  if (path.startsWith('/')) return 'must be relative (no leading "/")';
  const segments = path.split('/');
  // A prefix may end with "/" (everything under a folder) or in the middle of a segment: only its last segment may be
  // empty or incomplete, so check the complete ones, and the last one only when it is not a prefix of something.
  const last = segments.length - 1;
  for (let index = 0; index < segments.length; index++) {
    const segment = segments[index]!;
    const complete = !isPrefix || index < last;
    if (segment.length === 0) {
      if (isPrefix && index === last) continue;
      return index === last ? 'must not end with "/"' : 'must not contain empty segments ("//")';
    }
    if (complete && (segment === '.' || segment === '..')) return `must not contain a "${segment}" segment`;
    if (segment.startsWith(reservedSegmentPrefix)) return `must not contain a segment starting with "${reservedSegmentPrefix}" (reserved)`;
  }
  return undefined;
}

/** Compares two keys in UTF-8 byte order, the order S3 lists keys in. */
export function compareKeys(left: string, right: string): number {
  return Buffer.compare(Buffer.from(left, 'utf8'), Buffer.from(right, 'utf8'));
}
