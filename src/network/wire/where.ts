/**
 * `where`: where some members listen. A node that hears of strangers in a
 * member's digest asks that member, which is connected to them, so meeting a
 * stranger is one dial rather than a kad-dht peer lookup and a dial. The
 * reply's `r` is JSON: peer id → multiaddrs, for the asked peers the answering
 * node knows (addresses.ts reads it back).
 */
import * as v from 'valibot';
import type { MessageKind } from './kind.js';

export interface WhereRequest {
  t: 'where';
  /** Peer ids of the members asked about. */
  p: string[];
}

/** Most peers one request asks about. */
export const MAX_WHERE_PEERS = 64;
/** Longest peer id accepted (an Ed25519 id is 52 characters). */
const MAX_PEER_ID = 128;

const peerId = (x: unknown): x is string => typeof x === 'string' && x.length >= 1 && x.length <= MAX_PEER_ID;

export const whereKind: MessageKind<WhereRequest> = {
  t: 'where',
  schema: v.object({
    t: v.literal('where'),
    p: v.pipe(
      v.array(v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_PEER_ID))),
      v.minLength(1),
      v.maxLength(MAX_WHERE_PEERS),
    ),
  }),
  parse: (m) => {
    const p = m.p;
    if (!Array.isArray(p) || p.length === 0 || p.length > MAX_WHERE_PEERS || !p.every(peerId))
      return undefined;
    return { t: 'where', p: p as string[] };
  },
  answer: (c, req) => c.members.addressesOf(req.p),
};
