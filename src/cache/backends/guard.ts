/**
 * Wraps a backend so that nothing it does can fail a request: every operation
 * is bounded by `opTimeoutMs`, errors are counted and logged (once per burst,
 * with a count of what was suppressed), and after `failureThreshold`
 * consecutive failures of one operation (a working `set` does not hide failing
 * `get`s, nor the reverse) the backend is skipped for `cooldownMs`; the first call
 * after the cool-down is a trial: success puts the backend back in use, failure
 * starts another cool-down. A backend that says it is back (`onAvailable`: Redis when
 * its connection is restored) ends the cool-down at once. Defaults: 250 ms, 5 failures, 5 s.
 */
import type { Logger } from 'pino';
import type { CacheBackend } from './backend.js';

/** Failure handling numbers (config `cache.failure`). */
export interface GuardOptions {
  /** Configured bound of one operation; undefined: the backend's own `operationTimeoutMs`, else 250 ms. */
  opTimeoutMs?: number;
  failureThreshold: number;
  cooldownMs: number;
}

const LOG_WINDOW_MS = 10_000;

/** Bound of one operation of a backend that declares none, when `cache.failure.opTimeoutMs` is not set. */
export const DEFAULT_OP_TIMEOUT_MS = 250;

class BackendTimeout extends Error {
  override readonly name = 'BackendTimeout';
}

/** A backend with timeouts, error accounting and a circuit breaker. */
export class GuardedBackend {
  /** Errors since creation. */
  errors = 0;
  /**
   * The backend bounds every operation itself (it declares `operationTimeoutMs`),
   * within `cache.failure.opTimeoutMs` when that is configured: no timer of ours.
   * A DHT lookup on a large network legitimately takes longer than the 250 ms
   * default meant for backends that say nothing.
   */
  private readonly selfBounded: boolean;
  private readonly timeoutMs: number;
  /** Consecutive failures per operation. */
  private readonly streaks = new Map<string, number>();
  private skipUntil = 0;
  private trial = false;
  private lastLog = 0;
  private suppressed = 0;
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly deadlines = new Map<
    number,
    { deadline: number; op: string; reject: (err: unknown) => void }
  >();

  constructor(
    readonly name: string,
    readonly backend: CacheBackend,
    private readonly options: GuardOptions,
    private readonly logger: Logger,
  ) {
    const own = backend.operationTimeoutMs;
    const configured = options.opTimeoutMs;
    this.selfBounded = typeof own === 'number' && own > 0 && (configured === undefined || own <= configured);
    this.timeoutMs = configured ?? DEFAULT_OP_TIMEOUT_MS;
    backend.onAvailable?.(() => this.recovered());
  }

  /** The backend says it can serve again (a connection that is back): the breaker closes now. */
  private recovered(): void {
    if (this.skipUntil === 0) return;
    this.streaks.clear();
    this.succeeded('reconnect');
  }

  /** False while the backend is skipped after repeated failures. */
  get available(): boolean {
    if (this.skipUntil === 0) return true;
    if (Date.now() < this.skipUntil || this.trial) return false;
    this.trial = true;
    return true;
  }

  /** Like `available`, without claiming the trial call (for stats and metrics, which only look). */
  get usable(): boolean {
    return this.skipUntil === 0 || (!this.trial && Date.now() >= this.skipUntil);
  }

  /**
   * Runs one backend operation with the guard's timeout and accounting. Rejects on failure;
   * an answer `valid` refuses (a value the cache never wrote) is a failure of the operation too.
   */
  run<T>(
    op: string,
    call: (b: CacheBackend) => T | Promise<T>,
    valid?: (value: T) => boolean,
  ): T | Promise<T> {
    let result: T | Promise<T>;
    try {
      result = call(this.backend);
    } catch (err) {
      this.failed(op, err);
      throw err;
    }
    if (!(result instanceof Promise)) return this.accept(op, result, valid);
    return this.selfBounded ? this.settled(op, result, valid) : this.bounded(op, result, valid);
  }

  /**
   * Runs a management operation (clear, delete, revoke, tags), which has its own bound and
   * accounting (coherence/backend-ops.ts); the traced guard records a span around it.
   */
  operation<T>(_op: string, call: () => Promise<T>): Promise<T> {
    return call();
  }

  /** Accounting only, for backends that bound their own operations: one promise, no timer. */
  private settled<T>(
    op: string,
    pending: Promise<T>,
    valid: ((value: T) => boolean) | undefined,
  ): Promise<T> {
    return pending.then(
      (value) => this.accept(op, value, valid),
      (err) => {
        this.failed(op, err);
        throw err;
      },
    );
  }

  /** An answer: counted as a success, or (one the cache did not write) as a failure, thrown. */
  private accept<T>(op: string, value: T, valid: ((value: T) => boolean) | undefined): T {
    if (valid !== undefined && !valid(value)) {
      const err = new TypeError(
        `cache backend '${this.name}' ${op} returned a value the cache did not write`,
      );
      this.failed(op, err);
      throw err;
    }
    if (this.streaks.size !== 0 || this.skipUntil !== 0) this.succeeded(op);
    return value;
  }

  /**
   * Bounds a pending operation by `opTimeoutMs`. Deadlines are kept in one
   * insertion-ordered map checked by a single timer (every quarter of the
   * timeout, only while operations are pending), instead of a setTimeout and
   * clearTimeout per operation: on a Redis hit path doing 100k+ operations a
   * second that per-operation timer was measurable.
   */
  private bounded<T>(
    op: string,
    pending: Promise<T>,
    valid: ((value: T) => boolean) | undefined,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const id = ++this.seq;
      this.deadlines.set(id, { deadline: Date.now() + this.timeoutMs, op, reject });
      if (this.timer === undefined) this.armTimer();
      pending.then(
        (value) => {
          if (!this.deadlines.delete(id)) return;
          try {
            resolve(this.accept(op, value, valid));
          } catch (err) {
            reject(err);
          }
        },
        (err) => {
          if (!this.deadlines.delete(id)) return;
          this.failed(op, err);
          reject(err);
        },
      );
    });
  }

  private armTimer(): void {
    const every = Math.max(1, Math.floor(this.timeoutMs / 4));
    this.timer = setInterval(() => {
      const now = Date.now();
      for (const [id, entry] of this.deadlines) {
        if (entry.deadline > now) break;
        this.deadlines.delete(id);
        const err = new BackendTimeout(
          `cache backend '${this.name}' ${entry.op} took longer than ${this.timeoutMs} ms`,
        );
        this.failed(entry.op, err);
        entry.reject(err);
      }
      if (this.deadlines.size === 0) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    }, every);
    // Not unref'd: somebody awaits each pending operation, and the timer exists only while one is pending.
  }

  /** Stops the deadline timer (pending operations are left to settle by themselves). */
  dispose(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.deadlines.clear();
  }

  /** Records a failure found outside `run` (e.g. a value the cache did not write). */
  failed(op: string, err: unknown): void {
    this.errors++;
    const streak = (this.streaks.get(op) ?? 0) + 1;
    this.streaks.set(op, streak);
    if (this.trial || streak >= this.options.failureThreshold) {
      const wasSkipping = this.skipUntil !== 0;
      this.skipUntil = Date.now() + this.options.cooldownMs;
      this.trial = false;
      if (!wasSkipping) {
        this.logger.warn(
          { backend: this.name, failures: streak, cooldownMs: this.options.cooldownMs },
          `cache backend '${this.name}' skipped after ${streak} consecutive ${op} failures; requests go straight to handlers`,
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

  private succeeded(op: string): void {
    if (this.skipUntil !== 0) {
      this.logger.info(
        { backend: this.name },
        `cache backend '${this.name}' is answering again; caching resumed`,
      );
    }
    this.streaks.delete(op);
    this.skipUntil = 0;
    this.trial = false;
  }
}
