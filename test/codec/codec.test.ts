import { describe, expect, it } from 'vitest';
import { CacheEnvelope } from '../../src/cache/read/snapshot.js';
import { CodecError, decodeValue, encodeValue } from '../../src/codec/index.js';

describe('value codec', () => {
  it('round-trips what JSON cannot: Dates, BigInt, bytes, Maps, Sets, undefined, NaN, ±Infinity, -0', () => {
    const value = {
      when: new Date('2026-01-02T03:04:05.678Z'),
      big: 12345678901234567890n,
      bytes: Buffer.from([0, 1, 254, 255]),
      map: new Map<unknown, unknown>([
        ['a', 1],
        [2, { nested: new Set([1, 'x']) }],
      ]),
      list: [undefined, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, null],
      invalidDate: new Date(Number.NaN),
    };
    const back = decodeValue(encodeValue(value)) as typeof value;
    expect(back).toEqual(value);
    expect(back.when).toBeInstanceOf(Date);
    expect(typeof back.big).toBe('bigint');
    expect(Buffer.isBuffer(back.bytes)).toBe(true);
    expect(back.map).toBeInstanceOf(Map);
    expect(Object.is(back.list[4], -0)).toBe(true);
    expect(Number.isNaN(back.invalidDate.getTime())).toBe(true);
  });

  it('keeps plain objects that look like tags apart from tags', () => {
    const value = { $mc: 'date', v: 'not a date', deep: [{ $mc: 'bigint', v: '1' }] };
    expect(decodeValue(encodeValue(value))).toEqual(value);
  });

  it('stays readable JSON for plain data', () => {
    expect(encodeValue({ id: 1, name: 'Ada', tags: ['a'] })).toBe('{"id":1,"name":"Ada","tags":["a"]}');
  });

  it('round-trips the caching envelope (decoded copies need no copy on read)', () => {
    const back = decodeValue(encodeValue(new CacheEnvelope({ a: [1] }, 1234, true)));
    expect(back).toBeInstanceOf(CacheEnvelope);
    expect(back).toMatchObject({ value: { a: [1] }, freshUntil: 1234, copyOnRead: false });
  });

  it('refuses functions, symbols and cycles with a TypeError', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => encodeValue(() => 1)).toThrow(TypeError);
    expect(() => encodeValue(Symbol('s'))).toThrow(TypeError);
    expect(() => encodeValue(cyclic)).toThrow(TypeError);
  });

  it('raises CodecError for malformed input, never anything else', () => {
    for (const text of [
      '{',
      'not json',
      '{"$mc":"map","v":3}',
      '{"$mc":"unknown","v":1}',
      '{"$mc":"env","v":{"v":1}}',
    ]) {
      expect(() => decodeValue(text)).toThrow(CodecError);
    }
  });

  it('does not let a __proto__ property change prototypes', () => {
    const back = decodeValue(
      '{"__proto__":{"polluted":true},"a":{"__proto__":{"x":{"$mc":"bigint","v":"1"}}}}',
    ) as Record<string, any>;
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(back)).toEqual(['__proto__', 'a']);
    expect(Object.getOwnPropertyDescriptor(back.a, '__proto__')?.value).toEqual({ x: 1n });
  });
});
