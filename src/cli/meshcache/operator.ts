/**
 * The operator's member of a network: a node that hosts nothing, joined under
 * the operator's own identity, so that every management call it makes is
 * decided by the hosting nodes' `cache.access.peers`. Everything the command
 * and the dashboard do goes through `callOn`: one call to one named member.
 */
import '../../polyfills.js';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { pino } from 'pino';
import type { CacheStats } from '../../cache/operations/stats.js';
import { MeshError } from '../../errors.js';
import { Node } from '../../mesh-node.js';
import { loadIdentity } from '../../network/identity.js';
import type { MeshNetwork } from '../../network/index.js';

/** Where the operator's key lives unless `--identity` or MESHCACHE_IDENTITY says otherwise. */
export function defaultIdentityPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'meshcache', 'identity.key');
}

export interface ConnectOptions {
  network: string;
  bootstrap: string[];
  psk?: string;
  identity: string;
  /** Longest wait for the members and their catalogs, and the deadline of each call, ms. */
  timeoutMs: number;
}

/** The peer id of the key at `path` (created if missing), without joining anything. */
export async function peerIdOf(path: string): Promise<string> {
  return peerIdFromPrivateKey(await loadIdentity(path)).toString();
}

/** What a member says about itself (`$node/info`), or why it did not. */
export interface MemberInfo {
  peerId: string;
  services: string[];
  /** Services whose cache this member manages (its catalog lists `<service>/cache/clear`). */
  cached: string[];
  info?: Record<string, unknown>;
  error?: { code: string; message: string };
}

export interface MemberStats {
  peerId: string;
  services: string[];
  stats?: CacheStats;
  error?: { code: string; message: string };
}

/** `{ code, message }` of anything thrown. */
export function failure(err: unknown): { code: string; message: string } {
  const code = MeshError.is(err) ? err.code : String((err as { code?: unknown })?.code ?? 'ERROR');
  return { code, message: String((err as Error)?.message ?? err) };
}

export class Operator {
  private seq = 0;

  private constructor(
    readonly node: Node,
    private readonly timeoutMs: number,
  ) {}

  /** Joins the network and waits (bounded) until the members it found and their catalogs are known. */
  static async connect(options: ConnectOptions, progress?: (members: number) => void): Promise<Operator> {
    const node = new Node({
      env: {},
      logger: pino({ level: 'silent' }),
      network: {
        id: options.network,
        bootstrap: options.bootstrap,
        identity: options.identity,
        ...(options.psk === undefined ? {} : { psk: options.psk }),
      },
      config: { cache: { backend: 'memory' } },
    });
    await node.start();
    const operator = new Operator(node, options.timeoutMs);
    try {
      await operator.settle(options.timeoutMs, progress);
    } catch (err) {
      await node.stop().catch(() => undefined);
      throw err;
    }
    return operator;
  }

  get network(): MeshNetwork {
    return this.node.network!;
  }

  get peerId(): string {
    return this.network.peerId;
  }

  /** The members seen now. */
  members(): string[] {
    return this.network.peers().sort();
  }

  /**
   * Waits until at least one member is seen, every member's catalog is in,
   * and the set of members stayed the same for a moment (members found
   * through the first one keep arriving just after the join).
   */
  private async settle(timeoutMs: number, progress?: (members: number) => void): Promise<void> {
    const until = Date.now() + timeoutMs;
    const quietMs = 600;
    let last = '';
    let since = Date.now();
    for (;;) {
      const members = this.members();
      const key = members.join(',');
      if (key !== last) {
        last = key;
        since = Date.now();
      }
      progress?.(members.length);
      const catalogsIn = members.every((p) => this.network.catalogs.of(p) !== undefined);
      if (members.length > 0 && catalogsIn && Date.now() - since >= quietMs) {
        // A member counts this node among its peers and not itself: it sees as many as we should.
        if (members.length >= (await this.largestView(members))) return;
        since = Date.now();
      }
      if (Date.now() >= until) {
        if (members.length > 0) return;
        throw new MeshError(
          'UNAVAILABLE',
          `no member of network '${this.network.networkId}' answered within ${timeoutMs} ms (check --bootstrap, --network and --psk)`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** The most members any of `members` says it sees (`$node/info`), 0 when none answers. */
  private async largestView(members: string[]): Promise<number> {
    const counts = await Promise.all(
      members.map((p) =>
        this.callOn<{ members?: unknown }>(p, '$node/info').then(
          (i) => (typeof i.members === 'number' ? i.members : 0),
          () => 0,
        ),
      ),
    );
    return Math.max(0, ...counts);
  }

  /** The services a member hosts, from its catalog. */
  servicesOf(peer: string): { services: string[]; cached: string[] } {
    const catalog = this.network.catalogs.of(peer);
    const services = (catalog?.services ?? []).map((s) => s.name).sort();
    const cached = (catalog?.services ?? [])
      .filter((s) => s.actions.some((a) => a.name === 'cache/clear'))
      .map((s) => s.name)
      .sort();
    return { services, cached };
  }

  /** The members hosting `service` (and `action` when given). */
  hostsOf(service: string, action?: string): string[] {
    const members = new Set(this.members());
    return this.network.catalogs
      .hostsOf(service, action)
      .filter((p) => members.has(p))
      .sort();
  }

  /** Calls `path` on the member `peer`, within the operator's deadline. */
  callOn<R = unknown>(peer: string, path: string, params: Record<string, unknown> = {}): Promise<R> {
    return this.network.calls.callOn(peer, {
      path,
      params,
      deadline: Date.now() + this.timeoutMs,
      meta: {},
      cache: undefined,
      requestId: `meshcache-${process.pid}-${(++this.seq).toString(36)}`,
      caller: undefined,
    }) as Promise<R>;
  }

  /** `$node/info` of every member. */
  async infos(): Promise<MemberInfo[]> {
    return Promise.all(
      this.members().map(async (peerId): Promise<MemberInfo> => {
        const { services, cached } = this.servicesOf(peerId);
        try {
          const info = await this.callOn<Record<string, unknown>>(peerId, '$node/info');
          return { peerId, services, cached, info };
        } catch (err) {
          return { peerId, services, cached, error: failure(err) };
        }
      }),
    );
  }

  /** `$node/stats` (the member's `cache.stats()`) of every member. */
  async stats(): Promise<MemberStats[]> {
    return Promise.all(
      this.members().map(async (peerId): Promise<MemberStats> => {
        const { services } = this.servicesOf(peerId);
        try {
          return { peerId, services, stats: await this.callOn<CacheStats>(peerId, '$node/stats') };
        } catch (err) {
          return { peerId, services, error: failure(err) };
        }
      }),
    );
  }

  async close(): Promise<void> {
    await this.node.stop();
  }
}
