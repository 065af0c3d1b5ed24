/** Heartbeat digests: the tick for the size of a network, the rotation of receivers, and the wire checks. */
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { FANOUT, hops, Rotation, tickFor } from '../../src/network/heartbeat-digest.js';
import { directRequestSchema, parseDirectRequest } from '../../src/network/wire/index.js';

describe('heartbeat digests', () => {
  it('the hops word of a member takes grow with the log of the network, and fit in the bound with the tick', () => {
    expect(hops(1)).toBe(1);
    expect(hops(FANOUT)).toBe(1);
    expect(hops(16)).toBeLessThan(hops(64));
    expect(hops(64)).toBeLessThan(hops(1000));
    for (const members of [1, 4, 19, 99, 999]) {
      const tick = tickFor(1000, members);
      // Hops plus a tick to notice and a tenth for the way stay within the bound.
      expect((hops(members) + 2) * tick + 100).toBeLessThanOrEqual(1000);
    }
    // Messages per member per second stay flat from 20 to 1000 members (the digest grows instead).
    const perSecond = (m: number) => (Math.min(FANOUT, m) * 1000) / tickFor(1000, m);
    expect(perSecond(999) / perSecond(19)).toBeLessThan(2);
  });

  it('a rotation reaches every member within a round and never picks one twice in a tick', () => {
    const members = Array.from({ length: 20 }, (_, i) => `p${i}`);
    const r = new Rotation();
    const seen = new Map<string, number>();
    for (let t = 0; t < 7; t++) {
      const picked = r.pick(members);
      expect(new Set(picked).size).toBe(FANOUT);
      for (const p of picked) seen.set(p, (seen.get(p) ?? 0) + 1);
    }
    expect(seen.size).toBe(20);
    expect(r.pick(['a', 'b'])).toEqual(['a', 'b']);
    // A member that left is not picked.
    expect(r.pick(members.slice(0, 5)).every((p) => members.slice(0, 5).includes(p))).toBe(true);
  });
});

describe('hb on the wire', () => {
  const base = { t: 'hb', e: 'a1b2c3', s: 4, w: 1000 };
  const entry = ['12D3KooWpeer', 'e1', 7, 120];

  it('checks heartbeats as the schema does', () => {
    const beats = [
      base,
      { ...base, bye: 1 },
      { ...base, d: [entry] },
      { ...base, d: [] },
      { ...base, bye: 2 },
      { ...base, s: -1 },
      { ...base, s: 1.5 },
      { ...base, w: 3_600_001 },
      { ...base, e: 'x'.repeat(65) },
      { ...base, d: [['p', 'e', 1]] },
      { ...base, d: [['p', 'e', 1, -5]] },
      { ...base, d: [['x'.repeat(129), 'e', 1, 5]] },
      { ...base, d: 'digest' },
      { ...base, d: Array.from({ length: 10_001 }, () => entry) },
      { ...base, at: 1_765_000_000_000 },
      { ...base, at: 1_765_000_000_000, d: [entry] },
      { ...base, at: -1 },
      { ...base, at: 1.5 },
      { ...base, at: '1765000000000' },
      { ...base, h: 3, d: [entry] },
      { ...base, h: 3, c: [7, 120, 0, 5] },
      { ...base, h: 3, c: [] },
      { ...base, h: 3, r: 1 },
      { ...base, c: [7, 120] },
      { ...base, h: 3, c: [7] },
      { ...base, h: 3, c: [7, -1] },
      { ...base, h: 3, c: [7, 3_600_001] },
      { ...base, h: 3, c: [1.5, 2] },
      { ...base, h: 3, c: '7,120' },
      { ...base, h: -1 },
      { ...base, h: 3, r: 2 },
      { ...base, h: 3, c: [7, 120], bye: 1 },
      { ...base, h: 4, b: 3, c: [7, 120], x: ['gone'], a: [['new', 'e9']] },
      { ...base, h: 4, b: 3, c: [7, 120] },
      { ...base, h: 4, b: 3 },
      { ...base, h: 4, c: [7, 120], x: ['gone'] },
      { ...base, h: 4, b: 3, c: [7, 120], x: 'gone' },
      { ...base, h: 4, b: 3, c: [7, 120], x: ['x'.repeat(129)] },
      { ...base, h: 4, b: 3, c: [7, 120], a: [['new']] },
      { ...base, h: 4, b: 3, c: [7, 120], a: [['new', 'e'.repeat(65)]] },
      { ...base, h: 4, b: -3, c: [7, 120] },
    ];
    for (const b of beats)
      expect(parseDirectRequest(b) !== undefined, JSON.stringify(b).slice(0, 80)).toBe(
        v.safeParse(directRequestSchema, b).success,
      );
    expect(parseDirectRequest({ ...base, d: [entry] })).toEqual({ ...base, d: [entry] });
    expect(parseDirectRequest({ ...base, at: 5, d: [entry] })).toEqual({ ...base, at: 5, d: [entry] });
    expect(parseDirectRequest({ ...base, h: 3, c: [7, 120], r: 1 })).toEqual({
      ...base,
      h: 3,
      c: [7, 120],
      r: 1,
    });
  });
});
