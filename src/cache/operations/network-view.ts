/**
 * The network as a whole, seen from one node: every member's services (from
 * what it announced) and its `cache.stats()` (its `$node/stats`, readable by
 * the peers its `cache.access.peers` allows), each within a deadline; a member
 * that does not answer in time, or refuses, is listed with the error.
 */
import { MeshError } from '../../errors.js';
import type { MeshNetwork } from '../../network/index.js';
import type { CacheStats } from './stats.js';

/** One member in `node.cache.networkStats()`. */
export interface NodeStatsEntry {
  readonly peerId: string;
  readonly services: string[];
  /** That node's `cache.stats()`, when it answered. */
  readonly stats?: CacheStats;
  /** Why there are no stats: `{ code, message }` (ACCESS_DENIED, TIMEOUT, UNAVAILABLE, ...). */
  readonly error?: { readonly code: string; readonly message: string };
}

/** What `node.cache.networkStats()` resolves. */
export interface NetworkStats {
  readonly nodes: NodeStatsEntry[];
}

/** Options of `networkStats`. */
export interface NetworkStatsOptions {
  /**
   * Longest wait for each member's answer, ms.
   * @default 2000
   */
  readonly timeoutMs?: number;
}

export async function networkStats(
  network: MeshNetwork | undefined,
  own: { services: string[]; stats: () => CacheStats },
  options: NetworkStatsOptions = {},
): Promise<NetworkStats> {
  const timeoutMs = options.timeoutMs ?? 2_000;
  if (!(typeof timeoutMs === 'number' && timeoutMs > 0 && Number.isFinite(timeoutMs)))
    throw new MeshError('INVALID_PARAMS', 'networkStats: timeoutMs must be a number of ms > 0', {
      field: 'timeoutMs',
    });
  const self: NodeStatsEntry = {
    peerId: network?.started ? network.peerId : 'local',
    services: own.services,
    stats: own.stats(),
  };
  if (network === undefined || !network.started) return { nodes: [self] };
  const deadline = Date.now() + timeoutMs;
  const others = await Promise.all(
    network.peers().map(async (peer): Promise<NodeStatsEntry> => {
      const services = (network.catalogs.of(peer)?.services ?? []).map((s) => s.name);
      try {
        const stats = (await network.calls.callOn(peer, {
          path: '$node/stats',
          params: {},
          deadline,
          meta: {},
          cache: undefined,
          requestId: `stats-${Date.now().toString(36)}`,
          caller: undefined,
        })) as CacheStats;
        return { peerId: peer, services, stats };
      } catch (err) {
        const code = MeshError.is(err) ? err.code : String((err as { code?: unknown }).code ?? 'ERROR');
        return { peerId: peer, services, error: { code, message: (err as Error).message } };
      }
    }),
  );
  return { nodes: [self, ...others.sort((a, b) => a.peerId.localeCompare(b.peerId))] };
}
