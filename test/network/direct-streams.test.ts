/**
 * The one-hop protocol's long-lived streams: opened when a member joins, posted
 * messages (no reply), and yamux flow control with deferred window updates.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MeshNetwork } from '../../src/network/index.js';
import { deferWindowUpdates } from '../../src/network/window-updates.js';
import { postedFrame } from '../../src/network/wire/index.js';
import { startCluster, stopAll, waitFor } from '../helpers/p2p.js';

describe('direct streams between two loopback nodes', () => {
  let a: MeshNetwork;
  let b: MeshNetwork;
  beforeAll(async () => {
    [a, b] = (await startCluster(2, { id: 'direct-streams' })) as [MeshNetwork, MeshNetwork];
  });
  afterAll(async () => {
    await stopAll([a, b]);
  });

  const recordStreams = (net: MeshNetwork, direction: 'inbound' | 'outbound') =>
    (net.libp2p?.getConnections() ?? [])
      .flatMap((c) => c.streams)
      .filter((s) => s.protocol?.includes('/rec/2.0.0') && s.direction === direction && s.status === 'open');

  it('opens the stream to a member when it joins, before any request', async () => {
    await waitFor(() => a.direct.opened >= 1 && b.direct.opened >= 1, 10_000, 'streams opened ahead');
    expect(recordStreams(a, 'outbound')).toHaveLength(1);
    expect(recordStreams(b, 'outbound')).toHaveLength(1);
  });

  it('delivers a posted control message once and sends no reply back', async () => {
    const got: unknown[] = [];
    const off = b.onControl((m) => got.push(m));
    // b's end of a's stream: count what b writes on it.
    const served = recordStreams(b, 'inbound')[0] as unknown as { send(d: Uint8Array): boolean };
    const send = served.send.bind(served);
    let replies = 0;
    served.send = (d) => {
      replies++;
      return send(d);
    };
    const framed = postedFrame({ t: 'ctl', m: { c: 'test', n: 1 } });
    expect(await a.direct.post(b.peerId, framed, AbortSignal.timeout(5_000))).toBe(true);
    await waitFor(() => got.length === 1, 5_000, 'posted message delivered');
    // A request on the same stream is answered: the counter sees b's writes.
    await a.direct.request(b.peerId, { t: 'get', k: 'none' }, AbortSignal.timeout(5_000));
    off();
    expect(got).toEqual([{ c: 'test', n: 1 }]);
    expect(replies).toBe(1);
  });

  it('keeps flowing past the yamux window with deferred window updates (no stall, every reply)', async () => {
    const stream = recordStreams(a, 'outbound')[0] as unknown as { recvWindow: number };
    expect(typeof stream.recvWindow).toBe('number');
    // 600 KiB each way, over twice the initial 256 KiB window: updates must still go out in time.
    const value = 'x'.repeat(6 * 1024);
    b.direct.serve((req) => ({ ok: true, r: req.t === 'get' ? value : undefined }));
    const replies = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        a.direct.request(b.peerId, { t: 'put', k: `k${i}`, r: value }, AbortSignal.timeout(10_000)),
      ),
    );
    expect(replies.every((r) => r.ok)).toBe(true);
    const gets = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        a.direct.request(b.peerId, { t: 'get', k: `k${i}` }, AbortSignal.timeout(10_000)),
      ),
    );
    expect(gets.every((r) => r.r === value)).toBe(true);
  });

  it('a deferred stream sends a window update only once half its window is used', () => {
    let sent = 0;
    const fake = {
      state: 3,
      recvWindow: 1000,
      recvWindowCapacity: 1000,
      sendWindowUpdate() {
        sent++;
        this.recvWindowCapacity = this.recvWindow;
      },
    };
    expect(deferWindowUpdates(fake as never)).toBe(true);
    fake.recvWindowCapacity = 700;
    fake.sendWindowUpdate();
    expect(sent).toBe(0);
    fake.recvWindowCapacity = 500;
    fake.sendWindowUpdate();
    expect(sent).toBe(1);
    // A stream not yet established (its SYN/ACK rides on the update) always sends.
    fake.state = 2;
    fake.recvWindowCapacity = 999;
    fake.sendWindowUpdate();
    expect(sent).toBe(2);
    expect(deferWindowUpdates({} as never)).toBe(false);
  });
});
