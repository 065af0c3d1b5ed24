/**
 * Invalidations over the P2P network (the network's invalidation notices,
 * src/network/invalidations.ts): this node publishes each of its own; it
 * applies the other members' notices, and flushes when it may have missed some
 * (a gap in a publisher's numbering, or coming back online after losing every peer).
 */
import type { Logger } from 'pino';
import type { InvalidationNotice, MeshNetwork } from '../../network/index.js';
// The module itself, not the barrel: a memory-only node must not load libp2p.
import { MAX_NOTICE_TAGS } from '../../network/invalidations.js';
import { compileGlob } from '../glob.js';
import type { Change } from '../invalidation.js';

export interface BusTargets {
  apply(scope: string, change: Change): void;
  /** Another member invalidated `tags` (relative to `scope`, a tag record base: `.../$tags/<service or *>/`). */
  tags(scope: string, tags: readonly string[]): void;
  /** `first`: the node's first peer arrived (not a return after losing every peer). */
  flush(why: string, first?: boolean): void;
}

export class NetworkBus {
  readonly counters = { published: 0, received: 0, gaps: 0 };
  private readonly detach: Array<() => void> = [];

  constructor(
    private readonly network: MeshNetwork,
    private readonly logger: Logger,
    private readonly targets: BusTargets,
  ) {}

  start(): void {
    this.detach.push(
      this.network.onInvalidation((notice, meta) => this.received(notice, meta.gap, meta.from)),
    );
    // A first join is not a return: only a node that lost every peer was told nothing meanwhile.
    let lostPeers = false;
    const offline = () => {
      lostPeers = true;
    };
    const online = () =>
      lostPeers
        ? this.targets.flush('back online after losing every peer')
        : this.targets.flush('joined the network', true);
    this.network.on('online', online).on('offline', offline);
    this.detach.push(() => this.network.off('online', online).off('offline', offline));
  }

  publish(scope: string, change: Change): void {
    const notice: InvalidationNotice =
      change.op === 'delete'
        ? { scope, op: 'delete', keys: change.keys }
        : change.op === 'clear'
          ? { scope, op: 'clear' }
          : { scope, op: 'revoke', pattern: change.pattern };
    this.send(notice);
  }

  /** This node invalidated `tags` (relative to `scope`, a tag record base), in notices receivers accept. */
  publishTags(scope: string, tags: readonly string[]): void {
    for (let i = 0; i < tags.length; i += MAX_NOTICE_TAGS)
      this.send({ scope, op: 'tags', tags: tags.slice(i, i + MAX_NOTICE_TAGS) });
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

  private received(notice: InvalidationNotice, gap: boolean, from: string): void {
    this.counters.received++;
    if (gap) {
      this.counters.gaps++;
      this.targets.flush(`missed invalidation notices from ${from}`);
    }
    if (notice.op === 'tags') {
      this.targets.tags(notice.scope, notice.tags ?? []);
      return;
    }
    let change: Change;
    if (notice.op === 'delete') change = { op: 'delete', keys: notice.keys ?? [] };
    else if (notice.op === 'clear') change = { op: 'clear' };
    else {
      try {
        change = { op: 'revoke', pattern: notice.pattern!, glob: compileGlob(notice.pattern!) };
      } catch {
        change = { op: 'clear' };
      }
    }
    this.targets.apply(notice.scope, change);
  }

  stop(): void {
    for (const d of this.detach.splice(0)) d();
  }
}
