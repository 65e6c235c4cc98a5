/**
 * docs/reference/operators.md — validate, mask.
 */
import { mask, memorySink, toSink, validate } from '@tributary/core';
import type { Chunk } from '@tributary/core';
import type { Observable } from 'rxjs';
import { z } from 'zod';

const Customer = z.object({
  id: z.string(),
  email: z.email(),
  phone: z.string().optional(),
  card: z.object({ number: z.string(), expires: z.string() }).optional(),
  tier: z.enum(['free', 'gold']).default('free'),
});
export type Customer = z.output<typeof Customer>;

export const customers = memorySink<Customer>({ name: 'customers' });

export function cleanCustomers(raw: Observable<Chunk<unknown>>, salt: string): Observable<Chunk<never>> {
  return raw.pipe(
    validate(Customer, { name: 'customer-schema' }), // Operator<unknown, Customer>: defaults applied, unknown keys stripped
    mask({
      name: 'mask-pii',
      fields: {
        email: { hash: 'sha256', salt }, // 64 hex characters; equal e-mails give equal hashes
        phone: 'redact', // '[REDACTED]'
        'card.number': { keepLast: 4 }, // '************4242'
        'card.expires': { replaceWith: null },
      },
    }),
    toSink(customers),
  );
}
