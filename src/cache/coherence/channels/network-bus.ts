/**
 * The network bus: invalidations over the P2P network (the network's
 * invalidation notices, src/network/invalidations.ts). This node publishes
 * each of its own; the other members' notices go to the node's sink (near
 * tiers, local backends, running misses); a gap in a publisher's numbering,
 * or coming back online after losing every peer, flushes (notices were missed).
 * The only channel that reaches memory backends of other nodes.
 */
import type { Logger } from 'pino';
import type { InvalidationNotice, MeshNetwork } from '../../../network/index.js';
// The module itself, not the barrel: a memory-only node must not load libp2p.
import { MAX_NOTICE_TAGS } from '../../../network/invalidations.js';
import { type Change, type ChangeSink, revokeChange } from '../change.js';
import { type CoherenceChannel, Liveness } from './channel.js';

export class NetworkBus implements CoherenceChannel {
  readonly mode = 'bus';
  readonly counters = { published: 0, received: 0, gaps: 0 };
  // Live from the start: a missed notice is seen (a gap, or coming back online) and flushes.
  private readonly liveness = new Liveness(true);
  private readonly detach: Array<() => void> = [];

  constructor(
    private readonly network: MeshNetwork,
    private readonly logger: Logger,
  ) {}

  get live(): boolean {
    return this.liveness.live;
  }

  onLive(listener: (live: boolean) => void): () => void {
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
    this.network.on('online', online).on('offline', offline);
    this.detach.push(() => this.network.off('online', online).off('offline', offline));
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
    this.liveness.set(false);
  }
}
