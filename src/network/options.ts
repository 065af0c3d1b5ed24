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
   * How long a dial that something waits for may take (a bootstrap peer, a
   * request's first stream to a member), ms. Dials in the background (meeting a
   * member heard of) and identify may take three times as long, and a redial of a
   * bootstrap peer twelve times (it waits its turn in a busy peer's queue).
   * @default 5_000
   */
  dialTimeoutMs?: number;
  /**
   * How often bootstrap peers are dialled again while not connected, ms.
   * @default 5_000
   */
  redialIntervalMs?: number;
  /**
   * How often a node looks up its own id to find more members, ms (also after its first
   * join, and after later joins at most once per 10 s when no heartbeats run: with a
   * staleness bound, their digests name every member instead).
   * @default 60_000
   */
  discoveryIntervalMs?: number;
  /**
   * Largest message a node sends to or reads from another member, bytes: a
   * remote request (its params) or its reply (the result). Past it the call
   * fails with `TOO_LARGE` on the side that noticed, and the connection serves on.
   * @default 4_194_304 (4 MiB)
   */
  maxMessageBytes?: number;
  /**
   * Path of this node's private key file, so it keeps its peer id across
   * restarts (and `cache.access.peers` can name it). Created, with mode 0600,
   * on first start if missing; a file that is not a key is `CONFIG_INVALID`.
   * @default undefined (a new identity each start)
   */
  identity?: string;
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
  maxMessageBytes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1024), v.maxValue(2 ** 31))),
  identity: v.optional(v.pipe(v.string(), v.minLength(1))),
});

export const NETWORK_DEFAULTS = {
  listen: ['/ip4/127.0.0.1/tcp/0'],
  allow: ['/ip4/127.0.0.0/ipcidr/8', '/ip6/::1/ipcidr/128'],
  dialTimeoutMs: 5_000,
  redialIntervalMs: 5_000,
  discoveryIntervalMs: 60_000,
  maxMessageBytes: 4 * 1024 * 1024,
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
export type ResolvedNetworkOptions = Required<Omit<NetworkOptions, 'psk' | 'identity'>> & {
  psk?: Uint8Array;
  identity?: string;
};

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
    maxMessageBytes: o.maxMessageBytes ?? NETWORK_DEFAULTS.maxMessageBytes,
    ...(o.identity === undefined ? {} : { identity: o.identity }),
    ...(o.psk === undefined ? {} : { psk: loadPsk(o.psk) }),
  };
  validateAddresses('listen', resolved.listen);
  validateAddresses('bootstrap', resolved.bootstrap);
  return resolved;
}
