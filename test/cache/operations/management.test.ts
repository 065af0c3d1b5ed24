import { describe, expect, it } from 'vitest';
import {
  action,
  cached,
  type ManagementRequest,
  MeshError,
  Node,
  type NodeOptions,
  type RequestContext,
  service,
} from '../../../src/index.js';
import { useNodes } from '../../helpers/nodes.js';
import { TestStore } from '../../helpers/stores.js';

const nodes = useNodes();

/** The spec's user service, plus a profile action keyed like the spec's invalidation example. */
@service('user')
class UserService {
  reads = 0;

  @action({ cache: { enabled: true, ttl: 60 } })
  get_user(_ctx: RequestContext, params: { id: number }) {
    this.reads++;
    return { id: params.id };
  }

  @action()
  @cached({ ttl: 60, key: (p: { id: number; part: string }) => `profile:user:${p.id}:${p.part}` })
  get_profile_part(_ctx: RequestContext, params: { id: number; part: string }) {
    this.reads++;
    return { id: params.id, part: params.part };
  }

  @action()
  async update_user(ctx: RequestContext, params: { id: number }) {
    return ctx.request('user/cache/delete', { key: `get_user:${params.id}` });
  }

  @action()
  async reset(ctx: RequestContext, params: { op: 'clear' | 'revoke' }) {
    return params.op === 'clear'
      ? ctx.request('user/cache/clear')
      : ctx.request('user/cache/revoke', { pattern: '*' });
  }
}

/** Another service that tries to manage the user cache. */
function intruder(name: string) {
  return {
    name,
    actions: {
      clear: (ctx: RequestContext) => ctx.request('user/cache/clear'),
      del: (ctx: RequestContext) => ctx.request('user/cache/delete', { key: 'get_user:1' }),
      revoke: (ctx: RequestContext) => ctx.request('user/cache/revoke', { pattern: 'get_user:*' }),
    },
    events: {
      'ops.flush': async (ctx: RequestContext) => {
        try {
          await ctx.request('user/cache/clear');
        } catch (e) {
          denials.push(e);
        }
      },
    },
  };
}
const denials: unknown[] = [];

async function setup(options: Partial<NodeOptions> = {}) {
  const users = new UserService();
  const node = new Node({ env: {}, ...options });
  nodes.track(node);
  node.addService(users).addService(intruder('billing')).addService(intruder('admin'));
  await node.start();
  return { node, users };
}

async function fill(node: Node) {
  for (const id of [1, 2, 3, 10, 11]) await node.request('user/get_user', { id });
  for (const part of ['bio', 'avatar']) await node.request('user/get_profile_part', { id: 1, part });
  await node.request('user/get_profile_part', { id: 2, part: 'bio' });
}

describe('management actions', () => {
  it('are added to caching services only', async () => {
    const { node } = await setup();
    expect(node.actionPaths()).toEqual(
      expect.arrayContaining(['user/cache/clear', 'user/cache/delete', 'user/cache/revoke']),
    );
    expect(node.actionPaths().some((p) => p.startsWith('billing/cache/'))).toBe(false);
    await expect(node.request('billing/cache/clear')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  for (const backend of ['memory', 'mystore']) {
    it(`clear / delete / revoke return DESIGN.md's results (${backend})`, async () => {
      const { node, users } = await setup({
        backends: { mystore: new TestStore() },
        config: { cache: { backend } },
      });
      await fill(node);
      expect(users.reads).toBe(8);
      expect(await node.request('user/cache/delete', { key: 'get_user:1' })).toEqual({ deleted: true });
      expect(await node.request('user/cache/delete', { key: 'get_user:1' })).toEqual({ deleted: false });
      expect(await node.request('user/cache/delete', { key: 'get_user:999' })).toEqual({ deleted: false });
      expect(await node.request('user/cache/revoke', { pattern: 'get_user:?' })).toEqual({ revoked: 2 }); // 2, 3
      expect(await node.request('user/cache/revoke', { pattern: 'profile:user:1:*' })).toEqual({
        revoked: 2,
      });
      expect(await node.request('user/cache/revoke', { pattern: 'nothing*' })).toEqual({ revoked: 0 });
      expect(await node.request('user/cache/clear')).toEqual({ cleared: 3 }); // 10, 11, profile 2
      expect(await node.request('user/cache/clear')).toEqual({ cleared: 0 });
      await fill(node);
      expect(users.reads).toBe(16);
    });
  }

  it('delete removes exactly that entry: the next call runs the handler, others still hit', async () => {
    const { node, users } = await setup();
    await fill(node);
    await node.request('user/cache/delete', { key: 'get_user:2' });
    await node.request('user/get_user', { id: 1 });
    expect(users.reads).toBe(8);
    await node.request('user/get_user', { id: 2 });
    expect(users.reads).toBe(9);
  });

  it('revoke with * and ? against many keys', async () => {
    const { node } = await setup();
    for (let id = 0; id < 300; id++) await node.request('user/get_user', { id });
    expect(await node.request('user/cache/revoke', { pattern: 'get_user:1??' })).toEqual({ revoked: 100 });
    expect(await node.request('user/cache/revoke', { pattern: '*:?' })).toEqual({ revoked: 10 });
    expect(await node.request('user/cache/revoke', { pattern: 'get_user:*9' })).toEqual({ revoked: 19 });
    expect(await node.request('user/cache/clear')).toEqual({ cleared: 171 });
  });
});

describe('access control', () => {
  it('default: node.request and the owning service are allowed', async () => {
    const { node, users } = await setup();
    await fill(node);
    expect(await node.request('user/update_user', { id: 1 })).toEqual({ deleted: true });
    expect(await node.request('user/reset', { op: 'revoke' })).toEqual({ revoked: 7 });
    await fill(node);
    expect(await node.request('user/reset', { op: 'clear' })).toEqual({ cleared: 8 });
    expect(users.reads).toBe(16);
  });

  it('default: another service gets ACCESS_DENIED and nothing is removed', async () => {
    const { node, users } = await setup();
    await fill(node);
    for (const op of ['clear', 'del', 'revoke']) {
      const err = await node.request(`billing/${op}`).catch((e: unknown) => e);
      expect(MeshError.is(err, 'ACCESS_DENIED'), op).toBe(true);
      expect((err as MeshError).message).toContain('billing');
    }
    await fill(node);
    expect(users.reads).toBe(8);
    expect(node.cache.stats().services.user.hits).toBe(8);
  });

  it("default: another service's event handler is denied too; a node.subscribe handler is the local process", async () => {
    const { node, users } = await setup();
    await fill(node);
    denials.length = 0;
    await node.publish('ops.flush', {});
    expect(denials).toHaveLength(2); // billing and admin
    for (const d of denials) expect(MeshError.is(d, 'ACCESS_DENIED')).toBe(true);
    await fill(node);
    expect(users.reads).toBe(8);

    const results: unknown[] = [];
    const off = node.subscribe('ops.local', async (ctx) => {
      results.push(await ctx.request('user/cache/clear').catch((e: unknown) => e));
    });
    await node.publish('ops.local', {});
    off();
    expect(results).toEqual([{ cleared: 8 }]);
  });

  it('cache.access.allow lets listed services in', async () => {
    const { node, users } = await setup({ config: { cache: { access: { allow: ['admin'] } } } });
    await fill(node);
    expect(await node.request('admin/del')).toEqual({ deleted: true });
    expect(await node.request('admin/revoke')).toEqual({ revoked: 4 });
    await expect(node.request('billing/clear')).rejects.toMatchObject({ code: 'ACCESS_DENIED' });
    expect(await node.request('admin/clear')).toEqual({ cleared: 3 });
    expect(users.reads).toBe(8);
  });

  it("cache.access.allow: ['*'] lets every caller in", async () => {
    const { node } = await setup({ config: { cache: { access: { allow: ['*'] } } } });
    await fill(node);
    expect(await node.request('billing/clear')).toEqual({ cleared: 8 });
  });

  it('authorize(ctx, request) decides every call, overriding allow and the defaults', async () => {
    const seen: Array<ManagementRequest & { caller: string | undefined }> = [];
    const authorize = (ctx: RequestContext, req: ManagementRequest) => {
      seen.push({ ...req, caller: ctx.caller });
      return ctx.caller === 'billing/del' && req.operation === 'delete';
    };
    const { node, users } = await setup({ config: { cache: { access: { allow: ['admin'], authorize } } } });
    await fill(node);
    expect(await node.request('billing/del')).toEqual({ deleted: true });
    await expect(node.request('billing/revoke')).rejects.toMatchObject({ code: 'ACCESS_DENIED' });
    await expect(node.request('admin/clear')).rejects.toMatchObject({ code: 'ACCESS_DENIED' });
    await expect(node.request('user/cache/clear')).rejects.toMatchObject({ code: 'ACCESS_DENIED' });
    await expect(node.request('user/update_user', { id: 2 })).rejects.toMatchObject({
      code: 'ACCESS_DENIED',
    });
    expect(seen.map((s) => `${s.caller}:${s.service}:${s.operation}`)).toEqual([
      'billing/del:user:delete',
      'billing/revoke:user:revoke',
      'admin/clear:user:clear',
      'undefined:user:clear',
      'user/update_user:user:delete',
    ]);
    await fill(node);
    expect(users.reads).toBe(9); // only get_user:1 was removed
  });

  it('a config file can allow services (access from the file layer)', async () => {
    const { node } = await setup({ config: { cache: { access: { allow: ['billing'] } } } });
    await fill(node);
    expect(await node.request('billing/revoke')).toEqual({ revoked: 5 });
  });
});

describe('invalid params', () => {
  it('missing or wrong params give INVALID_PARAMS and remove nothing', async () => {
    const { node, users } = await setup();
    await fill(node);
    const bad: Array<[string, Record<string, unknown> | undefined]> = [
      ['user/cache/delete', undefined],
      ['user/cache/delete', {}],
      ['user/cache/delete', { key: 123 }],
      ['user/cache/delete', { key: '' }],
      ['user/cache/delete', { key: 'get_user:1', extra: true }],
      ['user/cache/delete', { pattern: 'get_user:*' }],
      ['user/cache/revoke', undefined],
      ['user/cache/revoke', { pattern: '' }],
      ['user/cache/revoke', { pattern: ['get_user:*'] }],
      ['user/cache/revoke', { key: 'get_user:1' }],
      ['user/cache/clear', { everything: true }],
    ];
    for (const [path, params] of bad) {
      const err = await node.request(path, params).catch((e: unknown) => e);
      expect(MeshError.is(err, 'INVALID_PARAMS'), `${path} ${JSON.stringify(params)}`).toBe(true);
    }
    await fill(node);
    expect(users.reads).toBe(8);
  });
});
