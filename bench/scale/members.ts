/**
 * A node of the scale benchmark, whether it has an OS process of its own
 * (examples/dht-node.ts, bench/bare-node.ts) or shares one with others
 * (bench/scale/node-host.ts, bare-node.ts --count): commands reach it through
 * its process, naming it by index when the process holds several.
 */
import { fileURLToPath } from 'node:url';
import type { NodeProcess, Reply } from '../../test/helpers/cluster.js';

/** Several meshcache nodes per process (`npm run build:bench` compiles it). */
export const HOST_SCRIPT = fileURLToPath(
  new URL('../../dist-bench/bench/scale/node-host.js', import.meta.url),
);

export interface Member {
  readonly name: string;
  /** Its process; CPU, RSS and I/O of a process are split evenly among the `share` nodes it holds. */
  readonly pid: number;
  readonly share: number;
  call(cmd: Record<string, unknown>, timeoutMs?: number): Promise<Reply>;
  /** Resolves once the node listens for an invalidation of `key`; `applied` is when it applied it. */
  watch(target: { key: string }, timeoutMs?: number): Promise<{ applied: Promise<number> }>;
}

interface HostedInfo {
  readonly name: string;
}

/** The nodes a process holds: one, or those its ready line lists. */
export function membersOf(p: NodeProcess): Member[] {
  const pid = p.child.pid ?? -1;
  const hosted = (p.ready as unknown as { nodes?: HostedInfo[] }).nodes;
  if (hosted === undefined || hosted.length === 1)
    return [
      {
        name: hosted?.[0]?.name ?? p.name,
        pid,
        share: 1,
        call: (cmd, timeoutMs) => p.call(cmd, timeoutMs),
        watch: (target, timeoutMs) => p.watch(target, timeoutMs),
      },
    ];
  return hosted.map((h, node) => ({
    name: h.name,
    pid,
    share: hosted.length,
    call: (cmd, timeoutMs) => p.call({ ...cmd, node }, timeoutMs),
    watch: (target, timeoutMs) => p.watch({ ...target, node } as { key: string }, timeoutMs),
  }));
}

/** Node names `node-<from>` .. for `count` nodes. */
export function nodeNames(prefix: string, from: number, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}-${from + i}`);
}
