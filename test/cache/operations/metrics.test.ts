import { describe, expect, it } from 'vitest';
import { Node, type NodeOptions, type RequestContext } from '../../../src/index.js';
import { useNodes } from '../../helpers/nodes.js';
import { capturingLogger, FaultyStore, TestStore, waitFor } from '../../helpers/stores.js';

const nodes = useNodes();

async function started(options: Partial<NodeOptions>) {
  const node = new Node({ env: {}, ...options });
  nodes.track(node);
  const echo = (_c: RequestContext, p: Record<string, unknown>) => ({ ...p });
  node.addService({
    name: 'user',
    actions: {
      get_user: { cache: { keys: ['id'] }, handler: echo },
      get_user_profile: { cache: { keys: ['id'] }, handler: echo },
      update_user: echo,
    },
  });
  node.addService({ name: 'order', actions: { list: { cache: true, handler: echo } } });
  await node.start();
  return node;
}

/** 3 hits and 2 misses on get_user, 1 hit and 1 miss on get_user_profile, 1 miss on order/list. */
async function traffic(node: Node) {
  for (const id of [1, 1, 2, 1, 2]) await node.request('user/get_user', { id });
  for (const id of [5, 5]) await node.request('user/get_user_profile', { id });
  await node.request('order/list', {});
  await node.request('user/update_user', { id: 1 });
}

describe('stats()', () => {
  for (const backend of ['memory', 'mystore']) {
    it(`counts per node, service and action (${backend})`, async () => {
      const node = await started({ backends: { mystore: new TestStore() }, config: { cache: { backend } } });
      await traffic(node);
      const s = node.cache.stats();
      expect(s.services.user.actions.get_user).toMatchObject({
        hits: 3,
        misses: 2,
        stores: 2,
        errors: 0,
        hitRate: 0.6,
      });
      expect(s.services.user.actions.get_user_profile).toMatchObject({
        hits: 1,
        misses: 1,
        stores: 1,
        hitRate: 0.5,
      });
      expect(s.services.user.actions.update_user).toBeUndefined();
      expect(s.services.user).toMatchObject({ hits: 4, misses: 3, stores: 3 });
      expect(s.services.user.hitRate).toBeCloseTo(4 / 7);
      expect(s.services.order).toMatchObject({ hits: 0, misses: 1, hitRate: 0 });
      expect(s).toMatchObject({ hits: 4, misses: 4, stores: 4, errors: 0, evictions: 0, hitRate: 0.5 });
      expect(s.backends[backend]).toMatchObject({ errors: 0, available: true });
    });
  }

  it('hitRate is 0 before any lookup', async () => {
    const node = await started({});
    expect(node.cache.stats()).toMatchObject({ hits: 0, misses: 0, hitRate: 0 });
  });

  it('counts evictions per action (capacity and expiry) and entries per backend', async () => {
    const node = await started({ config: { cache: { memory: { maxEntries: 3 } } } });
    for (const id of [1, 2, 3, 4, 5]) await node.request('user/get_user', { id });
    await node.request('user/get_user_profile', { id: 1 }); // evicts get_user:3
    const s = node.cache.stats();
    expect(s.services.user.actions.get_user.evictions).toBe(3);
    expect(s.services.user.actions.get_user_profile.evictions).toBe(0);
    expect(s.evictions).toBe(3);
    expect(s.backends.memory).toMatchObject({ entries: 3, evictions: 3 });
  });

  it('attributes evictions to the action even when the prefix contains a slash', async () => {
    const node = await started({ config: { cache: { prefix: 'app/cache:', memory: { maxEntries: 2 } } } });
    for (const id of [1, 2, 3, 4]) await node.request('user/get_user', { id });
    const s = node.cache.stats();
    expect(s.evictions).toBe(2);
    expect(s.services.user.actions.get_user.evictions).toBe(2);
  });

  it('counts expired entries reclaimed on read as evictions', async () => {
    const node = new Node({ env: {} });
    nodes.track(node);
    node.addService({ name: 's', actions: { a: { cache: { ttl: 0.02 }, handler: () => 1 } } });
    await node.start();
    await node.request('s/a');
    await waitFor(async () => {
      await node.request('s/a');
      return node.cache.stats().services.s.actions.a.evictions >= 1;
    });
  });

  it('counts backend errors per action and per backend', async () => {
    const node = new Node({
      env: {},
      backends: { bad: new FaultyStore('throw') },
      config: { cache: { backend: 'bad', failure: { failureThreshold: 1_000 } } },
    });
    nodes.track(node);
    node.addService({ name: 's', actions: { a: { cache: true, handler: () => 1 } } });
    await node.start();
    for (let i = 0; i < 3; i++) await node.request('s/a');
    const s = node.cache.stats();
    expect(s.services.s.actions.a.errors).toBe(6); // a failed get and a failed set per call
    expect(s.errors).toBe(6);
    expect(s.backends.bad.errors).toBe(6);
  });

  it('records operation latency for asynchronous backends', async () => {
    const node = await started({
      backends: { slow: new TestStore({ async: true, delayMs: 2 }) },
      config: { cache: { backend: 'slow' } },
    });
    await traffic(node);
    const s = node.cache.stats();
    expect(s.maxLatencyMs).toBeGreaterThan(0);
    expect(s.avgLatencyMs).toBeGreaterThan(0);
    expect(s.avgLatencyMs).toBeLessThanOrEqual(s.maxLatencyMs);
    expect(s.p50LatencyMs).toBeGreaterThan(0);
    expect(s.p50LatencyMs).toBeLessThanOrEqual(s.p99LatencyMs);
    expect(s.p99LatencyMs).toBeLessThanOrEqual(s.maxLatencyMs * 1.25);
  });
});

describe('Prometheus', () => {
  it('metrics() exposes the counters with service and action labels', async () => {
    const node = await started({
      backends: { mystore: new TestStore({ async: true }) },
      config: { cache: { backend: 'mystore' } },
    });
    // a scraper is attached from the start (the registry, and the latency histogram, exist from the first scrape)
    await node.cache.metrics();
    await traffic(node);
    const text = await node.cache.metrics();
    const line = (name: string, labels: string) => {
      const found = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
      expect(found, `${name}{${labels}}`).toBeDefined();
      return Number(found!.split(' ').at(-1));
    };
    expect(line('meshcache_cache_hits_total', 'service="user",action="get_user"')).toBe(3);
    expect(line('meshcache_cache_misses_total', 'service="user",action="get_user"')).toBe(2);
    expect(line('meshcache_cache_stores_total', 'service="user",action="get_user"')).toBe(2);
    expect(line('meshcache_cache_errors_total', 'service="user",action="get_user"')).toBe(0);
    expect(line('meshcache_cache_evictions_total', 'service="order",action="list"')).toBe(0);
    expect(line('meshcache_cache_hit_ratio', 'service="user",action="get_user"')).toBeCloseTo(0.6);
    expect(line('meshcache_backend_available', 'backend="mystore"')).toBe(1);
    expect(line('meshcache_cache_operation_seconds_count', 'backend="mystore",op="get"')).toBeGreaterThan(0);
    expect(text).toContain('# TYPE meshcache_cache_hits_total counter');
    expect(text).toContain('# TYPE meshcache_cache_operation_seconds histogram');
    // scrapes read live values
    await node.request('user/get_user', { id: 1 });
    expect(await node.cache.metrics()).toContain(
      'meshcache_cache_hits_total{service="user",action="get_user"} 4',
    );
  });

  it('exposes the registry for an existing Prometheus setup', async () => {
    const node = await started({});
    await traffic(node);
    const metric = await node.cache.registry.getSingleMetricAsString('meshcache_cache_misses_total');
    expect(metric).toContain('meshcache_cache_misses_total{service="order",action="list"} 1');
    expect(await node.cache.metrics()).toContain('meshcache_backend_entries{backend="memory"} 4');
  });
});

describe('debug logs', () => {
  for (const backend of ['memory', 'mystore']) {
    it(`logs "Cache hit: <key>" and "Cache miss: <key>" at debug level (${backend})`, async () => {
      const { logger, records } = capturingLogger('debug');
      const node = await started({
        logger,
        backends: { mystore: new TestStore() },
        config: { cache: { backend } },
      });
      await node.request('user/get_user', { id: 456 });
      await node.request('user/get_user', { id: 123 });
      await node.request('user/get_user', { id: 123 });
      await node.request('user/get_user_profile', { id: 'ada' });
      const cacheLines = records
        .filter((r) => /^Cache (hit|miss): /.test(r.msg))
        .map((r) => [r.level, r.msg]);
      expect(cacheLines).toEqual([
        [20, 'Cache miss: get_user:456'],
        [20, 'Cache miss: get_user:123'],
        [20, 'Cache hit: get_user:123'],
        [20, 'Cache miss: get_user_profile:ada'],
      ]);
    });
  }

  it('stays quiet above debug level', async () => {
    const { logger, records } = capturingLogger('info');
    const node = await started({ logger });
    await traffic(node);
    expect(records.some((r) => String(r.msg).startsWith('Cache '))).toBe(false);
  });
});

describe('latency percentiles', () => {
  it('p50 and p99 of known samples, within the 25% bucket width', async () => {
    const { ActionStats, summarize } = await import('../../../src/cache/operations/metrics.js');
    const a = new ActionStats('s', 'a');
    for (let i = 1; i <= 100; i++) a.recordLatency(i); // 1..100 ms
    const v = summarize([a]);
    expect(v.p50LatencyMs).toBeGreaterThan(50 / 1.25);
    expect(v.p50LatencyMs).toBeLessThan(50 * 1.25);
    expect(v.p99LatencyMs).toBeGreaterThan(99 / 1.25);
    expect(v.p99LatencyMs).toBeLessThan(99 * 1.25);
    expect(summarize([new ActionStats('s', 'b')]).p99LatencyMs).toBe(0);
  });
});
