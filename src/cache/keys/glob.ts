/**
 * Glob patterns of `cache/revoke` and event rules: `*` matches any run of
 * characters (also none), `?` exactly one; everything else is literal.
 *
 * Matching never backtracks: runs of `*` collapse to one, the pattern splits
 * at `*` into literal segments, the first is anchored at the start, the last at
 * the end, and each middle one is taken at its leftmost position (leftmost is
 * always safe for globs). Time is O(key length x segment length) at worst,
 * linear for patterns without `?` near stars, and a pattern like `*****...a`
 * costs what `*a` costs. Regular expressions are avoided on purpose: a
 * pattern such as `*a*a*a*a*b` makes a backtracking regex engine explode.
 */
import { MeshError } from '../../errors.js';

/** Longest accepted pattern, once runs of `*` are collapsed. */
export const MAX_PATTERN_LENGTH = 1024;
/** Longest accepted pattern as given (collapsing a run of `*` is linear). */
export const MAX_RAW_PATTERN_LENGTH = 64 * 1024;

/** A compiled glob. */
export interface Glob {
  readonly source: string;
  /** True when the whole text matches. */
  test(text: string): boolean;
  /** The literal text before the first wildcard (narrows a prefix scan). */
  readonly literalPrefix: string;
}

/** True when a pattern contains wildcards (an event rule key with one revokes instead of deleting). */
export function hasWildcard(pattern: string): boolean {
  return pattern.includes('*') || pattern.includes('?');
}

function segmentAt(text: string, seg: string, at: number): boolean {
  for (let i = 0; i < seg.length; i++) {
    const c = seg.charCodeAt(i);
    if (c !== 63 /* ? */ && c !== text.charCodeAt(at + i)) return false;
  }
  return true;
}

function findSegment(text: string, seg: string, from: number, until: number): number {
  if (!seg.includes('?')) {
    const i = text.indexOf(seg, from);
    return i >= 0 && i + seg.length <= until ? i : -1;
  }
  for (let i = from; i + seg.length <= until; i++) if (segmentAt(text, seg, i)) return i;
  return -1;
}

/** Compiles a glob pattern; throws INVALID_PARAMS for a non-string, empty or over-long one. */
export function compileGlob(pattern: unknown): Glob {
  if (typeof pattern !== 'string' || pattern.length === 0) {
    throw new MeshError('INVALID_PARAMS', 'pattern must be a non-empty string', { pattern });
  }
  if (pattern.length > MAX_RAW_PATTERN_LENGTH) {
    throw new MeshError('INVALID_PARAMS', `pattern is longer than ${MAX_RAW_PATTERN_LENGTH} characters`, {
      length: pattern.length,
    });
  }
  // The bound applies after runs of `*` collapse: `*****...a` is the pattern `*a`.
  const source = pattern.replace(/\*{2,}/g, '*');
  if (source.length > MAX_PATTERN_LENGTH) {
    throw new MeshError('INVALID_PARAMS', `pattern is longer than ${MAX_PATTERN_LENGTH} characters`, {
      length: source.length,
    });
  }
  const parts = source.split('*');
  const firstWild = source.search(/[*?]/);
  const literalPrefix = firstWild < 0 ? source : source.slice(0, firstWild);
  if (parts.length === 1) {
    const only = parts[0];
    return { source, literalPrefix, test: (t) => t.length === only.length && segmentAt(t, only, 0) };
  }
  const first = parts[0];
  const last = parts[parts.length - 1];
  const middle = parts.slice(1, -1).filter((p) => p.length > 0);
  const minLength = parts.reduce((n, p) => n + p.length, 0);
  return {
    source,
    literalPrefix,
    test(text) {
      if (text.length < minLength) return false;
      if (!segmentAt(text, first, 0)) return false;
      const end = text.length - last.length;
      if (!segmentAt(text, last, end)) return false;
      let pos = first.length;
      for (const seg of middle) {
        const at = findSegment(text, seg, pos, end);
        if (at < 0) return false;
        pos = at + seg.length;
      }
      return true;
    },
  };
}
