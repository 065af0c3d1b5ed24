/**
 * What arrives on this network's gossip topics: application events (decoded
 * and handed to the event handlers) and control messages (handed to the
 * control inbox, which delivers each once however many copies arrive).
 * Unreadable messages are logged and dropped; a handler that throws is
 * isolated from the others.
 */
import type { Message } from '@libp2p/gossipsub';
import type { Logger } from 'pino';
import { decodeValue } from '../codec/index.js';
import { bump, type MessageCounts } from './counters.js';
import type { MeshLibp2p } from './libp2p.js';
import { controlTopic, eventsTopic } from './names.js';

/** Receives an application event published by another node of the network. */
export type EventHandler = (topic: string, data: unknown, fromPeer: string) => void;

export interface GossipInboxOptions {
  readonly networkId: string;
  readonly logger: Logger;
  /** A control message (a JSON object) from `from`. */
  readonly control: (body: Record<string, unknown>, from: string) => void;
  /** The event handlers (read at every message: handlers added later receive). */
  readonly events: ReadonlySet<EventHandler>;
  /** Messages received per topic (counters.ts). */
  readonly counts: MessageCounts;
}

const decoder = new TextDecoder();

/** Follows the gossip messages of the network's topics on `node`; returns the function that stops it. */
export function receiveGossip(node: MeshLibp2p, options: GossipInboxOptions): () => void {
  const { logger } = options;
  const events = eventsTopic(options.networkId);
  const control = controlTopic(options.networkId);
  const onMessage = (evt: CustomEvent<Message>) => {
    const msg = evt.detail;
    if (msg.topic !== events && msg.topic !== control) return;
    bump(options.counts.received, msg.topic === control ? 'gossip:control' : 'gossip:events');
    const from = msg.type === 'signed' ? msg.from.toString() : '';
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(decoder.decode(msg.data)) as Record<string, unknown>;
      if (body === null || typeof body !== 'object') return;
    } catch {
      logger.warn({ peer: from, topic: msg.topic }, 'dropped an unreadable message');
      return;
    }
    if (msg.topic === control) {
      options.control(body, from);
      return;
    }
    if (typeof body.t !== 'string' || typeof body.d !== 'string') return;
    let data: unknown;
    try {
      data = decodeValue(body.d);
    } catch {
      logger.warn({ peer: from, topic: body.t }, 'dropped an event with an unreadable payload');
      return;
    }
    for (const handler of options.events) {
      try {
        handler(body.t, data, from);
      } catch (err) {
        logger.error({ err }, 'network message handler failed');
      }
    }
  };
  node.services.pubsub.addEventListener('message', onMessage);
  return () => node.services.pubsub.removeEventListener('message', onMessage);
}
