/** Options of the memory backend (config: `cache.memory`), as a type and as the schema config validates. */
import * as v from 'valibot';
import { strict } from './strict.js';

/** Options of `new MemoryBackend(...)` and of `cache.memory`. */
export interface MemoryBackendOptions {
  /**
   * Most entries kept; the least recently used leave first past it.
   * @default 100_000
   */
  maxEntries?: number;
  /**
   * Most bytes kept, estimated with `sizeOf` (0 = no byte bound).
   * @default 268_435_456 (256 MiB)
   */
  maxBytes?: number;
  /**
   * Background reclaim of expired entries, in ms (0 = only on access).
   * @default 5_000
   */
  sweepIntervalMs?: number;
  /**
   * Estimates the bytes of a value (code only).
   * @default estimateSize
   */
  sizeOf?: (value: unknown) => number;
  /**
   * Clock in epoch ms (tests; code only).
   * @default wallNow (clock.ts)
   */
  now?: () => number;
}

/** Defaults of the memory backend. @see MemoryBackendOptions */
export const MEMORY_DEFAULTS = {
  maxEntries: 100_000,
  maxBytes: 256 * 1024 * 1024,
  sweepIntervalMs: 5_000,
} as const;

/** The `cache.memory` section of a configuration (the code-only fields are not configurable). */
const int = (min: number) => v.optional(v.pipe(v.number(), v.integer(), v.minValue(min)));
export const memoryOptionsSchema = strict({
  maxEntries: int(1),
  maxBytes: int(0),
  sweepIntervalMs: int(0),
});
