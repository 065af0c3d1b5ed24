/**
 * Translation of meshcache key prefixes and glob patterns into Redis MATCH
 * patterns. meshcache globs have two wildcards, `*` (any run of characters,
 * possibly empty) and `?` (exactly one character); every other character is
 * literal. Redis MATCH also gives `[`, `]` and `\` a meaning, so those are
 * escaped.
 */

import { compileGlob } from '../keys/glob.js';

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
 * Redis for `*` at those places (a superset) and `exact` filters the result with
 * the caching layer's own glob matcher (the same semantics as every other
 * backend). Patterns with only `*` are exact in Redis and need no filter.
 */
export interface RedisGlob {
  readonly match: string;
  readonly exact?: (key: string) => boolean;
}

/** Translates `prefix` (literal) + `pattern` (meshcache glob) for SCAN MATCH. */
export function globToRedis(prefix: string, pattern: string): RedisGlob {
  let match = escapeRedisGlob(prefix);
  let lastWild = false; // runs of wildcards collapse into one Redis `*`
  for (const ch of pattern) {
    if (ch === '*' || ch === '?') {
      if (!lastWild) match += '*';
      lastWild = true;
    } else {
      lastWild = false;
      match += escapeRedisGlob(ch);
    }
  }
  if (!pattern.includes('?')) return { match };
  const glob = compileGlob(pattern);
  const cut = prefix.length;
  return { match, exact: (key) => key.startsWith(prefix) && glob.test(key.slice(cut)) };
}
