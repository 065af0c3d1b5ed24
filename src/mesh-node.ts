/**
 * The `Node` users import: the host (src/node) composed with the caching part
 * and, when `network` options are given, the P2P network part. This file is
 * the one place that knows all three.
 */
import type { CacheBackend } from './cache/backends/backend.js';
import type { BackendDefinition } from './cache/backends/registry.js';
import { CacheManager } from './cache/manager.js';
import type { ConfigInput } from './cache/setup/config.js';
import { MeshError } from './errors.js';
import type { MeshNetwork } from './network/index.js';
import type { NetworkOptions } from './network/options.js';
import { NetworkPart } from './network/part.js';
import { Host, type HostOptions } from './node/host.js';
import type { NodePart } from './node/part.js';

/** Options of `new Node(...)`. */
export interface NodeOptions extends HostOptions {
  /**
   * The network this node belongs to; `network.id` wins when given.
   * @default 'default'
   */
  networkId?: string;
  /**
   * Cache configuration: a path to a JSON or YAML file, or an object
   * `{ file?, cache?, services? }` whose values override the file's and the environment's.
   * @default `CACHE_CONFIG` when set, else built-in defaults
   */
  config?: string | ConfigInput;
  /**
   * Custom cache backends by name, chosen with `cache.backend: '<name>'` or per action:
   * an instance, or a definition (`defineBackend({ optionsSchema, create })`) whose options
   * come from the configuration's `cache.<name>` section.
   * @default {}
   */
  backends?: Record<string, CacheBackend | BackendDefinition>;
  /**
   * Joins a P2P network (libp2p): events go network-wide and the DHT backend becomes available.
   * @default undefined (no network: a node of one process)
   */
  network?: NetworkOptions;
  /**
   * Environment to read `CACHE_*` variables from.
   * @default process.env
   */
  env?: Record<string, string | undefined>;
  /**
   * More parts to run in this node, after the network and the cache (see `NodePart`).
   * @default []
   */
  parts?: readonly NodePart[];
}

function checkOptions(options: unknown): asserts options is NodeOptions {
  if (options === null || typeof options !== 'object') {
    throw new MeshError('CONFIG_INVALID', 'new Node(options): options must be an object');
  }
}

/**
 * A service node: hosts services, routes `service/action` calls through the
 * interceptor chain (caching is its innermost link), and delivers events.
 */
export class Node extends Host {
  /** The cache manager: stats, metrics and backends. */
  readonly cache: CacheManager;
  readonly options: NodeOptions;
  private readonly networkPart: NetworkPart | undefined;

  constructor(options: NodeOptions = {}) {
    checkOptions(options);
    const networkPart = options.network === undefined ? undefined : new NetworkPart(options.network);
    const cache = new CacheManager({
      config: options.config,
      env: options.env,
      backends: options.backends,
      network: () => networkPart?.network,
    });
    const parts: NodePart[] = networkPart === undefined ? [cache] : [networkPart, cache];
    if (options.parts !== undefined) parts.push(...options.parts);
    super({ ...options, networkId: options.network?.id ?? options.networkId }, parts);
    this.options = options;
    this.cache = cache;
    this.networkPart = networkPart;
  }

  /**
   * The P2P layer, once started with `network` options: `peers()`,
   * `addresses()`, and the events `peer:join` / `peer:leave` (peer id).
   */
  get network(): MeshNetwork | undefined {
    return this.networkPart?.network;
  }

  /** Starts the node; then warns about cache configuration naming services or actions it does not host. */
  override async start(): Promise<void> {
    await super.start();
    this.cache.checkNames();
  }
}
