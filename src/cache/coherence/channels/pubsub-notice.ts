/**
 * The invalidations meshcache nodes publish on the near tier's Redis pub/sub
 * channel when the server refuses client tracking (redis-coherence.ts), and
 * their check on receipt: any client of the server may publish there.
 */

/** An invalidation as published in `pubsub` mode (`tags`: `keys` are tag record keys). */
export interface PubsubNotice {
  readonly from: string;
  readonly op: 'delete' | 'clear' | 'revoke' | 'tags';
  readonly keys?: readonly string[];
  readonly prefix?: string;
  readonly pattern?: string;
}

/** A pub/sub notice parsed and checked (the channel is open to any client of the server), or undefined. */
export function parsePubsub(raw: string): PubsubNotice | undefined {
  let n: unknown;
  try {
    n = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (n === null || typeof n !== 'object') return undefined;
  const { from, op, keys, prefix, pattern } = n as Record<string, unknown>;
  if (typeof from !== 'string') return undefined;
  if (prefix !== undefined && typeof prefix !== 'string') return undefined;
  if (op === 'delete' || op === 'tags') {
    if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string')) return undefined;
  } else if (op === 'revoke') {
    if (typeof pattern !== 'string') return undefined;
  } else if (op !== 'clear') return undefined;
  return n as PubsubNotice;
}
