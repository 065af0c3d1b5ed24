/**
 * Control messages of the DHT backend, published on the network's control
 * topic (and, for invalidations, also sent straight to every member): typed and
 * validated (valibot) on receipt; a message that does not parse is ignored.
 */
import * as v from 'valibot';

const finite = v.pipe(v.number(), v.finite());
const base = {
  c: v.literal('dht'),
  /** Writer clock of the operation, ms. */
  at: finite,
  /** The sender's wall clock when it sent the message (receivers measure its clock offset). */
  sent: v.optional(finite),
};

const key = v.pipe(v.string(), v.minLength(1), v.maxLength(4096));

export const controlSchema = v.variant('op', [
  /** A write announcement of earlier versions (for their own near caches): parsed, then ignored. */
  v.object({ ...base, op: v.literal('put'), key }),
  /** A delete of one key. */
  v.object({ ...base, op: v.literal('del'), key }),
  /** A clear (no pattern) or a revoke (glob on the rest of the key after `prefix`). */
  v.object({
    ...base,
    op: v.literal('rule'),
    prefix: v.pipe(v.string(), v.maxLength(4096)),
    pattern: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(4096))),
  }),
  /** A clock beacon: lets the peers measure this node's clock offset before it writes anything. */
  v.object({ ...base, op: v.literal('clock') }),
]);

export type Control = v.InferOutput<typeof controlSchema>;

/** The control message in `raw`, or undefined when it is not a valid DHT control message. */
export function parseControl(raw: unknown): Control | undefined {
  if (raw === null || typeof raw !== 'object' || (raw as { c?: unknown }).c !== 'dht') return undefined;
  const parsed = v.safeParse(controlSchema, raw);
  return parsed.success ? parsed.output : undefined;
}
