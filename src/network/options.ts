/** Configuration of a node's network membership (`network:` in the config file). */
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { z } from 'zod';
import { MeshError } from '../errors.js';
import { isValidNetworkId } from './names.js';

export const networkOptionsSchema = z.object({
  /** The network id: nodes share a DHT, events and cache only within one id. */
  id: z.string().refine(isValidNetworkId, 'letters, digits, ".", "_" or "-", at most 64'),
  /** Multiaddrs to listen on (default: loopback, a free TCP port). */
  listen: z.array(z.string()).optional(),
  /** Multiaddrs of peers to join through (`/ip4/…/tcp/…/p2p/<peer id>`). */
  bootstrap: z.array(z.string()).optional(),
  /** Pre-shared key (swarm.key text or a path to it): only holders can connect. */
  psk: z.string().optional(),
  /** Addresses exempt from the per-host inbound connection limits (default: loopback). */
  allow: z.array(z.string()).optional(),
  /** How long one dial may take, ms. */
  dialTimeoutMs: z.number().int().positive().optional(),
  /** How often bootstrap peers are dialled again while not connected, ms. */
  redialIntervalMs: z.number().int().positive().optional(),
  /** How often a node looks up its own id to find more members, ms (also shortly after each join). */
  discoveryIntervalMs: z.number().int().positive().optional(),
});

export type NetworkOptions = z.input<typeof networkOptionsSchema>;

export const NETWORK_DEFAULTS = {
  listen: ['/ip4/127.0.0.1/tcp/0'],
  allow: ['/ip4/127.0.0.0/ipcidr/8', '/ip6/::1/ipcidr/128'],
  dialTimeoutMs: 5_000,
  redialIntervalMs: 5_000,
  discoveryIntervalMs: 60_000,
} as const;

/**
 * Checks that every address of `network.listen` / `network.bootstrap` is a
 * multiaddr whose `/p2p/` components are real peer ids (multiaddr itself
 * accepts any text there, so a typo would otherwise leave the node dialling
 * nobody forever). Throws CONFIG_INVALID naming the field and the address.
 */
export function validateAddresses(field: 'listen' | 'bootstrap', addresses: readonly string[]): void {
  for (const address of addresses) {
    const details = { field: `network.${field}`, address };
    let components: ReturnType<ReturnType<typeof multiaddr>['getComponents']>;
    try {
      components = multiaddr(address).getComponents();
    } catch (err) {
      throw new MeshError(
        'CONFIG_INVALID',
        `network.${field}: "${address}" is not a multiaddr: ${(err as Error).message}`,
        details,
        err,
      );
    }
    for (const c of components) {
      if (c.name !== 'p2p') continue;
      try {
        peerIdFromString(c.value ?? '');
      } catch (err) {
        throw new MeshError(
          'CONFIG_INVALID',
          `network.${field}: "${address}" has an invalid peer id "${c.value ?? ''}" after /p2p/: ${(err as Error).message}`,
          { ...details, peerId: c.value ?? '' },
          err,
        );
      }
    }
  }
}
