/**
 * Where members listen, as one node tells another (the `where` kind,
 * wire/where.ts): the answering side reads its peer store for the members it
 * is connected to; the asking side keeps what it was told in its own, where a
 * later dial by peer id finds it.
 */
import type { PeerId } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr';
import type { MeshLibp2p } from './libp2p.js';
import type { DirectReply } from './wire/index.js';

/** Most addresses told (and kept) per peer. */
const MAX_ADDRESSES = 8;
/** Longest address kept, characters. */
const MAX_ADDRESS = 512;

/** The reply to `where`: the addresses of those of `peers` that `isMember` accepts and this node knows. */
export async function addressesOf(
  node: MeshLibp2p,
  peers: readonly string[],
  isMember: (peer: string) => boolean,
): Promise<DirectReply> {
  const out: Record<string, string[]> = {};
  for (const peer of peers) {
    if (!isMember(peer)) continue;
    const addrs = await knownAddresses(node, peerIdFromString(peer));
    if (addrs.length > 0) out[peer] = addrs.slice(0, MAX_ADDRESSES).map((a) => a.toString());
  }
  return { ok: true, r: JSON.stringify(out) };
}

/** The addresses this node's peer store holds for `id` (none when it never heard of it). */
export async function knownAddresses(node: MeshLibp2p, id: PeerId): Promise<Multiaddr[]> {
  try {
    return (await node.peerStore.get(id)).addresses.map((a) => a.multiaddr);
  } catch {
    return [];
  }
}

/**
 * Keeps in the peer store what a `where` reply says of the `asked` peers (anything
 * else it says, and any address that does not parse, is dropped); returns how many
 * peers it told of.
 */
export async function learnAddresses(
  node: MeshLibp2p,
  reply: string,
  asked: ReadonlySet<string>,
): Promise<number> {
  let told: unknown;
  try {
    told = JSON.parse(reply);
  } catch {
    return 0;
  }
  if (told === null || typeof told !== 'object' || Array.isArray(told)) return 0;
  let learned = 0;
  for (const [peer, list] of Object.entries(told as Record<string, unknown>)) {
    if (!asked.has(peer) || !Array.isArray(list)) continue;
    const addrs: Multiaddr[] = [];
    for (const a of list.slice(0, MAX_ADDRESSES)) {
      if (typeof a !== 'string' || a.length > MAX_ADDRESS) continue;
      try {
        addrs.push(multiaddr(a));
      } catch {
        // Not an address: dropped.
      }
    }
    if (addrs.length === 0) continue;
    try {
      await node.peerStore.merge(peerIdFromString(peer), { multiaddrs: addrs });
      learned++;
    } catch {
      // Not a peer id.
    }
  }
  return learned;
}
