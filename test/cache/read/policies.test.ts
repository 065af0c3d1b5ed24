/**
 * Cache policies on the memory backend through real nodes: grace with a
 * failing and a timing-out handler, soft timeout with a slow one, adaptive TTL,
 * tags across two services, event rules and the invalidate management action.
 */
import { describe, expect, it } from 'vitest';
import { MeshError, type RequestContext } from '../../../src/index.js';
import { captureLogger, waitFor } from '../../helpers/log.js';
import { useNodes } from '../../helpers/nodes.js';
import { sleep } from '../../helpers/stores.js';

const { started } = useNodes();

describe('grace (stale-if-error)', () => {
  it('answers with the stale value when the refresh fails, counts and logs it; without grace the error reaches the caller', async () => {
    const log = captureLogger('warn');
    let fail = false;
    let calls = 0;
    const handler = (_c: RequestContext, p: { id: number }) => {
      calls++;
      if (fail) throw new Error('db down');
      return { id: p.id, call: calls };
    };
    const node = await started(
      { logger: log.logger },
      {
        name: 'user',
        actions: {
          graced: { cache: { ttl: 0.05, grace: 5, keys: ['id'] }, handler },
          plain: { cache: { ttl: 0.05, keys: ['id'] }, handler },
        },
      },
    );
    expect(await node.request('user/graced', { id: 1 })).toEqual({ id: 1, call: 1 });
    expect(await node.request('user/plain', { id: 1 })).toEqual({ id: 1, call: 2 });
    await sleep(80);
    fail = true;
    expect(await node.request('user/graced', { id: 1 })).toEqual({ id: 1, call: 1 });
    await expect(node.request('user/plain', { id: 1 })).rejects.toThrow('db down');
    const stats = node.cache.stats().actions;
    expect(stats['user/graced']).toMatchObject({ graceHits: 1, misses: 2 });
    expect(stats['user/plain'].graceHits).toBe(0);
    expect(log.messages()).toContain('handler failed; answering with the stale cached value (grace)');
    expect(await node.cache.metrics()).toMatch(
      /meshcache_cache_grace_hits_total\{service="user",action="graced"\} 1/,
    );
    // The handler recovers: its result replaces the stale one.
    fail = false;
    expect(await node.request('user/graced', { id: 1 })).toEqual({ id: 1, call: 5 });
    expect(await node.request('user/graced', { id: 1 })).toEqual({ id: 1, call: 5 });
  });

  it('answers with the stale value when the handler passes the request timeout', async () => {
    let slow = false;
    let calls = 0;
    const node = await started(
      {},
      {
        name: 'user',
        actions: {
          get: {
            cache: { ttl: 0.05, grace: 5, keys: ['id'] },
            handler: async (_c: RequestContext, p: { id: number }) => {
              calls++;
              if (slow) await sleep(300);
              return { id: p.id, call: calls };
            },
          },
        },
      },
    );
    await node.request('user/get', { id: 1 });
    await sleep(80);
    slow = true;
    const t = Date.now();
    expect(await node.request('user/get', { id: 1 }, { timeout: 100 })).toEqual({ id: 1, call: 1 });
    expect(Date.now() - t).toBeLessThan(250);
    expect(node.cache.stats().graceHits).toBe(1);
  });

  it('a grace-expired entry is gone: the error reaches the caller', async () => {
    let fail = false;
    const node = await started(
      {},
      {
        name: 'user',
        actions: {
          get: {
            cache: { ttl: 0.03, grace: 0.03 },
            handler: () => {
              if (fail) throw new MeshError('BACKEND_ERROR', 'down');
              return 1;
            },
          },
        },
      },
    );
    await node.request('user/get');
    await sleep(120);
    fail = true;
    await expect(node.request('user/get')).rejects.toThrow('down');
  });
});

describe('soft timeout', () => {
  it('gives the stale value when the handler is slower, keeps it running and stores its result', async () => {
    let slow = false;
    let calls = 0;
    let finished = 0;
    const node = await started(
      {},
      {
        name: 'user',
        actions: {
          get: {
            cache: { ttl: 0.3, grace: 10, softTimeoutMs: 30 },
            handler: async () => {
              const n = ++calls;
              if (slow) await sleep(150);
              finished++;
              return { call: n };
            },
          },
        },
      },
    );
    await node.request('user/get');
    await sleep(330);
    slow = true;
    const t = Date.now();
    expect(await node.request('user/get')).toEqual({ call: 1 });
    expect(Date.now() - t).toBeLessThan(120);
    expect(finished).toBe(1); // the second run is still going
    await waitFor(() => finished === 2);
    expect(await node.request('user/get')).toEqual({ call: 2 }); // its result was stored
    expect(calls).toBe(2);
    expect(node.cache.stats().softTimeouts).toBe(1);
  });

  it('a fast handler is not affected', async () => {
    let calls = 0;
    const node = await started(
      {},
      {
        name: 'user',
        actions: { get: { cache: { ttl: 0.03, grace: 10, softTimeoutMs: 50 }, handler: () => ++calls } },
      },
    );
    expect(await node.request('user/get')).toBe(1);
    await sleep(60);
    expect(await node.request('user/get')).toBe(2);
    expect(node.cache.stats().softTimeouts).toBe(0);
  });
});

describe('adaptive TTL', () => {
  it('decides each entry TTL from its value; a bad TTL means "not cached", with a warning', async () => {
    const log = captureLogger('warn');
    let calls = 0;
    const node = await started(
      { logger: log.logger },
      {
        name: 'item',
        actions: {
          get: {
            cache: {
              keys: ['id'],
              ttl: (result: { kind: string }) =>
                result.kind === 'short' ? 0.05 : result.kind === 'long' ? 60 : Number.NaN,
            },
            handler: (_c: RequestContext, p: { id: string }) => ({ kind: p.id, call: ++calls }),
          },
        },
      },
    );
    await node.request('item/get', { id: 'short' });
    await node.request('item/get', { id: 'long' });
    await node.request('item/get', { id: 'bad' });
    expect(calls).toBe(3);
    await node.request('item/get', { id: 'short' });
    await node.request('item/get', { id: 'long' });
    await node.request('item/get', { id: 'bad' });
    expect(calls).toBe(4); // only 'bad' ran again
    await sleep(80);
    await node.request('item/get', { id: 'short' }); // expired
    await node.request('item/get', { id: 'long' }); // still there
    expect(calls).toBe(5);
    expect(log.messages()).toContain(
      'cache ttl function did not return a finite number of seconds >= 0; this result is not cached',
    );
  });

  it('is code only: a config file (or inline config) cannot give a function', async () => {
    const { Node } = await import('../../../src/index.js');
    const node = new Node({
      env: {},
      config: { services: { a: { actions: { x: { cache: { ttl: (() => 1) as unknown as number } } } } } },
    });
    node.addService({ name: 'a', actions: { x: () => 1 } });
    await expect(node.start()).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });
});

describe('tags on the memory backend', () => {
  function services(calls: Record<string, number>) {
    const count = (name: string) => (_c: RequestContext, p: { id: number }) => {
      calls[name] = (calls[name] ?? 0) + 1;
      return { id: p.id, n: calls[name] };
    };
    return [
      {
        name: 'user',
        cache: { events: [{ event: 'user.updated', tags: ['user:{id}'] }] },
        actions: {
          get_user: { cache: { keys: ['id'], tags: ['user:{id}'] }, handler: count('get_user') },
          untagged: { cache: { keys: ['id'] }, handler: count('untagged') },
        },
      },
      {
        name: 'order',
        actions: {
          list: {
            cache: { keys: ['id'], tags: (p: { id: number }) => [`user:${p.id}`, 'orders'] },
            handler: count('list'),
          },
        },
      },
    ];
  }

  async function warm(node: Awaited<ReturnType<typeof started>>, ids: number[]) {
    for (const id of ids) {
      await node.request('user/get_user', { id });
      await node.request('user/untagged', { id });
      await node.request('order/list', { id });
    }
  }

  it('node.cache.invalidateTags reaches every service; untagged entries stay', async () => {
    const calls: Record<string, number> = {};
    const node = await started({}, ...services(calls));
    await warm(node, [1, 2]);
    await warm(node, [1, 2]);
    expect(calls).toEqual({ get_user: 2, untagged: 2, list: 2 });
    expect(await node.cache.invalidateTags(['user:1'])).toEqual({ invalidated: ['user:1'] });
    await warm(node, [1, 2]);
    expect(calls).toEqual({ get_user: 3, untagged: 2, list: 3 });
    expect(node.cache.stats().tagMisses).toBe(2);
    await node.cache.invalidateTags(['orders']);
    await warm(node, [1, 2]);
    expect(calls).toEqual({ get_user: 3, untagged: 2, list: 5 });
  });

  it('<service>/cache/invalidate touches only that service; bad params are INVALID_PARAMS', async () => {
    const calls: Record<string, number> = {};
    const node = await started({}, ...services(calls));
    await warm(node, [1]);
    expect(await node.request('order/cache/invalidate', { tags: ['user:1'] })).toEqual({
      invalidated: ['user:1'],
    });
    await warm(node, [1]);
    expect(calls).toEqual({ get_user: 1, untagged: 1, list: 2 });
    for (const bad of [{}, { tags: [] }, { tags: 'user:1' }, { tags: [1] }, { tags: [''] }]) {
      await expect(node.request('order/cache/invalidate', bad)).rejects.toMatchObject({
        code: 'INVALID_PARAMS',
      });
    }
  });

  it('applies the same access control as the other management actions', async () => {
    const calls: Record<string, number> = {};
    const node = await started({}, ...services(calls), {
      name: 'other',
      actions: { poke: (ctx: RequestContext) => ctx.request('user/cache/invalidate', { tags: ['user:1'] }) },
    });
    await expect(node.request('other/poke')).rejects.toMatchObject({ code: 'ACCESS_DENIED' });
  });

  it('an event rule with tags invalidates the filled tags', async () => {
    const calls: Record<string, number> = {};
    const node = await started({}, ...services(calls));
    await warm(node, [1, 2]);
    await node.publish('user.updated', { id: 2 });
    await warm(node, [1, 2]);
    expect(calls).toEqual({ get_user: 3, untagged: 2, list: 2 }); // a service-level rule: user only
  });

  it('a running miss that started before the invalidation does not serve its result afterwards', async () => {
    let release: () => void = () => {};
    let calls = 0;
    const node = await started(
      {},
      {
        name: 'user',
        actions: {
          get: {
            cache: { keys: ['id'], tags: ['user:{id}'] },
            handler: async (_c: RequestContext, p: { id: number }) => {
              const n = ++calls;
              if (n === 1) await new Promise<void>((r) => (release = r));
              return { id: p.id, n };
            },
          },
        },
      },
    );
    const first = node.request('user/get', { id: 1 });
    await sleep(10);
    await node.cache.invalidateTags(['user:1']);
    release();
    expect(await first).toEqual({ id: 1, n: 1 });
    expect(await node.request('user/get', { id: 1 })).toEqual({ id: 1, n: 2 });
  });

  it('refuses tags on a backend that cannot hold them, and tag functions in a file', async () => {
    const { Node } = await import('../../../src/index.js');
    const { TestStore } = await import('../../helpers/stores.js');
    const node = new Node({
      env: {},
      backends: { mystore: new TestStore({ async: true }) },
      config: { cache: { backend: 'mystore' } },
    });
    node.addService({ name: 'a', actions: { x: { cache: { tags: ['t'] }, handler: () => 1 } } });
    await expect(node.start()).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await node.stop();
  });
});

describe('policies in configuration files', () => {
  it('grace, softTimeoutMs, tags and tag event rules load from a YAML file; functions and empty rules are refused', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'meshcache-policies-'));
    const file = join(dir, 'meshcache.yaml');
    writeFileSync(
      file,
      [
        'cache:',
        '  grace: 30',
        '  events:',
        "    - { event: 'user.updated', tags: ['user:{id}'] }",
        'services:',
        '  user:',
        '    cache: { softTimeoutMs: 100 }',
        '    actions:',
        "      get_user: { cache: { ttl: 60, keys: ['id'], tags: ['user:{id}'] } }",
        '      flaky: { cache: { ttl: 0.05 } }',
      ].join('\n'),
    );
    let calls = 0;
    let fail = false;
    const node = await started(
      { config: file },
      {
        name: 'user',
        actions: {
          get_user: (_c: RequestContext, p: { id: number }) => ({ id: p.id, n: ++calls }),
          flaky: () => {
            if (fail) throw new Error('down');
            return 'ok';
          },
        },
      },
    );
    expect(await node.request('user/flaky')).toBe('ok');
    await sleep(80);
    fail = true;
    expect(await node.request('user/flaky')).toBe('ok'); // the global grace
    expect(node.cache.stats().graceHits).toBe(1);
    await node.request('user/get_user', { id: 1 });
    await node.request('user/get_user', { id: 1 });
    expect(calls).toBe(1);
    await node.publish('user.updated', { id: 1 }); // the global rule, with tags
    await node.request('user/get_user', { id: 1 });
    expect(calls).toBe(2);

    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, "cache:\n  events:\n    - { event: 'user.updated' }\n");
    const { Node } = await import('../../../src/index.js');
    const n2 = new Node({ env: {}, config: bad });
    await expect(n2.start()).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    const n3 = new Node({ env: {}, config: { cache: { tags: ['x'], grace: -1 } } });
    await expect(n3.start()).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });
});

describe("coalesce: 'cluster' never fails because of the lease", () => {
  it('a backend whose lease operations fail: the handler runs and the caller gets its result', async () => {
    const store = new Map<string, unknown>();
    const backend = {
      get: async (k: string) => store.get(k),
      set: async (k: string, v: unknown) => {
        store.set(k, v);
      },
      delete: async (k: string) => store.delete(k),
      clear: async () => {
        store.clear();
      },
      acquireLease: async () => {
        throw new Error('lease store down');
      },
      releaseLease: async () => {},
      waitLease: (_k: string, ms: number) => new Promise<void>((r) => setTimeout(r, ms)),
    };
    let calls = 0;
    const node = await started(
      { backends: { leasing: backend }, config: { cache: { backend: 'leasing' } } },
      {
        name: 'r',
        actions: { get: { cache: { coalesce: 'cluster' }, handler: () => ({ n: ++calls }) } },
      },
    );
    expect(await node.request('r/get')).toEqual({ n: 1 });
    expect(await node.request('r/get')).toEqual({ n: 1 }); // stored as usual
  });

  it('is refused at start on a backend without leases, and is the same as node on memory', async () => {
    const { TestStore } = await import('../../helpers/stores.js');
    const { Node } = await import('../../../src/index.js');
    const n = new Node({
      env: {},
      backends: { mystore: new TestStore({ async: true }) },
      config: { cache: { backend: 'mystore' } },
    });
    n.addService({ name: 'a', actions: { x: { cache: { coalesce: 'cluster' }, handler: () => 1 } } });
    await expect(n.start()).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await n.stop();
    let calls = 0;
    const node = await started(
      {},
      {
        name: 'm',
        actions: {
          x: {
            cache: { coalesce: 'cluster' },
            handler: async () => {
              await sleep(20);
              return ++calls;
            },
          },
        },
      },
    );
    const all = await Promise.all(Array.from({ length: 10 }, () => node.request('m/x')));
    expect(all).toEqual(Array(10).fill(1));
  });
});
