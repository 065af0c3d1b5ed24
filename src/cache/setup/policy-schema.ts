/**
 * Schemas of the cache policy options, shared by the three levels:
 * `grace`, `softTimeoutMs`, `tags` (templates; functions only in code, see
 * config.ts) and `coalesce`.
 */
import * as v from 'valibot';
import { isValidTtl, TTL_RULE } from '../backends/ttl.js';

const seconds = v.pipe(
  v.number(`expected ${TTL_RULE}`),
  v.check<number, string>(isValidTtl, `expected ${TTL_RULE}`),
);

/** A list of tags or tag templates (`user:{id}`). */
export const tagListSchema = v.array(v.pipe(v.string(), v.minLength(1), v.maxLength(512)));

export const policyShape = {
  /** Seconds past ttl + staleTtl an expired entry is kept to answer when the handler fails. */
  grace: v.optional(seconds),
  /** ms: with a stale value at hand, answer with it when the handler is slower than this. */
  softTimeoutMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
  tags: v.optional(tagListSchema),
  coalesce: v.optional(v.picklist(['node', 'cluster'])),
};
