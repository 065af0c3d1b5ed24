/**
 * The network as a part of a node (see src/node/part.ts): joins the P2P
 * network when the node starts, carries published events to the other
 * members, and hands theirs to the local subscribers. libp2p is imported only
 * when a node starts with `network` options.
 */
import type { NodePart, PartComponents } from '../node/part.js';
import type { OutgoingCall } from '../node/remote.js';
import type { MeshNetwork } from './index.js';
import type { NetworkOptions } from './options.js';

export class NetworkPart implements NodePart {
  readonly name = 'network';
  /** The joined network, between `start` and `stop`. */
  network: MeshNetwork | undefined;
  private offEvents: (() => void) | undefined;
  private offHosted: (() => void) | undefined;
  private logger: PartComponents['logger'] | undefined;

  constructor(private readonly options: NetworkOptions) {}

  async start(components: PartComponents): Promise<void> {
    const { MeshNetwork } = await import('./index.js');
    const network = new MeshNetwork(this.options, components.logger);
    await network.start();
    this.network = network;
    this.logger = components.logger;
    components.setNetworkId(network.networkId);
    this.offEvents = network.onEvent((topic, data, fromPeer) =>
      components.deliverRemote(topic, data, fromPeer),
    );
    network.catalogs.setSource(() => components.hosted());
    network.calls.serve((call) => components.serve(call));
    this.offHosted = components.onHostedChange(() => network.announce());
  }

  route(call: OutgoingCall): Promise<unknown> | undefined {
    return this.network?.calls.route(call);
  }

  describe(): Record<string, unknown> {
    const network = this.network;
    if (network === undefined) return {};
    return { peerId: network.peerId, addresses: network.addresses(), members: network.peers().length };
  }

  publishRemote(topic: string, data: unknown): Promise<void> {
    return this.network === undefined ? Promise.resolve() : this.network.publishEvent(topic, data);
  }

  async stop(): Promise<void> {
    this.offEvents?.();
    this.offEvents = undefined;
    this.offHosted?.();
    this.offHosted = undefined;
    this.network?.calls.serve(undefined);
    const network = this.network;
    this.network = undefined;
    await network?.stop().catch((err) => this.logger?.error({ err }, 'network stop failed'));
  }
}
