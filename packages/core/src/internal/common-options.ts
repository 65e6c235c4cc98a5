import { z } from 'zod';

/** Options every operator accepts. */
export const stepNameSchema = z.string().min(1, 'must be a non-empty string').optional();
export const errorPolicySchema = z.enum(['dlq', 'skip', 'fail']);
