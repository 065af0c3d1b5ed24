/**
 * `<service>/cache/keys` and `<service>/cache/get`: the keys a backend can
 * list, one entry as the action would answer it (out of its envelope; nothing
 * once expired or invalidated by a tag), the refusal of a backend that cannot
 * list, and the access rule of the other management actions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeOptions, RequestContext } from '../../../src/index.js';
import { useNodes } from '../../helpers/nodes.js';
import { type RedisServer, redisAvailable, startRedisServer } from '../../helpers/redis-server.js';
import { TestStore } from '../../helpers/stores.js';

const { started } = useNodes();

/** `tagged`: get_user carries a tag (a backend that keeps tag records: memory, Redis). */
function users(calls = { n: 0 }, tagged = true) {
  return {
    name: 'user',
    actions: {
      get_user: {
        cache: { keys: ['id'], ttl: 60, ...(tagged ? { tags: ['user:{id}'] } : {}) },
        handler: (_c: RequestContext, p: { id: number }) => ({ id: p.id, call: ++calls.n }),
      },
      get_profile: {
        cache: { ttl: 60, key: (p: { id: number }) => `profile:${p.id}` },
        handler: (_c: RequestContext, p: { id: number }) => ({ profile: p.id }),
      },
      short: {
        cache: { keys: ['id'], ttl: 0.05, staleTtl: 0.05 },
        handler: (_c: RequestContext, p: { id: number }) => ({ short: p.id }),
      },
    },
  };
}

const intruder = {
  name: 'billing',
  actions: {
    keys: (ctx: RequestContext) => ctx.request('user/cache/keys', {}),
    get: (ctx: RequestContext) => ctx.request('user/cache/get', { key: 'get_user:1' }),
  },
};

let redis: RedisServer | undefined;
beforeAll(async () => {
  if (redisAvailable()) redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
});

const BACKENDS: Array<{ name: string; tagged: boolean; options: () => Partial<NodeOptions> }> = [
  { name: 'memory', tagged: true, options: () => ({}) },
  {
    name: 'async store',
    tagged: false,
    options: () => ({
      backends: { store: new TestStore({ async: true }) },
      config: { cache: { backend: 'store' } },
    }),
  },
  ...(redisAvailable()
    ? [
        {
          name: 'redis',
          tagged: true,
          options: () => ({
            config: {
              cache: { backend: 'redis', redis: { url: redis!.url }, prefix: `peek${Math.random()}:` },
            },
          }),
        },
      ]
    : []),
];

describe.each(BACKENDS)('cache/keys and cache/get on $name', ({ options, tagged }) => {
  it('lists the action keys, by pattern and up to a limit', async () => {
    const node = await started(options(), users(undefined, tagged));
    for (const id of [1, 2, 10]) await node.request('user/get_user', { id });
    await node.request('user/get_profile', { id: 1 });
    expect(await node.request('user/cache/keys', {})).toEqual({
      keys: ['get_user:1', 'get_user:10', 'get_user:2', 'profile:1'],
      truncated: false,
    });
    expect(await node.request('user/cache/keys', { pattern: 'get_user:?' })).toEqual({
      keys: ['get_user:1', 'get_user:2'],
      truncated: false,
    });
    const limited = await node.request<{ keys: string[]; truncated: boolean }>('user/cache/keys', {
      limit: 2,
    });
    expect(limited.keys).toHaveLength(2);
    expect(limited.truncated).toBe(true);
    await expect(node.request('user/cache/keys', { limit: 0 })).rejects.toMatchObject({
      code: 'INVALID_PARAMS',
    });
  });

  it('reads an entry as the action answers it; none once deleted or its tag invalidated', async () => {
    const calls = { n: 0 };
    const node = await started(options(), users(calls, tagged));
    await node.request('user/get_user', { id: 1 });
    await node.request('user/get_profile', { id: 4 });
    expect(await node.request('user/cache/get', { key: 'get_user:1' })).toEqual({
      found: true,
      value: { id: 1, call: 1 },
      state: 'fresh',
    });
    expect(await node.request('user/cache/get', { key: 'profile:4' })).toMatchObject({
      found: true,
      value: { profile: 4 },
    });
    expect(await node.request('user/cache/get', { key: 'get_user:2' })).toEqual({ found: false });
    if (tagged) await node.request('user/cache/invalidate', { tags: ['user:1'] });
    else await node.request('user/cache/delete', { key: 'get_user:1' });
    expect(await node.request('user/cache/get', { key: 'get_user:1' })).toEqual({ found: false });
    // Reading is not a lookup: no hit, no miss.
    expect(node.cache.stats().services.user?.actions.get_user).toMatchObject({ hits: 0, misses: 1 });
  });

  it('a stale entry is found as stale, an expired one is not', async () => {
    const node = await started(options(), users(undefined, tagged));
    await node.request('user/short', { id: 1 });
    await new Promise((r) => setTimeout(r, 70));
    expect(await node.request('user/cache/get', { key: 'short:1' })).toMatchObject({
      found: true,
      state: 'stale',
    });
    await new Promise((r) => setTimeout(r, 60));
    expect(await node.request('user/cache/get', { key: 'short:1' })).toEqual({ found: false });
  });
});

describe('cache/keys and cache/get: refusals', () => {
  it('a backend that cannot list keys: BACKEND_ERROR saying so', async () => {
    const node = await started(
      { backends: { store: new TestStore({ withKeys: false }) }, config: { cache: { backend: 'store' } } },
      users(undefined, false),
    );
    await expect(node.request('user/cache/keys', {})).rejects.toMatchObject({
      code: 'BACKEND_ERROR',
      message: expect.stringContaining("cache backend 'store' cannot list keys"),
    });
  });

  it('another service may not look (ACCESS_DENIED), unless cache.access.allow names it', async () => {
    const denied = await started({}, users(), intruder);
    await expect(denied.request('billing/keys')).rejects.toMatchObject({ code: 'ACCESS_DENIED' });
    await expect(denied.request('billing/get')).rejects.toMatchObject({ code: 'ACCESS_DENIED' });
    const allowed = await started(
      { config: { cache: { access: { allow: ['billing'] } } } },
      users(),
      intruder,
    );
    await allowed.request('user/get_user', { id: 1 });
    expect(await allowed.request('billing/keys')).toEqual({ keys: ['get_user:1'], truncated: false });
  });
});
