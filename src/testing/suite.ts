/** What every group of conformance cases receives from `runBackendConformance`. */
import type { CacheBackend } from '../cache/backends/backend.js';
import type { BackendCapabilities, BackendConformanceOptions } from './index.js';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface Suite<B extends CacheBackend> {
  /** Registers one case: a fresh backend, a scope of its own, cleanup and `close()` after it. */
  run(title: string, body: (b: B, root: string) => Promise<void>): void;
  /** Checks a count returned by clear/revoke: exact when the backend says so, skipped when it returns none. */
  checkCount(got: unknown, expected: number, what: string): void;
  /** The keys listed under `prefix`, sorted; undefined when the backend does not list keys. */
  listKeys(b: B, prefix?: string): Promise<string[] | undefined>;
  /** Writes with the short TTL and checks the value is there; returns when the last write started. */
  setShort(b: B, key: string, value: unknown): Promise<number>;
  /** Waits until an entry written at `start` with the short TTL must be gone. */
  untilGone(start: number): Promise<void>;
  /** The short TTL, in seconds. */
  readonly ttl: number;
  /** When, in ms after the write, an entry with the short TTL must be gone. */
  readonly after: number;
  readonly caps: BackendCapabilities;
  readonly options: BackendConformanceOptions<B>;
}
