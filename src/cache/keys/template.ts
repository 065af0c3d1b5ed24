/**
 * Templates of keys and tags (`get_user:{id}`, `user:{user.id}`), filled from
 * an event's data or an action's params: each `{field}` (a dot path allowed)
 * is encoded as action keys encode values, so `{id}` = 123 gives
 * `get_user:123`, the key `keys: ['id']` produced.
 */
import { encodeKeyValue } from './builder.js';

const PLACEHOLDER = /\{([A-Za-z0-9_$.-]+)\}/g;

/** Fills `{field}` placeholders from `data`; undefined when a field is missing. */
export function fillTemplate(template: string, data: unknown): { key: string } | { missing: string } {
  let missing: string | undefined;
  const key = template.replace(PLACEHOLDER, (_m, path: string) => {
    let v: unknown = data;
    for (const part of path.split('.')) {
      v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
    }
    if (v === undefined) {
      missing ??= path;
      return '';
    }
    return encodeKeyValue(v);
  });
  return missing === undefined ? { key } : { missing };
}
