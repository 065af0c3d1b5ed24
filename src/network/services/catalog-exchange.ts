/**
 * How catalogs travel: this node's is posted to every member when it changes
 * (batched per turn of the event loop, posted once more after a failure), and
 * a member's is asked for when it joins.
 */
import type { Logger } from 'pino';
import { type DirectReply, type DirectRequest, type PostedFrame, postedFrame } from '../wire/index.js';
import type { ServiceCatalogs } from './catalogs.js';

/** What the exchange needs from the network. */
export interface CatalogLinks {
  readonly started: boolean;
  peers(): string[];
  isMember(peer: string): boolean;
  post(peer: string, frame: PostedFrame, signal: AbortSignal): Promise<boolean>;
  request(peer: string, req: DirectRequest, signal: AbortSignal): Promise<DirectReply>;
  readonly timeoutMs: number;
}

export class CatalogExchange {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly catalogs: ServiceCatalogs,
    private readonly links: CatalogLinks,
    private readonly logger: () => Logger,
  ) {}

  /** This node's catalog changed: posted to every member at the end of this turn. */
  announce(): void {
    this.catalogs.changed();
    if (this.timer !== undefined || !this.links.started) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.links.started) return;
      const posted = postedFrame({ t: 'cat', r: this.catalogs.own() });
      const signal = AbortSignal.timeout(this.links.timeoutMs);
      for (const peer of this.links.peers()) {
        this.links.post(peer, posted, signal).catch((err: Error) => {
          this.logger().debug({ peer, err: err.message }, 'catalog not announced: posted again shortly');
          this.repost(peer);
        });
      }
    }, 0);
  }

  /** Asks member `peer` for its catalog (up to three times). */
  ask(peer: string): void {
    const ask = async () => {
      for (let attempt = 0; attempt < 3 && this.links.isMember(peer); attempt++) {
        try {
          const reply = await this.links.request(
            peer,
            { t: 'cat' },
            AbortSignal.timeout(this.links.timeoutMs),
          );
          if (reply.ok && reply.r !== undefined) this.catalogs.receive(reply.r, peer);
          return;
        } catch (err) {
          this.logger().debug({ peer, attempt, err: (err as Error).message }, 'catalog ask failed');
        }
      }
    };
    this.catalogs.asked(peer, ask());
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Posts this node's catalog to `peer` once more, half a second after a push to it failed. */
  private repost(peer: string): void {
    setTimeout(() => {
      if (!this.links.started || !this.links.isMember(peer)) return;
      // Built now, not at the failure: the catalog may have changed since.
      const posted = postedFrame({ t: 'cat', r: this.catalogs.own() });
      this.links.post(peer, posted, AbortSignal.timeout(this.links.timeoutMs)).catch(() => {});
    }, 500).unref();
  }
}
