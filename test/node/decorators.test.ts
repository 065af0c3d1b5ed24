import { describe, expect, it } from 'vitest';
import {
  action,
  cached,
  inject,
  MeshError,
  Node,
  type RequestContext,
  service,
  subscribe,
} from '../../src/index.js';

interface Db {
  users: Map<number, { id: number; name: string }>;
  reads: number;
}

@service({ name: 'user' })
class UserService {
  @inject('db') db!: Db;
  events: unknown[] = [];
  startedCalls = 0;
  stoppedCalls = 0;

  @action({ cache: { enabled: true, ttl: 60 } })
  async get_user(_ctx: RequestContext, params: { id: number }) {
    this.db.reads++;
    return this.db.users.get(params.id) ?? null;
  }

  @action()
  @cached({ ttl: 60, keys: ['id'] })
  async get_user_profile(_ctx: RequestContext, params: { id: number }) {
    this.db.reads++;
    return { id: params.id, bio: `bio of ${params.id}` };
  }

  @action()
  async update_user(ctx: RequestContext, params: { id: number; name: string }) {
    this.db.users.set(params.id, { id: params.id, name: params.name });
    await ctx.request('user/cache/delete', { key: `get_user:${params.id}` });
    await ctx.publish('user.updated', { id: params.id });
    return this.db.users.get(params.id);
  }

  @action()
  whoami(ctx: RequestContext) {
    return {
      service: ctx.service,
      action: ctx.action,
      path: ctx.path,
      caller: ctx.caller,
      networkId: ctx.networkId,
    };
  }

  @action()
  async nested(ctx: RequestContext) {
    const inner = (await ctx.request('user/whoami')) as { caller: string };
    return { outer: ctx.requestId, inner, depth: ctx.depth };
  }

  @subscribe('user.*')
  onUserEvent(ctx: RequestContext, data: unknown) {
    this.events.push({ topic: ctx.event?.topic, data, publisher: ctx.event?.publisher });
  }

  started() {
    this.startedCalls++;
  }

  stopped() {
    this.stoppedCalls++;
  }
}

function makeDb(): Db {
  return { users: new Map([[1, { id: 1, name: 'Ada' }]]), reads: 0 };
}

describe('decorated services', () => {
  it('registers actions, injects, caches and invalidates as in the spec example', async () => {
    const db = makeDb();
    const svc = new UserService();
    const node = new Node({ config: { cache: { backend: 'memory' } } });
    node.provide('db', db).addService(svc);
    await node.start();
    expect(svc.startedCalls).toBe(1);
    expect(svc.db).toBe(db);

    expect(await node.request('user/get_user', { id: 1 })).toEqual({ id: 1, name: 'Ada' });
    expect(await node.request('user/get_user', { id: 1 })).toEqual({ id: 1, name: 'Ada' });
    expect(db.reads).toBe(1);

    await node.request('user/update_user', { id: 1, name: 'Grace' });
    expect(await node.request('user/get_user', { id: 1 })).toEqual({ id: 1, name: 'Grace' });
    expect(db.reads).toBe(2);
    expect(svc.events).toEqual([{ topic: 'user.updated', data: { id: 1 }, publisher: 'user/update_user' }]);

    await node.request('user/get_user_profile', { id: 7 });
    await node.request('user/get_user_profile', { id: 7 });
    expect(db.reads).toBe(3);
    const stats = node.cache.stats();
    expect(stats.services.user.actions.get_user_profile).toMatchObject({ hits: 1, misses: 1, stores: 1 });
    await node.stop();
    expect(svc.stoppedCalls).toBe(1);
  });

  it('gives nested calls a trace: same requestId, caller names the calling action', async () => {
    const node = new Node();
    node.provide('db', makeDb()).addService(new UserService());
    await node.start();
    const direct = (await node.request('user/whoami')) as Record<string, unknown>;
    expect(direct).toEqual({
      service: 'user',
      action: 'whoami',
      path: 'user/whoami',
      caller: undefined,
      networkId: 'default',
    });
    const nested = (await node.request('user/nested')) as {
      outer: string;
      inner: { caller: string };
      depth: number;
    };
    expect(nested.inner.caller).toBe('user/nested');
    expect(nested.depth).toBe(0);
    await node.stop();
  });

  it('refuses a service whose @inject token was never provided', async () => {
    const node = new Node();
    node.addService(new UserService());
    const err: any = await node.start().catch((e: any) => e);
    expect(MeshError.is(err, 'NOT_FOUND')).toBe(true);
    expect(err.message).toContain("node.provide('db'");
  });
});

describe('stats by path', () => {
  it('lists each cached action under services.<s>.actions and under actions[<path>]', async () => {
    const db = makeDb();
    const node = new Node();
    node.provide('db', db).addService(new UserService());
    await node.start();
    await node.request('user/get_user', { id: 1 });
    await node.request('user/get_user', { id: 1 });
    const s = node.cache.stats();
    expect(s.actions['user/get_user']).toEqual(s.services.user.actions.get_user);
    expect(s.actions['user/get_user']).toMatchObject({ hits: 1, misses: 1, hitRate: 0.5 });
    expect(Object.keys(s.actions).sort()).toEqual(['user/get_user', 'user/get_user_profile']);
    await node.stop();
  });
});
