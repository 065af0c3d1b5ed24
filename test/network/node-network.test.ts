/**
 * The node's side of the P2P layer: `node.network` events and ctx.networkId
 * on real libp2p nodes on 127.0.0.1, and what `backend: 'dht'` does on a node
 * that joined no network.
 */
import { type AddressInfo, createServer } from 'node:net';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { afterEach, describe, expect, it } from 'vitest';
import { MeshError, Node, type RequestContext } from '../../src/index.js';
import { captureLogger } from '../helpers/log.js';
import { testLogger, waitFor } from '../helpers/p2p.js';

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

/** A TCP port on 127.0.0.1 that nothing listens on (bound once, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('network addresses', () => {
  async function refusal(network: { bootstrap?: string[]; listen?: string[] }): Promise<MeshError> {
    const node = new Node({ logger: testLogger(), network: { id: 'addr-check', ...network } });
    nodes.push(node);
    const err = await node.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(MeshError.is(err, 'CONFIG_INVALID')).toBe(true);
    expect(node.network).toBeUndefined();
    return err as MeshError;
  }

  it('refuses at start a bootstrap address whose /p2p/ part is not a peer id', async () => {
    const address = '/ip4/127.0.0.1/tcp/4001/p2p/not-a-peer-id';
    const err = await refusal({ bootstrap: [address] });
    expect(err.details.field).toBe('network.bootstrap');
    expect(err.details.address).toBe(address);
    expect(err.message).toContain(address);
  });

  it('refuses at start a listen address whose /p2p/ part is not a peer id', async () => {
    const address = '/ip4/127.0.0.1/tcp/0/p2p/12D3-typo';
    const err = await refusal({ listen: [address] });
    expect(err.details.field).toBe('network.listen');
    expect(err.details.address).toBe(address);
    expect(err.message).toContain(address);
  });

  it('warns with the address and the dial error when a bootstrap peer cannot be dialled', async () => {
    const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString();
    const address = `/ip4/127.0.0.1/tcp/${await closedPort()}/p2p/${peer}`;
    const { logger, records } = captureLogger('warn');
    const node = new Node({
      logger,
      network: { id: 'addr-check', bootstrap: [address], dialTimeoutMs: 2_000 },
    });
    nodes.push(node);
    await node.start();
    const warning = records.find((r) => r.level === 40 && String(r.msg).includes(address));
    expect(warning, JSON.stringify(records)).toBeDefined();
    expect(typeof warning?.reason).toBe('string');
    expect(warning?.reason.length).toBeGreaterThan(0);
    expect(String(warning?.msg)).toContain(warning?.reason);
  });
});
