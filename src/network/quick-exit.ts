/**
 * Two libp2p timers outlive `libp2p.stop()` and kept a process alive for up to
 * a second after `node.stop()` resolved:
 *
 * - gossipsub's next heartbeat: `stop()` replaces the status that holds its
 *   timeout without clearing it (the heartbeat then sees "stopped" and does
 *   nothing);
 * - the address manager's peer-store update, debounced by 1 s after a
 *   transport closes (stopping closes them); it has no stop of its own.
 *
 * Both are cleared here, the work they would do being moot once stopped.
 * meshcache's own timers are cleared or unref'd where they are made.
 */

interface Libp2pInternals {
  services?: { pubsub?: { stop?: () => Promise<void>; status?: { heartbeatTimeout?: unknown } } };
  components?: { addressManager?: { _updatePeerStoreAddresses?: { stop?: () => void } } };
}

/** Call when the network started; the function it returns, once the node stopped. */
export function quickExit(libp2p: unknown): () => void {
  const internals = (libp2p ?? {}) as Libp2pInternals;
  const gossip = internals.services?.pubsub;
  const stop = gossip?.stop;
  if (gossip !== undefined && typeof stop === 'function') {
    gossip.stop = function (this: unknown) {
      clearTimeout(gossip.status?.heartbeatTimeout as ReturnType<typeof setTimeout> | undefined);
      return stop.call(gossip);
    };
  }
  return () => internals.components?.addressManager?._updatePeerStoreAddresses?.stop?.();
}
