/**
 * Rosters changed by difference: whatever the sequence of members gone and
 * new, a receiver holding any version the sender still remembers ends with the
 * sender's roster, in the sender's order.
 */
import { describe, expect, it } from 'vitest';
import type { DigestEntry } from '../../src/network/heartbeat-digest.js';
import { RosterIn, RosterOut } from '../../src/network/rosters.js';

/** A small deterministic generator, so a failure repeats. */
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
    return x / 2 ** 31;
  };
}

describe('rosters changed by difference', () => {
  it('a receiver at any remembered version reaches the sender roster, in order', () => {
    const rnd = random(7);
    const out = new RosterOut();
    out.reads('r');
    const members = new Map<string, string>();
    /** What each receiver held, by the version it holds. */
    const receivers: Array<{ rin: RosterIn; version: number }> = [];
    for (let step = 0; step < 300; step++) {
      // Members come and go; some come back with a new epoch (a restart).
      const n = Math.floor(rnd() * 4);
      for (let i = 0; i < n; i++) {
        const id = `p${Math.floor(rnd() * 30)}`;
        if (members.has(id) && rnd() < 0.5) members.delete(id);
        else members.set(id, `e${step}`);
      }
      const entries: DigestEntry[] = [...members].map(([p, e]) => [p, e, step, 0]);
      const ordered = out.update(entries);
      expect(new Set(ordered.map((x) => x[0]))).toEqual(new Set(members.keys()));
      // A new receiver gets the roster in full now and then.
      if (step % 25 === 0) {
        const rin = new RosterIn();
        rin.learn('s', 'es', out.version, ordered);
        receivers.push({ rin, version: out.version });
      }
      // One receiver catches up at random from the version it holds.
      const r = receivers[Math.floor(rnd() * receivers.length)];
      if (r === undefined || rnd() < 0.5) continue;
      out.reset('r');
      out.sent('r');
      // What the sender would send a member that holds r.version.
      (out as unknown as { held: Map<string, number> }).held.set('r', r.version);
      const held = out.changeFor('r');
      if (held === undefined) {
        r.rin.learn('s', 'es', out.version, ordered);
      } else if (held.change !== undefined) {
        expect(r.rin.change('s', 'es', held.base, out.version, held.change)).toBe(true);
      }
      r.version = out.version;
      const c = ordered.flatMap((x) => [x[2], x[3]]);
      expect(r.rin.expand('s', 'es', out.version, c)).toEqual(ordered);
    }
    expect(out.version).toBeGreaterThan(100);
  });

  it('a change from a version the receiver does not hold is refused', () => {
    const out = new RosterOut();
    out.update([['a', 'e', 0, 0]]);
    const rin = new RosterIn();
    rin.learn('s', 'es', out.version, [['a', 'e', 0, 0]]);
    expect(rin.change('s', 'es', out.version + 1, out.version + 2, { removed: ['a'], added: [] })).toBe(
      false,
    );
    expect(rin.change('s', 'other-epoch', out.version, out.version + 1, { removed: ['a'], added: [] })).toBe(
      false,
    );
    expect(rin.expand('s', 'es', out.version, [1, 2])).toEqual([['a', 'e', 1, 2]]);
  });
});
