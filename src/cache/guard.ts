/**
 * Wraps a backend so that nothing it does can fail a request: every operation
 * is bounded by `opTimeoutMs`, errors are counted and logged (once per burst,
 * with a count of what was suppressed), and after `failureThreshold`
 * consecutive failures the backend is skipped for `cooldownMs`; the first call
 * after the cool-down is a trial: success puts the backend back in use, failure
 * starts another cool-down. Defaults: 250 ms, 5 failures, 5 s.
 */
import type { Logger } from 'pino';
import type { CacheBackend } from './backends/backend.js';

/** Failure handling numbers (config `cache.failure`). */
export interface GuardOptions {
  opTimeoutMs: number;
  failureThreshold: number;
  cooldownMs: number;
}

const LOG_WINDOW_MS = 10_000;

class BackendTimeout extends Error {
  override readonly name = 'BackendTimeout';
}

/** A backend with timeouts, error accounting and a circuit breaker. */
export class GuardedBackend {
  /** Errors since creation. */
  errors = 0;
  /** True for backends that hold references (the memory backend): values are stored as snapshots. */
  readonly storesReferences: boolean;
  private consecutive = 0;
  private skipUntil = 0;
  private trial = false;
  private lastLog = 0;
  private suppressed = 0;

  constructor(
    readonly name: string,
    readonly backend: CacheBackend,
    private readonly options: GuardOptions,
    private readonly logger: Logger,
  ) {
    this.storesReferences = (backend as { storesReferences?: boolean }).storesReferences === true;
  }

  /** False while the backend is skipped after repeated failures. */
  get available(): boolean {
    if (this.skipUntil === 0) return true;
    if (Date.now() < this.skipUntil || this.trial) return false;
    this.trial = true;
    return true;
  }

  /** Runs one backend operation with the guard's timeout and accounting. Rejects on failure. */
  run<T>(op: string, call: (b: CacheBackend) => T | Promise<T>): T | Promise<T> {
    let result: T | Promise<T>;
    try {
      result = call(this.backend);
    } catch (err) {
      this.failed(op, err);
      throw err;
    }
    if (!(result instanceof Promise)) {
      if (this.consecutive !== 0 || this.skipUntil !== 0) this.succeeded();
      return result;
    }
    return this.bounded(op, result);
  }

  private bounded<T>(op: string, pending: Promise<T>): Promise<T> {
    const ms = this.options.opTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        const err = new BackendTimeout(`cache backend '${this.name}' ${op} took longer than ${ms} ms`);
        this.failed(op, err);
        reject(err);
      }, ms);
      pending.then(
        (value) => {
          clearTimeout(timer);
          if (this.consecutive !== 0 || this.skipUntil !== 0) this.succeeded();
          resolve(value);
        },
        (err) => {
          clearTimeout(timer);
          this.failed(op, err);
          reject(err);
        },
      );
    });
  }

  /** Records a failure found outside `run` (e.g. a value the cache did not write). */
  failed(op: string, err: unknown): void {
    this.errors++;
    this.consecutive++;
    if (this.trial || this.consecutive >= this.options.failureThreshold) {
      const wasSkipping = this.skipUntil !== 0;
      this.skipUntil = Date.now() + this.options.cooldownMs;
      this.trial = false;
      if (!wasSkipping) {
        this.logger.warn(
          { backend: this.name, failures: this.consecutive, cooldownMs: this.options.cooldownMs },
          `cache backend '${this.name}' skipped after ${this.consecutive} consecutive failures; requests go straight to handlers`,
        );
      }
    }
    const now = Date.now();
    if (now - this.lastLog >= LOG_WINDOW_MS) {
      this.logger.error(
        { err, backend: this.name, op, suppressed: this.suppressed },
        this.suppressed > 0
          ? `cache backend '${this.name}' ${op} failed (${this.suppressed} more errors in the last burst were not logged)`
          : `cache backend '${this.name}' ${op} failed`,
      );
      this.lastLog = now;
      this.suppressed = 0;
    } else {
      this.suppressed++;
    }
  }

  private succeeded(): void {
    if (this.skipUntil !== 0) {
      this.logger.info(
        { backend: this.name },
        `cache backend '${this.name}' is answering again; caching resumed`,
      );
    }
    this.consecutive = 0;
    this.skipUntil = 0;
    this.trial = false;
  }
}
