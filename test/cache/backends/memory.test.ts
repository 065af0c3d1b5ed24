import { afterEach, describe, expect, it } from 'vitest';
import type { EvictionReason } from '../../../src/cache/backends/memory.js';
import {
  compileGlob,
  estimateSize,
  MemoryBackend,
  type MemoryBackendOptions,
  MeshError,
} from '../../../src/index.js';
import { waitFor } from '../../helpers/stores.js';

const backends: MemoryBackend[] = [];
afterEach(() => {
  for (const b of backends.splice(0)) b.close();
});

/** A memory backend with a hand-moved clock and an eviction log. */
function make(options: MemoryBackendOptions = {}) {
  const clock = { now: 1_000_000 };
  const evicted: Array<[string, EvictionReason]> = [];
  const mem = new MemoryBackend({ now: () => clock.now, sweepIntervalMs: 0, ...options });
  mem.onEvict = (key, reason) => evicted.push([key, reason]);
  backends.push(mem);
  return { mem, clock, evicted };
}

describe('basics', () => {
  it('get / set / delete / has', () => {
    const { mem } = make();
    expect(mem.get('a')).toBeUndefined();
    mem.set('a', { v: 1 }, 0);
    expect(mem.get('a')).toEqual({ v: 1 });
    expect(mem.has('a')).toBe(true);
    mem.set('a', 'replaced', 0);
    expect(mem.get('a')).toBe('replaced');
    expect(mem.size).toBe(1);
    expect(mem.delete('a')).toBe(true);
    expect(mem.delete('a')).toBe(false);
    expect(mem.get('a')).toBeUndefined();
    expect(mem.size).toBe(0);
  });

  it('stores falsy values as values (only undefined is a miss)', () => {
    const { mem } = make();
    for (const [k, v] of [
      ['zero', 0],
      ['empty', ''],
      ['no', false],
      ['nil', null],
    ] as const) {
      mem.set(k, v, 0);
      expect(mem.get(k)).toBe(v);
    }
  });

  it('refuses bad bounds', () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return MeshError.is(err) ? `${err.code} ${err.details.field}` : String(err);
      }
      return 'no error';
    };
    expect(code(() => new MemoryBackend({ maxEntries: 0 }))).toBe('CONFIG_INVALID cache.memory.maxEntries');
    expect(code(() => new MemoryBackend({ maxEntries: 1.5 }))).toBe('CONFIG_INVALID cache.memory.maxEntries');
    expect(code(() => new MemoryBackend({ maxBytes: -1 }))).toBe('CONFIG_INVALID cache.memory.maxBytes');
  });
});

describe('LRU and bounds', () => {
  it('evicts the least recently used entry past maxEntries; get and set refresh recency', () => {
    const { mem, evicted } = make({ maxEntries: 3 });
    mem.set('a', 1, 0);
    mem.set('b', 2, 0);
    mem.set('c', 3, 0);
    mem.get('a'); // order (old -> new): b c a
    mem.set('d', 4, 0); // evicts b
    expect(evicted).toEqual([['b', 'capacity']]);
    expect([...mem.keys()].sort()).toEqual(['a', 'c', 'd']);
    mem.set('c', 33, 0); // order: a d c
    mem.set('e', 5, 0); // evicts a
    expect(evicted.at(-1)).toEqual(['a', 'capacity']);
    expect(mem.get('c')).toBe(33);
    expect(mem.size).toBe(3);
    expect(mem.evictions).toBe(2);
  });

  it('has() does not refresh recency', () => {
    const { mem } = make({ maxEntries: 2 });
    mem.set('a', 1, 0);
    mem.set('b', 2, 0);
    expect(mem.has('a')).toBe(true);
    mem.set('c', 3, 0);
    expect(mem.get('a')).toBeUndefined();
  });

  it('grows past its initial slot arrays and keeps every entry up to maxEntries', () => {
    const { mem } = make({ maxEntries: 5_000 });
    for (let i = 0; i < 6_000; i++) mem.set(`k${i}`, i, 0);
    expect(mem.size).toBe(5_000);
    expect(mem.get('k999')).toBeUndefined();
    expect(mem.get('k1000')).toBe(1000);
    expect(mem.get('k5999')).toBe(5999);
  });

  it('evicts by bytes, oldest first, and keeps the total under maxBytes', () => {
    const sizeOf = () => 100;
    // an entry costs 48 + 2 * key length + sizeOf(value) = 48 + 4 + 100 = 152 bytes for 2-character keys
    const { mem, evicted } = make({ maxBytes: 500, sizeOf });
    for (const k of ['k1', 'k2', 'k3']) mem.set(k, k, 0);
    expect(mem.totalBytes).toBe(456);
    mem.get('k1');
    mem.set('k4', 'k4', 0);
    expect(evicted).toEqual([['k2', 'bytes']]);
    expect(mem.totalBytes).toBe(456);
    expect(mem.totalBytes).toBeLessThanOrEqual(500);
    mem.delete('k1');
    expect(mem.totalBytes).toBe(304);
  });

  it('a value larger than maxBytes is not stored (and replaces nothing stale)', () => {
    const { mem } = make({ maxBytes: 1_000 });
    mem.set('big', 'old', 0);
    mem.set('big', 'x'.repeat(1_000), 0);
    expect(mem.get('big')).toBeUndefined();
    expect(mem.totalBytes).toBe(0);
  });

  it('updating an entry accounts its new size', () => {
    const { mem } = make({ maxBytes: 10_000 });
    mem.set('k', 'x'.repeat(100), 0);
    const small = mem.totalBytes;
    mem.set('k', 'x'.repeat(1_000), 0);
    expect(mem.totalBytes).toBe(small + 1_800);
    mem.set('k', 'x', 0);
    expect(mem.totalBytes).toBe(small - 198);
  });

  it('estimateSize grows with the value', () => {
    expect(estimateSize('x'.repeat(100))).toBeGreaterThan(estimateSize('x'));
    expect(estimateSize({ a: [1, 2, 3] })).toBeGreaterThan(estimateSize({}));
    expect(estimateSize(new Map([[1, 'x'.repeat(1000)]]))).toBeGreaterThan(2_000);
    expect(estimateSize(Buffer.alloc(4096))).toBeGreaterThan(4096);
    let deep: unknown = 'leaf';
    for (let i = 0; i < 1_000; i++) deep = [deep];
    expect(Number.isFinite(estimateSize(deep))).toBe(true);
  });
});

describe('TTL and sweep', () => {
  it('expires at ttl (fractions of a second), 0 means never', () => {
    const { mem, clock, evicted } = make();
    mem.set('short', 1, 0.25);
    mem.set('forever', 2, 0);
    clock.now += 249;
    expect(mem.get('short')).toBe(1);
    clock.now += 1;
    expect(mem.has('short')).toBe(false);
    expect(mem.get('short')).toBeUndefined();
    expect(evicted).toEqual([['short', 'expired']]);
    clock.now += 10 * 365 * 86_400_000;
    expect(mem.get('forever')).toBe(2);
  });

  it('refuses a negative or non-finite ttl with INVALID_PARAMS and stores nothing', () => {
    const { mem } = make();
    mem.set('kept', 'old', 0);
    const table = mem.table();
    for (const bad of [-1, -0.001, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      let err: unknown;
      try {
        mem.set('bad', 1, bad);
      } catch (e) {
        err = e;
      }
      expect(MeshError.is(err, 'INVALID_PARAMS'), String(bad)).toBe(true);
      expect((err as MeshError).details).toMatchObject({ key: 'bad' });
      expect(() => mem.setIn(table, 7, 'bad2', 1, bad)).toThrow(MeshError);
      expect(() => mem.set('kept', 'new', bad)).toThrow(/invalid TTL/);
    }
    expect(mem.has('bad')).toBe(false);
    expect(mem.has('bad2')).toBe(false);
    expect(mem.getIn(table, 7)).toBeUndefined();
    expect(mem.get('kept')).toBe('old');
    expect(mem.size).toBe(1);
  });

  it('sweep reclaims expired entries nobody reads, within its budget', () => {
    const { mem, clock, evicted } = make();
    for (let i = 0; i < 100; i++) mem.set(`e${i}`, i, i < 60 ? 1 : 0);
    clock.now += 1_000;
    expect(mem.size).toBe(100);
    const first = mem.sweep(50);
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThanOrEqual(50);
    let total = first;
    for (let i = 0; i < 5; i++) total += mem.sweep(50);
    expect(total).toBe(60);
    expect(mem.size).toBe(40);
    expect(evicted.filter(([, r]) => r === 'expired')).toHaveLength(60);
    expect(mem.sweep(1_000)).toBe(0);
  });

  it('the background sweep runs on its own (real clock)', async () => {
    const mem = new MemoryBackend({ sweepIntervalMs: 10 });
    backends.push(mem);
    for (let i = 0; i < 50; i++) mem.set(`k${i}`, i, 0.02);
    mem.set('keep', 1, 0);
    await waitFor(() => mem.size === 1);
    expect(mem.get('keep')).toBe(1);
  });

  it('clear/keys/delete count and list live entries only', () => {
    const { mem, clock } = make();
    mem.set('p/a', 1, 1);
    mem.set('p/b', 2, 0);
    mem.set('q/c', 3, 0);
    clock.now += 2_000;
    expect([...mem.keys('p/')]).toEqual(['p/b']);
    expect(mem.delete('p/a')).toBe(false); // expired: removed, but it was not there any more
    expect(mem.size).toBe(2);
    mem.set('p/d', 4, 1);
    clock.now += 2_000;
    expect(mem.clear('p/')).toBe(1);
    expect([...mem.keys()]).toEqual(['q/c']);
    expect(mem.clear()).toBe(1);
    expect(mem.size).toBe(0);
  });
});

describe('clear(prefix), keys(prefix), revokeMatching', () => {
  it('touch only keys under the prefix', () => {
    const { mem } = make();
    for (const k of ['cache:n/user/get:1', 'cache:n/user/get:2', 'cache:n/user2/get:1', 'cache:m/user/get:1'])
      mem.set(k, k, 0);
    expect([...mem.keys('cache:n/user/')].sort()).toEqual(['cache:n/user/get:1', 'cache:n/user/get:2']);
    expect(mem.revokeMatching('cache:n/user/', compileGlob('get:?'))).toBe(2);
    mem.set('cache:n/user/get:10', 1, 0);
    mem.set('cache:n/user/list', 1, 0);
    expect(mem.revokeMatching('cache:n/user/', compileGlob('get:*'))).toBe(1);
    expect(mem.clear('cache:n/user/')).toBe(1);
    expect([...mem.keys()].sort()).toEqual(['cache:m/user/get:1', 'cache:n/user2/get:1']);
  });

  it('revoke sees the whole remainder after the prefix, not a prefix of it', () => {
    const { mem } = make();
    mem.set('s/get_user:1', 1, 0);
    mem.set('s/get_user_profile:1', 1, 0);
    expect(mem.revokeMatching('s/', compileGlob('get_user:*'))).toBe(1);
    expect([...mem.keys()]).toEqual(['s/get_user_profile:1']);
  });
});

describe('FastTable secondary index stays consistent', () => {
  it('delete, clear, revoke, expiry and eviction remove the index entry', () => {
    const { mem, clock } = make({ maxEntries: 3 });
    const t = mem.table();
    mem.setIn(t, 1, 's/get:1', 'one', 0);
    mem.setIn(t, 2, 's/get:2', 'two', 0);
    mem.setIn(t, 3, 's/get:3', 'three', 1);
    expect(mem.getIn(t, 1)).toBe('one');
    expect(mem.get('s/get:2')).toBe('two');
    mem.delete('s/get:1');
    expect(mem.getIn(t, 1)).toBeUndefined();
    expect(t.map.has(1)).toBe(false);
    clock.now += 1_000;
    expect(mem.getIn(t, 3)).toBeUndefined();
    expect(t.map.has(3)).toBe(false);
    mem.revokeMatching('s/', compileGlob('get:2'));
    expect(mem.getIn(t, 2)).toBeUndefined();
    mem.setIn(t, 'a', 's/get:a', 'A', 0);
    mem.clear('s/');
    expect(mem.getIn(t, 'a')).toBeUndefined();
    expect(t.map.size).toBe(0);
  });

  it('a slot reused after eviction is not reachable through the old fast key', () => {
    const { mem } = make({ maxEntries: 2 });
    const t = mem.table();
    mem.setIn(t, 1, 's/get:1', 'one', 0);
    mem.setIn(t, 2, 's/get:2', 'two', 0);
    mem.set('other', 'OTHER', 0); // evicts s/get:1 and reuses its slot
    expect(mem.getIn(t, 1)).toBeUndefined();
    expect(mem.getIn(t, 2)).toBe('two');
    mem.set('other2', 'OTHER2', 0); // evicts 'other' (s/get:2 was touched)
    expect(mem.getIn(t, 2)).toBe('two');
    expect(mem.get('other2')).toBe('OTHER2');
  });

  it('tables of different actions are independent; plain set of the same key keeps the index', () => {
    const { mem } = make();
    const a = mem.table();
    const b = mem.table();
    mem.setIn(a, 1, 's/a:1', 'a1', 0);
    mem.setIn(b, 1, 's/b:1', 'b1', 0);
    expect(mem.getIn(a, 1)).toBe('a1');
    expect(mem.getIn(b, 1)).toBe('b1');
    mem.set('s/a:1', 'a1-v2', 0);
    expect(mem.getIn(a, 1)).toBe('a1-v2');
    mem.setIn(a, 1, 's/a:1', 'a1-v3', 0);
    expect(mem.getIn(a, 1)).toBe('a1-v3');
    expect(mem.size).toBe(2);
  });

  it('byte eviction and close() clear the index', () => {
    const { mem } = make({ maxBytes: 400, sizeOf: (v) => (typeof v === 'string' ? 1_000 : 100) });
    const t = mem.table();
    mem.setIn(t, 1, 'k1', 1, 0);
    mem.setIn(t, 2, 'k2', 2, 0);
    mem.setIn(t, 3, 'k3', 3, 0); // 3 x 152 > 400: k1 goes
    expect(mem.getIn(t, 1)).toBeUndefined();
    expect(mem.getIn(t, 3)).toBe(3);
    mem.setIn(t, 4, 'k4', 'x'.repeat(1_000), 0); // too big: not stored
    expect(mem.getIn(t, 4)).toBeUndefined();
    mem.close();
    expect(mem.getIn(t, 2)).toBeUndefined();
    expect(t.map.size).toBe(0);
  });
});

/**
 * Reference model: a Map in LRU order (oldest first), entries removed only when
 * the real backend would remove them (read when expired, delete, clear, sweep,
 * eviction). No byte bound.
 */
class Model {
  readonly m = new Map<string, { v: unknown; exp: number }>();
  constructor(
    private readonly max: number,
    private readonly now: () => number,
  ) {}
  private live(e: { exp: number }) {
    return e.exp === 0 || e.exp > this.now();
  }
  get(k: string) {
    const e = this.m.get(k);
    if (e === undefined) return undefined;
    this.m.delete(k);
    if (!this.live(e)) return undefined;
    this.m.set(k, e);
    return e.v;
  }
  set(k: string, v: unknown, ttl: number) {
    const e = { v, exp: ttl > 0 ? this.now() + ttl * 1000 : 0 };
    if (this.m.has(k)) this.m.delete(k);
    else if (this.m.size >= this.max) this.m.delete(this.m.keys().next().value!);
    this.m.set(k, e);
  }
  delete(k: string) {
    const e = this.m.get(k);
    if (e === undefined) return false;
    this.m.delete(k);
    return this.live(e);
  }
  clear(prefix: string) {
    let n = 0;
    for (const [k, e] of [...this.m]) {
      if (!k.startsWith(prefix)) continue;
      if (this.live(e)) n++;
      this.m.delete(k);
    }
    return n;
  }
  sweepAll() {
    for (const [k, e] of [...this.m]) if (!this.live(e)) this.m.delete(k);
  }
  liveKeys(prefix = '') {
    return [...this.m].filter(([k, e]) => k.startsWith(prefix) && this.live(e)).map(([k]) => k);
  }
}

describe('model-based check of random operation sequences', () => {
  it('agrees with a reference LRU+TTL model, and the fast index with the main index', () => {
    let seed = 7;
    const rand = () => {
      seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    for (let round = 0; round < 20; round++) {
      const max = 1 + Math.floor(rand() * 12);
      const { mem, clock } = make({ maxEntries: max, maxBytes: 0 });
      const model = new Model(max, () => clock.now);
      const table = mem.table();
      const keyOf = (fk: number) => `t/get:${fk}`;
      for (let step = 0; step < 2_000; step++) {
        const r = rand();
        const fk = Math.floor(rand() * 20);
        const plain = `p/${Math.floor(rand() * 20)}`;
        const ttl = rand() < 0.5 ? 0 : Math.ceil(rand() * 5) / 10;
        const where = `round ${round} step ${step}`;
        if (r < 0.2) {
          mem.setIn(table, fk, keyOf(fk), step, ttl);
          model.set(keyOf(fk), step, ttl);
        } else if (r < 0.35) {
          mem.set(plain, step, ttl);
          model.set(plain, step, ttl);
        } else if (r < 0.55) {
          expect(mem.getIn(table, fk), where).toBe(model.get(keyOf(fk)));
        } else if (r < 0.7) {
          expect(mem.get(plain), where).toBe(model.get(plain));
        } else if (r < 0.75) {
          const k = rand() < 0.5 ? keyOf(fk) : plain;
          expect(mem.delete(k), where).toBe(model.delete(k));
        } else if (r < 0.77) {
          const prefix = rand() < 0.5 ? 't/' : 'p/';
          expect(mem.clear(prefix), where).toBe(model.clear(prefix));
        } else if (r < 0.79) {
          mem.sweep(1_000_000);
          model.sweepAll();
        } else if (r < 0.8) {
          expect([...mem.keys('t/')].sort(), where).toEqual(model.liveKeys('t/').sort());
        } else {
          clock.now += Math.floor(rand() * 200);
        }
        expect(mem.size, where).toBe(model.m.size);
      }
      // every fast-index entry points at the live main-index entry of the same key
      for (const [fk, slot] of table.map) {
        expect(model.m.has(keyOf(fk as number)), `round ${round}: index holds ${fk}`).toBe(true);
        expect(typeof slot).toBe('number');
      }
      for (let fk = 0; fk < 20; fk++) expect(mem.getIn(table, fk)).toBe(model.get(keyOf(fk)));
    }
  });
});
