/**
 * Heartbeat digests by position: a few nodes' heartbeats wired together by the
 * test (no network), every frame through the wire's own encoding and checks.
 * Once a member holds a sender's roster, the sender's digests carry numbers
 * and ages only; the names go again when the roster changes, when a receiver
 * asks, and always to a member of an earlier release.
 */
import { describe, expect, it } from 'vitest';
import { type HeartbeatLinks, Heartbeats } from '../../src/network/heartbeats.js';
import {
  decoder,
  type HeartbeatRequest,
  type PostedFrame,
  parseDirectRequest,
} from '../../src/network/wire/index.js';

interface Sent {
  from: string;
  to: string;
  req: HeartbeatRequest;
  bytes: number;
}

/**
 * Nodes that all see each other connected, and `quiet` members every node is connected to that
 * run no heartbeats here (what they are sent is dropped); `seq` is each one's latest notice number.
 */
function network(names: string[], quiet: string[] = []) {
  const all = [...names, ...quiet];
  const seq = new Map(all.map((n) => [n, 0]));
  const connected = new Map(names.map((n) => [n, new Set(all.filter((m) => m !== n))]));
  const queue: Sent[] = [];
  const log: Sent[] = [];
  const missed: Array<[string, string, number]> = [];
  /** Frames from `from` to `to` that vanish (a stream that broke), until false. */
  const drop = new Set<string>();
  const nodes = new Map<string, Heartbeats>();
  const add = (name: string) => {
    const links: HeartbeatLinks = {
      peers: () => [...(connected.get(name) ?? [])],
      post: (to: string, frame: PostedFrame) => {
        const json = JSON.parse(decoder.decode(frame.bytes.subarray(4))) as unknown;
        const req = parseDirectRequest(json) as HeartbeatRequest;
        expect(req, 'a heartbeat the wire accepts').toBeDefined();
        const sent = { from: name, to, req, bytes: frame.bytes.length };
        log.push(sent);
        if (!drop.has(`${name}>${to}`)) queue.push(sent);
      },
      numbering: () => ({ self: name, e: `e-${name}`, s: seq.get(name) ?? 0 }),
      missed: (from, _e, s) => {
        if (name === 'b') missed.push([from, _e, s]);
        return false;
      },
      numberOf: (peer) => ({ e: `e-${peer}`, s: seq.get(peer) ?? 0 }),
      observeClock: () => {},
      introduce: () => {},
    };
    const hb = new Heartbeats(links, { touch: () => {}, missed: () => {} });
    nodes.set(name, hb);
    hb.start();
    hb.require(1_000);
    return hb;
  };
  for (const n of names) add(n);
  const deliver = () => {
    while (queue.length > 0) {
      const m = queue.shift() as Sent;
      nodes.get(m.to)?.receive(m.req, m.from);
    }
  };
  /** Every node meets every other, and the frames that go with it arrive. */
  const meetAll = () => {
    for (const [n, hb] of nodes) for (const m of connected.get(n) ?? []) hb.joined(m);
    deliver();
  };
  /** `name` posts a heartbeat to every member (a tick: with two or three members each gets one). */
  const tick = (name: string) => {
    (nodes.get(name) as unknown as { tick(): void }).tick();
    deliver();
  };
  const lastTo = (from: string, to: string) =>
    log.filter((s) => s.from === from && s.to === to).at(-1) as Sent;
  const stop = () => {
    for (const hb of nodes.values()) hb.stop();
  };
  return { nodes, seq, connected, missed, drop, log, add, deliver, meetAll, tick, lastTo, stop };
}

describe('heartbeat digests by position', () => {
  it('after the roster in full, a member gets numbers and ages only, and reads them as the full digest', () => {
    const net = network(['a', 'b', 'c']);
    net.meetAll();
    net.tick('a');
    const full = net.log.find((s) => s.from === 'a' && s.to === 'b' && s.req.d !== undefined) as Sent;
    expect(full.req.h).toBeTypeOf('number');
    net.tick('a');
    const byPosition = net.lastTo('a', 'b');
    expect(byPosition.req.d).toBeUndefined();
    expect(byPosition.req.h).toBeGreaterThanOrEqual(full.req.h as number);
    // Nothing changed since the last: no change goes with the positions.
    expect(byPosition.req.b).toBeUndefined();
    expect(byPosition.req.c).toHaveLength(4);
    // A notice of c's that b has not seen shows in a's digest by position: b reads c's new number.
    net.seq.set('c', 7);
    net.missed.length = 0;
    net.tick('a');
    expect(net.lastTo('a', 'b').req.c).toBeDefined();
    expect(net.missed).toContainEqual(['c', 'e-c', 7]);
    expect(net.nodes.get('a')?.digests.byPosition).toBeGreaterThan(0);
    net.stop();
  });

  it('is a tenth of the full digest at 100 members', () => {
    const names = Array.from({ length: 101 }, (_, i) => `12D3KooW${String(i).padStart(44, 'x')}`);
    const [a, b] = names as [string, string];
    const net = network([a, b], names.slice(2));
    net.meetAll();
    net.tick(a);
    const full = net.log.find((s) => s.from === a && s.req.d?.length === 100) as Sent;
    // The rotation reaches b within 34 ticks of three members each.
    for (let i = 0; i < 70 && net.lastTo(a, b).req.c === undefined; i++) net.tick(a);
    const byPosition = net.lastTo(a, b);
    expect(byPosition.req.c).toHaveLength(200);
    expect(byPosition.bytes * 10).toBeLessThan(full.bytes);
    net.stop();
  });

  it('a roster that changes goes as the change, by position, and the receiver reads it', () => {
    const net = network(['a', 'b', 'c']);
    net.meetAll();
    net.tick('a');
    net.tick('a');
    expect(net.lastTo('a', 'b').req.c).toBeDefined();
    const before = net.lastTo('a', 'b').req.h as number;
    // c leaves a: a's digest names b only.
    net.connected.get('a')?.delete('c');
    net.nodes.get('a')?.left('c');
    net.tick('a');
    const gone = net.lastTo('a', 'b').req;
    expect(gone.d).toBeUndefined();
    expect(gone.h).toBe(before + 1);
    expect(gone.b).toBe(before);
    expect(gone.x).toEqual(['c']);
    expect(gone.c).toHaveLength(2);
    // c comes back (a new member for a's roster): appended, and b reads its number by position.
    net.connected.get('a')?.add('c');
    net.nodes.get('a')?.joined('c');
    net.deliver();
    net.seq.set('c', 9);
    net.missed.length = 0;
    net.tick('a');
    const back = net.lastTo('a', 'b').req;
    expect(back.b).toBe(before + 1);
    expect(back.a).toEqual([['c', 'e-c']]);
    expect(back.c).toHaveLength(4);
    expect(net.missed).toContainEqual(['c', 'e-c', 9]);
    // No roster was asked for, and none went in full to b after the first.
    expect(net.log.filter((m) => m.from === 'b' && m.req.r === 1)).toHaveLength(0);
    net.stop();
  });

  it('a receiver that lost the roster asks for it once, and the answer is in full', () => {
    const net = network(['a', 'b', 'c']);
    net.meetAll();
    net.tick('a');
    // The roster's next version to b is lost (a stream that broke): b then gets positions it cannot read.
    net.drop.add('a>b');
    net.connected.get('a')?.delete('c');
    net.nodes.get('a')?.left('c');
    net.tick('a');
    net.drop.delete('a>b');
    const asked = net.log.length;
    net.tick('a');
    const after = net.log.slice(asked);
    const asks = after.filter((s) => s.from === 'b' && s.to === 'a' && s.req.r === 1);
    expect(asks).toHaveLength(1);
    const answer = after.filter((s) => s.from === 'a' && s.to === 'b').at(-1) as Sent;
    expect(answer.req.d?.map((x) => x[0])).toEqual(['b']);
    // Read from then on: the next digest by position asks nothing.
    const later = net.log.length;
    net.tick('a');
    expect(net.lastTo('a', 'b').req.c).toBeDefined();
    expect(net.log.slice(later).some((s) => s.req.r === 1)).toBe(false);
    net.stop();
  });

  it('a member of an earlier release (no roster version) gets every digest in full', () => {
    const net = network(['a', 'b']);
    const a = net.nodes.get('a') as Heartbeats;
    net.connected.get('a')?.add('old');
    a.joined('old');
    net.deliver();
    // What an earlier release sends: no roster version.
    a.receive({ t: 'hb', e: 'e-old', s: 0, w: 1000, d: [['b', 'e-b', 0, 5]] }, 'old');
    for (let i = 0; i < 3; i++) net.tick('a');
    const toOld = net.log.filter((s) => s.from === 'a' && s.to === 'old');
    expect(toOld.length).toBeGreaterThan(2);
    for (const s of toOld) expect(s.req.d).toBeDefined();
    net.stop();
  });
});
