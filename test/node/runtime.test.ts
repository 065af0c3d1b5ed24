import { afterEach, describe, expect, it } from 'vitest';
import {
  action,
  type Interceptor,
  isValidNetworkId,
  MeshError,
  Node,
  type RequestContext,
  service,
  subscribe,
} from '../../src/index.js';
import { captureLogger } from '../helpers/log.js';

const nodes: Node[] = [];
function track(node: Node): Node {
  nodes.push(node);
  return node;
}
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
});

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return MeshError.is(err) ? err.code : `not a MeshError: ${String(err)}`;
  }
}

@service('calc')
class CalcService {
  @action({ timeout: 500 })
  add(_ctx: RequestContext, p: { a: number; b: number }) {
    return p.a + p.b;
  }

  @action()
  async fail() {
    throw new RangeError('boom');
  }

  @subscribe('calc.*')
  onCalc() {}
}

describe('registration', () => {
  it('gives a decorated class and a plain object the same registration', async () => {
    const a = track(new Node());
    a.addService(new CalcService());
    const b = track(new Node());
    b.addService({
      name: 'calc',
      actions: {
        add: { timeout: 500, handler: (_ctx, p: { a: number; b: number }) => p.a + p.b },
        fail: async () => {
          throw new RangeError('boom');
        },
      },
      events: { 'calc.*': () => undefined },
    });
    await a.start();
    await b.start();
    expect(a.actionPaths().sort()).toEqual(b.actionPaths().sort());
    expect(a.actionPaths().sort()).toEqual(['calc/add', 'calc/fail']);
    expect(await a.request('calc/add', { a: 2, b: 3 })).toBe(5);
    expect(await b.request('calc/add', { a: 2, b: 3 })).toBe(5);
    const ea: any = await a.request('calc/fail').catch((e: any) => e);
    const eb: any = await b.request('calc/fail').catch((e: any) => e);
    expect(ea).toBeInstanceOf(RangeError);
    expect(eb).toBeInstanceOf(RangeError);
    expect(ea.message).toBe(eb.message);
  });

  it('refuses a duplicate service with CONFLICT', () => {
    const node = new Node();
    node.addService({ name: 'x', actions: { a: () => 1 } });
    expect(() => node.addService({ name: 'x', actions: {} })).toThrow(
      expect.objectContaining({ code: 'CONFLICT' }),
    );
  });

  it('refuses bad service and action definitions with INVALID_PARAMS', () => {
    const node = new Node();
    expect(() => node.addService({ name: 'has space', actions: {} })).toThrow(
      expect.objectContaining({ code: 'INVALID_PARAMS' }),
    );
    expect(() => node.addService({ name: 'ok', actions: { a: 42 as never } })).toThrow(
      expect.objectContaining({ code: 'INVALID_PARAMS' }),
    );
    expect(() => node.addService(null as never)).toThrow(expect.objectContaining({ code: 'INVALID_PARAMS' }));
  });

  it('reserves cache/* action names for cache management', () => {
    const node = new Node();
    expect(() => node.addService({ name: 's', actions: { 'cache/clear': () => 1 } })).toThrow(
      expect.objectContaining({ code: 'CONFLICT' }),
    );
  });

  it('adds a service to a running node', async () => {
    const node = track(new Node());
    await node.start();
    let started = 0;
    node.addService({ name: 'late', actions: { hi: () => 'hi' }, started: () => void started++ });
    await new Promise((r) => setTimeout(r, 10));
    expect(await node.request('late/hi')).toBe('hi');
    expect(started).toBe(1);
  });
});

describe('requests', () => {
  it('answers NOT_FOUND for unknown services and actions, INVALID_PARAMS for bad paths and params', async () => {
    const node = track(new Node());
    node.addService({ name: 'svc', actions: { a: () => 1 } });
    await node.start();
    expect(await codeOf(node.request('nope/a'))).toBe('NOT_FOUND');
    expect(await codeOf(node.request('svc/nope'))).toBe('NOT_FOUND');
    expect(await codeOf(node.request('no-slash'))).toBe('INVALID_PARAMS');
    expect(await codeOf(node.request(42 as never))).toBe('INVALID_PARAMS');
    expect(await codeOf(node.request('svc/a', [1, 2] as never))).toBe('INVALID_PARAMS');
    expect(await codeOf(node.request('svc/a', 'x' as never))).toBe('INVALID_PARAMS');
    expect(await codeOf(node.request('svc/a', new Date() as never))).toBe('INVALID_PARAMS');
    expect(await codeOf(node.request('svc/a', null as never))).toBe('INVALID_PARAMS');
    expect(await node.request('svc/a', Object.create(null))).toBe(1);
  });

  it('passes an error thrown by a handler to the caller unchanged (same object)', async () => {
    const thrown = new TypeError('handler says no');
    const node = track(new Node());
    node.addService({
      name: 's',
      actions: {
        sync: () => {
          throw thrown;
        },
        async: async () => {
          throw thrown;
        },
      },
    });
    await node.start();
    expect(await node.request('s/sync').catch((e: any) => e)).toBe(thrown);
    expect(await node.request('s/async').catch((e: any) => e)).toBe(thrown);
  });

  it('times out with TIMEOUT: per request, per action, per node, and inherited by nested calls', async () => {
    const node = track(new Node({ requestTimeout: 5_000 }));
    node.addService({
      name: 's',
      actions: {
        slow: () => new Promise((r) => setTimeout(() => r('late'), 300)),
        fast: () => 'ok',
        limited: { timeout: 20, handler: () => new Promise((r) => setTimeout(() => r('late'), 300)) },
        outer: (ctx) => ctx.request('s/slow'),
      },
    });
    await node.start();
    const err: any = await node.request('s/slow', {}, { timeout: 20 }).catch((e: any) => e);
    expect(MeshError.is(err, 'TIMEOUT')).toBe(true);
    expect(err.details).toMatchObject({ path: 's/slow' });
    expect(await codeOf(node.request('s/limited'))).toBe('TIMEOUT');
    expect(await node.request('s/fast', {}, { timeout: 20 })).toBe('ok');
    expect(await codeOf(node.request('s/outer', {}, { timeout: 30 }))).toBe('TIMEOUT');
    const n2 = track(new Node({ requestTimeout: 20 }));
    n2.addService({ name: 's', actions: { slow: () => new Promise((r) => setTimeout(r, 300)) } });
    await n2.start();
    expect(await codeOf(n2.request('s/slow'))).toBe('TIMEOUT');
  });

  it('refuses requests before start (NOT_STARTED) and after stop (STOPPED)', async () => {
    const node = new Node();
    node.addService({ name: 's', actions: { a: () => 1 } });
    expect(await codeOf(node.request('s/a'))).toBe('NOT_STARTED');
    await node.start();
    expect(await node.request('s/a')).toBe(1);
    await node.stop();
    const err: any = await node.request('s/a').catch((e: any) => e);
    expect(err.code).toBe('STOPPED');
    expect(err.message).toMatch(/stopped/);
  });

  it('keeps a trace through nested calls: requestId shared, caller set, meta inherited', async () => {
    const node = track(new Node());
    const seen: Array<Record<string, unknown>> = [];
    node.addService({
      name: 'a',
      actions: {
        first: async (ctx) => {
          seen.push({ id: ctx.requestId, caller: ctx.caller, depth: ctx.depth, meta: ctx.meta });
          return ctx.request('b/second');
        },
      },
    });
    node.addService({
      name: 'b',
      actions: {
        second: (ctx) => {
          seen.push({
            id: ctx.requestId,
            caller: ctx.caller,
            depth: ctx.depth,
            meta: ctx.meta,
            callerService: ctx.callerService,
          });
          return 'done';
        },
      },
    });
    await node.start();
    expect(await node.request('a/first', {}, { meta: { user: 'u1' } })).toBe('done');
    expect(seen[0].caller).toBeUndefined();
    expect(seen[1]).toMatchObject({ caller: 'a/first', depth: 1, callerService: 'a', meta: { user: 'u1' } });
    expect(seen[1].id).toBe(seen[0].id);
    await node.request('a/first');
    expect(seen[2].id).not.toBe(seen[0].id);
  });
});

describe('lifecycle and injection', () => {
  it('calls started/stopped hooks in order and provides injected values', async () => {
    const calls: string[] = [];
    const node = new Node();
    node.addService({
      name: 'one',
      actions: {},
      started: () => void calls.push('one+'),
      stopped: () => void calls.push('one-'),
    });
    node.addService({
      name: 'two',
      actions: {},
      started: () => void calls.push('two+'),
      stopped: () => void calls.push('two-'),
    });
    await node.start();
    expect(node.running).toBe(true);
    await node.stop();
    expect(calls).toEqual(['one+', 'two+', 'two-', 'one-']);
    expect(node.running).toBe(false);
  });

  it('fails start with the error of a started hook and leaves the node stopped', async () => {
    const node = new Node();
    node.addService({
      name: 'bad',
      actions: { a: () => 1 },
      started: () => {
        throw new Error('cannot start');
      },
    });
    await expect(node.start()).rejects.toThrow('cannot start');
    expect(await codeOf(node.request('bad/a'))).toBe('STOPPED');
  });

  it('rejects bad node options with CONFIG_INVALID', () => {
    expect(() => new Node({ networkId: 'has/slash' })).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID' }),
    );
    expect(() => new Node({ requestTimeout: -1 })).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID' }),
    );
  });

  it('checks a network id by one rule, given as networkId or network.id', () => {
    for (const bad of ['-a', '.a', '', 'x'.repeat(65), 'a b']) {
      expect(() => new Node({ networkId: bad })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
      expect(() => new Node({ network: { id: bad } })).toThrow(
        expect.objectContaining({ code: 'CONFIG_INVALID' }),
      );
      expect(isValidNetworkId(bad)).toBe(false);
    }
    for (const good of ['a', 'a-b.c_d', '0', 'x'.repeat(64)]) {
      expect(new Node({ networkId: good }).networkId).toBe(good);
      expect(isValidNetworkId(good)).toBe(true);
    }
  });
});

describe('events', () => {
  it('delivers to exact, * and ** subscribers; never to non-matching ones', async () => {
    const node = track(new Node());
    const got: string[] = [];
    node.subscribe('user.updated', (ctx) => void got.push(`exact:${ctx.event?.topic}`));
    node.subscribe('user.*', (ctx) => void got.push(`star:${ctx.event?.topic}`));
    node.subscribe('user.**', (ctx) => void got.push(`globstar:${ctx.event?.topic}`));
    node.subscribe('order.*', (ctx) => void got.push(`order:${ctx.event?.topic}`));
    await node.start();
    await node.publish('user.updated', { id: 1 });
    await node.publish('user.profile.changed');
    expect(got.sort()).toEqual([
      'exact:user.updated',
      'globstar:user.profile.changed',
      'globstar:user.updated',
      'star:user.updated',
    ]);
  });

  it('isolates a throwing subscriber: publisher and others are unaffected, the failure is logged', async () => {
    const { logger, records } = captureLogger('error');
    const node = track(new Node({ logger }));
    let delivered = 0;
    node.subscribe('t.x', () => {
      throw new Error('sync failure');
    });
    node.subscribe('t.x', async () => {
      throw new Error('async failure');
    });
    node.subscribe('t.x', () => void delivered++);
    await node.start();
    await expect(node.publish('t.x', 1)).resolves.toBeUndefined();
    expect(delivered).toBe(1);
    const failures = records.filter((r) => r.msg === 'event handler failed');
    expect(failures).toHaveLength(2);
    expect(failures.map((f) => f.err.message).sort()).toEqual(['async failure', 'sync failure']);
  });

  it('unsubscribes, and validates topics', async () => {
    const node = track(new Node());
    let n = 0;
    const off = node.subscribe('a.b', () => void n++);
    await node.start();
    await node.publish('a.b');
    off();
    await node.publish('a.b');
    expect(n).toBe(1);
    await expect(node.publish('a.*')).rejects.toMatchObject({ code: 'INVALID_PARAMS' });
    await expect(node.publish('')).rejects.toMatchObject({ code: 'INVALID_PARAMS' });
    expect(() => node.subscribe('a..b', () => 1)).toThrow(
      expect.objectContaining({ code: 'INVALID_PARAMS' }),
    );
  });

  it('lets service subscribers publish and call actions through ctx', async () => {
    const node = track(new Node());
    const log: string[] = [];
    node.addService({
      name: 'audit',
      actions: { record: (_ctx, p: { what: string }) => void log.push(p.what) },
      events: {
        'order.created': (ctx, data: { id: number }) =>
          ctx.request('audit/record', { what: `order ${data.id}` }),
      },
    });
    await node.start();
    await node.publish('order.created', { id: 9 });
    expect(log).toEqual(['order 9']);
  });
});

describe('interceptors', () => {
  it('run in order around the handler, see declared options, and can short-circuit', async () => {
    const order: string[] = [];
    const node = track(new Node());
    const outer: Interceptor = {
      name: 'outer',
      wrap: (info, next) => async (ctx, params) => {
        order.push(`outer>${info.path}`);
        const r = await next(ctx, params);
        order.push('outer<');
        return r;
      },
    };
    node.use(outer);
    node.use(async (ctx, params, next, info) => {
      order.push(`fn:${String(info.options.meta?.tag)}`);
      if (params.deny) return 'short-circuited';
      return next(ctx, params);
    });
    let handlerCalls = 0;
    node.addService({ name: 's', actions: { a: { meta: { tag: 'T' }, handler: () => ++handlerCalls } } });
    await node.start();
    expect(await node.request('s/a')).toBe(1);
    expect(order).toEqual(['outer>s/a', 'fn:T', 'outer<']);
    expect(await node.request('s/a', { deny: true })).toBe('short-circuited');
    expect(handlerCalls).toBe(1);
  });

  it('may return next unchanged to stay out of the way, and can be added after start', async () => {
    const node = track(new Node());
    node.addService({ name: 's', actions: { a: () => 'a', b: () => 'b' } });
    await node.start();
    const wrapped: string[] = [];
    node.use({
      name: 'only-b',
      wrap: (info, next) => {
        if (info.name !== 'b') return next;
        wrapped.push(info.path);
        return (ctx, params) => `${next(ctx, params)}!`;
      },
    });
    expect(await node.request('s/a')).toBe('a');
    expect(await node.request('s/b')).toBe('b!');
    expect(wrapped).toEqual(['s/b']);
  });

  it('rejects something that is not an interceptor', () => {
    expect(() => new Node().use({} as never)).toThrow(expect.objectContaining({ code: 'INVALID_PARAMS' }));
  });
});

describe('logging', () => {
  it('uses the injected pino logger, with a per-request child on ctx.logger', async () => {
    const { logger, records } = captureLogger('info');
    const node = track(new Node({ logger }));
    node.addService({
      name: 's',
      actions: {
        a: (ctx) => {
          ctx.logger.info('inside');
          return ctx.requestId;
        },
      },
    });
    await node.start();
    const id = await node.request('s/a');
    expect(records.some((r) => r.msg === 'node started')).toBe(true);
    const inside = records.find((r) => r.msg === 'inside');
    expect(inside).toMatchObject({ requestId: id, path: 's/a' });
  });
});
