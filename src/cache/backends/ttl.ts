/**
 * The one rule for TTLs, shared by the configuration schema and every built-in
 * backend: a finite number of seconds >= 0, fractions allowed, 0 = no expiry.
 * A negative, NaN or infinite TTL is refused everywhere (CONFIG_INVALID from
 * configuration or a declaration, INVALID_PARAMS from a backend called
 * directly), never stored "forever" by one backend and rejected by another.
 */
import { MeshError } from '../../errors.js';

/** What a TTL must be, for messages. */
export const TTL_RULE = 'a finite number of seconds >= 0 (0 = no expiry)';

/** True for a usable TTL: a finite number >= 0. */
export function isValidTtl(ttlSeconds: unknown): ttlSeconds is number {
  return typeof ttlSeconds === 'number' && ttlSeconds >= 0 && ttlSeconds !== Number.POSITIVE_INFINITY;
}

/** Throws MeshError INVALID_PARAMS (details: key, ttl) unless `ttlSeconds` is a usable TTL. */
export function assertTtl(ttlSeconds: number, key: string): void {
  if (isValidTtl(ttlSeconds)) return;
  throw new MeshError(
    'INVALID_PARAMS',
    `invalid TTL ${String(ttlSeconds)} for key ${key}: expected ${TTL_RULE}`,
    {
      key,
      ttl: ttlSeconds,
    },
  );
}
