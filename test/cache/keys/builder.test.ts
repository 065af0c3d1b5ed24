import { describe, expect, it } from 'vitest';
import { compileKeyBuilder, keyFromAllParams } from '../../../src/cache/keys/builder.js';
import { canonical, encodeKeyValue, type RequestContext } from '../../../src/index.js';
import { useNodes } from '../../helpers/nodes.js';
import { TestStore } from '../../helpers/stores.js';

const { started } = useNodes();

const ctx = {} as RequestContext;

/** Values that a careless encoder confuses with each other. */
const TRICKY: unknown[] = [
  1,
  '1',
  0,
  -0,
  '0',
  '-0',
  1.5,
  '1.5',
  '1.50',
  1e21,
  '1e21',
  '1e+21',
  Number.NaN,
  'NaN',
  Number.POSITIVE_INFINITY,
  'Infinity',
  10n,
  '10n',
  true,
  'true',
  false,
  null,
  'null',
  undefined,
  'undefined',
  '',
  ' ',
  'a',
  'a:b',
  'a:b:c',
  'b:c',
  '"a"',
  'a"',
  'a,b',
  '[1]',
  [1],
  ['1'],
  [1, 2],
  [[1], 2],
  '{"a":1}',
  { a: 1 },
  { a: '1' },
  { b: 1 },
  { a: { b: 1 } },
  new Date(0),
  'Date(1970-01-01T00:00:00.000Z)',
  new Map([[1, 2]]),
  new Set([1]),
  'get_user',
  '#abc',
  'x/y',
  'ünï',
];

describe('key format', () => {
  it('one key param: <action>:<value>, readable for simple values', () => {
    const build = compileKeyBuilder('get_user', { keys: ['id'] }, 200);
    expect(build({ id: 123 }, ctx)).toBe('get_user:123');
    expect(build({ id: 'alice' }, ctx)).toBe('get_user:alice');
    expect(build({ id: 'alice@example.com' }, ctx)).toBe('get_user:alice@example.com');
    expect(build({ id: '123' }, ctx)).toBe('get_user:"123"');
    expect(build({ id: 'a:b' }, ctx)).toBe('get_user:"a:b"');
  });

  it('several key params are joined by ":" in the order of keys', () => {
    expect(compileKeyBuilder('list', { keys: ['page', 'size'] }, 200)({ size: 10, page: 2 }, ctx)).toBe(
      'list:2:10',
    );
    expect(compileKeyBuilder('list', { keys: ['size', 'page'] }, 200)({ size: 10, page: 2 }, ctx)).toBe(
      'list:10:2',
    );
  });

  it('no params: the action name; no keys option with one simple param: <action>:<value>', () => {
    expect(keyFromAllParams('ping', {})).toBe('ping');
    expect(keyFromAllParams('ping', { x: undefined })).toBe('ping');
    expect(keyFromAllParams('get_user', { id: 123 })).toBe('get_user:123');
    expect(compileKeyBuilder('all', { keys: [] }, 200)({ id: 1 }, ctx)).toBe('all');
  });

  it('objects are canonical: property order does not matter, at any depth', () => {
    const a = keyFromAllParams('q', { b: 2, a: { y: [1, { d: 4, c: 3 }], x: 1 } });
    const b = keyFromAllParams('q', { a: { x: 1, y: [1, { c: 3, d: 4 }] }, b: 2 });
    expect(a).toBe(b);
    expect(
      canonical(
        new Map([
          ['b', 1],
          ['a', 2],
        ]),
      ),
    ).toBe(
      canonical(
        new Map([
          ['a', 2],
          ['b', 1],
        ]),
      ),
    );
    expect(canonical(new Set([2, 1]))).toBe(canonical(new Set([1, 2])));
    // array order does matter
    expect(keyFromAllParams('q', { a: [1, 2], b: 1 })).not.toBe(keyFromAllParams('q', { a: [2, 1], b: 1 }));
  });

  it('functions and symbols cannot be part of a key; very deep nesting is refused', () => {
    expect(() => canonical({ f: () => 1 })).toThrow(TypeError);
    expect(() => canonical(Symbol('x'))).toThrow(TypeError);
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = { d: deep };
    expect(() => canonical(deep)).toThrow(TypeError);
  });
});

describe('collision freedom', () => {
  const distinctByCanonical = (values: unknown[]) => {
    const seen = new Map<string, unknown>();
    return values.filter((v) => {
      const c = canonical(v);
      if (seen.has(c)) return false;
      seen.set(c, v);
      return true;
    });
  };
  const values = distinctByCanonical(TRICKY);

  it('the tricky values are pairwise distinct to begin with', () => {
    expect(values.length).toBe(TRICKY.length);
  });

  it('single key param: distinct values give distinct keys', () => {
    const build = compileKeyBuilder('a', { keys: ['v'] }, 100_000);
    const keys = values.map((v) => build({ v }, ctx));
    expect(new Set(keys).size).toBe(values.length);
    expect(new Set(values.map((v) => encodeKeyValue(v))).size).toBe(values.length);
  });

  it('two key params: every pair of values gives its own key (":" inside values cannot shift the split)', () => {
    const build = compileKeyBuilder('a', { keys: ['x', 'y'] }, 100_000);
    const keys = new Set<string>();
    for (const x of values) for (const y of values) keys.add(build({ x, y }, ctx));
    expect(keys.size).toBe(values.length * values.length);
    expect(build({ x: 'a:b', y: 'c' }, ctx)).not.toBe(build({ x: 'a', y: 'b:c' }, ctx));
  });

  it('no keys option: different params never share a key', () => {
    const params: Record<string, unknown>[] = [];
    // Known limit (DESIGN.md's readable `get_user:123` for `{ id: 123 }` without a keys option): a single
    // simple param is keyed by its value alone, so {id: 1} and {page: 1} of one action would share a key.
    // Callers of one action pass the same param names, so values that drop a name (undefined) are left out.
    for (const v of values.filter((x) => x !== undefined)) {
      params.push({ id: v }, { id: v, page: 1 }, { id: v, page: '1' }, { page: 1, id: v });
    }
    const keys = new Set(params.map((p) => keyFromAllParams('a', p)));
    // params equal up to property order or undefined properties ({id: undefined} is {}) are the same params
    expect(keys.size).toBe(new Set(params.map((p) => canonical(p))).size);
  });

  it('{id: 1} and {id: "1"} are different entries end to end (memory backend fast path)', async () => {
    const calls: unknown[] = [];
    const record = (_c: RequestContext, p: { id: unknown }) => {
      calls.push(p.id);
      return { id: p.id };
    };
    const node = await started(
      {},
      {
        name: 'user',
        actions: {
          get_user: {
            cache: { keys: ['id'] },
            handler: record,
          },
          get_any: {
            cache: true,
            handler: record,
          },
        },
      },
    );
    for (const path of ['user/get_user', 'user/get_any']) {
      expect(await node.request(path, { id: 1 })).toEqual({ id: 1 });
      expect(await node.request(path, { id: '1' })).toEqual({ id: '1' });
      expect(await node.request(path, { id: 1 })).toEqual({ id: 1 });
      expect(await node.request(path, { id: '1' })).toEqual({ id: '1' });
    }
    expect(calls).toEqual([1, '1', 1, '1']);
    // Different entries, but a hand-written key cannot know which one it means: it removes both.
    expect(await node.request('user/cache/delete', { key: 'get_user:"1"' })).toEqual({ deleted: true });
    expect(await node.request('user/cache/delete', { key: 'get_user:1' })).toEqual({ deleted: false });
    expect(await node.request('user/get_user', { id: 1 })).toEqual({ id: 1 });
    expect(await node.request('user/get_user', { id: '1' })).toEqual({ id: '1' });
    expect(calls).toEqual([1, '1', 1, '1', 1, '1']);
    // Delete by action and params builds the key by the action's rule, and removes the twin too.
    expect(await node.request('user/cache/delete', { action: 'get_user', params: { id: 1 } })).toEqual({
      deleted: true,
    });
    expect(await node.request('user/get_user', { id: '1' })).toEqual({ id: '1' });
    expect(await node.request('user/get_user', { id: 1 })).toEqual({ id: 1 });
    expect(calls).toEqual([1, '1', 1, '1', 1, '1', '1', 1]);
    expect(await node.request('user/get_user', { id: 1 })).toEqual({ id: 1 });
    expect(calls).toHaveLength(8);
  });
});

describe('long keys', () => {
  it('keys longer than maxKeyLength are hashed, keep the action name, and stay distinct', () => {
    const build = compileKeyBuilder('search', { keys: ['q'] }, 64);
    const a = build({ q: 'x'.repeat(500) }, ctx);
    const b = build({ q: `${'x'.repeat(499)}y` }, ctx);
    expect(a).toMatch(/^search:#[A-Za-z0-9_-]{43}$/);
    expect(a.length).toBeLessThanOrEqual(64);
    expect(a).not.toBe(b);
    expect(build({ q: 'short' }, ctx)).toBe('search:short');
  });

  it('end to end: a long key is stored hashed and can be deleted by its long form', async () => {
    const store = new TestStore();
    let calls = 0;
    const node = await started(
      { backends: { mystore: store }, config: { cache: { backend: 'mystore', maxKeyLength: 64 } } },
      { name: 's', actions: { search: { cache: { keys: ['q'] }, handler: () => ++calls } } },
    );
    const q = 'long-query-'.repeat(20);
    await node.request('s/search', { q });
    await node.request('s/search', { q });
    expect(calls).toBe(1);
    const [stored] = store.storedKeys();
    expect(stored.startsWith('cache:default/s/search:#')).toBe(true);
    expect(stored.length).toBeLessThanOrEqual('cache:default/s/'.length + 64);
    expect(await node.request('s/cache/delete', { key: `search:${q}` })).toEqual({ deleted: true });
    await node.request('s/search', { q });
    expect(calls).toBe(2);
  });

  it('a long key built by a key function can be deleted by its long form too', async () => {
    let calls = 0;
    const node = await started(
      { config: { cache: { maxKeyLength: 64 } } },
      {
        name: 's',
        actions: {
          get: { cache: { key: (p: { q: string }) => `custom:${p.q}` }, handler: () => ++calls },
          other: { cache: { keys: ['q'] }, handler: () => 'other' },
        },
      },
    );
    const q = 'x'.repeat(200);
    await node.request('s/get', { q });
    await node.request('s/other', { q });
    expect(await node.request('s/cache/delete', { key: `custom:${q}` })).toEqual({ deleted: true });
    expect(await node.request('s/cache/delete', { key: `custom:${q}` })).toEqual({ deleted: false });
    await node.request('s/get', { q });
    expect(calls).toBe(2);
    expect(node.cache.stats().services.s.actions.other.misses).toBe(1);
    await node.request('s/other', { q });
    expect(node.cache.stats().services.s.actions.other.hits).toBe(1);
  });

  it('memory backend: long string key params (fast path skipped) still hit and delete', async () => {
    let calls = 0;
    const node = await started(
      { config: { cache: { maxKeyLength: 64 } } },
      { name: 's', actions: { search: { cache: { keys: ['q'] }, handler: () => ++calls } } },
    );
    const q = 'q'.repeat(300);
    await node.request('s/search', { q });
    expect(await node.request('s/search', { q })).toBe(1);
    expect(await node.request('s/cache/delete', { key: `search:${q}` })).toEqual({ deleted: true });
    expect(await node.request('s/search', { q })).toBe(2);
  });
});

describe('scoping', () => {
  it('keys given to backends are <prefix><networkId>/<service>/<action key>', async () => {
    const store = new TestStore();
    const node = await started(
      { backends: { mystore: store }, config: { cache: { backend: 'mystore' } } },
      { name: 'user', actions: { get_user: { cache: { keys: ['id'] }, handler: () => 1 } } },
    );
    await node.request('user/get_user', { id: 123 });
    expect(store.storedKeys()).toEqual(['cache:default/user/get_user:123']);
  });

  it('two networks sharing one backend instance never see each other', async () => {
    const shared = new TestStore();
    const calls = { a: 0, b: 0 };
    const mk = (net: 'a' | 'b') =>
      started(
        { networkId: `net-${net}`, backends: { shared }, config: { cache: { backend: 'shared' } } },
        {
          name: 'user',
          actions: { get_user: { cache: { keys: ['id'] }, handler: () => `${net}${++calls[net]}` } },
        },
      );
    const a = await mk('a');
    const b = await mk('b');
    expect(await a.request('user/get_user', { id: 1 })).toBe('a1');
    expect(await b.request('user/get_user', { id: 1 })).toBe('b1');
    expect(await a.request('user/get_user', { id: 1 })).toBe('a1');
    expect(await b.request('user/get_user', { id: 1 })).toBe('b1');
    expect(shared.storedKeys()).toEqual(['cache:net-a/user/get_user:1', 'cache:net-b/user/get_user:1']);
    expect(await b.request('user/cache/clear')).toEqual({ cleared: 1 });
    expect(await b.request('user/cache/revoke', { pattern: '*' })).toEqual({ revoked: 0 });
    expect(shared.storedKeys()).toEqual(['cache:net-a/user/get_user:1']);
    expect(await a.request('user/get_user', { id: 1 })).toBe('a1');
  });

  it('clear, delete and revoke of one service never touch another service', async () => {
    const store = new TestStore();
    const svc = (name: string) => ({
      name,
      actions: {
        get: {
          cache: { keys: ['id'] },
          handler: (_c: RequestContext, p: { id: number }) => `${name}${p.id}`,
        },
      },
    });
    for (const backend of ['memory', 'mystore']) {
      const node = await started(
        { backends: { mystore: store }, config: { cache: { backend } } },
        svc('user'),
        svc('user2'),
        svc('order'),
      );
      for (const s of ['user', 'user2', 'order'])
        for (const id of [1, 2]) await node.request(`${s}/get`, { id });
      expect(await node.request('user/cache/delete', { key: 'get:1' })).toEqual({ deleted: true });
      expect(await node.request('user/cache/revoke', { pattern: 'get:*' })).toEqual({ revoked: 1 });
      expect(await node.request('user/cache/clear')).toEqual({ cleared: 0 });
      const stats = node.cache.stats();
      for (const s of ['user2', 'order']) for (const id of [1, 2]) await node.request(`${s}/get`, { id });
      const after = node.cache.stats();
      expect(after.services.user2.hits - stats.services.user2.hits).toBe(2);
      expect(after.services.order.hits - stats.services.order.hits).toBe(2);
      await node.stop();
    }
  });
});
