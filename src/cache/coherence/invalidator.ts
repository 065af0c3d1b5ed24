/**
 * Every invalidation of a node, its own or another node's, in one place.
 *
 * This node's (`clear`, `delete`, `revoke`, `tags`): the fence first (running
 * misses will not store), the near copies dropped, the backends asked (each
 * within the management bound, `cache.failure.managementTimeoutMs`), then the
 * near copies filled meanwhile dropped again and every channel told, even when
 * a backend failed (the other nodes still drop their copies).
 *
 * Another node's (`apply`, from the network bus): the fence on the services
 * it touches, the near copies, and this node's in-process backends (the
 * memory backend holds what only the bus can reach). A possible miss (`flush`)
 * drops all of these.
 */
import type { Logger } from 'pino';
import { MeshError } from '../../errors.js';
import type { GuardedBackend } from '../backends/guard.js';
import { hashKey } from '../keys/builder.js';
import { keyForms } from '../keys/forms.js';
import { compileGlob } from '../keys/glob.js';
import type { ServiceCache } from '../read/action-cache.js';
import { changeBackends, changeLocalBackends } from './backend-ops.js';
import type { Change, ChangeSink } from './change.js';
import { fence } from './fence.js';
import type { NearTiers } from './near-tiers.js';
import { validTag } from './tag-records.js';

/** What the invalidator needs from the cache. */
export interface InvalidatorContext {
  readonly logger: Logger;
  readonly maxKeyLength: number;
  readonly managementTimeoutMs: number;
  /** `<prefix><networkId>/$tags/`: the tag record base of this node's network. */
  readonly tagBase: string;
  /** The service's cache state; throws NOT_FOUND when it has no cached actions. */
  service(name: string): ServiceCache;
  /** Every cached service. */
  services(): Iterable<ServiceCache>;
  /** Every open backend (network-wide tag invalidations reach them all). */
  backends(): Iterable<GuardedBackend>;
  /** Whether a guard's backend keeps its data outside the process. */
  remote(guard: GuardedBackend): boolean;
  readonly near: NearTiers;
}

export class Invalidator implements ChangeSink {
  constructor(private readonly context: InvalidatorContext) {}

  /** Removes every entry of a service; returns how many. */
  async clear(service: string): Promise<number> {
    const svc = this.context.service(service);
    const counts = await this.run([svc], svc.guards, svc.scope, { op: 'clear' });
    return counts.reduce<number>((n, c) => n + (typeof c === 'number' ? c : 0), 0);
  }

  /** Removes one entry of a service by action key (`get_user:123`); true if it was there. */
  async delete(service: string, key: string): Promise<boolean> {
    const svc = this.context.service(service);
    // An over-long key was stored hashed under the name of the action that built it: its own head for
    // `keys` (`get_user:...`), anything for a key function (`custom:...`), so try each cached action.
    const keys =
      key.length > this.context.maxKeyLength
        ? [...svc.actions.keys()].map((action) => hashKey(action, key))
        : keyForms(key);
    const found = await this.run([svc], svc.guards, svc.scope, { op: 'delete', keys });
    return found.flat().some(Boolean);
  }

  /**
   * How many holders a delete just resolved reached, on backends that keep copies on
   * several machines (the fewest over the key's stored forms); undefined on others.
   */
  reach(service: string, key: string): { reached: number; holders: number } | undefined {
    const svc = this.context.service(service);
    let out: { reached: number; holders: number } | undefined;
    for (const g of svc.guards) {
      if (g.backend.deleteReach === undefined) continue;
      for (const k of keyForms(key)) {
        const r = g.backend.deleteReach(svc.scope + k);
        if (r !== undefined && (out === undefined || r.holders - r.reached > out.holders - out.reached))
          out = r;
      }
    }
    return out;
  }

  /** Removes the entries of a service whose action key matches a glob; returns how many. */
  async revoke(service: string, pattern: string): Promise<number> {
    const glob = compileGlob(pattern);
    const svc = this.context.service(service);
    const counts = await this.run([svc], svc.guards, svc.scope, { op: 'revoke', pattern, glob });
    return counts.reduce<number>((n, c) => n + (c as number), 0);
  }

  /**
   * Invalidates every entry carrying one of `tags`: of one service, or (`service` undefined)
   * of every service, on every backend of the node.
   */
  async tags(service: string | undefined, tags: readonly string[]): Promise<{ invalidated: string[] }> {
    const services = service === undefined ? [...this.context.services()] : [this.context.service(service)];
    const list = checkTags(tags);
    const guards = service === undefined ? this.context.backends() : services[0].guards;
    await this.run(services, guards, `${this.context.tagBase}${service ?? '*'}/`, { op: 'tags', tags: list });
    return { invalidated: list };
  }

  /** A write that replaced a value (a refresh): the other nodes drop their copies. */
  replaced(svc: ServiceCache, key: string): void {
    this.publish(svc.scope, { op: 'delete', keys: [key.slice(svc.scope.length)] });
  }

  private async run(
    services: Iterable<ServiceCache>,
    guards: Iterable<GuardedBackend>,
    scope: string,
    change: Change,
  ): Promise<unknown[]> {
    fence(services);
    const near = this.context.near;
    near.apply(scope, change);
    try {
      return await changeBackends(guards, scope, change, this.context.managementTimeoutMs);
    } finally {
      near.apply(scope, change);
      this.publish(scope, change);
    }
  }

  private publish(scope: string, change: Change): void {
    if (change.op === 'tags') {
      // A tag no entry can carry needs no notice: receivers would skip it anyway.
      const carried = change.tags.filter(validTag);
      if (carried.length === 0) return;
      change = { op: 'tags', tags: carried };
    }
    for (const channel of this.context.near.channels()) channel.publish(scope, change);
  }

  /** Another node's change (`scope`: a service scope, or a tag record base). */
  apply(scope: string, change: Change): void {
    let services: ServiceCache[];
    if (change.op === 'tags') {
      const base = this.context.tagBase;
      if (!scope.startsWith(base) || !scope.endsWith('/')) return; // not a record base of this network
      const service = scope.slice(base.length, -1);
      const tags = change.tags.filter(validTag);
      if (tags.length === 0) return;
      change = { op: 'tags', tags };
      services = [...this.context.services()].filter((svc) => service === '*' || svc.name === service);
    } else services = [...this.context.services()].filter((svc) => svc.scope === scope);
    this.context.near.apply(scope, change);
    fence(services);
    changeLocalBackends(this.localGuards(services), scope, change);
  }

  /**
   * Changes were missed (a gap, a reconnection): drop what they could have touched.
   * `first`: the node's first peer arrived, not a return after losing every peer.
   */
  flush(why: string, first = false, quietly = false): void {
    // A normal start caches nothing before its first peer: the flush still runs (it also
    // stops misses already running from storing), but there is nothing worth saying.
    const quiet = quietly || (first && !this.cachedAnything());
    this.context.near.flush();
    const services = [...this.context.services()];
    fence(services);
    let local = 0;
    for (const svc of services) {
      const guards = this.localGuards([svc]);
      local += guards.length;
      changeLocalBackends(guards, svc.scope, { op: 'clear' });
    }
    if (quiet) return;
    this.context.logger.info(
      { why, localScopesCleared: local },
      first
        ? 'near tier: flushed what was cached before the first peer joined (invalidations sent before then could not reach this node)'
        : 'near tier: flushed (invalidation notices may have been missed)',
    );
  }

  /** True once this node stored an entry (a near copy comes from a stored or read entry too). */
  private cachedAnything(): boolean {
    for (const svc of this.context.services())
      for (const ac of svc.actions.values()) if (ac.stats.stores > 0 || ac.stats.hits > 0) return true;
    return false;
  }

  private localGuards(services: Iterable<ServiceCache>): GuardedBackend[] {
    const out: GuardedBackend[] = [];
    for (const svc of services) for (const g of svc.guards) if (!this.context.remote(g)) out.push(g);
    return out;
  }
}

/** A list of tags for invalidation: non-empty strings; INVALID_PARAMS otherwise. */
function checkTags(tags: unknown): string[] {
  if (
    !Array.isArray(tags) ||
    tags.length === 0 ||
    !tags.every((t) => typeof t === 'string' && t.length > 0)
  ) {
    throw new MeshError('INVALID_PARAMS', 'tags must be a non-empty array of non-empty strings', {
      field: 'tags',
    });
  }
  return [...new Set(tags as string[])];
}
