/**
 * What survives the Redis / DHT codec. One row per kind of
 * value; each row checks the exact shape that comes back (types, own keys,
 * holes), through both a string and the bytes a backend reads.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CodecError, decodeValue, encodeValue } from '../../src/codec/index.js';

type Row = [name: string, make: () => unknown, check: (back: any, original: any) => void];

const isNegZero = (x: unknown) => Object.is(x, -0);
const ownKeys = (o: object) => Reflect.ownKeys(o);

const untrusted = '{"a":{"__proto__":{"x":1}},"__proto__":{"p":true},"b":1}';

const rows: Row[] = [
  [
    'Date (valid and invalid)',
    () => ({ d: new Date('2026-01-02T03:04:05.678Z'), bad: new Date(Number.NaN) }),
    (back) => {
      expect(back.d).toBeInstanceOf(Date);
      expect(back.d.toISOString()).toBe('2026-01-02T03:04:05.678Z');
      expect(back.bad).toBeInstanceOf(Date);
      expect(Number.isNaN(back.bad.getTime())).toBe(true);
    },
  ],
  [
    'BigInt (positive, negative, huge)',
    () => [12345678901234567890n, -1n, 2n ** 1000n],
    (back) => expect(back).toStrictEqual([12345678901234567890n, -1n, 2n ** 1000n]),
  ],
  [
    'Map with non-string keys and nested values',
    () =>
      new Map<unknown, unknown>([
        [1, 'a'],
        [{ k: 1 }, new Set([1n])],
        ['u', undefined],
      ]),
    (back, original) => {
      expect(back).toBeInstanceOf(Map);
      expect(back).toStrictEqual(original);
    },
  ],
  [
    'Set',
    () => new Set([1, 'x', new Date(0)]),
    (back, original) => {
      expect(back).toBeInstanceOf(Set);
      expect(back).toStrictEqual(original);
    },
  ],
  [
    'Buffer stays a Buffer',
    () => Buffer.from([0, 1, 254, 255]),
    (back) => {
      expect(Buffer.isBuffer(back)).toBe(true);
      expect([...back]).toEqual([0, 1, 254, 255]);
    },
  ],
  [
    'typed arrays keep their class and contents',
    () => ({
      u8: new Uint8Array([1, 2, 3]),
      i16: new Int16Array([-2, 7]),
      u32: new Uint32Array([4294967295]),
      f32: new Float32Array([1.5, -0.25]),
      f64: new Float64Array([Math.PI, Number.NaN, -0]),
      big: new BigInt64Array([-(2n ** 63n)]),
      clamped: new Uint8ClampedArray([255]),
      view: new Float64Array(new Float64Array([1, 2, 3]).buffer, 8, 1),
    }),
    (back) => {
      expect(back.u8).toBeInstanceOf(Uint8Array);
      expect(Buffer.isBuffer(back.u8)).toBe(false);
      expect(back.i16).toBeInstanceOf(Int16Array);
      expect(back.u32).toBeInstanceOf(Uint32Array);
      expect(back.f32).toBeInstanceOf(Float32Array);
      expect(back.f64).toBeInstanceOf(Float64Array);
      expect(back.big).toBeInstanceOf(BigInt64Array);
      expect(back.clamped).toBeInstanceOf(Uint8ClampedArray);
      expect([...back.u8]).toEqual([1, 2, 3]);
      expect([...back.i16]).toEqual([-2, 7]);
      expect([...back.u32]).toEqual([4294967295]);
      expect([...back.f32]).toEqual([1.5, -0.25]);
      expect(back.f64[0]).toBe(Math.PI);
      expect(Number.isNaN(back.f64[1])).toBe(true);
      expect(isNegZero(back.f64[2])).toBe(true);
      expect([...back.big]).toEqual([-(2n ** 63n)]);
      expect([...back.view]).toEqual([2]);
    },
  ],
  [
    'NaN, ±Infinity, -0 in objects and arrays',
    () => ({ n: Number.NaN, list: [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 0] }),
    (back) => {
      expect(Number.isNaN(back.n)).toBe(true);
      expect(back.list[0]).toBe(Number.POSITIVE_INFINITY);
      expect(back.list[1]).toBe(Number.NEGATIVE_INFINITY);
      expect(isNegZero(back.list[2])).toBe(true);
      expect(isNegZero(back.list[3])).toBe(false);
    },
  ],
  [
    'undefined in objects (key kept) and arrays (slot kept, not a hole)',
    () => ({ u: undefined, list: [undefined, 1, undefined] }),
    (back) => {
      expect(ownKeys(back)).toEqual(['u', 'list']);
      expect(back.u).toBeUndefined();
      expect(back.list).toHaveLength(3);
      expect(0 in back.list).toBe(true);
      expect(2 in back.list).toBe(true);
      expect(back.list[0]).toBeUndefined();
    },
  ],
  [
    'sparse arrays: holes stay holes, values and length stay',
    () => ({
      // biome-ignore lint/suspicious/noSparseArray: the point of the row
      few: [1, , 3],
      // biome-ignore lint/suspicious/noSparseArray: the point of the row
      lead: [, 'x'],
      wide: Object.assign(new Array(100_000), { 5: 'five', 99999: 1n }),
    }),
    (back) => {
      expect(back.few).toHaveLength(3);
      expect(1 in back.few).toBe(false);
      expect([back.few[0], back.few[2]]).toEqual([1, 3]);
      expect(0 in back.lead).toBe(false);
      expect(back.lead[1]).toBe('x');
      expect(back.wide).toHaveLength(100_000);
      expect(Object.keys(back.wide)).toEqual(['5', '99999']);
      expect(back.wide[99_999]).toBe(1n);
    },
  ],
  [
    'boxed primitives come back boxed',
    () => [new String('ab'), new Number(3), new Boolean(false), Object(5n), new Number(-0)],
    (back) => {
      expect(back[0]).toBeInstanceOf(String);
      expect(back[0].valueOf()).toBe('ab');
      expect(Object.keys(back[0])).toEqual(['0', '1']); // a String's index keys, not a plain {0:'a',1:'b'}
      expect(Object.getPrototypeOf(back[0])).toBe(String.prototype);
      expect(back[1]).toBeInstanceOf(Number);
      expect(back[1].valueOf()).toBe(3);
      expect(back[2]).toBeInstanceOf(Boolean);
      expect(back[2].valueOf()).toBe(false);
      expect(typeof back[3]).toBe('object');
      expect(back[3].valueOf()).toBe(5n);
      expect(isNegZero(back[4].valueOf())).toBe(true);
    },
  ],
  [
    'own __proto__ keys from untrusted JSON, top level and nested',
    () => JSON.parse(untrusted),
    (back) => {
      expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
      expect(ownKeys(back)).toEqual(['a', '__proto__', 'b']);
      expect(Object.getOwnPropertyDescriptor(back, '__proto__')?.value).toEqual({ p: true });
      expect(ownKeys(back.a)).toEqual(['__proto__']);
      expect(Object.getPrototypeOf(back.a)).toBe(Object.prototype);
      expect(Object.getOwnPropertyDescriptor(back.a, '__proto__')?.value).toEqual({ x: 1 });
      expect(back.b).toBe(1);
      expect(({} as Record<string, unknown>).p).toBeUndefined();
      expect(({} as Record<string, unknown>).x).toBeUndefined();
    },
  ],
  [
    'own __proto__ keys whose values need tags, and inside Maps and arrays',
    () => {
      const v = JSON.parse('{"__proto__":{"when":0},"list":[{"__proto__":{"p":true}}]}');
      Object.getOwnPropertyDescriptor(v, '__proto__')!.value.when = new Date(0); // the own property's value
      return { v, m: new Map([['k', JSON.parse('{"__proto__":{"x":1}}')]]) };
    },
    (back) => {
      const inner = Object.getOwnPropertyDescriptor(back.v, '__proto__')?.value;
      expect(inner.when).toBeInstanceOf(Date);
      expect(ownKeys(back.v.list[0])).toEqual(['__proto__']);
      expect(ownKeys(back.m.get('k'))).toEqual(['__proto__']);
      expect(({} as Record<string, unknown>).p).toBeUndefined();
      expect(({} as Record<string, unknown>).x).toBeUndefined();
      expect(({} as Record<string, unknown>).when).toBeUndefined();
    },
  ],
  [
    'a 10 MB string',
    () => ({ big: `${'x'.repeat(10 * 2 ** 20 - 1)}é` }),
    (back) => {
      expect(back.big).toHaveLength(10 * 2 ** 20);
      expect(back.big.endsWith('xé')).toBe(true);
    },
  ],
  [
    'lone surrogates survive (also through UTF-8 bytes)',
    () => ['\uD800', 'a\uDFFFb', { '\uD83D': '\uDE00' }],
    (back) => {
      expect(back[0]).toBe('\uD800');
      expect(back[1]).toBe('a\uDFFFb');
      expect(back[2]).toEqual({ '\uD83D': '\uDE00' });
    },
  ],
  [
    'toJSON is called with its key, once, as JSON.stringify does',
    () => {
      const calls: string[] = [];
      const tj = (tag: string) => ({
        toJSON(key: string) {
          calls.push(key);
          return `${tag}:${key}`;
        },
      });
      class Money {
        constructor(readonly cents: number) {}
        toJSON() {
          return { cents: this.cents, toJSON: () => 'not called twice' };
        }
      }
      return { top: tj('t'), list: [tj('l')], money: new Money(5), calls };
    },
    (back) => {
      expect(back.top).toBe('t:top');
      expect(back.list).toEqual(['l:0']);
      expect(back.money).toEqual({ cents: 5 });
      expect(decodeValue(encodeValue({ toJSON: (k: string) => `root=${JSON.stringify(k)}` }))).toBe(
        'root=""',
      );
    },
  ],
  [
    'nested combinations',
    () => {
      // biome-ignore lint/suspicious/noSparseArray: a hole inside a Map value
      const m = new Map<unknown, unknown>([[1n, [new Set([new Date(1)]), , { $mc: 'date', v: 'x' }]]]);
      return {
        m,
        box: [new String('s')],
        f: [Number.NaN, undefined],
        p: JSON.parse('{"__proto__":{"deep":[1]}}'),
      };
    },
    (back, original) => {
      expect(back).toStrictEqual(original);
      const arr = back.m.get(1n);
      expect(1 in arr).toBe(false);
      expect(arr[0]).toBeInstanceOf(Set);
      expect([...arr[0]][0]).toBeInstanceOf(Date);
      expect(arr[2]).toEqual({ $mc: 'date', v: 'x' });
      expect(back.box[0]).toBeInstanceOf(String);
      expect(ownKeys(back.p)).toEqual(['__proto__']);
    },
  ],
];

describe('codec round trip', () => {
  afterEach(() => {
    // Nothing may ever reach Object.prototype.
    expect(Object.keys(Object.prototype)).toEqual([]);
    expect(({} as Record<string, unknown>).p).toBeUndefined();
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it.each(rows)('%s', (_name, make, check) => {
    const original = make();
    const text = encodeValue(original);
    check(decodeValue(text), make());
    check(decodeValue(Buffer.from(text, 'utf8')), make());
  });

  it('writes valid, ASCII-safe JSON for lone surrogates (readable in redis-cli)', () => {
    expect(encodeValue('\uD800')).toBe('"\\ud800"');
  });

  it('plain data is still plain JSON, byte for byte what JSON.stringify writes', () => {
    const v = JSON.parse(untrusted);
    expect(encodeValue(v)).toBe(JSON.stringify(v));
    expect(encodeValue({ id: 1, list: [1, 'a', null, { b: true }] })).toBe(
      JSON.stringify({ id: 1, list: [1, 'a', null, { b: true }] }),
    );
  });
});

describe('codec against untrusted bytes', () => {
  const refused = [
    '{"$mc":"bigint","v":"12abc"}',
    '{"$mc":"bigint","v":1}',
    `{"$mc":"bigint","v":"${'9'.repeat(200_000)}"}`,
    '{"$mc":"holes","v":[4294967295]}',
    '{"$mc":"holes","v":[3,5,1]}',
    '{"$mc":"holes","v":[3,1]}',
    '{"$mc":"ta","v":["Float64Array","AAA="]}',
    '{"$mc":"ta","v":["Function","AA=="]}',
    '{"$mc":"ta","v":["constructor","AA=="]}',
    '{"$mc":"box","v":{"a":1}}',
    `${'['.repeat(200_000)}${']'.repeat(200_000)}`,
    `${'{"$mc":"set","v":['.repeat(50_000)}${']}'.repeat(50_000)}`,
  ];
  it.each(refused.map((t) => [t.length > 60 ? `${t.slice(0, 60)}… (${t.length} chars)` : t, t]))(
    'refuses %s with a CodecError',
    (_label, text) => {
      expect(() => decodeValue(text)).toThrow(CodecError);
    },
  );

  it('refuses to write what it would refuse to read', () => {
    const wide: unknown[] = [];
    wide[2 ** 25] = 1;
    expect(() => encodeValue(wide)).toThrow(TypeError);
    expect(() => encodeValue(10n ** 200_000n)).toThrow(TypeError);
  });

  it('decodes a hostile __proto__ tree without touching prototypes', () => {
    const back = decodeValue(
      '{"__proto__":{"$mc":"map","v":[["p",1]]},"constructor":{"prototype":{"x":1}},"a":[{"__proto__":{"$mc":"obj","v":{"__proto__":{"x":2}}}}]}',
    ) as Record<string, any>;
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(back, '__proto__')?.value).toBeInstanceOf(Map);
    expect(Object.getPrototypeOf(back.a[0])).toBe(Object.prototype);
    expect(ownKeys(Object.getOwnPropertyDescriptor(back.a[0], '__proto__')?.value)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
    expect(({} as Record<string, unknown>).p).toBeUndefined();
  });
});
