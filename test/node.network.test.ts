/**
 * The node's side of the P2P layer: `node.network` events and ctx.networkId
 * on real libp2p nodes on 127.0.0.1, and what `backend: 'dht'` does on a node
 * that joined no network.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Node, type RequestContext } from '../src/index.js';
import { captureLogger } from './helpers/log.js';
import { testLogger, waitFor } from './helpers/p2p.js';

const nodes: Node[] = [];
afterEach(async () => {
  await Promise.allSettled(nodes.splice(0).map((n) => n.stop()));
});

function networked(id: string, bootstrap?: string[]): Node {
  const node = new Node({ logger: testLogger(), network: { id, bootstrap } });
  nodes.push(node);
  node.addService({ name: 'who', actions: { am_i: (ctx: RequestContext) => ctx.networkId } });
  return node;
}

describe('node.network', () => {
  it('reports peers joining and leaving, and gives ctx.networkId the network id', async () => {
    const a = networked('net-events');
    await a.start();
    const joined: string[] = [];
    const left: string[] = [];
    a.network!.on('peer:join', (peer) => joined.push(peer));
    a.network!.on('peer:leave', (peer) => left.push(peer));
    const b = networked('net-events', a.network!.addresses());
    await b.start();
    const bId = b.network!.peerId;
    await waitFor(() => joined.includes(bId), 15_000, 'peer:join');
    expect(a.network!.peers()).toContain(bId);
    expect(await a.request('who/am_i')).toBe('net-events');
    expect(a.networkId).toBe('net-events');
    await b.stop();
    await waitFor(() => left.includes(bId), 15_000, 'peer:leave');
  });
});

describe("backend 'dht' without a network", () => {
  it('caches in local memory and says so in a warning', async () => {
    const { logger, messages } = captureLogger('warn');
    const node = new Node({ logger, env: {}, config: { cache: { backend: 'dht' } } });
    nodes.push(node);
    let calls = 0;
    node.addService({ name: 's', actions: { a: { cache: { ttl: 60 }, handler: () => ++calls } } });
    await node.start();
    expect(await node.request('s/a')).toBe(1);
    expect(await node.request('s/a')).toBe(1);
    expect(calls).toBe(1);
    expect(messages().some((m) => m.includes("'dht' needs the node to join a network"))).toBe(true);
  });
});
