/**
 * Backends as registered parts: each is a name, the schema of its options
 * section (`cache.<name>` in a configuration) and a factory. The built-in
 * memory, Redis and DHT backends register exactly as a custom one does; the
 * configuration takes its sections' schemas from here. Factories import their
 * backend lazily, so a memory-only node loads neither ioredis nor libp2p.
 */
import type { Logger } from 'pino';
import * as v from 'valibot';
import { MeshError } from '../../errors.js';
import type { MeshNetwork } from '../../network/index.js';
import type { CacheBackend } from './backend.js';
import { MEMORY_DEFAULTS, memoryOptionsSchema } from './memory-options.js';
import { redisOptionsSchema } from './redis-options.js';

/** What a backend factory is given. */
export interface BackendFactoryContext {
  /** The global settings every backend may use. */
  readonly prefix: string;
  readonly replication: number;
  /** The memory backend's options (a backend that falls back to memory uses them). */
  readonly memory: Readonly<Record<string, unknown>>;
  readonly network: MeshNetwork | undefined;
  readonly logger: Logger;
}

/** A backend kind: `name`, the schema of `cache.<name>`, and how to make one. */
export interface BackendDefinition<O = any> {
  readonly name: string;
  /** Validates the `cache.<name>` section; absent: the backend takes no options section. */
  readonly optionsSchema?: v.GenericSchema<unknown, O>;
  /**
   * The backends it makes keep their data outside the process (like `remote: true` on
   * the instance): the caching layer puts a near tier in front of them.
   */
  readonly remote?: boolean;
  /** Options used when the configuration has no section (merged under it when it has one). */
  readonly defaults?: Readonly<Partial<O>>;
  /** Makes the backend from its merged options section (undefined when there is none). */
  create(options: O | undefined, context: BackendFactoryContext): CacheBackend | Promise<CacheBackend>;
}

/** Defines a backend kind (an identity function that keeps the options type). */
export function defineBackend<O>(definition: BackendDefinition<O>): BackendDefinition<O> {
  return definition;
}

const memory = defineBackend({
  name: 'memory',
  optionsSchema: memoryOptionsSchema,
  defaults: MEMORY_DEFAULTS,
  async create(options) {
    const { MemoryBackend } = await import('./memory.js');
    return new MemoryBackend(options);
  },
});

const redis = defineBackend({
  name: 'redis',
  optionsSchema: redisOptionsSchema,
  async create(options, context) {
    const o: { url?: string; host?: string; cluster?: unknown; sentinels?: unknown } = options ?? {};
    // Said once at start: writing to whatever listens on the default port, unasked, is a surprise.
    if (o.url === undefined && o.host === undefined && o.cluster === undefined && o.sentinels === undefined)
      context.logger.warn(
        'cache backend redis: no CACHE_REDIS_URL nor cache.redis url/host/cluster/sentinels given: using the default 127.0.0.1:6379',
      );
    const { RedisBackend } = await import('./redis.js');
    return new RedisBackend(options ?? {});
  },
});

const dht = defineBackend({
  name: 'dht',
  remote: true,
  // Validated field by field by the backend itself (its defaults need `cache.prefix` and `cache.replication`).
  optionsSchema: v.record(v.string(), v.unknown()),
  async create(options, context) {
    if (context.network === undefined) {
      context.logger.warn(
        "cache backend 'dht' needs the node to join a network (new Node({ network })); caching in local memory instead",
      );
      return memory.create(context.memory, context);
    }
    const { DhtBackend } = await import('./dht/index.js');
    return new DhtBackend({ replication: context.replication, prefix: context.prefix, ...options });
  },
});

/** The built-in backend kinds, in the order error messages list them. */
export const BUILTIN_BACKENDS: readonly BackendDefinition[] = [memory, redis, dht];

/** True for a value that looks like a backend instance (the four required methods). */
export function isBackend(value: unknown): value is CacheBackend {
  const b = value as Partial<CacheBackend> | null;
  return (
    typeof b === 'object' &&
    b !== null &&
    typeof b.get === 'function' &&
    typeof b.set === 'function' &&
    typeof b.delete === 'function' &&
    typeof b.clear === 'function'
  );
}

function isDefinition(value: unknown): value is BackendDefinition {
  return typeof (value as BackendDefinition | null)?.create === 'function';
}

/** The backend kinds a node knows: the built-ins, then the user's (by instance or by definition). */
export class BackendRegistry {
  private readonly kinds = new Map<string, BackendDefinition>();

  constructor(custom: Readonly<Record<string, unknown>> = {}) {
    for (const def of BUILTIN_BACKENDS) this.kinds.set(def.name, def);
    for (const [name, value] of Object.entries(custom)) {
      if (isDefinition(value) && !isBackend(value)) {
        this.kinds.set(name, { ...value, name });
      } else if (isBackend(value)) {
        // An instance under a built-in's name keeps that name's options section valid in configurations.
        this.kinds.set(name, {
          name,
          optionsSchema: this.kinds.get(name)?.optionsSchema,
          create: () => value,
        });
      } else {
        throw new MeshError(
          'CONFIG_INVALID',
          `backend '${name}' does not implement get/set/delete/clear (nor is it a definition with create())`,
          { field: `backends.${name}` },
        );
      }
    }
  }

  get(name: string): BackendDefinition | undefined {
    return this.kinds.get(name);
  }

  names(): string[] {
    return [...this.kinds.keys()];
  }

  /** The options section schemas, by backend name (for the configuration schema). */
  sections(): Record<string, v.GenericSchema> {
    const out: Record<string, v.GenericSchema> = {};
    for (const def of this.kinds.values())
      if (def.optionsSchema !== undefined) out[def.name] = def.optionsSchema;
    return out;
  }
}
