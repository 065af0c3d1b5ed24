/**
 * A guard that records an OpenTelemetry span per backend operation (`cache.get
 * redis`, `cache.set memory`, `cache.clear dht`...), child of the span active
 * when the operation starts (a cached call's). The pool builds it instead of
 * `GuardedBackend` only when an SDK is registered at start: without one the
 * guard runs no tracing code.
 */
import { context, type Span, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { CacheBackend } from './backend.js';
import { GuardedBackend, type GuardOptions } from './guard.js';

/** The attribute naming the backend, on backend and cached-call spans. */
export const BACKEND_ATTRIBUTE = 'meshcache.cache.backend';

/** Ends `span` as failed by `err`. */
export function endFailed(span: Span, err: unknown): void {
  span.recordException(err instanceof Error ? err : String(err));
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
  span.end();
}

/** Ends `span` when `result` settles (at once when it is not a promise); returns what `result` gives. */
export function endWith<T>(span: Span, result: T | Promise<T>): T | Promise<T> {
  if (!(result instanceof Promise)) {
    span.end();
    return result;
  }
  return result.then(
    (value) => {
      span.end();
      return value;
    },
    (err: unknown) => {
      endFailed(span, err);
      throw err;
    },
  );
}

export class TracedGuardedBackend extends GuardedBackend {
  constructor(
    name: string,
    backend: CacheBackend,
    options: GuardOptions,
    logger: Logger,
    private readonly tracer: Tracer,
  ) {
    super(name, backend, options, logger);
  }

  override run<T>(
    op: string,
    call: (b: CacheBackend) => T | Promise<T>,
    valid?: (value: T) => boolean,
  ): T | Promise<T> {
    const span = this.start(op);
    let result: T | Promise<T>;
    try {
      result = super.run(op, call, valid);
    } catch (err) {
      endFailed(span, err);
      throw err;
    }
    return endWith(span, result);
  }

  override operation<T>(op: string, call: () => Promise<T>): Promise<T> {
    const span = this.start(op);
    let result: Promise<T>;
    try {
      result = super.operation(op, call);
    } catch (err) {
      endFailed(span, err);
      throw err;
    }
    return endWith(span, result) as Promise<T>;
  }

  private start(op: string): Span {
    return this.tracer.startSpan(
      `cache.${op} ${this.name}`,
      { attributes: { [BACKEND_ATTRIBUTE]: this.name, 'meshcache.cache.operation': op } },
      context.active(),
    );
  }
}
