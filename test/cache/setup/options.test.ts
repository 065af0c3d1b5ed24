import { describe, expect, it } from 'vitest';
import { action, cached, MemoryBackend, type RequestContext, service } from '../../../src/index.js';
import { useNodes } from '../../helpers/nodes.js';
import { TestStore, waitFor } from '../../helpers/stores.js';

const { started } = useNodes();

/** A memory backend with a clock the test moves by hand. */
function clockedMemory() {
  const clock = { now: 1_000_000 };
  const memory = new MemoryBackend({ now: () => clock.now, sweepIntervalMs: 0 });
  return { clock, memory };
}

function counter() {
  const calls: unknown[] = [];
  const handler = (_ctx: RequestContext, params: Record<string, unknown>) => {
    calls.push(params);
    return { n: calls.length };
  };
  return { calls, handler };
}

describe('enabled', () => {
  it('@action({ cache }) and @cached (either decorator order) cache; @action() alone does not', async () => {
    @service('deco')
    class Deco {
      calls: Record<string, number> = {};
      private count(name: string) {
        this.calls[name] = (this.calls[name] ?? 0) + 1;
        return this.calls[name];
      }
      @action({ cache: { enabled: true, ttl: 60 } })
      a() {
        return this.count('a');
      }
      @action()
      @cached({ ttl: 60 })
      b() {
        return this.count('b');
      }
      @cached({ ttl: 60 })
      @action()
      c() {
        return this.count('c');
      }
      @action({ cache: true })
      d() {
        return this.count('d');
      }
      @action()
      plain() {
        return this.count('plain');
      }
      @action({ cache: { enabled: false, ttl: 60 } })
      off() {
        return this.count('off');
      }
    }
    const svc = new Deco();
    const node = await started({}, svc);
    for (const name of ['a', 'b', 'c', 'd', 'plain', 'off']) {
      await node.request(`deco/${name}`);
      expect(await node.request(`deco/${name}`)).toBe(svc.calls[name]);
    }
    expect(svc.calls).toEqual({ a: 1, b: 1, c: 1, d: 1, plain: 2, off: 2 });
  });

  it('service-level enabled caches every action of the service, an action can opt out', async () => {
    @service({ name: 'all', cache: { enabled: true, ttl: 60 } })
    class All {
      n = 0;
      @action()
      x() {
        return ++this.n;
      }
      @action({ cache: false })
      y() {
        return ++this.n;
      }
    }
    const svc = new All();
    const node = await started({}, svc);
    expect(await node.request('all/x')).toBe(1);
    expect(await node.request('all/x')).toBe(1);
    expect(await node.request('all/y')).toBe(2);
    expect(await node.request('all/y')).toBe(3);
  });
});

describe('ttl', () => {
  it('fractional TTL: fresh until ttl*1000 ms, a miss from then on (injected clock)', async () => {
    const { clock, memory } = clockedMemory();
    const { calls, handler } = counter();
    const node = await started(
      { backends: { clocked: memory }, config: { cache: { backend: 'clocked' } } },
      { name: 's', actions: { a: { cache: { ttl: 0.5 }, handler } } },
    );
    await node.request('s/a', { id: 1 });
    clock.now += 499;
    expect(await node.request('s/a', { id: 1 })).toEqual({ n: 1 });
    clock.now += 1;
    expect(await node.request('s/a', { id: 1 })).toEqual({ n: 2 });
    expect(calls).toHaveLength(2);
    expect(node.cache.stats().services.s.actions.a).toMatchObject({ hits: 1, misses: 2, stores: 2 });
  });

  it('ttl 0 never expires (injected clock, a year later)', async () => {
    const { clock, memory } = clockedMemory();
    const { calls, handler } = counter();
    const node = await started(
      { backends: { clocked: memory }, config: { cache: { backend: 'clocked' } } },
      { name: 's', actions: { a: { cache: { ttl: 0 }, handler } } },
    );
    await node.request('s/a');
    clock.now += 365 * 24 * 3600 * 1000;
    await node.request('s/a');
    expect(calls).toHaveLength(1);
  });

  it('a short real TTL expires on the default memory backend', async () => {
    const { calls, handler } = counter();
    const node = await started({}, { name: 's', actions: { a: { cache: { ttl: 0.05 }, handler } } });
    await node.request('s/a');
    await node.request('s/a');
    expect(calls).toHaveLength(1);
    await waitFor(async () => {
      await node.request('s/a');
      return calls.length === 2;
    });
  });

  it('the TTL reaches a custom backend as given (seconds, fractions kept, 0 kept)', async () => {
    const store = new TestStore();
    const node = await started(
      { backends: { mystore: store }, config: { cache: { backend: 'mystore' } } },
      {
        name: 's',
        actions: {
          f: { cache: { ttl: 0.25 }, handler: () => 1 },
          z: { cache: { ttl: 0 }, handler: () => 2 },
        },
      },
    );
    await node.request('s/f');
    await node.request('s/z');
    expect(store.ops.filter((o) => o.op === 'set').map((o) => [o.key, o.ttl])).toEqual([
      ['cache:default/s/f', 0.25],
      ['cache:default/s/z', 0],
    ]);
  });
});

describe('keys, key function, backend, condition', () => {
  it('keys with dot paths pick nested params; other params do not split the entry', async () => {
    const store = new TestStore();
    const { calls, handler } = counter();
    const node = await started(
      { backends: { mystore: store }, config: { cache: { backend: 'mystore' } } },
      { name: 's', actions: { get: { cache: { keys: ['user.id', 'lang'] }, handler } } },
    );
    await node.request('s/get', { user: { id: 3, name: 'x' }, lang: 'en', trace: 1 });
    await node.request('s/get', { user: { id: 3, name: 'y' }, lang: 'en', trace: 2 });
    await node.request('s/get', { user: { id: 4 }, lang: 'en' });
    expect(calls).toHaveLength(2);
    expect(store.storedKeys()).toEqual(['cache:default/s/get:3:en', 'cache:default/s/get:4:en']);
    expect(await node.request('s/cache/delete', { key: 'get:3:en' })).toEqual({ deleted: true });
  });

  it('a missing key param is part of the key (undefined), distinct from the string "undefined"', async () => {
    const { calls, handler } = counter();
    const node = await started({}, { name: 's', actions: { get: { cache: { keys: ['id'] }, handler } } });
    await node.request('s/get', {});
    await node.request('s/get', { id: 'undefined' });
    await node.request('s/get', {});
    expect(calls).toHaveLength(2);
  });

  it('a key function builds the key from params and ctx', async () => {
    const store = new TestStore();
    const { calls, handler } = counter();
    const node = await started(
      { backends: { mystore: store }, config: { cache: { backend: 'mystore' } }, networkId: 'net1' },
      {
        name: 's',
        actions: {
          get: {
            cache: { key: (p: { id: number }, ctx: RequestContext) => `custom:${ctx.networkId}:${p.id}` },
            handler,
          },
        },
      },
    );
    await node.request('s/get', { id: 1, noise: Math.random() });
    await node.request('s/get', { id: 1, noise: Math.random() });
    expect(calls).toHaveLength(1);
    expect(store.storedKeys()).toEqual(['cache:net1/s/custom:net1:1']);
    expect(await node.request('s/cache/delete', { key: 'custom:net1:1' })).toEqual({ deleted: true });
  });

  it('a key function that throws or returns a non-string: the handler still answers, the error is counted', async () => {
    const { calls, handler } = counter();
    const node = await started(
      {},
      {
        name: 's',
        actions: {
          boom: {
            cache: {
              key: () => {
                throw new Error('no key');
              },
            },
            handler,
          },
          empty: { cache: { key: () => '' }, handler },
          num: { cache: { key: () => 42 as unknown as string }, handler },
        },
      },
    );
    for (const p of ['s/boom', 's/boom', 's/empty', 's/empty', 's/num'])
      expect(await node.request(p)).toBeTruthy();
    expect(calls).toHaveLength(5);
  });

  it('backend per action: each action stores where it says', async () => {
    const store = new TestStore();
    const other = new TestStore();
    const node = await started(
      { backends: { mystore: store, other } },
      {
        name: 's',
        actions: {
          inMemory: { cache: true, handler: () => 'm' },
          inStore: { cache: { backend: 'mystore' }, handler: () => 's' },
        },
      },
    );
    await node.request('s/inMemory');
    await node.request('s/inStore');
    expect(store.storedKeys()).toEqual(['cache:default/s/inStore']);
    expect(other.ops).toEqual([]);
    // clear reaches both backends of the service
    expect(await node.request('s/cache/clear')).toEqual({ cleared: 2 });
    expect(store.storedKeys()).toEqual([]);
  });

  it('backend per action from the config file layer (code object here) overrides the declared one', async () => {
    const store = new TestStore();
    const node = await started(
      {
        backends: { mystore: store },
        config: { services: { s: { actions: { a: { cache: { backend: 'mystore' } } } } } },
      },
      { name: 's', actions: { a: { cache: { backend: 'memory' }, handler: () => 1 } } },
    );
    await node.request('s/a');
    expect(store.storedKeys()).toEqual(['cache:default/s/a']);
  });

  it('condition decides per call; a false condition neither reads nor writes', async () => {
    const store = new TestStore();
    const { calls, handler } = counter();
    const node = await started(
      { backends: { mystore: store }, config: { cache: { backend: 'mystore' } } },
      {
        name: 's',
        actions: {
          get: {
            cache: {
              keys: ['id'],
              condition: (p: { id: number; fresh?: boolean }, ctx: RequestContext) =>
                !p.fresh && ctx.service === 's',
            },
            handler,
          },
        },
      },
    );
    await node.request('s/get', { id: 1 });
    await node.request('s/get', { id: 1 });
    expect(calls).toHaveLength(1);
    const opsBefore = store.ops.length;
    expect(await node.request('s/get', { id: 1, fresh: true })).toEqual({ n: 2 });
    expect(await node.request('s/get', { id: 2, fresh: true })).toEqual({ n: 3 });
    expect(store.ops.length).toBe(opsBefore);
    expect(node.cache.stats().services.s.actions.get).toMatchObject({ hits: 1, misses: 1, bypassed: 2 });
  });
});

describe('lifecycle', () => {
  it('caching works again after stop() and start(), with fresh counters and an empty cache', async () => {
    let calls = 0;
    const node = await started({}, { name: 's', actions: { a: { cache: true, handler: () => ++calls } } });
    await node.request('s/a');
    await node.request('s/a');
    await node.stop();
    await node.start();
    expect(await node.request('s/a')).toBe(2);
    expect(await node.request('s/a')).toBe(2);
    expect(node.cache.stats().services.s.actions.a).toMatchObject({ hits: 1, misses: 1 });
  });

  it('a cached service added after start() gets caching and management actions', async () => {
    let calls = 0;
    const node = await started({}, { name: 's', actions: { a: () => 1 } });
    node.addService({ name: 'late', actions: { b: { cache: true, handler: () => ++calls } } });
    await waitFor(() => node.actionPaths().includes('late/cache/clear'));
    await node.request('late/b');
    expect(await node.request('late/b')).toBe(1);
    expect(await node.request('late/cache/clear')).toEqual({ cleared: 1 });
  });
});
