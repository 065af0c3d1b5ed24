/**
 * A cached hit through `node.request()` (memory backend) vs Moleculer
 * 0.14 `broker.call` of the same cached action (MemoryLRU cacher), vs an async
 * function wrapping lru-cache 11 and a raw lru-cache lookup of the same keys.
 */
import { LRUCache } from 'lru-cache';
import { ServiceBroker } from 'moleculer';
import { pino } from 'pino';
import { tuneClock } from '../src/cache/backends/clock.js';
import { Node } from '../src/index.js';
import { type Case, LOADS, measure, table } from './harness.js';

const KEYS = 1000;

export async function benchCacheHit(): Promise<string> {
  // BENCH_CLOCK=date: the expiry clock never starts its worker, every read is Date.now() (the fallback's cost).
  if (process.env.BENCH_CLOCK === 'date') tuneClock({ startReads: Number.POSITIVE_INFINITY });
  const user = (id: number) => ({ id, name: `user ${id}`, email: `u${id}@example.com` });
  const handler = async (_ctx: unknown, params: { id: number }) => user(params.id);

  const node = new Node({ logger: pino({ level: 'silent' }) });
  node.addService({ name: 'user', actions: { get_user: { cache: { ttl: 3600, keys: ['id'] }, handler } } });
  await node.start();

  const broker = new ServiceBroker({
    logger: false,
    metrics: false,
    tracing: false,
    cacher: { type: 'MemoryLRU', options: { max: 100_000, ttl: 3600 } },
  });
  broker.createService({
    name: 'user',
    actions: {
      get_user: { cache: { keys: ['id'] }, handler: (ctx) => handler(null, ctx.params as { id: number }) },
    },
  });
  await broker.start();

  const lru = new LRUCache<string, object>({ max: 100_000, ttl: 3_600_000 });
  const viaLru = async (id: number) => {
    const key = `get_user:${id}`;
    const hit = lru.get(key);
    if (hit !== undefined) return hit;
    const v = await handler(null, { id });
    lru.set(key, v);
    return v;
  };

  for (let id = 0; id < KEYS; id++) {
    await node.request('user/get_user', { id });
    await broker.call('user.get_user', { id });
    await viaLru(id);
  }
  const params = Array.from({ length: KEYS }, (_, id) => ({ id }));
  const keys = params.map((p) => `get_user:${p.id}`);
  let i = 0;
  const nextParams = () => {
    i = (i + 1) % KEYS;
    return params[i];
  };

  const out: string[] = [];
  for (const [label, mode] of LOADS) {
    const cases: Case[] = [
      {
        name: 'raw lru-cache get (sync)',
        run: (n) => {
          for (let k = 0; k < n; k++) {
            i = (i + 1) % KEYS;
            lru.get(keys[i]);
          }
        },
      },
      { name: 'async fn + lru-cache', run: mode(() => viaLru(nextParams().id)) },
      { name: 'meshcache node.request() hit', run: mode(() => node.request('user/get_user', nextParams())) },
      {
        name: 'Moleculer 0.14 cached broker.call',
        run: mode(() => broker.call('user.get_user', nextParams())),
      },
    ];
    out.push(
      table(
        `Cached hit, ${label} (${KEYS} keys, memory backend)`,
        await measure(cases),
        'Moleculer 0.14 cached broker.call',
      ),
    );
  }
  const s = node.cache.stats();
  out.push(`meshcache handler calls: ${s.misses} (one per key), hits: ${s.hits.toLocaleString('en-US')}`);
  await node.stop();
  await broker.stop();
  return out.join('\n\n');
}
