/** Configuration of a node's network membership (`network:` in the config file). */
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import * as v from 'valibot';
import { fromIssues, MeshError } from '../errors.js';
import { isValidNetworkId } from './names.js';
import { loadPsk } from './psk.js';

/** Options of a node's network membership (`new Node({ network })`). */
export interface NetworkOptions {
  /** The network id: nodes share a DHT, events and cache only within one id (see `isValidNetworkId`). */
  id: string;
  /**
   * Multiaddrs to listen on.
   * @default ['/ip4/127.0.0.1/tcp/0'] (loopback, a free TCP port)
   */
  listen?: string[];
  /**
   * Multiaddrs of peers to join through (`/ip4/…/tcp/…/p2p/<peer id>`).
   * @default [] (the first node of a network)
   */
  bootstrap?: string[];
  /**
   * Pre-shared key (swarm.key text or a path to it): only holders can connect.
   * @default undefined (no private network)
   */
  psk?: string;
  /**
   * Addresses exempt from the per-host inbound connection limits.
   * @default ['/ip4/127.0.0.0/ipcidr/8', '/ip6/::1/ipcidr/128'] (loopback)
   */
  allow?: string[];
  /**
   * How long one dial may take, ms.
   * @default 5_000
   */
  dialTimeoutMs?: number;
  /**
   * How often bootstrap peers are dialled again while not connected, ms.
   * @default 5_000
   */
  redialIntervalMs?: number;
  /**
   * How often a node looks up its own id to find more members, ms (also shortly after each join).
   * @default 60_000
   */
  discoveryIntervalMs?: number;
}

const ms = v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)));
const addresses = v.optional(v.array(v.string()));

/** Validates `NetworkOptions` (the interface above is checked against it in test/types.check.ts). */
export const networkOptionsSchema = v.object({
  id: v.pipe(
    v.string(),
    v.check<string, string>(
      isValidNetworkId,
      'letters, digits, ".", "_" or "-", at most 64, starting with a letter or digit',
    ),
  ),
  listen: addresses,
  bootstrap: addresses,
  psk: v.optional(v.string()),
  allow: addresses,
  dialTimeoutMs: ms,
  redialIntervalMs: ms,
  discoveryIntervalMs: ms,
});

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

/** Options with their defaults filled in and the PSK file read. */
export type ResolvedNetworkOptions = Required<Omit<NetworkOptions, 'psk'>> & { psk?: Uint8Array };

/** Validates `options` (CONFIG_INVALID naming the field), fills the defaults and reads the PSK. */
export function resolveNetworkOptions(options: NetworkOptions): ResolvedNetworkOptions {
  const parsed = v.safeParse(networkOptionsSchema, options);
  if (!parsed.success) {
    throw fromIssues(parsed.issues, { code: 'CONFIG_INVALID', fieldPrefix: 'network.' });
  }
  const o = parsed.output;
  const resolved: ResolvedNetworkOptions = {
    id: o.id,
    listen: o.listen ?? [...NETWORK_DEFAULTS.listen],
    bootstrap: o.bootstrap ?? [],
    allow: o.allow ?? [...NETWORK_DEFAULTS.allow],
    dialTimeoutMs: o.dialTimeoutMs ?? NETWORK_DEFAULTS.dialTimeoutMs,
    redialIntervalMs: o.redialIntervalMs ?? NETWORK_DEFAULTS.redialIntervalMs,
    discoveryIntervalMs: o.discoveryIntervalMs ?? NETWORK_DEFAULTS.discoveryIntervalMs,
    ...(o.psk === undefined ? {} : { psk: loadPsk(o.psk) }),
  };
  validateAddresses('listen', resolved.listen);
  validateAddresses('bootstrap', resolved.bootstrap);
  return resolved;
}
