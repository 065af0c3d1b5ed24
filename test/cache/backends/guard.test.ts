import { describe, expect, it } from 'vitest';
import { type CacheBackend, Node, type NodeOptions, type RequestContext } from '../../../src/index.js';
import { useNodes } from '../../helpers/nodes.js';
import { capturingLogger, type FaultMode, FaultyStore, waitFor } from '../../helpers/stores.js';

const nodes = useNodes();

async function started(
  options: Partial<NodeOptions>,
  backend: CacheBackend,
  failure: Record<string, number>,
) {
  const calls = { n: 0 };
  const node = new Node({
    env: {},
    backends: { flaky: backend },
    config: { cache: { backend: 'flaky', failure: { opTimeoutMs: 50, ...failure } } },
    ...options,
  });
  nodes.track(node);
  node.addService({
    name: 'user',
    actions: {
      get_user: {
        cache: { keys: ['id'] },
        handler: (_c: RequestContext, p: { id: number }) => ({ id: p.id, call: ++calls.n }),
      },
    },
  });
  await node.start();
  return { node, calls };
}

const MODES: FaultMode[] = ['throw', 'reject', 'hang', 'garbage'];

describe.each(MODES)('a backend that fails (%s)', (mode) => {
  it('requests still succeed through the handler; errors are counted and logged', async () => {
    const { logger, records } = capturingLogger('warn');
    const store = new FaultyStore(mode);
    const { node, calls } = await started({ logger }, store, { failureThreshold: 1_000, cooldownMs: 60_000 });
    for (let i = 1; i <= 4; i++)
      expect(await node.request('user/get_user', { id: 1 })).toEqual({ id: 1, call: i });
    const stats = node.cache.stats();
    expect(stats.errors).toBeGreaterThanOrEqual(4);
    expect(stats.services.user.actions.get_user.errors).toBeGreaterThanOrEqual(4);
    expect(stats.backends.flaky.errors).toBeGreaterThanOrEqual(4);
    expect(stats.hits).toBe(0);
    expect(calls.n).toBe(4);
    expect(records.some((r) => r.level >= 50 && String(r.msg).includes("cache backend 'flaky'"))).toBe(true);
  });

  it('after repeated failures the backend is skipped for the cool-down', async () => {
    const store = new FaultyStore(mode);
    const { node, calls } = await started({}, store, { failureThreshold: 3, cooldownMs: 60_000 });
    for (let i = 0; i < 3; i++) await node.request('user/get_user', { id: i });
    const faulty = store.faultyCalls;
    expect(node.cache.stats().backends.flaky.available).toBe(false);
    for (let i = 0; i < 20; i++) await node.request('user/get_user', { id: 1 });
    expect(store.faultyCalls).toBe(faulty);
    expect(calls.n).toBe(23);
    expect(node.cache.stats().bypassed).toBeGreaterThanOrEqual(20);
  });

  it('after the cool-down it is tried again, and caching resumes once it answers', async () => {
    const store = new FaultyStore(mode);
    const { node, calls } = await started({}, store, { failureThreshold: 2, cooldownMs: 100 });
    for (let i = 0; i < 2; i++) await node.request('user/get_user', { id: 1 });
    const faulty = store.faultyCalls;
    // still failing: a trial after the cool-down reaches the backend (and fails again)
    await waitFor(async () => {
      await node.request('user/get_user', { id: 1 });
      return store.faultyCalls > faulty;
    });
    store.failing = false;
    await waitFor(async () => {
      await node.request('user/get_user', { id: 5 });
      return store.storedKeys().includes('cache:default/user/get_user:5');
    });
    const before = calls.n;
    expect(await node.request('user/get_user', { id: 5 })).toMatchObject({ id: 5 });
    expect(calls.n).toBe(before);
    expect(node.cache.stats().backends.flaky.available).toBe(true);
  });
});

describe('the circuit breaker', () => {
  it('reading stats() or scraping metrics after the cool-down does not use up the trial', async () => {
    const store = new FaultyStore('throw');
    const { node } = await started({}, store, { failureThreshold: 1, cooldownMs: 50 });
    await node.request('user/get_user', { id: 1 });
    expect(node.cache.stats().backends.flaky.available).toBe(false);
    store.failing = false;
    await new Promise((r) => setTimeout(r, 80));
    // observers only look
    node.cache.stats();
    node.cache.stats();
    await node.cache.metrics();
    await waitFor(async () => {
      await node.request('user/get_user', { id: 2 });
      return store.storedKeys().includes('cache:default/user/get_user:2');
    });
    expect(node.cache.stats().backends.flaky.available).toBe(true);
  });

  for (const failing of ['get', 'set'] as const) {
    it(`a backend whose ${failing} always fails while the other operation works is skipped too`, async () => {
      const store = new FaultyStore('reject');
      store.failing = false;
      store[failing] = (() => Promise.reject(new Error(`${failing} broken`))) as never;
      const { node } = await started({}, store, { failureThreshold: 3, cooldownMs: 60_000 });
      for (let i = 0; i < 3; i++) await node.request('user/get_user', { id: i });
      expect(node.cache.stats().backends.flaky.available).toBe(false);
      const ops = store.ops.length;
      await node.request('user/get_user', { id: 1 });
      expect(store.ops.length).toBe(ops);
    });
  }

  it('one failing backend does not stop another from caching', async () => {
    const bad = new FaultyStore('throw');
    const node = new Node({
      env: {},
      backends: { bad },
      config: { cache: { failure: { failureThreshold: 1, cooldownMs: 60_000 } } },
    });
    nodes.track(node);
    let calls = 0;
    node.addService({
      name: 's',
      actions: {
        onBad: { cache: { backend: 'bad' }, handler: () => ++calls },
        onMemory: { cache: true, handler: () => ++calls },
      },
    });
    await node.start();
    await node.request('s/onBad');
    await node.request('s/onMemory');
    await node.request('s/onMemory');
    expect(calls).toBe(2);
    expect(node.cache.stats().backends).toMatchObject({
      bad: { available: false },
      memory: { available: true },
    });
  });

  it('a hanging set does not fail the request, and the value is simply not cached', async () => {
    const store = new FaultyStore('hang');
    store.failing = false;
    const origSet = store.set.bind(store);
    let hangSets = true;
    store.set = ((k: string, v: unknown, t: number) =>
      hangSets ? new Promise(() => {}) : origSet(k, v, t)) as typeof store.set;
    const { node, calls } = await started({}, store, { failureThreshold: 100, cooldownMs: 60_000 });
    expect(await node.request('user/get_user', { id: 1 })).toEqual({ id: 1, call: 1 });
    expect(await node.request('user/get_user', { id: 1 })).toEqual({ id: 1, call: 2 });
    expect(node.cache.stats().errors).toBe(2);
    hangSets = false;
    await node.request('user/get_user', { id: 1 });
    expect(await node.request('user/get_user', { id: 1 })).toEqual({ id: 1, call: 3 });
    expect(calls.n).toBe(3);
  });

  it('values a backend returns that the cache never wrote are misses, not results', async () => {
    const junk: unknown[] = [
      'text',
      42,
      true,
      [],
      { value: 1 },
      { value: 1, freshUntil: 'soon' },
      Promise.resolve('text'),
    ];
    let i = 0;
    const store: CacheBackend = {
      get: () => junk[i++ % junk.length],
      set: () => {},
      delete: () => false,
      clear: () => 0,
    };
    const { node, calls } = await started({}, store, { failureThreshold: 1_000, cooldownMs: 60_000 });
    for (let n = 1; n <= junk.length; n++)
      expect(await node.request('user/get_user', { id: 1 })).toEqual({ id: 1, call: n });
    expect(calls.n).toBe(junk.length);
    expect(node.cache.stats().errors).toBe(junk.length);
    expect(node.cache.stats().hits).toBe(0);
  });

  it('errors are logged once per burst, not once per request', async () => {
    const { logger, records } = capturingLogger('warn');
    const store = new FaultyStore('throw');
    const { node } = await started({ logger }, store, { failureThreshold: 10_000, cooldownMs: 60_000 });
    for (let i = 0; i < 200; i++) await node.request('user/get_user', { id: i });
    const errors = records.filter((r) => r.level === 50);
    expect(errors.length).toBeGreaterThanOrEqual(1);
    expect(errors.length).toBeLessThan(10);
    expect(node.cache.stats().backends.flaky.errors).toBeGreaterThanOrEqual(200);
  });
});
