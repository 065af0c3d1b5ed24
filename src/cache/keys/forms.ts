/**
 * The forms a hand-written action key may stand for. Keys quote a string that
 * reads like a number (`{ id: '1' }` -> `get_user:"1"`, so that it never meets
 * `{ id: 1 }`), but a key written by hand (`get_user:${id}`) cannot know which
 * of the two the cache saw: HTTP params arrive as strings. So a delete of
 * `get_user:1` also removes `get_user:"1"`, and the other way round.
 */

const NUMBER_LIKE = /^-?(?:\d+(?:\.\d+)?(?:e[+-]?\d+)?|Infinity|NaN)$/;
const LITERAL = new Set(['true', 'false', 'null']);
/** At most 2^4 forms: a key of more number-like segments is taken as written. */
const MAX_SEGMENTS = 4;

function alternative(segment: string): string | undefined {
  if (NUMBER_LIKE.test(segment) || LITERAL.has(segment)) return JSON.stringify(segment);
  const quoted = /^"(.*)"$/.exec(segment)?.[1];
  if (quoted !== undefined && (NUMBER_LIKE.test(quoted) || LITERAL.has(quoted))) return quoted;
  return undefined;
}

/** `key` first, then the same key with number-like segments quoted or unquoted. */
export function keyForms(key: string): string[] {
  const colon = key.indexOf(':');
  // Objects, arrays and strings holding ':' are not segment lists: take them as written.
  if (colon < 0 || /[{[\\]/.test(key)) return [key];
  const segments = key.slice(colon + 1).split(':');
  const swaps = segments.map(alternative);
  const at = swaps.flatMap((s, i) => (s === undefined ? [] : [i]));
  if (at.length === 0 || at.length > MAX_SEGMENTS) return [key];
  const forms: string[] = [];
  for (let mask = 0; mask < 1 << at.length; mask++) {
    const parts = [...segments];
    at.forEach((i, bit) => {
      if (mask & (1 << bit)) parts[i] = swaps[i]!;
    });
    forms.push(`${key.slice(0, colon + 1)}${parts.join(':')}`);
  }
  return forms;
}
