/**
 * Names that isolate one meshcache network from another on the wire. Every
 * protocol and topic embeds the network id, so nodes of two networks that
 * happen to connect never exchange DHT records or events.
 */

export { isValidNetworkId } from '../node/network-id.js';

/** The Kademlia protocol of a network: a separate DHT per network id. */
export function kadProtocol(networkId: string): string {
  return `/meshcache/${networkId}/kad/1.0.0`;
}

/** The gossipsub topic that carries application events of a network. */
export function eventsTopic(networkId: string): string {
  return `/meshcache/${networkId}/events/1`;
}

/** The gossipsub topic that carries cache control messages (invalidations) of a network. */
export function controlTopic(networkId: string): string {
  return `/meshcache/${networkId}/control/1`;
}

/** A request/response protocol used to pull state (the invalidation log) from a peer. */
export function syncProtocol(networkId: string): string {
  return `/meshcache/${networkId}/sync/1.0.0`;
}
