/**
 * How long a tag invalidation on one node takes to stop another node
 * from serving a tagged entry: Redis client tracking of the record's write
 * (near tiers), and the P2P bus's `tags` notice (memory backends, in-process
 * libp2p nodes on 127.0.0.1). Part of `npm run bench -- policies`.
 */
import { pino } from 'pino';
import { Node } from '../src/index.js';
import { gossipPeers } from '../test/helpers/p2p.js';
import type { RedisServer } from '../test/helpers/redis-server.js';

const SAMPLES = Number(process.env.TAG_SAMPLES ?? 200);
const state = { version: 0 };

function tagNode(cache: Record<string, unknown>, network?: Record<string, unknown>): Node {
  const node = new Node({
    logger: pino({ level: 'silent' }),
    env: {},
    ...(network ? { network: network as never } : {}),
    config: { cache: { ttl: 3600, failure: { opTimeoutMs: 5000 }, ...cache } },
  });
  node.addService({
    name: 'user',
    actions: {
      get_user: {
        cache: { keys: ['id'], tags: ['user:{id}'] },
        handler: async (_c: unknown, p: { id: number }) => ({ id: p.id, version: state.version }),
      },
    },
  });
  return node;
}

/** Per sample: invalidateTags on node 0, then the slowest other node's delay until it answers the new value. */
async function propagation(nodes: Node[]): Promise<string> {
  const version = async (n: Node, id: number) =>
    ((await n.request('user/get_user', { id })) as { version: number }).version;
  const delays: number[] = [];
  for (let s = 0; s < SAMPLES; s++) {
    const id = 20_000 + s;
    state.version++;
    const old = state.version;
    for (let pass = 0; pass < 3; pass++) for (const n of nodes) await version(n, id); // near tiers filled
    await new Promise((r) => setTimeout(r, 2));
    state.version++;
    const t0 = performance.now();
    await nodes[0].cache.invalidateTags([`user:${id}`]);
    const pending = new Set(nodes.slice(1));
    let worst = 0;
    while (pending.size > 0) {
      for (const n of [...pending])
        if ((await version(n, id)) !== old) {
          pending.delete(n);
          worst = performance.now() - t0;
        }
      if (performance.now() - t0 > 5_000) throw new Error('tag invalidation did not propagate within 5 s');
      await new Promise((r) => setImmediate(r));
    }
    delays.push(worst);
  }
  delays.sort((a, b) => a - b);
  const at = (p: number) => delays[Math.min(delays.length - 1, Math.floor(delays.length * p))].toFixed(2);
  return `${SAMPLES} | ${at(0.5)} | ${at(0.99)} | ${delays[delays.length - 1].toFixed(2)}`;
}

export async function tagPropagation(server: RedisServer): Promise<string> {
  const rows: string[] = [];
  const redisNodes = [0, 1].map(() => tagNode({ backend: 'redis', redis: { url: server.url } }));
  for (const n of redisNodes) await n.start();
  await new Promise((r) => setTimeout(r, 200));
  rows.push(`| Redis tracking (near tiers), 2 nodes | ${await propagation(redisNodes)} |`);
  for (const n of redisNodes) await n.stop();
  const first = tagNode({ backend: 'memory' }, { id: 'tag-bench' });
  await first.start();
  const second = tagNode({ backend: 'memory' }, { id: 'tag-bench', bootstrap: first.network!.addresses() });
  await second.start();
  const end = Date.now() + 30_000;
  while (![first, second].every((m) => gossipPeers(m.network!).length >= 1)) {
    if (Date.now() > end) throw new Error('gossip mesh not formed');
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 1500)); // let the gossipsub mesh settle (heartbeats)
  rows.push(`| P2P bus (memory backends), 2 nodes | ${await propagation([first, second])} |`);
  await Promise.allSettled([first.stop(), second.stop()]);
  return [
    '### Tag invalidation on node 1 until the other node stops serving the tagged entry',
    '',
    '| path | samples | p50 ms | p99 ms | max ms |',
    '|---|---:|---:|---:|---:|',
    ...rows,
  ].join('\n');
}
