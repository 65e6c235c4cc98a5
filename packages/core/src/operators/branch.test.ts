import { concatMap, map as rxMap, tap, timer } from 'rxjs';
import type { Observable } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { InvalidOptionsError, StepFailedError } from '../errors.js';
import { dataOf, runOperator, testRecord } from '../internal/run-operator.js';
import type { Chunk } from '../record/chunk.js';
import { branch } from './branch.js';
import { map } from './map.js';

interface Payment {
  amount: number;
  currency: string;
}

const payment = (amount: number, currency: string, offset: number) => testRecord<Payment>({ amount, currency }, offset);
const offsetsOf = (chunks: readonly Chunk<unknown>[]) => chunks.map((c) => (c.kind === 'data' ? c.records.map((r) => r.position.offset) : c.kind));

const large = (p: Payment) => p.amount >= 100;
const foreign = (p: Payment) => p.currency !== 'EUR';

describe('branch', () => {
  it("sends a record to the first case it matches (mode 'first'), then to otherwise", async () => {
    const seen: Record<string, unknown[]> = { large: [], foreign: [], rest: [] };
    const spy = (label: string) => (s: Observable<Chunk<Payment>>) => s.pipe(tap((chunk) => seen[label]!.push(...offsetsOf([chunk]))));
    const out = await runOperator(
      branch([{ when: large, then: spy('large') }, { when: foreign, then: spy('foreign') }], { otherwise: spy('rest') }),
      [{ kind: 'data', records: [payment(500, 'USD', 0), payment(5, 'USD', 1), payment(5, 'EUR', 2), payment(200, 'EUR', 3)] }],
    );
    expect(seen).toEqual({ large: [[0, 3]], foreign: [[1]], rest: [[2]] });
    expect(dataOf(out).map((r) => r.position.offset).sort()).toEqual([0, 1, 2, 3]);
  });

  it("sends a record to every case it matches with mode 'all'", async () => {
    const out = await runOperator(
      branch(
        [
          { when: large, then: (s) => s.pipe(map((p) => `large ${p.amount}`)) },
          { when: foreign, then: (s) => s.pipe(map((p) => `foreign ${p.amount}`)) },
        ],
        { mode: 'all', otherwise: (s) => s.pipe(map((p) => `plain ${p.amount}`)) },
      ),
      [{ kind: 'data', records: [payment(500, 'USD', 0), payment(5, 'EUR', 1)] }],
    );
    expect(dataOf(out).map((r) => r.value)).toEqual(['large 500', 'foreign 500', 'plain 5']);
  });

  it('joins watermarks and barriers across asynchronous cases and otherwise', async () => {
    const slow = (ms: number) => (s: Observable<Chunk<Payment>>) => s.pipe(concatMap((chunk) => timer(ms).pipe(rxMap(() => chunk))));
    const out = await runOperator(branch([{ when: large, then: slow(15) }], { otherwise: slow(1) }), [
      { kind: 'data', records: [payment(500, 'EUR', 0), payment(1, 'EUR', 1)] },
      { kind: 'watermark', time: 10 },
      { kind: 'data', records: [payment(2, 'EUR', 2)] },
      { kind: 'barrier', id: 1, checkpoint: undefined },
    ]);
    expect(offsetsOf(out)).toEqual([[1], [0], 'watermark', [2], 'barrier']);
  });

  it('sends records matching no case to dead letters when there is no otherwise, or skips / fails as told', async () => {
    const input: Chunk<Payment>[] = [{ kind: 'data', records: [payment(500, 'EUR', 0), payment(1, 'EUR', 1)] }];
    const out = await runOperator(branch([{ when: large, then: (s) => s }], { name: 'by-size' }), input);
    expect(offsetsOf(out)).toEqual([[0], 'dead-letter']);
    const letter = out.flatMap((c) => (c.kind === 'dead-letter' ? c.letters : []))[0]!;
    expect(letter).toMatchObject({ stage: 'by-size', error: { code: 'UNMATCHED_RECORD' }, record: { position: { offset: 1 } } });
    expect(letter.error.message).toContain('matched none of its 1 cases');
    expect(offsetsOf(await runOperator(branch([{ when: large, then: (s) => s }], { unmatched: 'skip' }), input))).toEqual([[0]]);
    await expect(runOperator(branch([{ when: large, then: (s) => s }], { unmatched: 'fail' }), input)).rejects.toBeInstanceOf(StepFailedError);
  });

  it('sends a record whose predicate throws to onError, never half-delivered in all mode', async () => {
    const seen: number[][] = [];
    const input: Chunk<Payment>[] = [{ kind: 'data', records: [payment(500, 'USD', 0), payment(500, 'XXX', 1)] }];
    const picky = (p: Payment) => {
      if (p.currency === 'XXX') throw new Error('unknown currency');
      return true;
    };
    const out = await runOperator(
      branch(
        [
          { when: large, then: (s) => s.pipe(tap((c) => c.kind === 'data' && seen.push(c.records.map((r) => r.position.offset)))) },
          { when: picky, then: (s) => s },
        ],
        { mode: 'all' },
      ),
      input,
    );
    expect(seen).toEqual([[0]]);
    expect(offsetsOf(out)).toEqual([[0], [0], 'dead-letter']);
    expect(out.flatMap((c) => (c.kind === 'dead-letter' ? c.letters.map((l) => l.error.message) : []))).toEqual(['unknown currency']);
    await expect(runOperator(branch([{ when: picky, then: (s) => s }], { onError: 'fail' }), input)).rejects.toBeInstanceOf(StepFailedError);
  });

  it('completes after every case and otherwise completed', async () => {
    const completed: string[] = [];
    const track = (label: string, ms: number) => (s: Observable<Chunk<Payment>>) =>
      s.pipe(
        concatMap((chunk) => timer(ms).pipe(rxMap(() => chunk))),
        tap({ complete: () => completed.push(label) }),
      );
    await runOperator(branch([{ when: large, then: track('large', 10) }], { otherwise: track('rest', 0) }), [
      { kind: 'data', records: [payment(500, 'EUR', 0)] },
    ]);
    expect(completed).toEqual(['rest', 'large']);
  });

  it('invalid options fail at construction naming the option', () => {
    const cases = [{ when: large, then: (s: Observable<Chunk<Payment>>) => s }];
    expect(() => branch(cases, { mode: 'some' as never })).toThrow(/mode/);
    expect(() => branch(cases, { unmatched: 'drop' as never })).toThrow(/unmatched/);
    expect(() => branch(cases, { onError: 'drop' as never })).toThrow(/onError/);
    expect(() => branch(cases, { name: '' })).toThrow(/name/);
    expect(() => branch(cases, { otherwise: 'rest' as never })).toThrow(/otherwise: must be a function/);
    expect(() => branch(cases, { default: () => undefined } as never)).toThrow(/default/);
    expect(() => branch([])).toThrow(/cases: must have at least one case/);
    expect(() => branch([{ when: large }] as never)).toThrow(/cases\.0\.then/);
    expect(() => branch([{ when: large, then: (s: Observable<Chunk<Payment>>) => s, than: 1 }] as never)).toThrow(/than/);
    expect(() => branch('cases' as never)).toThrow(InvalidOptionsError);
  });
});
