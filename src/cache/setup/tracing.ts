/**
 * The cache's tracing, decided once at start: undefined unless the application
 * registered an OpenTelemetry SDK, in which case the traced guard
 * (backends/traced-guard.ts) and the traced invoker (read/traced.ts) are
 * loaded. Without an SDK neither is loaded, and each action's invoker is the
 * plain lookup.
 */
import type { Logger } from 'pino';
import type { ActionInvoker } from '../../node/interceptors.js';
import { registeredTracer } from '../../node/tracing.js';
import type { CacheBackend } from '../backends/backend.js';
import type { GuardedBackend, GuardOptions } from '../backends/guard.js';
import type { ActionCache } from '../read/action-cache.js';

/** Builds the guard of a backend (the pool opens each backend behind one). */
export type GuardFactory = (
  name: string,
  backend: CacheBackend,
  options: GuardOptions,
  logger: Logger,
) => GuardedBackend;

export interface CacheTracing {
  readonly guard: GuardFactory;
  /** The traced invoker around an action's chosen lookup. */
  readonly invoker: (ac: ActionCache, next: ActionInvoker) => ActionInvoker;
}

/** The cache's tracing when an SDK is registered; `keys`: `cache.tracing.keys`. */
export async function cacheTracing(keys: boolean): Promise<CacheTracing | undefined> {
  const tracer = await registeredTracer();
  if (tracer === undefined) return undefined;
  const [{ TracedGuardedBackend }, { tracedInvoker }] = await Promise.all([
    import('../backends/traced-guard.js'),
    import('../read/traced.js'),
  ]);
  return {
    guard: (name, backend, options, logger) =>
      new TracedGuardedBackend(name, backend, options, logger, tracer),
    invoker: (ac, next) => tracedInvoker(ac, next, tracer, keys),
  };
}
