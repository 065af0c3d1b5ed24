/**
 * Control messages of the DHT backend, published on the network's control
 * topic (and, for invalidations, also sent straight to every member): typed and
 * validated with zod on receipt; a message that does not parse is ignored.
 */
import { z } from 'zod';

const base = {
  c: z.literal('dht'),
  /** Writer clock of the operation, ms. */
  at: z.number().finite(),
  /** The sender's wall clock when it sent the message (receivers measure its clock offset). */
  sent: z.number().finite().optional(),
};

const key = z.string().min(1).max(4096);

export const controlSchema = z.discriminatedUnion('op', [
  /** A write: other near caches drop older copies of the key. */
  z.object({ ...base, op: z.literal('put'), key }),
  /** A delete of one key. */
  z.object({ ...base, op: z.literal('del'), key }),
  /** A clear (no pattern) or a revoke (glob on the rest of the key after `prefix`). */
  z.object({
    ...base,
    op: z.literal('rule'),
    prefix: z.string().max(4096),
    pattern: z.string().min(1).max(4096).optional(),
  }),
  /** A clock beacon: lets the peers measure this node's clock offset before it writes anything. */
  z.object({ ...base, op: z.literal('clock') }),
]);

export type Control = z.infer<typeof controlSchema>;

/** The control message in `raw`, or undefined when it is not a valid DHT control message. */
export function parseControl(raw: unknown): Control | undefined {
  if (raw === null || typeof raw !== 'object' || (raw as { c?: unknown }).c !== 'dht') return undefined;
  const parsed = controlSchema.safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}
