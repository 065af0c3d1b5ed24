import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  type BackendContext,
  type CacheBackend,
  MeshError,
  Node,
  type RequestContext,
} from '../../../src/index.js';
import { useNodes } from '../../helpers/nodes.js';
import { TestStore } from '../../helpers/stores.js';

const nodes = useNodes();

const { started } = nodes;

function userService() {
  const calls = { n: 0 };
  return {
    calls,
    def: {
      name: 'user',
      actions: {
        get_user: {
          cache: { keys: ['id'] },
          handler: (_c: RequestContext, p: { id: number }) => {
            calls.n++;
            return { id: p.id, at: new Date(1_700_000_000_000), tags: new Set(['a']) };
          },
        },
      },
    },
  };
}

/** The smallest backend a user could write: a Map, the four required methods, nothing else. */
class MinimalStore implements CacheBackend {
  readonly map = new Map<string, unknown>();
  get(key: string) {
    return this.map.get(key);
  }
  set(key: string, value: unknown) {
    this.map.set(key, value);
  }
  delete(key: string) {
    return this.map.delete(key);
  }
  clear(prefix = '') {
    for (const k of [...this.map.keys()]) if (k.startsWith(prefix)) this.map.delete(k);
  }
}

describe('custom backends', () => {
  for (const mode of ['sync', 'async'] as const) {
    it(`a backend registered by name and chosen by config serves hits (${mode})`, async () => {
      const store = new TestStore({ async: mode === 'async' });
      const { calls, def } = userService();
      const node = await started(
        { backends: { mystore: store }, config: { cache: { backend: 'mystore' } } },
        def,
      );
      const first = await node.request('user/get_user', { id: 1 });
      const second = await node.request('user/get_user', { id: 1 });
      expect(second).toEqual(first);
      expect((second as { at: Date }).at).toBeInstanceOf(Date);
      expect(calls.n).toBe(1);
      expect(store.storedKeys()).toEqual(['cache:default/user/get_user:1']);
      expect(store.count('get')).toBe(2);
      expect(store.count('set')).toBe(1);
      expect(node.cache.stats().backends.mystore).toMatchObject({ errors: 0, available: true });
    });
  }

  it('is chosen from a YAML file and from CACHE_BACKEND', async () => {
    const file = fileURLToPath(new URL('../../fixtures/custom-backend.yaml', import.meta.url));
    const store = new TestStore();
    const a = userService();
    const node = await started({ backends: { mystore: store }, config: file }, a.def);
    await node.request('user/get_user', { id: 1 });
    expect(store.ops.find((o) => o.op === 'set')).toMatchObject({
      key: 'cache:default/user/get_user:1',
      ttl: 12,
    });

    const envStore = new TestStore();
    const b = userService();
    const envNode = await started({ backends: { other: envStore }, env: { CACHE_BACKEND: 'other' } }, b.def);
    await envNode.request('user/get_user', { id: 2 });
    expect(envStore.storedKeys()).toEqual(['cache:default/user/get_user:2']);
  });

  it('open() gets the node context once; close() runs at stop', async () => {
    const contexts: BackendContext[] = [];
    const store = new TestStore();
    store.open = (ctx?: BackendContext) => {
      contexts.push(ctx!);
      store.opened++;
    };
    const node = await started(
      { networkId: 'net7', backends: { mystore: store }, config: { cache: { backend: 'mystore' } } },
      userService().def,
      { name: 'other', actions: { a: { cache: { backend: 'mystore' }, handler: () => 1 } } },
    );
    expect(store.opened).toBe(1);
    expect(contexts[0].networkId).toBe('net7');
    expect(typeof contexts[0].logger.info).toBe('function');
    await node.stop();
    expect(store.closed).toBe(1);
  });

  it('a minimal Map backend (no keys(), no revoke) works; revoke by pattern reports BACKEND_ERROR', async () => {
    const store = new MinimalStore();
    const { calls, def } = userService();
    const node = await started({ backends: { mini: store }, config: { cache: { backend: 'mini' } } }, def);
    await node.request('user/get_user', { id: 1 });
    await node.request('user/get_user', { id: 1 });
    expect(calls.n).toBe(1);
    expect(await node.request('user/cache/delete', { key: 'get_user:1' })).toEqual({ deleted: true });
    await node.request('user/get_user', { id: 1 });
    expect(await node.request('user/cache/clear')).toEqual({ cleared: 0 }); // count unknown: 0
    expect(store.map.size).toBe(0);
    const err = await node.request('user/cache/revoke', { pattern: '*' }).catch((e: unknown) => e);
    expect(MeshError.is(err, 'BACKEND_ERROR')).toBe(true);
  });

  it('a backend with its own revoke(prefix, pattern) gets the scope and the pattern', async () => {
    const store = new TestStore();
    const seen: Array<[string, string]> = [];
    (store as CacheBackend).revoke = (prefix: string, pattern: string) => {
      seen.push([prefix, pattern]);
      return 3;
    };
    const node = await started(
      { backends: { mystore: store }, config: { cache: { backend: 'mystore' } } },
      userService().def,
    );
    expect(await node.request('user/cache/revoke', { pattern: 'get_user:**1' })).toEqual({ revoked: 3 });
    expect(seen).toEqual([['cache:default/user/', 'get_user:*1']]);
  });

  it('keys() may be an async iterable', async () => {
    const store = new TestStore();
    const base = store.keys.bind(store);
    store.keys = ((prefix?: string) =>
      (async function* () {
        for (const k of (await base(prefix)) as Iterable<string>) yield k;
      })()) as unknown as TestStore['keys'];
    const node = await started(
      { backends: { mystore: store }, config: { cache: { backend: 'mystore' } } },
      userService().def,
    );
    for (const id of [1, 2, 11]) await node.request('user/get_user', { id });
    expect(await node.request('user/cache/revoke', { pattern: 'get_user:1*' })).toEqual({ revoked: 2 });
    expect(store.storedKeys()).toEqual(['cache:default/user/get_user:2']);
  });

  it('revoke only deletes keys under the service scope even if keys() ignores its prefix', async () => {
    const store = new TestStore();
    const base = store.keys.bind(store);
    store.keys = (() => base('')) as TestStore['keys']; // a sloppy backend: lists everything
    const node = await started(
      { backends: { mystore: store }, config: { cache: { backend: 'mystore' } } },
      userService().def,
      { name: 'order', actions: { get_user: { cache: { keys: ['id'] }, handler: () => 'o' } } },
    );
    await node.request('user/get_user', { id: 1 });
    await node.request('order/get_user', { id: 1 });
    expect(await node.request('user/cache/revoke', { pattern: '*' })).toEqual({ revoked: 1 });
    expect(store.storedKeys()).toEqual(['cache:default/order/get_user:1']);
  });

  it('a registered object missing required methods is refused with CONFIG_INVALID', async () => {
    const node = new Node({
      env: {},
      backends: { broken: { get() {} } as never },
      config: { cache: { backend: 'broken' } },
    });
    nodes.track(node);
    const err = await node.start().catch((e: unknown) => e);
    expect(MeshError.is(err, 'CONFIG_INVALID')).toBe(true);
    expect((err as Error).message).toContain('broken');
  });

  it('a custom backend may shadow a built-in name', async () => {
    const store = new TestStore();
    const node = await started({ backends: { memory: store } }, userService().def);
    await node.request('user/get_user', { id: 3 });
    expect(store.storedKeys()).toEqual(['cache:default/user/get_user:3']);
  });
});
