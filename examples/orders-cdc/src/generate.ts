/**
 * Deterministic change events for an `orders` table, shaped like Debezium's PostgreSQL envelopes (already decoded
 * from JSON): inserts, updates and deletes, plus the trouble a real stream carries — invalid events, redelivered
 * duplicates and events that arrive far too late. The generator also returns its own ground truth, so a test can check
 * the job's numbers against what was put in.
 */

export interface OrderRow {
  order_id: string;
  merchant_id: string;
  customer_email: string;
  amount: number;
  status: 'placed' | 'paid' | 'refunded';
  created_at: number;
}

export interface OrderChangeEvent {
  op: 'c' | 'u' | 'd';
  ts_ms: number;
  source: { connector: 'postgresql'; db: 'shop'; schema: 'public'; table: 'orders'; lsn: number; ts_ms: number };
  before: OrderRow | null;
  after: OrderRow | null;
}

export interface GeneratedInput {
  events: unknown[];
  /** Ground truth, by construction. */
  truth: {
    events: number;
    invalid: number;
    duplicates: number;
    late: number;
    deletes: number;
    /** Valid, first-seen, on-time inserts and updates: what the windows must aggregate. */
    windowed: OrderChangeEvent[];
  };
}

export interface GenerateOptions {
  events: number;
  merchants: number;
  seed: number;
  /** Start of event time. */
  start: number;
}

/** mulberry32: a small, fast, seedable PRNG, so every run generates the same stream. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Generates `events` change events in arrival order. Event times advance about 100 ms per event with up to 2 s of
 * disorder (inside the job's 5 s out-of-orderness bound). Every 97th event is invalid (a negative or missing amount),
 * every 89th is redelivered right after itself (same LSN: a duplicate), and after the first 15 minutes of event time
 * every 151st event is stamped 30 minutes in the past (late beyond any allowed lateness).
 */
export function generateOrderEvents(options: GenerateOptions): GeneratedInput {
  const next = random(options.seed);
  const events: unknown[] = [];
  const windowed: OrderChangeEvent[] = [];
  const open = new Map<string, OrderRow>();
  let invalid = 0;
  let duplicates = 0;
  let late = 0;
  let deletes = 0;
  let lsn = 1_000;
  let clock = options.start;

  for (let index = 0; events.length < options.events; index++) {
    clock += 50 + Math.floor(next() * 100);
    const disorder = Math.floor(next() * 2_000);
    const isLate = index % 151 === 150 && clock - options.start > 15 * 60_000;
    const eventTime = isLate ? clock - 30 * 60_000 : clock - disorder;
    lsn += 1 + Math.floor(next() * 10);
    const merchant = `m-${String(1 + Math.floor(next() * options.merchants)).padStart(3, '0')}`;

    let event: OrderChangeEvent;
    const existing = [...open.values()];
    const roll = next();
    if (existing.length > 50 && roll < 0.2) {
      const row = existing[Math.floor(next() * existing.length)]!;
      const updated: OrderRow = { ...row, status: row.status === 'placed' ? 'paid' : 'refunded', amount: Math.round(row.amount * 0.9 * 100) / 100 };
      open.set(row.order_id, updated);
      event = envelope('u', row, updated, eventTime, lsn);
    } else if (existing.length > 50 && roll < 0.25) {
      const row = existing[Math.floor(next() * existing.length)]!;
      open.delete(row.order_id);
      event = envelope('d', row, null, eventTime, lsn);
    } else {
      const row: OrderRow = {
        order_id: `o-${lsn}`,
        merchant_id: merchant,
        customer_email: `customer${Math.floor(next() * 5_000)}@example.com`,
        amount: Math.round((5 + next() * 495) * 100) / 100,
        status: 'placed',
        created_at: eventTime,
      };
      open.set(row.order_id, row);
      event = envelope('c', null, row, eventTime, lsn);
    }

    if (index % 97 === 96 && event.after !== null) {
      // Invalid: the amount is missing or negative. It must reach the dead letters, nowhere else.
      const broken = { ...event, after: { ...event.after, amount: index % 2 === 0 ? -1 : undefined } };
      events.push(broken);
      invalid++;
      continue;
    }
    events.push(event);
    // Deletes bypass the windows, so only a late insert or update is late.
    if (event.op === 'd') deletes++;
    else if (isLate) late++;
    else windowed.push(event);
    if (index % 89 === 88 && !isLate && events.length < options.events) {
      events.push(structuredClone(event));
      duplicates++;
    }
  }
  return { events, truth: { events: events.length, invalid, duplicates, late, deletes, windowed } };
}

function envelope(op: OrderChangeEvent['op'], before: OrderRow | null, after: OrderRow | null, eventTime: number, lsn: number): OrderChangeEvent {
  return {
    op,
    ts_ms: eventTime + 5,
    source: { connector: 'postgresql', db: 'shop', schema: 'public', table: 'orders', lsn, ts_ms: eventTime },
    before,
    after,
  };
}
