import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { fillTemplate } from '../../../src/cache/keys/template.js';
import {
  action,
  cached,
  type EventRule,
  MeshError,
  Node,
  type RequestContext,
  service,
} from '../../../src/index.js';
import { useNodes } from '../../helpers/nodes.js';
import { capturingLogger } from '../../helpers/stores.js';

const nodes = useNodes();

/** Counts handler calls per `<action>:<json params>`. */
class Calls {
  readonly n = new Map<string, number>();
  record(action: string, params: unknown) {
    const k = `${action}:${JSON.stringify(params)}`;
    this.n.set(k, (this.n.get(k) ?? 0) + 1);
  }
  total() {
    let t = 0;
    for (const v of this.n.values()) t += v;
    return t;
  }
}

/** A plain-object service whose actions are all cached; `events` = its service-level rules. */
function svc(name: string, calls: Calls, events?: EventRule[]) {
  const act = (a: string, keys?: string[]) => ({
    cache: keys ? { keys } : true,
    handler: (_c: RequestContext, p: Record<string, unknown>) => {
      calls.record(`${name}.${a}`, p);
      return { a, p };
    },
  });
  return {
    name,
    cache: events === undefined ? undefined : { events },
    actions: {
      get_user: act('get_user', ['id']),
      get_user_profile: act('get_user_profile', ['id']),
      search: act('search'),
      list_orders: act('list_orders', ['customer']),
      by_pair: act('by_pair', ['org', 'id']),
    },
  };
}

const { started } = nodes;

async function fill(node: Node, service = 'user') {
  for (const id of [1, 2]) {
    await node.request(`${service}/get_user`, { id });
    await node.request(`${service}/get_user_profile`, { id });
  }
  await node.request(`${service}/search`, { q: 'ada' });
  await node.request(`${service}/search`, { q: 'bob' });
  await node.request(`${service}/list_orders`, { customer: 'c1' });
  await node.request(`${service}/by_pair`, { org: 'acme', id: 7 });
}

describe('templates', () => {
  it('fills {field} and {dot.path} placeholders, encoded like key values', () => {
    expect(fillTemplate('get_user:{id}', { id: 123 })).toEqual({ key: 'get_user:123' });
    expect(fillTemplate('get_user:{id}', { id: '123' })).toEqual({ key: 'get_user:"123"' });
    expect(fillTemplate('get_user:{id}', { id: 'alice' })).toEqual({ key: 'get_user:alice' });
    expect(fillTemplate('by_pair:{org}:{user.id}', { org: 'acme', user: { id: 7 } })).toEqual({
      key: 'by_pair:acme:7',
    });
    expect(fillTemplate('get_user_profile:*', {})).toEqual({ key: 'get_user_profile:*' });
    expect(fillTemplate('get_user:{id}', { other: 1 })).toEqual({ missing: 'id' });
    expect(fillTemplate('get_user:{user.id}', { user: null })).toEqual({ missing: 'user.id' });
    expect(fillTemplate('get_user:{id}', undefined)).toEqual({ missing: 'id' });
  });
});

describe('event rules', () => {
  it('service-level rules in code: {id} deletes one key, a wildcard key revokes by pattern', async () => {
    const calls = new Calls();
    const node = await started(
      {},
      svc('user', calls, [{ event: 'user.updated', keys: ['get_user:{id}', 'get_user_profile:*'] }]),
    );
    await fill(node);
    expect(calls.total()).toBe(8);
    await node.publish('user.updated', { id: 1 });
    await fill(node);
    // get_user:1 and both profiles ran again; get_user:2, search, orders, pair still hit
    expect(calls.total()).toBe(11);
    expect(calls.n.get('user.get_user:{"id":1}')).toBe(2);
    expect(calls.n.get('user.get_user:{"id":2}')).toBe(1);
    expect(calls.n.get('user.get_user_profile:{"id":2}')).toBe(2);
  });

  it('the spec flow: an action publishes with ctx.publish and the rule invalidates', async () => {
    @service({ name: 'user', events: [{ event: 'user.updated', keys: ['get_user_profile:{id}'] }] })
    class UserService {
      reads = 0;
      @action({ cache: { enabled: true, ttl: 60 } })
      get_user(_ctx: RequestContext, p: { id: number }) {
        this.reads++;
        return { id: p.id };
      }
      @action()
      @cached({ ttl: 60, keys: ['id'] })
      get_user_profile(_ctx: RequestContext, p: { id: number }) {
        this.reads++;
        return { id: p.id };
      }
      @action()
      async update_user(ctx: RequestContext, p: { id: number }) {
        await ctx.request('user/cache/delete', { key: `get_user:${p.id}` });
        await ctx.publish('user.updated', { id: p.id });
        return true;
      }
    }
    const users = new UserService();
    const node = await started({}, users);
    await node.request('user/get_user', { id: 5 });
    await node.request('user/get_user_profile', { id: 5 });
    await node.request('user/get_user_profile', { id: 6 });
    await node.request('user/update_user', { id: 5 });
    await node.request('user/get_user', { id: 5 });
    await node.request('user/get_user_profile', { id: 5 });
    await node.request('user/get_user_profile', { id: 6 });
    expect(users.reads).toBe(5);
  });

  it('@service({ cache: { events } }) declares rules too', async () => {
    @service({ name: 'user', cache: { events: [{ event: 'user.gone', keys: ['get_user:{id}'] }] } })
    class U {
      reads = 0;
      @cached({ keys: ['id'] })
      @action()
      get_user(_c: RequestContext, p: { id: number }) {
        this.reads++;
        return p.id;
      }
    }
    const u = new U();
    const node = await started({}, u);
    await node.request('user/get_user', { id: 1 });
    await node.publish('user.gone', { id: 1 });
    await node.request('user/get_user', { id: 1 });
    expect(u.reads).toBe(2);
  });

  it('placeholders fill several fields and dot paths; string ids match string-keyed entries', async () => {
    const calls = new Calls();
    const node = await started(
      {},
      svc('user', calls, [
        { event: 'org.changed', keys: ['by_pair:{org}:{member.id}'] },
        { event: 'customer.changed', keys: ['list_orders:{customer}'] },
      ]),
    );
    await fill(node);
    await node.request('user/list_orders', { customer: '42' });
    await node.publish('org.changed', { org: 'acme', member: { id: 7 } });
    await node.publish('customer.changed', { customer: '42' });
    await fill(node);
    await node.request('user/list_orders', { customer: '42' });
    expect(calls.n.get('user.by_pair:{"org":"acme","id":7}')).toBe(2);
    expect(calls.n.get('user.list_orders:{"customer":"42"}')).toBe(2);
    expect(calls.n.get('user.list_orders:{"customer":"c1"}')).toBe(1);
  });

  it('a key whose field is missing from the event data is skipped (and logged); the other keys apply', async () => {
    const { logger, records } = capturingLogger('warn');
    const calls = new Calls();
    const node = await started(
      { logger },
      svc('user', calls, [
        { event: 'user.updated', keys: ['get_user:{id}', 'search:*', 'get_user_profile:{uid}'] },
      ]),
    );
    await fill(node);
    await node.publish('user.updated', { id: 2 });
    await fill(node);
    expect(calls.n.get('user.get_user:{"id":2}')).toBe(2);
    expect(calls.n.get('user.search:{"q":"ada"}')).toBe(2);
    expect(calls.n.get('user.get_user_profile:{"id":1}')).toBe(1);
    expect(calls.n.get('user.get_user_profile:{"id":2}')).toBe(1);
    const warn = records.find((r) => String(r.msg).includes('event rule skipped'));
    expect(warn).toMatchObject({ field: 'uid', template: 'get_user_profile:{uid}' });
  });

  it('event patterns with wildcards trigger the rule', async () => {
    const calls = new Calls();
    const node = await started({}, svc('user', calls, [{ event: 'user.*', keys: ['get_user:{id}'] }]));
    await fill(node);
    await node.publish('user.deleted', { id: 1 });
    await node.publish('user.renamed', { id: 2 });
    await node.publish('other.thing', { id: 2 });
    await fill(node);
    expect(calls.total()).toBe(10);
  });

  it('global rules from code apply to every caching service, or to the listed ones', async () => {
    const calls = new Calls();
    const node = await started(
      {
        config: {
          cache: {
            events: [
              { event: 'user.updated', keys: ['get_user:{id}'] },
              { event: 'order.placed', keys: ['list_orders:*'], services: ['order'] },
            ],
          },
        },
      },
      svc('user', calls),
      svc('order', calls),
    );
    await fill(node, 'user');
    await fill(node, 'order');
    expect(calls.total()).toBe(16);
    await node.publish('user.updated', { id: 1 });
    await node.publish('order.placed', { customer: 'c1' });
    await fill(node, 'user');
    await fill(node, 'order');
    expect(calls.n.get('user.get_user:{"id":1}')).toBe(2);
    expect(calls.n.get('order.get_user:{"id":1}')).toBe(2);
    expect(calls.n.get('order.list_orders:{"customer":"c1"}')).toBe(2);
    expect(calls.n.get('user.list_orders:{"customer":"c1"}')).toBe(1);
    expect(calls.total()).toBe(19);
  });

  it('a service rule only invalidates its own service', async () => {
    const calls = new Calls();
    const node = await started(
      {},
      svc('user', calls, [{ event: 'user.updated', keys: ['get_user:*'] }]),
      svc('order', calls),
    );
    await fill(node, 'user');
    await fill(node, 'order');
    await node.publish('user.updated', { id: 1 });
    await fill(node, 'user');
    await fill(node, 'order');
    expect(calls.n.get('order.get_user:{"id":1}')).toBe(1);
    expect(calls.n.get('user.get_user:{"id":1}')).toBe(2);
  });

  it('rules from a YAML file: global (with a services filter) and service level', async () => {
    const calls = new Calls();
    const node = await started(
      { config: fileURLToPath(new URL('../../fixtures/event-rules.yaml', import.meta.url)) },
      svc('user', calls),
      svc('order', calls),
    );
    await fill(node, 'user');
    await fill(node, 'order');
    await node.publish('order.placed', { customer: 'c1' });
    await node.publish('user.renamed', { id: 2 });
    await fill(node, 'user');
    await fill(node, 'order');
    expect(calls.n.get('order.list_orders:{"customer":"c1"}')).toBe(2);
    expect(calls.n.get('user.list_orders:{"customer":"c1"}')).toBe(1);
    expect(calls.n.get('user.get_user:{"id":2}')).toBe(2);
    expect(calls.n.get('user.search:{"q":"bob"}')).toBe(2);
    expect(calls.n.get('order.get_user:{"id":2}')).toBe(1);
  });

  it('rules in the code config (services layer) add to the declared ones', async () => {
    const calls = new Calls();
    const node = await started(
      { config: { services: { user: { cache: { events: [{ event: 'a.b', keys: ['search:*'] }] } } } } },
      svc('user', calls, [{ event: 'c.d', keys: ['get_user:{id}'] }]),
    );
    await fill(node);
    await node.publish('a.b', {});
    await node.publish('c.d', { id: 1 });
    await fill(node);
    expect(calls.total()).toBe(11);
  });

  it('an event that arrives during an in-flight miss keeps the stale result out of the cache', async () => {
    let release!: (v: string) => void;
    let calls = 0;
    const node = await started(
      {},
      {
        name: 'user',
        cache: { events: [{ event: 'user.updated', keys: ['get_user:{id}'] }] },
        actions: {
          get_user: {
            cache: { keys: ['id'] },
            handler: () => {
              calls++;
              return calls === 1 ? new Promise<string>((r) => (release = r)) : 'fresh';
            },
          },
        },
      },
    );
    const first = node.request('user/get_user', { id: 1 });
    while (calls === 0) await new Promise((r) => setTimeout(r, 1));
    await node.publish('user.updated', { id: 1 });
    release('stale');
    expect(await first).toBe('stale');
    expect(await node.request('user/get_user', { id: 1 })).toBe('fresh');
  });

  it('invalid rules are refused at start with CONFIG_INVALID', async () => {
    for (const events of [
      [{ event: 'x' }],
      [{ keys: ['a'] }],
      [{ event: 'x', keys: [] }],
      [{ event: 'x', keys: 'a' }],
    ]) {
      const node = new Node({ env: {}, config: { cache: { events } } as never });
      nodes.track(node);
      const err = await node.start().catch((e: unknown) => e);
      expect(MeshError.is(err, 'CONFIG_INVALID'), JSON.stringify(events)).toBe(true);
      expect((err as Error).message).toContain('cache.events.0');
    }
  });
});
