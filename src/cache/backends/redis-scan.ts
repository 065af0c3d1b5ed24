/**
 * Clear and revoke on Redis: SCAN batches on every given node, each batch
 * UNLINKed while the next SCAN runs (at most one UNLINK in flight per node),
 * so the server never does more than one batch of work per command and other
 * clients are served in between (BENCHMARKS.md: a 100k-key revoke stalls a
 * concurrent client ~7 ms; one KEYS stalls it ~440 ms).
 */
import type { Redis } from 'ioredis';

/** Removes the keys matching `match` (and `exact`, when given) on every node; returns how many. */
export async function scanUnlink(
  nodes: readonly Redis[],
  cluster: boolean,
  count: number,
  match: string,
  exact?: (key: string) => boolean,
): Promise<number> {
  const counts = await Promise.all(nodes.map((node) => scanUnlinkNode(node, cluster, count, match, exact)));
  return counts.reduce((a, b) => a + b, 0);
}

async function scanUnlinkNode(
  node: Redis,
  cluster: boolean,
  count: number,
  match: string,
  exact?: (key: string) => boolean,
): Promise<number> {
  let cursor = '0';
  let removed = 0;
  let inflight: Promise<number> | undefined;
  try {
    do {
      const [next, found] = await node.scan(cursor, 'MATCH', match, 'COUNT', count);
      cursor = next;
      const keys = exact ? found.filter(exact) : found;
      if (keys.length === 0) continue;
      if (inflight) removed += await inflight;
      inflight = unlink(node, cluster, keys);
    } while (cursor !== '0');
    if (inflight) removed += await inflight;
    inflight = undefined;
    return removed;
  } finally {
    inflight?.catch(() => {});
  }
}

function unlink(node: Redis, cluster: boolean, keys: string[]): Promise<number> {
  // On a single server one UNLINK takes the whole batch. In a cluster a multi-key
  // command must stay in one slot, so each key gets its own UNLINK, pipelined.
  if (!cluster) return node.unlink(...keys);
  const pipeline = node.pipeline();
  for (const k of keys) pipeline.unlink(k);
  return pipeline.exec().then((results) => {
    let n = 0;
    for (const [err, removed] of results ?? []) {
      if (err) throw err;
      n += removed as number;
    }
    return n;
  });
}
