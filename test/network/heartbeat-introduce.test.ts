/**
 * Heartbeats with links of the test's own (no network): what a heartbeat
 * hands to the rest of the node. A member named in a digest that this node
 * never met is introduced (dialed by the membership); members it has, itself
 * and the sender are not; the sender's wall clock is measured.
 */
import { describe, expect, it } from 'vitest';
import { type HeartbeatLinks, Heartbeats } from '../../src/network/heartbeats.js';

function harness(members: string[]) {
  const introduced: string[] = [];
  const vias: string[] = [];
  const clocks: Array<[string, number]> = [];
  const links: HeartbeatLinks = {
    peers: () => members,
    post: () => {},
    numbering: () => ({ self: 'self', e: 'e0', s: 0 }),
    missed: () => false,
    numberOf: () => ({ e: 'e1', s: 0 }),
    observeClock: (peer, sent) => clocks.push([peer, sent]),
    introduce: (peers, via) => {
      introduced.push(...peers);
      vias.push(via);
    },
  };
  const hb = new Heartbeats(links, { touch: () => {}, missed: () => {} });
  hb.start();
  for (const m of members) hb.joined(m);
  return { hb, introduced, vias, clocks };
}

describe('what a heartbeat hands on', () => {
  it('introduces the strangers a digest names, and only them, at once and by who named them', () => {
    const { hb, introduced, vias, clocks } = harness(['a', 'b']);
    hb.receive(
      {
        t: 'hb',
        e: 'ea',
        s: 0,
        w: 1000,
        at: 1_765_000_000_000,
        d: [
          ['b', 'eb', 0, 10],
          ['self', 'e0', 0, 10],
          ['a', 'ea', 0, 0],
          ['stranger', 'ex', 3, 50],
          ['other', 'ey', 0, 70],
        ],
      },
      'a',
    );
    expect(introduced).toEqual(['stranger', 'other']);
    expect(vias).toEqual(['a']);
    expect(clocks).toEqual([['a', 1_765_000_000_000]]);
    hb.stop();
  });

  it('a member this node lost its connection to is met again when a digest names it', () => {
    const { hb, introduced } = harness(['a', 'b']);
    hb.left('b');
    hb.receive({ t: 'hb', e: 'ea', s: 0, w: 1000, d: [['b', 'eb', 0, 10]] }, 'a');
    expect(introduced).toEqual(['b']);
    hb.stop();
  });

  it('a heartbeat from a peer that is not a member yet introduces nobody', () => {
    const { hb, introduced } = harness(['a']);
    hb.receive({ t: 'hb', e: 'ez', s: 0, w: 1000, d: [['stranger', 'ex', 0, 5]] }, 'not-yet');
    expect(introduced).toEqual([]);
    hb.stop();
  });
});
