/**
 * Schemas of the cache policy options (issue 11), shared by the three levels:
 * `grace`, `softTimeoutMs`, `tags` (templates; functions only in code, see
 * config.ts) and `coalesce`.
 */
import { z } from 'zod';
import { isValidTtl, TTL_RULE } from '../ttl.js';

const seconds = z
  .number({ error: `expected ${TTL_RULE}` })
  .refine(isValidTtl, { error: `expected ${TTL_RULE}` });

/** A list of tags or tag templates (`user:{id}`). */
export const tagListSchema = z.array(z.string().min(1).max(512));

export const policyShape = {
  /** Seconds past ttl + staleTtl an expired entry is kept to answer when the handler fails. */
  grace: seconds.optional(),
  /** ms: with a stale value at hand, answer with it when the handler is slower than this. */
  softTimeoutMs: z.number().int().positive().optional(),
  tags: tagListSchema.optional(),
  coalesce: z.enum(['node', 'cluster']).optional(),
};
