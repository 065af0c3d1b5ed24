/**
 * meshcache: a TypeScript service node with declarative, transparent caching.
 * See README.md for concepts and examples.
 */
import './polyfills.js';

export {
  type BackendContext,
  type BackendStats,
  type CacheBackend,
  type EvictionReason,
  type FastTable,
  type IndexedCacheBackend,
  isIndexed,
  isSynchronous,
  type SyncCacheBackend,
} from './cache/backends/backend.js';
export { estimateSize, MemoryBackend, type MemoryBackendOptions } from './cache/backends/memory.js';
export {
  type BackendDefinition,
  type BackendFactoryContext,
  BUILTIN_BACKENDS,
  defineBackend,
} from './cache/backends/registry.js';
export { canonical, encodeKeyValue } from './cache/keys/builder.js';
export { compileGlob, type Glob } from './cache/keys/glob.js';
export type { CacheManager, CacheStats, ManagementRequest } from './cache/manager.js';
export type { CacheCounters, CacheStatsView } from './cache/operations/metrics.js';
export type { CacheConfigFile, ConfigInput, GlobalCacheConfig } from './cache/setup/config.js';
export { action, cached, type ServiceDecoratorOptions, service } from './cache/setup/decorators.js';
export type {
  ActionDefinition,
  ActionOptions,
  CacheOptions,
  EventRule,
  ResultMode,
  ServiceCacheOptions,
  ServiceDefinition,
} from './cache/setup/options.js';
export { CodecError, decodeValue, encodeValue } from './codec/index.js';
export {
  deserializeError,
  ERROR_CATALOG,
  ERROR_CODES,
  type ErrorCodeInfo,
  fromIssues,
  MeshError,
  type MeshErrorCode,
  type SerializedError,
  serializeError,
} from './errors.js';
export { Node, type NodeOptions } from './mesh-node.js';
export type { MeshNetwork, MeshNetworkEvents } from './network/index.js';
export type { NetworkOptions } from './network/options.js';
export { generatePsk } from './network/psk.js';
export type { CallTarget, EventInfo } from './node/context.js';
export { RequestContext } from './node/context.js';
export { inject, subscribe } from './node/decorators.js';
export { Host, type HostOptions } from './node/host.js';
export type { ActionInfo, ActionInvoker, Interceptor, InterceptorFunction } from './node/interceptors.js';
export { isValidNetworkId } from './node/network-id.js';
export type { NodePart, PartComponents } from './node/part.js';
export type { ActionHandler, EventHandler, Params, RequestOptions } from './node/types.js';
