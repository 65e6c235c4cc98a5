import fc from 'fast-check';
import { Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { dataOf } from '../internal/run-operator.js';
import { makeStepContext, withStepHost, WorkingState as WorkingStateClass } from '../internal/step-host.js';
import type { StepHost, WorkingState } from '../internal/step-host.js';
import type { Chunk } from '../record/chunk.js';
import type { StreamRecord } from '../record/stream-record.js';
import { silentLogger } from '../runtime/logger.js';
import type { Alert } from './alert.js';
import { anomalies } from './anomalies.js';
import type { AnomaliesOptions } from './anomalies.js';

/**
 * Property tests of `anomalies`.
 *
 * 1. Acceptance: streams per key drawn from a normal distribution (random mean and standard deviation per key), with
 *    outliers injected at random positions at 8 to 30 standard deviations: every injected outlier is flagged, and the
 *    flags on ordinary values stay under the false-positive bound derived below.
 * 2. Exactness: the operator flags exactly what a brute-force detector (two-pass mean and standard deviation of the
 *    last `window` kept values, recomputed for every value) flags, with the same z, also when its state is saved as
 *    JSON and restored into a fresh operator halfway through.
 *
 * **The false-positive bound.** Let an ordinary value x and the n baseline values before it be independent draws from
 * N(μ, σ²), with sample mean m and sample standard deviation s (n − 1). Then x − m ~ N(0, σ²(1 + 1/n)), independent
 * of s, and (n − 1)s²/σ² ~ χ²(n − 1), so (x − m) / (s·√(1 + 1/n)) follows Student's t with n − 1 degrees of freedom,
 * and z = (x − m)/s gives
 *
 *     P(|z| >= k) = P(|T(n−1)| >= k / √(1 + 1/n)) =: p(n).
 *
 * For k = 4: p(30) = 4.8e-4, p(50) = 2.4e-4, p(100) = 1.3e-4, p(200) = 9.3e-5 (a normal tail would be 6.3e-5; the
 * t tail is what a sample baseline costs). The baseline also drops the rare values flagged before, which truncates it
 * at about 4σ and shrinks s by ~0.05%; the bound below computes p with k × 0.99 to cover that (p(30) becomes 5.3e-4).
 * By linearity of expectation, the expected number of false positives of a stream is λ = Σ p(n_i) over its judged
 * ordinary values (n_i = baseline size when value i was judged), whatever the dependence between them. Flags are rare
 * events, so a run's count is close to Poisson(λ): each run must stay at or below the smallest c with
 * P(Poisson(λ) > c) <= 1e-6, and the total over all runs at or below Λ + 5√Λ (Λ = Σλ). The outliers are flagged with
 * overwhelming probability: at k ≥ 8 a miss needs s > 1.75σ or |m − μ| > 1σ with n >= 30, each below 1e-7.
 *
 * Seeds are fixed, so the runs are the same every time; the bound is what a correct detector meets with probability
 * ~1 − 1e-6 per run on any seed.
 */

const Z = 4;

/** Deterministic uniform [0, 1) generator (mulberry32) from a 32-bit seed. */
function uniform(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Standard normal draws by Box-Muller. */
function normal(random: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

interface Point {
  key: string;
  value: number;
  /** Injected outlier. */
  outlier: boolean;
}

interface Scenario {
  seed: number;
  keys: number;
  perKey: number;
  window: number;
  minSamples: number;
  outliersPerKey: number;
  maxBatch: number;
}

const scenarioArb: fc.Arbitrary<Scenario> = fc
  .record({
    seed: fc.integer(),
    keys: fc.integer({ min: 1, max: 4 }),
    perKey: fc.integer({ min: 150, max: 600 }),
    window: fc.integer({ min: 30, max: 200 }),
    minSamplesFraction: fc.double({ min: 0, max: 1, noNaN: true }),
    outliersPerKey: fc.integer({ min: 0, max: 10 }),
    maxBatch: fc.integer({ min: 1, max: 300 }),
  })
  .map(({ minSamplesFraction, ...rest }) => ({ ...rest, minSamples: 30 + Math.floor(minSamplesFraction * (rest.window - 30)) }));

/**
 * Ordinary values per key from N(μ, σ²) (μ in ±10⁴, σ log-uniform in [10⁻³, 10³]), outliers at μ ± (8..30)σ inserted
 * after the key's first `minSamples` ordinary values, keys interleaved at random.
 */
function generate(scenario: Scenario): Point[] {
  const random = uniform(scenario.seed);
  const gauss = normal(random);
  const perKey: Point[][] = [];
  for (let k = 0; k < scenario.keys; k++) {
    const key = `key-${k}`;
    const mean = (random() * 2 - 1) * 10_000;
    const stddev = 10 ** (random() * 6 - 3);
    const points: Point[] = Array.from({ length: scenario.perKey }, () => ({ key, value: mean + stddev * gauss(), outlier: false }));
    const at = Array.from({ length: scenario.outliersPerKey }, () => scenario.minSamples + Math.floor(random() * (scenario.perKey - scenario.minSamples + 1)));
    for (const index of at.sort((a, b) => b - a)) {
      const sigmas = 8 + random() * 22;
      points.splice(index, 0, { key, value: mean + (random() < 0.5 ? -1 : 1) * sigmas * stddev, outlier: true });
    }
    perKey.push(points);
  }
  const out: Point[] = [];
  const next = perKey.map(() => 0);
  let left = perKey.reduce((sum, points) => sum + points.length, 0);
  while (left > 0) {
    const k = Math.floor(random() * perKey.length);
    if (next[k]! >= perKey[k]!.length) continue;
    out.push(perKey[k]![next[k]!++]!);
    left--;
  }
  return out;
}

/** Records in batches of 1..maxBatch (sizes from the scenario's seed). */
function chunksOf(points: readonly Point[], scenario: Scenario): Chunk<Point>[] {
  const random = uniform(scenario.seed ^ 0x5bd1e995);
  const chunks: Chunk<Point>[] = [];
  for (let start = 0; start < points.length; ) {
    const size = 1 + Math.floor(random() * scenario.maxBatch);
    const records: StreamRecord<Point>[] = points.slice(start, start + size).map((point, index) => ({
      key: point.key,
      value: point,
      eventTime: 1_767_225_600_000 + (start + index) * 1_000,
      position: { partition: 'p0', offset: start + index },
      headers: {},
    }));
    chunks.push({ kind: 'data', records });
    start += size;
  }
  return chunks;
}

/** Runs the operator over `chunks` with the given working states (restored state included); returns the alerts. */
function run(options: AnomaliesOptions<Point>, chunks: readonly Chunk<Point>[], states = new Map<string, WorkingState<unknown>>()): Alert[] {
  const host: StepHost = {
    reserveStepName: (kind, name) => name ?? `${kind}-1`,
    createStepContext: (kind, name) =>
      makeStepContext({
        stepName: name ?? `${kind}-1`,
        clock: { now: () => 0, setTimer: () => () => undefined },
        logger: silentLogger,
        metrics: { recordsIn: () => undefined, recordsOut: () => undefined, deadLetters: () => undefined, late: () => undefined },
        states,
      }),
    registerSink: () => ({ skip: () => undefined }),
  };
  const input = new Subject<Chunk<Point>>();
  const output: Chunk<Alert>[] = [];
  let failure: Error | undefined;
  withStepHost(host, () => input.pipe(anomalies(options)).subscribe({ next: (chunk) => void output.push(chunk), error: (error: unknown) => void (failure = error instanceof Error ? error : new Error(String(error))) }));
  for (const chunk of chunks) input.next(chunk);
  input.complete();
  if (failure !== undefined) throw failure;
  return dataOf(output).map((record) => record.value);
}

/** Two-sided tail P(|T| >= t) of Student's t with `nu` degrees of freedom (Simpson's rule over [t, t + 400]). */
function studentTail(nu: number, t: number): number {
  const logGamma = (x: number): number => {
    // x is a multiple of 1/2 here: recurse down to Γ(1) = 1 or Γ(1/2) = √π.
    let log = 0;
    let y = x;
    while (y > 1) {
      y -= 1;
      log += Math.log(y);
    }
    return y === 1 ? log : log + 0.5 * Math.log(Math.PI);
  };
  const c = Math.exp(logGamma((nu + 1) / 2) - logGamma(nu / 2)) / Math.sqrt(nu * Math.PI);
  const density = (x: number) => c * (1 + (x * x) / nu) ** (-(nu + 1) / 2);
  const steps = 20_000;
  const h = 400 / steps;
  let sum = density(t) + density(t + 400);
  for (let i = 1; i < steps; i++) sum += (i % 2 === 1 ? 4 : 2) * density(t + i * h);
  return (2 * sum * h) / 3;
}

const tailCache = new Map<number, number>();
/** p(n): false-positive probability of an ordinary value judged against n baseline values, with the 0.99 margin. */
function falsePositiveProbability(n: number): number {
  let p = tailCache.get(n);
  if (p === undefined) {
    p = studentTail(n - 1, (Z * 0.99) / Math.sqrt(1 + 1 / n));
    tailCache.set(n, p);
  }
  return p;
}

/** Smallest c with P(Poisson(λ) > c) <= tail. */
function poissonQuantile(lambda: number, tail: number): number {
  let term = Math.exp(-lambda);
  let cumulative = term;
  let c = 0;
  while (1 - cumulative > tail) {
    c++;
    term *= lambda / c;
    cumulative += term;
  }
  return c;
}

describe('anomalies (property)', () => {
  it('flags every injected outlier, and ordinary values no more often than the t-distribution bound allows', () => {
    expect(falsePositiveProbability(30)).toBeCloseTo(5.31e-4, 5);
    let totalExpected = 0;
    let totalFalse = 0;
    let totalJudged = 0;
    let totalOutliers = 0;
    fc.assert(
      fc.property(scenarioArb, (scenario) => {
        const points = generate(scenario);
        const alerts = run({ metric: 'value', value: (p) => p.value, window: scenario.window, minSamples: scenario.minSamples, zThreshold: Z }, chunksOf(points, scenario));
        const flagged = new Set(alerts.map((alert) => Number(alert.id.slice(alert.id.lastIndexOf('@') + 1))));

        // λ: the baseline size each ordinary value was judged with (outliers, when flagged, stay out of it).
        const baseline = new Map<string, number>();
        let lambda = 0;
        let falsePositives = 0;
        points.forEach((point, offset) => {
          const n = baseline.get(point.key) ?? 0;
          if (point.outlier) {
            expect(flagged.has(offset), `outlier at ${offset} (${point.key}) not flagged`).toBe(true);
            totalOutliers++;
            return;
          }
          if (n >= scenario.minSamples) {
            lambda += falsePositiveProbability(n);
            totalJudged++;
            if (flagged.has(offset)) falsePositives++;
          } else {
            expect(flagged.has(offset)).toBe(false);
          }
          if (!flagged.has(offset)) baseline.set(point.key, Math.min(n + 1, scenario.window));
        });
        expect(falsePositives).toBeLessThanOrEqual(poissonQuantile(lambda, 1e-6));
        totalExpected += lambda;
        totalFalse += falsePositives;
      }),
      { seed: 20_261_122, numRuns: 80 },
    );
    expect(totalOutliers).toBeGreaterThan(200); // the generator does inject
    expect(totalJudged).toBeGreaterThan(20_000);
    expect(totalFalse).toBeLessThanOrEqual(totalExpected + 5 * Math.sqrt(totalExpected));
  });

  const variants = fc.record({
    direction: fc.constantFrom('both' as const, 'above' as const, 'below' as const),
    outliers: fc.constantFrom('exclude' as const, 'include' as const),
    zThreshold: fc.constantFrom(2, 3, 4),
    // 2 with zThreshold 2 relearns now and then on ordinary values; injected outliers side by side trigger it too.
    relearnAfter: fc.constantFrom(undefined, null, 2, 3),
    split: fc.double({ min: 0, max: 1, noNaN: true }),
  });

  let relearns = 0;
  it('flags exactly what a brute-force detector flags, with the same figures, across a JSON save and restore of its state', () => {
    fc.assert(
      fc.property(scenarioArb, variants, (scenario, variant) => {
        const small = { ...scenario, perKey: Math.min(scenario.perKey, 300) };
        const points = generate(small);
        const options: AnomaliesOptions<Point> = {
          metric: 'value',
          value: (p) => p.value,
          window: small.window,
          minSamples: small.minSamples,
          zThreshold: variant.zThreshold,
          direction: variant.direction,
          outliers: variant.outliers,
          ...(variant.relearnAfter === undefined ? {} : { relearnAfter: variant.relearnAfter }),
        };
        const relearnAfter = variant.relearnAfter === undefined ? 10 : variant.relearnAfter;

        // Brute force: the kept values per key, stats recomputed from scratch for every value.
        // A run of consecutive flagged values of relearnAfter replaces the kept values.
        const kept = new Map<string, number[]>();
        const runs = new Map<string, number[]>();
        const expected: [number, number, number, number][] = [];
        points.forEach((point, offset) => {
          const values = kept.get(point.key) ?? [];
          kept.set(point.key, values);
          let flag = false;
          if (values.length >= small.minSamples) {
            const mean = values.reduce((sum, v) => sum + v, 0) / values.length;
            const stddev = Math.sqrt(values.reduce((sum, v) => sum + (v - mean) ** 2, 0) / (values.length - 1));
            const z = (point.value - mean) / stddev;
            flag = variant.direction === 'above' ? z >= variant.zThreshold : variant.direction === 'below' ? -z >= variant.zThreshold : Math.abs(z) >= variant.zThreshold;
            if (flag) expected.push([offset, z, mean, stddev]);
          }
          const run = flag ? [...(runs.get(point.key) ?? []), point.value] : [];
          runs.set(point.key, run);
          if (relearnAfter !== null && run.length === relearnAfter) {
            kept.set(point.key, run);
            runs.set(point.key, []);
            relearns++;
          } else if (!flag || variant.outliers === 'include') {
            values.push(point.value);
            if (values.length > small.window) values.shift();
          }
        });

        // The operator, stopped after `split` of the chunks, its state saved as JSON and loaded into a fresh one.
        const chunks = chunksOf(points, small);
        const cut = Math.floor(variant.split * chunks.length);
        const states = new Map<string, WorkingState<unknown>>();
        const before = run(options, chunks.slice(0, cut), states);
        const restored = new Map<string, WorkingState<unknown>>();
        for (const [partition, state] of states) {
          const fresh = new WorkingStateClass<unknown>();
          fresh.load(JSON.parse(JSON.stringify([...state.entries()])) as [string, unknown][]);
          restored.set(partition, fresh);
        }
        const after = run(options, chunks.slice(cut), restored);
        const actual = [...before, ...after];

        expect(actual.map((alert) => Number(alert.id.slice(alert.id.lastIndexOf('@') + 1)))).toEqual(expected.map(([offset]) => offset));
        actual.forEach((alert, index) => {
          const [, z, mean, stddev] = expected[index]!;
          expect(Math.abs(alert.zScore! - z)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(z)));
          expect(Math.abs(alert.mean! - mean)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(mean)));
          expect(Math.abs(alert.stddev! - stddev)).toBeLessThanOrEqual(1e-6 * stddev);
        });
      }),
      { seed: 7_311, numRuns: 60 },
    );
    expect(relearns).toBeGreaterThan(0); // the relearn path was compared too
  });
});
