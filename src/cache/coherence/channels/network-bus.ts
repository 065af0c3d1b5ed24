/**
 * The network bus: invalidations over the P2P network (the network's
 * invalidation notices, src/network/invalidations.ts). This node publishes
 * each of its own; the other members' notices go to the node's sink (near
 * tiers, local backends, running misses); a gap in a publisher's numbering
 * (seen on a notice or a heartbeat), or coming back online after losing every
 * peer, flushes (notices were missed). Paused while the network is out of touch
 * (a member silent past the staleness bound: src/network/heartbeats.ts).
 * The only channel that reaches memory backends of other nodes.
 */
import type { Logger } from 'pino';
import type { InvalidationNotice, MeshNetwork } from '../../../network/index.js';
// The module itself, not the barrel: a memory-only node must not load libp2p.
import { MAX_NOTICE_TAGS } from '../../../network/invalidations.js';
import { type Change, type ChangeSink, revokeChange } from '../change.js';
import { type CoherenceChannel, Liveness, type LiveState } from './channel.js';

export class NetworkBus implements CoherenceChannel {
  readonly mode = 'bus';
  readonly counters = { published: 0, received: 0, gaps: 0 };
  // A missed notice is seen (a gap, or coming back online) and flushes; a silence pauses.
  private readonly liveness: Liveness;
  private readonly detach: Array<() => void> = [];

  constructor(
    private readonly network: MeshNetwork,
    private readonly logger: Logger,
    /** While out of touch, local memory backends are cleared on this interval (0: they keep serving). */
    private readonly boundLocalMs = 0,
  ) {
    this.liveness = new Liveness(network.inTouch ? 'live' : 'paused');
  }

  get live(): boolean {
    return this.liveness.live;
  }

  get state(): LiveState {
    return this.liveness.state;
  }

  onLive(listener: (state: LiveState) => void): () => void {
    return this.liveness.on(listener);
  }

  /** Starts handing the other members' changes to `sink`. */
  start(sink: ChangeSink): void {
    this.detach.push(
      this.network.onInvalidation((notice, meta) => this.received(sink, notice, meta.gap, meta.from)),
    );
    // A first join is not a return: only a node that lost every peer was told nothing meanwhile.
    let lostPeers = false;
    const offline = () => {
      lostPeers = true;
    };
    const online = () =>
      lostPeers ? sink.flush('back online after losing every peer') : sink.flush('joined the network', true);
    const missed = (peer: string) => sink.flush(`missed or unaccountable invalidation notices of ${peer}`);
    let clearing: NodeJS.Timeout | undefined;
    const touch = (inTouch: boolean) => {
      this.liveness.set(inTouch ? 'live' : 'paused');
      clearInterval(clearing);
      clearing = undefined;
      if (inTouch || this.boundLocalMs === 0) return;
      // What a local backend stores meanwhile is fresh, but no delete from a silent member reaches it.
      const why = 'out of touch with the network (coherence.boundMemory)';
      sink.flush(why);
      clearing = setInterval(() => sink.flush(why, false, true), this.boundLocalMs);
      clearing.unref();
    };
    this.network.on('online', online).on('offline', offline).on('missed', missed).on('touch', touch);
    this.detach.push(() => {
      clearInterval(clearing);
      this.network.off('online', online).off('offline', offline).off('missed', missed).off('touch', touch);
    });
  }

  publish(scope: string, change: Change): void {
    if (change.op === 'tags') {
      // In notices receivers accept.
      for (let i = 0; i < change.tags.length; i += MAX_NOTICE_TAGS)
        this.send({ scope, op: 'tags', tags: change.tags.slice(i, i + MAX_NOTICE_TAGS) });
      return;
    }
    this.send(
      change.op === 'delete'
        ? { scope, op: 'delete', keys: change.keys }
        : change.op === 'clear'
          ? { scope, op: 'clear' }
          : { scope, op: 'revoke', pattern: change.pattern },
    );
  }

  private send(notice: InvalidationNotice): void {
    this.counters.published++;
    this.network.publishInvalidation(notice).catch((err: Error) => {
      this.logger.warn(
        { err: err.message, scope: notice.scope },
        'could not publish a cache invalidation to the network',
      );
    });
  }

  private received(sink: ChangeSink, notice: InvalidationNotice, gap: boolean, from: string): void {
    this.counters.received++;
    if (gap) {
      this.counters.gaps++;
      sink.flush(`missed invalidation notices from ${from}`);
    }
    const change: Change =
      notice.op === 'tags'
        ? { op: 'tags', tags: notice.tags ?? [] }
        : notice.op === 'delete'
          ? { op: 'delete', keys: notice.keys ?? [] }
          : notice.op === 'clear'
            ? { op: 'clear' }
            : revokeChange(notice.pattern!);
    sink.apply(notice.scope, change);
  }

  stop(): void {
    for (const d of this.detach.splice(0)) d();
    this.liveness.set('down');
  }
}
