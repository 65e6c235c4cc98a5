/** Label values of one metric sample. */
export type MetricLabels = Readonly<Record<string, string>>;

/** A monotonically increasing count. */
export interface Counter {
  inc(labels?: MetricLabels, amount?: number): void;
}

/** A value that goes up and down. */
export interface Gauge {
  set(value: number, labels?: MetricLabels): void;
}

/** A distribution of observed values (latencies in seconds). */
export interface Histogram {
  observe(value: number, labels?: MetricLabels): void;
}

/**
 * Where Tributary reports metrics. {@link PrometheusMetrics} is the built-in implementation; adapt another registry
 * (prom-client, OpenTelemetry) by implementing these three factories.
 *
 * Names Tributary reports (all prefixed `tributary_`): `records_in_total` / `records_out_total` (label `step`),
 * `dead_letters_total` and `late_records_total` (label `step`), `watermark_ms`, `in_flight_records`,
 * `commit_latency_seconds`, `checkpoints_total`, `source_paused` — each also labelled `topology`.
 */
export interface Metrics {
  counter(name: string, help: string): Counter;
  gauge(name: string, help: string): Gauge;
  histogram(name: string, help: string, buckets?: readonly number[]): Histogram;
}

const labelKey = (labels: MetricLabels | undefined): string =>
  labels === undefined
    ? ''
    : Object.keys(labels)
        .sort()
        .map((name) => `${name}="${escapeLabel(labels[name] ?? '')}"`)
        .join(',');

const escapeLabel = (value: string): string => value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

interface Family {
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly help: string;
  readonly samples: Map<string, number>;
  readonly buckets?: readonly number[];
  readonly histograms?: Map<string, { counts: number[]; sum: number; count: number }>;
}

const DEFAULT_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/**
 * In-process metrics with Prometheus text exposition (format 0.0.4). Serve `metrics.expose()` from your HTTP server's
 * `/metrics` route.
 *
 * @example
 * ```ts
 * const metrics = new PrometheusMetrics();
 * const runtime = createRuntime(job, { metrics });
 * http.createServer((req, res) => res.end(metrics.expose())).listen(9464, '127.0.0.1');
 * ```
 */
export class PrometheusMetrics implements Metrics {
  readonly #families = new Map<string, Family>();

  counter(name: string, help: string): Counter {
    const family = this.#family(name, help, 'counter');
    return {
      inc: (labels, amount = 1) => {
        const key = labelKey(labels);
        family.samples.set(key, (family.samples.get(key) ?? 0) + amount);
      },
    };
  }

  gauge(name: string, help: string): Gauge {
    const family = this.#family(name, help, 'gauge');
    return { set: (value, labels) => void family.samples.set(labelKey(labels), value) };
  }

  histogram(name: string, help: string, buckets: readonly number[] = DEFAULT_BUCKETS): Histogram {
    const family = this.#family(name, help, 'histogram', buckets);
    const histograms = family.histograms!;
    const bounds = family.buckets!;
    return {
      observe: (value, labels) => {
        const key = labelKey(labels);
        let entry = histograms.get(key);
        if (entry === undefined) {
          entry = { counts: bounds.map(() => 0), sum: 0, count: 0 };
          histograms.set(key, entry);
        }
        for (let index = 0; index < bounds.length; index++) if (value <= bounds[index]!) entry.counts[index]! += 1;
        entry.sum += value;
        entry.count += 1;
      },
    };
  }

  /** Current value of a counter or gauge sample (for tests and dashboards); `undefined` when never set. */
  value(name: string, labels?: MetricLabels): number | undefined {
    return this.#families.get(name)?.samples.get(labelKey(labels));
  }

  /** All samples in Prometheus text exposition format. */
  expose(): string {
    const lines: string[] = [];
    for (const [name, family] of this.#families) {
      lines.push(`# HELP ${name} ${family.help}`, `# TYPE ${name} ${family.type}`);
      if (family.type !== 'histogram') {
        for (const [key, value] of family.samples) lines.push(`${name}${key ? `{${key}}` : ''} ${formatNumber(value)}`);
        continue;
      }
      for (const [key, entry] of family.histograms!) {
        const prefix = key ? `${key},` : '';
        family.buckets!.forEach((bound, index) => lines.push(`${name}_bucket{${prefix}le="${bound}"} ${entry.counts[index]}`));
        lines.push(`${name}_bucket{${prefix}le="+Inf"} ${entry.count}`);
        lines.push(`${name}_sum${key ? `{${key}}` : ''} ${formatNumber(entry.sum)}`);
        lines.push(`${name}_count${key ? `{${key}}` : ''} ${entry.count}`);
      }
    }
    return lines.join('\n') + '\n';
  }

  #family(name: string, help: string, type: Family['type'], buckets?: readonly number[]): Family {
    const existing = this.#families.get(name);
    if (existing !== undefined) {
      if (existing.type !== type) throw new Error(`Metric ${name} is already registered as a ${existing.type}, not a ${type}`);
      return existing;
    }
    const family: Family =
      type === 'histogram'
        ? { type, help, samples: new Map(), buckets: [...(buckets ?? DEFAULT_BUCKETS)].sort((a, b) => a - b), histograms: new Map() }
        : { type, help, samples: new Map() };
    this.#families.set(name, family);
    return family;
  }
}

const formatNumber = (value: number): string =>
  Number.isFinite(value) ? String(value) : value > 0 ? '+Inf' : value < 0 ? '-Inf' : 'NaN';
