/**
 * Whether the application installed an OpenTelemetry SDK, decided once when a
 * node starts. Without one, `@opentelemetry/api` hands out no-op tracers, but
 * calling them still costs a context lookup and a span object per call: the
 * parts that trace (the cache, remote calls) install their traced variants
 * only when this returns a tracer, so a node without an SDK runs exactly the
 * code it runs without tracing.
 *
 * An SDK registered after `node.start()` is not seen by that node.
 */
import { type Tracer, type TracerProvider, trace } from '@opentelemetry/api';

/** The instrumentation scope of every meshcache span. */
export const TRACER_NAME = 'meshcache';

interface Delegating {
  getDelegateTracer(name: string, version?: string): Tracer | undefined;
}

/** The tracer of the registered SDK; undefined when none is registered (the API's no-op). */
export function registeredTracer(): Tracer | undefined {
  const provider: TracerProvider = trace.getTracerProvider();
  // The global provider is the API's ProxyTracerProvider, which only has a tracer to delegate
  // to once an SDK set one. Duck-typed: another copy of the API package shares the global
  // provider but not the class.
  const proxy = provider as Partial<Delegating>;
  if (typeof proxy.getDelegateTracer === 'function') return proxy.getDelegateTracer(TRACER_NAME);
  return provider.getTracer(TRACER_NAME);
}
