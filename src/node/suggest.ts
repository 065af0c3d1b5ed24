/**
 * "Did you mean": the valid names nearest to a misspelt one, so that an
 * unknown option is answered in the user's words (`'tll'`: did you mean ttl?).
 */

/** Edit distance (insertions, deletions, substitutions, adjacent swaps). */
function distance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => [i, ...new Array<number>(cols - 1).fill(0)]);
  for (let j = 0; j < cols; j++) d[0][j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The valid names closest to `name` (at most three), nearest first; empty when none is close. */
export function nearestNames(name: string, valid: readonly string[]): string[] {
  const lower = name.toLowerCase();
  const limit = Math.max(2, Math.floor(name.length / 3));
  return valid
    .map((v) => ({ v, d: distance(lower, v.toLowerCase()) }))
    .filter(
      ({ v, d }) => d <= limit || v.toLowerCase().startsWith(lower) || lower.startsWith(v.toLowerCase()),
    )
    .sort((x, y) => x.d - y.d)
    .slice(0, 3)
    .map(({ v }) => v);
}

/** `unknown option 'tll' (did you mean ttl?; valid: enabled, ttl, ...)`. */
export function unknownName(kind: string, name: string, valid: readonly string[]): string {
  const near = nearestNames(name, valid);
  const hint = near.length === 0 ? '' : `did you mean ${near.join(' or ')}? `;
  return `unknown ${kind} '${name}' (${hint}valid: ${valid.join(', ')})`;
}
