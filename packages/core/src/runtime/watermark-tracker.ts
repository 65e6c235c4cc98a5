/** Options of {@link WatermarkTracker}. */
export interface WatermarkOptions {
  /** How far behind the newest event time of a partition records may still arrive in order. Default 0. */
  outOfOrdernessMs: number;
  /** A partition with no records for this long (processing time) stops holding the watermark back. Default 30 000. */
  idleTimeoutMs: number;
}

interface PartitionProgress {
  maxEventTime: number;
  lastActivity: number;
}

/**
 * Event-time watermarks the way Flink computes them: per partition `max event time - out-of-orderness`, and the
 * topology's watermark is the minimum over its partitions, except partitions idle for longer than the idle timeout.
 * A partition that was assigned but has not produced a record yet holds the watermark back until it goes idle.
 * The watermark never moves backwards.
 */
export class WatermarkTracker {
  readonly #options: WatermarkOptions;
  readonly #partitions = new Map<string, PartitionProgress>();
  #current = Number.NEGATIVE_INFINITY;

  constructor(options: WatermarkOptions) {
    this.#options = options;
  }

  /** The current watermark (`-Infinity` before the first one). */
  get current(): number {
    return this.#current;
  }

  /** Registers partitions that were assigned (they hold the watermark back until active or idle). */
  assign(partitions: readonly string[], now: number): void {
    for (const partition of partitions) {
      if (!this.#partitions.has(partition)) {
        this.#partitions.set(partition, { maxEventTime: Number.NEGATIVE_INFINITY, lastActivity: now });
      }
    }
  }

  /** Forgets revoked partitions. */
  revoke(partitions: readonly string[]): void {
    for (const partition of partitions) this.#partitions.delete(partition);
  }

  /** Notes that `partition` produced a record with `eventTime`. */
  observe(partition: string, eventTime: number, now: number): void {
    let progress = this.#partitions.get(partition);
    if (progress === undefined) {
      progress = { maxEventTime: eventTime, lastActivity: now };
      this.#partitions.set(partition, progress);
    } else {
      if (eventTime > progress.maxEventTime) progress.maxEventTime = eventTime;
      progress.lastActivity = now;
    }
  }

  /** Per-partition watermarks, for status reports. */
  partitions(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [partition, progress] of this.#partitions) out[partition] = progress.maxEventTime - this.#options.outOfOrdernessMs;
    return out;
  }

  /** Recomputes the watermark at processing time `now`; returns the new value when it advanced, else `undefined`. */
  advance(now: number): number | undefined {
    let active = Number.POSITIVE_INFINITY;
    let anyActive = false;
    for (const progress of this.#partitions.values()) {
      const mark = progress.maxEventTime - this.#options.outOfOrdernessMs;
      if (now - progress.lastActivity >= this.#options.idleTimeoutMs) continue;
      anyActive = true;
      if (mark < active) active = mark;
    }
    // When every partition is idle the watermark holds: jumping to the most advanced partition would make the records
    // of a partition that was behind late the moment it wakes up. The end of a bounded input closes windows instead.
    const candidate = anyActive ? active : Number.NEGATIVE_INFINITY;
    if (candidate > this.#current && Number.isFinite(candidate)) {
      this.#current = candidate;
      return candidate;
    }
    return undefined;
  }
}
