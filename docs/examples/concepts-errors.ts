/**
 * docs/guides/concepts.md — errors and dead letters.
 */
import { createRuntime, defineTopology, enrich, map, mask, memorySink, memorySource, StepFailedError, toSink, validate } from '@tributary/core';
import type { DeadLetter } from '@tributary/core';
import { z } from 'zod';

const Signup = z.object({ email: z.email(), country: z.string().length(2), plan: z.enum(['free', 'pro']) });

export function signupsJob(events: readonly unknown[], countries: ReadonlyMap<string, string>) {
  const accounts = memorySink<{ email: string; region: string; plan: string }>({ name: 'accounts' });
  const deadLetters = memorySink<DeadLetter>({ name: 'signup-dead-letters' });
  const job = defineTopology({
    name: 'signups',
    source: memorySource(events),
    pipeline: (signups) =>
      signups.pipe(
        validate(Signup, { name: 'signup-schema' }), // bad events: dead letters (the default policy, 'dlq')
        // Downstream of validate, so the records inside its dead letters are masked too.
        mask({ name: 'mask-email', fields: { email: { hash: 'sha256', salt: 'demo-salt' } } }),
        enrich({
          name: 'region',
          key: (signup) => signup.country,
          lookup: (codes) => new Map(codes.flatMap((code) => (countries.has(code) ? [[code, countries.get(code)!]] : []))),
          merge: (signup, region) => ({ ...signup, region: region! }),
          onMissing: 'dlq', // an unknown country is a dead letter too
        }),
        map((signup) => ({ email: signup.email, region: signup.region, plan: signup.plan }), { name: 'account', onError: 'fail' }),
        toSink(accounts),
      ),
  });
  const runtime = createRuntime(job, { deadLetters });
  return { runtime, accounts, deadLetters };
}

export async function runSignups(events: readonly unknown[]): Promise<void> {
  const { runtime, deadLetters } = signupsJob(events, new Map([['DE', 'eu'], ['US', 'us']]));
  await runtime.start();
  try {
    await runtime.done;
  } catch (error) {
    if (error instanceof StepFailedError) {
      // Nothing after the last checkpoint was committed: fix the cause, restart, and the record is processed again.
      console.error(`${error.stage} failed at ${error.partition}@${error.offset}: ${error.message}`);
    }
    throw error;
  }
  for (const { value: letter } of deadLetters.committed) {
    console.log(`${letter.stage} rejected ${letter.record.position.partition}@${letter.record.position.offset}: ${letter.error.code}`);
  }
}
