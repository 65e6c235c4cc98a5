import type { StreamRecord } from '../record/stream-record.js';

/**
 * `record` with `value` replaced. Written as an object literal rather than `{ ...record, value }`: every record then
 * shares one hidden class, and in V8 this is about twice as fast as a spread on the per-record hot path.
 */
export function withValue<Out>(record: StreamRecord<unknown>, value: Out): StreamRecord<Out> {
  return { key: record.key, value, eventTime: record.eventTime, position: record.position, headers: record.headers };
}
