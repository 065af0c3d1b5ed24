/**
 * Translation of meshcache key prefixes and glob patterns into Redis MATCH
 * patterns. meshcache globs have two wildcards, `*` (any run of characters,
 * possibly empty) and `?` (exactly one character); every other character is
 * literal. Redis MATCH also gives `[`, `]` and `\` a meaning, so those are
 * escaped.
 */

const REDIS_SPECIAL = /[*?[\]\\]/g;

/** Escapes a literal string so that Redis MATCH matches it exactly. */
export function escapeRedisGlob(literal: string): string {
  return literal.replace(REDIS_SPECIAL, '\\$&');
}

/** A Redis MATCH pattern for the keys starting with `prefix` (everything when empty). */
export function prefixMatch(prefix: string): string {
  return `${escapeRedisGlob(prefix)}*`;
}

/**
 * A MATCH pattern plus, when Redis alone cannot decide, a client-side check.
 *
 * Redis matches bytes: its `?` is one byte, so it would miss a key whose `?`
 * position holds a multi-byte UTF-8 character. Patterns with `?` therefore ask
 * Redis for `*` at those places (a superset) and `exact` filters the result by
 * characters. Patterns with only `*` are exact in Redis and need no filter.
 */
export interface RedisGlob {
  readonly match: string;
  readonly exact?: RegExp;
}

/** Translates `prefix` (literal) + `pattern` (meshcache glob) for SCAN MATCH. */
export function globToRedis(prefix: string, pattern: string): RedisGlob {
  let match = escapeRedisGlob(prefix);
  let source = '';
  let hasOne = false;
  let lastWild = false; // runs of wildcards collapse into one Redis `*`
  for (const ch of pattern) {
    if (ch === '*' || ch === '?') {
      if (!lastWild) match += '*';
      lastWild = true;
      hasOne ||= ch === '?';
      source += ch === '*' ? '.*' : '.';
    } else {
      lastWild = false;
      match += escapeRedisGlob(ch);
      source += ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    }
  }
  if (!hasOne) return { match };
  const escapedPrefix = prefix.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  return { match, exact: new RegExp(`^${escapedPrefix}${source}$`, 'su') };
}
