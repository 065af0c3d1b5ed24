/**
 * The connection watch (src/network/connection-watch.ts), on two real libp2p
 * nodes: it pings each peer and leaves a peer that answers alone; it closes
 * the connections of a peer whose ping goes unanswered; and while heartbeats
 * run it sends no ping at all, so an unanswered one cannot close anything.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConnectionWatch } from '../../src/network/connection-watch.js';
import type { MeshNetwork } from '../../src/network/index.js';
import { captureLogger, waitFor } from '../helpers/log.js';
import { startCluster, stopAll } from '../helpers/p2p.js';

const PING = '/ipfs/ping/1.0.0';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('connection watch', () => {
  let a: MeshNetwork;
  let b: MeshNetwork;
  let watch: ConnectionWatch | undefined;
  beforeEach(async () => {
    [a, b] = (await startCluster(2, { id: `watch-${Date.now()}` })) as [MeshNetwork, MeshNetwork];
  });
  afterEach(async () => {
    watch?.stop();
    await stopAll([a, b]);
  });

  const libp2p = (n: MeshNetwork) => {
    if (n.libp2p === undefined) throw new Error('network not started');
    return n.libp2p;
  };
  /** b still answers the protocol, but never pongs: a frozen peer, as seen by a ping. */
  const silence = async (n: MeshNetwork) => {
    await libp2p(n).unhandle(PING);
    await libp2p(n).handle(PING, () => {});
  };
  let log: ReturnType<typeof captureLogger>;
  const start = (heartbeatsRun: () => boolean) => {
    log = captureLogger();
    watch = new ConnectionWatch({
      node: libp2p(a),
      heartbeatsRun,
      logger: log.logger,
      intervalMs: 150,
      timeoutMs: 400,
    });
    watch.start();
    return watch;
  };

  it('leaves a peer that answers alone', async () => {
    const w = start(() => false);
    await sleep(700);
    expect(w.counters.pings).toBeGreaterThanOrEqual(2);
    expect(w.counters.closed).toBe(0);
    expect(libp2p(a).getConnections(libp2p(b).peerId).length).toBeGreaterThan(0);
  });

  it('closes the connections of a peer that stops answering', async () => {
    await silence(b);
    const w = start(() => false);
    await waitFor(() => libp2p(a).getConnections(libp2p(b).peerId).length === 0, 5_000, 50);
    expect(w.counters.closed).toBeGreaterThanOrEqual(1);
    expect(log.messages()).toContain('peer silent: closing');
  });

  it('rests while heartbeats run: no ping, and a silent peer keeps its connection', async () => {
    await silence(b);
    const w = start(() => true);
    await sleep(1_000);
    expect(w.counters.pings).toBe(0);
    expect(w.counters.closed).toBe(0);
    expect(libp2p(a).getConnections(libp2p(b).peerId).length).toBeGreaterThan(0);
  });
});
