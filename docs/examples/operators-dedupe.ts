/**
 * docs/reference/operators.md — dedupe.
 */
import { dedupe } from '@tributary/core';
import type { Chunk } from '@tributary/core';
import type { Observable } from 'rxjs';

interface OrderEvent {
  readonly eventId: string;
  readonly orderId: string;
}

interface Alert {
  readonly deviceId: string;
  readonly level: 'warning' | 'critical';
}

/** Redelivered events (same id) within 10 minutes of event time are dropped. */
export const uniqueEvents = (events: Observable<Chunk<OrderEvent>>) =>
  events.pipe(dedupe({ name: 'unique-events', key: (event) => event.eventId, within: { ttlMs: 10 * 60_000 } }));

/** The same by processing time: for sources whose event times cannot be trusted. */
export const uniqueByArrival = (events: Observable<Chunk<OrderEvent>>) =>
  events.pipe(dedupe({ name: 'unique-by-arrival', key: (event) => event.eventId, within: { ttlMs: 60_000, time: 'processing' } }));

/** At most one alert per device and level per hour of event time. */
export const hourlyAlerts = (alerts: Observable<Chunk<Alert>>) =>
  alerts.pipe(dedupe({ name: 'hourly-alerts', key: (alert) => `${alert.deviceId}/${alert.level}`, window: { sizeMs: 3_600_000 } }));
