/**
 * Whether the application installed an OpenTelemetry SDK, decided once when a
 * node (or its network) starts. Without one, `@opentelemetry/api` hands out
 * no-op tracers, but calling them still costs a context lookup and a span
 * object per call, and loading the API costs start-up time: the parts that
 * trace (the cache, remote calls) load their traced variants only when this
 * returns a tracer, so a node without an SDK neither loads nor runs any
 * tracing code.
 *
 * An SDK registered after `node.start()` is not seen by that node.
 */
import type { Tracer, TracerProvider } from '@opentelemetry/api';

/** The instrumentation scope of every meshcache span. */
export const TRACER_NAME = 'meshcache';

/**
 * Where every copy of `@opentelemetry/api` 1.x keeps what was registered with it: a
 * `trace` entry exists once an SDK set a tracer provider (and is removed by `trace.disable()`).
 */
const API_GLOBALS = Symbol.for('opentelemetry.js.api.1');

interface Delegating {
  getDelegateTracer(name: string): Tracer | undefined;
}

/** The tracer of the registered SDK; undefined when none is registered (the API's no-op). */
export async function registeredTracer(): Promise<Tracer | undefined> {
  const globals = (globalThis as Record<symbol, { trace?: unknown } | undefined>)[API_GLOBALS];
  if (globals?.trace === undefined) return undefined;
  const { trace } = await import('@opentelemetry/api');
  const provider: TracerProvider = trace.getTracerProvider();
  // The global provider is the API's ProxyTracerProvider, which only has a tracer to delegate
  // to once an SDK set one. Duck-typed: another copy of the API package shares the global
  // provider but not the class.
  const proxy = provider as Partial<Delegating>;
  if (typeof proxy.getDelegateTracer === 'function') return proxy.getDelegateTracer(TRACER_NAME);
  return provider.getTracer(TRACER_NAME);
}
