import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InvalidOptionsError, TributaryError } from '../errors.js';
import { manualClock, recordingLogger, testSourceContext } from '../internal/test-source-context.js';
import type { StreamRecord } from '../record/stream-record.js';
import { NdjsonParseError, ndjsonFileSource } from './ndjson-file-source.js';
import type { Source } from './source.js';

const dir = mkdtempSync(join(tmpdir(), 'tributary-ndjson-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let fileCount = 0;
const file = (content: string | Buffer): string => {
  const path = join(dir, `f${fileCount++}.ndjson`);
  writeFileSync(path, content);
  return path;
};
const signal = () => new AbortController().signal;

async function drain<V>(source: Source<V>, maxRecords = 1000): Promise<StreamRecord<V>[]> {
  const out: StreamRecord<V>[] = [];
  for (let guard = 0; guard < 100_000; guard++) {
    const batch = await source.poll(maxRecords, signal());
    if (batch === null) return out;
    out.push(...batch);
  }
  throw new Error('source never ended');
}

/** Byte offset of each line start, computed independently of the source. */
const lineOffsets = (content: string): number[] => {
  const offsets = [0];
  const bytes = Buffer.from(content);
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0x0a && i + 1 < bytes.length) offsets.push(i + 1);
  return offsets;
};

describe('ndjsonFileSource', () => {
  it('reads one record per line; the partition is the path and the offset is the byte offset of the line', async () => {
    const content = '{"id":"é1","t":5}\n{"id":"ü2","t":9}\r\n\n   \n{"id":"3","t":7}';
    const path = file(content);
    const source = ndjsonFileSource<{ id: string; t: number }>({ path, eventTime: (v) => v.t, key: (v) => v.id });
    const context = testSourceContext();
    await source.open(context);
    expect(context.assignedCalls).toEqual([[path]]);
    expect(source.partitions()).toEqual([path]);
    const records = await drain(source);
    const offsets = lineOffsets(content);
    expect(records.map((r) => [r.value.id, r.key, r.eventTime, r.position.partition, r.position.offset])).toEqual([
      ['é1', 'é1', 5, path, offsets[0]],
      ['ü2', 'ü2', 9, path, offsets[1]],
      ['3', '3', 7, path, offsets[4]],
    ]);
    // Multi-byte characters: byte offsets, not character offsets.
    expect(records[1]!.position.offset).toBe(Buffer.byteLength('{"id":"é1","t":5}\n'));
    expect(await source.poll(10, signal())).toBeNull();
    expect(context.letters).toEqual([]); // blank lines are not bad lines
    await source.close();
  });

  it('defaults event time to the context clock and skips a UTF-8 byte order mark', async () => {
    const path = file(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a":1}\n')]));
    const source = ndjsonFileSource({ path });
    await source.open(testSourceContext({ clock: manualClock(777) }));
    const [record] = await drain(source);
    expect(record).toMatchObject({ value: { a: 1 }, eventTime: 777, key: null, position: { offset: 0 } });
    await source.close();
  });

  it('reassembles lines that span read buffers', async () => {
    const values = Array.from({ length: 50 }, (_, i) => ({ i, pad: 'x'.repeat(i * 3) }));
    const content = values.map((v) => JSON.stringify(v)).join('\n') + '\n';
    const source = ndjsonFileSource<{ i: number; pad: string }>({ path: file(content), readBufferBytes: 16, eventTime: () => 0 });
    await source.open(testSourceContext());
    const records = await drain(source, 7);
    expect(records.map((r) => r.value)).toEqual(values);
    expect(records.map((r) => r.position.offset)).toEqual(lineOffsets(content));
    await source.close();
  });

  it('returns at most min(batchSize, maxRecords) records per poll', async () => {
    const source = ndjsonFileSource({ path: file('1\n2\n3\n4\n5\n'), batchSize: 2, eventTime: () => 0 });
    await source.open(testSourceContext());
    expect((await source.poll(100, signal()))!.map((r) => r.value)).toEqual([1, 2]);
    expect((await source.poll(1, signal()))!.map((r) => r.value)).toEqual([3]);
    expect((await drain(source)).map((r) => r.value)).toEqual([4, 5]);
    await source.close();
  });

  it('resumes at a committed position R with exactly the lines starting at or after R (any R)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(fc.integer(), fc.string({ unit: 'grapheme' }), fc.constant('')), { minLength: 1, maxLength: 12 }),
        fc.nat(),
        fc.boolean(),
        fc.integer({ min: 16, max: 64 }),
        async (items, seed, trailingNewline, readBufferBytes) => {
          const lines = items.map((item) => (item === '' ? '' : JSON.stringify(item)));
          const content = lines.join('\n') + (trailingNewline ? '\n' : '');
          const path = file(content);
          const size = Buffer.byteLength(content);
          const resumeAt = seed % (size + 2);
          const offsets = lineOffsets(content);
          const expected = lines.flatMap((line, index) => (line !== '' && offsets[index]! >= resumeAt ? [offsets[index]] : []));
          const source = ndjsonFileSource({ path, readBufferBytes, eventTime: () => 0 });
          const context = testSourceContext({ resumeAt: { [path]: resumeAt } });
          await source.open(context);
          const got = (await drain(source)).map((r) => r.position.offset);
          await source.close();
          expect(got).toEqual(expected);
          expect(context.letters).toEqual([]);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('commit() records positions; reopening resumes after the last committed record (crash and restart)', async () => {
    const path = file('{"n":1}\n{"n":2}\n{"n":3}\n');
    const source = ndjsonFileSource<{ n: number }>({ path, eventTime: () => 0 });
    await source.open(testSourceContext());
    const first = await source.poll(2, signal());
    const last = first!.at(-1)!;
    await source.commit({ [path]: last.position.offset + 1, elsewhere: 5 });
    expect(source.committed).toEqual({ [path]: last.position.offset + 1 });
    const context = testSourceContext(); // a new session without an exactly-once position
    await source.open(context);
    expect(context.assignedCommitted).toEqual([{ [path]: last.position.offset + 1 }]);
    expect((await drain(source)).map((r) => r.value.n)).toEqual([3]);
    await source.close();
  });

  it('hands a malformed line to the dead letters with its file and byte offset, and keeps reading', async () => {
    const content = '{"ok":1}\n{"broken":\r\n{"ok":2}\n';
    const path = file(content);
    const clock = manualClock(1_000);
    const source = ndjsonFileSource({ name: 'orders-file', path, eventTime: () => 0 });
    const context = testSourceContext({ clock });
    await source.open(context);
    const records = await drain(source);
    expect(records.map((r) => r.value)).toEqual([{ ok: 1 }, { ok: 2 }]);
    expect(context.letters).toHaveLength(1);
    const [letter] = context.letters;
    expect(letter).toMatchObject({
      stage: 'orders-file',
      failedAt: 1_000,
      error: { name: 'NdjsonParseError', code: 'NDJSON_PARSE_ERROR' },
      record: { value: '{"broken":', position: { partition: path, offset: lineOffsets(content)[1] } },
    });
    expect(letter!.error.message).toContain(`byte ${lineOffsets(content)[1]} of ${path}`);
    await source.close();
  });

  it('sends a value whose eventTime or key throws to the dead letters with the parsed value', async () => {
    const path = file('{"t":1}\n{"t":"soon"}\n');
    const source = ndjsonFileSource<{ t: unknown }>({
      path,
      eventTime: (v) => {
        if (typeof v.t !== 'number') throw new Error('t is not a number');
        return v.t;
      },
    });
    const context = testSourceContext();
    await source.open(context);
    expect((await drain(source)).map((r) => r.value)).toEqual([{ t: 1 }]);
    expect(context.letters.map((l) => [l.record.value, l.record.position.offset, l.error.message.includes('t is not a number')])).toEqual([
      [{ t: 'soon' }, 8, true],
    ]);
    await source.close();
  });

  it("refuses onError 'dlq' at open when the runtime cannot take source dead letters", async () => {
    const source = ndjsonFileSource({ path: file('1\n') });
    await expect(source.open(testSourceContext({ acceptsDeadLetters: false }))).rejects.toMatchObject({ code: 'DEAD_LETTERS_UNSUPPORTED' });
    const skipping = ndjsonFileSource({ path: file('1\n'), onError: 'skip' });
    await skipping.open(testSourceContext({ acceptsDeadLetters: false }));
    await skipping.close();
  });

  it("onError 'skip' logs and drops bad lines", async () => {
    const path = file('nope\n2\n');
    const logger = recordingLogger();
    const source = ndjsonFileSource({ path, onError: 'skip', eventTime: () => 0 });
    const context = testSourceContext({ logger });
    await source.open(context);
    expect((await drain(source)).map((r) => r.value)).toEqual([2]);
    expect(context.letters).toEqual([]);
    expect(logger.entries).toEqual([expect.objectContaining({ level: 'warn', fields: expect.objectContaining({ partition: path, offset: 0 }) })]);
    await source.close();
  });

  it("onError 'fail' delivers the records before the bad line, then fails with NdjsonParseError", async () => {
    const path = file('1\n2\n{oops\n4\n');
    const source = ndjsonFileSource({ path, onError: 'fail', eventTime: () => 0 });
    await source.open(testSourceContext());
    expect((await source.poll(10, signal()))!.map((r) => r.value)).toEqual([1, 2]);
    const error = await source.poll(10, signal()).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(NdjsonParseError);
    expect(error).toMatchObject({ file: path, offset: 4, code: 'NDJSON_PARSE_ERROR' });
    await source.close();
  });

  it('reads several files as partitions, fairly', async () => {
    const a = file('1\n2\n3\n4\n');
    const b = file('10\n20\n');
    const source = ndjsonFileSource<number>({ paths: [a, b], batchSize: 2, eventTime: () => 0 });
    const context = testSourceContext();
    await source.open(context);
    expect(context.assignedCalls).toEqual([[a, b]]);
    const first = await source.poll(100, signal());
    expect(new Set(first!.map((r) => r.position.partition))).toEqual(new Set([a, b]));
    const all = [...first!, ...(await drain(source))];
    expect(all.filter((r) => r.position.partition === a).map((r) => r.value)).toEqual([1, 2, 3, 4]);
    expect(all.filter((r) => r.position.partition === b).map((r) => r.value)).toEqual([10, 20]);
    await source.close();
  });

  it('an unreadable file fails at open with a TributaryError naming it', async () => {
    const missing = join(dir, 'missing.ndjson');
    const error = await ndjsonFileSource({ path: missing }).open(testSourceContext()).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TributaryError);
    expect(error).toMatchObject({ code: 'FILE_UNREADABLE', message: expect.stringContaining(missing) });
  });

  it('invalid options fail at construction naming the option', () => {
    expect(() => ndjsonFileSource({})).toThrow(/path: give exactly one of path or paths/);
    expect(() => ndjsonFileSource({ path: 'a', paths: ['b'] })).toThrow(/path: give exactly one/);
    expect(() => ndjsonFileSource({ paths: [] })).toThrow(/paths/);
    expect(() => ndjsonFileSource({ paths: ['a', 'a'] })).toThrow(/paths: must not repeat/);
    expect(() => ndjsonFileSource({ path: 'a', batchSize: -1 })).toThrow(/batchSize/);
    expect(() => ndjsonFileSource({ path: 'a', onError: 'ignore' as never })).toThrow(/onError/);
    expect(() => ndjsonFileSource({ path: 'a', eventTime: 'at' as never })).toThrow(/eventTime: must be a function/);
    expect(() => ndjsonFileSource({ path: 'a', readBufferBytes: 1 })).toThrow(/readBufferBytes/);
    expect(() => ndjsonFileSource({ path: 'a', onParseError: 'dlq' } as never)).toThrow(InvalidOptionsError);
  });
});
