import { z } from 'zod';
import { stepNameSchema } from '../internal/common-options.js';
import { createHmacSha256 } from '../internal/hmac-sha256.js';
import type { HmacSha256 } from '../internal/hmac-sha256.js';
import { parseOptions } from '../internal/parse-options.js';
import { withValue } from '../internal/with-value.js';
import type { DeadLetterChunk, LateChunk } from '../record/chunk.js';
import type { DeadLetter, LateRecord } from '../record/dead-letter.js';
import type { StreamRecord } from '../record/stream-record.js';
import { defineOperator } from './define-operator.js';
import type { Operator } from './define-operator.js';

/**
 * What `redact` writes in place of a value.
 *
 * @example
 * ```ts
 * const isRedacted = (value: unknown) => value === REDACTED; // '[REDACTED]'
 * ```
 */
export const REDACTED = '[REDACTED]';

const fieldMaskSchema = z.union(
  [
    z.literal('redact'),
    z.strictObject({ hash: z.literal('sha256'), salt: z.string().min(1) }),
    z.strictObject({ keepLast: z.number().int().min(0) }),
    z.strictObject({ replaceWith: z.union([z.string(), z.number(), z.boolean(), z.null()]) }),
  ],
  {
    error: `must be 'redact', { hash: 'sha256', salt: <non-empty string> }, { keepLast: <integer >= 0> } or { replaceWith: <string | number | boolean | null> }`,
  },
);

const maskOptionsSchema = z.strictObject({
  /** Step name in metrics and logs. Default `mask-<n>`. */
  name: stepNameSchema,
  /**
   * Dot-separated field paths into the value (`'customer.phone'`; array elements by index, `'lines.0.card'`) and how
   * to mask each. Required, at least one.
   */
  fields: z.record(z.string(), fieldMaskSchema).superRefine((fields, issues) => {
    const paths = Object.keys(fields);
    if (paths.length === 0) issues.addIssue({ code: 'custom', message: 'must name at least one field' });
    for (const path of paths) {
      if (path.split('.').some((segment) => segment === '')) {
        issues.addIssue({ code: 'custom', path: [path], message: 'must be dot-separated non-empty field names' });
      }
      const inside = paths.find((other) => other.startsWith(`${path}.`));
      if (inside !== undefined) {
        issues.addIssue({ code: 'custom', path: [path], message: `masks the whole field, which also contains '${inside}'; keep one of the two` });
      }
    }
  }),
});

/** Options of {@link mask}.
 *
 * @interface
 */
export type MaskOptions = z.input<typeof maskOptionsSchema>;

/**
 * How one field is masked; see {@link mask}.
 *
 * @example
 * ```ts
 * const phone: FieldMask = { hash: 'sha256', salt: process.env.PII_SALT! };
 * ```
 */
export type FieldMask = 'redact' | { hash: 'sha256'; salt: string } | { keepLast: number } | { replaceWith: string | number | boolean | null };
// Keeps the hand-written FieldMask (readable in the API docs) identical to what the schema accepts.
type _FieldMaskMatchesSchema = [FieldMask] extends [z.input<typeof fieldMaskSchema>]
  ? [z.input<typeof fieldMaskSchema>] extends [FieldMask]
    ? true
    : never
  : never;
const _fieldMaskCheck: _FieldMaskMatchesSchema = true;
void _fieldMaskCheck;

type MaskAction =
  | { readonly kind: 'replace'; readonly with: unknown }
  | { readonly kind: 'hash'; readonly hmac: HmacSha256 }
  | { readonly kind: 'keep-last'; readonly count: number };

/** One step of a field path; a node either masks the field it names or descends into it. */
interface MaskNode {
  readonly key: string;
  readonly action: MaskAction | undefined;
  readonly children: MaskNode[];
}

/**
 * Masks personal data in record values so it never reaches sinks, logs or dead letters. Place it right after the
 * source or decoder: it also masks the records inside dead letters and late records from earlier steps passing
 * through it.
 *
 * Per field path (dot-separated, into nested objects; array elements by index):
 * - `'redact'` — replaced by the string `'[REDACTED]'` ({@link REDACTED}). A fixed string rather than `null`, so a
 *   masked field stays distinguishable from a field that was empty at the source.
 * - `{ hash: 'sha256', salt }` — HMAC-SHA-256 keyed by `salt` over the UTF-8 string form, as 64 lowercase hex
 *   characters (the scheme of Debezium's `column.mask.hash.SHA-256.with.salt`, but keyed). Equal inputs give equal
 *   hashes, so masked values still join and group. Computed synchronously in TypeScript (no Web Crypto round trip), roughly 1–2 µs per value.
 * - `{ keepLast: n }` — the string form with all but its last `n` characters (code points) replaced by `*`.
 * - `{ replaceWith: v }` — replaced by `v`.
 *
 * The string form of a non-string is `String(value)` for numbers and booleans and JSON for objects. A field that is
 * missing, `null` or `undefined` is left as it is (nothing is created). Values are never mutated: each object on a
 * masked path is shallow-copied (class instances on that path become plain objects). The output keeps the input type
 * `V` for convenience, although masked fields then hold strings.
 *
 * @param options `fields` — required; `name` — step name (default `mask-<n>`)
 *
 * @example
 * ```ts
 * customers.pipe(
 *   mask({
 *     name: 'mask-pii',
 *     fields: {
 *       email: 'redact',
 *       'customer.phone': { hash: 'sha256', salt: process.env.PII_SALT! },
 *       card: { keepLast: 4 },
 *       name: { replaceWith: '***' },
 *     },
 *   }),
 * );
 * ```
 */
export function mask<V>(options: MaskOptions): Operator<V, V> {
  const { name, fields } = parseOptions(maskOptionsSchema, 'mask', options);
  const roots = compileFields(fields);

  const maskRecord = <T>(record: StreamRecord<T>): StreamRecord<T> => {
    const masked = maskNodes(record.value, roots);
    return masked === record.value ? record : withValue(record, masked as T);
  };

  return defineOperator<V, V>('mask', name, () => ({
    data(records, emit) {
      let out: StreamRecord<V>[] | undefined;
      for (let index = 0; index < records.length; index++) {
        const record = records[index]!;
        const masked = maskRecord(record);
        if (masked !== record) (out ??= records.slice())[index] = masked;
      }
      emit.data(out ?? records);
    },
    passThrough(chunk) {
      return chunk.kind === 'dead-letter' ? maskDeadLetters(chunk, maskRecord) : maskLate(chunk, maskRecord);
    },
  }));
}

function maskDeadLetters(chunk: DeadLetterChunk, maskRecord: (record: StreamRecord<unknown>) => StreamRecord<unknown>): DeadLetterChunk {
  let letters: DeadLetter[] | undefined;
  for (let index = 0; index < chunk.letters.length; index++) {
    const letter = chunk.letters[index]!;
    const record = maskRecord(letter.record);
    if (record !== letter.record) (letters ??= chunk.letters.slice())[index] = { ...letter, record };
  }
  return letters ? { kind: 'dead-letter', letters } : chunk;
}

function maskLate(chunk: LateChunk, maskRecord: (record: StreamRecord<unknown>) => StreamRecord<unknown>): LateChunk {
  let records: LateRecord[] | undefined;
  for (let index = 0; index < chunk.records.length; index++) {
    const late = chunk.records[index]!;
    const record = maskRecord(late.record);
    if (record !== late.record) (records ??= chunk.records.slice())[index] = { ...late, record };
  }
  return records ? { kind: 'late', records } : chunk;
}

/** Builds the path tree; one HMAC key schedule per distinct salt. */
function compileFields(fields: Readonly<Record<string, z.output<typeof fieldMaskSchema>>>): MaskNode[] {
  const hashers = new Map<string, HmacSha256>();
  const roots: MaskNode[] = [];
  for (const [path, spec] of Object.entries(fields)) {
    const segments = path.split('.');
    let level = roots;
    for (let depth = 0; depth < segments.length; depth++) {
      const key = segments[depth]!;
      const last = depth === segments.length - 1;
      let node = level.find((candidate) => candidate.key === key);
      if (node === undefined) {
        node = { key, action: last ? toAction(spec, hashers) : undefined, children: [] };
        level.push(node);
      }
      level = node.children;
    }
  }
  return roots;
}

function toAction(spec: z.output<typeof fieldMaskSchema>, hashers: Map<string, HmacSha256>): MaskAction {
  if (spec === 'redact') return { kind: 'replace', with: REDACTED };
  if ('replaceWith' in spec) return { kind: 'replace', with: spec.replaceWith };
  if ('keepLast' in spec) return { kind: 'keep-last', count: spec.keepLast };
  let hmac = hashers.get(spec.salt);
  if (hmac === undefined) {
    hmac = createHmacSha256(spec.salt);
    hashers.set(spec.salt, hmac);
  }
  return { kind: 'hash', hmac };
}

/** `value` with the fields under `nodes` masked; `value` itself when nothing changed. */
function maskNodes(value: unknown, nodes: readonly MaskNode[]): unknown {
  if (typeof value !== 'object' || value === null) return value;
  const source = value as Record<string, unknown>;
  let copy: Record<string, unknown> | undefined;
  for (const node of nodes) {
    if (!Object.hasOwn(source, node.key)) continue;
    const current = source[node.key];
    if (current === null || current === undefined) continue;
    const next = node.action === undefined ? maskNodes(current, node.children) : applyAction(node.action, current);
    if (next === current) continue;
    copy ??= (Array.isArray(source) ? source.slice() : { ...source }) as Record<string, unknown>;
    copy[node.key] = next;
  }
  return copy ?? value;
}

function applyAction(action: MaskAction, value: unknown): unknown {
  switch (action.kind) {
    case 'replace':
      return action.with;
    case 'hash':
      return action.hmac(stringForm(value));
    case 'keep-last':
      return keepLast(stringForm(value), action.count);
  }
}

function stringForm(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null) {
    try {
      const json = JSON.stringify(value) as string | undefined;
      if (json !== undefined) return json;
    } catch {
      // A cycle or a bigint inside: fall back to String() rather than let the unmasked record escape.
    }
  }
  return String(value);
}

/** `text` with every code point but the last `count` replaced by `*`. */
function keepLast(text: string, count: number): string {
  let start = text.length;
  for (let kept = 0; kept < count && start > 0; kept++) {
    start--;
    if (isLowSurrogate(text.charCodeAt(start)) && start > 0 && isHighSurrogate(text.charCodeAt(start - 1))) start--;
  }
  if (start === 0) return text;
  let hidden = 0;
  for (let index = 0; index < start; index++) {
    if (isHighSurrogate(text.charCodeAt(index)) && index + 1 < start && isLowSurrogate(text.charCodeAt(index + 1))) index++;
    hidden++;
  }
  return (hidden < STARS.length ? STARS[hidden]! : '*'.repeat(hidden)) + text.slice(start);
}

/** `STARS[n]` is n asterisks: building the prefix is most of keepLast's cost for typical card and phone lengths. */
const STARS: readonly string[] = Array.from({ length: 65 }, (_, length) => '*'.repeat(length));

const isHighSurrogate = (unit: number): boolean => unit >= 0xd800 && unit <= 0xdbff;
const isLowSurrogate = (unit: number): boolean => unit >= 0xdc00 && unit <= 0xdfff;
