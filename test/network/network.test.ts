import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MeshError } from '../../src/errors.js';
import { generatePsk, loadPsk, MeshNetwork } from '../../src/network/index.js';
import { startCluster, stopAll, testLogger, waitFor, waitForPeers } from '../helpers/p2p.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('MeshNetwork on loopback', () => {
  let nets: MeshNetwork[] = [];
  const extra: MeshNetwork[] = [];
  beforeAll(async () => {
    nets = await startCluster(3, { id: 'net-a' });
  });
  afterAll(async () => {
    await stopAll([...nets, ...extra]);
  });

  it('nodes see each other as members', () => {
    for (const net of nets)
      expect(net.peers().sort()).toEqual(
        nets
          .filter((n) => n !== net)
          .map((n) => n.peerId)
          .sort(),
      );
    expect(nets[0]?.addresses()[0]).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3/);
  });

  it('an event published on one node reaches every other node once, and not the publisher', async () => {
    const got: Array<Array<[string, unknown, string]>> = nets.map(() => []);
    const offs = nets.map((net, i) => net.onEvent((t, d, f) => got[i]?.push([t, d, f])));
    await nets[0]?.publishEvent('user.updated', { id: 7, at: new Date(0), n: 10n });
    await waitFor(() => got[1]?.length && got[2]?.length, 10_000, 'event delivery');
    await sleep(200);
    for (const off of offs) off();
    expect(got[0]).toEqual([]);
    expect(got[1]).toEqual([['user.updated', { id: 7, at: new Date(0), n: 10n }, nets[0]?.peerId]]);
    expect(got[2]).toEqual([['user.updated', { id: 7, at: new Date(0), n: 10n }, nets[0]?.peerId]]);
  });

  it("another network's node connected to the same peers neither joins nor hears events", async () => {
    const other = new MeshNetwork({ id: 'net-b', bootstrap: nets[0]?.addresses() }, testLogger());
    extra.push(other);
    await other.start();
    const heard: string[] = [];
    other.onEvent((t) => heard.push(t));
    const heardByA: string[] = [];
    const offA = nets[1]?.onEvent((t) => heardByA.push(t));
    // The TCP connection itself succeeds (no psk), but the peer speaks another network's protocols.
    await waitFor(() => other.libp2p?.getConnections().length, 10_000, 'raw connection');
    await sleep(500);
    expect(other.peers()).toEqual([]);
    expect(nets[0]?.peers()).not.toContain(other.peerId);
    await nets[0]?.publishEvent('secret.a', 1);
    await other.publishEvent('secret.b', 2);
    await waitFor(() => heardByA.includes('secret.a'), 10_000, 'own network event');
    await sleep(300);
    offA?.();
    expect(heard).toEqual([]);
    expect(heardByA).not.toContain('secret.b');
  });

  it('emits peer:join and peer:leave', async () => {
    const joined: string[] = [];
    const left: string[] = [];
    const a = nets[0] as MeshNetwork;
    const onJoin = (p: string) => joined.push(p);
    const onLeave = (p: string) => left.push(p);
    a.on('peer:join', onJoin).on('peer:leave', onLeave);
    const d = new MeshNetwork({ id: 'net-a', bootstrap: a.addresses() }, testLogger());
    extra.push(d);
    await d.start();
    await waitFor(() => joined.includes(d.peerId), 10_000, 'peer:join');
    await d.stop();
    await waitFor(() => left.includes(d.peerId), 10_000, 'peer:leave');
    a.off('peer:join', onJoin).off('peer:leave', onLeave);
    expect(a.peers()).not.toContain(d.peerId);
  });

  it('pulls state from a peer with the sync protocol', async () => {
    const a = nets[0] as MeshNetwork;
    const b = nets[1] as MeshNetwork;
    const off = b.sync.provide('test-state', () => ({ rules: [1, 2, 3], from: b.peerId }));
    expect(await a.sync.pull(b.peerId, 'test-state', AbortSignal.timeout(5000))).toEqual({
      rules: [1, 2, 3],
      from: b.peerId,
    });
    expect(await a.sync.pull(b.peerId, 'nothing-here', AbortSignal.timeout(5000))).toBeUndefined();
    off();
  });
});

describe('private networks (pre-shared key)', () => {
  const nets: MeshNetwork[] = [];
  afterAll(async () => {
    await stopAll(nets);
  });

  it('only nodes holding the key can join', async () => {
    const psk = generatePsk();
    const members = await startCluster(2, { id: 'private', psk });
    nets.push(...members);
    const boot = members[0]?.addresses();
    const noKey = new MeshNetwork({ id: 'private', bootstrap: boot }, testLogger());
    const wrongKey = new MeshNetwork({ id: 'private', bootstrap: boot, psk: generatePsk() }, testLogger());
    const rightKey = new MeshNetwork({ id: 'private', bootstrap: boot, psk }, testLogger());
    nets.push(noKey, wrongKey, rightKey);
    await Promise.all([noKey.start(), wrongKey.start(), rightKey.start()]);
    await waitForPeers(rightKey, 2, 10_000);
    await sleep(1000);
    expect(noKey.peers()).toEqual([]);
    expect(wrongKey.peers()).toEqual([]);
    expect(noKey.libp2p?.getConnections()).toEqual([]);
    expect(wrongKey.libp2p?.getConnections()).toEqual([]);
    expect(members[0]?.peers()).toHaveLength(2);
    expect(members[0]?.peers()).toContain(rightKey.peerId);
  });

  it('validates keys and options', () => {
    expect(loadPsk(generatePsk())).toBeInstanceOf(Uint8Array);
    expect(() => loadPsk('/key/swarm/psk/1.0.0/\n/base16/\nabc')).toThrow(MeshError);
    expect(() => loadPsk('/nonexistent/swarm.key')).toThrow(/cannot read/);
    expect(() => new MeshNetwork({ id: 'bad id!' }, testLogger())).toThrow(/network.id/);
    expect(() => new MeshNetwork({ id: 'x', bootstrap: ['not-an-addr'] }, testLogger())).toThrow(MeshError);
  });
});
