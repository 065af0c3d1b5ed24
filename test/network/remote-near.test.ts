/**
 * A cached action another member hosts, answered on the caller from its near
 * tier when the caller can build the key (keys from params) and shares the
 * backend (Redis here): no network hop on a near hit; coherent with deletes on
 * the host and with management calls made from the caller.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Node, type RequestContext } from '../../src/index.js';
import { waitFor } from '../helpers/p2p.js';
import {
  captureLogger,
  type RedisServer,
  redisAvailable,
  startRedisServer,
} from '../helpers/redis-server.js';

const available = redisAvailable();
const nodes: Node[] = [];
afterEach(async () => {
  await Promise.allSettled(nodes.splice(0).map((n) => n.stop()));
});

describe.skipIf(!available)('remote cached actions answered from the caller near tier (Redis)', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  let version = 1;
  let computed = 0;
  async function start(id: string, bootstrap: string[] | undefined, host: boolean, access?: unknown) {
    const node = new Node({
      logger: captureLogger('warn').logger,
      env: {},
      network: { id, ...(bootstrap ? { bootstrap } : {}) },
      config: { cache: { backend: 'redis', redis: { url: server.url }, ...(access ? { access } : {}) } },
    });
    nodes.push(node);
    if (host)
      node.addService({
        name: 'user',
        actions: {
          get_user: {
            cache: { ttl: 60, keys: ['id'] },
            handler: (_ctx: RequestContext, p: { id: number }) => ({ id: p.id, version, n: ++computed }),
          },
          // Not answerable on a caller: its key is built by code.
          by_code: {
            cache: { ttl: 60, key: (p: { id: number }) => `c${p.id}` },
            handler: (_ctx: RequestContext, p: { id: number }) => ({ id: p.id, n: ++computed }),
          },
        },
      });
    await node.start();
    return node;
  }

  it('a near hit on the caller sends nothing to the host; a delete on the host reaches the caller copy', async () => {
    const host = await start('near-remote', undefined, true, { peers: '*' });
    const caller = await start('near-remote', host.network!.addresses(), false);
    await waitFor(() => caller.network!.catalogs.hostsOf('user').length > 0, 15_000, 'catalog');
    await waitFor(
      () => caller.cache.stats().services.user?.actions.get_user !== undefined,
      10_000,
      'route installed',
    );

    const first = await caller.request<{ n: number; version: number }>('user/get_user', { id: 1 });
    const served = host.network!.calls.served;
    // Repeated calls on the caller: near hits, no call reaches the host.
    for (let i = 0; i < 20; i++) expect(await caller.request('user/get_user', { id: 1 })).toEqual(first);
    expect(host.network!.calls.served).toBe(served);
    expect(caller.cache.stats().services.user?.actions.get_user?.hits).toBeGreaterThanOrEqual(20);

    // The host updates and deletes: once its delete resolved the caller no longer serves the old value.
    version = 2;
    await host.request('user/cache/delete', { action: 'get_user', params: { id: 1 } });
    await waitFor(
      async () => (await caller.request<{ version: number }>('user/get_user', { id: 1 })).version === 2,
      2_000,
      'fresh value on the caller',
    );

    // A delete the caller makes on the host (a management call): never the old value after it resolved.
    version = 3;
    await caller.request('user/cache/delete', { action: 'get_user', params: { id: 1 } });
    expect((await caller.request<{ version: number }>('user/get_user', { id: 1 })).version).toBe(3);

    // A key built by code: cached on the host only; every call reaches it.
    await caller.request('user/by_code', { id: 5 });
    const before = host.network!.calls.served;
    await caller.request('user/by_code', { id: 5 });
    expect(host.network!.calls.served).toBe(before + 1);
    expect(caller.cache.stats().services.user?.actions.by_code).toBeUndefined();
  });
});
