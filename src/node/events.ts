/**
 * Local publish/subscribe with wildcard topics (see `topics.ts`). A handler that
 * throws or rejects is logged and never affects the publisher or the other
 * handlers.
 */
import type { Logger } from 'pino';
import { compileTopicPattern } from './topics.js';

/** One subscription. `owner` is the subscribing service (undefined for `node.subscribe`). */
export interface Subscription<H> {
  readonly pattern: string;
  readonly owner: string | undefined;
  readonly handler: H;
  readonly matches: (topic: string) => boolean;
}

const MAX_CACHED_TOPICS = 1024;

/** Subscriptions of a node, with a per-topic lookup cache. */
export class EventBus<H> {
  private readonly subs: Subscription<H>[] = [];
  private readonly byTopic = new Map<string, Subscription<H>[]>();

  /** Adds a subscription; returns a function that removes it. Throws INVALID_PARAMS for a bad pattern. */
  subscribe(pattern: string, handler: H, owner?: string): () => void {
    const sub: Subscription<H> = { pattern, owner, handler, matches: compileTopicPattern(pattern) };
    this.subs.push(sub);
    this.byTopic.clear();
    return () => {
      const i = this.subs.indexOf(sub);
      if (i >= 0) {
        this.subs.splice(i, 1);
        this.byTopic.clear();
      }
    };
  }

  /** Removes every subscription of `owner`. */
  removeOwner(owner: string): void {
    for (let i = this.subs.length - 1; i >= 0; i--) if (this.subs[i].owner === owner) this.subs.splice(i, 1);
    this.byTopic.clear();
  }

  /** The subscriptions that receive `topic`. */
  subscribersOf(topic: string): readonly Subscription<H>[] {
    let found = this.byTopic.get(topic);
    if (found === undefined) {
      found = this.subs.filter((s) => s.matches(topic));
      if (this.byTopic.size >= MAX_CACHED_TOPICS) this.byTopic.clear();
      this.byTopic.set(topic, found);
    }
    return found;
  }

  /**
   * Runs `call` for every subscriber of `topic` and waits for all of them;
   * failures are logged with the topic and subscriber, never thrown.
   */
  async deliver(topic: string, call: (sub: Subscription<H>) => unknown, logger: Logger): Promise<void> {
    const subs = this.subscribersOf(topic);
    if (subs.length === 0) return;
    const pending: Promise<unknown>[] = [];
    for (const sub of subs) {
      try {
        const r = call(sub);
        if (r instanceof Promise) pending.push(r.catch((err) => logFailure(logger, topic, sub, err)));
      } catch (err) {
        logFailure(logger, topic, sub, err);
      }
    }
    if (pending.length > 0) await Promise.all(pending);
  }
}

function logFailure(logger: Logger, topic: string, sub: Subscription<unknown>, err: unknown): void {
  logger.error(
    { err, topic, subscriber: sub.owner ?? '(node)', pattern: sub.pattern },
    'event handler failed',
  );
}
