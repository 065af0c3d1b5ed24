import { afterEach, describe, expect, it } from 'vitest';
import { hasWildcard } from '../../../src/cache/keys/glob.js';
import { compileGlob, MeshError, Node, type RequestContext } from '../../../src/index.js';
import { TestStore } from '../../helpers/stores.js';

/** Reference matcher: textbook dynamic programming over (pattern, text), O(p x t). */
function reference(pattern: string, text: string): boolean {
  let prev = new Array<boolean>(text.length + 1).fill(false);
  prev[0] = true;
  for (const c of pattern) {
    const cur = new Array<boolean>(text.length + 1).fill(false);
    if (c === '*') cur[0] = prev[0];
    for (let j = 1; j <= text.length; j++) {
      if (c === '*') cur[j] = prev[j] || cur[j - 1];
      else cur[j] = prev[j - 1] && (c === '?' || c === text[j - 1]);
    }
    prev = cur;
  }
  return prev[text.length];
}

/** Small deterministic PRNG (mulberry32). */
function rng(seed: number) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('glob matching', () => {
  it('* matches any run (also none), ? exactly one character', () => {
    const g = compileGlob('get_user:*');
    expect(g.test('get_user:123')).toBe(true);
    expect(g.test('get_user:')).toBe(true);
    expect(g.test('get_user')).toBe(false);
    expect(g.test('get_user_profile:1')).toBe(false);
    const q = compileGlob('get_user:?');
    expect(q.test('get_user:1')).toBe(true);
    expect(q.test('get_user:12')).toBe(false);
    expect(q.test('get_user:')).toBe(false);
    expect(compileGlob('*:1').test('get_user:1')).toBe(true);
    expect(compileGlob('*:1').test('get_user:11')).toBe(false);
    expect(compileGlob('profile:user:?:*').test('profile:user:7:settings')).toBe(true);
    expect(compileGlob('profile:user:?:*').test('profile:user:17:settings')).toBe(false);
  });

  it('every other character is literal (no regex semantics)', () => {
    for (const lit of ['a.b', 'a+b', '(a)', '[ab]', 'a|b', '^a$', 'a{2}', 'a\\b', '"x"']) {
      const g = compileGlob(lit);
      expect(g.test(lit)).toBe(true);
      expect(g.test(lit.replace(/[^a]/, 'Z'))).toBe(false);
    }
    expect(compileGlob('a.c').test('abc')).toBe(false);
    expect(compileGlob('get:"a:b"').test('get:"a:b"')).toBe(true);
  });

  it('literalPrefix is the text before the first wildcard', () => {
    expect(compileGlob('get_user:*').literalPrefix).toBe('get_user:');
    expect(compileGlob('get?x*').literalPrefix).toBe('get');
    expect(compileGlob('*x').literalPrefix).toBe('');
    expect(compileGlob('exact').literalPrefix).toBe('exact');
    expect(hasWildcard('a*')).toBe(true);
    expect(hasWildcard('a?')).toBe(true);
    expect(hasWildcard('get_user:123')).toBe(false);
  });

  it('agrees with a reference matcher on 20,000 random patterns and texts', () => {
    const rand = rng(42);
    const pick = (alphabet: string, max: number) => {
      const n = Math.floor(rand() * (max + 1));
      let s = '';
      for (let i = 0; i < n; i++) s += alphabet[Math.floor(rand() * alphabet.length)];
      return s;
    };
    let mismatches = 0;
    const examples: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const pattern = pick('ab?**', 8) || '*';
      const text = pick('ab', 10);
      if (compileGlob(pattern).test(text) !== reference(pattern, text)) {
        mismatches++;
        if (examples.length < 5) examples.push(`${pattern} ~ ${text}`);
      }
    }
    expect(examples).toEqual([]);
    expect(mismatches).toBe(0);
  });

  it('refuses a non-string or empty pattern with INVALID_PARAMS', () => {
    for (const bad of ['', undefined, 42, null, {}]) {
      let err: unknown;
      try {
        compileGlob(bad);
      } catch (e) {
        err = e;
      }
      expect(MeshError.is(err, 'INVALID_PARAMS')).toBe(true);
    }
  });

  it('bounds the pattern length after collapsing runs of *, and the raw length generously', () => {
    expect(compileGlob(`${'*'.repeat(5_000)}x`).source).toBe('*x');
    expect(() => compileGlob('a'.repeat(2_000))).toThrow(/longer than 1024/);
    expect(() => compileGlob('*'.repeat(100_000))).toThrow(MeshError);
  });

  it('patterns that make backtracking matchers explode run in linear time', () => {
    const text = 'a'.repeat(20_000);
    const started = Date.now();
    expect(compileGlob('*a*a*a*a*a*a*a*a*b').test(text)).toBe(false);
    expect(compileGlob(`${'*'.repeat(10_000)}a`).test(text)).toBe(true);
    expect(compileGlob(`${'*'.repeat(10_000)}b`).test(text)).toBe(false);
    expect(compileGlob(`${'*?'.repeat(300)}b`).test(text)).toBe(false);
    // generous bound: a backtracking engine takes minutes here
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

describe('revoke with adversarial patterns, end to end', () => {
  const nodes: Node[] = [];
  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.stop();
  });

  for (const backend of ['memory', 'mystore']) {
    it(`10,000 '*' then 'a' against 5,000 keys completes (${backend})`, async () => {
      const node = new Node({
        env: {},
        backends: { mystore: new TestStore() },
        config: { cache: { backend } },
      });
      nodes.push(node);
      node.addService({
        name: 's',
        actions: {
          get: { cache: { keys: ['id'] }, handler: (_c: RequestContext, p: { id: string }) => p.id },
        },
      });
      await node.start();
      for (let i = 0; i < 5_000; i++)
        await node.request('s/get', { id: `${'x'.repeat(40)}${i % 2 === 0 ? 'a' : 'b'}${i}` });
      const started = Date.now();
      const result = await node.request('s/cache/revoke', { pattern: `${'*'.repeat(10_000)}a` });
      expect(result).toEqual({ revoked: 0 }); // every key ends in a digit
      expect(await node.request('s/cache/revoke', { pattern: `${'*'.repeat(10_000)}a*` })).toEqual({
        revoked: 2_500,
      });
      expect(Date.now() - started).toBeLessThan(2_000);
    });
  }
});
