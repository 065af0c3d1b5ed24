/**
 * Cache management across the network: `<service>/cache/*` reached from any
 * member, allowed by `cache.access.peers` (or by hosting the same service),
 * refused otherwise with nothing removed; `$node/info`, `$node/stats` and
 * `node.cache.networkStats()`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MeshError, Node, type NodeOptions, type RequestContext } from '../../src/index.js';
import { testLogger, waitFor } from '../helpers/p2p.js';

const nodes: Node[] = [];
afterEach(async () => {
  await Promise.allSettled(nodes.splice(0).map((n) => n.stop()));
});

let computed = 0;
const userService = () => ({
  name: 'user',
  actions: {
    get_user: {
      cache: { ttl: 60, keys: ['id'] },
      handler: (_ctx: RequestContext, p: { id: number }) => ({ id: p.id, n: ++computed }),
    },
  },
});

async function start(
  id: string,
  bootstrap: string[] | undefined,
  options: Partial<NodeOptions> = {},
  ...services: object[]
) {
  const node = new Node({
    logger: testLogger(),
    env: {},
    network: { id, ...(bootstrap ? { bootstrap } : {}) },
    ...options,
  });
  nodes.push(node);
  for (const s of services) node.addService(s);
  await node.start();
  return node;
}

const reaches = (node: Node, service: string, count = 1) =>
  waitFor(() => node.network!.catalogs.hostsOf(service).length >= count, 15_000, `${service} reachable`);

describe('management across the network', () => {
  it('cache.access.peers allows a listed peer, a member hosting the same service, and refuses the others', async () => {
    const admin = await start('mgmt-access', undefined);
    const host = await start(
      'mgmt-access',
      admin.network!.addresses(),
      {
        config: { cache: { access: { peers: [admin.network!.peerId] } } },
      },
      userService(),
    );
    const outsider = await start('mgmt-access', admin.network!.addresses());
    const twin = await start('mgmt-access', admin.network!.addresses(), {}, userService());
    for (const n of [admin, outsider]) await reaches(n, 'user', 2);
    await reaches(twin, 'user', 1);
    const first = await host.request<{ n: number }>('user/get_user', { id: 1 });

    // An unlisted member: ACCESS_DENIED naming the setting, and nothing removed.
    const denied = (await outsider.request('user/cache/clear').catch((e: unknown) => e)) as MeshError;
    expect(denied).toBeInstanceOf(MeshError);
    expect(denied.code).toBe('ACCESS_DENIED');
    expect(denied.message).toContain('cache.access.peers');
    expect(denied.message).toContain(outsider.network!.peerId);
    expect(await host.request('user/get_user', { id: 1 })).toEqual(first);
    // `outsider` may call the service itself (non-management actions are open to members).
    await expect(outsider.request('user/get_user', { id: 1 })).resolves.toBeDefined();

    // The listed admin deletes; once its call resolved, nobody serves the old value.
    const path = (n: Node) => n.network!.catalogs.hostsOf('user');
    expect(path(admin)).toContain(host.network!.peerId);
    const deleted = await admin.network!.calls.callOn(host.network!.peerId, {
      path: 'user/cache/delete',
      params: { action: 'get_user', params: { id: 1 } },
      deadline: Date.now() + 5_000,
      meta: {},
      cache: undefined,
      requestId: 'r1',
      caller: undefined,
    });
    expect(deleted).toEqual({ deleted: true });
    const after = await host.request<{ n: number }>('user/get_user', { id: 1 });
    expect(after.n).toBeGreaterThan(first.n);

    // A member hosting `user` itself may manage that service's cache on the other host.
    const cleared = await twin.network!.calls.callOn(host.network!.peerId, {
      path: 'user/cache/clear',
      params: {},
      deadline: Date.now() + 5_000,
      meta: {},
      cache: undefined,
      requestId: 'r2',
      caller: undefined,
    });
    expect(cleared).toMatchObject({ cleared: expect.any(Number) });
  });

  it('cache.access.authorize sees ctx.peer', async () => {
    const seen: Array<string | undefined> = [];
    const caller = await start('mgmt-authorize', undefined);
    const host = await start(
      'mgmt-authorize',
      caller.network!.addresses(),
      {
        config: {
          cache: {
            access: {
              authorize: (ctx: RequestContext) => {
                seen.push(ctx.peer);
                return ctx.peer === caller.network!.peerId;
              },
            },
          },
        },
      },
      userService(),
    );
    await reaches(caller, 'user');
    expect(await caller.request('user/cache/clear')).toMatchObject({ cleared: expect.any(Number) });
    expect(seen).toContain(caller.network!.peerId);
    expect(host.network!.peerId).not.toBe(caller.network!.peerId);
  });

  it('$node/info answers every member; networkStats lists every member, stats where allowed, errors in time', async () => {
    const viewer = await start('mgmt-view', undefined);
    const open = await start(
      'mgmt-view',
      viewer.network!.addresses(),
      {
        config: { cache: { access: { peers: '*' } } },
      },
      userService(),
    );
    const closed = await start(
      'mgmt-view',
      viewer.network!.addresses(),
      {},
      { name: 'orders', actions: { list: { cache: { ttl: 5 }, handler: () => [] } } },
    );
    const silent = await start('mgmt-view', viewer.network!.addresses());
    await waitFor(() => viewer.network!.peers().length >= 3, 15_000, 'members');
    await reaches(viewer, 'user');
    await reaches(viewer, 'orders');
    await open.request('user/get_user', { id: 7 });
    await open.request('user/get_user', { id: 7 });

    const info = (await viewer.network!.calls.callOn(closed.network!.peerId, {
      path: '$node/info',
      params: {},
      deadline: Date.now() + 5_000,
      meta: {},
      cache: undefined,
      requestId: 'i',
      caller: undefined,
    })) as Record<string, unknown>;
    expect(info).toMatchObject({ peerId: closed.network!.peerId, services: ['orders'] });
    expect(info.hosted).toEqual([
      expect.objectContaining({
        name: 'orders',
        actions: expect.arrayContaining([
          expect.objectContaining({
            name: 'list',
            declared: { cache: expect.objectContaining({ ttl: 5, functions: false }) },
          }),
        ]),
      }),
    ]);

    // A member that never answers: listed with an error once the deadline passed.
    silent.network!.direct.serve(() => new Promise(() => {}));
    const t0 = Date.now();
    const view = await viewer.cache.networkStats({ timeoutMs: 500 });
    expect(Date.now() - t0).toBeLessThan(2_000);
    const byPeer = new Map(view.nodes.map((n) => [n.peerId, n]));
    expect(view.nodes[0]?.peerId).toBe(viewer.network!.peerId);
    expect(byPeer.size).toBe(4);
    const openEntry = byPeer.get(open.network!.peerId);
    expect(openEntry?.services).toEqual(['user']);
    expect(openEntry?.stats?.services.user?.actions.get_user?.hits).toBe(1);
    expect(byPeer.get(closed.network!.peerId)).toMatchObject({
      services: ['orders'],
      error: { code: 'ACCESS_DENIED' },
    });
    expect(byPeer.get(closed.network!.peerId)?.stats).toBeUndefined();
    expect(byPeer.get(silent.network!.peerId)?.error?.code).toMatch(/TIMEOUT|UNAVAILABLE/);
  });
});
