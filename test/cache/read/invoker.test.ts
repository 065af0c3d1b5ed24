import { describe, expect, it } from 'vitest';
import { MemoryBackend, type Node, type NodeOptions, type RequestContext } from '../../../src/index.js';
import { useNodes } from '../../helpers/nodes.js';
import { gate, sleep, TestStore, waitFor } from '../../helpers/stores.js';

const { started } = useNodes();

/** The backends every behaviour is checked on: the built-in memory backend, and a serializing async store. */
const BACKENDS = [
  { name: 'memory', make: () => ({}) as Partial<NodeOptions> },
  {
    name: 'async store',
    make: () =>
      ({
        backends: { mystore: new TestStore({ async: true }) },
        config: { cache: { backend: 'mystore' } },
      }) as Partial<NodeOptions>,
  },
];

/** Fails with a clear message instead of hanging when a promise does not settle. */
function within<T>(p: Promise<T>, ms = 5_000, what = 'promise'): Promise<T> {
  return Promise.race([
    p,
    sleep(ms).then(() => Promise.reject(new Error(`${what} did not settle within ${ms} ms`))),
  ]);
}

describe.each(BACKENDS)('interceptor on $name', ({ make }) => {
  it('a hit returns the stored result without calling the handler; a miss calls it and stores', async () => {
    let calls = 0;
    const node = await started(make(), {
      name: 'user',
      actions: {
        get_user: {
          cache: { keys: ['id'] },
          handler: (_c: RequestContext, p: { id: number }) => ({ id: p.id, call: ++calls }),
        },
      },
    });
    expect(await node.request('user/get_user', { id: 1 })).toEqual({ id: 1, call: 1 });
    expect(await node.request('user/get_user', { id: 1 })).toEqual({ id: 1, call: 1 });
    expect(await node.request('user/get_user', { id: 2 })).toEqual({ id: 2, call: 2 });
    expect(calls).toBe(2);
    expect(node.cache.stats().services.user.actions.get_user).toMatchObject({
      hits: 1,
      misses: 2,
      stores: 2,
      errors: 0,
    });
  });

  it('an expired entry is a miss', async () => {
    let calls = 0;
    const node = await started(make(), {
      name: 's',
      actions: { a: { cache: { ttl: 0.03 }, handler: () => ++calls } },
    });
    expect(await node.request('s/a')).toBe(1);
    await waitFor(async () => (await node.request('s/a')) === 2);
    expect(calls).toBe(2);
  });

  it('1,000 concurrent misses of one key: exactly one handler call, everyone gets the result', async () => {
    const g = gate<{ user: string }>();
    let calls = 0;
    const node = await started(make(), {
      name: 'user',
      actions: {
        get_user: {
          cache: { keys: ['id'] },
          handler: () => {
            calls++;
            return g.promise;
          },
        },
      },
    });
    const pending = Array.from({ length: 1_000 }, () => node.request('user/get_user', { id: 7 }));
    await waitFor(() => {
      const s = node.cache.stats();
      return s.misses + s.coalesced === 1_000;
    });
    g.open({ user: 'seven' });
    const results = await within(Promise.all(pending));
    expect(calls).toBe(1);
    expect(results).toHaveLength(1_000);
    for (const r of results) expect(r).toEqual({ user: 'seven' });
    expect(node.cache.stats()).toMatchObject({ misses: 1, coalesced: 999, stores: 1 });
    expect(await node.request('user/get_user', { id: 7 })).toEqual({ user: 'seven' });
    expect(calls).toBe(1);
  });

  it('an error reaches every concurrent caller and is never cached', async () => {
    const g = gate<never>();
    let calls = 0;
    const node = await started(make(), {
      name: 's',
      actions: {
        a: {
          cache: { keys: ['id'] },
          handler: () => {
            calls++;
            return calls === 1 ? g.promise : 'ok';
          },
        },
      },
    });
    const pending = Array.from({ length: 50 }, () =>
      node.request('s/a', { id: 1 }).then(
        () => 'resolved',
        (e: Error) => e,
      ),
    );
    await waitFor(() => node.cache.stats().misses + node.cache.stats().coalesced === 50);
    const boom = new Error('db down');
    g.fail(boom);
    const outcomes = await within(Promise.all(pending));
    for (const o of outcomes) expect(o).toBe(boom);
    expect(calls).toBe(1);
    expect(node.cache.stats().stores).toBe(0);
    expect(await node.request('s/a', { id: 1 })).toBe('ok');
    expect(calls).toBe(2);
  });

  it('a handler that throws synchronously: the caller gets the error, nothing is stored', async () => {
    let calls = 0;
    const node = await started(make(), {
      name: 's',
      actions: {
        a: {
          cache: true,
          handler: () => {
            if (++calls === 1) throw new TypeError('sync boom');
            return 'ok';
          },
        },
      },
    });
    await expect(node.request('s/a')).rejects.toThrow('sync boom');
    expect(await node.request('s/a')).toBe('ok');
    expect(await node.request('s/a')).toBe('ok');
    expect(calls).toBe(2);
  });

  it("per-request { cache: 'bypass' } neither reads nor writes; { cache: 'refresh' } skips the read and stores", async () => {
    let version = 1;
    let calls = 0;
    const node = await started(make(), {
      name: 's',
      actions: { a: { cache: { keys: ['id'] }, handler: () => ({ version, call: ++calls }) } },
    });
    expect(await node.request('s/a', { id: 1 })).toEqual({ version: 1, call: 1 });
    version = 2;
    expect(await node.request('s/a', { id: 1 }, { cache: 'bypass' })).toEqual({ version: 2, call: 2 });
    expect(await node.request('s/a', { id: 1 })).toEqual({ version: 1, call: 1 });
    expect(await node.request('s/a', { id: 9 }, { cache: 'bypass' })).toEqual({ version: 2, call: 3 });
    expect(await node.request('s/a', { id: 9 })).toEqual({ version: 2, call: 4 }); // bypass stored nothing
    version = 3;
    expect(await node.request('s/a', { id: 1 }, { cache: 'refresh' })).toEqual({ version: 3, call: 5 });
    expect(await node.request('s/a', { id: 1 })).toEqual({ version: 3, call: 5 });
    expect(calls).toBe(5);
    expect(node.cache.stats().bypassed).toBe(2);
  });

  it('the cache mode of a request does not leak into the nested calls it makes', async () => {
    let inner = 0;
    const node = await started(make(), {
      name: 's',
      actions: {
        inner: { cache: true, handler: () => ++inner },
        outer: { handler: (ctx: RequestContext) => ctx.request('s/inner') },
      },
    });
    await node.request('s/inner');
    expect(await node.request('s/outer', {}, { cache: 'bypass' })).toBe(1);
    expect(inner).toBe(1);
  });

  it('staleTtl: a stale entry is served at once and refreshed by exactly one background call', async () => {
    let calls = 0;
    const refreshGate = gate<void>();
    const node = await started(make(), {
      name: 's',
      actions: {
        a: {
          cache: { ttl: 0.05, staleTtl: 30 },
          handler: async () => {
            const n = ++calls;
            if (n > 1) await refreshGate.promise;
            return { n };
          },
        },
      },
    });
    expect(await node.request('s/a')).toEqual({ n: 1 });
    await sleep(80); // past ttl, well within staleTtl
    // the handler is held: if a stale caller waited for it, these would not settle
    const stale = await within(
      Promise.all(Array.from({ length: 20 }, () => node.request('s/a'))),
      5_000,
      'stale read',
    );
    for (const v of stale) expect(v).toEqual({ n: 1 });
    expect(calls).toBe(2);
    expect(node.cache.stats().staleHits).toBe(20);
    refreshGate.open();
    // the refreshed value replaces the stale one (n >= 2: on a slow machine it may have gone stale again)
    await waitFor(async () => ((await node.request('s/a')) as { n: number }).n >= 2);
  });

  it('staleTtl: a fresh entry is served without any refresh', async () => {
    let calls = 0;
    const node = await started(make(), {
      name: 's',
      actions: { a: { cache: { ttl: 30, staleTtl: 30 }, handler: () => ++calls } },
    });
    for (let i = 0; i < 20; i++) expect(await node.request('s/a')).toBe(1);
    await sleep(20);
    expect(calls).toBe(1);
    expect(node.cache.stats()).toMatchObject({ hits: 19, staleHits: 0 });
  });

  it('staleTtl: a failing refresh keeps the stale value and a later call tries again', async () => {
    let calls = 0;
    const node = await started(make(), {
      name: 's',
      actions: {
        a: {
          cache: { ttl: 0.03, staleTtl: 30 },
          handler: () => {
            calls++;
            if (calls === 2) throw new Error('refresh failed');
            return calls;
          },
        },
      },
    });
    expect(await node.request('s/a')).toBe(1);
    await sleep(60);
    expect(await node.request('s/a')).toBe(1); // starts refresh #2, which fails
    await waitFor(() => calls === 2);
    await waitFor(async () => ((await node.request('s/a')) as number) >= 3);
  });

  it('an invalidation during an in-flight miss keeps its (stale) result out of the cache', async () => {
    for (const invalidate of [
      (n: Node) => n.request('s/cache/delete', { key: 'a:1' }),
      (n: Node) => n.request('s/cache/clear'),
      (n: Node) => n.request('s/cache/revoke', { pattern: 'zzz*' }),
    ]) {
      let g = gate<string>();
      let calls = 0;
      const node = await started(make(), {
        name: 's',
        actions: {
          a: {
            cache: { keys: ['id'] },
            handler: () => {
              calls++;
              return g.promise;
            },
          },
        },
      });
      const first = node.request('s/a', { id: 1 });
      await waitFor(() => calls === 1);
      await invalidate(node);
      g.open('old');
      expect(await first).toBe('old');
      g = gate<string>();
      const second = node.request('s/a', { id: 1 });
      await waitFor(() => calls === 2);
      g.open('new');
      expect(await second).toBe('new');
      expect(await node.request('s/a', { id: 1 })).toBe('new');
      expect(calls).toBe(2);
      await node.stop();
    }
  });

  it("a refresh that finishes during an older in-flight miss is not overwritten by the miss's older result", async () => {
    const gates: Array<(v: string) => void> = [];
    let calls = 0;
    const node = await started(make(), {
      name: 's',
      actions: {
        a: {
          cache: true,
          handler: () => {
            calls++;
            return new Promise<string>((resolve) => gates.push(resolve));
          },
        },
      },
    });
    const miss = node.request('s/a');
    await waitFor(() => calls === 1);
    const refresh = node.request('s/a', {}, { cache: 'refresh' });
    await waitFor(() => calls === 2);
    gates[1]('new');
    expect(await refresh).toBe('new');
    expect(await node.request('s/a')).toBe('new');
    gates[0]('old');
    expect(await miss).toBe('old');
    expect(await node.request('s/a')).toBe('new');
    expect(calls).toBe(2);
  });

  it('callers arriving after an invalidation do not join the stale in-flight call', async () => {
    const gates = [gate<string>(), gate<string>()];
    let calls = 0;
    const node = await started(make(), {
      name: 's',
      actions: { a: { cache: true, handler: () => gates[calls++].promise } },
    });
    const before = node.request('s/a');
    await waitFor(() => calls === 1);
    await node.request('s/cache/clear');
    const after = node.request('s/a');
    await waitFor(() => calls === 2);
    gates[1].open('fresh');
    gates[0].open('stale');
    expect(await before).toBe('stale');
    expect(await after).toBe('fresh');
    expect(await node.request('s/a')).toBe('fresh');
  });
});

describe('returned values', () => {
  class Point {
    constructor(
      public x: number,
      public y: number,
    ) {}
    norm() {
      return Math.hypot(this.x, this.y);
    }
  }

  const rich = () => ({
    when: new Date('2024-05-06T07:08:09.010Z'),
    tags: new Set(['a', 'b']),
    index: new Map<string, unknown>([
      ['k', { deep: [1, { deeper: true }] }],
      ['d', new Date(0)],
    ]),
    bytes: Buffer.from([1, 2, 3]),
    nested: { list: [1, 'two', null, { three: 3 }], empty: {} },
    big: 12345678901234567890n,
    nothing: null,
  });

  for (const { name, make } of BACKENDS) {
    it(`values come back equal to what the handler returned (${name})`, async () => {
      const values: Record<string, unknown> = {
        rich: rich(),
        zero: 0,
        empty: '',
        no: false,
        nil: null,
        undef: undefined,
        arr: [1, [2, [3]]],
        date: new Date(86_400_000),
      };
      let calls = 0;
      const node = await started(make(), {
        name: 's',
        actions: {
          get: {
            cache: { keys: ['which'] },
            handler: (_c: RequestContext, p: { which: string }) => {
              calls++;
              return p.which === 'rich' ? rich() : values[p.which];
            },
          },
        },
      });
      for (const which of Object.keys(values)) {
        expect(await node.request('s/get', { which })).toEqual(values[which]);
        const hit = await node.request('s/get', { which });
        expect(hit).toEqual(values[which]);
        if (values[which] instanceof Date) expect(hit).toBeInstanceOf(Date);
      }
      expect(calls).toBe(Object.keys(values).length);
      const hit = (await node.request('s/get', { which: 'rich' })) as ReturnType<typeof rich>;
      expect(hit.when).toBeInstanceOf(Date);
      expect(hit.index).toBeInstanceOf(Map);
      expect(hit.tags).toBeInstanceOf(Set);
      expect(hit.bytes).toBeInstanceOf(Uint8Array);
      expect(typeof hit.big).toBe('bigint');
    });
  }

  it('class instances keep their prototype on the memory backend', async () => {
    const node = await started(
      {},
      { name: 's', actions: { p: { cache: true, handler: () => new Point(3, 4) } } },
    );
    await node.request('s/p');
    const hit = (await node.request('s/p')) as Point;
    expect(hit).toBeInstanceOf(Point);
    expect(hit.norm()).toBe(5);
  });

  it('plain results are deep-frozen: mutation throws TypeError and the cache is unharmed', async () => {
    const original = { user: { name: 'Ada', roles: ['admin'] } };
    let calls = 0;
    const node = await started(
      {},
      {
        name: 's',
        actions: {
          a: {
            cache: true,
            handler: () => {
              calls++;
              return original;
            },
          },
        },
      },
    );
    const first = (await node.request('s/a')) as typeof original;
    expect(first).toEqual(original);
    expect(() => {
      first.user.name = 'Eve';
    }).toThrow(TypeError);
    const hit = (await node.request('s/a')) as typeof original;
    expect(() => hit.user.roles.push('root')).toThrow(TypeError);
    expect(() => {
      (hit as Record<string, unknown>).extra = 1;
    }).toThrow(TypeError);
    // the handler's own object stays the handler's: mutating it later does not reach the cache
    original.user.name = 'Mallory';
    expect(await node.request('s/a')).toEqual({ user: { name: 'Ada', roles: ['admin'] } });
    expect(Object.isFrozen(original)).toBe(false);
    expect(calls).toBe(1);
  });

  it('non-plain results (Map, Date, class instances) are copied per caller', async () => {
    const node = await started(
      {},
      {
        name: 's',
        actions: {
          m: {
            cache: true,
            handler: () => ({ index: new Map([['a', { n: 1 }]]), at: new Date(0), p: new Point(1, 1) }),
          },
        },
      },
    );
    type R = { index: Map<string, { n: number }>; at: Date; p: Point };
    const a = (await node.request('s/m')) as R;
    a.index.set('b', { n: 2 });
    a.index.get('a')!.n = 99;
    a.at.setTime(123);
    a.p.x = 42;
    const b = (await node.request('s/m')) as R;
    expect([...b.index.keys()]).toEqual(['a']);
    expect(b.index.get('a')).toEqual({ n: 1 });
    expect(b.at.getTime()).toBe(0);
    expect(b.p.x).toBe(1);
    const c = (await node.request('s/m')) as R;
    expect(c).not.toBe(b);
    expect(c.index).not.toBe(b.index);
  });

  it('concurrent callers of one miss cannot corrupt each other (non-plain value)', async () => {
    const g = gate<Map<string, number>>();
    const node = await started({}, { name: 's', actions: { m: { cache: true, handler: () => g.promise } } });
    const pending = Array.from({ length: 10 }, () => node.request('s/m'));
    await waitFor(() => node.cache.stats().coalesced === 9);
    g.open(new Map([['v', 1]]));
    const results = (await Promise.all(pending)) as Map<string, number>[];
    results[0].set('v', 666);
    expect(results[1].get('v')).toBe(1);
    expect(new Set(results).size).toBe(10);
    expect(((await node.request('s/m')) as Map<string, number>).get('v')).toBe(1);
  });

  it("results: 'copy' hands every caller a private mutable copy", async () => {
    const node = await started(
      { config: { cache: { results: 'copy' } } },
      { name: 's', actions: { a: { cache: true, handler: () => ({ list: [1] }) } } },
    );
    const a = (await node.request('s/a')) as { list: number[] };
    a.list.push(2);
    const b = (await node.request('s/a')) as { list: number[] };
    expect(b.list).toEqual([1]);
    b.list.push(3);
    expect(await node.request('s/a')).toEqual({ list: [1] });
  });

  it('a custom reference-holding memory backend instance gets the same protection', async () => {
    const node = await started(
      {
        backends: { mine: new MemoryBackend({ sweepIntervalMs: 0 }) },
        config: { cache: { backend: 'mine' } },
      },
      { name: 's', actions: { a: { cache: true, handler: () => ({ list: [1] }) } } },
    );
    await node.request('s/a');
    const hit = (await node.request('s/a')) as { list: number[] };
    expect(() => hit.list.push(2)).toThrow(TypeError);
    expect(await node.request('s/a')).toEqual({ list: [1] });
  });
});
