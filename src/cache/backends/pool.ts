/**
 * The backends one node has open: each created once, on first use, from the
 * registry (backends/registry.ts), wrapped in a guard (timeouts, circuit
 * breaker), opened with the node's context, and closed when the node stops.
 */
import type { Logger } from 'pino';
import { MeshError } from '../../errors.js';
import type { MeshNetwork } from '../../network/index.js';
import type { LoadedConfig } from '../setup/config.js';
import type { GuardFactory } from '../setup/tracing.js';
import { type CacheBackend, type EvictionReason, isSynchronous } from './backend.js';
import { GuardedBackend } from './guard.js';
import type { BackendRegistry } from './registry.js';

/** What the pool needs from its node. */
export interface PoolContext {
  readonly registry: BackendRegistry;
  readonly config: LoadedConfig;
  readonly logger: Logger;
  readonly networkId: string;
  readonly network: MeshNetwork | undefined;
  /** Told of every entry a backend evicts (for the per-action counters). */
  readonly onEviction: (key: string, reason: EvictionReason) => void;
  /** Builds each backend's guard (a traced one when tracing); `GuardedBackend` when absent. */
  readonly guard?: GuardFactory | undefined;
}

/** What an operator sees of one open backend (stats, Prometheus). */
export interface BackendView {
  name: string;
  errors: number;
  available: boolean;
  /** What holds the entries: `memory` for a `dht` backend on a node without a network. */
  kind?: string;
  entries?: number;
  evictions?: number;
}

/** True for a backend whose data lives outside the process (a near tier may sit in front of it). */
function isRemote(backend: CacheBackend, declared: boolean | undefined): boolean {
  return !isSynchronous(backend) && (backend.remote === true || declared === true);
}

export class BackendPool {
  private readonly guards = new Map<string, GuardedBackend>();
  /** Names of the open backends whose data lives outside the process (near tier). */
  private readonly remotes = new Set<string>();
  /** One creation per name even when several services ask at once. */
  private readonly opening = new Map<string, Promise<GuardedBackend>>();

  constructor(private readonly context: PoolContext) {}

  /** The guarded backend registered under `name`, created and opened on first use. */
  get(name: string, field: string): Promise<GuardedBackend> {
    const existing = this.guards.get(name);
    if (existing !== undefined) return Promise.resolve(existing);
    let pending = this.opening.get(name);
    if (pending === undefined) {
      pending = this.open(name, field).finally(() => this.opening.delete(name));
      this.opening.set(name, pending);
    }
    return pending;
  }

  private async open(name: string, field: string): Promise<GuardedBackend> {
    const { registry, config, logger, network } = this.context;
    const definition = registry.get(name);
    if (definition === undefined) {
      const where = config.file ? ` (configuration file ${config.file})` : '';
      throw new MeshError(
        'CONFIG_INVALID',
        `${field}: unknown cache backend '${name}'${where}; known: ${registry.names().join(', ')}`,
        { field, file: config.file, backend: name },
      );
    }
    const global = config.global;
    const backend: CacheBackend = await definition.create(global.sections[name], {
      prefix: global.prefix,
      replication: global.replication,
      memory: global.sections.memory ?? {},
      network,
      logger,
    });
    const guard =
      this.context.guard?.(name, backend, global.failure, logger) ??
      new GuardedBackend(name, backend, global.failure, logger);
    this.guards.set(name, guard);
    if (isRemote(backend, definition.remote)) this.remotes.add(name);
    backend.onEviction?.(this.context.onEviction);
    await backend.open?.({ networkId: this.context.networkId, logger, network });
    return guard;
  }

  /** True when the backend opened under `name` keeps its data outside the process. */
  isRemote(name: string): boolean {
    return this.remotes.has(name);
  }

  /** True when a backend is open under `name`. */
  has(name: string): boolean {
    return this.guards.has(name);
  }

  /** Every open backend. */
  values(): IterableIterator<GuardedBackend> {
    return this.guards.values();
  }

  /** What stats() and Prometheus show of each backend. */
  views(): BackendView[] {
    return [...this.guards.values()].map((g) => {
      const s = g.backend.stats?.();
      return {
        name: g.name,
        errors: g.errors,
        available: g.usable && s?.connected !== false,
        kind: s?.kind,
        entries: s?.entries,
        evictions: s?.evictions,
      };
    });
  }

  /** Closes every backend; a backend that fails to close is logged, not thrown. */
  async closeAll(): Promise<void> {
    for (const guard of this.guards.values()) {
      guard.dispose();
      try {
        await guard.backend.close?.();
      } catch (err) {
        this.context.logger.warn({ err, backend: guard.name }, 'cache backend close failed');
      }
    }
    this.guards.clear();
  }
}
