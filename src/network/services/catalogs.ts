/**
 * What every member hosts: this node's own catalog (its services, actions and
 * their declarations, versioned) and the catalogs of the other members. A
 * member's catalog is asked for when it joins and pushed by it whenever it
 * changes; it is forgotten when the member leaves.
 */

import type { Logger } from 'pino';
import * as v from 'valibot';
import type { HostedService } from '../../node/remote.js';
import type { DirectReply } from '../wire/index.js';

const catalogSchema = v.object({
  v: v.pipe(v.number(), v.finite()),
  s: v.array(
    v.object({
      name: v.pipe(v.string(), v.maxLength(256)),
      actions: v.array(
        v.object({
          name: v.pipe(v.string(), v.maxLength(512)),
          declared: v.optional(v.record(v.string(), v.unknown())),
        }),
      ),
    }),
  ),
});

/** One member's catalog, indexed for routing. */
export interface MemberCatalog {
  readonly version: number;
  readonly services: readonly HostedService[];
  /** `service` -> action name -> what is declared of it. */
  readonly index: ReadonlyMap<string, ReadonlyMap<string, Readonly<Record<string, unknown>> | undefined>>;
}

function indexOf(services: readonly HostedService[]): MemberCatalog['index'] {
  return new Map(services.map((s) => [s.name, new Map(s.actions.map((a) => [a.name, a.declared]))]));
}

export class ServiceCatalogs {
  private source: () => HostedService[] = () => [];
  private ownText: string | undefined;
  private version = 0;
  private readonly members = new Map<string, MemberCatalog>();
  /** Asks in flight for a member's catalog (routing waits for them before answering NOT_FOUND). */
  private readonly asking = new Map<string, Promise<void>>();
  private readonly changeListeners = new Set<(peer: string) => void>();

  constructor(private readonly logger: () => Logger) {}

  /** Where this node's own catalog comes from (the host's hosted services). */
  setSource(source: () => HostedService[]): void {
    this.source = source;
    this.changed();
  }

  /** This node's catalog changed: a new version is built on next use. */
  changed(): void {
    this.ownText = undefined;
    this.version = Math.max(this.version + 1, Date.now());
  }

  /** This node's catalog as sent (JSON). */
  own(): string {
    this.ownText ??= JSON.stringify({ v: this.version, s: this.source() });
    return this.ownText;
  }

  answer(): DirectReply {
    return { ok: true, r: this.own() };
  }

  /** Takes a member's catalog (pushed, or the reply to an ask); an older version than the one held is ignored. */
  receive(text: string, from: string): void {
    let parsed: v.InferOutput<typeof catalogSchema>;
    try {
      parsed = v.parse(catalogSchema, JSON.parse(text));
    } catch (err) {
      this.logger().debug({ peer: from, err: (err as Error).message }, 'malformed service catalog ignored');
      return;
    }
    const held = this.members.get(from);
    if (held !== undefined && held.version >= parsed.v) return;
    this.members.set(from, { version: parsed.v, services: parsed.s, index: indexOf(parsed.s) });
    for (const listener of this.changeListeners) listener(from);
  }

  /** Records that a member's catalog is being asked for; routing waits for it. */
  asked(peer: string, done: Promise<void>): void {
    const settled = done.finally(() => {
      if (this.asking.get(peer) === settled) this.asking.delete(peer);
    });
    this.asking.set(peer, settled);
  }

  /** Resolves when the asks in flight settled (or after `ms`). */
  async settled(ms: number): Promise<void> {
    if (this.asking.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.asking.values()]),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, ms);
      }),
    ]);
    clearTimeout(timer);
  }

  get pending(): number {
    return this.asking.size;
  }

  forget(peer: string): void {
    this.members.delete(peer);
    this.asking.delete(peer);
  }

  /** The catalog a member announced, if known. */
  of(peer: string): MemberCatalog | undefined {
    return this.members.get(peer);
  }

  /** The members whose catalog lists `service` (and `action`, when given). */
  hostsOf(service: string, action?: string): string[] {
    const out: string[] = [];
    for (const [peer, catalog] of this.members) {
      const actions = catalog.index.get(service);
      if (actions !== undefined && (action === undefined || actions.has(action))) out.push(peer);
    }
    return out;
  }

  /** Calls `listener(peer)` when a member's catalog arrives or changes; returns the remover. */
  onChange(listener: (peer: string) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  clear(): void {
    this.members.clear();
    this.asking.clear();
  }
}
